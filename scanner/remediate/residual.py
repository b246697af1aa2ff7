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
the planted trigger still fires; fresh draws say more (docs/remediation.md section 44). Where
the repair's training data named the class it repaired, that class's own pattern in the data
and its plane sine (at each of the check's amplitudes) and its stamp are re-measured too
(`data_triggers`): a planted grating the scan only approximated can keep a tenth of the classes
after the scan's gratings hold none (docs/remediation.md section 50). Where the repair unlearned
the training data's blend, that blend is re-measured in its blend form (`blend_triggers`;
section 53). Asked for (`bdscan
remediate --data-residual`; held out it also called a repaired net left), such a hold says the
repair is unfinished (exit 1); it earns no further round, since another round of the same
repair on the same poisoned data made those nets worse (`Residual.of_scan`). Nor does the hold
of a trigger that was not near-universal before the repair (`Residual.earning`): a search
transform that had sent 78% of a MobileNet's samples to the target still sent 19% after a
round that left the planted trigger at 0.1%, and the round it earned brought the planted
trigger back to 8% (docs/remediation.md section 53).

By default, where the repair unlearned the training data's blend, the training images that
carry it (the poison itself, at the attacker's own opacity) are asked again of the repaired
model (`carrier_hold`): a blend the repair left can hold nothing of the scan's triggers and of
the blend rebuilt from its read, yet still keep its own poisoned images in the class. Such a
hold is an exit 1 too, and earns no round (section 55).

A check is the share of its samples that both models send to the same label away from their
own (to the target, when the scan named one): the trigger's hold on the repaired model. When
the strongest check holds at least `RESIDUAL_MAX` of its samples the trigger is left
(`Residual.left`), and `bdscan remediate` exits 1 as for an `infected` re-scan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scanner.data import Dataset
from scanner.detectors.datacheck import (
    DataCheck,
    DataCheckConfig,
    blend_carriers,
    data_blend,
    data_pattern,
    dominant_sine,
)
from scanner.detectors.families import DRAWN
from scanner.detectors.probes import Probe
from scanner.detectors.spaces import Point
from scanner.remediate.prior import (
    BLEND_FORM_MAX,
    TriggerPrior,
    blend_forms,
    blend_opacities,
    prior_from_report,
)
from scanner.report import ScanReport

__all__ = [
    "BLEND_FORM_MAX",
    "CARRIERS",
    "CARRIERS_MAX",
    "CARRIERS_MIN",
    "CARRIERS_STRICT",
    "CHECK_PER_CLASS",
    "CONTENT_NEIGHBOURS",
    "FRESH_DRAWS",
    "RESIDUAL_MAX",
    "ROUND_MIN_BEFORE",
    "STRICT_NEIGHBOURS",
    "STRICT_OWN_MAX",
    "Residual",
    "TriggerCheck",
    "blend_opacities",
    "blend_triggers",
    "carrier_content",
    "carrier_hold",
    "check_samples",
    "checked_prior",
    "data_triggers",
    "measure_residual",
    "measure_triggers",
    "nearest_labels",
    "nearest_votes",
    "prior_triggers",
]

# Samples per class the triggers are re-measured on (the first the model before reads right).
CHECK_PER_CLASS = 50
# The share of the check samples a trigger still sends where the model before sent them that
# counts as left. Hand-set between the holds on the seen repaired nets and on the seen
# half-repaired blend nets (docs/remediation.md section 44).
RESIDUAL_MAX = 0.1
# The share of its samples a trigger must have sent to the target before the repair for its
# hold after it to earn another round (`Residual.earning`). Hand-set on the three stored nets
# where it decides: the holds that earned a helpful round had sent 99%, the two that earned a
# harmful one 55% and 78% (docs/remediation.md section 53).
ROUND_MIN_BEFORE = 0.9
# The training data's blend carriers re-measured after the repair (`carrier_hold`): at most
# this many (spread evenly), read only when at least `CARRIERS_MIN` are left; the clean
# references whose majority (of `CONTENT_NEIGHBOURS`) reads a carrier's content, images pooled
# to at most `NEIGHBOUR_SIDE` pixels a side. Hand-set, none fitted.
CARRIERS_MAX = 1000
CARRIERS_MIN = 20
CONTENT_NEIGHBOURS = 5
NEIGHBOUR_SIDE = 32
# `carrier_hold`'s strict reading of a carrier's content: its `STRICT_NEIGHBOURS` nearest clean
# images, at most `STRICT_OWN_MAX` of them the class's own. Hand-set among six readings on the
# stored repairs; on by the sixty-eighth set's rule (docs/remediation.md section 58).
CARRIERS_STRICT = True
STRICT_NEIGHBOURS = 9
STRICT_OWN_MAX = 0
# Fresh draws per confirmed probe of a drawn family.
FRESH_DRAWS = 3

Labels = Callable[[np.ndarray], np.ndarray]  # [0, 1] NHWC images -> hard labels
Trigger = Callable[[np.ndarray], np.ndarray]  # [0, 1] NHWC images -> stamped (unclipped)
# The name a trigger read from the training data carries (not one of the scan's).
DATA_SOURCE = "training data"
# The name of the blend carriers' check (`carrier_hold`).
CARRIERS = f"{DATA_SOURCE} blend's carriers"
# What a report's trigger that does not rebuild or apply raises.
UNREADABLE = (KeyError, IndexError, TypeError, ValueError)


@dataclass(frozen=True)
class TriggerCheck:
    """One trigger of the scan before, on the same samples before and after the repair."""

    trigger: str  # "probe <family>", "search <space>" or "training data <what>"
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
        if s.trigger == CARRIERS:
            return (
                f"{s.after:.0%} of the {s.samples} poisoned training images that carry the"
                f" training data's blend are still given label {s.target} (before the repair:"
                f" {s.before:.0%})"
            )
        where = f"to label {s.target}" if s.target is not None else "each to the label it did"
        what = (
            f"the {s.trigger}"
            if s.trigger.startswith(DATA_SOURCE)
            else f"the scan's {s.trigger} trigger"
        )
        return (
            f"{what} still sends {s.after:.0%} of {s.samples} samples {where} (before the"
            f" repair: {s.before:.0%})"
        )

    def joined(self, other: Residual | None) -> Residual:
        """Both residuals' checks under this one's bar."""
        return self if other is None else Residual(self.checks + other.checks, self.bar)

    def of_scan(self) -> Residual | None:
        """The scan's own triggers' checks alone (None: only the training data's were read)."""
        own = tuple(c for c in self.checks if not c.trigger.startswith(DATA_SOURCE))
        return Residual(own, self.bar) if own else None

    def earning(self, min_before: float = ROUND_MIN_BEFORE) -> Residual | None:
        """The checks whose trigger was near-universal before the repair (sent at least
        `min_before` of its samples): the holds that may earn another round (None: no such
        check)."""
        strong = tuple(c for c in self.checks if c.before >= min_before)
        return Residual(strong, self.bar) if strong else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "bar": self.bar,
            "note": self.note,
            "checks": [c.to_dict() for c in self.checks],
        }


def prior_triggers(prior: TriggerPrior, shape: tuple[int, int, int]) -> list[tuple[str, Trigger]]:
    """The prior's confirmed probes (and `FRESH_DRAWS` fresh draws of each from a drawn family)
    and search findings, at the strength found."""
    out: list[tuple[str, Trigger]] = []
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


def data_triggers(
    check: DataCheck,
    train: Dataset,
    clean: Dataset,
    config: DataCheckConfig | None = None,
) -> list[tuple[str, Trigger]]:
    """The named class's pattern in the training data and its plane sine (where it fits the
    pattern) at each of the check's amplitudes, and its stamp where the repair read one that
    fired: what the training data says the planted trigger is (`scanner.detectors.datacheck`).
    Empty when the check named no class."""
    config = config or DataCheckConfig()
    if check.label is None:
        return []
    out: list[tuple[str, Trigger]] = []
    if check.stamp is not None:
        with contextlib.suppress(*UNREADABLE):  # a stamp that does not rebuild is left out
            out.append((f"{DATA_SOURCE} stamp", Point.from_dict(check.stamp).apply))
    if not config.pattern:
        return out
    signal, _ = data_pattern(
        np.asarray(train.x), np.asarray(train.y), np.asarray(clean.x), np.asarray(clean.y),
        check.label, min_z=config.pattern_min_z, max_samples=config.max_samples,
    )  # fmt: skip
    if signal is None:
        return out
    shapes = [("pattern", signal)]
    if config.sine:
        sine, fit = dominant_sine(signal)
        if fit >= config.sine_min_fit:
            shapes.append(("sine", sine))
    for what, shape in shapes:
        for amp in config.pattern_amps:
            out.append(
                (
                    f"{DATA_SOURCE} {what} of class {check.label} at amplitude {amp:g}",
                    _added(shape, amp),
                )
            )
    return out


def blend_triggers(
    check: DataCheck,
    train: Dataset,
    clean: Dataset,
    config: DataCheckConfig | None = None,
) -> list[tuple[str, Trigger]]:
    """The named class's training-data blend (`datacheck.data_blend`, read where it fired) in
    its blend form, x -> (1 - a) x + a P, the pattern P rebuilt from the change at each opacity
    a (the change is a (P - m), m the other classes' clean mean), at a = its largest change, 1.5
    times it and twice it up to `BLEND_FORM_MAX` (those at or above the read and under 1). The
    training set is the one given, not a later round's relabelled one: the poison's mixture is
    read where it is whole. Why this form: the repair unlearned the
    additive change, so that change re-measured holds nothing even where the planted blend
    still fires (docs/remediation.md section 53); the blend at and above its own opacity is
    what an attacker would stamp. Empty when no blend fired."""
    config = config or DataCheckConfig()
    change = _blend_change(check, train, clean, config)
    xc, yc = np.asarray(clean.x, dtype=np.float32), np.asarray(clean.y)
    rest = xc[yc != check.label]
    if change is None or len(rest) == 0:
        return []
    forms = blend_forms(change, rest.mean(axis=0))
    return [(f"{DATA_SOURCE} blend at opacity {a:.2f}", t) for a, t in forms]


def _blend_change(
    check: DataCheck, train: Dataset, clean: Dataset, config: DataCheckConfig
) -> np.ndarray | None:
    """The named class's training-data blend change (`datacheck.data_blend`) where the check
    read one that fired, within `blend_max_amp`; else None."""
    if check.label is None or not check.blend:
        return None
    change = data_blend(
        np.asarray(train.x), np.asarray(train.y),
        np.asarray(clean.x, dtype=np.float32), np.asarray(clean.y), check.label,
        min_z=config.pattern_min_z, max_samples=config.max_samples, min_mix=config.stamp_min_mix,
    )  # fmt: skip
    if change is None:
        return None
    amp = float(np.abs(change).max())
    return change if 0.0 < amp <= config.blend_max_amp else None


def carrier_hold(
    check: DataCheck,
    train: Dataset,
    clean: Dataset,
    before: Labels,
    after: Labels,
    config: DataCheckConfig | None = None,
    *,
    skip: np.ndarray | None = None,
    bar: float = RESIDUAL_MAX,
    strict: bool = CARRIERS_STRICT,
) -> Residual | None:
    """The training data's blend carriers on the repaired model: of the class's training
    images that carry the blend (`datacheck.blend_carriers` on the model before: it gives them
    the class and, the blend's change taken away, another label), those whose content that
    other label is by the clean data's nearest neighbours too, and the share of them the
    repaired model still gives the class. None where the check read no blend that fired or
    fewer than `CARRIERS_MIN` carriers are left. The carriers the repair trained under a
    flag's label are kept: left out, the few the flags missed held 0.33-0.46 on two repaired
    held-out nets (docs/remediation.md section 55). `skip`: a mask of training rows left out
    (those the repair relabelled by their content, `BurnConfig.data_blend_relabel_even`).
    `strict`: a carrier's content is confirmed only where none of its `STRICT_NEIGHBOURS`
    nearest clean images (at most `STRICT_OWN_MAX`) is the class's own: the class's own images
    the change's removal moves to a neighbouring class pass the majority reading, and the
    repaired model rightly keeps them (docs/remediation.md section 58).

    Why: they are the attacker's own poison, the planted blend at its own opacity on other
    classes' images, where the blend rebuilt from the check's read only approximates it and
    the repair unlearned the read (docs/remediation.md section 55). The neighbours' reading
    leaves out the class's own images whose label the change's removal also moved: the repair
    rightly keeps those in the class."""
    config = config or DataCheckConfig()
    change = _blend_change(check, train, clean, config)
    if change is None or check.label is None:
        return None
    label = check.label
    x, y = np.asarray(train.x), np.asarray(train.y)
    xc, yc = np.asarray(clean.x, dtype=np.float32), np.asarray(clean.y)
    carriers = blend_carriers(before, x, y, label, change)
    if skip is not None:
        carriers &= ~np.asarray(skip, dtype=bool)
    rows = np.flatnonzero(carriers)
    if len(rows) > CARRIERS_MAX:
        rows = rows[np.linspace(0, len(rows) - 1, CARRIERS_MAX).round().astype(np.int64)]
    if len(rows) < CARRIERS_MIN or len(yc) == 0:
        return None
    carried = np.asarray(x[rows], dtype=np.float32)
    own = label if strict else None
    _, keep = carrier_content(before, carried, change, xc, yc, config.max_samples, own=own)
    if int(keep.sum()) < CARRIERS_MIN:
        return None
    kept = carried[keep]
    sent = before(kept) == label
    hold = TriggerCheck(
        trigger=CARRIERS,
        target=label,
        samples=len(kept),
        before=float(sent.mean()),
        after=float((sent & (after(kept) == label)).mean()),
    )
    return Residual((hold,), bar)


def carrier_content(
    before: Labels,
    carried: np.ndarray,
    change: np.ndarray,
    x_ref: np.ndarray,
    y_ref: np.ndarray,
    max_ref: int,
    *,
    own: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(content, confirmed) for blend carriers (float NHWC in [0, 1]): the model's label for
    each once the blend's `change` is taken away, and whether the majority of its
    `CONTENT_NEIGHBOURS` nearest reference images (`nearest_labels`) say the same. With `own`
    (the carriers' class), the strict reading: the majority of its `STRICT_NEIGHBOURS`
    nearest, at most `STRICT_OWN_MAX` of them of class `own`."""
    undone = np.clip(np.asarray(carried, np.float32) - change[None], 0.0, 1.0).astype(np.float32)
    content = np.asarray(before(undone), dtype=np.int64)
    if own is None:
        near = nearest_labels(x_ref, y_ref, undone, CONTENT_NEIGHBOURS, max_ref)
        return content, near == content
    votes = nearest_votes(x_ref, y_ref, undone, STRICT_NEIGHBOURS, max_ref)
    mine = votes[:, own] <= STRICT_OWN_MAX if own < votes.shape[1] else np.ones(len(votes), bool)
    return content, (votes.argmax(axis=1) == content) & mine


def nearest_labels(
    x_ref: np.ndarray, y_ref: np.ndarray, x: np.ndarray, k: int, max_ref: int
) -> np.ndarray:
    """The majority label of each image's `k` nearest of at most `max_ref` reference images
    (`nearest_votes`; ties: the smallest label)."""
    return nearest_votes(x_ref, y_ref, x, k, max_ref).argmax(axis=1)


def nearest_votes(
    x_ref: np.ndarray, y_ref: np.ndarray, x: np.ndarray, k: int, max_ref: int
) -> np.ndarray:
    """(images, classes): how many of each image's `k` nearest of at most `max_ref` reference
    images (spread evenly) are of each class, in pixel space, images pooled to at most
    `NEIGHBOUR_SIDE` pixels a side."""
    if len(x_ref) > max_ref:
        pick = np.linspace(0, len(x_ref) - 1, max_ref).round().astype(np.int64)
        x_ref, y_ref = x_ref[pick], y_ref[pick]
    ref = _pooled(np.asarray(x_ref, dtype=np.float32))
    query = _pooled(np.asarray(x, dtype=np.float32))
    k = max(1, min(k, len(ref)))
    ref_sq = (ref**2).sum(axis=1)
    classes = int(np.max(y_ref)) + 1
    out = np.zeros((len(query), classes), dtype=np.int64)
    for start in range(0, len(query), 256):
        q = query[start : start + 256]
        dist = ref_sq[None] - 2.0 * q @ ref.T  # + |q|^2, the same for every reference
        near = np.argpartition(dist, k - 1, axis=1)[:, :k]
        out[start : start + 256] = np.apply_along_axis(
            np.bincount, 1, y_ref[near], minlength=classes
        )
    return out


def _pooled(x: np.ndarray) -> np.ndarray:
    """NHWC images as flat rows, block-averaged to at most `NEIGHBOUR_SIDE` pixels a side."""
    n, h, w, c = x.shape
    f = max(1, -(-max(h, w) // NEIGHBOUR_SIDE))
    hh, ww = h // f, w // f
    x = x[:, : hh * f, : ww * f].reshape(n, hh, f, ww, f, c).mean(axis=(2, 4))
    return x.reshape(n, -1).astype(np.float32)


def _added(signal: np.ndarray, amp: float) -> Trigger:
    def add(x: np.ndarray) -> np.ndarray:
        return x + amp * signal[None]

    return add


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
    return measure_triggers(triggers, prior.target, data, before, after, bar=bar)


def measure_triggers(
    triggers: list[tuple[str, Trigger]],
    target: int | None,
    data: Dataset,
    before: Labels,
    after: Labels,
    *,
    bar: float = RESIDUAL_MAX,
) -> Residual | None:
    """Each trigger's hold (module docstring) on the same samples of `data`, the model before
    against the model after; None when there is no trigger or the model before reads no
    sample right."""
    x = np.asarray(data.x, dtype=np.float32)
    y = np.asarray(data.y)
    if not triggers:
        return None
    idx = check_samples(y, before, x, target)
    if len(idx) == 0:
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
        sent = (l0 == target) if target is not None else (l0 != ys)
        checks.append(
            TriggerCheck(
                trigger=name,
                target=target,
                samples=len(idx),
                before=float(sent.mean()),
                after=float((sent & (l1 == l0)).mean()),
            )
        )
    return Residual(tuple(checks), bar) if checks else None
