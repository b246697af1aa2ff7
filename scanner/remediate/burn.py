"""BURN: backdoor unlearning via adversarial boundary analysis (Su et al., arXiv 2507.10491).

Only the paper's abstract is public; this is the project's reconstruction (ALGORITHMS.md §2):

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
Phase 2. Feedback rounds k = 1..K between f0 and the sanitised fk: a sample of a suspect class
  that f0 fitted firmly (distance above its class's clean mean) but fk labels differently joins
  the flagged set with fk's label; a flagged sample that fk gives its original label again is
  unflagged. Fine-tune again; stop when fewer than `stop_change` of the samples change, or
  after `max_rounds`.
All fine-tuning epochs (phase 1 plus rounds) count against one budget, `epochs`, so BURN is
compared with plain fine-tuning at equal epochs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.boundary import BoundaryResult, boundary_distance
from scanner.remediate.prior import (
    SelfPrior,
    ShortcutUnlearner,
    Trigger,
    TriggerPrior,
    find_target,
    patch_region,
    probe_triggers,
)
from scanner.remediate.runtime import (
    PhaseClock,
    TrainSettings,
    fine_tune,
    predict_scores,
)
from scanner.remediate.window import (
    PatchWindow,
    median_fill,
    search_window,
    transplant_trigger,
)


@dataclass(frozen=True)
class BurnConfig:
    """Every BURN hyper-parameter, with the default the project measured it at.

    Attack: `attack_step` is the L-inf step in [0, 1] pixel units and `attack_max_steps` the cap
    (distances beyond step * cap are censored there); with a target and `prior_only` only that
    class is attacked (`attack_mask`).
    Flagging: `suspect_min_share` is the poison weight a class's mixture must reach and
    `suspect_min_z` how far (median/MAD z) its expected count of poison-like samples must stand
    out from the other classes'; `prior_min_share` replaces both for X-ray's target label, and
    `prior_only` then searches only that class. `posterior_min` is the poison posterior a
    sample needs to be flagged and relabelled; `quarantine_min` the posterior above which an
    unflagged sample of a suspect class sits out training until a feedback round decides it (at
    most `quarantine_max_share` of the class's unflagged samples, the most suspicious first, so
    a class never sits out whole). A feedback round flags a sample only where the sanitised
    model's new label has softmax confidence >= `add_min_confidence`; an undecided quarantined
    sample stays out. Classes with fewer than `min_class_samples` fitted samples are
    skipped; `sd_floor` keeps a mixture component from collapsing onto one distance.
    Training: `flag_weight` is the loss weight of a flagged (relabelled) sample, so that a few
    hundred restored samples outweigh the poisoned ones not found yet; `lift_flags` lets a round
    unflag a sample the sanitised model gives its original label again, with softmax
    confidence >= `lift_min_confidence`, though it was trained on the restored one; `epochs`
    in all, `phase1_epochs` of them in phase 1 and `round_epochs` per feedback round, with
    `train`'s optimiser settings.
    Shortcut unlearning (`prior.py`, only with an X-ray prior): in every fine-tuning batch up to
    `unlearn_share` of the samples not labelled with the target get a trigger stamped on and
    keep their own (restored) label: X-ray's confirmed probes when a scan report is given, and
    (`universal`, with a target label) a universal perturbation of L-inf radius `universal_eps`
    (`universal_eps_with_probes` beside probes), re-fitted by `universal_steps` signed steps
    of `universal_step_size` per batch against the model being trained, and beside probes a
    universal warp (`universal_warp_px`); beside probes both are gated (`universal_gate`,
    `gate_latch`). `unlearn_share` 0
    turns the mechanism off (relabelling only, the plain reconstruction of the abstract).
    With patch probes, samples labelled with the target whose label flips when the probes'
    pixels are occluded (at confidence >= `occlusion_min_confidence`) are flagged too; where
    the model has a warp shortcut, so are those whose label leaves the target under resampling
    noise (`resample_*`).
    """

    attack_step: float = 0.02
    attack_max_steps: int = 15
    attack_batch: int = 512
    suspect_min_share: float = 0.1
    suspect_min_z: float = 2.5
    prior_min_share: float = 0.05
    prior_only: bool = True
    posterior_min: float = 0.5
    quarantine_min: float = 0.01
    quarantine_max_share: float = 0.5
    add_min_confidence: float = 0.6
    # Why higher while a trigger is being unlearned: the sanitised model then also moves clean
    # target-class samples that resemble other classes (and, clean-label, the poisoned ones,
    # whose label is right); at 0.6 the feedback rounds flagged 6.8% of an Adaptive-Blend
    # model's clean samples (0.9% at 0.9, measured together with the lower learning rate). A
    # poisoned sample freed from its trigger returns to its source class with high confidence.
    add_min_confidence_unlearning: float = 0.9
    # Occlusion flags (needs a report with patch probes): a sample the model fits whose label
    # changes, with at least this confidence, when the probes' pixels are replaced by the
    # training set's median there, is flagged and relabelled with that prediction.
    occlusion_min_confidence: float = 0.6
    # Why lift, and at 0.7: a clean-label attack (SIG) has no mislabelled poison, so what the
    # mixture flags in the target class are clean target samples, and relabelling them cost
    # the target class its recall (a SIG ResNet-8's "Dress" 0.78 -> 0.44, all of the 4 points
    # it lost). Lifting brought it back, but unconditionally it also re-admitted BadNets poison
    # the sanitised model still sent to the target (ASR 0.02 -> 0.075 and 0.10); at 0.9 almost
    # nothing was lifted. README, "Remediation", has the runs.
    lift_flags: bool = True
    lift_min_confidence: float = 0.7
    # Never lift a sample the occlusion test (below) tied to a patch trigger: that is direct
    # evidence, and a sanitised model that still answers the target there has not unlearned
    # the patch yet. Lifted, such poison took `mnist_cnn_badnets_t7` (seed 1) from ASR 0.020
    # to 0.078; pinned, 0.018.
    pin_occluded: bool = True
    # Resampling flags (only while the universal warp runs from phase 1, i.e. the model as given
    # has a warp shortcut to the target): see `_resampling_flags`. Why 0.625 px: on the MNIST
    # WaNet CNN, whose warp outlived every other mechanism (ASR 0.21), they flag 559 of its 741
    # poisoned target-labelled samples and 3 of 384 clean ones; at 0.5 px 266 and 2, and BURN
    # ended at ASR 0.076 instead of 0.028; at 1 px 231 clean ones too
    # (`benchmarks/resampling_flags.py`).
    resample_flags: bool = True
    resample_px: float = 0.625
    resample_draws: int = 4
    resample_min_confidence: float = 0.6
    flag_weight: float = 3.0
    # Why 1 while a trigger is being unlearned: the extra weight was there to outweigh the
    # poison not found yet, which the unlearning now counters; at 3 the boundary mixture's
    # false flags (1.6% of a Blended model's clean samples) cost 0.8 more points (0.857 vs 0.865).
    flag_weight_unlearning: float = 1.0
    min_class_samples: int = 20
    sd_floor: float = 0.05
    epochs: float = 8.0
    phase1_epochs: float = 2.0
    round_epochs: float = 1.0
    max_rounds: int = 6
    stop_change: float = 0.001
    # Why 0.5: at 0.3 ASR ended higher (LeNet SIG 0.047 vs 0.034, all-to-all BadNets 0.044 vs
    # 0.036, both with the universal perturbation on) and clean accuracy was no better.
    unlearn_share: float = 0.5
    # The universal perturbation: the only trigger when X-ray gave a target but no probes, and
    # beside the probes at `universal_eps_with_probes`. Why eps 0.15: about
    # the blend alpha and half the SIG amplitude of common triggers; larger radii turn it into
    # plain adversarial training, which costs clean accuracy on small models.
    universal: bool = True
    universal_eps: float = 0.15
    universal_steps: int = 2
    universal_step_size: float = 0.05
    # Re-fit the synthesized triggers on one training batch in this many; the others reuse
    # the last fit. Why 2: the re-fits were most of BURN's training cost above fine-tuning's.
    # On the whole zoo, with the 256-image checks below, the median repair time went from
    # 2.34x to 2.06x fine-tuning's and no model crossed the bar either way; the largest ASR
    # rise was a WaNet model that already failed, 0.097 -> 0.186 (README).
    universal_refit_every: int = 2
    # Radius of the universal perturbation beside X-ray's probes (None: probes only). Why on,
    # and smaller: the probes are generic family members; against Blended and Adaptive-Blend
    # (random-noise patterns no probe family holds) probes alone left ASR 0.056 and 0.845, with
    # a radius-0.1 perturbation beside them 0.001 and 0.003. Why 0.1, not 0.15: it is
    # adversarial training, which costs clean accuracy (SIG models lost 2-3 points at 0.15).
    universal_eps_with_probes: float | None = 0.1
    # Beside probes the universal perturbation is gated: phase 1 unlearns the probes alone, and
    # before each later fine-tuning stage it switches on if a fresh one of the same radius
    # still sends at least `universal_gate` of `universal_check_samples` non-target training
    # images to the target (`ShortcutUnlearner.residual_shortcut`). None: always on.
    universal_gate: float | None = 0.1
    # Why 256, not 512: the checks were 0.18 of fine-tuning's time; at 256 the rate's standard
    # error near the 0.1 gate is about 0.02, and on 10 tuning models the checks cost half.
    universal_check_samples: int = 256
    # A check first fits its trigger on the first `universal_screen_samples` of the check
    # sample; below `universal_screen_max` there it is off without the full fit, and at or
    # above it the full sample decides. Why a low screen should mean a low full rate: a
    # perturbation fitted to fewer images usually fits them at least as well (fewer images
    # constrain it less); this is an argument, not a guarantee, and on the whole zoo not one
    # gate decision changed (measured at 128 of 512). Why: most checks find nothing (MNIST
    # models spent 12 s on checks that all read 0, against 4.4 s for all of plain
    # fine-tuning; 1.9 s with the screen).
    universal_screen_samples: int = 64
    universal_screen_max: float = 0.03
    # A universal warp beside the probes, under the same gate with its own fresh measurement
    # (`ShortcutUnlearner.residual_warp`): at most this many pixels at 28x28 (scaled with the
    # image), the displacement of WaNet's warps (about 0.5-1 px), which no additive probe or
    # perturbation matches. None: off.
    universal_warp_px: float | None = 1.0
    # Once the gate has found a shortcut, the synthesized trigger stays on for the rest of the
    # budget. Why: switched off, the unflagged poison taught the shortcut back (an LF model's
    # residual went 0.87, 0.06, 0.27, 0.05, 0.14, 0.04 on alternate stages and its ASR ended at
    # 0.081; latched 0.020; WaNet 0.193 -> 0.040, Adaptive-Blend 0.085 -> 0.001). Cost: a SIG
    # model whose perturbation switched on at the first check went 0.012 -> 0.056.
    gate_latch: bool = True
    # The warp is also checked once before phase 1 (stage 0), on the model as given, and runs
    # from phase 1 when that check passes; the perturbation still waits for stage 1. Why: a
    # warp trigger is learnt back fast from the unflagged poison, and two epochs of probes alone
    # gave it that time. Measured on the 4 WaNet, 4 LF and 2 Adaptive-Blend models: WaNet ASR
    # 0.254 -> 0.097 (MNIST CNN), 0.040 -> 0.019, 0.004 -> 0.001, 0.001 -> 0.000; on the LF and
    # Adaptive-Blend models, where it also switched on for 3, no ASR rose by more than 0.001
    # and no accuracy fell (an LF MLP 0.910 -> 0.924).
    gate_warp_at_start: bool = True
    # BURN's own target check (`prior.find_target`), run only when X-ray gave no target and no
    # probes: per class, a fresh universal perturbation of radius `self_prior_eps` and a fresh
    # universal warp (`universal_warp_px`) on `self_prior_samples` non-class images; a class
    # whose rate is >= `self_prior_min` (warp: `self_prior_warp_min`) and `self_prior_ratio`
    # times every other class's becomes the target prior. A target found by the warp also turns
    # the warp on. Measured on the zoo: the README's remediation section.
    self_prior: bool = True
    self_prior_eps: float = 0.05
    self_prior_samples: int = 256
    self_prior_min: float = 0.2
    self_prior_warp_min: float = 0.5
    self_prior_ratio: float = 3.0
    # The own check's third stage (`window.search_window`), when neither trigger above found a
    # target: a patch trigger located by saliency and occlusion. Windows of `window_sizes`
    # pixels (at 28x28, scaled), `window_samples` samples per class; a class is the target
    # when its best window moves >= `window_min_share` of its samples off it (confidence >=
    # `occlusion_min_confidence`) and their new labels spread with normalised entropy >=
    # `window_min_spread`. The window then gives the occlusion flags their region, and the
    # moved samples' window contents are a trigger to unlearn (`transplant_trigger`). Why
    # these values: on the zoo they named a target on 11 of 62 models, all right, and on none
    # of the 27 clean ones (`benchmarks/saliency_window.py --search`; set after seeing 27 of
    # them, and every pair of share 0.1-0.2 and spread 0.7-0.9 answered the same there).
    self_prior_window: bool = True
    window_sizes: tuple[int, ...] = (7, 10, 14)
    window_samples: int = 256
    window_min_share: float = 0.15
    window_min_spread: float = 0.8
    window_transplant_margin: int = 2
    train: TrainSettings = field(default_factory=TrainSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    unlearning: dict[str, Any] = field(default_factory=dict)


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
) -> tuple[np.ndarray, np.ndarray, list[ClassSplit]]:
    """Phase 1 flags (a bool mask), poison posteriors (0 outside suspect classes), mixtures.

    A class is suspect when its poison weight is large enough (>= `suspect_min_share`) and its
    expected count of poison-like samples is an outlier among the classes (robust z >=
    `suspect_min_z`, median/MAD), or, for X-ray's target label, when its weight reaches
    `prior_min_share`. Only suspect classes get flags.
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
) -> BurnResult:
    """Run BURN on `model` in place with training images `x` ([0, 1] NHWC) and labels `y`.

    `target_prior`: X-ray's target label; `trigger_prior`: X-ray's confirmed probes (and its
    target, which `target_prior` overrides when both are given).
    """
    # Without a target from X-ray (none given, or its scan missed the backdoor) BURN looks for
    # one itself; an all-to-all report (probes but no single target) is left as X-ray read it.
    self_prior: SelfPrior | None = None
    if needs_own_check(config, target_prior, trigger_prior):
        with clock.phase("self-prior"):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            self_prior = own_target_check(model, x, y, num_classes, config, device, seed)
        target_prior = self_prior.target
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
        # Uncertain samples of a suspect class sit out training until a feedback round
        # decides them: trained with the target label they would keep teaching the backdoor.
        quarantine = _quarantine(flags, posterior, y, suspects, config)
        labels = y.copy()
        labels[flags] = bnd.adv_label[flags]
        n_occluded = 0
        # Samples whose label the occlusion test tied to a patch trigger: phase 2 never lifts
        # their flags (see `feedback_update`).
        pinned = np.zeros_like(flags)
        # Where a patch trigger sits: X-ray's patch probes, or the window BURN's own check
        # found. A poisoned sample's label depends on those pixels, a clean one's (mostly
        # background there) does not. This finds dirty-label poison that the boundary mixture
        # misses (all-to-all, 1%, a Trojan logo).
        window = self_prior.window if self_prior is not None else None
        region = None
        if window is not None:
            region = window.region((int(x.shape[1]), int(x.shape[2])))
        elif trigger_prior is not None:
            region = patch_region(trigger_prior, tuple(int(v) for v in x.shape[1:]))  # type: ignore[arg-type]
        extra: list[Trigger] = []
        if region is not None:
            target = target_prior
            if target is None and trigger_prior is not None:
                target = trigger_prior.target
            occluded, occ_label = _occlusion_flags(
                model, x, y, bnd.pred, region, target, config, device
            )
            pinned = occluded & config.pin_occluded
            new = occluded & ~flags
            n_occluded = int(new.sum())
            flags |= new
            labels[new] = occ_label[new]
            quarantine &= ~flags
            if window is not None and occluded.any():
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
            res, res_label = _resampling_flags(
                model, x, y, bnd.pred, unlearner.target, config, device, generator
            )
            new = res & ~flags
            n_resampled = int(new.sum())
            flags |= new
            labels[new] = res_label[new]
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
            sample_weight=_weights(flags, quarantine, config, unlearner.active),
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
    if trigger_prior is not None and unlearner.target is None:
        # X-ray saw a trigger but no single target (all-to-all): poison may carry any label.
        suspect_mask[:] = True
    for k in range(1, config.max_rounds + 1):
        if used >= budget - 1e-9 or not suspect_mask.any():
            break
        with clock.phase(f"feedback{k}"):
            scores_k = predict_scores(model, x, device, batch_size=config.attack_batch)
            pred_k = scores_k.argmax(1)
            conf_k = _softmax_max(scores_k)
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
            )
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
                sample_weight=_weights(flags, quarantine, config, unlearner.active),
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
                sample_weight=_weights(flags, quarantine, config, unlearner.active),
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
            "occlusion_flags": n_occluded,
            "resampling_flags": n_resampled,
        },
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
    """
    differs = pred_k != y
    decisive = differs & (conf_k >= add_min_confidence)
    add = ~flags & suspect_mask & (pred0 == y) & decisive
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


def unlearning_summary(
    unlearner: ShortcutUnlearner, gate: UniversalGate, self_prior: SelfPrior | None
) -> dict[str, Any]:
    """The report's `extra.unlearning`: what shortcut unlearning ran, and the gate's checks."""
    return {
        "target": unlearner.target,
        "probe_triggers": len(unlearner.triggers),
        "universal": unlearner.universal_allowed,
        "warp_px": unlearner.warp_px,
        "stamped": unlearner.stamped,
        "share": unlearner.share if unlearner.active else 0.0,
        "universal_checks": gate.checks,
        "self_prior": self_prior.to_dict() if self_prior is not None else None,
    }


def make_unlearner(
    model: nn.Module,
    x: np.ndarray,
    config: BurnConfig,
    device: torch.device,
    generator: torch.Generator,
    target_prior: int | None,
    trigger_prior: TriggerPrior | None,
    extra_triggers: list[Trigger] | None = None,
) -> ShortcutUnlearner:
    """The batch hook for shortcut unlearning, aimed at the best-known target.

    Target: X-ray's (`--target-label`), else the scan report's, else BURN's own check's; none
    in X-ray's all-to-all case, where every sample may be stamped. With no target and no X-ray
    prior at all, shortcut unlearning stays off and BURN only relabels. Why: unlearning
    towards a guessed class costs accuracy for nothing. `extra_triggers` (the own check's
    transplanted window) count as probes do.
    """
    shape = tuple(int(v) for v in x.shape[1:])
    target = target_prior
    if target is None and trigger_prior is not None:
        target = trigger_prior.target
    triggers = probe_triggers(trigger_prior, shape) if trigger_prior is not None else []  # type: ignore[arg-type]
    triggers += extra_triggers or []
    # Why only with a target: untargeted (X-ray's all-to-all case) it is plain adversarial
    # training, and cost the all-to-all BadNets model 2 points (0.866 -> 0.845) for no gain
    # in ASR. Beside probes it runs at a smaller radius (see `universal_eps_with_probes`).
    universal = config.universal and target is not None
    eps = config.universal_eps
    if triggers:
        universal = universal and config.universal_eps_with_probes is not None
        eps = config.universal_eps_with_probes or eps
    share = config.unlearn_share if (target is not None or trigger_prior is not None) else 0.0
    return ShortcutUnlearner(
        model,
        shape=shape,  # type: ignore[arg-type]
        target=target,
        triggers=triggers,
        share=share,
        universal=universal,
        eps=eps,
        steps=config.universal_steps,
        step_size=config.universal_step_size,
        device=device,
        seed=int(torch.randint(2**31 - 1, (1,), generator=generator)),
        warp_px=warp_px_for(config, x) if triggers and target is not None else None,
        refit_every=config.universal_refit_every,
    )


def needs_own_check(
    config: BurnConfig, target_prior: int | None, trigger_prior: TriggerPrior | None
) -> bool:
    """Whether BURN looks for a target itself: no target from X-ray, and no all-to-all report
    (probes but no single target), which is left as X-ray read it."""
    return (
        config.self_prior
        and target_prior is None
        and (trigger_prior is None or (trigger_prior.target is None and not trigger_prior.probes))
    )


def own_target_check(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    config: BurnConfig,
    device: torch.device,
    seed: int,
    window: bool = True,
) -> SelfPrior:
    """BURN's own target check: `prior.find_target` with `config`'s self-prior settings, then,
    when neither its perturbation nor its warp found a target and `window` (and
    `config.self_prior_window`) allow, the saliency-window search (`window.search_window`)."""
    found = find_target(
        model,
        x,
        y,
        num_classes,
        eps=config.self_prior_eps,
        warp_px=warp_px_for(config, x),
        samples=config.self_prior_samples,
        min_rate=config.self_prior_min,
        min_warp_rate=config.self_prior_warp_min,
        ratio=config.self_prior_ratio,
        device=device,
        seed=seed,
    )
    if found.target is not None or not (window and config.self_prior_window):
        return found
    pred = predict_scores(model, x, device, batch_size=config.attack_batch).argmax(1)
    search = search_window(
        model,
        x,
        y,
        pred,
        num_classes,
        sizes=config.window_sizes,
        samples=config.window_samples,
        min_share=config.window_min_share,
        min_spread=config.window_min_spread,
        min_confidence=config.occlusion_min_confidence,
        device=device,
        seed=seed,
    )
    hit: PatchWindow | None = search.window
    if hit is None:
        return replace(found, search=search)
    return replace(found, search=search, target=hit.target, by="window")


def warp_px_for(config: BurnConfig, x: np.ndarray) -> float | None:
    """`universal_warp_px`, given at 28x28, scaled to the images' size."""
    if config.universal_warp_px is None:
        return None
    return config.universal_warp_px * min(int(x.shape[1]), int(x.shape[2])) / 28


class UniversalGate:
    """Switches the synthesized triggers beside X-ray's probes (`BurnConfig.universal_gate`):
    the universal perturbation and the universal warp, each on its own fresh measurement, and
    (`gate_latch`) kept on once switched on.

    Why: beside probes that already match the trigger (SIG's grating) the perturbation finds no
    shortcut left, only adversarial directions, and training on them cost a LeNet 2.8 points of
    clean accuracy; where the probes miss the trigger (a random-noise blend, a warp) a fresh
    perturbation still finds the target and the gate turns it on.
    """

    def __init__(
        self,
        unlearner: ShortcutUnlearner,
        x: np.ndarray,
        y: np.ndarray,
        config: BurnConfig,
        generator: torch.Generator,
    ) -> None:
        self.unlearner = unlearner
        self.gate = config.universal_gate
        self.latch = config.gate_latch
        self.screen = config.universal_screen_samples
        self.screen_max = config.universal_screen_max
        self.checks: list[dict[str, Any]] = []
        self.enabled = (
            self.gate is not None
            and unlearner.universal_allowed
            and bool(unlearner.triggers)
            and unlearner.target is not None
        )
        if not self.enabled:
            return
        pool = np.flatnonzero(y != unlearner.target)
        order = torch.randperm(len(pool), generator=generator).numpy()
        self.sample = x[pool[order[: config.universal_check_samples]]]
        unlearner.universal = False  # phase 1: the probes alone
        if config.gate_warp_at_start and unlearner.warp_px is not None:
            self.check(0, only="warp")

    def check(self, stage: int, only: str | None = None) -> None:
        """Measure and switch the synthesized triggers before `stage` (`only`: just that one)."""
        if not self.enabled:
            return
        gate = float(self.gate)  # type: ignore[arg-type]
        un = self.unlearner
        check: dict[str, Any] = {"stage": stage}
        # A latched trigger needs no new measurement (None in the report): it stays on anyway.
        kinds = [("universal", "residual", un.residual_shortcut)]
        if un.warp_px is not None:
            kinds.append(("warp", "residual_warp", un.residual_warp))
        for kind, key, measure in kinds:
            if only is not None and kind != only:
                continue
            if self.latch and getattr(un, kind):
                check[key] = None
                continue
            screened = False
            if self.screen < len(self.sample):
                rate = measure(self.sample[: self.screen])
                screened = rate < self.screen_max
                if screened:
                    check[f"{key}_screen"] = round(rate, 4)
            if not screened:
                rate = measure(self.sample)
            setattr(un, kind, not screened and rate >= gate)
            check[key] = None if screened else round(rate, 4)
        check.update(universal=un.universal, warp=un.warp)
        self.checks.append(check)


def _occlusion_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    region: np.ndarray,
    target: int | None,
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(flags, labels): samples whose fitted label flips when `region` ((H, W) mask: the
    probes' patch, or the own check's window) is occluded.

    Only samples the model fits (prediction == label), and with a target only those labelled
    with it (an all-to-one attack's poison all carries the target). The fill is the per-pixel
    median of the training set, what an unstamped image usually holds there (background).
    """
    flags = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    cand = np.flatnonzero((pred == y) & ((y == target) if target is not None else True))
    if len(cand) == 0:
        return flags, labels
    fill = median_fill(x)
    xo = x[cand].copy()
    xo[:, region] = fill[region]
    scores = predict_scores(model, xo, device, batch_size=config.attack_batch)
    new, conf = scores.argmax(1), _softmax_max(scores)
    hit = (new != y[cand]) & (conf >= config.occlusion_min_confidence)
    flags[cand[hit]] = True
    labels[cand[hit]] = new[hit]
    return flags, labels


def _resampling_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    target: int,
    config: BurnConfig,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(flags, labels): target-labelled samples the model fits whose label moves off the target
    under resampling noise: every pixel displaced by its own uniform random offset of at most
    `resample_px` (at 28x28, scaled), bilinear. A sample is flagged when at least half of
    `resample_draws` draws give another label with softmax confidence >=
    `resample_min_confidence`, and gets the label with the most probability over the draws
    (the target left out).
    """
    flags = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    cand = np.flatnonzero((pred == y) & (y == target))
    if len(cand) == 0 or config.resample_draws < 1:
        return flags, labels
    h, w = int(x.shape[1]), int(x.shape[2])
    amp = config.resample_px * min(h, w) / 28
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    g = torch.Generator().manual_seed(seed)
    gy, gx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    base = torch.stack((gx, gy), dim=-1)[None]
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)])  # pixels -> [-1, 1]
    off = np.zeros(len(cand), dtype=np.int64)
    prob: np.ndarray | None = None  # summed over the draws
    xs = torch.from_numpy(np.ascontiguousarray(x[cand])).permute(0, 3, 1, 2)
    for _ in range(config.resample_draws):
        noise = (torch.rand((len(cand), h, w, 2), generator=g) * 2 - 1) * amp * scale
        grid = (base + noise).clamp(-1.0, 1.0)
        xr = nn.functional.grid_sample(
            xs, grid, mode="bilinear", padding_mode="border", align_corners=True
        )
        scores = predict_scores(
            model, xr.permute(0, 2, 3, 1).contiguous().numpy(), device, config.attack_batch
        )
        z = np.exp(scores - scores.max(1, keepdims=True))
        p = z / z.sum(1, keepdims=True)
        prob = p if prob is None else prob + p
        off += (p.argmax(1) != target) & (p.max(1) >= config.resample_min_confidence)
    assert prob is not None
    hit = off * 2 >= config.resample_draws
    prob[:, target] = -1.0
    flags[cand[hit]] = True
    labels[cand[hit]] = prob.argmax(1)[hit]
    return flags, labels


def _weights(
    flags: np.ndarray, quarantine: np.ndarray, config: BurnConfig, unlearning: bool = False
) -> np.ndarray:
    """Per-sample loss weights: quarantined samples sit out, flagged ones count extra."""
    w = np.ones(len(flags), dtype=np.float32)
    w[flags] = config.flag_weight_unlearning if unlearning else config.flag_weight
    w[quarantine] = 0.0
    return w


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


def _softmax_max(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(1, keepdims=True)
    p = np.exp(z)
    return (p.max(1) / p.sum(1)).astype(np.float32)
