"""Report formats: JSON and SARIF against their committed schemas, the HTML page, PNG maps, the
console table and the all-or-nothing file writer."""

from __future__ import annotations

import io
import json
import re
from collections import deque
from dataclasses import replace
from datetime import date
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from exporters import FORMATS, console, html, json_report, load_schema, sarif, write_report
from exporters.atomic import atomic_write
from exporters.plots import anchor_cells, label_colour, render_plane, write_plots
from policies import evaluate_outcomes, load_policy, parse_policy
from scanner.detectors.evidence import Evidence
from scanner.errors import OutputError, UsageError
from scanner.report import (
    DataInfo,
    ModelInfo,
    ModelOutcome,
    PlaneResult,
    ScanReport,
    XrayResult,
    encode_label_map,
)
from tests.conftest import schema_validator

TODAY = date(2026, 6, 15)
R, EXTEND = 60, 1.0


def _component(label_map: np.ndarray, cell: tuple[int, int]) -> set[tuple[int, int]]:
    label, seen, queue = label_map[cell], {cell}, deque([cell])
    while queue:
        r, c = queue.popleft()
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                n = (r + dr, c + dc)
                if n not in seen and 0 <= n[0] < R and 0 <= n[1] < R and label_map[n] == label:
                    seen.add(n)
                    queue.append(n)
    return seen


def make_plane(
    third: tuple[float, float], labels: tuple[int, int, int], target: int | None
) -> tuple[PlaneResult, list[tuple[int, int]]]:
    """A plane built with X-ray's geometry: anchors at (0, 0), (1, 0) and `third` in plane
    coordinates; each cell takes its nearest anchor's label, or the target's outside small discs
    around the anchors. Returns the plane and the anchors' true cells."""
    points = np.array([(0.0, 0.0), (1.0, 0.0), third])
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = hi - lo
    u = np.linspace(lo[0] - EXTEND * span[0], hi[0] + EXTEND * span[0], R)
    v = np.linspace(lo[1] - EXTEND * span[1], hi[1] + EXTEND * span[1], R)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    dist = np.stack([np.hypot(uu - p[0], vv - p[1]) for p in points])
    label_map = np.asarray(labels)[dist.argmin(axis=0)]
    if target is not None:
        label_map = np.where(dist.min(axis=0) < 0.25, label_map, target)
    cells = [(int(np.abs(u - p[0]).argmin()), int(np.abs(v - p[1]).argmin())) for p in points]
    areas = tuple(len(_component(label_map, c)) / R**2 for c in cells)
    plane = PlaneResult(
        anchors=(3, 41, 77),
        anchor_labels=labels,
        resolution=R,
        extend=EXTEND,
        re=0.42 if target is not None else 1.6,
        ats=0.05 if target is not None else 0.6,
        label_counts=tuple(int((label_map == k).sum()) for k in range(10)),
        anchor_areas=areas,  # type: ignore[arg-type]
        queries=R * R,
        label_map=encode_label_map(label_map),
        anchor_cells=tuple(cells),
    )
    return plane, cells


def make_report(name: str, *, infected: bool, sha: str) -> ScanReport:
    target = 7 if infected else None
    planes = (
        make_plane((0.5, 0.8), (0, 1, 2), target)[0],
        make_plane((-0.4, 0.6), (4, 5, 6), target)[0],
        make_plane((1.5, 0.3), (8, 9, 1), target)[0],
    )
    xray = XrayResult(
        verdict="infected" if infected else "clean",
        score=0.94 if infected else 0.08,
        target_label=target,
        target_note="label 7 fills 81% of the planes" if infected else "",
        re_mean=float(np.mean([p.re for p in planes])),
        ats_mean=float(np.mean([p.ats for p in planes])),
        queries=3 * R * R,
        seconds=2.25,
        settings={"planes": 3, "resolution": R, "extend": EXTEND, "grid": "dense"},
        evidence=Evidence.empty(),
        planes=planes,
    )
    model = ModelInfo(
        path=f"models/{name}.onnx",
        sha256=sha,
        input={"name": "input", "layout": "NCHW", "height": 28, "width": 28, "channels": 1},
        num_classes=10,
        provider="CPUExecutionProvider",
        size_bytes=210_000,
        opset=17,
        operator_domains=("",),
    )
    return ScanReport(
        model=model,
        xray=xray,
        data=DataInfo("clean.npz", "d" * 64, samples=200),
        created="2026-06-15T10:00:00Z",
    )


BAD = make_report("badnets_cnn", infected=True, sha="b" * 64)
GOOD = make_report("clean_cnn", infected=False, sha="c" * 64)
OUTCOMES = [
    ModelOutcome(path=BAD.model.path, report=BAD),
    ModelOutcome(path=GOOD.model.path, report=GOOD, cached=True),
    ModelOutcome(
        path="models/<corrupt>.onnx", error="not an ONNX protobuf", error_kind="ModelLoadError"
    ),
]


def results_for(outcomes: list[ModelOutcome], policy_name: str = "default") -> list:
    return list(evaluate_outcomes(load_policy(policy_name), outcomes, today=TODAY))


def render(writer, outcomes, **kw) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    writer(outcomes, buffer, **kw)
    return buffer.getvalue()


# --- JSON ---------------------------------------------------------------------------------------


def test_single_report_matches_the_schema_with_sorted_keys() -> None:
    outcomes = OUTCOMES[:1]
    text = render(json_report.write, outcomes, policy_results=results_for(outcomes))
    data = json.loads(text)
    jsonschema.Draft202012Validator(load_schema("report")).validate(data)
    assert list(data) == sorted(data) and list(data["xray"]) == sorted(data["xray"])
    assert data["schema_version"] == 1 and data["tool"]["name"] == "bdscan"
    assert data["xray"]["verdict"] == "infected" and data["xray"]["target_label"] == 7
    assert data["policy"]["name"] == "default" and data["policy"]["passed"] is False
    assert {v["rule_id"] for v in data["policy"]["violations"]} == {"BDS101", "BDS103"}


def test_schema_rejects_a_report_missing_interface_fields() -> None:
    data = BAD.to_dict()
    del data["xray"]["target_label"]
    with pytest.raises(jsonschema.ValidationError, match="'target_label' is a required property"):
        jsonschema.validate(data, load_schema("report"))


def test_non_finite_numbers_become_null() -> None:
    odd = replace(BAD, xray=replace(BAD.xray, re_mean=float("nan")))
    data = json.loads(render(json_report.write, [ModelOutcome(path="m", report=odd)]))
    assert data["xray"]["re_mean"] is None
    jsonschema.validate(data, load_schema("report"))


def test_summary_matches_its_schema_and_reads_back(tmp_path: Path) -> None:
    results = results_for(OUTCOMES)
    data = json.loads(render(json_report.write, OUTCOMES, policy_results=results))
    schema_validator("summary").validate(data)
    assert data["summary"] == {
        "models": 3,
        "scanned": 2,
        "cached": 1,
        "errors": 1,
        "infected": 1,
        "shortcut": 0,
        "policy_passed": 1,
        "policy_failed": 1,
        "exit_code": 1,
    }
    assert data["models"][2]["error"] == {
        "message": "not an ONNX protobuf",
        "kind": "ModelLoadError",
    }
    assert data["models"][2]["policy"]["decided"] is False

    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    back = json_report.read(path)
    assert [o.path for o in back] == [o.path for o in OUTCOMES]
    assert back[0].report == replace(BAD, policy=results[0].to_dict())
    assert back[2].error_kind == "ModelLoadError" and back[1].cached


def test_read_single_report_and_reject_other_json(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(render(json_report.write, OUTCOMES[:1]))
    (outcome,) = json_report.read(single)
    assert outcome.report == BAD
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(UsageError, match=r"other\.json: not a bdscan JSON report"):
        json_report.read(other)
    with pytest.raises(UsageError, match=r"missing\.json: cannot read the report"):
        json_report.read(tmp_path / "missing.json")


# --- SARIF --------------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = load_schema("sarif-2.1.0")
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft4Validator(schema)


def test_a_shortcut_report_in_every_format(tmp_path: Path) -> None:
    xray = replace(
        GOOD.xray,
        verdict="shortcut",
        score=0.31,
        evidence=replace(GOOD.xray.evidence, shortcut_label=6),
        target_note="universal shortcut to label 6 (periodic probe), not attributed",
    )
    odd = replace(GOOD, xray=xray)
    outcomes = [ModelOutcome(path="models/odd.onnx", report=odd)]
    results = results_for(outcomes)
    single = json.loads(render(json_report.write, outcomes, policy_results=results))
    jsonschema.Draft202012Validator(load_schema("report")).validate(single)
    assert single["xray"]["verdict"] == "shortcut" and single["policy"]["passed"] is True
    assert [v["rule_id"] for v in single["policy"]["findings"]] == ["BDS104"]
    both = outcomes + OUTCOMES[:1]
    summary = json.loads(render(json_report.write, both, policy_results=results_for(both)))
    schema_validator("summary").validate(summary)
    assert summary["summary"]["shortcut"] == 1 and summary["summary"]["infected"] == 1
    log = json.loads(render(sarif.write, outcomes, policy_results=results, base_dir=Path.cwd()))
    sarif_validator().validate(log)
    assert {(r["ruleId"], r["level"]) for r in log["runs"][0]["results"]} == {("BDS104", "warning")}
    page = render(html.write, outcomes, policy_results=results)
    assert 'class="badge shortcut"' in page and "label 6, not attributed" in page
    table = render(console.write, outcomes, policy_results=results)
    assert "shortcut" in table


def test_sarif_validates_against_the_official_schema(tmp_path: Path) -> None:
    policy = parse_policy(
        "schema_version: 1\nname: ci\nallowlist:\n"
        f"  - sha256: {BAD.model.sha256}\n    reason: accepted risk, SEC-1\n"
        "    expires: 2020-01-01\n",
        "ci.yaml",
    )
    results = list(evaluate_outcomes(policy, OUTCOMES, today=TODAY))
    log = json.loads(render(sarif.write, OUTCOMES, policy_results=results, base_dir=Path.cwd()))
    sarif_validator().validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    ids = {r["id"]: r for r in rules}
    assert ids["BDS101"]["defaultConfiguration"]["level"] == "error"
    assert ids["BDS102"]["defaultConfiguration"]["level"] == "warning"
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"BDS101": "error", "BDS103": "error"}
    first = run["results"][0]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "models/badnets_cnn.onnx",
        "uriBaseId": "%SRCROOT%",
        "index": 0,
    }
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"]
    assert run["artifacts"][0]["hashes"] == {"sha-256": BAD.model.sha256}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1 and "not an ONNX protobuf" in notes[0]["message"]["text"]
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_marks_allow_listed_findings_as_suppressed() -> None:
    policy = parse_policy(
        "schema_version: 1\nname: ci\nallowlist:\n"
        f"  - sha256: {BAD.model.sha256}\n    reason: accepted risk, SEC-1\n"
        "    expires: 2030-01-01\n",
        "ci.yaml",
    )
    outcomes = OUTCOMES[:2]
    results = list(evaluate_outcomes(policy, outcomes, today=TODAY))
    log = json.loads(render(sarif.write, outcomes, policy_results=results))
    sarif_validator().validate(log)
    found = log["runs"][0]["results"]
    assert len(found) == 2
    assert all(
        r["suppressions"] == [{"kind": "external", "justification": "accepted risk, SEC-1"}]
        for r in found
    )
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_sarif_without_a_policy_uses_the_default_one() -> None:
    log = json.loads(render(sarif.write, OUTCOMES[:2]))
    sarif_validator().validate(log)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"BDS101", "BDS103"}
    assert {r["properties"]["policy"] for r in log["runs"][0]["results"]} == {"default"}


def test_sarif_levels_follow_severity(tmp_path: Path) -> None:
    policy = parse_policy(
        "schema_version: 1\nname: facts\nmodel:\n  max_size_mb: 0.1\n  min_opset: 11\n",
        "facts.yaml",
    )
    odd = replace(GOOD, model=replace(GOOD.model, opset=None))
    outcomes = [ModelOutcome(path=GOOD.model.path, report=odd)]
    results = list(evaluate_outcomes(policy, outcomes, today=TODAY))
    log = json.loads(render(sarif.write, outcomes, policy_results=results))
    sarif_validator().validate(log)
    assert {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]} == {
        "BDS201": "warning",  # MEDIUM
        "BDS202": "note",  # LOW: opset unknown
    }


# --- HTML and plots -----------------------------------------------------------------------------


def test_html_embeds_one_image_per_plane_and_nothing_remote() -> None:
    page = render(html.write, OUTCOMES, policy_results=results_for(OUTCOMES))
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == len(BAD.xray.planes) + len(GOOD.xray.planes)
    assert all('src="data:image/png;base64,' in tag for tag in images)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"url\(|@import|<script|<link", page, re.IGNORECASE)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "label 7 (suspected target)" in page
    assert "badnets_cnn.onnx" in page and "clean_cnn.onnx" in page
    # The corrupt model's name is escaped, and its error is shown.
    assert "models/&lt;corrupt&gt;.onnx" in page and "<corrupt>" not in page
    assert "not an ONNX protobuf" in page
    for tag in images:
        data = re.search(r"base64,([A-Za-z0-9+/=]+)", tag)
        assert data is not None
        image = Image.open(io.BytesIO(__import__("base64").b64decode(data.group(1))))
        assert image.format == "PNG" and image.width >= R


def test_anchor_cells_come_from_the_report() -> None:
    plane, truth = make_plane((0.5, 0.8), (0, 1, 2), target=7)
    assert anchor_cells(plane) == truth
    assert anchor_cells(replace(plane, anchor_cells=None)) == []


def test_rendered_map_marks_anchors_and_uses_label_colours() -> None:
    plane = BAD.xray.planes[0]
    image = render_plane(plane, target_label=7, legend=False, cell_px=4)
    assert image.size == (R * 4, R * 4)
    assert image.getpixel((1, 1)) == label_colour(7)  # a far corner: the target's region
    r, c = anchor_cells(plane)[0]
    assert image.getpixel((c * 4 + 2, r * 4 + 2)) == (255, 255, 255)  # the anchor's white dot


def test_label_colours_are_distinct() -> None:
    colours = [label_colour(k) for k in range(40)]
    assert len(set(colours)) == 40
    assert label_colour(3) == label_colour(3)


def test_write_plots_writes_one_png_per_plane(tmp_path: Path) -> None:
    files = write_plots(OUTCOMES, tmp_path / "plots")
    assert len(files) == 6
    assert files[0] == tmp_path / "plots" / f"badnets_cnn-{'b' * 8}" / "plane-01.png"
    with Image.open(files[0]) as image:
        assert image.format == "PNG" and image.width > R * 5  # the map plus its legend
    assert not list((tmp_path / "plots").rglob("*.tmp"))


# --- console ------------------------------------------------------------------------------------


def test_console_table_lists_every_model() -> None:
    outcomes = [*OUTCOMES, ModelOutcome(path="[bold]odd[/].onnx", error="x", error_kind="E")]
    text = render(
        console.write, outcomes, policy_results=results_for(outcomes), color=False, width=200
    )
    assert "[bold]odd[/].onnx" in text
    assert "badnets_cnn.onnx" in text and "clean_cnn.onnx (cached)" in text
    assert "infected" in text and "0.940" in text and "clean" in text
    assert "default: block" in text and "default: passed" in text
    assert "ModelLoadError: not an ONNX protobuf" in text
    assert "4 models, 1 infected, 1 passed policy, 1 failed, 2 errors, 1 from cache" in text
    assert "\x1b[" not in text


# --- files --------------------------------------------------------------------------------------


def test_write_report_is_atomic_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_report("json", path, OUTCOMES[:1])
    first = path.read_text()
    assert json.loads(first)["model"]["sha256"] == BAD.model.sha256

    def broken(outcomes, fileobj, **kw):  # type: ignore[no-untyped-def]
        fileobj.write('{"half": ')
        raise RuntimeError("crashed mid-write")

    FORMATS["broken"] = broken
    try:
        with pytest.raises(RuntimeError, match="crashed mid-write"):
            write_report("broken", path, OUTCOMES[:1])
    finally:
        del FORMATS["broken"]
    assert path.read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_unwritable_output_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"nowhere/out\.sarif: cannot write there"):
        write_report("sarif", tmp_path / "nowhere" / "out.sarif", OUTCOMES)
    with pytest.raises(OutputError, match="is a folder"), atomic_write(tmp_path) as f:
        f.write("x")


def test_every_format_shares_one_signature(tmp_path: Path) -> None:
    results = results_for(OUTCOMES)
    for fmt in ("json", "sarif", "html", "console"):
        write_report(fmt, tmp_path / f"out.{fmt}", OUTCOMES, policy_results=results)
        assert (tmp_path / f"out.{fmt}").stat().st_size > 200


def test_policy_check_redecides_a_saved_report(tmp_path: Path) -> None:
    # `bdscan policy check REPORT.json --policy FILE`: read, decide again, no model needed.
    from policies import evaluate_outcome
    from scanner.batch import exit_code

    saved = tmp_path / "report.json"
    write_report("json", saved, OUTCOMES[:1], policy_results=results_for(OUTCOMES[:1]))
    (outcome,) = json_report.read(saved)
    assert exit_code([outcome], [evaluate_outcome(load_policy("default"), outcome)]) == 1
    allow = parse_policy(
        "schema_version: 1\nname: vetted\nallowlist:\n"
        f"  - sha256: {BAD.model.sha256}\n    reason: retrained, SEC-9\n    expires: 2099-01-01\n",
        "vetted.yaml",
    )
    result = evaluate_outcome(allow, outcome)
    assert result.passed and exit_code([outcome], [result]) == 0
    assert result.to_dict()["allowlist"]["reason"] == "retrained, SEC-9"
