"""The training data's attribution of a scan's verdict (`bdscan scan --train-data`).

The hard-label scan cannot tell a planted SIG grating from a natural grating sink: both send
most classes to one label at the same strengths, and the verdict reads both as a `shortcut`
(issue 21). The training set can: a planted trigger's poison sits in its target class's training
samples, and no natural sink's does (`scanner.detectors.datacheck`). So, given the training data
(or a part of it) beside the scan's clean DATA:

- the check names no class: the verdict stands (the data hold no poison it can see);
- it names the class the scan called `infected`: the verdict stands, confirmed;
- it names class c, and the model answers c universally (the scan's findings reach c at a
  prior's grade, a median >= half the other classes, or c's stamp or pattern in the data
  does): the verdict becomes `infected`, target c, whatever it was (`shortcut`, `clean`, or
  `infected` with another label, which is overruled). This is evidence of a planted trigger
  in the product's sense: the poison is in the data and the model answers it;
- it names c and the model does not answer c: the verdict stands, and the report says so
  (a warp or input-aware trigger moves no mean image; an unlearned poison does nothing).

The rule is the one the repair aims by (docs/remediation.md section 47), unchanged; its
constants are `DataCheckConfig`'s. Queries: none unless c is not reached by a finding; then at
most `DataCheckConfig.pattern_queries()`, and none beyond what a budget leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from scanner.detectors.datacheck import DataCheck, DataCheckConfig, read_patterns, run_check
from scanner.detectors.evidence import Evidence, Reading, Trace
from scanner.detectors.thresholds import THRESHOLDS, value
from scanner.detectors.verdict import Decision

# The share of the other classes a finding must send to a label, as a median over its samples
# (or the named class's stamp or pattern must), for the scan to count the label as answered:
# the grade `scanner.remediate.prior` takes a finding as a prior at, so that the scan and the
# repair read the same labels.
REACH_MIN = value("data_reach_min")
DECIDED_BY = "data-check"


def reach_by_label(evidence: Evidence, min_universality: float = REACH_MIN) -> dict[int, float]:
    """Label -> the largest universality of the findings that reach it at `min_universality`:
    a probe other than a strong one (a strong probe is a large change that moves any net), or a
    search finding."""
    reach: dict[int, float] = {}
    found = [(f.label, f.universality) for f in evidence.findings if not f.probe.strong]
    if evidence.search is not None:
        found += [(f.label, f.universality) for f in evidence.search.findings]
    for label, u in found:
        if u >= min_universality:
            reach[int(label)] = max(reach.get(int(label), 0.0), float(u))
    return reach


def answered(check: DataCheck) -> tuple[float, str]:
    """(share, what): the largest share of other classes' samples that the named class's stamp,
    pattern or sine in the training data sent to it where one fired, and what it was; (0.0,
    "") where none fired or none was read."""
    fired: list[tuple[float, str]] = []
    if check.stamp is not None and check.stamp_rate is not None:
        fired.append(
            (check.stamp_rate, f"its stamp in the training data ({check.stamp_pixels} pixels)")
        )
    for amp, rate, what in (
        (check.pattern_amp, check.pattern_rate, "its pattern in the training data"),
        (check.sine_amp, check.sine_rate, "the plane sine of its pattern in the training data"),
    ):
        if amp is not None and rate is not None:
            fired.append((rate, f"{what} at amplitude {amp}"))
    return max(fired, default=(0.0, ""))


def attribute(decision: Decision, check: DataCheck, reach: dict[int, float]) -> Decision:
    """The decision with the check applied (the module docstring's four cases); the check, with
    `reached`, `overruled` and `attributed` set, goes into the evidence either way."""
    label = check.label
    check = replace(check, reached=tuple(sorted(reach)))
    keep = replace(decision, evidence=replace(decision.evidence, data_check=check))
    if label is None or decision.target_label == label:
        if label is not None:
            keep = replace(
                keep,
                target_note=f"{decision.target_note}; the training data names the same class"
                f" ({_z_words(check)})",
            )
        return keep
    if decision.verdict == "infected" and decision.target_label is None:
        return keep  # all-to-all: no single target to overrule
    by_findings, (by_data, what) = reach.get(label, 0.0), answered(check)
    figure = max(by_findings, by_data)
    if figure < REACH_MIN:
        return replace(
            keep,
            target_note=f"{decision.target_note}; the training data names class {label}"
            f" ({_z_words(check)}), which the model does not answer universally (the findings"
            f" {by_findings:.0%}, its stamp or pattern {_best_read(check):.0%}): not attributed",
        )
    how = (
        f"the scan's findings send {by_findings:.0%} of the other classes there"
        if by_findings >= by_data
        else f"{what} sends {by_data:.0%} of the other classes there"
    )
    overruled = decision.target_label if decision.verdict == "infected" else None
    before = decision.verdict + (
        f", target {decision.target_label}" if decision.target_label is not None else ""
    )
    note = (
        f"the training data names class {label} ({_z_words(check)}) and the model answers it:"
        f" {how}; a planted trigger (the scan alone said {before}: {decision.target_note})"
    )
    check = replace(check, overruled=overruled, attributed=True)
    evidence = decision.evidence
    trace = evidence.trace
    if trace is not None:
        kind = THRESHOLDS["data_reach_min"].kind
        reading = Reading(DECIDED_BY, round(figure, 4), "data_reach_min", REACH_MIN, kind, True)
        trace = Trace(DECIDED_BY, (*trace.tests, reading), trace.attribution)
    evidence = replace(
        evidence,
        decided_by=DECIDED_BY,
        shortcut_label=None,
        infected_note=decision.target_note,
        data_check=check,
        trace=trace,
    )
    # The likelihood of a planted trigger: at least 0.5 (the bar), more as the model answers
    # more of the other classes; never below what the scan alone gave an `infected` verdict.
    score = max(figure, decision.score if decision.verdict == "infected" else 0.0)
    return Decision("infected", round(min(score, 1.0), 6), label, note, evidence)


def check_scan(
    decision: Decision,
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: DataCheckConfig,
    labels_of: Callable[[np.ndarray], np.ndarray],
    queries_left: int | None,
) -> Decision:
    """Run the check on the scan's data (float NHWC in [0, 1]) and attribute the decision. The
    named class's stamp and pattern are read on the model only where they could decide (a class
    the findings do not reach, not the scan's own target) and the budget (`queries_left`; None:
    no budget) holds their worst case."""
    check = run_check(train, clean, num_classes, config)
    reach = reach_by_label(decision.evidence)
    label = check.label
    wanted = (
        label is not None
        and label != decision.target_label
        and label not in reach
        and not (decision.verdict == "infected" and decision.target_label is None)
    )
    if wanted:
        cost = config.pattern_queries()
        if queries_left is None or cost <= queries_left:
            check, _ = read_patterns(check, train, clean, config, labels_of)
        else:
            check = replace(
                check,
                note=f"{check.note}; its stamp and pattern not read ({cost} queries,"
                f" {queries_left} left)",
            )
    return attribute(decision, check, reach)


def _z_words(check: DataCheck) -> str:
    assert check.label is not None
    z = check.z_pixel if check.by == "pixel" else check.z_frequency
    where = "a pixel" if check.by == "pixel" else "a spatial frequency"
    return f"z {z[check.label]:.1f} at {where}"


def _best_read(check: DataCheck) -> float:
    """The largest share any stamp, pattern or sine read sent to the class, fired or not."""
    rates = (check.stamp_rate, check.pattern_rate, check.sine_rate)
    return max((r for r in rates if r is not None), default=0.0)
