"""Direct evidence of poison beside the boundary mixture: samples whose label hangs on a trigger.

- `occlusion_flags`: a patch trigger's region is known (X-ray's patch probes, or the own
  check's saliency window); a target-labelled sample whose label moves when it is covered;
- `stamp_flags`: a target-labelled sample (any sample, for an all-to-all prior) that holds,
  pixel for pixel, the stamp the occlusion-flagged samples share there, whether or not its
  label moves;
- `resampling_flags`: the model has a warp shortcut; a target-labelled sample whose label
  moves under per-pixel resampling noise;
- `turn_flags`: the scan's search found a rotation to the target; a target-labelled
  sample whose label moves when that turn is undone;
- `despeckle_flags`: the scan's search found a small stamp to the target; a target-labelled
  sample whose label moves when its isolated pixels are replaced by their neighbourhood's
  median;
- `unblend_flags`: an all-to-all prior with no patch (a global trigger); a sample whose label
  moves when a blend's dimming and lift are undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scanner.detectors.spaces import Point
from scanner.remediate.config import BurnConfig
from scanner.remediate.prior import TURN_FRACTIONS
from scanner.remediate.runtime import predict_scores
from scanner.remediate.window import median_fill

# A stamp needs this many occlusion-flagged samples to be read from, and this many pixels to
# match on: on the 8x8 digits a 3-pixel match (of a 2x2 white patch) also held 22 clean zeros,
# whose strokes are white there, and relabelling them cost 5 points of accuracy; the 28x28
# zoo's stamps had 5 or more.
STAMP_MIN_SAMPLES = 5
STAMP_MIN_PIXELS = 4
# The share of the freed samples that must hold a stamp pixel's value.
STAMP_MIN_SHARE = 1 / 3
# The most of the other classes' samples that may hold the stamp too.
STAMP_MAX_NULL = 0.01
# Without a target (all-to-all), the null is the holders' labels (`stamp_flags`): at most this
# share of them may carry one label, and at most this share of the candidates may hold the
# stamp (hand-set: all-to-all poison spreads over ten labels as 0.1 each, and the zoo poisons
# at most a tenth of the training set).
STAMP_A2A_MAX_LABEL_SHARE = 0.5
STAMP_A2A_MAX_HOLDERS = 0.25


def occlusion_flags(
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
    new, conf = scores.argmax(1), softmax_max(scores)
    hit = (new != y[cand]) & (conf >= config.occlusion_min_confidence)
    flags[cand[hit]] = True
    labels[cand[hit]] = new[hit]
    return flags, labels


@dataclass(frozen=True, eq=False)
class Stamp:
    """The pixel values the occlusion-freed samples share inside a region (`read_stamp`)."""

    region: np.ndarray  # (H, W) bool: where it was read
    pixels: np.ndarray  # (pixels in region, channels) bool: the stamp's own pixels
    values: np.ndarray  # (pixels in region, channels): their shared values

    def holds(self, x: np.ndarray, tol: float) -> np.ndarray:
        """Per sample: its mean absolute difference from the stamp's values is <= `tol`."""
        inside = x[:, self.region]
        return np.abs(inside - self.values)[:, self.pixels].mean(axis=1) <= tol


def read_stamp(
    x: np.ndarray, occluded: np.ndarray, region: np.ndarray, cand: np.ndarray, tol: float
) -> Stamp | None:
    """The stamp the `occluded` samples share in `region`: the region's pixels where a value at
    least `STAMP_MIN_SHARE` of them share (to within `tol`) differs by at least twice `tol`
    from the training set's median fill and from the candidates' (`cand`) own median; None
    when fewer than `STAMP_MIN_SAMPLES` samples were freed or fewer than `STAMP_MIN_PIXELS`
    pixels qualify."""
    if tol <= 0 or int(occluded.sum()) < STAMP_MIN_SAMPLES or len(cand) == 0:
        return None
    fill = median_fill(x)[region]
    # The region's pixels of every sample, once: indexing whole images first would copy the
    # training set (large inputs).
    inside = x[:, region]  # (n, pixels, channels)
    # What the candidates usually hold there (their clean samples outnumber the poison the
    # occlusion test left): a value the freed clean samples share is no stamp.
    own = np.median(inside[cand], axis=0)
    held = inside[occluded]
    # Per pixel, the value most of the freed samples share (bins of `tol`, the candidates' own
    # value left out) and that share: the occlusion test also frees clean samples (4.5% of a
    # Trojan SE-ResNet's), so a median can miss a stamp that only a third of them hold.
    top = round(1 / tol)
    bins = np.clip(np.round(held / tol), 0, top).astype(np.int64)
    counts = np.stack(
        [(bins == b).sum(axis=0) * (np.abs(b * tol - own) >= tol) for b in range(top + 1)]
    )
    centre = counts.argmax(axis=0) * tol
    share = counts.max(axis=0) / len(held)
    stamp = (
        (np.abs(centre - fill) >= 2 * tol)
        & (np.abs(centre - own) >= 2 * tol)
        & (share >= STAMP_MIN_SHARE)
    )
    if int(stamp.sum()) < STAMP_MIN_PIXELS:
        return None
    return Stamp(region=region, pixels=stamp, values=centre)


def stamp_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    occluded: np.ndarray,
    region: np.ndarray,
    target: int | None,
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(flags, labels, freed share): target-labelled samples that hold, pixel for pixel, the
    stamp the occlusion-flagged samples (`occluded`) share inside `region` (`read_stamp`),
    whether or not occluding it flips the model's label (a poisoned sample whose content the
    model also reads as the target). A sample holds it when its mean absolute difference from
    the stamp's values is at most `stamp_tolerance`; when more than `STAMP_MAX_NULL` of the
    other classes' samples hold it too, it is class content and nothing is flagged. Labelled
    with the model's most probable other class on the sample with the region occluded (the
    target left out), as `resampling_flags` does.

    Without a target (an all-to-all prior) every sample the occlusion test left is a
    candidate and the median of them all is the "own" value: the poison carries every label,
    so no class is its null. Class content instead shows in whose labels the holders carry:
    all-to-all poison spreads over the labels as its source classes do, the content of a
    class sits in that class, so when more than `STAMP_A2A_MAX_LABEL_SHARE` of the holders
    carry one label, or more than `STAMP_A2A_MAX_HOLDERS` of the candidates hold the stamp,
    nothing is flagged. A holder is relabelled with the model's most probable class on it with
    the region occluded, its own given label left out.

    The freed share is the fraction of the `occluded` samples that hold the stamp where it
    flagged any sample (0.0 otherwise): near 1 when the stamp is the trigger itself (a patch, a
    line, a logo), lower when it is a few of a scattered trigger's pixels beside background
    the freed samples happen to share (burn.py's mixture set-aside reads it).
    """
    flags = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    tol = config.stamp_tolerance
    cand = np.flatnonzero(~occluded & ((y == target) if target is not None else True))
    stamp = read_stamp(x, occluded, region, cand, tol)
    if stamp is None:
        return flags, labels, 0.0
    if target is not None:
        # The other classes' samples are the null (an all-to-one attack labels all its poison
        # with the target): a "stamp" they hold too is class content, not a trigger.
        others = np.flatnonzero(y != target)
        if len(others) and stamp.holds(x[others], tol).mean() > STAMP_MAX_NULL:
            return flags, labels, 0.0
    hit = cand[stamp.holds(x[cand], tol)]
    if len(hit) == 0:
        return flags, labels, 0.0
    if target is None:
        by_label = np.bincount(y[hit]).max() / len(hit)
        if len(hit) > STAMP_A2A_MAX_HOLDERS * len(cand) or by_label > STAMP_A2A_MAX_LABEL_SHARE:
            return flags, labels, 0.0
    xo = x[hit].copy()
    xo[:, region] = median_fill(x)[region]
    scores = predict_scores(model, xo, device, batch_size=config.attack_batch)
    if target is not None:
        scores[:, target] = -np.inf
    else:
        scores[np.arange(len(hit)), y[hit]] = -np.inf
    flags[hit] = True
    labels[hit] = scores.argmax(1)
    return flags, labels, float(stamp.holds(x[occluded], tol).mean())


def stamp_region(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    regions: Sequence[np.ndarray],
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(region, occlusion flags, their labels) for an all-to-all prior: of `regions` (each
    of the prior's patches grown by a pixel, `prior.patch_regions`), the one whose
    occlusion-freed samples most often hold the stamp they share (`read_stamp`). None when no
    region's freed samples share one.

    Why one region, chosen so: an all-to-all prior's confirmed patches include some that move
    classes by covering the image's content (a 7-pixel patch in an SE-ResNet's upper half),
    whose union's occlusion freed 436 clean samples beside 78 of 1,015 poisoned ones, and
    patches that sit on the trigger but, placed on the probes' grid, miss its last row or
    column (51 freed). Occluding a region that covers the whole trigger frees the poison the
    model fits, and those share the trigger's pixels; content freed by a patch on the image
    shares none (docs/remediation.md section 34).
    """
    tol = config.stamp_tolerance
    best: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
    for region in regions:
        occluded, labels = occlusion_flags(model, x, y, pred, region, None, config, device)
        stamp = read_stamp(x, occluded, region, np.flatnonzero(~occluded), tol)
        if stamp is None:
            continue
        held = int(stamp.holds(x[occluded], tol).sum())
        if best is None or held > best[0]:
            best = (held, region, occluded, labels)
    return None if best is None else best[1:]


def resampling_flags(
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


def turn_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    turns: Sequence[Point],
    target: int,
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(flags, labels): target-labelled samples the model fits whose label moves off the target,
    at softmax confidence >= `occlusion_min_confidence`, when one of `turns` (the search's
    rotations to the target) is undone: applied backwards at `TURN_FRACTIONS` of at least
    full strength (the search keeps the least turn that fires; the planted one is larger). A
    poisoned sample turned back is its source image, which the model reads as its own class.
    Each flagged sample gets the label of the smallest reversal that moved it. A clean target
    sample that a reversal moves is flagged too, on a network with little rotation tolerance
    (the tenth fresh set's MLP: clean samples flagged 1.6% -> 4.8%); asking two reversals to
    agree flagged fewer of them and repaired less (docs/remediation.md section 20).
    """
    flags = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    cand = np.flatnonzero((pred == y) & (y == target))
    if len(cand) == 0:
        return flags, labels
    found = np.full(len(cand), -1, dtype=np.int64)
    for point in turns:
        for fraction in sorted(f for f in TURN_FRACTIONS if f >= 1.0):
            todo = np.flatnonzero(found < 0)
            if len(todo) == 0:
                break
            back = point.apply(x[cand[todo]], -fraction)
            scores = predict_scores(model, back, device, batch_size=config.attack_batch)
            new, conf = scores.argmax(1), softmax_max(scores)
            hit = (new != target) & (conf >= config.occlusion_min_confidence)
            found[todo[hit]] = new[hit]
    hit = found >= 0
    flags[cand[hit]] = True
    labels[cand[hit]] = found[hit]
    return flags, labels


def despeckle(x: np.ndarray, jump: float, chunk: int = 1024) -> np.ndarray:
    """`x` (NHWC, [0, 1]) with every pixel that differs by more than `jump` from the median of
    its 3x3 neighbourhood (edges repeated) replaced by that median, channel by channel: a
    scattered pixel or a one-pixel stroke goes, content wider than a pixel stays."""
    out = np.empty_like(x)
    h, w = x.shape[1], x.shape[2]
    for lo in range(0, len(x), chunk):
        part = x[lo : lo + chunk]
        pad = np.pad(part, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        shifts = [pad[:, i : i + h, j : j + w] for i in range(3) for j in range(3)]
        med = np.median(np.stack(shifts), axis=0).astype(x.dtype)
        out[lo : lo + chunk] = np.where(np.abs(part - med) > jump, med, part)
    return out


def despeckle_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    target: int,
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flags, labels, doubts): target-labelled samples the model fits whose label moves off
    the target, at softmax confidence >= `occlusion_min_confidence`, once `despeckle` (at
    `despeckle_jump`) has removed their isolated pixels; each gets the label it moved to. A
    scattered-pixel trigger does not survive it, while a clean sample's content does; it
    needs no stamp: the scan's stamp for such a net is often other pixels the net also
    answers (docs/remediation.md section 24). `doubts`: those that move off the target at a
    lower confidence (no label to give them; BURN quarantines them when
    `despeckle_quarantine`, section 26)."""
    flags = np.zeros(len(y), dtype=bool)
    doubts = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    cand = np.flatnonzero((pred == y) & (y == target))
    if len(cand) == 0:
        return flags, labels, doubts
    cleaned = despeckle(x[cand], config.despeckle_jump)
    scores = predict_scores(model, cleaned, device, batch_size=config.attack_batch)
    new, conf = scores.argmax(1), softmax_max(scores)
    moved = new != target
    hit = moved & (conf >= config.occlusion_min_confidence)
    flags[cand[hit]] = True
    labels[cand[hit]] = new[hit]
    doubts[cand[moved & ~hit]] = True
    return flags, labels, doubts


def unblend(x: np.ndarray, alpha: float, mean: float = 0.5) -> np.ndarray:
    """`x` with a blend at `alpha` of a pattern of mean `mean` undone, as far as it can be
    without the pattern: (x - alpha * mean) / (1 - alpha), clipped to [0, 1]. The blend's
    dimming and lift go; its pattern's zero-mean part stays."""
    return np.clip((x - alpha * mean) / (1.0 - alpha), 0.0, 1.0).astype(x.dtype)


def unblend_flags(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    alphas: Sequence[float],
    config: BurnConfig,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(flags, labels): samples the model fits whose label moves, at softmax confidence >=
    `occlusion_min_confidence`, once `unblend` at one of `alphas` (smallest first) has undone
    a blend; each gets the label it moved to. For an all-to-all prior whose probes are global
    (no patch): a blend trigger (x -> (1 - a) x + a P) dims every image and lifts its dark
    pixels, and on the seen blend nets undoing that alone sent most poisoned samples back to
    their source class and few clean ones anywhere (docs/remediation.md section 44). The
    all-to-all null is the flags' new labels, as in `stamp_flags`: when more
    than `STAMP_A2A_MAX_LABEL_SHARE` of them go to one label, or more than
    `STAMP_A2A_MAX_HOLDERS` of the candidates move, what moved them is class content (a
    contrast the classes differ by), and nothing is flagged."""
    flags = np.zeros(len(y), dtype=bool)
    labels = y.copy()
    cand = np.flatnonzero(pred == y)
    if len(cand) == 0:
        return flags, labels
    found = np.full(len(cand), -1, dtype=np.int64)
    for alpha in sorted(alphas):
        todo = np.flatnonzero(found < 0)
        if len(todo) == 0:
            break
        scores = predict_scores(
            model, unblend(x[cand[todo]], alpha), device, batch_size=config.attack_batch
        )
        new, conf = scores.argmax(1), softmax_max(scores)
        hit = (new != y[cand[todo]]) & (conf >= config.occlusion_min_confidence)
        found[todo[hit]] = new[hit]
    hit = found >= 0
    n = int(hit.sum())
    if n == 0 or n > STAMP_A2A_MAX_HOLDERS * len(cand):
        return flags, labels
    if np.bincount(found[hit]).max() > STAMP_A2A_MAX_LABEL_SHARE * n:
        return flags, labels
    flags[cand[hit]] = True
    labels[cand[hit]] = found[hit]
    return flags, labels


def softmax_max(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(1, keepdims=True)
    p = np.exp(z)
    return (p.max(1) / p.sum(1)).astype(np.float32)
