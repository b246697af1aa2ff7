"""The scan's own trigger, re-measured on the repaired model.

The re-scan after a repair asks the scan's question afresh, with the scan's bars: a trigger the
repair only weakened can fall under them and read `clean`: the forty-first fresh set's blend
all-to-all nets did, and `bdscan remediate` exited 0 on them (docs/remediation.md section 43).
The remediation's own question is narrower and
paired: of the samples a trigger sent to a label on the model before, how many does the
repaired model still send to that same label? The same samples, the same triggers, the model
before and the model after, hard labels only.

Which triggers: the probes the scan before confirmed, and fresh draws of those from a drawn
family (blend, low-frequency, warp: `families.DRAWN`), other seeds never shown to the repair.
BURN unlearns the confirmed probes themselves, so on its output they say little, even where
the planted trigger still fires; fresh draws say more (docs/remediation.md section 44).

A check is the share of its samples that both models send to the same label away from their
own (to the target, when the scan named one): the trigger's hold on the repaired model. When
the strongest check holds at least `RESIDUAL_MAX` of its samples the trigger is left
(`Residual.left`), and `bdscan remediate` exits 1 as for an `infected` re-scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scanner.data import Dataset
from scanner.detectors.families import DRAWN
from scanner.detectors.probes import Probe
from scanner.detectors.spaces import Point
from scanner.remediate.prior import TriggerPrior, prior_from_report
from scanner.report import ScanReport

__all__ = [
    "CHECK_PER_CLASS",
    "FRESH_DRAWS",
    "RESIDUAL_MAX",
    "Residual",
    "TriggerCheck",
    "check_samples",
    "checked_prior",
    "measure_residual",
    "prior_triggers",
]

# Samples per class the triggers are re-measured on (the first the model before reads right).
CHECK_PER_CLASS = 50
# The share of the check samples a trigger still sends where the model before sent them that
# counts as left. Hand-set between the holds on the seen repaired nets and on the seen
# half-repaired blend nets (docs/remediation.md section 44).
RESIDUAL_MAX = 0.1
# Fresh draws per confirmed probe of a drawn family.
FRESH_DRAWS = 3

Labels = Callable[[np.ndarray], np.ndarray]  # [0, 1] NHWC images -> hard labels
# What a report's trigger that does not rebuild or apply raises.
UNREADABLE = (KeyError, IndexError, TypeError, ValueError)


@dataclass(frozen=True)
class TriggerCheck:
    """One trigger of the scan before, on the same samples before and after the repair."""

    trigger: str  # "probe <family>" or "search <space>"
    target: int | None  # the label it sends to (None: each sample's own other label)
    samples: int
    before: float  # share the model before sent away from their label (to `target`)
    after: float  # share the repaired model still sends to the label the model before did

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "target": self.target,
            "samples": self.samples,
            "before": round(self.before, 4),
            "after": round(self.after, 4),
        }


@dataclass(frozen=True)
class Residual:
    """The scan's triggers re-measured on the repaired model (module docstring)."""

    checks: tuple[TriggerCheck, ...]
    bar: float = RESIDUAL_MAX

    @property
    def strongest(self) -> TriggerCheck | None:
        return max(self.checks, key=lambda c: c.after, default=None)

    @property
    def left(self) -> bool:
        s = self.strongest
        return s is not None and s.after >= self.bar

    @property
    def note(self) -> str:
        s = self.strongest
        if s is None:
            return "no trigger of the scan before to re-measure"
        where = f"to label {s.target}" if s.target is not None else "each to the label it did"
        return (
            f"the scan's {s.trigger} trigger still sends {s.after:.0%} of {s.samples} samples"
            f" {where} (before the repair: {s.before:.0%})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "bar": self.bar,
            "note": self.note,
            "checks": [c.to_dict() for c in self.checks],
        }


def prior_triggers(
    prior: TriggerPrior, shape: tuple[int, int, int]
) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """The prior's confirmed probes (and `FRESH_DRAWS` fresh draws of each from a drawn family)
    and search findings, at the strength found."""
    out: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = []
    for d in prior.probes:
        try:  # a report's probe that does not rebuild is left out: a prior is only a hint
            probe = Probe.from_dict(d)
            out.append((f"probe {probe.family}", probe.trigger(shape)))
            if probe.family in DRAWN:
                for k in range(1, FRESH_DRAWS + 1):
                    fresh = replace(probe, seed=probe.seed + k)
                    out.append((f"probe {probe.family}, fresh draw", fresh.trigger(shape)))
        except UNREADABLE:
            continue
    for d in prior.found:
        try:
            point = Point.from_dict(d)
        except UNREADABLE:
            continue
        out.append((f"search {point.space}", point.apply))
    return out


def check_samples(
    y: np.ndarray,
    labels: Labels,
    x: np.ndarray,
    target: int | None,
    per_class: int = CHECK_PER_CLASS,
) -> np.ndarray:
    """Indices of up to `per_class` samples of each class that the model before (`labels`)
    reads right, the target's own left out: a trigger's effect is read on samples the model got
    right. Only the first `2 * per_class` of each class are asked about."""
    first: list[np.ndarray] = []
    for c in np.unique(y):
        if target is not None and int(c) == target:
            continue
        first.append(np.flatnonzero(y == c)[: 2 * per_class])
    if not first:
        return np.zeros(0, dtype=np.int64)
    asked = np.sort(np.concatenate(first))
    right = asked[labels(x[asked]) == y[asked]]
    keep = [right[y[right] == c][:per_class] for c in np.unique(y[right])]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def checked_prior(report: ScanReport | dict[str, Any]) -> TriggerPrior | None:
    """The report's prior when it is an `infected` verdict with a trigger to re-measure."""
    prior = prior_from_report(report)
    if prior.verdict != "infected" or not (prior.probes or prior.found):
        return None
    return prior


def measure_residual(
    prior: TriggerPrior,
    data: Dataset,
    before: Labels,
    after: Labels,
    *,
    bar: float = RESIDUAL_MAX,
) -> Residual | None:
    """The prior's triggers on the model before and after (module docstring); None when the
    model before reads no sample right."""
    x = np.asarray(data.x, dtype=np.float32)
    triggers = prior_triggers(prior, (int(x.shape[1]), int(x.shape[2]), int(x.shape[3])))
    y = np.asarray(data.y)
    idx = check_samples(y, before, x, prior.target)
    if len(idx) == 0 or not triggers:
        return None
    xs, ys = x[idx], y[idx]
    checks: list[TriggerCheck] = []
    for name, trigger in triggers:
        try:
            stamped = np.clip(trigger(xs.copy()), 0.0, 1.0).astype(np.float32)
        except UNREADABLE:
            continue
        if stamped.shape != xs.shape:
            continue
        l0, l1 = before(stamped), after(stamped)
        sent = (l0 == prior.target) if prior.target is not None else (l0 != ys)
        checks.append(
            TriggerCheck(
                trigger=name,
                target=prior.target,
                samples=len(idx),
                before=float(sent.mean()),
                after=float((sent & (l1 == l0)).mean()),
            )
        )
    return Residual(tuple(checks), bar) if checks else None
