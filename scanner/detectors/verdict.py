"""From hard-label evidence to a verdict, a score in [0, 1] and a suspected target label.

The verdict rests on trigger-like probes (`scanner.detectors.probes`), confirmed on samples the
search never saw:
- `universality`: the share of samples that one probe sends to a single label t from at least
  three quarters of the other classes (their lower quartile). A backdoor target draws all
  classes under its trigger; a natural "sink" label draws some. At or above `target_threshold`
  the model is infected and t is named.
- `consistency`: the largest median share that one probe sends each class to one other label,
  whichever it is. All-to-all backdoors move every class consistently, to different labels:
  at or above `spread_threshold` with no single target, the model is infected with
  "no single target", unless the classes move to one label: when every probe that passed
  this test sends a majority of the other classes to the same label (`concentration`, agreed
  by both sample sets) and that is the label universality ranks first, that label is named.
  An all-to-all backdoor (class i to i + 1) has concentration 1 / (C - 1); a probe that sends
  more than a third but not a majority of the other classes to one label is neither
  (`ambiguous`) and does not count.
Both count a probe only as far as the search samples and the disjoint confirmation samples
agree (the smaller of the two figures), and both read the subtle and visible probes only.
- `selectivity`, consulted only when neither test above fires: under the strong probes (a 10 px
  patch, a 0.35 grating), the best label's agreed universality minus the universality the
  runner-up label reaches in the search. Strong perturbations push fragile clean models into
  natural sinks, usually several (Shirt, Trouser and Bag on a Fashion-MNIST ResNet-8); a
  backdoor's shortcut draws one label. At or above `selectivity_threshold` the model is
  infected and that label is named.
Attribution (`natural`) can re-read a one-label decision as a natural shortcut, except for a
small patch (`stamp_like`), unless one probe spreads the classes over several labels (the
consistency test's all-to-all reading then decides: a sink does not explain a spread); the
search (`planted_findings`) can then make a decision that is not "infected" infected, except
with a change of every pixel (a tone curve) to a label the attribution read as a natural sink
(`natural_sinks`). Both are the same reading of locality: a few pixels that move every class
are planted; a global push to a label global probes already reach is the network's own sink
(docs/verdict.md, "Locality").
The published X-ray statistics (RE, ATS) and a plane-based label-share outlier test stay in the
report as evidence; on the zoo they did not separate backdoored from clean models
(docs/verdict.md).
Thresholds were set on the zoo (`bdscan bench xray`); `bdscan calibrate` raises them for a
user's own known-clean models.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scanner.detectors.attribution import DOSE_FRACTIONS, Attribution
from scanner.detectors.evidence import (
    Evidence,
    PlaneShareAnomaly,
    Reading,
    Trace,
    TraceAttribution,
)
from scanner.detectors.probes import MAGNITUDES, Probe, ProbeFinding, ProbeResult
from scanner.detectors.search import SearchFinding, SearchResult
from scanner.detectors.spaces import SPACES
from scanner.detectors.thresholds import THRESHOLDS, VerdictRule, value
from scanner.errors import UsageError
from scanner.report import PlaneResult

MAD_SCALE = 1.4826  # makes the MAD a consistent estimate of a normal's standard deviation

# "A majority of the other classes" go to one label (docs/verdict.md, "What the concentration
# bought").
CONCENTRATION_MIN = value("concentration_min")
# At most this share of the other classes may share a destination for the classes to read as
# spread, each to its own label; between it and CONCENTRATION_MIN a probe is `ambiguous` (docs/
# verdict.md, "Spread or sink").
SPREAD_CONCENTRATION_MAX = value("spread_concentration_max")


@dataclass(frozen=True)
class Decision:
    verdict: str
    score: float
    target_label: int | None
    target_note: str
    evidence: Evidence


@dataclass(frozen=True)
class VerdictTest:
    """One test a verdict can rest on: the figure it reads and the rule's threshold for it (the
    test fires at or above it)."""

    id: str
    threshold: str  # the VerdictRule field
    what: str


# The tests in the order `decide` asks them: the first of the probes' three that fires decides;
# attribution can then re-read a one-label decision as a natural shortcut, and the search can
# make a decision that is not "infected" infected.
VERDICT_TESTS: dict[str, VerdictTest] = {
    t.id: t
    for t in (
        VerdictTest(
            "universality",
            "target_threshold",
            "one subtle or visible probe sends three quarters of the other classes to one label",
        ),
        VerdictTest(
            "consistency",
            "spread_threshold",
            "one probe moves every class consistently to another label (all-to-all)",
        ),
        VerdictTest(
            "spread",
            "spread_consistency_min",
            "one subtle or visible probe moves every class consistently and spreads them over"
            " several labels in both sample sets (all-to-all)",
        ),
        VerdictTest(
            "selectivity",
            "selectivity_threshold",
            "strong probes draw one label far more than any other",
        ),
        VerdictTest(
            "search",
            "target_threshold",
            "the trigger search found a small change (within the rule's size caps) that sends"
            " three quarters of the other classes to one label",
        ),
    )
}


def _kind(name: str, threshold: float) -> str:
    shipped = THRESHOLDS[name]
    return shipped.kind if math.isclose(threshold, shipped.value) else "rule file"


def trace(
    decision: Decision,
    rule: VerdictRule,
    search: SearchResult | None,
    sinks: frozenset[int] = frozenset(),
) -> Trace:
    """The decision's trace (see `Trace`), from its evidence and the rule it was decided with
    (`sinks`: `natural_sinks`, which `planted_findings` sets aside for changes of every pixel)."""
    ev = decision.evidence

    def outcome(test: str, figure: float | None) -> Reading:
        name = VERDICT_TESTS[test].threshold
        threshold = float(getattr(rule, name))
        fired = figure is not None and figure >= threshold
        return Reading(test, figure, name, threshold, _kind(name, threshold), fired)

    tests = [
        outcome("universality", ev.universality),
        outcome("consistency", ev.consistency),
        outcome("spread", spread_figure(ev.findings)),
        outcome("selectivity", ev.selectivity),
    ]
    if search is not None:
        found = planted(search, rule, sinks, ev.universality_label)
        small = [f.universality for f in search.findings if _eligible(f, rule)]
        figure = found.universality if found is not None else max(small, default=None)
        tested = outcome("search", figure)
        # A small finding can reach the threshold and still not be planted-looking (its pull
        # fades at half strength): fired means "decides", as `planted` says.
        tests.append(replace(tested, fired=found is not None))
    label = ev.shortcut_label if ev.shortcut_label is not None else decision.target_label
    measured = [a for a in ev.attribution if a.label == label]
    attribution = None
    if measured and label is not None:
        attribution = TraceAttribution(
            label=label,
            retention=round(max(a.retention for a in measured), 4),  # as the report keeps it
            retention_max=rule.retention_max,
            threshold_kind=_kind("retention_max", rule.retention_max),
            natural=decision.verdict == "shortcut",
        )
    return Trace(ev.decided_by, tuple(tests), attribution)


def _scaled(value: float, threshold: float) -> float:
    """Piecewise-linear map of a statistic in [0, 1] to a score with 0.5 at the threshold."""
    value = min(max(value, 0.0), 1.0)
    if value < threshold:
        return 0.5 * value / threshold
    return 0.5 + 0.5 * (value - threshold) / max(1.0 - threshold, 1e-9)


def statistics(probes: ProbeResult, rule: VerdictRule) -> tuple[float, int | None, float]:
    """(universality, its label, consistency), each the best figure that search and
    confirmation agree on.

    When several labels pass the threshold (a backdoored model can have more than one
    trigger-like shortcut), the one more probes reached in the search is named: a real trigger
    fires from neighbouring positions and both strengths.
    """
    cons = max(
        (f.agreed_consistency for f in probes.findings if not f.probe.strong and not ambiguous(f)),
        default=0.0,
    )
    best = deciding_weak(probes, rule)
    if best is None:
        return 0.0, None, cons
    return best.agreed_universality, best.label, cons


def deciding_weak(probes: ProbeResult, rule: VerdictRule) -> ProbeFinding | None:
    """The subtle-or-visible finding universality rests on (see `statistics`)."""
    findings = [f for f in probes.findings if not f.probe.strong]
    if not findings:
        return None
    passing = [f for f in findings if f.agreed_universality >= rule.target_threshold]
    if passing:
        return max(passing, key=lambda f: (probes.per_label_hits[f.label], f.agreed_universality))
    return max(findings, key=lambda f: f.agreed_universality)


def best_strong(probes: ProbeResult) -> ProbeFinding | None:
    """The strong finding selectivity rests on."""
    strong = [f for f in probes.findings if f.probe.strong]
    return max(strong, key=lambda f: f.agreed_universality) if strong else None


def attribution_candidates(probes: ProbeResult, rule: VerdictRule) -> list[tuple[Probe, int]]:
    """(probe, label) of the findings a verdict can rest on: at most one subtle-or-visible
    finding, the finding a one-label consistency decision rests on when universality cannot
    decide (`concentrated_finding`), and one strong finding. The scan measures their
    attribution before deciding."""
    weak = deciding_weak(probes, rule)
    strong = best_strong(probes)
    found = [(f.probe, f.label) for f in (weak, strong) if f is not None]
    if weak is None or weak.agreed_universality < rule.target_threshold:
        moving = concentrated_finding(probes, rule)
        label = None if moving is None else moving.agreed_concentration[1]
        if moving is not None and label is not None:
            found.insert(1 if weak is not None else 0, (moving.probe, label))
    return list(dict.fromkeys(found))


def stamp_like(probe: Probe, rule: VerdictRule) -> bool:
    """A subtle or visible patch no larger than the search's largest deciding stamp
    (`mask_cost_max` of the pixels; the patch's side is a share of the image's, so its area
    is about that share squared)."""
    if probe.family != "patch" or probe.strong:
        return False
    side = probe.magnitude if probe.magnitude is not None else MAGNITUDES["patch"][probe.strength]
    return side * side <= rule.mask_cost_max


def natural(attribution: Attribution, rule: VerdictRule) -> bool:
    """True when the shortcut reads as a natural sink: its pull fades faster than the
    perturbation (and, when the rule asks, most of its family reaches the label; a report
    without breadth then is never called natural). A shortcut that moves nobody at a quarter
    strength must keep `onset_retention_max` of its pull at half strength to read as planted.

    Never for a small patch (`stamp_like`): an opaque stamp at part opacity is another pattern,
    not a weaker one (a planted 3x3 patch keeps nothing at half opacity), so, as for the search's
    stamps, its size is its dose-response: a natural sink needs more of the image."""
    if stamp_like(attribution.probe, rule):
        return False
    if rule.breadth_min > 0 and (
        attribution.breadth is None or attribution.breadth < rule.breadth_min
    ):
        return False
    return attribution.retention < retention_needed(attribution, rule)


def no_onset(attribution: Attribution) -> bool:
    """Nothing moves at a quarter strength, as for every natural sink measured."""
    return attribution.at(DOSE_FRACTIONS[0]) == 0 and attribution.at(1.0) > 0


def retention_needed(attribution: Attribution, rule: VerdictRule) -> float:
    """The retention at half strength a shortcut must keep to read as planted: `retention_max`,
    or `onset_retention_max` when it moves nobody at a quarter strength (the larger of the two)."""
    if no_onset(attribution):
        return max(rule.retention_max, rule.onset_retention_max)
    return rule.retention_max


def _attribution_for(
    attributions: tuple[Attribution, ...],
    finding: ProbeFinding | None,
    label: int | None,
    rule: VerdictRule,
) -> Attribution | None:
    if finding is None or label is None:
        return None
    own = next((a for a in attributions if a.probe == finding.probe and a.label == label), None)
    if own is None:
        return None
    # The most planted-looking curve among the probes measured for this label: a probe that
    # matches the trigger better shows what the deciding probe, a rough match, cannot.
    same = [a for a in attributions if a.label == label]
    return max(same, key=lambda a: (stamp_like(a.probe, rule), a.retention))


def cost_max(rule: VerdictRule, space: str) -> float:
    """The largest change of `space` that can decide "infected"."""
    return {
        "mask": rule.mask_cost_max,
        "curve": rule.curve_cost_max,
        "transform": rule.transform_cost_max,
        "grating": rule.grating_cost_max,
    }.get(space, 0.0)


def _small(finding: SearchFinding, rule: VerdictRule) -> bool:
    """Within the rule's size cap for its space (a space with cap 0 never decides)."""
    cap = cost_max(rule, finding.point.space)
    return cap > 0 and finding.cost <= cap


def fires_early(finding: SearchFinding, rule: VerdictRule) -> bool:
    """A geometric transform that at a quarter of its strength already reaches
    `transform_onset_min` universality. A network trained to answer a warp answers a fraction
    of the search's nearest transform (WaNet nets); a natural rotation sink needs the whole
    turn. Transforms only: a stamp at part opacity is another pattern, and a tone curve is
    graded at half strength instead."""
    if finding.point.space != "transform" or rule.transform_onset_min <= 0:
        return False
    return finding.at(DOSE_FRACTIONS[0]) >= rule.transform_onset_min


def _size(finding: SearchFinding, rule: VerdictRule) -> float:
    """The finding's change as a share of its space's cap, so that spaces compare. Smaller
    first is the search's own order (a trigger needs little, a natural sink much): most
    universal first named a larger "Bag" stamp over a scattered-pixel trigger's own
    (docs/trigger-search.md, "Which finding names the target")."""
    cap = cost_max(rule, finding.point.space)
    return finding.cost / cap if cap > 0 else float("inf")


def tiny_stamp(finding: SearchFinding, rule: VerdictRule) -> bool:
    """A stamp no larger than `stamp_overrule_max` of the pixels: smaller than every natural
    stamp sink measured, so it names the target over the probes' own label (`overrules`)."""
    return finding.point.space == "mask" and 0.0 < finding.cost <= rule.stamp_overrule_max


def _eligible(finding: SearchFinding, rule: VerdictRule) -> bool:
    """A change the rule lets decide by its kind: small, or a transform that fires early."""
    return _small(finding, rule) or fires_early(finding, rule)


def planted_findings(
    search: SearchResult | None,
    rule: VerdictRule,
    sinks: frozenset[int] = frozenset(),
    prefer: int | None = None,
) -> list[SearchFinding]:
    """The search findings that read as planted triggers: a transform that fires early
    (`fires_early`: no natural sink measured does), or a universal small change that, where the
    space grades it, keeps its pull at half strength. Early transforms first, then those to
    `prefer` (the label the probes' universality test named: two searches that agree), then
    the smallest for its space (`_size`), then the most universal; a tiny stamp (`tiny_stamp`)
    comes before `prefer`: no natural sink is that small.

    `sinks`: labels the probes' attribution read as natural sinks (`natural_sinks`). A graded
    change (a tone curve: a push on every pixel's value) to one of them is the same kind of push
    as the probes' blends and gratings, so it is read as the same sink, not as a planted
    trigger. A stamp (pixels replaced) or a small transform (pixels moved) still counts: a
    network trained to answer a rotation can answer the probes' global pushes slowly too, as a
    sink does (the rotation backdoors of the eighth fresh set). So does a grating under its cap,
    though it is a global push too: the probes' attribution reads a planted sine's label as a
    natural sink (it fades at half amplitude, as SIG does), so the set-aside would drop exactly
    the planted gratings; the amplitude cap is its test (docs/trigger-search.md, "Gratings")."""
    if search is None:
        return []
    passing = [
        f
        for f in search.findings
        if fires_early(f, rule)
        or (
            f.universality >= rule.target_threshold
            and _small(f, rule)
            and (f.retention >= rule.retention_max or not SPACES[f.point.space].graded)
            and (f.label not in sinks or not SPACES[f.point.space].graded)
        )
    ]
    return sorted(
        passing,
        key=lambda f: (
            not fires_early(f, rule),
            not tiny_stamp(f, rule),
            f.label != prefer,
            _size(f, rule),
            -f.universality,
        ),
    )


def planted(
    search: SearchResult | None,
    rule: VerdictRule,
    sinks: frozenset[int] = frozenset(),
    prefer: int | None = None,
) -> SearchFinding | None:
    """The first of `planted_findings`, or None."""
    return next(iter(planted_findings(search, rule, sinks, prefer)), None)


def natural_sinks(attributions: tuple[Attribution, ...], rule: VerdictRule) -> frozenset[int]:
    """The labels whose every measured probe reads as a natural sink (`natural`), whatever the
    probes decided."""
    labels = {a.label for a in attributions}
    return frozenset(
        t
        for t in labels
        if natural(
            max(
                (a for a in attributions if a.label == t),
                key=lambda a: (stamp_like(a.probe, rule), a.retention),
            ),
            rule,
        )
    )


def overrules(found: SearchFinding, decision: Decision, rule: VerdictRule) -> bool:
    """Whether a planted search finding names the target over the probes' "infected" decision
    (which it never turns to another verdict, only to its own label):
    - a transform that fires early, over any other label or over "no single target" (no
      all-to-all net of the zoo gave one; an all-to-one WaNet read as a spread did);
    - a tiny stamp (`tiny_stamp`), likewise: no natural sink or all-to-all net gave one;
    - any planted finding over the strong probes' selectivity: both read a label past the
      others, and the search's change is the smaller (under its space's cap, where the strong
      probes are a patch of 13% of the pixels and a 0.35 grating), as the smaller change
      names the target among the search's own findings (`_size`).
    docs/verdict.md part 7."""
    if found.label == decision.target_label:
        return False
    return (
        fires_early(found, rule)
        or tiny_stamp(found, rule)
        or decision.evidence.decided_by == "selectivity"
    )


def _with_search(
    decision: Decision,
    search: SearchResult | None,
    rule: VerdictRule,
    sinks: frozenset[int] = frozenset(),
) -> Decision:
    """A probe decision that is not "infected" becomes "infected" when the search found a
    planted-looking trigger, and an "infected" one takes the label of a transform that fires
    early (the one kind of finding no clean model or natural sink produced); the search's
    evidence is kept either way."""
    if search is None:
        return decision
    evidence = replace(decision.evidence, search=search)
    found = planted(search, rule, sinks, decision.evidence.universality_label)
    if found is None:
        return replace(decision, evidence=evidence)
    early = fires_early(found, rule)
    if decision.verdict == "infected" and not overrules(found, decision, rule):
        return replace(decision, evidence=evidence)
    space = found.point.space
    if space == "mask":
        what = (
            f"a stamp of {len(found.point.params['pixels'])} pixels ({found.cost:.1%} of the image)"
        )
    elif space == "transform":
        what = _transform_words(found.point.params)
    elif space == "grating":
        what = grating_words(found.point.params)
    else:
        what = f"a tone curve {found.point.params}"
    if early:
        quarter = found.at(DOSE_FRACTIONS[0])
        note = (
            f"the trigger search found {what} that, at a quarter of its strength, already sends"
            f" {quarter:.0%} or more of three quarters of the other classes to label"
            f" {found.label} (threshold {rule.transform_onset_min:.0%}; {found.universality:.0%}"
            " at full strength)"
        )
        figure = _scaled(quarter, rule.transform_onset_min)
    else:
        note = (
            f"the trigger search found {what} that sends {found.universality:.0%} or more of"
            f" three quarters of the other classes to label {found.label} (threshold"
            f" {rule.target_threshold:.0%})"
        )
        figure = _scaled(found.universality, rule.target_threshold)
    if SPACES[space].graded:
        note += f" and keeps {found.retention:.0%} of that at half strength"
    if decision.verdict != "clean":
        note += f"; the probes alone said: {decision.target_note}"
    evidence = replace(evidence, decided_by=f"search:{space}", shortcut_label=None)
    score = round(max(decision.score, figure), 6)
    return Decision("infected", score, found.label, note, evidence)


def grating_words(params: dict[str, Any]) -> str:
    """A search grating as a reader says it: "a grating of 6 cycles along the columns, phase
    0.79 rad, amplitude 0.22"."""
    angle = float(params["angle"]) % 180
    along = {0.0: "along the columns", 90.0: "along the rows"}.get(angle, f"at {angle:g} degrees")
    return (
        f"a grating of {float(params['freq']):g} cycles {along}, phase"
        f" {float(params['phase']):.2f} rad, amplitude {float(params['amp']):.3g}"
    )


def _transform_words(params: dict[str, Any]) -> str:
    """A search transform as a reader says it: "a rotation by -15 degrees", "a 1.33x zoom"."""
    parts = []
    angle = float(params.get("angle", 0.0))
    scale = float(params.get("scale", 1.0))
    flip = str(params.get("flip", ""))
    if angle:
        parts.append(f"a rotation by {angle:g} degrees")
    if scale != 1.0:
        parts.append(f"a {scale:g}x zoom")
    if flip:
        parts.append("a left-right flip" if flip == "h" else "an up-down flip")
    return " and ".join(parts) or "the identity transform"


def selectivity(probes: ProbeResult) -> tuple[float, int | None]:
    """(selectivity, its label) under the strong probes: the best label's agreed universality
    minus the search universality of the runner-up label, floored at 0.

    The runner-up's figure is its best over every strong probe in the search: how far another
    label gets under the same kind of push."""
    strong = [f for f in probes.findings if f.probe.strong]
    if not strong:
        return 0.0, None
    best = max(strong, key=lambda f: f.agreed_universality)
    runner_up = max(
        (v for t, v in enumerate(probes.per_label_search_strong) if t != best.label),
        default=0.0,
    )
    return max(0.0, best.agreed_universality - runner_up), best.label


def ambiguous(finding: ProbeFinding) -> bool:
    """Classes that move, but neither to one label in both sample sets (agreed concentration
    >= CONCENTRATION_MIN) nor each to its own in both (each set's concentration at most
    SPREAD_CONCENTRATION_MAX): a probe that sends four of nine classes to one label in one set
    and five in the other, or four of nine in both, is neither a one-label push nor an
    all-to-all spread, and the consistency test does not count it. Findings without a measured
    destination (reports from before concentration existed) count as before."""
    if finding.concentration_label is None or finding.search_concentration_label is None:
        return False
    if finding.agreed_concentration[0] >= CONCENTRATION_MIN:
        return False
    return max(finding.concentration, finding.search_concentration) > SPREAD_CONCENTRATION_MAX


def consistent_findings(probes: ProbeResult, rule: VerdictRule) -> list[ProbeFinding]:
    """The subtle and visible findings that pass the consistency test (`ambiguous` ones
    excepted), or the spread test (`spreads`, at `spread_consistency_min`)."""
    return [
        f
        for f in probes.findings
        if not f.probe.strong
        and not ambiguous(f)
        and (
            f.agreed_consistency >= rule.spread_threshold
            or (spreads(f) and f.agreed_consistency >= rule.spread_consistency_min)
        )
    ]


def spreads(finding: ProbeFinding) -> bool:
    """Both sample sets measured where each class goes, and in neither do more than
    SPREAD_CONCENTRATION_MAX of the other classes share one destination (an all-to-all
    trigger: 1/9 on 10 classes). Findings without a measured destination (reports from before
    concentration existed, or nothing moved) never spread."""
    return (
        finding.concentration_label is not None
        and finding.search_concentration_label is not None
        and max(finding.concentration, finding.search_concentration) <= SPREAD_CONCENTRATION_MAX
    )


def spread_figure(findings: tuple[ProbeFinding, ...]) -> float | None:
    """The spread test's figure: the agreed consistency of the most consistent subtle or
    visible finding that `spreads` (None: none does)."""
    return max(
        (f.agreed_consistency for f in findings if not f.probe.strong and spreads(f)),
        default=None,
    )


def concentrated_finding(probes: ProbeResult, rule: VerdictRule) -> ProbeFinding | None:
    """The finding a one-label consistency decision rests on: when every finding that passes
    the consistency test sends a majority of the other classes to one label (agreed
    concentration >= CONCENTRATION_MIN), the most consistent of them; None when none passes
    or any of them falls short (it spreads the classes over several labels, as an all-to-all
    trigger does, or its report predates the concentration).

    Every one, because an all-to-all model can also hold a natural sink that one patch reaches
    (a 7 px checkerboard sent 8 of 9 classes of `cnn_badnets_a2a` to "Coat"), while its
    trigger's probe spreads the classes over every label."""
    passing = consistent_findings(probes, rule)
    if not passing or min(f.agreed_concentration[0] for f in passing) < CONCENTRATION_MIN:
        return None
    return max(passing, key=lambda f: (f.agreed_consistency, f.agreed_concentration[0]))


def spreading(probes: ProbeResult, rule: VerdictRule) -> ProbeFinding | None:
    """The most consistent finding that passes the consistency or the spread test and
    `spreads` the classes."""
    spread = [f for f in consistent_findings(probes, rule) if spreads(f)]
    return max(spread, key=lambda f: f.agreed_consistency, default=None)


def concentrated_label(probes: ProbeResult, rule: VerdictRule) -> tuple[float, int | None]:
    """(concentration, label) over the findings that pass the consistency test: the smallest
    agreed concentration among them, and the label the classes move to when every one of them
    concentrates (`concentrated_finding`), else None ("no single target").

    The label need not be the one universality ranks first: classes that move together to one
    label are a one-label push, whichever label the lower quartile favours (a clean MobileNet's
    blends sent 7 of 9 classes to one label while a grating ranked another first), and reading
    it as "no single target" called it all-to-all, where attribution is never asked."""
    passing = consistent_findings(probes, rule)
    if not passing:
        return 0.0, None
    low = min(f.agreed_concentration[0] for f in passing)
    found = concentrated_finding(probes, rule)
    return low, None if found is None else found.agreed_concentration[1]


def _shortcut(
    infected: Decision, attribution: Attribution, rule: VerdictRule, how: str
) -> Decision:
    """An infected decision re-read as a natural shortcut: the label moves to the evidence, and
    the score (the likelihood of a planted trigger) falls below 0.5 in proportion to how far
    the retention is from a planted trigger's: 0.5 * score * retention / retention_max."""
    label = attribution.label
    dose = ", ".join(f"{u:.0%}" for _, u in attribution.dose)
    # The bar the retention missed: a shortcut with no onset is held to the higher one, and a
    # note naming the lower would read as a contradiction (65% kept, "planted keeps 50%").
    needed = retention_needed(attribution, rule)
    which = (
        "a planted trigger that moves nobody at a quarter strength"
        if no_onset(attribution) and needed > rule.retention_max
        else "a planted trigger"
    )
    note = (
        f"universal shortcut to label {label} ({how}), not attributed to a planted trigger:"
        f" at half strength it keeps {attribution.retention:.0%} of its pull ({which} keeps"
        f" {needed:.0%} or more; universality at 1/4, 1/2, 3/4 and full strength: {dose})"
    )
    evidence = replace(
        infected.evidence,
        shortcut_label=label,
        decided_by=f"{infected.evidence.decided_by}+attribution",
        infected_note=infected.target_note,
    )
    scale = min(attribution.retention / max(rule.retention_max, 1e-9), 1.0)
    score = round(min(0.5 * infected.score * scale, 0.499999), 6)
    return Decision("shortcut", score, None, note, evidence)


def _no_single_target(
    score: float,
    spread: ProbeFinding | None,
    rule: VerdictRule,
    evidence: Evidence,
    conc: float,
) -> Decision:
    """The consistency or the spread test's all-to-all reading: every class moves, to different
    labels. `spread`: the finding that spreads them (None: the consistency test's probes do not
    agree on one label, but none spreads in both sample sets)."""
    if spread is None:
        note = (
            f"no single target: one probe sends a median {evidence.consistency:.0%} of each"
            f" class to one other label, but no label draws {rule.target_threshold:.0%} of all"
            " classes (all-to-all backdoor?)"
        )
        by = "consistency"
    else:
        note = (
            f"no single target: one {spread.probe.family} probe sends a median"
            f" {spread.agreed_consistency:.0%} of each class to one other label, and the"
            " classes to different labels in both sample sets (all-to-all backdoor?)"
        )
        by = "consistency" if spread.agreed_consistency >= rule.spread_threshold else "spread"
    evidence = replace(evidence, concentration=round(conc, 4), decided_by=by)
    return Decision("infected", score, None, note, evidence)


def decide(
    probes: ProbeResult,
    planes: tuple[PlaneResult, ...],
    num_classes: int,
    rule: VerdictRule,
    attributions: tuple[Attribution, ...] = (),
    search: SearchResult | None = None,
) -> Decision:
    """The verdict, from the probes (and their attribution), then the trigger search's
    findings (`_with_search`); its trace in `evidence.trace`."""
    sinks = natural_sinks(attributions, rule)
    decision = _with_search(
        _decide_probes(probes, planes, num_classes, rule, attributions), search, rule, sinks
    )
    evidence = replace(decision.evidence, trace=trace(decision, rule, search, sinks))
    return replace(decision, evidence=evidence)


def _decide_probes(
    probes: ProbeResult,
    planes: tuple[PlaneResult, ...],
    num_classes: int,
    rule: VerdictRule,
    attributions: tuple[Attribution, ...] = (),
) -> Decision:
    """The probes' verdict. `attributions` (scanner.detectors.attribution, measured on
    `attribution_candidates`) can turn a one-label "infected" into "shortcut"; without them
    (a re-decided old report) the verdict is two-valued as before."""
    uni, label, cons = statistics(probes, rule)
    sel, sel_label = selectivity(probes)
    s_target = _scaled(uni, rule.target_threshold)
    s_spread = _scaled(cons, rule.spread_threshold)
    s_sel = _scaled(sel, rule.selectivity_threshold)
    spread = spreading(probes, rule)
    # The spread test counts towards the score only where it fires: under its threshold it
    # would rank clean models (whose spreading probes reach 0.75) by a figure that decides
    # nothing for them.
    s_all = (
        0.0 if spread is None else _scaled(spread.agreed_consistency, rule.spread_consistency_min)
    )
    score = round(max(s_target, s_spread, s_sel, s_all), 6)
    best = deciding_weak(probes, rule)
    evidence = Evidence(
        universality=round(uni, 4),
        universality_label=label,
        consistency=round(cons, 4),
        selectivity=round(sel, 4),
        selectivity_label=sel_label,
        rule=rule,
        probes=probes.probes,
        probe_queries=probes.queries,
        search_samples=probes.search_samples,
        confirm_samples=probes.confirm_samples,
        findings=probes.findings,
        search_universality_per_label=tuple(round(v, 4) for v in probes.per_label_search),
        search_hits_per_label=tuple(probes.per_label_hits),
        search_universality_per_label_strong=tuple(
            round(v, 4) for v in probes.per_label_search_strong
        ),
        search_breadth_per_level={
            k: tuple(round(v, 4) for v in vs) for k, vs in probes.breadth.items()
        },
        other_candidates=tuple(
            sorted(
                {
                    f.label
                    for f in probes.findings
                    if f.agreed_universality >= rule.target_threshold and not f.probe.strong
                }
                - {label}
            )
        ),
        plane_share_anomaly=plane_share_anomaly(planes, num_classes),
        attribution=attributions,
        decided_by=None,
    )
    if uni >= rule.target_threshold and label is not None:
        how = f"{best.probe.family} probe" if best else "a probe"
        note = (
            f"one {how} sends {uni:.0%} or more of three quarters of the other classes to"
            f" label {label} (threshold {rule.target_threshold:.0%})"
        )
        evidence = replace(evidence, decided_by="universality")
        decision = Decision("infected", score, label, note, evidence)
        attr = _attribution_for(attributions, best, label, rule)
        if attr is not None and natural(attr, rule):
            # A natural sink to one label does not explain classes moving consistently to
            # different labels: an all-to-all spread still decides.
            if spread is not None:
                conc, _ = concentrated_label(probes, rule)
                spread_decision = _no_single_target(score, spread, rule, evidence, conc)
                also = (
                    f"; label {label} is also a universal shortcut, not attributed to a planted"
                    f" trigger (it keeps {attr.retention:.0%} of its pull at half strength)"
                )
                return replace(spread_decision, target_note=spread_decision.target_note + also)
            return _shortcut(decision, attr, rule, how)
        if spread is not None:
            # A planted-looking label beside a spread: all-to-all nets of sets 22, 26 and 27
            # were named after a patch that sends every class to one label (four scans, spread
            # 0.90-1.0), while no clean or all-to-one scan of sets 13-27 had a spread at the
            # spread test's threshold (docs/verdict.md part 11). The spread decides; the label
            # is named in the note.
            conc, _ = concentrated_label(probes, rule)
            spread_decision = _no_single_target(score, spread, rule, evidence, conc)
            also = (
                f"; label {label} also draws {uni:.0%} or more of three quarters of the other"
                " classes under one probe (a sink the all-to-all training left, or a second"
                " trigger)"
            )
            return replace(spread_decision, target_note=spread_decision.target_note + also)
        return decision
    if cons >= rule.spread_threshold or spread is not None:
        conc, conc_label = concentrated_label(probes, rule)
        evidence = replace(evidence, concentration=round(conc, 4), decided_by="consistency")
        if conc_label is not None:
            note = (
                f"classes move together to one label: under every probe that moves a median"
                f" {rule.spread_threshold:.0%} or more of each class, {conc:.0%} or more of the"
                f" other classes go mostly to one label, label {conc_label} under the most"
                f" consistent, though no probe sends {rule.target_threshold:.0%} of three"
                " quarters of them there"
            )
            decision = Decision("infected", score, conc_label, note, evidence)
            # The moving probe's own curve; a report from before it was measured has only the
            # universality probe's, which counts when it names the same label.
            attr = _attribution_for(
                attributions, concentrated_finding(probes, rule), conc_label, rule
            ) or _attribution_for(attributions, best, conc_label, rule)
            if attr is not None and natural(attr, rule):
                return _shortcut(decision, attr, rule, "classes moving together")
            return decision
        assert spread is not None or cons >= rule.spread_threshold
        return _no_single_target(score, spread, rule, evidence, conc)
    if sel >= rule.selectivity_threshold and sel_label is not None:
        strong = max(
            (f for f in probes.findings if f.probe.strong and f.label == sel_label),
            key=lambda f: f.agreed_universality,
        )
        note = (
            f"under strong probes only: one {strong.probe.family} probe sends"
            f" {strong.agreed_universality:.0%} or more of three quarters of the other classes"
            f" to label {sel_label}, {100 * sel:.0f} points more than any other label reaches"
            f" (selectivity threshold {100 * rule.selectivity_threshold:.0f} points)"
        )
        evidence = replace(evidence, decided_by="selectivity")
        decision = Decision("infected", score, sel_label, note, evidence)
        attr = _attribution_for(attributions, strong, sel_label, rule)
        if attr is not None and natural(attr, rule):
            return _shortcut(decision, attr, rule, f"strong {strong.probe.family} probe")
        return decision
    note = (
        f"no probe moves the classes together: best {uni:.0%} to label {label}, consistency"
        f" {cons:.0%}, strong-probe selectivity {sel:.0%} (thresholds"
        f" {rule.target_threshold:.0%} / {rule.spread_threshold:.0%} /"
        f" {rule.selectivity_threshold:.0%})"
    )
    return Decision("clean", score, None, note, evidence)


def off_anchor_shares(
    planes: tuple[PlaneResult, ...], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's mean area share over the planes where it is none of the anchors' labels,
    and how many such planes there were."""
    total = np.zeros(num_classes)
    seen = np.zeros(num_classes, dtype=np.int64)
    for p in planes:
        counts = np.asarray(p.label_counts[:num_classes], dtype=np.float64)
        share = counts / max(sum(p.label_counts), 1)
        off = np.ones(num_classes, dtype=bool)
        off[[lab for lab in p.anchor_labels if lab < num_classes]] = False
        total[off] += share[off]
        seen[off] += 1
    mean = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
    return mean, seen


def anomaly_index(values: np.ndarray) -> np.ndarray:
    """Robust z-scores (Neural Cleanse's anomaly index), NaN where a value is missing."""
    finite = values[np.isfinite(values)]
    if len(finite) < 3:
        return np.full_like(values, np.nan)
    med = np.median(finite)
    # A floor on the spread: with near-identical shares the MAD collapses to 0.
    mad = max(MAD_SCALE * np.median(np.abs(finite - med)), 0.01)
    return (values - med) / mad


def plane_share_anomaly(planes: tuple[PlaneResult, ...], num_classes: int) -> PlaneShareAnomaly:
    """The plane-based statistic we tried first: which label takes an outlying share of the
    planes drawn through none of its samples. Kept as evidence, not used by the verdict."""
    shares, seen = off_anchor_shares(planes, num_classes)
    anomaly = anomaly_index(np.where(seen >= 3, shares, np.nan))
    if not np.isfinite(anomaly).any():
        return PlaneShareAnomaly(None, None)
    top = int(np.nanargmax(anomaly))
    return PlaneShareAnomaly(top, round(float(anomaly[top]), 4), round(float(shares[top]), 4))


def calibrate(
    clean: list[tuple[float, ...]], *, fpr: float, base: VerdictRule, margin: float = 0.05
) -> VerdictRule:
    """Thresholds that flag at most `fpr` of these known-clean models ((universality,
    consistency, selectivity, spread) from their reports, the spread being `spread_figure` or 0;
    a missing selectivity or spread counts as 0), `margin` above the highest clean figure that
    must pass. Never lowered below `base`: a few clean models cannot show a laxer rule is
    safe."""
    if not clean:
        raise ValueError("expected at least one known-clean report")
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"expected fpr in [0, 1), got {fpr}")
    allowed = math.floor(fpr * len(clean))

    def needed(values: list[float]) -> float:
        s = sorted(values)
        return min(s[len(s) - allowed - 1] + margin, 1.0)

    return VerdictRule(
        target_threshold=round(max(base.target_threshold, needed([s[0] for s in clean])), 4),
        spread_threshold=round(max(base.spread_threshold, needed([s[1] for s in clean])), 4),
        selectivity_threshold=round(
            max(
                base.selectivity_threshold,
                needed([s[2] if len(s) > 2 else 0.0 for s in clean]),
            ),
            4,
        ),
        spread_consistency_min=round(
            max(
                base.spread_consistency_min,
                needed([s[3] if len(s) > 3 else 0.0 for s in clean]),
            ),
            4,
        ),
    )


def load_rule(path: str) -> VerdictRule:
    """A rule file written by `bdscan calibrate` (JSON)."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
        rule = d.get("rule", d)
        unknown = set(rule) - set(VerdictRule.__dataclass_fields__)
        if unknown:
            raise UsageError(f"{p}: unknown rule keys {sorted(unknown)}")
        return VerdictRule(**{k: float(v) for k, v in rule.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{p}: not a bdscan rule file ({e})") from None
