"""Boundary distance of each sample under a model: a batched white-box L-inf attack.

BURN's observation (arXiv 2507.10491): poisoned training samples sit much farther from the
decision boundary than clean ones, and when pushed across it they tend to land in their true
class. The distance here is the L-inf size of the smallest perturbation found by iterated signed
gradient steps of fixed size `step` (BIM with an open budget): the first step at which the
prediction changes, refined by linear interpolation of the class margin between the last two
steps. Samples that never flip within `max_steps` are censored at `max_steps * step`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scanner.remediate.runtime import eval_mode


@dataclass(frozen=True)
class BoundaryResult:
    """Per sample: `distance` (L-inf), `adv_label` (the class it crossed into), `flipped`
    (False: censored at the step limit; `adv_label` is then the runner-up class), `pred`
    (the model's label for the clean sample), `measured` (attacked at all)."""

    distance: np.ndarray
    adv_label: np.ndarray
    flipped: np.ndarray
    pred: np.ndarray
    steps_run: int  # gradient evaluations, summed over samples (the attack's cost)
    # Which samples were attacked (all but those `only` left out): the rest have NaN distances.
    measured: np.ndarray


def _margin(scores: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """score(label) - best other score: > 0 while the prediction is still `label`."""
    own = scores.gather(1, label[:, None])[:, 0]
    other = scores.scatter(1, label[:, None], float("-inf")).amax(1)
    return own - other


def boundary_distance(
    model: nn.Module,
    x: np.ndarray,
    *,
    device: torch.device,
    step: float = 0.01,
    max_steps: int = 30,
    batch_size: int = 256,
    norm: str = "linf",
    only: np.ndarray | None = None,
) -> BoundaryResult:
    """Distance to the decision boundary of every image in `x` ([0, 1] NHWC float32).

    Each step moves every still-unflipped sample by `step` along the sign of the gradient that
    lowers its margin, clipped to [0, 1]; flipped samples leave the batch, so the cost falls as
    clean (near-boundary) samples cross early.

    `only` (a bool mask over `x`): attack just those samples; the others get their prediction
    (one forward pass) and `measured` False, with distance NaN and adversarial label -1.
    """
    n = len(x)
    distance = np.full(n, max_steps * step, dtype=np.float32)
    adv_label = np.zeros(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    pred = np.zeros(n, dtype=np.int64)
    measured = np.ones(n, dtype=bool) if only is None else np.asarray(only, dtype=bool).copy()
    todo = np.flatnonzero(measured)
    cost = 0
    with eval_mode(model):
        req = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)  # only input gradients are needed
        try:
            if only is not None:
                rest = np.flatnonzero(~measured)
                distance[rest], adv_label[rest] = np.nan, -1
                with torch.no_grad():
                    for lo in range(0, len(rest), batch_size):
                        sel = rest[lo : lo + batch_size]
                        xb = torch.from_numpy(x[sel]).to(device)
                        pred[sel] = model(xb).argmax(1).cpu().numpy()
            for lo in range(0, len(todo), batch_size):
                hi = min(lo + batch_size, len(todo))
                sel = todo[lo:hi]
                x0 = torch.from_numpy(x[sel]).to(device)
                with torch.no_grad():
                    scores = model(x0)
                label = scores.argmax(1)
                pred[sel] = label.cpu().numpy()
                prev_margin = _margin(scores, label)
                active = torch.arange(hi - lo, device=device)
                xa = x0.clone()
                # One forward and one backward per step: the forward at step k both checks
                # whether step k-1 crossed the boundary and gives the gradient for step k.
                for k in range(0, max_steps + 1):
                    if len(active) == 0:
                        break
                    xk = xa[active].requires_grad_(k < max_steps)
                    scores_k = model(xk)
                    m = _margin(scores_k, label[active])
                    done = (m <= 0).detach() if k > 0 else torch.zeros_like(m, dtype=torch.bool)
                    if done.any():
                        pm, nm = prev_margin[active][done], m.detach()[done]
                        # Where the margin crossed zero between steps k-1 and k.
                        frac = (pm / (pm - nm).clamp_min(1e-12)).clamp(0.0, 1.0)
                        idx = sel[active[done].cpu().numpy()]
                        distance[idx] = ((k - 1 + frac) * step).cpu().numpy()
                        adv_label[idx] = scores_k.detach()[done].argmax(1).cpu().numpy()
                        flipped[idx] = True
                    if k == max_steps:
                        # Censored samples: report the runner-up class as where they head.
                        censored = ~done
                        idx = sel[active[censored].cpu().numpy()]
                        own = label[active][censored][:, None]
                        runner = scores_k.detach()[censored].scatter(1, own, float("-inf"))
                        adv_label[idx] = runner.argmax(1).cpu().numpy()
                        break
                    keep = ~done
                    if not keep.any():
                        break
                    (grad,) = torch.autograd.grad(m[keep].sum(), xk)
                    cost += int(keep.sum())
                    with torch.no_grad():
                        prev_margin[active[keep]] = m.detach()[keep]
                        g = grad[keep]
                        if norm == "linf":
                            direction = g.sign()
                        else:
                            flat = g.flatten(1).norm(dim=1).clamp_min(1e-12)
                            direction = g / flat.view(-1, *([1] * (g.dim() - 1)))
                        xa[active[keep]] = (xk[keep] - step * direction).clamp_(0.0, 1.0)
                    active = active[keep]
        finally:
            for p, r in zip(model.parameters(), req, strict=True):
                p.requires_grad_(r)
    return BoundaryResult(distance, adv_label, flipped, pred, cost, measured)
