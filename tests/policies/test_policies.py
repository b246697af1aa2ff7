"""Policy files (shipped and malformed), the rules, the allow-list and the engine's decision."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from policies import (
    DEFAULT_FAIL_ON,
    RULES,
    SHIPPED,
    Confidence,
    PolicyResult,
    Severity,
    evaluate,
    evaluate_outcome,
    init_policy_text,
    lint_policy,
    load_policy,
    parse_policy,
    rule_doc,
)
from scanner.detectors.evidence import Evidence
from scanner.errors import UsageError
from scanner.report import (
    DataInfo,
    ModelInfo,
    ModelOutcome,
    PlaneResult,
    ScanReport,
    XrayResult,
    encode_label_map,
)

SHA_CLEAN = "c" * 64
SHA_BAD = "b" * 64
TODAY = date(2026, 6, 15)


def make_report(
    *,
    verdict: str = "clean",
    score: float = 0.12,
    target: int | None = None,
    sha256: str = SHA_CLEAN,
    size_bytes: int = 180_000,
    opset: int | None = 17,
    domains: tuple[str, ...] = ("",),
    external_data: bool = False,
) -> ScanReport:
    label_map = np.zeros((20, 20), dtype=np.int64)
    label_map[:, 10:] = 1
    if target is not None:
        label_map[3:, :] = target
    plane = PlaneResult(
        anchors=(4, 17, 33),
        anchor_labels=(0, 1, 2),
        resolution=20,
        extend=5.0,
        re=0.9,
        ats=0.4,
        label_counts=tuple(int((label_map == k).sum()) for k in range(10)),
        anchor_areas=(0.5, 0.5, 0.0),
        queries=400,
        label_map=encode_label_map(label_map),
    )
    xray = XrayResult(
        verdict=verdict,  # type: ignore[arg-type]
        score=score,
        target_label=target,
        target_note="label 3 covers 85% of the planes" if target is not None else "",
        re_mean=0.9,
        ats_mean=0.4,
        queries=400,
        seconds=1.5,
        settings={"planes": 1, "resolution": 20, "extend": 5.0},
        evidence=Evidence.empty(),
        planes=(plane,),
    )
    model = ModelInfo(
        path="models/m.onnx",
        sha256=sha256,
        input={"name": "x", "layout": "NCHW", "height": 28, "width": 28, "channels": 1},
        num_classes=10,
        provider="CPUExecutionProvider",
        size_bytes=size_bytes,
        opset=opset,
        operator_domains=domains,
        external_data=external_data,
    )
    return ScanReport(
        model=model,
        xray=xray,
        data=DataInfo("clean.npz", "d" * 64),
        created="2026-06-15T10:00:00Z",
    )


INFECTED = make_report(verdict="infected", score=0.93, target=3, sha256=SHA_BAD)
CLEAN = make_report()


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def policy_text(body: str = "", allowlist: str = "") -> str:
    text = "schema_version: 1\nname: test\n" + body
    if allowlist:
        text += "allowlist:\n" + allowlist
    return text


# --- shipped files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_policy_lints_clean_and_loads(name: str) -> None:
    assert lint_policy(name) == []
    by_name = load_policy(name)
    assert by_name.name == name
    assert by_name.schema_version == 1
    assert load_policy(Path(by_name.source)) == by_name


def test_init_text_is_a_commented_clean_policy(tmp_path: Path) -> None:
    text = init_policy_text()
    assert text.lstrip().startswith("#")
    path = write(tmp_path, text, "my.yaml")
    assert lint_policy(path) == []
    assert load_policy(path).name == "my-policy"


def test_unknown_policy_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"nosuch: no such policy file.*shipped: default"):
        load_policy("nosuch")


# --- malformed files ----------------------------------------------------------------------------


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("xray:\n  flag_infected: true\n  score_treshold: 0.4\n"))
    with pytest.raises(
        UsageError, match=r"policy\.yaml:5: xray\.score_treshold: unknown key \(did you mean"
    ):
        load_policy(path)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("block_everything: yes\n"))
    with pytest.raises(UsageError, match=r"policy\.yaml:3: block_everything: unknown key"):
        load_policy(path)


def test_wrong_type_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("model:\n  allow_external_data: sometimes\n"))
    with pytest.raises(
        UsageError,
        match=r"policy\.yaml:4: model\.allow_external_data: expected true or false, got 'sometim",
    ):
        load_policy(path)


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("xray:\n  score_threshold: true\n"))
    with pytest.raises(UsageError, match=r":4: xray\.score_threshold: expected a number"):
        load_policy(path)


def test_bad_value_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("xray:\n  action: quarantine\n"))
    with pytest.raises(
        UsageError,
        match=r"policy\.yaml:4: xray\.action: expected one of block, warn, require-remediation",
    ):
        load_policy(path)


def test_out_of_range_threshold(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("xray:\n  score_threshold: 1.5\n"))
    with pytest.raises(
        UsageError, match=r":4: xray\.score_threshold: expected a number in \[0, 1\]"
    ):
        load_policy(path)


def test_bad_fail_on(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("fail_on: severe\n"))
    with pytest.raises(UsageError, match=r":3: fail_on: expected one of low, medium, high, crit"):
        load_policy(path)


def test_opset_range_upside_down(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("model:\n  min_opset: 17\n  max_opset: 13\n"))
    with pytest.raises(UsageError, match=r":5: model\.max_opset: is below model\.min_opset"):
        load_policy(path)


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("fail_on: low\nfail_on: high\n"))
    with pytest.raises(UsageError, match=r":4: fail_on: duplicate key"):
        load_policy(path)


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, "schema_version: 1\nfail_on: low\n")
    with pytest.raises(UsageError, match=r"policy\.yaml:1: name: missing required key"):
        load_policy(path)


def test_unsupported_schema_version(tmp_path: Path) -> None:
    path = write(tmp_path, "schema_version: 2\nname: x\n")
    with pytest.raises(UsageError, match=r":1: schema_version: unsupported version 2"):
        load_policy(path)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("xray:\n  action: [block\n"))
    with pytest.raises(UsageError, match=r"policy\.yaml:\d+: invalid YAML"):
        load_policy(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(UsageError, match=r"policy\.yaml:1: \(document\): expected a mapping"):
        load_policy(path)


def test_allowlist_entry_problems(tmp_path: Path) -> None:
    entries = "  - sha256: abc123\n    reason: ''\n    expires: someday\n    owner: me\n"
    problems = lint_policy(write(tmp_path, policy_text(allowlist=entries)))
    joined = "\n".join(problems)
    assert "policy.yaml:4: allowlist[0].sha256: expected 64 hexadecimal digits" in joined
    assert "policy.yaml:5: allowlist[0].reason: expected a non-empty string" in joined
    assert "policy.yaml:6: allowlist[0].expires: expected a date as YYYY-MM-DD" in joined
    assert "policy.yaml:7: allowlist[0].owner: unknown key" in joined
    with pytest.raises(UsageError, match=r"allowlist\[0\]\.sha256.*and 3 more"):
        load_policy(tmp_path / "policy.yaml")


def test_lint_lists_every_problem_in_line_order(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text("fail_on: nope\nxray:\n  bogus: 1\nmodel: 3\n"))
    problems = lint_policy(path)
    assert [int(re.search(r":(\d+): ", p).group(1)) for p in problems] == [3, 5, 6]  # type: ignore[union-attr]


# --- the X-ray rules ----------------------------------------------------------------------------


def test_default_policy_blocks_an_infected_model_and_passes_a_clean_one() -> None:
    policy = load_policy("default")
    bad = evaluate(policy, INFECTED, today=TODAY)
    assert not bad.passed
    assert [f.rule_id for f in bad.violations] == ["BDS101", "BDS103"]
    assert bad.violations[0].severity is Severity.CRITICAL  # a named target makes it critical
    assert bad.violations[0].confidence is Confidence.HIGH
    assert bad.severity is Severity.CRITICAL  # the overall severity is the max
    assert bad.disposition == "block"
    good = evaluate(policy, CLEAN, today=TODAY)
    assert good.passed and good.findings == () and good.severity is None
    assert good.to_dict()["violations"] == []


def test_infected_without_target_is_high() -> None:
    report = make_report(verdict="infected", score=0.75, target=None)
    result = evaluate(load_policy("default"), report, today=TODAY)
    assert [(f.rule_id, f.severity, f.confidence) for f in result.findings] == [
        ("BDS101", Severity.HIGH, Confidence.MEDIUM)
    ]
    assert "no single target label" in result.findings[0].message


def test_score_threshold_fires_on_a_clean_verdict() -> None:
    report = make_report(verdict="clean", score=0.41)
    result = evaluate(load_policy("strict"), report, today=TODAY)
    assert [f.rule_id for f in result.violations] == ["BDS102"]
    assert "0.410 is at or above the policy threshold 0.35" in result.violations[0].message
    assert result.disposition == "require-remediation"
    assert any("bdscan remediate" in n for n in result.notes)
    below = evaluate(load_policy("strict"), make_report(score=0.2), today=TODAY)
    assert below.passed


def test_target_label_rule_can_be_switched_off(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, policy_text("xray:\n  target_label_blocks: false\n")))
    result = evaluate(policy, INFECTED, today=TODAY)
    assert [f.rule_id for f in result.findings] == ["BDS101"]


def test_warn_action_reports_without_failing() -> None:
    result = evaluate(load_policy("permissive"), INFECTED, today=TODAY)
    assert result.passed
    assert result.disposition == "warn"
    assert {f.rule_id for f in result.findings} == {"BDS101", "BDS103"}
    assert result.violations == ()


def _shortcut_report() -> ScanReport:
    report = make_report(verdict="shortcut", score=0.3)
    evidence = Evidence.empty(shortcut_label=8)
    return replace(report, xray=replace(report.xray, evidence=evidence, target_note="grating"))


def test_a_shortcut_warns_under_the_default_policy_and_blocks_under_strict() -> None:
    report = _shortcut_report()
    default = evaluate(load_policy("default"), report, today=TODAY)
    assert default.passed and default.disposition == "warn"
    assert [(f.rule_id, f.severity) for f in default.findings] == [("BDS104", Severity.MEDIUM)]
    assert "label 8" in default.findings[0].message
    assert "not attributed to a planted trigger" in default.findings[0].message
    strict = evaluate(load_policy("strict"), report, today=TODAY)
    assert not strict.passed
    assert "BDS104" in {f.rule_id for f in strict.violations}
    # Nothing of the infected rules fires: no target label, verdict not "infected".
    assert not {"BDS101", "BDS103"} & {f.rule_id for f in strict.findings}


def test_the_shortcut_rule_can_be_switched_off_or_made_to_block(tmp_path: Path) -> None:
    off = load_policy(write(tmp_path, policy_text("xray:\n  flag_shortcut: false\n"), "a.yaml"))
    assert evaluate(off, _shortcut_report(), today=TODAY).findings == ()
    block = load_policy(write(tmp_path, policy_text("xray:\n  shortcut_action: block\n"), "b.yaml"))
    assert not evaluate(block, _shortcut_report(), today=TODAY).passed
    with pytest.raises(UsageError, match=r"xray\.shortcut_action"):
        load_policy(write(tmp_path, policy_text("xray:\n  shortcut_action: ignore\n"), "c.yaml"))
    # The shortcut rule never fires on an infected or a clean report.
    for report in (INFECTED, CLEAN):
        findings = evaluate(load_policy("default"), report, today=TODAY).findings
        assert "BDS104" not in {f.rule_id for f in findings}


def test_fail_on_override() -> None:
    report = make_report(verdict="infected", score=0.8, target=None)  # one HIGH finding
    policy = load_policy("default")
    assert policy.fail_on is DEFAULT_FAIL_ON is Severity.MEDIUM
    assert not evaluate(policy, report, today=TODAY).passed
    relaxed = evaluate(policy, report, today=TODAY, fail_on=Severity.CRITICAL)
    assert relaxed.passed and len(relaxed.findings) == 1
    assert relaxed.to_dict()["fail_on"] == "CRITICAL"


# --- the model-fact rules -----------------------------------------------------------------------


def test_model_fact_rules(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            policy_text(
                "model:\n  max_size_mb: 1\n  min_opset: 13\n  max_opset: 18\n"
                "  allowed_operator_domains: ['', ai.onnx.ml]\n  allow_external_data: false\n"
            ),
        )
    )
    ok = make_report(size_bytes=500_000, opset=13, domains=("", "ai.onnx.ml"))
    assert evaluate(policy, ok, today=TODAY).passed
    bad = make_report(
        size_bytes=3 * 1024 * 1024,
        opset=21,
        domains=("ai.onnx", "com.evil.ops"),
        external_data=True,
    )
    result = evaluate(policy, bad, today=TODAY)
    by_id = {f.rule_id: f for f in result.violations}
    assert set(by_id) == {"BDS201", "BDS202", "BDS203", "BDS204"}
    assert "3.0 MB, over the policy limit of 1 MB" in by_id["BDS201"].message
    assert "opset 21 is outside the policy range 13..18" in by_id["BDS202"].message
    assert "com.evil.ops" in by_id["BDS203"].message and by_id["BDS203"].severity is Severity.HIGH


def test_unknown_model_facts_are_low_and_do_not_fail_by_default(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, policy_text("model:\n  max_size_mb: 10\n  min_opset: 11\n"))
    )
    result = evaluate(policy, make_report(size_bytes=0, opset=None), today=TODAY)
    assert result.passed
    assert {(f.rule_id, f.severity) for f in result.findings} == {
        ("BDS201", Severity.LOW),
        ("BDS202", Severity.LOW),
    }
    assert not evaluate(policy, make_report(size_bytes=0), fail_on=Severity.LOW).passed


# --- the allow-list -----------------------------------------------------------------------------


def _allow(sha: str, expires: str, reason: str = "vetted by the ML red team, SEC-4711") -> str:
    return f"  - sha256: {sha.upper()}\n    reason: {reason}\n    expires: {expires}\n"


def test_allow_listed_hash_passes_with_the_reason(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, policy_text(allowlist=_allow(SHA_BAD, "2026-12-31"))))
    result = evaluate(policy, INFECTED, today=TODAY)
    assert result.passed and result.findings == ()
    assert {f.rule_id for f in result.suppressed} == {"BDS101", "BDS103"}
    d = result.to_dict()
    assert d["allowlist"] == {
        "sha256": SHA_BAD,
        "reason": "vetted by the ML red team, SEC-4711",
        "expires": "2026-12-31",
        "status": "applied",
    }
    assert "vetted by the ML red team" in d["notes"][0]
    # Only that hash: another infected model is still blocked.
    other = replace(INFECTED, model=replace(INFECTED.model, sha256="e" * 64))
    assert not evaluate(policy, other, today=TODAY).passed


def test_allow_list_applies_through_its_expiry_day(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, policy_text(allowlist=_allow(SHA_BAD, "2026-06-15"))))
    assert evaluate(policy, INFECTED, today=TODAY).passed


def test_expired_allow_list_entry_does_not_apply_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, policy_text(allowlist=_allow(SHA_BAD, "2026-06-14")))
    result = evaluate(load_policy(path), INFECTED, today=TODAY)
    assert not result.passed
    assert result.suppressed == ()
    assert result.allowlist is not None and result.allowlist.status == "expired"
    assert any("expired on 2026-06-14" in n and "does not apply" in n for n in result.notes)
    problems = lint_policy(path, today=TODAY)
    assert len(problems) == 1
    assert re.search(r"policy\.yaml:4: allowlist\[0\]\.expires: expired on 2026-06-14", problems[0])


def test_duplicate_allow_list_hash(tmp_path: Path) -> None:
    entries = _allow(SHA_BAD, "2026-12-31") + _allow(SHA_BAD.lower(), "2027-01-31")
    with pytest.raises(UsageError, match=r":7: allowlist\[1\]\.sha256: duplicate entry"):
        load_policy(write(tmp_path, policy_text(allowlist=entries)))


# --- scan errors and the result object ----------------------------------------------------------


def test_scan_error_is_undecided_by_default_and_a_violation_under_strict() -> None:
    broken = ModelOutcome(path="m.onnx", error="not an ONNX file", error_kind="ModelLoadError")
    undecided = evaluate_outcome(load_policy("default"), broken, today=TODAY)
    assert not undecided.decided and not undecided.passed
    assert undecided.disposition == "undecided"
    decided = evaluate_outcome(load_policy("strict"), broken, today=TODAY)
    assert decided.decided and not decided.passed
    assert [f.rule_id for f in decided.violations] == ["BDS301"]
    assert "ModelLoadError: not an ONNX file" in decided.violations[0].message


def test_policy_result_round_trips(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, policy_text(allowlist=_allow(SHA_BAD, "2026-01-01"))))
    result = evaluate(policy, INFECTED, today=TODAY)
    again = PolicyResult.from_dict(result.to_dict())
    assert again.to_dict() == result.to_dict()
    assert set(result.to_dict()) >= {"name", "passed", "violations"}


def test_parse_policy_from_text() -> None:
    policy = parse_policy(policy_text("on_scan_error: violation\n"), "inline.yaml")
    assert policy.on_scan_error == "violation" and policy.source == "inline.yaml"


# --- the rule registry --------------------------------------------------------------------------


def test_every_rule_is_documented_with_a_stable_id() -> None:
    assert list(RULES) == sorted(RULES)
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"BDS[1-3]\d\d", rule_id) and rule.rule_id == rule_id
        assert len(rule_doc(rule).splitlines()) >= 3, rule_id
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)


def test_severity_is_ordered_and_parses_any_case() -> None:
    assert Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.parse("High") is Severity.HIGH
    with pytest.raises(ValueError, match="expected one of low, medium, high, critical"):
        Severity.parse("severe")
