"""The verdict rule on constructed probe results, and re-calibration on known-clean reports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scanner.detectors.probes import Probe, ProbeFinding, ProbeResult
from scanner.detectors.search import SearchFinding, SearchResult
from scanner.detectors.spaces import Point
from scanner.detectors.verdict import (
    Decision,
    VerdictRule,
    anomaly_index,
    attribution_candidates,
    calibrate,
    decide,
    load_rule,
    natural_sinks,
    off_anchor_shares,
)
from scanner.errors import UsageError
from scanner.report import PlaneResult

# A 7 px patch: larger than the stamps that are never read as natural sinks (`stamp_like`).
PATCH = Probe("patch", 2, (20, 20, 1), 1)


def result(findings: list[tuple[int, float, float]], hits: list[int] | None = None) -> ProbeResult:
    """findings: (label, confirmed universality, confirmed consistency)."""
    return ProbeResult(
        findings=tuple(ProbeFinding(PATCH, lab, u, c, u, c) for lab, u, c in findings),
        per_label_search=tuple([0.0] * 10),
        per_label_hits=tuple(hits or [0] * 10),
        probes=100,
        search_samples=60,
        confirm_samples=200,
        queries=6000,
    )


def test_a_label_that_draws_every_class_is_the_named_target() -> None:
    d = decide(result([(4, 0.95, 0.95), (2, 0.1, 0.2)]), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("infected", 4)
    assert d.score > 0.9
    assert "label 4" in d.target_note


def test_nothing_moves_the_classes_together_means_clean() -> None:
    d = decide(result([(6, 0.3, 0.4), (8, 0.2, 0.3)]), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("clean", None)
    assert d.score < 0.5


def test_a_probe_counts_only_as_far_as_search_and_confirmation_agree() -> None:
    # Confirmed at 0.95 but only 0.3 on the search samples: not evidence enough.
    lucky = ProbeFinding(PATCH, 4, 0.95, 0.2, 0.3, 0.2)
    d = decide(
        ProbeResult((lucky,), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000),
        (),
        10,
        VerdictRule(),
    )
    assert d.verdict == "clean"
    assert d.evidence.universality == pytest.approx(0.3)


def test_consistent_moves_to_many_labels_is_no_single_target() -> None:
    d = decide(result([(4, 0.2, 0.95)]), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("infected", None)
    assert "no single target" in d.target_note


def test_score_is_half_at_each_threshold_and_monotone() -> None:
    rule = VerdictRule(target_threshold=0.7, spread_threshold=0.85)
    assert decide(result([(1, 0.7, 0.1)]), (), 10, rule).score == pytest.approx(0.5)
    assert decide(result([(1, 0.1, 0.85)]), (), 10, rule).score == pytest.approx(0.5)
    scores = [decide(result([(1, u, 0.0)]), (), 10, rule).score for u in (0, 0.3, 0.69, 0.8, 1)]
    assert scores == sorted(scores) and scores[2] < 0.5 <= scores[3]


def test_of_two_passing_labels_the_broader_supported_one_is_named() -> None:
    hits = [28, 0, 0, 0, 0, 0, 0, 0, 8, 0]
    d = decide(result([(8, 1.0, 1.0), (0, 0.95, 0.95)], hits), (), 10, VerdictRule())
    assert d.target_label == 0
    assert d.evidence.other_candidates == (8,)


GRATING_STRONG = Probe("periodic", 2, (0, 6, 0), 3)  # a 0.35 grating
assert GRATING_STRONG.strong and not PATCH.strong


def with_strong(
    weak: list[tuple[int, float, float]],
    strong: list[tuple[int, float]],
    strong_search: list[float],
) -> ProbeResult:
    """`weak` as in `result`; `strong`: (label, universality) of strong-probe findings, and
    the strong probes' best search universality per label."""
    base = result(weak)
    extra = tuple(ProbeFinding(GRATING_STRONG, lab, u, 0.9, u, 0.9) for lab, u in strong)
    return ProbeResult(
        base.findings + extra,
        base.per_label_search,
        base.per_label_hits,
        base.probes,
        base.search_samples,
        base.confirm_samples,
        base.queries,
        tuple(strong_search),
    )


def test_a_strong_probe_that_draws_one_label_alone_names_it() -> None:
    search = [0.0] * 10
    search[4], search[6] = 0.9, 0.2
    d = decide(with_strong([(6, 0.3, 0.4)], [(4, 0.9)], search), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("infected", 4)
    assert d.evidence.decided_by == "selectivity"
    assert d.evidence.selectivity == pytest.approx(0.7)
    assert "strong probes only" in d.target_note
    assert d.score > 0.5


def test_strong_probes_that_draw_several_labels_are_a_fragile_model_not_a_backdoor() -> None:
    # A clean ResNet-8's pattern: a strong grating sends most classes to Shirt, another one
    # to Trouser. Universality alone would pass; selectivity does not.
    search = [0.0] * 10
    search[6], search[1] = 0.85, 0.7
    d = decide(with_strong([(6, 0.3, 0.4)], [(6, 0.85)], search), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("clean", None)
    assert d.evidence.selectivity == pytest.approx(0.15)
    assert d.score < 0.5


def test_strong_probes_never_overrule_the_subtle_ones() -> None:
    # The subtle probes found target 2; a strong probe's sink (8) neither replaces it nor
    # counts towards the universality or consistency figures.
    search = [0.0] * 10
    search[8] = 1.0
    d = decide(with_strong([(2, 0.9, 0.5)], [(8, 1.0)], search), (), 10, VerdictRule())
    assert (d.target_label, d.evidence.decided_by) == (2, "universality")
    assert d.evidence.universality == pytest.approx(0.9)
    # All-to-all evidence from the subtle probes stays "no single target".
    d = decide(with_strong([(4, 0.2, 0.95)], [(8, 1.0)], search), (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("infected", None)
    assert d.evidence.consistency == pytest.approx(0.95)


def test_plane_share_anomaly_stays_in_the_evidence() -> None:
    planes = tuple(
        PlaneResult(
            anchors=(0, 1, 2),
            anchor_labels=(a, a + 1, a + 2),
            resolution=10,
            extend=5.0,
            re=0.0,
            ats=0.0,
            label_counts=tuple(90 if k == 9 else 1 for k in range(10)),
            anchor_areas=(0.0, 0.0, 0.0),
            queries=100,
        )
        for a in range(5)
    )
    d = decide(result([(1, 0.1, 0.1)]), planes, 10, VerdictRule())
    assert d.evidence.plane_share_anomaly.label == 9


def test_off_anchor_shares_ignore_planes_through_the_label() -> None:
    def plane(labels: tuple[int, int, int], counts: list[int]) -> PlaneResult:
        return PlaneResult(
            anchors=(0, 1, 2),
            anchor_labels=labels,
            resolution=10,
            extend=5.0,
            re=0.0,
            ats=0.0,
            label_counts=tuple(counts),
            anchor_areas=(0.0, 0.0, 0.0),
            queries=100,
        )

    shares, seen = off_anchor_shares(
        (plane((0, 1, 2), [30, 30, 30, 10, 0, 0]), plane((3, 4, 5), [50, 0, 0, 50, 0, 0])), 6
    )
    assert seen.tolist() == [1, 1, 1, 1, 1, 1]
    assert shares[0] == pytest.approx(0.5) and shares[3] == pytest.approx(0.1)
    a = anomaly_index(np.array([0.1, 0.1, 0.12, 0.08, 0.1, 0.9]))
    assert np.argmax(a) == 5 and a[5] > 10


def test_calibration_only_raises_thresholds() -> None:
    base = VerdictRule()
    same = calibrate([(0.2, 0.3, 0.1), (0.4, 0.5, 0.2)], fpr=0.0, base=base)
    assert same == base
    strict = calibrate([(0.2, 0.3, 0.1), (0.8, 0.9, 0.7)], fpr=0.0, base=base)
    assert strict.target_threshold == pytest.approx(0.85)
    assert strict.spread_threshold == pytest.approx(0.95)
    assert strict.selectivity_threshold == pytest.approx(0.75)
    assert calibrate([(0.2, 0.3, 0.1), (0.8, 0.9, 0.7)], fpr=0.5, base=base) == base
    # Reports written before the strong probes existed carry no selectivity: it counts as 0.
    assert calibrate([(0.2, 0.3)], fpr=0.0, base=base) == base
    # A clean model whose probe spreads the classes at 0.82 raises the spread test's bar too.
    spread = calibrate([(0.2, 0.3, 0.1, 0.82), (0.3, 0.4, 0.1, 0.1)], fpr=0.0, base=base)
    assert spread.spread_consistency_min == pytest.approx(0.87)
    assert spread.spread_threshold == base.spread_threshold
    with pytest.raises(ValueError, match="at least one"):
        calibrate([], fpr=0.1, base=base)


def test_rule_files_round_trip_and_bad_ones_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "rule.json"
    good.write_text(json.dumps({"rule": {"target_threshold": 0.8}}))
    assert load_rule(str(good)).target_threshold == 0.8
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rule": {"threshhold": 0.5}}))
    with pytest.raises(UsageError, match=r"bad\.json: unknown rule keys \['threshhold'\]"):
        load_rule(str(bad))
    with pytest.raises(UsageError, match=r"missing\.json"):
        load_rule(str(tmp_path / "missing.json"))


def concentrated(label: int, u: float, c: float, conc: tuple[float, int | None],
                 search_conc: tuple[float, int | None] | None = None) -> ProbeFinding:  # fmt: skip
    s = search_conc or conc
    return ProbeFinding(PATCH, label, u, c, u, c, conc[0], conc[1], s[0], s[1])


def decide_on(*findings: ProbeFinding) -> Decision:
    probes = ProbeResult(findings, tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    return decide(probes, (), 10, VerdictRule())


def test_classes_that_move_together_to_one_label_name_it() -> None:
    # A SIG-like model: every consistent probe sends most classes to 2, none to 3/4 of them.
    d = decide_on(concentrated(2, 0.5, 0.95, (1.0, 2)), concentrated(2, 0.45, 0.9, (0.89, 2)))
    assert (d.verdict, d.target_label) == ("infected", 2)
    assert d.evidence.decided_by == "consistency"
    assert d.evidence.concentration == pytest.approx(0.89)
    assert "label 2" in d.target_note


@pytest.mark.parametrize(
    "findings",
    [
        # all-to-all: class i goes to i + 1, one class per destination
        [concentrated(1, 0.1, 0.95, (1 / 9, 1))],
        # an all-to-all trigger beside a sink patch that takes 8 of 9 classes to "Coat"
        [concentrated(4, 0.6, 0.95, (0.89, 4)), concentrated(4, 0.1, 0.95, (1 / 9, 4))],
        # a report written before concentration existed
        [ProbeFinding(PATCH, 2, 0.5, 0.95, 0.5, 0.95)],
    ],
)
def test_otherwise_consistency_keeps_no_single_target(findings: list[ProbeFinding]) -> None:
    d = decide_on(*findings)
    assert (d.verdict, d.target_label) == ("infected", None)
    assert "no single target" in d.target_note


def test_classes_moving_to_a_label_universality_does_not_rank_first_name_it() -> None:
    # A clean MobileNet's blends sent 7 of 9 classes to one label while a grating ranked
    # another first: a one-label push, not an all-to-all spread.
    moving = concentrated(2, 0.3, 0.9, (0.78, 7))
    d = decide_on(moving, concentrated(5, 0.4, 0.5, (0.2, 5)))
    assert (d.verdict, d.target_label) == ("infected", 7)
    assert "no single target" not in d.target_note
    # Two pushes to two labels are two sinks, not a spread: the more consistent one is named.
    d = decide_on(moving, concentrated(3, 0.3, 0.95, (0.67, 3)))
    assert (d.verdict, d.target_label) == ("infected", 3)


def test_the_moving_probe_is_measured_and_can_read_natural() -> None:
    moving = concentrated(2, 0.3, 0.9, (0.78, 7))
    other = concentrated(5, 0.4, 0.5, (0.2, 5))
    probes = ProbeResult((moving, other), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    rule = VerdictRule()
    assert attribution_candidates(probes, rule) == [(PATCH, 5), (PATCH, 7)]
    d = decide(probes, (), 10, rule, (_attr(PATCH, 7, breadth=0.8, half=0.1),))
    assert (d.verdict, d.evidence.shortcut_label) == ("shortcut", 7)
    assert d.evidence.decided_by == "consistency+attribution"
    # Where universality decides, the moving probe is not measured: its curve cannot matter.
    decided = concentrated(4, 0.95, 0.95, (1.0, 4))
    probes = ProbeResult((decided, moving), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    assert attribution_candidates(probes, rule) == [(PATCH, 4)]


def test_a_probe_neither_concentrated_nor_spread_does_not_count_for_consistency() -> None:
    # A clean SE-ResNet's grating sent 4 of 9 classes to 6 in one sample set and 5 in the
    # other: neither a one-label push nor an all-to-all spread.
    half = concentrated(8, 0.5, 0.9, (0.44, 6), (0.56, 6))
    d = decide_on(half)
    assert d.verdict == "clean" and d.score < 0.5
    assert d.evidence.consistency == 0.0
    # Nor one whose two sample sets send the classes to two different labels.
    assert decide_on(concentrated(2, 0.5, 0.95, (1.0, 2), (1.0, 6))).verdict == "clean"
    # An all-to-all spread whose two sample sets break the 1/9 tie differently still spreads.
    d = decide_on(half, concentrated(1, 0.1, 0.9, (1 / 9, 0), (2 / 9, 3)))
    assert (d.verdict, d.target_label) == ("infected", None)
    assert "no single target" in d.target_note


def test_a_probe_that_sends_four_of_nine_classes_to_one_label_does_not_spread() -> None:
    # A clean MobileNet's blend (and two clean ResNet-8s' gratings) sent a median 90% of each
    # class elsewhere, 4 of 9 classes to one label in both sample sets: a sink short of a
    # majority, not an all-to-all trigger (whose classes go each to its own label: at most 3 of
    # 9 shared one in any of 281 stored all-to-all scans).
    sink = concentrated(6, 0.3, 0.9, (4 / 9, 6))
    d = decide_on(sink)
    assert d.verdict == "clean" and d.score < 0.5
    assert d.evidence.consistency == 0.0
    # Three of nine on one label still spread, past the consistency test's threshold or under it.
    for c in (0.9, 0.8333):
        d = decide_on(concentrated(1, 0.1, c, (3 / 9, 1), (2 / 9, 5)))
        assert (d.verdict, d.target_label) == ("infected", None)
        assert "no single target" in d.target_note


def test_an_all_to_all_spread_decides_past_a_natural_shortcut() -> None:
    # An all-to-all ResNet-8 whose grating sink to 6 passes universality and reads natural,
    # while its trigger's patch moves every class, each to a different label.
    sink = concentrated(6, 0.85, 0.5, (0.3, 6))
    spread = concentrated(1, 0.1, 0.95, (1 / 9, 1))
    probes = ProbeResult((sink, spread), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    natural_sink = (_attr(PATCH, 6, breadth=0.8, half=0.1),)
    d = decide(probes, (), 10, VerdictRule(), natural_sink)
    assert (d.verdict, d.target_label) == ("infected", None)
    assert d.evidence.decided_by == "consistency"
    assert (
        "no single target" in d.target_note
        and "label 6 is also a universal shortcut" in d.target_note
    )
    # Without the spread, the sink alone is a shortcut.
    alone = ProbeResult((sink,), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    assert decide(alone, (), 10, VerdictRule(), natural_sink).verdict == "shortcut"


def test_a_probe_that_spreads_the_classes_decides_under_the_consistency_threshold() -> None:
    # An all-to-all GroupNorm ResNet whose trigger's patch moves a median 10 of 12 samples of
    # each class, each class to its own label, in both sample sets: under `spread_threshold`
    # (0.8375), over the spread test's 0.8.
    spread = concentrated(1, 0.0, 0.8333, (1 / 9, 1), (2 / 9, 5))
    d = decide_on(spread)
    assert (d.verdict, d.target_label) == ("infected", None)
    assert d.evidence.decided_by == "spread" and "no single target" in d.target_note
    assert d.score > 0.5
    by = {t.test: t for t in d.evidence.trace.tests}
    assert by["spread"].fired and not by["consistency"].fired
    assert by["spread"].value == pytest.approx(0.8333)
    assert by["spread"].threshold == "spread_consistency_min"
    # The same consistency concentrated on one label (a clean net's sink) decides nothing, and
    # neither does a spread under 0.8 (the clean scans' most: 0.75); their score stays under
    # a half, as it was.
    for finding in (
        concentrated(6, 0.5, 0.8333, (0.78, 6)),
        concentrated(1, 0.0, 0.75, (1 / 9, 1), (2 / 9, 5)),
    ):
        quiet = decide_on(finding)
        assert quiet.verdict == "clean" and quiet.score < 0.5
    # A spread the search samples did not measure (an older report) never spreads.
    assert decide_on(concentrated(1, 0.0, 0.8333, (1 / 9, 1), (0.0, None))).verdict == "clean"


def test_a_spread_under_the_consistency_threshold_still_overrules_a_natural_sink() -> None:
    # An all-to-all ResNet-8 with a 5-pixel trigger: a natural patch sink to 9 passes
    # universality and reads natural; the trigger's spread (0.833) is all-to-all evidence.
    sink = concentrated(9, 0.75, 0.85, (1.0, 9))
    spread = concentrated(0, 0.0, 0.8333, (1 / 9, 0), (2 / 9, 4))
    probes = ProbeResult((sink, spread), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    natural_sink = (_attr(PATCH, 9, breadth=0.8, half=0.1),)
    d = decide(probes, (), 10, VerdictRule(), natural_sink)
    assert (d.verdict, d.target_label) == ("infected", None)
    assert d.evidence.decided_by == "spread"
    assert "label 9 is also a universal shortcut" in d.target_note


def test_a_spread_decides_past_a_planted_looking_label_too() -> None:
    # An all-to-all CNN: a 7-pixel patch sends every class to 8 and its curve reads planted,
    # while the trigger's patch spreads the classes (0.9). No clean or all-to-one scan of sets
    # 13-27 spread at 0.8; the all-to-all reading decides and names label 8 in its note.
    sink = concentrated(8, 1.0, 1.0, (1.0, 8))
    spread = concentrated(0, 0.0, 0.9, (1 / 9, 0), (2 / 9, 3))
    planted = (_attr(PATCH, 8, breadth=0.8, half=0.95),)
    both = ProbeResult((sink, spread), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    d = decide(both, (), 10, VerdictRule(), planted)
    assert (d.verdict, d.target_label) == ("infected", None)
    assert "no single target" in d.target_note and "label 8 also draws" in d.target_note
    # Without the spread, the planted-looking label is the target.
    alone = ProbeResult((sink,), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    d = decide(alone, (), 10, VerdictRule(), planted)
    assert (d.verdict, d.target_label) == ("infected", 8)


# --- attribution: planted trigger or natural shortcut -------------------------------------------


def _attr(probe: Probe, label: int, breadth: float | None, half: float, full: float = 1.0):
    from scanner.detectors.attribution import Attribution

    dose = ((0.25, half / 2), (0.5, half), (0.75, (half + full) / 2), (1.0, full))
    return Attribution(label, probe, breadth, dose, samples=200, queries=800)


def test_a_broad_shortcut_that_fades_at_half_strength_is_called_shortcut() -> None:
    probes = result([(4, 0.95, 0.95)])
    rule = VerdictRule()
    infected = decide(probes, (), 10, rule)
    d = decide(probes, (), 10, rule, (_attr(PATCH, 4, breadth=0.8, half=0.1),))
    assert (d.verdict, d.target_label) == ("shortcut", None)
    assert d.evidence.shortcut_label == 4
    assert d.evidence.decided_by == "universality+attribution"
    # The likelihood of a planted trigger: below 0.5, lower the faster the pull fades.
    assert d.score == pytest.approx(infected.score * 0.5 * 0.1 / 0.5, abs=1e-6)
    assert "not attributed to a planted trigger" in d.target_note
    assert d.evidence.attribution[0].retention == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("rule", "breadth", "half", "why"),
    [
        (VerdictRule(), 0.9, 0.8, "it keeps most of its pull at half strength"),
        (VerdictRule(), 0.05, 0.5, "half the pull at half the strength is not less than half"),
        (VerdictRule(breadth_min=0.5), 0.05, 0.1, "asked for, few of the family reach it"),
        (VerdictRule(breadth_min=0.5), None, 0.0, "asked for, an old report has no breadth"),
    ],
)
def test_a_robust_shortcut_stays_infected(rule, breadth, half, why) -> None:
    probes = result([(4, 0.95, 0.95)])
    d = decide(probes, (), 10, rule, (_attr(PATCH, 4, breadth=breadth, half=half),))
    assert (d.verdict, d.target_label) == ("infected", 4), why


def test_an_attribution_read_back_writes_out_unchanged() -> None:
    from scanner.detectors.attribution import Attribution

    # 1/11 over 6/11 is 0.1667; over the written 0.0909 and 0.5455 it is 0.1666.
    written = _attr(PATCH, 4, breadth=0.5, half=1 / 11, full=6 / 11).to_dict()
    assert Attribution.from_dict(written).to_dict() == written


def test_breadth_is_not_asked_for_by_default() -> None:
    probes = result([(4, 0.95, 0.95)])
    d = decide(probes, (), 10, VerdictRule(), (_attr(PATCH, 4, breadth=0.05, half=0.1),))
    assert d.verdict == "shortcut"


def test_attribution_of_another_probe_or_label_is_not_used() -> None:
    probes = result([(4, 0.95, 0.95)])
    other = Probe("patch", 0, (0, 0, 1), 9)
    for attr in (_attr(other, 4, 0.9, 0.0), _attr(PATCH, 5, 0.9, 0.0)):
        assert decide(probes, (), 10, VerdictRule(), (attr,)).verdict == "infected"


def test_a_strong_probe_sink_can_be_a_shortcut_but_no_single_target_stays_infected() -> None:
    search = [0.0] * 10
    search[4], search[6] = 0.9, 0.2
    probes = with_strong([(6, 0.3, 0.4)], [(4, 0.9)], search)
    d = decide(probes, (), 10, VerdictRule(), (_attr(GRATING_STRONG, 4, 0.7, 0.05),))
    assert (d.verdict, d.evidence.shortcut_label) == ("shortcut", 4)
    assert d.evidence.decided_by == "selectivity+attribution"
    # All-to-all evidence names no label, so there is nothing to attribute.
    a2a = result([(4, 0.2, 0.95)])
    d = decide(a2a, (), 10, VerdictRule(), (_attr(PATCH, 4, 0.9, 0.0),))
    assert (d.verdict, d.target_label) == ("infected", None)


def test_attribution_round_trips_through_the_report_evidence() -> None:
    from scanner.detectors.evidence import Evidence

    probes = result([(4, 0.95, 0.95)])
    attr = _attr(PATCH, 4, breadth=0.8, half=0.1)
    d = decide(probes, (), 10, VerdictRule(), (attr,))
    back = Evidence.from_dict(json.loads(json.dumps(d.evidence.to_dict())))
    assert back == d.evidence and back.attribution == (attr,)
    again = decide(back.probe_result(), (), 10, VerdictRule(), back.attribution)
    assert (again.verdict, again.score) == (d.verdict, d.score)


def test_the_rule_defaults_are_the_thresholds_module_and_each_is_marked() -> None:
    from dataclasses import fields

    from scanner.detectors.thresholds import THRESHOLDS
    from scanner.detectors.verdict import CONCENTRATION_MIN, VERDICT_TESTS

    rule = VerdictRule()
    for f in fields(VerdictRule):
        assert getattr(rule, f.name) == THRESHOLDS[f.name].value
    assert THRESHOLDS["concentration_min"].value == CONCENTRATION_MIN
    assert {t.kind for t in THRESHOLDS.values()} == {"fitted", "hand-set"}
    assert all(t.threshold in THRESHOLDS for t in VERDICT_TESTS.values())


def test_the_trace_says_which_test_decided_against_which_threshold() -> None:
    from scanner.detectors.verdict import Trace

    d = decide(result([(4, 0.95, 0.3)]), (), 10, VerdictRule())
    trace = d.evidence.trace
    assert trace.decided_by == "universality" and trace.attribution is None
    by = {t.test: t for t in trace.tests}
    assert set(by) == {"universality", "consistency", "spread", "selectivity"}  # no search
    assert by["universality"].fired and by["universality"].value == pytest.approx(0.95)
    assert (by["universality"].threshold, by["universality"].threshold_kind) == (
        "target_threshold",
        "fitted",
    )
    assert not by["consistency"].fired and by["selectivity"].threshold_kind == "hand-set"
    assert Trace.from_dict(json.loads(json.dumps(trace.to_dict()))) == trace
    # Clean: nothing fired. A calibrated rule's own value is marked as such.
    clean = decide(result([(6, 0.3, 0.4)]), (), 10, VerdictRule(target_threshold=0.8))
    t = clean.evidence.trace
    assert t.decided_by is None and not any(r.fired for r in t.tests)
    assert t.tests[0].threshold_value == 0.8 and t.tests[0].threshold_kind == "rule file"


def test_the_trace_of_a_shortcut_carries_its_attribution() -> None:
    d = decide(result([(4, 0.95, 0.95)]), (), 10, VerdictRule(),
               (_attr(PATCH, 4, breadth=0.8, half=0.1),))  # fmt: skip
    trace = d.evidence.trace
    assert trace.decided_by == "universality+attribution"
    assert trace.attribution is not None and trace.attribution.natural
    assert trace.attribution.retention == pytest.approx(0.1)
    assert trace.attribution.retention_max == 0.5


# --- locality: small stamps are planted, global pushes to a natural sink are not ---------------


def test_a_small_patch_is_never_read_as_a_natural_sink() -> None:
    # A planted 3x3 patch at half opacity is another pattern, not a weaker one: its curve
    # fades like a sink's (measured: [0, 0.05, 0.8, 1.0]), so its size must speak instead.
    small = Probe("patch", 0, (20, 20, 1), 1)
    probes = ProbeResult(
        findings=(ProbeFinding(small, 4, 0.95, 0.95, 0.95, 0.95),),
        per_label_search=tuple([0.0] * 10),
        per_label_hits=tuple([0] * 10),
        probes=100,
        search_samples=60,
        confirm_samples=200,
        queries=6000,
    )
    d = decide(probes, (), 10, VerdictRule(), (_attr(small, 4, breadth=0.05, half=0.05),))
    assert (d.verdict, d.target_label) == ("infected", 4)
    # The same patch at 7 px covers more than the search's largest deciding stamp (4%).
    big = Probe("patch", 0, (20, 20, 1), 1, magnitude=0.25)
    probes = replace(probes, findings=(ProbeFinding(big, 4, 0.95, 0.95, 0.95, 0.95),))
    d = decide(probes, (), 10, VerdictRule(), (_attr(big, 4, breadth=0.05, half=0.05),))
    assert (d.verdict, d.evidence.shortcut_label) == ("shortcut", 4)
    # A rule with a smaller stamp cap reads the 3 px patch by its curve again.
    probes = replace(probes, findings=(ProbeFinding(small, 4, 0.95, 0.95, 0.95, 0.95),))
    tight = VerdictRule(mask_cost_max=0.01)
    d = decide(probes, (), 10, tight, (_attr(small, 4, breadth=0.05, half=0.05),))
    assert d.verdict == "shortcut"


def _searched(space: str, label: int, cost: float) -> SearchResult:
    params = (
        {"shape": [28, 28, 1], "pixels": [[0, 0]], "values": [[1.0]]}
        if space == "mask"
        else {"fade": 0.2}
    )
    dose = ((0.25, 0.2), (0.5, 0.6), (0.75, 0.9), (1.0, 1.0))
    return SearchResult((SearchFinding(Point(space, params), label, 1.0, dose, cost, 10),),
                        (label,), 60, 200, 1000)  # fmt: skip


def test_a_tone_curve_to_the_probes_natural_sink_does_not_decide() -> None:
    # The probes reach label 8 below the threshold with a grating whose pull fades: a sink.
    probes = result([(8, 0.7, 0.5)])
    grating = (_attr(PATCH, 8, breadth=0.3, half=0.05),)
    rule = VerdictRule()
    d = decide(probes, (), 10, rule, grating, _searched("curve", 8, 0.05))
    assert (d.verdict, d.target_label) == ("clean", None)
    assert d.evidence.search is not None  # kept as evidence
    assert not next(t for t in d.evidence.trace.tests if t.test == "search").fired
    # A stamp to the same label is local, not the same push: it still decides.
    d = decide(probes, (), 10, rule, grating, _searched("mask", 8, 0.01))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 8, "search:mask")
    # Without the sink's attribution, or to another label, the curve decides as before.
    d = decide(probes, (), 10, rule, (), _searched("curve", 8, 0.05))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 8, "search:curve")
    d = decide(probes, (), 10, rule, grating, _searched("curve", 3, 0.05))
    assert (d.verdict, d.target_label) == ("infected", 3)
    assert natural_sinks(grating, rule) == {8}


def test_a_small_grating_decides_when_the_probes_found_nothing() -> None:
    probes = result([(2, 0.6, 0.5)])
    rule = VerdictRule()
    params = {"angle": 0.0, "freq": 6.0, "phase": 0.7854, "amp": 0.157}  # under the cap
    dose = ((0.25, 0.0), (0.5, 0.0), (0.75, 0.4), (1.0, 0.9))
    found = SearchFinding(Point("grating", params), 2, 0.9, dose, 0.157, 40)
    d = decide(probes, (), 10, rule, (), SearchResult((found,), (2,), 60, 200, 1000))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 2, "search:grating")
    assert "a grating of 6 cycles along the columns" in d.target_note
    assert "half strength" not in d.target_note
    louder = replace(found, point=Point("grating", {**params, "amp": 0.3}), cost=0.3)
    d = decide(probes, (), 10, rule, (), SearchResult((louder,), (2,), 60, 200, 1000))
    assert d.verdict == "clean"


def _turn(params: dict, label: int, dose: tuple[float, ...], cost: float) -> SearchFinding:
    """A transform the search found, with its universality at 1/4, 1/2, 3/4 and full strength."""
    fractions = (0.25, 0.5, 0.75, 1.0)
    return SearchFinding(Point("transform", params), label, dose[-1],
                         tuple(zip(fractions, dose, strict=True)), cost, 10)  # fmt: skip


def test_a_transform_that_fires_early_decides_and_names_the_target() -> None:
    # A WaNet-style model: the probes' warp reached label 6 with a fading pull (read as a sink),
    # a zoom to 6 moves most classes at a quarter of itself, a rotation reaches a natural sink.
    probes = result([(6, 0.7, 0.5)])
    warp = (_attr(PATCH, 6, breadth=0.3, half=0.05),)
    zoom = _turn({"angle": 0.0, "scale": 1.33, "flip": ""}, 6, (0.6, 0.65, 0.65, 0.6), 0.285)
    rotation = _turn({"angle": 90.0, "scale": 1.0, "flip": ""}, 8, (0.0, 0.1, 0.5, 1.0), 0.5)
    search = SearchResult((rotation, zoom), (6, 8), 60, 200, 1000)  # fmt: skip
    d = decide(probes, (), 10, VerdictRule(), warp, search)
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 6, "search:transform")
    assert "at a quarter of its strength, already sends 60%" in d.target_note
    assert d.score > 0.5
    assert next(t for t in d.evidence.trace.tests if t.test == "search").fired
    # The rotation alone (a natural sink's dose-response) decides nothing.
    d = decide(probes, (), 10, VerdictRule(), warp, replace(search, findings=(rotation,)))
    assert d.verdict != "infected"
    # Probes that decided "infected" for another label (a small patch to a natural "Bag" the
    # warp training amplified) give the target to the early transform, and say what they said.
    bag = result([(8, 1.0, 1.0)])
    d = decide(bag, (), 10, VerdictRule(), (), search)
    assert (d.verdict, d.target_label) == ("infected", 6)
    assert "the probes alone said" in d.target_note
    d = decide(bag, (), 10, VerdictRule(), (), replace(search, findings=(rotation,)))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 8, "universality")


def test_an_early_transform_names_the_target_over_no_single_target() -> None:
    # A WaNet CNN scanned under the api budget: the warp probe spread the classes (an
    # all-to-all reading), while a zoom to 2 moves most classes at a quarter of itself.
    spread = concentrated(1, 0.0, 0.8333, (1 / 9, 1), (2 / 9, 5))
    probes = ProbeResult((spread,), tuple([0.0] * 10), tuple([0] * 10), 100, 60, 200, 6000)
    zoom = _turn({"angle": 0.0, "scale": 1.33, "flip": ""}, 2, (0.6, 0.9, 1.0, 1.0), 0.285)
    d = decide(probes, (), 10, VerdictRule(), (), SearchResult((zoom,), (2,), 60, 200, 1000))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 2, "search:transform")
    assert "the probes alone said: no single target" in d.target_note
    # A transform that needs its whole strength leaves the all-to-all reading in place.
    late = _turn({"angle": 0.0, "scale": 1.1, "flip": ""}, 2, (0.1, 0.3, 0.8, 1.0), 0.1)
    d = decide(probes, (), 10, VerdictRule(), (), SearchResult((late,), (2,), 60, 200, 1000))
    assert (d.verdict, d.target_label) == ("infected", None)


def test_a_planted_stamp_names_the_target_over_the_strong_probes_selectivity() -> None:
    # An SE-ResNet with scattered pixels under the api budget: a strong grating draws 4 alone
    # (selectivity), the search's stamp of 2% of the pixels sends every class to 1.
    params = {"shape": [28, 28, 1], "pixels": [[0, 1]], "values": [[1.0]]}
    dose = ((0.25, 0.0), (0.5, 0.2), (0.75, 0.8), (1.0, 1.0))
    stamp = SearchFinding(Point("mask", params), 1, 1.0, dose, 0.02, 10)
    search = [0.0] * 10
    search[4], search[6] = 0.9, 0.2
    probes = with_strong([(6, 0.3, 0.4)], [(4, 0.9)], search)
    d = decide(probes, (), 10, VerdictRule(), (), SearchResult((stamp,), (1,), 60, 200, 1000))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 1, "search:mask")
    assert "the probes alone said: under strong probes only" in d.target_note
    # Over the universality test's label the stamp does not decide: the probes' own small
    # patch or blend named it.
    d = decide(result([(6, 1.0, 1.0)]), (), 10, VerdictRule(), (),
               SearchResult((stamp,), (1,), 60, 200, 1000))  # fmt: skip
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 6, "universality")
    # A stamp over its cap is no planted finding: the selectivity decision stands.
    large = replace(stamp, cost=0.08)
    d = decide(probes, (), 10, VerdictRule(), (), SearchResult((large,), (1,), 60, 200, 1000))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 4, "selectivity")


def test_a_tiny_stamp_names_the_target_over_the_probes_label() -> None:
    # A ResNet-8 with scattered pixels: the probes' 7 px patch sends 85% to "Bag" (8), the
    # search found 6 pixels to 4 at 95% and a larger stamp to 8 under its cap.
    def stamp(label: int, cost: float, u: float = 0.95) -> SearchFinding:
        params = {"shape": [28, 28, 1], "pixels": [[0, label]], "values": [[1.0]]}
        dose = ((0.25, 0.0), (0.5, 0.1), (0.75, 0.6), (1.0, u))
        return SearchFinding(Point("mask", params), label, u, dose, cost, 10)

    probes = result([(8, 0.85, 0.5)])
    both = SearchResult((stamp(8, 0.02), stamp(4, 0.0076)), (4, 8), 60, 200, 1000)
    d = decide(probes, (), 10, VerdictRule(), (), both)
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 4, "search:mask")
    assert "the probes alone said" in d.target_note
    # A stamp of 8 pixels (over `stamp_overrule_max`, the size of natural sinks) leaves the
    # probes' label, and so does the rule with the overrule off.
    larger = SearchResult((stamp(8, 0.02), stamp(4, 0.0102)), (4, 8), 60, 200, 1000)
    d = decide(probes, (), 10, VerdictRule(), (), larger)
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 8, "universality")
    d = decide(probes, (), 10, VerdictRule(stamp_overrule_max=0.0), (), both)
    assert (d.verdict, d.target_label) == ("infected", 8)


def test_a_small_turn_decides_even_to_a_label_the_probes_read_as_a_sink() -> None:
    # A rotation backdoor: the probes' blend reaches label 0 with a fading pull (a sink's), the
    # search's 18.75-degree turn moves nothing at a quarter or half of itself but 80% in full.
    probes = result([(0, 0.6, 0.5)])
    sink = (_attr(PATCH, 0, breadth=0.3, half=0.05),)
    turn = _turn({"angle": -18.75, "scale": 1.0, "flip": ""}, 0, (0.0, 0.0, 0.3, 0.8), 0.104)
    d = decide(probes, (), 10, VerdictRule(), sink, SearchResult((turn,), (0,), 60, 200, 1000))
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 0, "search:transform")
    assert "a rotation by -18.75 degrees" in d.target_note
    # The same turn at 37.5 degrees is the size of the clean networks' rotation sinks.
    wide = replace(turn, cost=0.208)
    d = decide(probes, (), 10, VerdictRule(), sink, SearchResult((wide,), (0,), 60, 200, 1000))
    assert d.verdict != "infected"


def test_of_two_planted_stamps_the_one_the_probes_named_is_the_target() -> None:
    # A natural stamp to "Bag" can be more universal than the trigger's own stamp; the probes'
    # universality test, a search of its own, named the trigger's label.
    def stamp(label: int, u: float, cost: float = 0.015) -> SearchFinding:
        params = {"shape": [28, 28, 1], "pixels": [[0, label]], "values": [[1.0]]}
        dose = ((0.25, 0.0), (0.5, 0.05), (0.75, 0.4), (1.0, u))
        return SearchFinding(Point("mask", params), label, u, dose, cost, 10)

    search = SearchResult((stamp(8, 1.0), stamp(6, 0.85)), (6, 8), 60, 200, 1000)
    d = decide(result([(6, 0.7, 0.5)]), (), 10, VerdictRule(), (), search)
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 6, "search:mask")
    # Probes that named neither: of stamps the same size, the most universal...
    d = decide(result([(3, 0.5, 0.5)]), (), 10, VerdictRule(), (), search)
    assert (d.verdict, d.target_label) == ("infected", 8)
    # ...and otherwise the smaller one, even a grating under its cap against a larger stamp:
    # a trigger needs little, a natural sink much.
    small = SearchResult((stamp(8, 1.0, 0.028), stamp(6, 0.85, 0.014)), (6, 8), 60, 200, 1000)
    d = decide(result([(3, 0.5, 0.5)]), (), 10, VerdictRule(), (), small)
    assert (d.verdict, d.target_label) == ("infected", 6)
    sine = {"angle": 0.0, "freq": 6.0, "phase": 0.0, "amp": 0.06}
    dose = ((0.25, 0.0), (0.5, 0.1), (0.75, 0.5), (1.0, 0.8))
    grating = SearchFinding(Point("grating", sine), 2, 0.8, dose, 0.06, 10)
    mixed = SearchResult((stamp(8, 1.0, 0.028), grating), (2, 8), 60, 200, 1000)
    d = decide(result([(3, 0.5, 0.5)]), (), 10, VerdictRule(), (), mixed)
    assert (d.verdict, d.target_label, d.evidence.decided_by) == ("infected", 2, "search:grating")


def _curve(probe: Probe, label: int, dose: tuple[float, float, float, float]):
    from scanner.detectors.attribution import Attribution

    fractions = (0.25, 0.5, 0.75, 1.0)
    return Attribution(label, probe, 0.1, tuple(zip(fractions, dose, strict=True)), 200, 800)


@pytest.mark.parametrize(
    ("dose", "rule", "verdict", "why"),
    [
        ((0.0, 0.6, 0.9, 1.0), VerdictRule(), "shortcut", "no onset, keeps 0.6 < 0.725"),
        ((0.1, 0.6, 0.9, 1.0), VerdictRule(), "infected", "it moves some at a quarter already"),
        ((0.0, 0.8, 0.9, 1.0), VerdictRule(), "infected", "no onset, but keeps 0.8"),
        ((0.0, 0.6, 0.9, 1.0), VerdictRule(onset_retention_max=0.0), "infected", "turned off"),
        ((0.0, 0.3, 0.9, 1.0), VerdictRule(onset_retention_max=0.0), "shortcut", "under 0.5"),
    ],
)
def test_a_shortcut_with_no_onset_must_keep_more_of_its_pull(dose, rule, verdict, why) -> None:
    # Natural grating sinks move nobody at a quarter strength, and some keep 0.5-0.7 of their
    # pull at half; planted global triggers fire at a quarter already, or keep more.
    probes = result([(4, 0.95, 0.95)])
    d = decide(probes, (), 10, rule, (_curve(PATCH, 4, dose),))
    assert d.verdict == verdict, why


@pytest.mark.parametrize(
    ("dose", "bar", "who"),
    [
        ((0.0, 0.6, 0.9, 1.0), "72%", "moves nobody at a quarter strength"),
        ((0.1, 0.3, 0.9, 1.0), "50%", "a planted trigger keeps"),
    ],
)
def test_a_shortcut_note_names_the_bar_its_retention_missed(dose, bar, who) -> None:
    # With no onset the bar is onset_retention_max; naming retention_max there read as a
    # contradiction ("keeps 60% of its pull; a planted trigger keeps 50% or more").
    d = decide(result([(4, 0.95, 0.95)]), (), 10, VerdictRule(), (_curve(PATCH, 4, dose),))
    assert d.verdict == "shortcut"
    assert f"keeps {bar} or more" in d.target_note and who in d.target_note
