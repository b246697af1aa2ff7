"""Baselines run through the same code path as BURN, for an honest comparison at equal epochs.

- Plain fine-tuning: cross-entropy on the same samples and labels, same optimiser and epochs.
- Neural Cleanse unlearning (Wang et al., IEEE S&P 2019): reverse-engineer a trigger (mask and
  pattern) that sends clean samples to the target label, then fine-tune with a share of each
  batch stamped with that trigger and kept at its true label. Without a target label, a trigger
  is reversed for every class and the one with the smallest mask (MAD anomaly index, as in the
  paper) is taken as the target.
- Clean-data-only adversarial unlearning (for `--clean-data` without a training set): i-BAU's
  minimax (Zeng et al., ICLR 2022, arXiv 2110.03735) in its first-order form: a universal
  perturbation shared by the batch is re-optimised towards X-ray's target label (or, without
  one, against the true labels) and the model is trained to keep true labels under it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.runtime import TrainSettings, eval_mode, fine_tune


@dataclass(frozen=True)
class NCConfig:
    """Neural Cleanse settings: `steps` of Adam at `lr` on mask and pattern per class, on at
    most `samples` non-target images, with the mask's L1 norm weighted by `l1_weight`;
    `stamp_share` of every fine-tuning batch carries the reversed trigger."""

    steps: int = 300
    steps_all_classes: int = 120
    lr: float = 0.1
    samples: int = 512
    batch_size: int = 128
    l1_weight: float = 0.01
    stamp_share: float = 0.2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReversedTrigger:
    target: int
    mask_l1: float
    success: float  # share of the reversal samples the trigger sends to the target
    anomaly_index: float | None  # MAD anomaly index of the target's mask norm (all-class search)
    norms: dict[int, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reverse_trigger(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    target: int,
    *,
    config: NCConfig,
    steps: int,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Reverse a trigger: (mask (1, H, W, 1), pattern (1, H, W, C), mask L1, success rate)."""
    pool = np.flatnonzero(y != target)
    if len(pool) == 0:
        pool = np.arange(len(y))
    pick = pool[torch.randperm(len(pool), generator=generator)[: config.samples].numpy()]
    xs = torch.from_numpy(x[pick]).to(device)
    _, h, w, c = xs.shape
    mask_p = torch.full((1, h, w, 1), -2.0, device=device, requires_grad=True)
    pat_p = torch.zeros((1, h, w, c), device=device, requires_grad=True)
    opt = torch.optim.Adam([mask_p, pat_p], lr=config.lr, betas=(0.5, 0.9))
    tgt = torch.full((config.batch_size,), target, dtype=torch.long, device=device)
    with eval_mode(model):
        req = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            for i in range(steps):
                lo = (i * config.batch_size) % len(xs)
                xb = xs[lo : lo + config.batch_size]
                mask, pattern = torch.sigmoid(mask_p), torch.sigmoid(pat_p)
                stamped = (1 - mask) * xb + mask * pattern
                loss = nn.functional.cross_entropy(model(stamped), tgt[: len(xb)])
                loss = loss + config.l1_weight * mask.sum() / (h * w) * 100.0
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                mask, pattern = torch.sigmoid(mask_p), torch.sigmoid(pat_p)
                preds = [
                    model((1 - mask) * xs[j : j + 256] + mask * pattern).argmax(1)
                    for j in range(0, len(xs), 256)
                ]
                success = float((torch.cat(preds) == target).float().mean())
        finally:
            for p, r in zip(model.parameters(), req, strict=True):
                p.requires_grad_(r)
    return mask.detach(), pattern.detach(), float(mask.sum()), success


def neural_cleanse(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int,
    target: int | None,
    config: NCConfig,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, ReversedTrigger]:
    """Reverse the trigger for `target`, or find the target by the smallest reversed mask."""
    if target is not None:
        m, p, l1, ok = reverse_trigger(
            model,
            x,
            y,
            target,
            config=config,
            steps=config.steps,
            device=device,
            generator=generator,
        )
        return m, p, ReversedTrigger(target, l1, ok, None, {target: l1})
    found = {}
    for c in range(num_classes):
        found[c] = reverse_trigger(
            model,
            x,
            y,
            c,
            config=config,
            steps=config.steps_all_classes,
            device=device,
            generator=generator,
        )
    norms = {c: v[2] for c, v in found.items()}
    values = np.array(list(norms.values()))
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    best = min(norms, key=lambda c: norms[c])
    index = (med - norms[best]) / max(mad, 1e-9)
    m, p, l1, ok = found[best]
    return m, p, ReversedTrigger(best, l1, ok, round(index, 4), norms)


def nc_unlearn(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    mask: torch.Tensor,
    pattern: torch.Tensor,
    *,
    epochs: float,
    stamp_share: float,
    settings: TrainSettings,
    device: torch.device,
    generator: torch.Generator,
) -> list[float]:
    """Fine-tune with `stamp_share` of every batch carrying the reversed trigger, true labels."""

    def stamp(
        xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        k = round(stamp_share * len(xb))
        if k == 0:
            return xb, yb, wb
        xb = xb.clone()
        xb[:k] = (1 - mask) * xb[:k] + mask * pattern
        return xb, yb, wb

    return fine_tune(
        model,
        x,
        y,
        epochs=epochs,
        settings=settings,
        device=device,
        generator=generator,
        augment=stamp,
    )


@dataclass(frozen=True)
class CleanUnlearnConfig:
    """Clean-data-only unlearning: a universal L-inf perturbation of radius `eps`, refined by
    `inner_steps` signed steps of `inner_lr` per batch (warm-started across batches), and
    `epochs` over the clean data."""

    # Why 0.15, measured on the zoo's 32 all-to-one models with 1,000 clean samples each and
    # X-ray's target (docs/remediation.md §6): at 0.3 ASR fell under 5% on 24 but clean
    # accuracy a median 5.2 points (bar met on 2); at 0.15, 18, 2.8 points, bar met on 6; at
    # 0.1, 14, 2.1 points, 5.
    # A larger radius is plain adversarial training on few samples, which costs accuracy.
    eps: float = 0.15
    inner_steps: int = 5
    inner_lr: float = 0.05
    epochs: float = 10.0
    # BURN's shortcut unlearning (X-ray's probes, the gated synthesized triggers, BURN's own
    # target check) where it has a trigger or target to work with (`clean.py`); False: this
    # i-BAU-style perturbation throughout, the mode's first version.
    shortcut: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_unlearn(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    target: int | None,
    config: CleanUnlearnConfig,
    settings: TrainSettings,
    device: torch.device,
    generator: torch.Generator,
) -> list[float]:
    """i-BAU-style adversarial unlearning on clean data, with X-ray's target as the prior.

    Each batch trains on its clean half and on the same images under the current universal
    perturbation, both with true labels. The perturbation is pushed towards the target label
    (a backdoor's shortcut, which a universal perturbation finds easily) or, without one,
    against the true labels.
    """
    _, h, w, c = x.shape
    delta = torch.zeros((1, h, w, c), device=device)

    def adversarial(
        xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        nonlocal delta
        req = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            d = delta.clone().requires_grad_(True)
            for _ in range(config.inner_steps):
                scores = model((xb + d).clamp(0.0, 1.0))
                if target is not None and bool((yb != target).any()):
                    keep = yb != target
                    tgt = torch.full_like(yb[keep], target)
                    loss = -nn.functional.cross_entropy(scores[keep], tgt)
                else:
                    loss = nn.functional.cross_entropy(scores, yb)
                (g,) = torch.autograd.grad(loss, d)
                with torch.no_grad():
                    d += config.inner_lr * g.sign()
                    d.clamp_(-config.eps, config.eps)
            delta = d.detach()
        finally:
            for p, r in zip(model.parameters(), req, strict=True):
                p.requires_grad_(r)
        xa = (xb + delta).clamp(0.0, 1.0)
        wb2 = torch.cat([wb, wb]) if wb is not None else None
        return torch.cat([xb, xa]), torch.cat([yb, yb]), wb2

    return fine_tune(
        model,
        x,
        y,
        epochs=config.epochs,
        settings=settings,
        device=device,
        generator=generator,
        augment=adversarial,
    )
