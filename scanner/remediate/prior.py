"""Trigger priors for unlearning: X-ray's confirmed probes and a synthesized universal trigger.

BURN's relabelling can only undo a shortcut whose poisoned samples it finds and whose labels are
wrong. Two cases defeat it: clean-label attacks (SIG: every poisoned sample already carries its
true label, the target) and attacks with few or well-hidden poisoned samples (1% poisoning,
Adaptive-Blend's conservatism samples). What the model learned there is still the same thing: a
pattern that sends inputs of other classes to the target. So BURN also unlearns the pattern
itself: while it fine-tunes, a share of every batch is copied with a trigger stamped on and keeps
its (restored) true label ("shortcut unlearning"). The trigger comes from

- X-ray's scan report (`--scan-report`): the probes it confirmed as sending every class to the
  target (`report["xray"]["evidence"]["findings"]`), rebuilt exactly with
  `Probe.from_dict(...).trigger(shape)`, each also at other magnitudes, since the probe only
  approximates the real trigger (a grating at the right frequency but another amplitude);
- and, when X-ray gave a target, a universal perturbation synthesized with gradients: one
  L-inf-bounded perturbation shared by the batch, pushed each step towards the target label,
  warm-started across batches and re-fitted to the model as it changes, so that whatever
  shortcut remains is what it finds (i-BAU's minimax, first-order; Zeng et al., ICLR 2022). It
  needs no report, and covers what the probes' fixed families miss (random-noise blends);
- beside the probes, a universal warp: a smooth flow field of at most about a pixel, fitted the
  same way, for warp triggers (WaNet) that no additive pattern matches;
- and, when the training data's check named the target (`datacheck`), that class's mean
  training-minus-clean difference at the frequencies that stand out, and the plane sine nearest
  it, each at the strength at which it fires on the model: a clean-label trigger's own pattern
  (`DataPattern`).

Beside the probes both synthesized triggers are gated by BURN (`shortcut.UniversalGate`): each runs
only once a freshly fitted one still reaches the target, since without a shortcut left to find
they are plain adversarial training, which costs small models clean accuracy.

Without a target from X-ray (its scan missed the backdoor, or there is no report) BURN looks for
one itself (`find_target`): the class that a small fresh universal perturbation or warp reaches
from every other class far more easily than any other class (`SelfPrior`).

For patch probes the report also says where the trigger sits: `patch_region` gives BURN the
pixels to occlude when it looks for dirty-label poison (`flags.occlusion_flags`); for an
all-to-all prior, `patch_regions` gives each patch's, for `flags.stamp_region` to choose from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.detectors.probes import MAGNITUDES, Probe
from scanner.detectors.spaces import SPACES, Point
from scanner.detectors.thresholds import VerdictRule, value
from scanner.detectors.verdict import cost_max
from scanner.errors import UsageError
from scanner.remediate.window import PatchWindow, WindowSearch
from scanner.report import ScanReport

Trigger = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class DataPattern:
    """The training data's pattern of the target (`datacheck.data_pattern`), the plane sine
    nearest it (`datacheck.dominant_sine`) or its dirty-label blend (`datacheck.data_blend`):
    float32 HWC with a largest |value| of 1, the least amplitude at which it fires on the
    model, and which of the three it is ("pattern", "sine", "blend")."""

    signal: np.ndarray
    amp: float
    kind: str = "pattern"
    # A blend's other classes' clean mean image: set where the blend is unlearned in its blend
    # form too (`BurnConfig.data_blend_form`, `blend_forms`).
    mean: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": list(self.signal.shape), "amp": self.amp}
        out["kind"] = self.kind
        if self.mean is not None:
            out["blend_form"] = True
        return out


@dataclass(frozen=True)
class TriggerPrior:
    """What a scan report says about the backdoor: the target (None: no single target, e.g. an
    all-to-all backdoor) and the confirmed trigger-like probes, as dicts `Probe.from_dict` reads."""

    target: int | None
    probes: tuple[dict[str, Any], ...]
    verdict: str | None = None
    # Confirmed probes that send most classes to a label other than the target: a second
    # universal trigger (`prior_from_report`). Unlearned beside the probes, never used to
    # locate the target's trigger (`patch_region`) or to decide BURN's other settings.
    secondary: tuple[dict[str, Any], ...] = ()
    # Changes the scan's trigger search found for the target (`scanner.detectors.spaces.Point`
    # dicts: a stamp, a transform, a tone curve or a grating), stamped like the probes.
    found: tuple[dict[str, Any], ...] = ()
    # Changes the search found for other labels that could have decided as well (universal,
    # under its space's cap: `runners_up`), as `found` with their "label": BURN's target check
    # reads the label counts for them, and a label it turns to brings its own changes.
    runners_up: tuple[dict[str, Any], ...] = ()
    # The training data's pattern of the target and its plane sine, those that fire on the
    # model, when its check named the target (`datacheck`); unlearned as a found change is.
    patterns: tuple[DataPattern, ...] = ()

    def runner_up_labels(self) -> tuple[int, ...]:
        return tuple(sorted({int(d["label"]) for d in self.runners_up}))

    def turned_to(self, label: int) -> TriggerPrior:
        """The prior for `label`, one of `runners_up`: its changes as the found ones, and
        nothing of the label the scan named (its probes stand for that label)."""
        found = tuple(
            {k: v for k, v in d.items() if k != "label"}
            for d in self.runners_up
            if int(d["label"]) == label
        )
        return TriggerPrior(target=label, probes=(), verdict=self.verdict, found=found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "probes": list(self.probes),
            "verdict": self.verdict,
            "secondary": list(self.secondary),
            "found": list(self.found),
            "runners_up": list(self.runners_up),
            "patterns": [p.to_dict() for p in self.patterns],
        }


def prior_from_report(
    report: dict[str, Any] | ScanReport,
    *,
    fallback_target: int | None = None,
    shortcut_target: bool = False,
    aim: int | None = None,
    min_universality: float = 0.5,
    min_consistency: float = 0.8,
    max_probes: int = 6,
    min_secondary: float = 0.75,
    max_secondary: int = 3,
) -> TriggerPrior:
    """The trigger prior in a scan report: the scan's own `ScanReport`, or a `bdscan scan
    --json` document read back. `fallback_target`: the label to read the findings for when the
    report names no target (a shortcut the repair is aimed at anyway). `shortcut_target`: a
    `shortcut` report's label is the target when neither the report nor `fallback_target`
    names one (`BurnConfig.shortcut_target`). `aim`: the label to read the findings for,
    whatever the report names (the training data's check overruled it, `datacheck`).

    With a target label: the findings that send a median >= `min_universality` of every other
    class to that target (X-ray confirmed them on fresh samples). Without one (X-ray's
    all-to-all note): the findings that send each class consistently (>= `min_consistency`) to
    some other label. Weak findings (a natural sink class, a probe that moves a few classes) are
    left out: unlearning them would only cost accuracy.

    `secondary` (with a target only): findings that send >= `min_secondary` of every other
    class to another label. Why: poisoned training can amplify a sink into a second universal
    trigger, which a repair that unlearns only the target's trigger leaves in place (the example
    BadNets model's, measured in docs/remediation.md).
    """
    verdict, target, shortcut, findings, searched = _read_report(report)
    if target is None:
        target = fallback_target
    if target is None and shortcut_target and verdict == "shortcut":
        target = shortcut
    if aim is not None:
        target = aim
    found = [
        point.to_dict()
        for point, label, universality in searched
        if target is not None and label == target and universality >= min_universality
    ]
    chosen: list[dict[str, Any]] = []
    secondary: list[dict[str, Any]] = []
    for probe, label, universality, consistency in findings:
        # Strong probes (a 10 px patch, a 0.35 grating) are never taken as triggers: they are a
        # coarse stand-in for the real one. When X-ray named the target through them alone,
        # the target without probes (BURN's full-radius universal perturbation) repaired
        # better: docs/remediation.md.
        if probe.strong:
            continue
        if target is not None:
            ok = label == target and universality >= min_universality
            if label != target and universality >= min_secondary:
                secondary.append(probe.to_dict())
        else:
            ok = consistency >= min_consistency
        if ok:
            chosen.append(probe.to_dict())
    return TriggerPrior(
        target=None if target is None else int(target),
        probes=tuple(chosen[:max_probes]),
        verdict=verdict,
        secondary=tuple(secondary[:max_secondary]),
        found=tuple(found[:max_probes]),
        runners_up=() if target is None else runners_up(searched, int(target), VerdictRule()),
    )


def runners_up(
    searched: list[tuple[Point, int, float]], target: int, rule: VerdictRule
) -> tuple[dict[str, Any], ...]:
    """The search findings to labels other than `target` that could have decided: universal
    (`rule.target_threshold`) and under its space's cap (`verdict.cost_max`), as point dicts
    with their "label". The verdict names one label; the repair's target check reads the label
    counts for the others (a scan that named a natural "Bag" stamp over a scattered-pixel
    trigger's own, docs/remediation.md section 39). The default rule: a report is a hint."""
    out: list[dict[str, Any]] = []
    for point, label, universality in searched:
        try:  # a document's point that does not measure is left out
            small = point.cost <= cost_max(rule, point.space)
        except (KeyError, TypeError, ValueError, IndexError):
            continue
        if label != target and universality >= rule.target_threshold and small:
            out.append({"label": int(label), **point.to_dict()})
    return tuple(out)


Finding = tuple[Probe, int, float, float]  # probe, label, universality, consistency


def reached_labels(
    report: dict[str, Any] | ScanReport, *, min_universality: float = 0.5
) -> tuple[int, ...]:
    """The labels a scan's findings reach at the grade a prior takes (`prior_from_report`'s
    filter: a probe other than a strong one, or a search finding, sending a median >=
    `min_universality` of the other classes there). A `shortcut` report's planted target was
    among them in each of 31 SIG reports read `shortcut`, beside a median of two natural sinks
    (docs/remediation.md section 46)."""
    _, _, _, findings, searched = _read_report(report)
    labels = {lab for probe, lab, u, _ in findings if not probe.strong and u >= min_universality}
    labels |= {label for _, label, u in searched if u >= min_universality}
    return tuple(sorted(int(v) for v in labels))


def _read_report(
    report: dict[str, Any] | ScanReport,
) -> tuple[Any, Any, int | None, list[Finding], list[tuple[Point, int, float]]]:
    """(verdict, target, shortcut label, probe findings, search findings) of a scan report:
    the scan's own `ScanReport`, or a `bdscan scan --json` document read back."""
    if isinstance(report, ScanReport):
        x = report.xray
        findings = [(f.probe, f.label, f.universality, f.consistency) for f in x.evidence.findings]
        searched = (
            []
            if x.evidence.search is None
            else [(f.point, f.label, f.universality) for f in x.evidence.search.findings]
        )
        return x.verdict, x.target_label, x.evidence.shortcut_label, findings, searched
    verdict, target, findings, searched = _read_document(report)
    return verdict, target, _shortcut_label(report), findings, searched


def _shortcut_label(report: dict[str, Any]) -> int | None:
    """A `bdscan scan --json` document's shortcut label, None when it has none that reads."""
    try:
        label = report["xray"]["evidence"]["shortcut_label"]
        return None if label is None or isinstance(label, bool) else int(label)
    except (KeyError, TypeError, ValueError):
        return None


def _read_document(
    report: dict[str, Any],
) -> tuple[Any, Any, list[Finding], list[tuple[Point, int, float]]]:
    """(verdict, target, probe findings, search findings) of a `bdscan scan --json` document,
    read leniently: a finding that does not parse is left out, as a prior is only a hint."""
    try:
        xray = report["xray"]
        verdict, target = xray.get("verdict"), xray.get("target_label")
        evidence = xray.get("evidence", {}) or {}
    except (KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"scan report: no X-ray section ({e})") from None
    findings: list[Finding] = []
    for f in evidence.get("findings", []) or []:
        try:
            findings.append(
                (Probe.from_dict(f["probe"]), int(f["label"]), float(f["universality"]),
                 float(f["consistency"]))
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
    searched: list[tuple[Point, int, float]] = []
    for f in (evidence.get("search") or {}).get("findings") or []:
        try:
            searched.append((Point.from_dict(f), int(f["label"]), float(f["universality"])))
        except (KeyError, TypeError, ValueError):
            continue
    return verdict, target, findings, searched


# Magnitude multipliers each confirmed probe is also applied at: the probe found by X-ray is one
# member of a generic family that crosses the boundary; the real trigger may be stronger (SIG's
# test-time amplitude) or weaker (blend alpha), so the model is taught to ignore the family
# member over a range.
PROBE_SCALES = (0.6, 1.0, 1.6)
# Fractions a search finding's change is unlearned at: weakened (a stamp at part opacity), and,
# for a rotation, stronger too. The search keeps the least change that fires, so a planted
# rotation is larger than the turn found (11-26 degrees found for 15-60 degree triggers on the
# tenth fresh set); a stamp or tone curve has no stronger form.
FOUND_FRACTIONS = (0.6, 1.0)
TURN_FRACTIONS = (0.6, 1.0, 1.6, 2.4)
# A grating finding is unlearned turned either side and up to about the zoo's SIG test
# amplitude as well: the search's grid is 45 degrees apart and its descent keeps the least
# amplitude that fires, so the planted sine can lie 15 degrees off and at twice the amplitude
# (the thirty-fourth set's MobileNet). Stronger alone did not help (the thirty-first set's
# ResNet-8, docs/trigger-search.md "Gratings"); turned and stronger repaired the misses it was
# made for and cost a little ASR where the prior was already right (docs/remediation.md
# section 37). Hand-set.
GRATING_TURNS = (-15.0, 0.0, 15.0)
GRATING_FRACTIONS = (0.6, 1.0, 1.9)
# The training data's pattern (and its plane sine) is unlearned at the gratings' fractions of
# the least amplitude at which it fires: that amplitude is the least that fires, as a
# grating's is, and the planted trigger's test strength can be about twice its training one.
PATTERN_FRACTIONS = GRATING_FRACTIONS
# The largest opacity a blend is rebuilt at (`blend_opacities`): its read's largest change, 1.5
# times it, and twice it up to this cap.
BLEND_FORM_MAX = 0.5
# A stamp the search found spread over at least SPRINKLE_SPREAD of the image's side in few pixels
# (at most `mask_cost_max` of them) is a scattered-pixel trigger, or part of one: the network
# that answers it answered random sprinkles of white pixels too (that is how the search's sparse
# starts reach it), and the stamp is only the subset that fired on the search samples. So fresh
# random sprinkles of the stamp's values, at each of SPRINKLE_DENSITIES of the pixels, new
# positions for every image, are unlearned beside it (docs/remediation.md section 21).
SPRINKLE_SPREAD = 0.5
SPRINKLE_DENSITIES = (0.02, 0.06, 0.12)


def probe_triggers(
    prior: TriggerPrior,
    shape: tuple[int, int, int],
    scales: tuple[float, ...] = PROBE_SCALES,
    *,
    secondary: bool = False,
) -> list[Trigger]:
    """The prior's probes and search findings (`secondary`: its secondary probes and the
    sprinkles of its scattered stamps) as trigger functions on [0, 1] NHWC batches."""
    out: list[Trigger] = []
    for d in prior.secondary if secondary else prior.probes:
        probe = Probe.from_dict(d)
        if probe.family == "patch" and probe.position is not None:
            # A patch's size is tied to its position (a larger one would leave the image):
            # vary its stamp instead (random, checkerboard, white), since what the backdoored
            # model keys on is mostly the place.
            pos = tuple(probe.position[:2])
            for kind in range(3):
                p = Probe(probe.family, probe.strength, (*pos, kind), probe.seed, probe.magnitude)
                out.append(p.trigger(shape))
            continue
        base = probe.magnitude
        if base is None:
            base = MAGNITUDES[probe.family][probe.strength]
        for s in scales:
            p = Probe(probe.family, probe.strength, probe.position, probe.seed, base * s)
            out.append(p.trigger(shape))
    if not secondary:
        out += [_added(p.signal, p.amp * f) for p in prior.patterns for f in PATTERN_FRACTIONS]
        for pattern in prior.patterns:
            if pattern.mean is not None:
                out += [t for _, t in blend_forms(pattern.signal * pattern.amp, pattern.mean)]
    for i, d in enumerate(prior.found):
        point = Point.from_dict(d)
        if not secondary and point.space == "grating":
            for turn in GRATING_TURNS:
                angle = (float(point.params["angle"]) + turn) % 180
                turned = Point(point.space, {**point.params, "angle": angle})
                out += [_weakened(turned, s) for s in GRATING_FRACTIONS]
        elif not secondary:
            for s in TURN_FRACTIONS if _turn(point) else FOUND_FRACTIONS:
                out.append(_weakened(point, s))
        elif scattered(point):
            # With the secondary triggers: in the stamped pool, but not among the triggers
            # BURN's gate and radius are measured with, since a generic sprinkle is no confirmed
            # trigger (among them, the seen pixel nets repaired the same to the digit).
            values = np.asarray(point.params["values"], dtype=np.float32)
            out += [_sprinkle(dens, values, seed=i) for dens in SPRINKLE_DENSITIES]
    return out


def scattered(point: Point) -> bool:
    """A search stamp of few pixels spread over at least SPRINKLE_SPREAD of the image's side."""
    if point.space != "mask":
        return False
    pixels = np.asarray(point.params["pixels"], dtype=np.int64).reshape(-1, 2)
    h, w = (int(v) for v in point.params["shape"][:2])
    if len(pixels) < 2 or len(pixels) > value("mask_cost_max") * h * w:
        return False
    span = max(int(np.ptp(pixels[:, 0])) + 1, int(np.ptp(pixels[:, 1])) + 1)
    return span >= SPRINKLE_SPREAD * max(h, w)


def blend_opacities(amp: float) -> list[float]:
    """The opacities a blend read at `amp` is rebuilt at: amp, 1.5 amp and 2 amp up to
    `BLEND_FORM_MAX`, those at or above amp and under 1 (the image would be gone), ascending."""
    wanted = (amp, 1.5 * amp, min(2.0 * amp, BLEND_FORM_MAX))
    return sorted({round(a, 6) for a in wanted if amp <= a < 1.0})


def blend_forms(change: np.ndarray, mean: np.ndarray) -> list[tuple[float, Trigger]]:
    """A blend's change (HWC, a (P - m)) in its blend form x -> (1 - a) x + a P at each of
    `blend_opacities` of its largest |value|, P rebuilt as m + change / a (clipped to [0, 1]),
    `mean` the other classes' clean mean m; (opacity, trigger) pairs. Unclipped output."""
    amp = float(np.abs(change).max())
    if amp <= 0.0:
        return []
    out: list[tuple[float, Trigger]] = []
    for a in blend_opacities(amp):
        pattern = np.clip(mean + change / a, 0.0, 1.0).astype(np.float32)
        out.append((a, _blended(pattern, a)))
    return out


def _blended(pattern: np.ndarray, a: float) -> Trigger:
    def blend(x: np.ndarray) -> np.ndarray:
        return (1.0 - a) * x + a * pattern[None]

    return blend


def _added(signal: np.ndarray, amp: float) -> Trigger:
    def trigger(x: np.ndarray) -> np.ndarray:
        return np.clip(x + amp * signal[None], 0.0, 1.0).astype(np.float32)

    return trigger


def _sprinkle(density: float, values: np.ndarray, seed: int) -> Trigger:
    """Random pixels (`density` of each image's, new positions per image and call) set to
    values drawn from `values` (one row per pixel of the found stamp)."""
    rng = np.random.default_rng([seed, round(density * 1000)])

    def trigger(x: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=np.float32, copy=True)
        lit = rng.random(out.shape[:3]) < density
        picks = rng.integers(0, len(values), size=int(lit.sum()))
        out[lit] = values[picks]
        return out

    return trigger


def _turn(point: Point) -> bool:
    """A rotation small enough for the verdict to read as planted (`transform_cost_max`): the
    search's zooms (found for warp triggers), flips and large turns (natural sinks) keep the
    stamps' fractions, since what helps a small rotation was not measured on them."""
    return (
        point.space == "transform"
        and not point.params.get("flip")
        and float(point.params.get("angle", 0.0)) != 0.0
        and SPACES["transform"].cost(point.params) <= value("transform_cost_max")
    )


def found_turns(prior: TriggerPrior) -> list[Point]:
    """The rotations among the prior's search findings (`flags.turn_flags`)."""
    return [p for p in map(Point.from_dict, prior.found) if _turn(p)]


def found_stamps(prior: TriggerPrior) -> list[Point]:
    """The prior's search stamps small enough for the verdict to read as planted
    (`mask_cost_max`; `flags.despeckle_flags`)."""
    out = []
    for point in map(Point.from_dict, prior.found):
        if point.space == "mask":
            h, w = (int(v) for v in point.params["shape"][:2])
            if len(point.params["pixels"]) <= value("mask_cost_max") * h * w:
                out.append(point)
    return out


def _weakened(point: Any, fraction: float) -> Trigger:
    """A search point's change at `fraction` of its strength."""
    return lambda x: point.apply(x, fraction)


class ShortcutUnlearner:
    """`fine_tune`'s batch hook: stamp a trigger on part of each batch, true labels kept.

    Up to `share` of the batch (samples whose label is not the target, and that train at all)
    is stamped in place: half of them get a random probe trigger and the other half is shared
    by the synthesized triggers switched on (universal perturbation, universal warp); all of
    them go to the probes, or to the synthesized triggers, when only one side runs. Why in
    place rather than appended: the batch stays the size plain fine-tuning trains on, so an
    epoch costs the same plus the synthesized triggers' few input-gradient steps, and BURN
    stays within 2x of fine-tuning.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        shape: tuple[int, int, int],
        target: int | None,
        triggers: list[Trigger],
        share: float,
        universal: bool,
        eps: float,
        steps: int,
        step_size: float,
        device: torch.device,
        seed: int = 0,
        warp_px: float | None = None,
        warp_grid: int = 4,
        refit_every: int = 1,
        secondary: list[Trigger] | None = None,
    ) -> None:
        self.model = model
        self.target = target
        self.triggers = triggers
        # Stamped like the probes, from one pool with them, but kept apart so that BURN's
        # decisions that hang on X-ray's probes (the gate, the radius) do not see them.
        self.secondary = secondary or []
        self.share = share
        self.universal = universal
        self.eps = eps
        self.steps = steps
        self.step_size = step_size
        self.device = device
        self.delta = torch.zeros((1, *shape), device=device)
        self.rng = np.random.default_rng(seed)
        self.stamped = 0
        # Whether the universal perturbation may run at all (`universal`: whether it runs now;
        # BURN switches it by `residual_shortcut` when probes are there beside it).
        self.universal_allowed = universal
        # The universal warp: a smooth flow field on a `warp_grid` x `warp_grid` grid of control
        # points, at most `warp_px` pixels, pushed towards the target like the additive
        # perturbation. Off until BURN's gate switches it on (`warp`).
        self.warp_px = warp_px
        self.warp = False
        self.flow = torch.zeros((1, 2, warp_grid, warp_grid), device=device)
        # The synthesized triggers are re-fitted on one batch in `refit_every`; the batches
        # between reuse the last fit as it stands (the model moves little in one step).
        self.refit_every = max(1, int(refit_every))
        self.batches = 0

    @property
    def active(self) -> bool:
        return self.share > 0 and (bool(self._pool) or self.universal or self.warp)

    @property
    def _pool(self) -> list[Trigger]:
        return self.triggers + self.secondary if self.secondary else self.triggers

    def _refit_universal(
        self,
        xs: torch.Tensor,
        ys: torch.Tensor,
        steps: int | None = None,
        step_size: float | None = None,
    ) -> torch.Tensor:
        """A few signed-gradient steps on the shared perturbation against the current model."""
        req = [p.requires_grad for p in self.model.parameters()]
        for p in self.model.parameters():
            p.requires_grad_(False)
        try:
            d = self.delta.clone().requires_grad_(True)
            for _ in range(steps or self.steps):
                scores = self.model((xs + d).clamp(0.0, 1.0))
                if self.target is not None:
                    tgt = torch.full_like(ys, self.target)
                    loss = -nn.functional.cross_entropy(scores, tgt)
                else:
                    loss = nn.functional.cross_entropy(scores, ys)
                (g,) = torch.autograd.grad(loss, d)
                with torch.no_grad():
                    d += (step_size or self.step_size) * g.sign()
                    d.clamp_(-self.eps, self.eps)
            self.delta = d.detach()
        finally:
            for p, r in zip(self.model.parameters(), req, strict=True):
                p.requires_grad_(r)
        return (xs + self.delta).clamp(0.0, 1.0)

    def _fresh_rate(self, x: np.ndarray, attack: Callable[[torch.Tensor], torch.Tensor]) -> float:
        """The share of `x` that `attack`, starting from a zero perturbation and flow, sends to
        the target among those the model did not already put there; the training state
        (perturbation, flow, train mode) is left as it was."""
        if self.target is None or len(x) == 0:
            return 0.0
        was_training = self.model.training
        self.model.eval()
        saved = (self.delta, self.flow)
        try:
            xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            with torch.no_grad():
                base = self.model(xs).argmax(1) != self.target
            self.delta, self.flow = torch.zeros_like(saved[0]), torch.zeros_like(saved[1])
            xa = attack(xs)
            with torch.no_grad():
                hit = self.model(xa).argmax(1) == self.target
            n = int(base.sum())
            return float((hit & base).sum()) / n if n else 0.0
        finally:
            self.delta, self.flow = saved
            self.model.train(was_training)

    def residual_shortcut(self, x: np.ndarray, steps: int = 10) -> float:
        """How much of a shortcut to the target the model still has: the share of `x` (non-target
        training images, [0, 1] NHWC) that a fresh universal perturbation of radius `eps`,
        fitted with `steps` signed steps against the current model, sends to the target, among
        those the model did not already put there. 0 without a target."""

        def attack(xs: torch.Tensor) -> torch.Tensor:
            ys = torch.full((len(xs),), int(self.target or 0), dtype=torch.long, device=xs.device)
            return self._refit_universal(xs, ys, steps=steps, step_size=self.eps / 4)

        return self._fresh_rate(x, attack)

    def warped(self, xs: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """`xs` (NHWC) resampled along `flow` (control points, pixels), bilinear, borders kept."""
        n, h, w, _ = xs.shape
        field = nn.functional.interpolate(flow, size=(h, w), mode="bicubic", align_corners=True)
        rows = torch.linspace(-1.0, 1.0, h, device=xs.device)
        cols = torch.linspace(-1.0, 1.0, w, device=xs.device)
        gy, gx = torch.meshgrid(rows, cols, indexing="ij")
        # pixels -> grid_sample's [-1, 1] coordinates (align_corners=True: 2 / (size - 1))
        sx = gx + field[0, 0] * 2.0 / max(w - 1, 1)
        sy = gy + field[0, 1] * 2.0 / max(h - 1, 1)
        grid = torch.stack((sx, sy), dim=-1)[None].expand(n, h, w, 2)
        out = nn.functional.grid_sample(
            xs.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border", align_corners=True
        )
        return out.permute(0, 2, 3, 1)

    def _refit_warp(self, xs: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """A few signed-gradient steps on the shared flow field, towards the target."""
        assert self.warp_px is not None and self.target is not None
        req = [p.requires_grad for p in self.model.parameters()]
        for p in self.model.parameters():
            p.requires_grad_(False)
        try:
            f = self.flow.clone().requires_grad_(True)
            tgt = torch.full((len(xs),), self.target, dtype=torch.long, device=xs.device)
            for _ in range(steps or self.steps):
                loss = -nn.functional.cross_entropy(self.model(self.warped(xs, f)), tgt)
                (g,) = torch.autograd.grad(loss, f)
                with torch.no_grad():
                    f += (self.warp_px / 4) * g.sign()
                    f.clamp_(-self.warp_px, self.warp_px)
            self.flow = f.detach()
        finally:
            for p, r in zip(self.model.parameters(), req, strict=True):
                p.requires_grad_(r)
        return self.warped(xs, self.flow).detach()

    def residual_warp(self, x: np.ndarray, steps: int = 10) -> float:
        """`residual_shortcut` for the universal warp: the share of `x` a fresh flow field of at
        most `warp_px` pixels sends to the target, among those not already there."""
        if self.warp_px is None:
            return 0.0
        return self._fresh_rate(x, lambda xs: self._refit_warp(xs, steps))

    def __call__(
        self, xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        ok = torch.ones_like(yb, dtype=torch.bool)
        if self.target is not None:
            ok &= yb != self.target
        if wb is not None:
            ok &= wb > 0
        idx = torch.nonzero(ok).flatten()[: max(1, round(self.share * len(yb)))]
        if len(idx) == 0:
            return xb, yb, wb
        xs, ys = xb[idx], yb[idx]
        # Split: X-ray's probes (when there are any) keep half of the stamped samples, the
        # synthesized triggers that run now share the rest evenly. Why half: the probes are
        # what X-ray confirmed against this model; the synthesized triggers are generic. (Not
        # measured against thirds: on the zoo the two rarely ran together.)
        synth = [k for k, on in (("universal", self.universal), ("warp", self.warp)) if on]
        pool = self._pool
        n_probe = len(idx) if not synth else (len(idx) // 2 if pool else 0)
        if not pool and not synth:
            return xb, yb, wb
        rest = len(idx) - n_probe
        share = {k: rest // len(synth) + (i < rest % len(synth)) for i, k in enumerate(synth)}
        n_univ = share.get("universal", 0)
        parts = []
        if n_probe:
            xp = xs[:n_probe].detach().cpu().numpy()
            which = self.rng.integers(0, len(pool), size=n_probe)
            for t in np.unique(which):
                sel = which == t
                xp[sel] = np.clip(pool[t](xp[sel]), 0.0, 1.0)
            parts.append(torch.from_numpy(xp.astype(np.float32)).to(xb.device))
        refit = self.batches % self.refit_every == 0
        if n_univ:
            xu = xs[n_probe : n_probe + n_univ]
            if refit:
                parts.append(self._refit_universal(xu, ys[n_probe : n_probe + n_univ]))
            else:
                parts.append((xu + self.delta).clamp(0.0, 1.0))
        if share.get("warp", 0):
            xw = xs[n_probe + n_univ :]
            parts.append(self._refit_warp(xw) if refit else self.warped(xw, self.flow).detach())
        self.batches += 1
        self.stamped += len(idx)
        xb = xb.clone()
        xb[idx] = torch.cat(parts)
        return xb, yb, wb


@dataclass(frozen=True)
class SelfPrior:
    """BURN's own white-box check for a target, for when X-ray gave none (`find_target`).

    `rates[c]`: the share of non-c training images that a fresh universal perturbation towards
    c sends there; `warp_rates[c]` the same for a fresh universal warp (empty when not
    measured); `target`: the class that stands out, or None; `by`: which trigger found it
    ("perturbation", "warp" or "window"); `search`: the saliency-window search
    (`window.search_window`), when it ran.
    """

    rates: tuple[float, ...]
    warp_rates: tuple[float, ...]
    target: int | None
    by: str | None
    eps: float
    samples: int
    search: WindowSearch | None = None

    @property
    def window(self) -> PatchWindow | None:
        """The patch window that named the target, when the window search did."""
        return self.search.window if self.by == "window" and self.search is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rates": list(self.rates),
            "warp_rates": list(self.warp_rates),
            "target": self.target,
            "by": self.by,
            "eps": self.eps,
            "samples": self.samples,
            "window_search": self.search.to_dict() if self.search is not None else None,
        }


def standout(rates: list[float], min_rate: float, ratio: float, floor: float = 0.02) -> int | None:
    """The class whose rate is at least `min_rate` and `ratio` times every other's (each taken
    as at least `floor`, so that one stray hit against zeros is no evidence), else None."""
    if len(rates) < 2:
        return None
    order = np.argsort(rates)[::-1]
    top, second = float(rates[order[0]]), float(rates[order[1]])
    if top >= min_rate and top >= ratio * max(second, floor):
        return int(order[0])
    return None


def find_target(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    *,
    eps: float,
    warp_px: float | None,
    samples: int,
    min_rate: float,
    min_warp_rate: float,
    ratio: float,
    device: torch.device,
    seed: int = 0,
) -> SelfPrior:
    """Which class, if any, a small universal trigger reaches from every other class.

    For each class c a fresh universal perturbation (L-inf `eps`) and, with `warp_px`, a fresh
    universal warp are fitted towards c on `samples` training images not labelled c; a class
    is the target when its rate stands out (`standout`). Why a white-box check here: X-ray
    queries hard labels and misses some backdoors that gradients find at once. Why relative and
    at a small radius: clean models have natural sinks that a larger universal perturbation
    reaches from most classes, so no absolute bar separates them from a trigger; at a small
    radius a target stands out both in its rate and against the next class. The figures behind
    both, and the models the thresholds were chosen on: docs/remediation.md, part 1
    (`benchmarks/self_prior.py`).
    """
    shape = tuple(int(v) for v in x.shape[1:])
    un = ShortcutUnlearner(
        model, shape=shape, target=0, triggers=[], share=0.0, universal=True, eps=eps,  # type: ignore[arg-type]
        steps=1, step_size=eps / 4, device=device, warp_px=warp_px,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    rates: list[float] = []
    warp_rates: list[float] = []
    for c in range(num_classes):
        pool = np.flatnonzero(y != c)
        pick = pool[rng.permutation(len(pool))[:samples]]
        un.target = c
        rates.append(round(un.residual_shortcut(x[pick]), 4))
        if warp_px is not None:
            warp_rates.append(round(un.residual_warp(x[pick]), 4))
    target, by = standout(rates, min_rate, ratio), "perturbation"
    if warp_rates:
        w = standout(warp_rates, min_warp_rate, ratio)
        if w is not None and (target is None or warp_rates[w] > rates[target]):
            target, by = w, "warp"
    return SelfPrior(
        tuple(rates), tuple(warp_rates), target, by if target is not None else None, eps, samples
    )


def patch_region(prior: TriggerPrior, shape: tuple[int, int, int]) -> np.ndarray | None:
    """The pixels (H, W) the prior's patch probes cover, or None when it has no patch probe.

    Found by stamping each patch probe on a grey image: its stamp is binary, so exactly the
    pixels it covers change.
    """
    regions = [_covered(d, shape) for d in prior.probes if d.get("family") == "patch"]
    region = np.logical_or.reduce(regions) if regions else None
    return region if region is not None and region.any() else None


def patch_regions(prior: TriggerPrior, shape: tuple[int, int, int]) -> list[np.ndarray]:
    """Each of the prior's patch probes' pixels (H, W), grown by one pixel on every side (a
    patch on the probes' grid can miss a trigger's last row or column), duplicates dropped:
    the regions `flags.stamp_region` chooses from for an all-to-all prior."""
    out: list[np.ndarray] = []
    for d in prior.probes:
        if d.get("family") != "patch":
            continue
        region = dilate(_covered(d, shape))
        if not any(np.array_equal(region, r) for r in out):
            out.append(region)
    return out


def _covered(probe: dict[str, Any], shape: tuple[int, int, int]) -> np.ndarray:
    grey = np.full((1, *shape), 0.5, dtype=np.float32)
    stamped = Probe.from_dict(probe).trigger(shape)(grey)
    return np.asarray((stamped[0] != 0.5).any(-1))


def dilate(region: np.ndarray) -> np.ndarray:
    """`region` (H, W, bool) grown by one pixel up, down, left and right."""
    out = region.copy()
    out[1:] |= region[:-1]
    out[:-1] |= region[1:]
    out[:, 1:] |= region[:, :-1]
    out[:, :-1] |= region[:, 1:]
    return out
