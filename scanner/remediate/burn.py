"""BURN: backdoor unlearning via adversarial boundary analysis (Su et al., arXiv 2507.10491).

Only the paper's abstract is public; this is the project's reconstruction (docs/remediation.md,
part 1):

Phase 1. Every training sample's boundary distance under the backdoored model f0 (a batched
  L-inf attack, `boundary.py`) and the class its perturbation crosses into. Within each class
  (samples the model fits: prediction == given label) a two-component mixture over (log
  distance, adversarial label) separates clean samples, which cross into a few neighbour
  classes, from poisoned ones, which fall back to their source classes, spread over all others,
  and whose distance is abnormal. Measured here: abnormally *far* for patch triggers (BadNets),
  as the abstract says, but abnormally *close* for blend and warp triggers under L-inf, so the
  distance term is two-sided. A class whose poison weight is an outlier among the classes is
  suspect (X-ray's target label, when given, is a prior: only it is searched, with a lower bar);
  its poison-component samples are flagged and relabelled with the class their perturbation
  crossed into, and f0 is fine-tuned on the relabelled set ("false correlation decoupling").
  With no target from X-ray or BURN's own check, a suspect class must also hold more samples
  than the others (where a dirty-label attack puts its poison); a lone one becomes the target.
Phase 2. Feedback rounds k = 1..K between f0 and the sanitised fk: a sample of a suspect class
  that f0 fitted firmly (distance above its class's clean mean) but fk labels differently joins
  the flagged set with fk's label; a flagged sample that fk gives its original label again is
  unflagged; a class's flags stay within its count's excess over the others' (`excess_room`).
  Fine-tune again; stop when fewer than `stop_change` of the samples change, or after
  `max_rounds`.
All fine-tuning epochs (phase 1 plus rounds) count against one budget, `epochs`, so BURN is
compared with plain fine-tuning at equal epochs.

Beside the phases: the settings (`config.py`), BURN's own target check and the trigger
unlearning that runs during every fine-tuning stage (`shortcut.py`, `prior.py`, `window.py`),
and the flags that come from direct evidence rather than the mixture (`flags.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.boundary import BoundaryResult, boundary_distance
from scanner.remediate.config import BurnConfig
from scanner.remediate.flags import (
    despeckle_flags,
    occlusion_flags,
    resampling_flags,
    softmax_max,
    stamp_flags,
    stamp_region,
    turn_flags,
    unblend_flags,
)
from scanner.remediate.prior import (
    SelfPrior,
    Trigger,
    TriggerPrior,
    found_stamps,
    found_turns,
    patch_region,
    patch_regions,
)
from scanner.remediate.record import TargetCorrection
from scanner.remediate.runtime import PhaseClock, fine_tune, predict_scores
from scanner.remediate.shortcut import (
    UniversalGate,
    locate_window,
    make_unlearner,
    needs_own_check,
    own_target_check,
    reads_all_to_all,
    unlearning_summary,
    warp_px_for,
)
from scanner.remediate.window import WindowSearch, transplant_trigger

# Re-exported: BURN's callers (the API, benchmarks, tests) take its settings from here.
__all__ = [
    "BurnConfig",
    "BurnResult",
    "ClassSplit",
    "FeedbackStep",
    "RoundStats",
    "attack_mask",
    "feedback_update",
    "fit_poison_mixture",
    "flag_samples",
    "run_burn",
]


@dataclass(frozen=True)
class ClassSplit:
    """The poison mixture fitted to one class (samples the model fits)."""

    label: int
    samples: int
    poison_share: float
    count_z: float
    clean_distance: float
    poison_distance: float
    flagged: int
    suspect: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoundStats:
    """One fine-tuning round: round 0 is phase 1."""

    round: int
    flagged: int
    quarantined: int
    added: int
    lifted: int
    relabelled: int
    disagreements: int
    epochs: float
    loss: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class BurnResult:
    flagged: np.ndarray  # indices into the training set
    restored: np.ndarray  # their restored labels, aligned with `flagged`
    flagged_phase1: np.ndarray  # the flags before any feedback round
    suspects: tuple[int, ...]
    classes: tuple[ClassSplit, ...]
    rounds: tuple[RoundStats, ...]
    boundary: BoundaryResult
    epochs_used: float
    unlearning: dict[str, Any] = field(default_factory=dict)  # the report's research record
    # BURN's own target check, when it ran (no target given) or overruled the prior's target.
    self_prior: SelfPrior | None = None
    correction: TargetCorrection | None = None


def fit_poison_mixture(
    logd: np.ndarray,
    adv: np.ndarray,
    label: int,
    num_classes: int,
    *,
    sd_floor: float = 0.05,
    iters: int = 200,
) -> tuple[np.ndarray, float, tuple[float, float], tuple[float, float]]:
    """Two-component mixture over one class's samples: (log-distance, adversarial label).

    Clean component: a free categorical over adversarial labels (a clean sample crosses into a
    few natural neighbour classes) times a Gaussian on log-distance. Poison component: a uniform
    categorical over the other classes (an all-to-one attack draws its sources from every other
    class, and a poisoned sample falls back to its source) times its own Gaussian, whose mean
    may lie above the clean one (patch triggers) or below it (blend and warp triggers, measured
    here under L-inf). EM from a deterministic start: samples whose adversarial label is rare
    in the class (< 10% of it) start as poison. Returns (poison posterior per sample, poison
    weight, (clean, poison) mean distances, (clean, poison) log-distance std).
    """
    logd = np.asarray(logd, dtype=np.float64)
    k = num_classes
    counts = np.bincount(adv, minlength=k).astype(np.float64)
    resp = np.where(counts[adv] / max(len(adv), 1) < 0.1, 0.9, 0.1)
    uniform = np.full(k, 1.0 / max(k - 1, 1))
    uniform[label] = 1e-12
    mu = np.zeros(2)
    sd = np.ones(2)
    pi = 0.5
    for _ in range(iters):
        w1, w0 = resp, 1.0 - resp
        pi = float(np.clip(w1.mean(), 1e-4, 1 - 1e-4))
        # Add-half smoothing keeps an unseen label from having zero clean probability.
        q = (np.bincount(adv, weights=w0, minlength=k) + 0.5) / (w0.sum() + 0.5 * k)
        for j, w in enumerate((w0, w1)):
            tot = max(w.sum(), 1e-9)
            mu[j] = (w * logd).sum() / tot
            sd[j] = max(np.sqrt((w * (logd - mu[j]) ** 2).sum() / tot), sd_floor)
        l0 = np.log(1 - pi) + np.log(q[adv]) - 0.5 * ((logd - mu[0]) / sd[0]) ** 2 - np.log(sd[0])
        l1 = np.log(pi) + np.log(uniform[adv]) - 0.5 * ((logd - mu[1]) / sd[1]) ** 2
        l1 -= np.log(sd[1])
        new = 1.0 / (1.0 + np.exp(np.clip(l0 - l1, -50, 50)))
        converged = np.abs(new - resp).max() < 1e-6
        resp = new
        if converged:
            break
    means = (float(np.exp(mu[0])), float(np.exp(mu[1])))
    return resp, float(resp.mean()), means, (float(sd[0]), float(sd[1]))


def attack_mask(y: np.ndarray, config: BurnConfig, target_prior: int | None) -> np.ndarray | None:
    """The samples phase 1 must measure: with a target and `prior_only`, only that class's
    (the only class `flag_samples` fits); otherwise every sample (None).

    Why: the attack was half of fine-tuning's time (median over the zoo) and, with a target,
    nine tenths of it measured classes no flag can come from.
    """
    if target_prior is None or not config.prior_only:
        return None
    return np.asarray(y) == target_prior


def flag_samples(
    distance: np.ndarray,
    adv_label: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    config: BurnConfig,
    target_prior: int | None,
    allowed: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[ClassSplit]]:
    """Phase 1 flags (a bool mask), poison posteriors (0 outside suspect classes), mixtures.

    A class is suspect when its poison weight is large enough (>= `suspect_min_share`) and its
    expected count of poison-like samples is an outlier among the classes (robust z >=
    `suspect_min_z`, median/MAD), or, for X-ray's target label, when its weight reaches
    `prior_min_share`. Only suspect classes get flags; with `allowed`, only those labels may be
    suspect.
    """
    flags = np.zeros(len(y), dtype=bool)
    posterior = np.zeros(len(y), dtype=np.float64)
    logd = np.log(np.maximum(distance, 1e-4))
    fits: dict[int, tuple[np.ndarray, np.ndarray, float, tuple[float, float]]] = {}
    classes = list(range(num_classes))
    if target_prior is not None and config.prior_only:
        classes = [target_prior]
    for c in classes:
        members = np.flatnonzero((y == c) & (pred == c))
        if len(members) < config.min_class_samples:
            continue
        post, share, means, _ = fit_poison_mixture(
            logd[members], adv_label[members], c, num_classes, sd_floor=config.sd_floor
        )
        fits[c] = (members, post, share, means)
    # Expected poison-like count per class: an all-to-one attack adds every poisoned sample to
    # one class, so that class's count stands out even where its share is modest (5% poisoning).
    counts = np.array([f[1].sum() for f in fits.values()]) if fits else np.zeros(0)
    med = float(np.median(counts)) if len(counts) else 0.0
    mad = float(np.median(np.abs(counts - med))) * 1.4826 if len(counts) else 0.0
    splits: list[ClassSplit] = []
    for c, (members, post, share, means) in fits.items():
        z = (post.sum() - med) / max(mad, 1.0) if len(counts) > 2 else float("inf")
        if c == target_prior:
            suspect = share >= config.prior_min_share
        else:
            suspect = share >= config.suspect_min_share and z >= config.suspect_min_z
        if allowed is not None and c not in allowed:
            suspect = False
        chosen = members[post >= config.posterior_min]
        if suspect:
            flags[chosen] = True
            posterior[members] = post
        splits.append(
            ClassSplit(
                label=int(c),
                samples=len(members),
                poison_share=round(share, 4),
                count_z=round(float(min(z, 1e6)), 3),
                clean_distance=round(means[0], 5),
                poison_distance=round(means[1], 5),
                flagged=len(chosen) if suspect else 0,
                suspect=bool(suspect),
            )
        )
    return flags, posterior, splits


def run_burn(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int,
    config: BurnConfig,
    device: torch.device,
    generator: torch.Generator,
    clock: PhaseClock,
    target_prior: int | None = None,
    trigger_prior: TriggerPrior | None = None,
    sit_out: np.ndarray | None = None,
    sit_out_unflagged: np.ndarray | None = None,
) -> BurnResult:
    """Run BURN on `model` in place with training images `x` ([0, 1] NHWC) and labels `y`.

    `target_prior`: X-ray's target label; `trigger_prior`: X-ray's confirmed probes (and its
    target, which `target_prior` overrides when both are given); `sit_out`: samples that never
    train, whatever the feedback rounds decide (the training data's pattern carriers);
    `sit_out_unflagged`: samples that train only while flagged, with the flag's label (the
    training data's blend carriers: other classes' images under the target's label).
    """
    held_out = np.zeros(len(y), dtype=bool) if sit_out is None else np.asarray(sit_out, bool)
    held_soft = (
        np.zeros(len(y), dtype=bool)
        if sit_out_unflagged is None
        else np.asarray(sit_out_unflagged, bool)
    )
    # Without a target from X-ray (none given, or its scan missed the backdoor) BURN looks for
    # one itself; an all-to-all report (probes but no single target) is left as X-ray read it.
    self_prior: SelfPrior | None = None
    correction: TargetCorrection | None = None
    if needs_own_check(config, target_prior, trigger_prior):
        with clock.phase("self-prior"):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            self_prior = own_target_check(model, x, y, num_classes, config, device, seed)
        target_prior = self_prior.target
    elif config.verify_target and target_prior is not None:
        with clock.phase("verify-target"):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            check = own_target_check(model, x, y, num_classes, config, device, seed)
        if check.target is not None and check.target != target_prior:
            correction = TargetCorrection(
                given=int(target_prior),
                found=int(check.target),
                by=str(check.by),
                rates=check.rates,
                warp_rates=check.warp_rates,
            )
            # The prior's probes stand for the label it named: they go with it.
            target_prior, trigger_prior, self_prior = int(check.target), None, check
        elif trigger_prior is not None and config.promote_min_excess is not None:
            counted = counted_target(
                int(target_prior), trigger_prior, y, num_classes, config.promote_min_excess
            )
            if counted is not None:
                correction = TargetCorrection(
                    given=int(target_prior),
                    found=counted,
                    by="counts",
                    rates=check.rates,
                    warp_rates=check.warp_rates,
                )
                # The runner-up's own changes are its prior: without them a first round aimed
                # right left the trigger in place (section 39).
                target_prior = counted
                trigger_prior = trigger_prior.turned_to(target_prior)
    with clock.phase("boundary"):
        bnd = boundary_distance(
            model,
            x,
            device=device,
            step=config.attack_step,
            max_steps=config.attack_max_steps,
            batch_size=config.attack_batch,
            only=attack_mask(y, config, target_prior),
        )
    with clock.phase("flag"):
        flags, posterior, splits = flag_samples(
            bnd.distance, bnd.adv_label, y, bnd.pred, num_classes, config, target_prior
        )
        suspects = tuple(s.label for s in splits if s.suspect)
        promoted: int | None = None
        bar = config.promote_min_excess
        # The label counts name a poisoned label only in a set balanced but for that label.
        unbalanced = bar is not None and not counts_speak(y, num_classes, bar)
        if (
            target_prior is None
            and not reads_all_to_all(trigger_prior)
            and bar is not None
            and not unbalanced
        ):
            # Neither X-ray nor BURN's own check named a target. A dirty-label all-to-one
            # attack adds its poison to the target's count, so a suspect class of the mixture
            # that holds more samples than the others is read twice over: alone, it is taken as
            # the target, and the repair runs as with a prior (window, stamp, unlearning); a
            # suspect without that excess is clean or clean-label, where relabelling its
            # samples repairs nothing (docs/remediation.md section 36).
            held = with_excess(suspects, y, num_classes, bar)
            if len(held) == 1:
                promoted = target_prior = held[0]
            if promoted is not None or (config.drop_without_excess and held != suspects):
                flags, posterior, splits = flag_samples(
                    bnd.distance, bnd.adv_label, y, bnd.pred, num_classes, config, target_prior,
                    allowed=None if promoted is not None else held,
                )  # fmt: skip
                suspects = tuple(s.label for s in splits if s.suspect)
        # Uncertain samples of a suspect class sit out training until a feedback round
        # decides them: trained with the target label they would keep teaching the backdoor.
        quarantine = _quarantine(flags, posterior, y, suspects, config)
        labels = y.copy()
        labels[flags] = bnd.adv_label[flags]
        n_occluded = 0
        n_stamped = 0
        # Samples whose label the occlusion test tied to a patch trigger: phase 2 never lifts
        # their flags (see `feedback_update`).
        pinned = np.zeros_like(flags)
        # Where a patch trigger sits: X-ray's patch probes, or the window BURN's own check
        # found. A poisoned sample's label depends on those pixels, a clean one's (mostly
        # background there) does not. This finds dirty-label poison that the boundary mixture
        # misses (all-to-all, 1%, a Trojan logo).
        window = self_prior.window if self_prior is not None else None
        located: WindowSearch | None = None
        if window is None and target_prior is not None and config.locate_window:
            # Seeded apart from `generator`: where no window is found, the repair draws
            # exactly what it drew before this step existed.
            located = locate_window(
                model, x, y, bnd.pred, target_prior, num_classes, config, device, seed=0
            )
            window = located.window
        shape = (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))
        target = target_prior
        if target is None and trigger_prior is not None:
            target = trigger_prior.target
        # An all-to-all prior (patch probes, no target): one of its patches, grown by a pixel,
        # the one whose occlusion-freed samples most often hold the stamp they share
        # (`flags.stamp_region`); None: the union of its patches, as for a target.
        chosen = None
        if trigger_prior is not None and target is None and config.stamp_all_to_all:
            chosen = stamp_region(
                model, x, y, bnd.pred, patch_regions(trigger_prior, shape), config, device
            )
        mixture_set_aside = chosen is not None
        freed_share: float | None = None
        if chosen is not None:
            # The stamp finds the poison directly (all of it on the 13 all-to-all nets of sets
            # 22-25); the mixture's suspect classes, read class by class where all-to-all poison
            # spreads over every class, flagged clean samples beside it (4.7% of a ResNet-8's,
            # 3 points of accuracy), docs/remediation.md section 34.
            flags[:] = False
            quarantine[:] = False
            labels = y.copy()
            suspects = ()
        region = None
        if window is not None:
            region = window.region(shape[:2])
        if trigger_prior is not None:
            probed = chosen[0] if chosen is not None else patch_region(trigger_prior, shape)
            if probed is not None:
                region = probed if region is None else region | probed
        extra: list[Trigger] = []
        if region is not None:
            if chosen is not None and window is None:  # its occlusion test has run
                occluded, occ_label = chosen[1], chosen[2]
            else:
                occluded, occ_label = occlusion_flags(
                    model, x, y, bnd.pred, region, target, config, device
                )
            pinned = occluded & config.pin_occluded
            stamped, st_label = np.zeros_like(flags), y
            if target is not None or chosen is not None:
                # Read in the located window where there is one: the probes' patches beside it
                # can sit elsewhere, where background the freed samples share would read as
                # part of the stamp (measured: 5 of 10 "stamp" pixels on a ResNet-8 BadNets).
                where = region if window is None else window.region(shape[:2])
                stamped, st_label, freed_share = stamp_flags(
                    model, x, y, occluded, where, target, config, device
                )
                pinned |= stamped & config.pin_occluded
            gate_share = config.mixture_set_aside_share
            if (
                chosen is None
                and gate_share is not None
                and stamped.any()
                and freed_share is not None
                and freed_share >= gate_share
            ):
                # An all-to-one prior whose stamp the freed samples nearly all hold is the
                # trigger itself, and its holders are the poison: on 23 seen patch, line and
                # Trojan nets they held 99.6% of it, while the mixture's flags beside them were
                # clean target samples (1,567 of 1,572; 441 on one SE-ResNet, 5.7 points of
                # accuracy). docs/remediation.md section 35.
                mixture_set_aside = True
                flags[:] = False
                quarantine[:] = False
                labels = y.copy()
                suspects = ()
            n_occluded = _add_flags(flags, labels, occluded, occ_label)
            n_stamped = _add_flags(flags, labels, stamped, st_label)
            quarantine &= ~flags
            transplant = located is None or config.locate_transplant
            if window is not None and occluded.any() and transplant:
                # No probe stands for this trigger: what the window held on the samples it
                # freed is the trigger, pasted onto clean samples that keep their labels.
                # Given the right target alone (perturbation and warp), BURN left a Trojan
                # logo at ASR 0.67.
                seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
                margin = round(config.window_transplant_margin * min(x.shape[1:3]) / 28)
                extra.append(transplant_trigger(x[occluded], window, margin, seed=seed))
        unlearner = make_unlearner(
            model, x, config, device, generator, target_prior, trigger_prior, extra
        )
        if self_prior is not None and self_prior.by == "warp":
            # Found by the warp: unlearn it from the start (no probes, so no gate).
            unlearner.warp_px, unlearner.warp = warp_px_for(config, x), True
        gate = UniversalGate(unlearner, x, y, config, generator)
        n_resampled = 0
        if config.resample_flags and unlearner.warp and unlearner.target is not None:
            # The model as given has a warp shortcut to the target (the stage-0 check, or BURN's
            # own check found it by the warp): its poison may be warp-triggered, and a warp
            # trigger does not survive resampling noise (WaNet even trains its models to
            # reject noisy warps), while a clean target sample keeps its label.
            res, res_label = resampling_flags(
                model, x, y, bnd.pred, unlearner.target, config, device, generator
            )
            n_resampled = _add_flags(flags, labels, res, res_label)
            quarantine &= ~flags
        n_turned = 0
        turn_target = None if trigger_prior is None else trigger_prior.target
        turns = found_turns(trigger_prior) if trigger_prior is not None else []
        if (
            config.turn_flags
            and turns
            and turn_target is not None
            and (target_prior in (None, turn_target))
        ):
            # The search's turns go to the prior's target: undone, a poisoned sample is its
            # source image again. Pinned like the occlusion flags (direct evidence).
            turned, turn_label = turn_flags(
                model, x, y, bnd.pred, turns, turn_target, config, device
            )
            n_turned = _add_flags(flags, labels, turned, turn_label)
            pinned |= turned & config.pin_occluded
            quarantine &= ~flags
        n_despeckled = 0
        n_doubted = 0
        if (
            config.despeckle_flags
            and trigger_prior is not None
            and turn_target is not None
            and target_prior in (None, turn_target)
            and found_stamps(trigger_prior)
        ):
            # The search's stamp to the prior's target may be other pixels than the planted
            # ones (scattered-pixel nets answer many); removing every isolated pixel needs
            # no stamp. Pinned like the occlusion flags (direct evidence).
            speckled, speckle_label, doubts = despeckle_flags(
                model, x, y, bnd.pred, turn_target, config, device
            )
            n_despeckled = _add_flags(flags, labels, speckled, speckle_label)
            pinned |= speckled & config.pin_occluded
            quarantine &= ~flags
            if config.despeckle_quarantine:
                # Moved off the target, but to no label the model is sure of: trained as the
                # target they would keep teaching the trigger, so they sit out until a feedback
                # round decides them (released if the repaired model keeps them on the target).
                n_doubted = int((doubts & ~flags & ~quarantine).sum())
                quarantine |= doubts & ~flags
        n_unblended = 0
        if (
            config.unblend_flags
            and trigger_prior is not None
            and target is None
            and reads_all_to_all(trigger_prior)
            and not patch_regions(trigger_prior, shape)
        ):
            # All-to-all through global probes alone: no stamp to find, no target to test
            # samples of. A blend trigger undone, a poisoned sample is its source image again.
            unblended, ub_label = unblend_flags(
                model, x, y, bnd.pred, config.unblend_alphas, config, device
            )
            n_unblended = _add_flags(flags, labels, unblended, ub_label)
            pinned |= unblended & config.pin_occluded
            quarantine &= ~flags
        phase1 = np.flatnonzero(flags)

    rounds: list[RoundStats] = []
    budget = config.epochs
    epochs = min(config.phase1_epochs, budget)
    with clock.phase("finetune"):
        losses = fine_tune(
            model,
            x,
            labels,
            epochs=epochs,
            settings=config.train,
            device=device,
            generator=generator,
            sample_weight=_weights(
                flags, quarantine | held_out | (held_soft & ~flags), config, unlearner.active
            ),
            augment=unlearner if unlearner.active else None,
        )
    used = epochs
    n_flag = int(flags.sum())
    rounds.append(
        RoundStats(
            0,
            n_flag,
            int(quarantine.sum()),
            n_flag,
            0,
            0,
            0,
            epochs,
            losses[-1] if losses else float("nan"),
        )
    )

    pred0 = bnd.pred
    suspect_mask = np.isin(y, np.asarray(suspects, dtype=np.int64))
    room: np.ndarray | None = None
    if reads_all_to_all(trigger_prior) and unlearner.target is None:
        # X-ray saw a trigger but no single target (all-to-all): poison may carry any label.
        suspect_mask[:] = True
    elif config.cap_adds_at_excess:
        room = excess_room(y, flags, num_classes)
    for k in range(1, config.max_rounds + 1):
        if used >= budget - 1e-9 or not suspect_mask.any():
            break
        with clock.phase(f"feedback{k}"):
            scores_k = predict_scores(model, x, device, batch_size=config.attack_batch)
            pred_k = scores_k.argmax(1)
            conf_k = softmax_max(scores_k)
            step = feedback_update(
                flags,
                quarantine,
                labels,
                y,
                pred0,
                pred_k,
                conf_k,
                suspect_mask,
                add_min_confidence=(
                    config.add_min_confidence_unlearning
                    if unlearner.active
                    else config.add_min_confidence
                ),
                lift_min_confidence=config.lift_min_confidence if config.lift_flags else None,
                pinned=pinned,
                room=room,
            )
            if room is not None:
                room = room - np.bincount(y[step.add], minlength=num_classes)
            flags, quarantine, labels = step.flags, step.quarantine, step.labels
            add, lift, relabel = step.add, step.lift, step.relabel
            change = step.change
        epochs = min(config.round_epochs, budget - used)
        with clock.phase(f"gate{k}"):
            gate.check(k)
        with clock.phase(f"finetune{k}"):
            losses = fine_tune(
                model,
                x,
                labels,
                epochs=epochs,
                settings=config.train,
                device=device,
                generator=generator,
                sample_weight=_weights(
                    flags, quarantine | held_out | (held_soft & ~flags), config, unlearner.active
                ),
                augment=unlearner if unlearner.active else None,
            )
        used += epochs
        rounds.append(
            RoundStats(
                k,
                int(flags.sum()),
                int(quarantine.sum()),
                int(add.sum()),
                int(lift.sum()),
                int(relabel.sum()),
                int((pred_k != pred0).sum()),
                epochs,
                losses[-1] if losses else float("nan"),
            )
        )
        if change <= config.stop_change * len(y):
            break
    if unlearner.active and used < budget - 1e-9:
        # The flags have settled (or there were no suspects: a clean-label attack leaves no
        # mislabelled samples to find), but the trigger is still being unlearned: spend the
        # rest of the epoch budget on it, so BURN and plain fine-tuning train equally long.
        epochs = budget - used
        with clock.phase("gate"):
            gate.check(len(rounds))
        with clock.phase("unlearn"):
            losses = fine_tune(
                model,
                x,
                labels,
                epochs=epochs,
                settings=config.train,
                device=device,
                generator=generator,
                sample_weight=_weights(
                    flags, quarantine | held_out | (held_soft & ~flags), config, unlearner.active
                ),
                augment=unlearner,
            )
        used += epochs
        rounds.append(
            RoundStats(
                len(rounds),
                int(flags.sum()),
                int(quarantine.sum()),
                0,
                0,
                0,
                0,
                epochs,
                losses[-1] if losses else float("nan"),
            )
        )
    flagged = np.flatnonzero(flags)
    return BurnResult(
        flagged=flagged,
        restored=labels[flagged],
        flagged_phase1=phase1,
        suspects=tuple(int(s) for s in suspects),
        classes=tuple(splits),
        rounds=tuple(rounds),
        boundary=bnd,
        epochs_used=used,
        unlearning={
            **unlearning_summary(unlearner, gate, self_prior),
            "target_correction": None if correction is None else correction.to_dict(),
            "occlusion_flags": n_occluded,
            "resampling_flags": n_resampled,
            "stamp_flags": n_stamped,
            # The mixture's flags were set aside: an all-to-all prior's stamp was found, or an
            # all-to-one prior's stamp is held by `stamp_freed_share` (>= the setting) of the
            # samples the occlusion test freed (0.0: no stamp flagged; None: the stamp test did
            # not run).
            "mixture_set_aside": mixture_set_aside,
            # The mixture's one suspect with a count excess, taken as the target (`with_excess`).
            "promoted_suspect": promoted,
            # Several labels hold a count excess (`counts_speak`): the counts were not read.
            "counts_unbalanced": unbalanced,
            "stamp_freed_share": None if freed_share is None else round(freed_share, 4),
            "turn_flags": n_turned,
            "despeckle_flags": n_despeckled,
            "despeckle_quarantined": n_doubted,
            "pattern_sit_out": int(held_out.sum()),
            "blend_sit_out": int(held_soft.sum()),
            "unblend_flags": n_unblended,
            "located_window": None if located is None else located.to_dict(),
        },
        self_prior=self_prior,
        correction=correction,
    )


@dataclass(frozen=True)
class FeedbackStep:
    """One feedback round's new flag state, and what moved: `add` (newly flagged), `lift`
    (unflagged, original label back), `relabel` (flagged, new restored label), `released`
    (back from quarantine)."""

    flags: np.ndarray
    quarantine: np.ndarray
    labels: np.ndarray
    add: np.ndarray
    lift: np.ndarray
    relabel: np.ndarray
    released: np.ndarray

    @property
    def change(self) -> int:
        return int(self.add.sum() + self.lift.sum() + self.released.sum())


def feedback_update(
    flags: np.ndarray,
    quarantine: np.ndarray,
    labels: np.ndarray,
    y: np.ndarray,
    pred0: np.ndarray,
    pred_k: np.ndarray,
    conf_k: np.ndarray,
    suspect_mask: np.ndarray,
    *,
    add_min_confidence: float,
    lift_min_confidence: float | None,
    pinned: np.ndarray | None = None,
    room: np.ndarray | None = None,
) -> FeedbackStep:
    """Phase 2's rule: compare the original model's labels (`pred0`) and the given ones (`y`)
    with the sanitised model's (`pred_k`, softmax confidence `conf_k`). Inputs are not changed.

    - add: an unflagged sample of a suspect class that the original model fitted and the
      sanitised one now labels otherwise, decisively (`add_min_confidence`). Where the two
      disagree on a sample f0 fitted, fk has unlearned something there; a clean hard sample
      fk merely misses stays as it is.
    - relabel: a flagged sample that the sanitised model decisively gives yet another label.
    - lift (`lift_min_confidence` None: never): a flagged sample the sanitised model gives its
      original label again, at that confidence, although it trained on the restored one;
      never a `pinned` one.
    - released: a quarantined sample the sanitised model gives its original label.
    `room` (None: no cap): how many more flags each given label may take this round
    (`excess_room`); where a class's adds exceed it, the most confident ones are kept.
    """
    differs = pred_k != y
    decisive = differs & (conf_k >= add_min_confidence)
    add = ~flags & suspect_mask & (pred0 == y) & decisive
    if room is not None:
        add = _within_room(add, y, conf_k, room)
    if lift_min_confidence is None:
        lift = np.zeros_like(flags)
    else:
        lift = flags & ~differs & (conf_k >= lift_min_confidence)
        if pinned is not None:
            lift &= ~pinned
    relabel = flags & decisive & (pred_k != labels)
    released = quarantine & ~differs
    new_labels = labels.copy()
    new_labels[add | relabel] = pred_k[add | relabel]
    new_labels[lift] = y[lift]
    return FeedbackStep(
        flags=(flags | add) & ~lift,
        quarantine=quarantine & ~(released | add),
        labels=new_labels,
        add=add,
        lift=lift,
        relabel=relabel,
        released=released,
    )


def label_excess(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Per label, its sample count less the median of the other labels' counts (float)."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    if num_classes < 2:
        return np.zeros(num_classes)
    return np.array([counts[c] - np.median(np.delete(counts, c)) for c in range(num_classes)])


def with_excess(
    labels: tuple[int, ...], y: np.ndarray, num_classes: int, bar: float
) -> tuple[int, ...]:
    """The `labels` whose sample count exceeds the median of the other labels' by at least
    `bar` of that median."""
    counts = np.bincount(y, minlength=num_classes)
    excess = label_excess(y, num_classes)
    kept = []
    for c in labels:
        median = float(np.median(np.delete(counts, c))) if num_classes > 1 else 0.0
        if median > 0 and excess[c] >= bar * median:
            kept.append(int(c))
    return tuple(kept)


def counted_target(
    named: int, prior: TriggerPrior, y: np.ndarray, num_classes: int, bar: float
) -> int | None:
    """The prior's runner-up label that the counts name over the scan's target, or None.

    The scan's search also found a trigger to another label. A dirty-label all-to-one attack
    adds its poison to its target's count: where exactly one of those labels holds a count
    excess and the named target none, the scan named a sink beside the trigger, and the counts
    decide; in a set with several large labels (`counts_speak`) they say nothing
    (docs/remediation.md section 39)."""
    others = prior.runner_up_labels()
    if not others or not counts_speak(y, num_classes, bar):
        return None
    held = with_excess((named, *others), y, num_classes, bar)
    return int(held[0]) if named not in held and len(held) == 1 else None


def counts_speak(y: np.ndarray, num_classes: int, bar: float) -> bool:
    """Whether the label counts can name a poisoned label: at most one label of all holds an
    excess of `bar` over the median of the others. A dirty-label all-to-one attack gives its
    target that excess in a set whose classes were balanced; where several labels hold one,
    the set was never balanced and an excess is the data's, not a poison's (the counts would
    turn a clean-label target to a naturally large runner-up; docs/remediation.md section 39)."""
    return len(with_excess(tuple(range(num_classes)), y, num_classes, bar)) <= 1


def excess_room(y: np.ndarray, flags: np.ndarray, num_classes: int) -> np.ndarray:
    """Per label, how many more samples the feedback rounds may flag: the label's excess over
    the median of the other labels' counts, less its flags so far (never below 0).

    Why: an all-to-one dirty-label attack adds its poison to the target's count, so on a
    training set whose classes were about balanced the excess bounds the poison there. Beyond
    it the rounds flag clean samples of the class, and each round's model, trained on fewer of
    them, gives up more: on an SE-ResNet Trojan the scan missed, 735 clean samples (7.7%, 7.1
    points of accuracy), docs/remediation.md section 36. A clean-label attack or a class that
    was small to begin with leaves no room: its flags are phase 1's."""
    excess = label_excess(y, num_classes)
    flagged = np.bincount(y[flags], minlength=num_classes)
    return np.maximum(0, np.floor(excess).astype(np.int64) - flagged)


def _within_room(add: np.ndarray, y: np.ndarray, conf: np.ndarray, room: np.ndarray) -> np.ndarray:
    """`add` with at most `room[c]` samples of each given label c, the most confident first."""
    kept = np.zeros_like(add)
    for c in np.unique(y[add]):
        idx = np.flatnonzero(add & (y == c))
        n = max(0, int(room[c]))
        if len(idx) > n:
            idx = idx[np.argsort(-conf[idx], kind="stable")[:n]]
        kept[idx] = True
    return kept


def _weights(
    flags: np.ndarray, quarantine: np.ndarray, config: BurnConfig, unlearning: bool = False
) -> np.ndarray:
    """Per-sample loss weights: quarantined samples sit out, flagged ones count extra."""
    w = np.ones(len(flags), dtype=np.float32)
    w[flags] = config.flag_weight_unlearning if unlearning else config.flag_weight
    w[quarantine] = 0.0
    return w


def _add_flags(
    flags: np.ndarray, labels: np.ndarray, found: np.ndarray, found_labels: np.ndarray
) -> int:
    """Flag (in place) the samples in `found` not flagged yet, with `found_labels`; how many."""
    new = found & ~flags
    flags |= new
    labels[new] = found_labels[new]
    return int(new.sum())


def _quarantine(
    flags: np.ndarray,
    posterior: np.ndarray,
    y: np.ndarray,
    suspects: tuple[int, ...],
    config: BurnConfig,
) -> np.ndarray:
    """Unflagged samples of suspect classes that are too suspicious to train on with their label."""
    out = np.zeros(len(y), dtype=bool)
    for c in suspects:
        pool = np.flatnonzero((y == c) & ~flags)
        cand = pool[posterior[pool] >= config.quarantine_min]
        cap = int(config.quarantine_max_share * len(pool))
        if len(cand) > cap:
            cand = cand[np.argsort(-posterior[cand], kind="stable")[:cap]]
        out[cand] = True
    return out
