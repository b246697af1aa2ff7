"""The query budget (scanner.plan): plans that never exceed it, scans that keep to them, and the
probes' thinning and screening that make a small budget go further."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scanner.backends.base import LabelOracle
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import load_dataset
from scanner.detectors.attribution import (
    ATTRIBUTION_PER_CLASS,
    BUDGET_ATTRIBUTION_PER_CLASS,
    attribution_budget,
)
from scanner.detectors.probes import (
    CONFIRM_PER_CLASS,
    ProbeConfig,
    level_key,
    probe_set,
    run_probes,
    screen_survivors_max,
)
from scanner.detectors.search import SearchConfig
from scanner.detectors.xray import XrayConfig
from scanner.errors import UsageError
from scanner.pipeline import ScanConfig, scan_model
from scanner.plan import (
    PROFILES,
    SEARCH_REPLAN_LADDER,
    SEARCH_REPLAN_RUNG,
    _search_rung,
    plan_scan,
    replan_search,
)
from tests.conftest import bdscan
from tests.onnx_builders import build_mlp, rotation_mlp, save_npz


def _plan(budget: int | None, counts: list[int], shape: tuple[int, int, int]):
    return plan_scan(
        budget,
        XrayConfig(),
        ProbeConfig(),
        SearchConfig(),
        class_counts=counts,
        shape=shape,
    )


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("counts", [[100] * 10, [30] * 10, [500, 40, 40], [20] * 43])
def test_every_plan_fits_its_budget_and_every_stage_keeps_a_share(
    shape: tuple[int, int, int], counts: list[int]
) -> None:
    planned = 0
    for budget in (5_000, 9_000, 20_000, 35_000, 60_000, 150_000, 400_000, 1_000_000):
        try:
            plan = _plan(budget, counts, shape)
        except UsageError as e:
            assert f"--max-queries {budget} is below the least" in str(e)
            continue
        planned += 1
        assert sum(plan.bounds.values()) <= budget
        assert plan.xray.planes >= 1 and plan.probes_tested is not None
        assert len(probe_set(shape, plan.probes)) == plan.probes_tested
        # Every family and strength keeps at least one probe.
        kept = {level_key(p) for p in probe_set(shape, plan.probes)}
        assert kept == {level_key(p) for p in probe_set(shape, ProbeConfig())}
        assert plan.probes.max_confirm is not None and plan.probes.max_confirm >= len(counts)
    assert planned >= 3


def test_without_a_budget_every_stage_runs_in_full() -> None:
    plan = _plan(None, [100] * 10, (28, 28, 1))
    assert plan.budget is None and plan.gave_up == () and plan.bounds == {}
    assert plan.xray == XrayConfig() and plan.probes == ProbeConfig()
    assert plan.search == SearchConfig()
    assert plan.attribution_per_class == ATTRIBUTION_PER_CLASS


def test_a_small_budget_says_what_it_gave_up() -> None:
    plan = _plan(PROFILES["api"], [100] * 10, (28, 28, 1))
    said = " ".join(plan.gave_up)
    assert "data: at most" in said and "X-ray planes" in said and "probes:" in said
    # Attribution on fewer samples than an unbudgeted scan's, and the plan counts those.
    assert f"attribution: {BUDGET_ATTRIBUTION_PER_CLASS} samples per class" in said
    assert plan.attribution_per_class == BUDGET_ATTRIBUTION_PER_CLASS < ATTRIBUTION_PER_CLASS
    assert plan.bounds["attribution"] == attribution_budget(10, 2, BUDGET_ATTRIBUTION_PER_CLASS)
    assert plan.to_dict()["budget"] == 20_000
    # The transform grid runs last, on what the stamps and curves left.
    assert plan.search.spaces == ("mask", "curve", "transform")


def test_thinned_probes_are_the_full_sets_own_probes() -> None:
    full = probe_set((28, 28, 1), ProbeConfig())
    thin = probe_set((28, 28, 1), ProbeConfig(max_probes=200))
    assert len(thin) <= 200 + len({level_key(p) for p in full})
    assert set(thin) <= set(full)


def test_a_budget_keeps_every_corner_patch_and_the_other_families_members() -> None:
    from scanner.detectors.families import REGISTRY
    from scanner.detectors.probes import thin_out

    shape = (28, 28, 1)
    full = probe_set(shape, ProbeConfig())
    corners = {
        (p.family, p.strength, p.position)
        for p in full
        if p.position in {tuple(a) for a in REGISTRY[p.family].added_positions(shape, p.strength)}
    }
    assert len(corners) > 20  # 3 kinds x the corners at margins 1 and 2, three sizes
    thin = probe_set(shape, ProbeConfig(max_probes=242))  # what --profile api tests
    assert corners <= {(p.family, p.strength, p.position) for p in thin}
    assert len(thin) <= 242
    # Only the tiled patches make room for them: every other level keeps its members.
    plain = thin_out(full, 242)
    for family in ("periodic", "blend", "lowfreq", "warp"):
        assert [p for p in thin if p.family == family] == [p for p in plain if p.family == family]
    # Where they would crowd out the rest (a tiny budget), they are thinned like the rest.
    assert len(probe_set(shape, ProbeConfig(max_probes=20))) == len(thin_out(full, 20))


def test_screening_spends_what_the_plan_counts_and_still_finds_the_strongest_probe(
    tmp_path: Path, digits_npz: Path
) -> None:
    data = load_dataset(digits_npz)
    model = build_mlp(tmp_path / "m.onnx", rotation_mlp(False))
    config = ProbeConfig(max_probes=300, screen_per_class=2, max_confirm=15)
    with OnnxRuntimeBackend(model, image_hwc=(8, 8, 1), classes_hint=10) as backend:
        full_oracle = LabelOracle(backend, batch_size=4096)
        clean = full_oracle(data.x)
        whole = run_probes(
            full_oracle, data.x, data.y, lambda a: a, 10, ProbeConfig(max_probes=300)
        )
        oracle = LabelOracle(backend, batch_size=4096)
        screened = run_probes(oracle, data.x, data.y, lambda a: a, 10, config, clean_pred=clean)
    tested = len(probe_set((8, 8, 1), config))
    bound = (
        tested * 2 * 10
        + screen_survivors_max(10, config) * 4 * 10
        + config.max_confirm * CONFIRM_PER_CLASS * 10
    )
    assert screened.queries == oracle.queries <= bound
    assert screened.queries < whole.queries
    # The probe with the highest confirmed universality survives the screen.
    best = max(whole.findings, key=lambda f: f.agreed_universality)
    found = max(screened.findings, key=lambda f: f.agreed_universality)
    assert found.agreed_universality >= best.agreed_universality - 0.15


def test_a_budgeted_scan_keeps_to_its_plan(tmp_path: Path) -> None:
    model = build_mlp(tmp_path / "m.onnx", rotation_mlp(True))
    # 100 samples per class: the plan keeps 60 of each.
    data = load_dataset(save_npz(tmp_path / "d.npz", n=1000, offset=0))
    for budget in (12_000, 20_000):
        report = scan_model(model, data, ScanConfig(max_queries=budget))
        plan = report.xray.evidence.plan
        assert plan is not None and report.xray.queries <= budget
        assert report.xray.evidence.probe_queries <= plan.bounds["probes"]
        # The recorded plan is the one that ran, re-planned or not: it still fits the budget.
        assert sum(plan.bounds.values()) <= budget
        assert report.xray.settings["planes"] == plan.planes == len(report.xray.planes)
        assert report.data.samples_used < report.data.samples == 1000
        for a in report.xray.evidence.attribution:
            assert a.samples <= BUDGET_ATTRIBUTION_PER_CLASS * 10
        # Plane anchors index the data file, as without a budget.
        for p in report.xray.planes:
            assert [int(data.y[a]) for a in p.anchors] == list(p.anchor_labels)
    # At 20,000 (12,000 has no room for the search), what the stamps and curves left paid for
    # the transform grid: the rotation is seen.
    found = report.xray.evidence.search
    assert found is not None
    assert any(f.point.space == "transform" and f.label == 7 for f in found.findings)


def test_profile_api_sets_the_budget_and_an_explicit_number_wins(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    for extra, budget in ((["--profile", "api"], 20_000), (["--max-queries", "15000"], 15_000)):
        out = tmp_path / f"{budget}.json"
        args = ["scan", digits_model, "--data", digits_npz, "--quiet", "--json", out, *extra]
        if budget == 15_000:
            args += ["--profile", "api"]
        assert bdscan(*args).exit_code == 0
        xray = json.loads(out.read_text())["xray"]
        assert xray["evidence"]["plan"]["budget"] == budget == xray["settings"]["max_queries"]
        assert xray["queries"] <= budget
    assert np.isfinite(xray["re_mean"])


def test_a_budgeted_scan_says_so_on_the_console_and_in_the_html(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    html = tmp_path / "r.html"
    args = ["scan", digits_model, "--data", digits_npz, "--max-queries", "15000", "--html", html]
    r = bdscan(*args)
    out = r.stdout
    assert r.exit_code == 0
    assert "query budget 15,000 (spent" in out and "a reduced scan, it gave up:" in out
    assert "Query budget</dt><dd>15000 (spent" in html.read_text()
    # Without a budget neither says anything of one.
    r = bdscan("scan", digits_model, "--data", digits_npz, "--planes", "2")
    assert "query budget" not in r.stdout


def test_the_search_takes_what_the_stages_before_it_left() -> None:
    plan = _plan(PROFILES["api"], [100] * 10, (28, 28, 1))
    assert plan.search.targets == 1
    # The stages before the search left it too little for the re-plan rung's useful part: the
    # planned rung stays.
    spent = {k: plan.bounds[k] for k in ("data", "planes", "probes")}
    spent["probes"] = PROFILES["api"] - sum(v for k, v in plan.bounds.items() if k != "probes")
    spent["probes"] += plan.bounds["search"] - 1_000
    assert replan_search(plan, SearchConfig(), spent, 10) == plan
    # They spent less (the probes' screen kept fewer survivors than its worst case): the search
    # climbs to the re-plan rung, within what the budget still holds.
    spent["probes"] = plan.bounds["probes"] - 4_000
    more = replan_search(plan, SearchConfig(), spent, 10)
    assert more.search.targets == SEARCH_REPLAN_RUNG[0] > plan.search.targets
    # With that room the coarse grating space runs too, before the transform grid (the first
    # plan's share at this budget cannot hold its queries as well as the mask's least).
    assert more.search.spaces[-2:] == ("grating", "transform")
    assert "grating" not in plan.search.spaces
    assert more.bounds["probes"] == spent["probes"]
    assert plan.bounds["search"] < more.bounds["search"]
    assert sum(more.bounds.values()) <= PROFILES["api"]
    assert any("re-planned" in g for g in more.gave_up)
    # Without a budget nothing is re-planned.
    free = _plan(None, [100] * 10, (28, 28, 1))
    assert replan_search(free, SearchConfig(), spent, 10) == free


def test_the_replan_climbs_without_the_grating_when_its_held_queries_do_not_fit() -> None:
    # Ten classes: the two-target rung needs 4,680 queries for its useful part, 6,990 with the
    # grating's held queries and confirmation; between the two it climbs without the grating.
    for room, grating in ((5_500, False), (7_000, True)):
        rung = _search_rung(SearchConfig(), 10, room, SEARCH_REPLAN_LADDER)
        assert rung is not None and rung.targets == 2
        assert ("grating" in rung.spaces) == grating and rung.spaces[-1] == "transform"
        assert rung.max_queries is not None and rung.max_queries <= room
    assert _search_rung(SearchConfig(), 10, 4_000, SEARCH_REPLAN_LADDER) is None
