"""A patch trigger located by saliency and occlusion: the third stage of BURN's own target check.

BURN's own check (`prior.find_target`) fits a small universal perturbation and a small universal
warp towards each class. A localised, opaque trigger (a Trojan logo, a BadNets patch at an
odd place) is neither: no radius-0.05 change of every pixel, and no one-pixel warp, reaches it.
What such a backdoor leaves instead is a class whose poisoned samples the model labels by a
few pixels. So, for each class c in turn (`search_window`):

1. average the input-gradient saliency of c's margin (c's score minus the best other score)
   over training samples labelled c that the model fits, each map normalised to sum 1, and
   divide it by the same average over samples of other classes: where the model looks when it
   answers c, and only then;
2. take the k x k window with the largest sum of that ratio, for each k in `sizes`;
3. occlude the window with the training set's per-pixel median (what an unstamped image usually
   holds there) and count the c-labelled samples that leave c with softmax confidence >=
   `min_confidence`, and how evenly their new labels spread over the other classes.

A class is the target when its best window moves >= `min_share` of its samples and their new
labels spread with normalised entropy >= `min_spread`. Why both: poison is taken from every other
class, so freeing it from its trigger sends it back everywhere; a natural confusion (a clean
"Shirt" whose collar is hidden) moves few samples, to one or two neighbours. What the rule found
on the zoo, and on which models its thresholds were chosen: docs/remediation.md, part 1.

The window is also BURN's evidence for the repair: the samples it moves are flagged and
relabelled (`flags.occlusion_flags`), and their window contents are the trigger pasted onto
clean samples while BURN fine-tunes (`transplant_trigger`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.runtime import predict_scores


@dataclass(frozen=True)
class PatchWindow:
    """A k x k window (`row`, `col`: its top-left pixel) that the target's samples depend on."""

    target: int
    row: int
    col: int
    size: int
    share: float  # of the target's fitted samples searched, the share occlusion moved off it
    spread: float  # normalised entropy of their new labels over the other classes

    def region(self, shape: tuple[int, int]) -> np.ndarray:
        """The window as an (H, W) boolean mask."""
        mask = np.zeros(shape, dtype=bool)
        mask[self.row : self.row + self.size, self.col : self.col + self.size] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def margin_saliency(
    model: nn.Module, x: np.ndarray, target: int, device: torch.device, batch_size: int = 256
) -> np.ndarray:
    """|d(target score - best other score) / d pixel| of NHWC images `x`, summed over channels,
    each map normalised to sum 1. The model's parameters and train mode are left as they were."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for lo in range(0, len(x), batch_size):
            xs = torch.from_numpy(np.ascontiguousarray(x[lo : lo + batch_size])).to(device)
            xs.requires_grad_(True)
            s = model(xs)
            other = s.detach().clone()
            other[:, target] = float("-inf")
            margin = s[:, target] - s.gather(1, other.argmax(1, keepdim=True))[:, 0]
            # autograd.grad, not backward: the parameters' .grad stay untouched.
            (g,) = torch.autograd.grad(margin.sum(), xs)
            m = g.abs().sum(-1).detach().cpu().numpy()
            out.append(m / np.maximum(m.reshape(len(m), -1).sum(1), 1e-12)[:, None, None])
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, *x.shape[1:3]), dtype=np.float32)


def best_window(ratio: np.ndarray, k: int) -> tuple[int, int]:
    """Top-left (row, col) of the k x k window with the largest sum of `ratio` (first on ties)."""
    h, w = ratio.shape
    k = min(k, h, w)
    ii = np.zeros((h + 1, w + 1), dtype=np.float64)
    ii[1:, 1:] = ratio.astype(np.float64).cumsum(0).cumsum(1)
    sums = ii[k:, k:] - ii[:-k, k:] - ii[k:, :-k] + ii[:-k, :-k]
    r, c = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(r), int(c)


def occlusion_moves(
    model: nn.Module,
    x: np.ndarray,
    region: np.ndarray,
    fill: np.ndarray,
    target: int,
    min_confidence: float,
    device: torch.device,
    batch_size: int = 512,
) -> np.ndarray:
    """Per image of `x`: the new label when filling `region` ((H, W) mask) with `fill` moves it
    off `target` with softmax confidence >= `min_confidence`, else -1."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    xo = x.copy()
    xo[:, region] = fill[region]
    scores = predict_scores(model, xo, device, batch_size=batch_size)
    z = np.exp(scores - scores.max(1, keepdims=True))
    p = z / z.sum(1, keepdims=True)
    hit = (p.argmax(1) != target) & (p.max(1) >= min_confidence)
    return np.where(hit, p.argmax(1), -1).astype(np.int64)


def spread(labels: np.ndarray, num_classes: int) -> float:
    """Entropy of `labels` over the `num_classes` - 1 other classes, 1 when even, 0 when one."""
    if len(labels) == 0 or num_classes < 3:
        return 0.0
    q = np.bincount(labels, minlength=num_classes) / len(labels)
    q = q[q > 0]
    return float(-(q * np.log(q)).sum() / np.log(num_classes - 1))


def median_fill(x: np.ndarray) -> np.ndarray:
    """The per-pixel median of (at most about 2,000 of) the images: the occlusion fill."""
    return np.median(x[:: max(1, len(x) // 2000)], axis=0)


@dataclass(frozen=True)
class WindowSearch:
    """`search_window`'s answer: the window found (None: no class passed) and, per class, the
    best window's (class, share, spread, size), for the report."""

    window: PatchWindow | None
    classes: tuple[tuple[int, float, float, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict() if self.window is not None else None,
            "classes": [
                {"label": c, "share": round(s, 4), "spread": round(p, 4), "size": k}
                for c, s, p, k in self.classes
            ],
        }


def search_window(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    *,
    sizes: tuple[int, ...],
    samples: int,
    min_share: float,
    min_spread: float,
    min_confidence: float,
    device: torch.device,
    seed: int = 0,
) -> WindowSearch:
    """Every class as the candidate target (module docstring); `sizes` are given at 28x28 and
    scaled to the images, `samples` of each class's fitted samples and of the others are used.
    The class with the largest share x spread is the target if it passes both bars."""
    h, w = int(x.shape[1]), int(x.shape[2])
    scaled = sorted({max(2, min(h, w, round(k * min(h, w) / 28))) for k in sizes})
    fill = median_fill(x)
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, float, float, int, int, int]] = []
    for c in range(num_classes):
        own = np.flatnonzero((y == c) & (pred == c))
        own = own[rng.permutation(len(own))[:samples]]
        oth = np.flatnonzero(y != c)
        oth = oth[rng.permutation(len(oth))[:samples]]
        if len(own) == 0 or len(oth) == 0:
            continue
        ratio = margin_saliency(model, x[own], c, device).mean(0) / (
            margin_saliency(model, x[oth], c, device).mean(0) + 1e-12
        )
        best = (0.0, 0.0, scaled[0], 0, 0)
        for k in scaled:
            r, col = best_window(ratio, k)
            region = np.zeros((h, w), dtype=bool)
            region[r : r + k, col : col + k] = True
            moved = occlusion_moves(model, x[own], region, fill, c, min_confidence, device)
            new = moved[moved >= 0]
            share = len(new) / len(own)
            if share > best[0]:
                best = (share, spread(new, num_classes), k, r, col)
        rows.append((c, *best))
    # A backdoor's poison comes from every other class; a natural confusion goes to one or two.
    rows.sort(key=lambda t: -t[1] * t[2])
    window = None
    if rows and rows[0][1] >= min_share and rows[0][2] >= min_spread:
        c, share, sp, k, r, col = rows[0]
        window = PatchWindow(int(c), int(r), int(col), int(k), float(share), float(sp))
    return WindowSearch(window, tuple((c, s, p, k) for c, s, p, k, _, _ in rows))


def grid_windows(h: int, w: int, sizes: Sequence[int]) -> list[tuple[int, int, int]]:
    """(size, row, col) of every k x k window on a grid of stride k // 2 (the last row and
    column flush with the edge), for each k of `sizes`: any patch of at most k - k // 2 + 1
    pixels a side lies whole inside one of them."""
    out: list[tuple[int, int, int]] = []
    for k in sizes:
        k = min(k, h, w)
        step = max(1, k // 2)
        rows = sorted({*range(0, h - k + 1, step), h - k})
        cols = sorted({*range(0, w - k + 1, step), w - k})
        out.extend((k, r, c) for r in rows for c in cols)
    return out


def locate_by_occlusion(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    target: int,
    num_classes: int,
    *,
    sizes: tuple[int, ...],
    samples: int,
    min_share: float,
    min_spread: float,
    min_confidence: float,
    device: torch.device,
    seed: int = 0,
) -> WindowSearch:
    """The window of a given `target`, found by occluding every window of `grid_windows` (sizes
    given at 28x28 and scaled) on `samples` of its fitted samples: the one with the largest
    share x spread among the smallest size that has one passing both bars (as
    `search_window`'s), else none. Smallest first: a trigger is small, and a larger window
    also hides the class's own strokes (a 14x14 window over an MNIST MLP's "1"s freed the
    poison and many clean "1"s with it, and the repair lost 3.9 points of accuracy).

    Why not the saliency ratio: where a third of the target's samples are poison, the mean
    saliency is the clean majority's (a sandal's straps), and the window it picks frees none
    of the poison. Occlusion asks the question itself, once per window, for one class.
    """
    h, w = int(x.shape[1]), int(x.shape[2])
    scaled = sorted({max(2, min(h, w, round(k * min(h, w) / 28))) for k in sizes})
    own = np.flatnonzero((y == target) & (pred == target))
    own = own[np.random.default_rng(seed).permutation(len(own))[:samples]]
    if len(own) == 0:
        return WindowSearch(None, ())
    fill = median_fill(x)
    best = (0.0, 0.0, scaled[0], 0, 0)  # over every window, for the report when none passes
    for size in scaled:  # smallest first: the first size with a window that passes decides
        passing: tuple[float, float, int, int, int] | None = None
        for k, r, col in grid_windows(h, w, (size,)):
            region = np.zeros((h, w), dtype=bool)
            region[r : r + k, col : col + k] = True
            moved = occlusion_moves(model, x[own], region, fill, target, min_confidence, device)
            new = moved[moved >= 0]
            share, sp = len(new) / len(own), spread(new, num_classes)
            if share * sp > best[0] * best[1]:
                best = (share, sp, k, r, col)
            passes = share >= min_share and sp >= min_spread
            if passes and (passing is None or share * sp > passing[0] * passing[1]):
                passing = (share, sp, k, r, col)
        if passing is not None:
            share, sp, k, r, col = passing
            window = PatchWindow(int(target), int(r), int(col), int(k), float(share), float(sp))
            return WindowSearch(window, ((int(target), float(share), float(sp), int(k)),))
    share, sp, k, _, _ = best
    return WindowSearch(None, ((int(target), float(share), float(sp), int(k)),))


def transplant_trigger(
    x: np.ndarray, window: PatchWindow, margin: int = 0, max_patches: int = 512, seed: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A trigger for shortcut unlearning: the window's contents of the images `x` (the samples
    occlusion moved off the target: mostly poison, so mostly the trigger), widened by `margin`
    pixels on every side within the image, one of them at random pasted at that place on each
    image of a batch. Why a margin: the window comes in a few fixed sizes and the trigger need
    not fit one; the part of it left outside keeps firing."""
    h, w = int(x.shape[1]), int(x.shape[2])
    r0, c0 = max(0, window.row - margin), max(0, window.col - margin)
    r1 = min(h, window.row + window.size + margin)
    c1 = min(w, window.col + window.size + margin)
    pick = np.random.default_rng(seed).permutation(len(x))[:max_patches]
    patches = np.ascontiguousarray(x[pick, r0:r1, c0:c1])
    rng = np.random.default_rng(seed + 1)

    def stamp(batch: np.ndarray) -> np.ndarray:
        out = batch.copy()
        if len(patches):
            out[:, r0:r1, c0:c1] = patches[rng.integers(0, len(patches), len(out))]
        return out

    return stamp
