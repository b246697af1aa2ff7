"""Every constant the verdict compares a figure against, in one place, each marked fitted (set by
`bdscan bench xray` on the zoo) or hand-set (chosen before or apart from any fit), with what it
means; and `VerdictRule`, the set of them a verdict is decided with, its defaults from here. A
rule file (`bdscan calibrate`, `--rule`) can change the rule's, and the report's trace
(`xray.evidence.trace`) says which value decided and whether it was the shipped one.
docs/verdict.md has the measurements behind each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["fitted", "hand-set"]


@dataclass(frozen=True)
class Threshold:
    name: str
    value: float
    kind: Kind
    what: str


THRESHOLDS: dict[str, Threshold] = {
    t.name: t
    for t in (
        # Fitted on the 64-model zoo ("Rule fitted on all 64 models": the threshold that
        # maximises TPR - FPR, midway between neighbouring values); docs/results.md has the
        # held-out refits.
        Threshold(
            "target_threshold",
            0.725,
            "fitted",
            "universality (share of three quarters of the other classes one probe or found"
            " trigger sends to one label) at or above which that label is a target",
        ),
        Threshold(
            "spread_threshold",
            0.8375,
            "fitted",
            "consistency (median share of each class one probe sends to one other label) at or"
            " above which the classes move as an all-to-all backdoor moves them",
        ),
        Threshold(
            "selectivity_threshold",
            0.5,
            "hand-set",
            "under the strong probes, how far the best label must out-draw the runner-up:"
            " half of every class",
        ),
        Threshold(
            "retention_max",
            0.5,
            "hand-set",
            "a shortcut that keeps less than this share of its pull at half strength reads as"
            " a natural sink, not a planted trigger",
        ),
        Threshold(
            "onset_retention_max",
            0.725,
            "fitted",
            "a shortcut that reaches nobody at a quarter strength reads as a natural sink unless"
            " it keeps at least this share of its pull at half strength",
        ),
        Threshold(
            "breadth_min",
            0.0,
            "hand-set",
            "share of the deciding probe's family that must reach the label too (0: not asked)",
        ),
        Threshold(
            "mask_cost_max",
            0.04,
            "hand-set",
            "the largest stamp (share of the pixels) the trigger search may decide with; a"
            " subtle or visible probe patch no larger is never read as a natural sink",
        ),
        Threshold(
            "curve_cost_max",
            0.1,
            "hand-set",
            "the largest mean value change of a tone curve the trigger search may decide with",
        ),
        Threshold(
            "transform_cost_max",
            0.15,
            "hand-set",
            "the largest geometric transform the search may decide with (rotation / 180 degrees:"
            " 27 degrees; clean networks' rotation sinks needed 30 degrees or more)",
        ),
        Threshold(
            "grating_cost_max",
            0.17,
            "hand-set",
            "the largest amplitude of a sinusoidal grating the trigger search may decide with"
            " (0: gratings never decide)",
        ),
        Threshold(
            "stamp_overrule_max",
            0.01,
            "hand-set",
            "the largest stamp (share of the pixels) the trigger search found that names the"
            " target over the probes' own label: smaller than any natural stamp sink measured"
            " (0: never)",
        ),
        Threshold(
            "transform_onset_min",
            0.3,
            "hand-set",
            "a geometric transform decides, whatever its size, when at a quarter of its strength"
            " it already reaches this universality (0: never)",
        ),
        Threshold(
            "spread_consistency_min",
            0.8,
            "hand-set",
            "consistency, agreed by both sample sets, at or above which a subtle or visible probe"
            " that spreads the classes over several labels in both sets decides all-to-all",
        ),
        Threshold(
            "data_reach_min",
            0.5,
            "hand-set",
            "with --train-data: the share of the other classes (a finding's median, or the"
            " named class's pattern in the data) the model must send to the class the training"
            " data names for the verdict to rest on it; the grade a repair takes a finding as"
            " its prior at (scanner.detectors.by_data)",
        ),
        Threshold(
            "concentration_min",
            0.5,
            "hand-set",
            "a majority of the other classes going to one label, under every probe that passed"
            " the consistency test, names that label",
        ),
        Threshold(
            "spread_concentration_max",
            1 / 3,
            "hand-set",
            "the largest share of the other classes that may go to one label, in either sample"
            " set, for a probe to read as spreading them (an all-to-all trigger: each class to"
            " its own label)",
        ),
    )
}


def value(name: str) -> float:
    return THRESHOLDS[name].value


@dataclass(frozen=True)
class VerdictRule:
    """The thresholds a verdict is decided with; defaults from `scanner.detectors.thresholds`."""

    # Fitted on the 64-model zoo by `bdscan bench xray` ("Rule fitted on all 64 models": the
    # threshold that maximises TPR - FPR, midway between neighbouring values); the held-out
    # figures in docs/results.md refit them without the tested attack or architecture.
    target_threshold: float = value("target_threshold")
    spread_threshold: float = value("spread_threshold")
    # Not fitted (docs/verdict.md): the best label must draw half of every class more than the
    # runner-up.
    selectivity_threshold: float = value("selectivity_threshold")
    # Attribution (scanner.detectors.attribution; docs/verdict.md, "Planted or natural"). A shortcut
    # is not attributed to a planted trigger, verdict "shortcut", when even the most planted-looking
    # probe measured for its label, mixed in at half strength, keeps less than `retention_max` of
    # the universality it has at full strength: a pull that grows slower than the perturbation.
    # Hand-set ("less than half the pull at half the strength"); docs/verdict.md says which variants
    # were tried on which models. `breadth_min` > 0 also asks that share of the probe's family to
    # reach the label; 0 (the default) does not, since the clean BatchNorm nets' grating sinks
    # answered to few orientations (docs/verdict.md).
    retention_max: float = value("retention_max")
    # A shortcut with no onset (universality 0 at a quarter strength) must keep more: natural
    # grating sinks start at 0 and some keep 0.5-0.7 at half strength; planted global triggers
    # either fire at a quarter already (blends, FTrojan, low frequency) or keep more. Fitted on
    # the six rebuilt fresh sets, midway between the highest clean retention without onset
    # (0.70) and the next planted one (0.75) (docs/verdict.md, "Onset"); 0 turns it off.
    onset_retention_max: float = value("onset_retention_max")
    breadth_min: float = value("breadth_min")
    # Trigger search (scanner.detectors.search; docs/trigger-search.md). A found change decides
    # "infected" when its confirmed universality reaches `target_threshold` and it is small: a stamp
    # of at most `mask_cost_max` of the pixels, a tone curve moving values by at most
    # `curve_cost_max` on average that also keeps `retention_max` of its pull at half strength (a
    # stamp is already minimal, so its size is its dose-response). Hand-set: the stamp's cap before
    # any measurement, the curve's after the search's output on 12 wild models was seen, and the
    # stamp's exemption from the retention test after all of them (docs/trigger-search.md says what
    # each variant gave). `transform_cost_max` (rotation / 180 degrees, |log zoom|, 1 for a flip):
    # clean networks have natural rotation sinks as universal as a planted one, but none of the
    # 110 clean scans of the fresh sets reached one under 30 degrees (0.167), while the three
    # rotation backdoors were reached at 19-26 degrees (0.10-0.15). Hand-set at 0.15 after those
    # scans were seen (0 before: transforms never decided alone); the tenth fresh set, specified
    # first, judges it (docs/verdict.md, "Small transforms").
    mask_cost_max: float = value("mask_cost_max")
    curve_cost_max: float = value("curve_cost_max")
    transform_cost_max: float = value("transform_cost_max")
    # `grating_cost_max` (the grating's amplitude, the search's smallest that fires): clean
    # BatchNorm networks have natural grating sinks as universal as SIG's (stripes send most
    # Fashion-MNIST classes to Shirt, Bag or Trouser), but they need more amplitude than a
    # planted sine. The grating space alone (`benchmarks/grating_search.py`, seeds 0-2) on the
    # 81 clean nets of sets 13-30 never fired under 0.184 (the descent's amplitudes are
    # 0.3 x 0.85^k: 0.255, 0.217, 0.184, 0.157, ...), and at 0.184 in 3 of 243 searches, while
    # 3-4 of the 12 SIG nets fired at 0.157 or less. Hand-set between the two after those runs
    # were seen; the thirty-first set, specified first, judges it (docs/trigger-search.md,
    # "Gratings").
    grating_cost_max: float = value("grating_cost_max")
    # ...unless it fires early: a warp-trained network answers a quarter of the search's nearest
    # transform already (WaNet nets measured 0.15-0.9 universality at a quarter of a 1.33 zoom or
    # a small turn), where no natural rotation sink of the fresh sets moved more than 0.1 there.
    # Hand-set at three times that, after the eighth fresh set was seen (docs/verdict.md, "Early
    # transforms"; 0.5 of the full-strength pull and 0.5 absolute were tried first).
    transform_onset_min: float = value("transform_onset_min")
    # A stamp this small that reaches `target_threshold` names the target over any label the
    # probes named: the natural stamp sinks the search finds (a "Bag" on Fashion-MNIST nets)
    # were all larger, a trigger's own stamp often is not. Hand-set under the smallest sink stamp
    # of the stored scans after they were seen (docs/verdict.md part 7).
    stamp_overrule_max: float = value("stamp_overrule_max")
    # The spread test (verdict.spreads): a probe that spreads the classes over several labels in
    # both sample sets is all-to-all evidence at a lower consistency than `spread_threshold`,
    # which also has to keep out the clean nets' one-label sinks. Over the 204 clean and 231
    # all-to-one scans of sets 13-26 (seeds 0-2) no spreading probe reached 0.8 (the most: 0.75
    # and 0.675); every all-to-all scan's did (66 of 66, the least 0.833, eight of them under
    # `spread_threshold`). Hand-set between the two after those scans were seen; the twenty-seventh
    # set, specified first, judges it (docs/verdict.md part 11).
    spread_consistency_min: float = value("spread_consistency_min")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
