"""Every constant the verdict compares a figure against, in one place, each marked fitted (set by
`bdscan bench xray` on the zoo) or hand-set (chosen before or apart from any fit), with what it
means. `VerdictRule`'s defaults come from here; a rule file (`bdscan calibrate`, `--rule`) can
change the rule's, and the report's trace (`xray.evidence.trace`) says which value decided and
whether it was the shipped one. docs/verdict.md has the measurements behind each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
            "breadth_min",
            0.0,
            "hand-set",
            "share of the deciding probe's family that must reach the label too (0: not asked)",
        ),
        Threshold(
            "mask_cost_max",
            0.04,
            "hand-set",
            "the largest stamp (share of the pixels) the trigger search may decide with",
        ),
        Threshold(
            "curve_cost_max",
            0.1,
            "hand-set",
            "the largest mean value change of a tone curve the trigger search may decide with",
        ),
        Threshold(
            "transform_cost_max",
            0.0,
            "hand-set",
            "the largest geometric transform the search may decide with (0: never, since clean"
            " networks have natural rotation sinks)",
        ),
        Threshold(
            "concentration_min",
            0.5,
            "hand-set",
            "a majority of the other classes going to one label, under every probe that passed"
            " the consistency test, names that label",
        ),
    )
}


def value(name: str) -> float:
    return THRESHOLDS[name].value
