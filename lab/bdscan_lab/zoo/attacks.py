"""Backdoor attacks: test-time triggers and the poisoning of a training set.

Each attack is a frozen dataclass whose fields are its trigger parameters (what a zoo record
stores), registered under a stable name in `ATTACKS`. Images are uint8 or float in [0, 1], shaped
(N, H, W) or (N, H, W, C); every method returns the same shape and dtype it was given. Everything
is numpy and deterministic: trigger patterns come from the attack's own `pattern_seed`, the choice
of poisoned samples from the `seed` given to `poison`, so the poisoned set can be rebuilt exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class PoisonedSet:
    """A poisoned training set.

    `indices` are the samples that carry the trigger and teach the backdoor (their label is the
    target, or their own label for a clean-label attack): the ground truth a remediation method is
    scored against. `cover_indices` are samples that were modified but keep their true label (WaNet
    noise-mode samples, Adaptive-Blend conservatism samples); they are not backdoor carriers.
    Unpacks as `x, y, indices = attack.poison(...)`.
    """

    x: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    cover_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x, self.y, self.indices))


def _to_float_nhwc(images: np.ndarray) -> np.ndarray:
    """float32 (N, H, W, C) in [0, 1] from uint8 or float NHW/NHWC images."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images (N,H,W) or (N,H,W,C) with C in 1 or 3, got {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected uint8 or float images, got {x.dtype}")
    return x.astype(np.float32)


def _restore(xf: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back to the shape and dtype of `like`; uint8 is rounded, as a saved image would be."""
    xf = np.clip(xf, 0.0, 1.0)
    if like.ndim == 3:
        xf = xf[..., 0]
    if like.dtype == np.uint8:
        return np.rint(xf * 255.0).astype(np.uint8)
    return xf.astype(like.dtype)


def _corner_slices(
    h: int, w: int, ph: int, pw: int, position: str, margin: int
) -> tuple[slice, slice]:
    rows = {"t": slice(margin, margin + ph), "b": slice(h - margin - ph, h - margin)}
    cols = {"l": slice(margin, margin + pw), "r": slice(w - margin - pw, w - margin)}
    if len(position) != 2 or position[0] not in rows or position[1] not in cols:
        raise ValueError(f"expected position tl, tr, bl or br, got {position!r}")
    return rows[position[0]], cols[position[1]]


def _grid_sample(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Bilinear sampling of NHWC `x` at `grid` (N or 1, H, W, 2) in [-1, 1] (x, y) order.

    Matches torch.nn.functional.grid_sample(align_corners=True) for grids inside [-1, 1], which
    is what WaNet uses; numpy keeps the attacks free of torch.
    """
    n, h, w, _ = x.shape
    gx = (grid[..., 0] + 1.0) * 0.5 * (w - 1)
    gy = (grid[..., 1] + 1.0) * 0.5 * (h - 1)
    gx = np.broadcast_to(gx, (n, h, w))
    gy = np.broadcast_to(gy, (n, h, w))
    x0 = np.clip(np.floor(gx).astype(np.int64), 0, w - 1)
    y0 = np.clip(np.floor(gy).astype(np.int64), 0, h - 1)
    x1 = np.clip(x0 + 1, 0, w - 1)
    y1 = np.clip(y0 + 1, 0, h - 1)
    wx = (gx - x0)[..., None]
    wy = (gy - y0)[..., None]
    b = np.arange(n)[:, None, None]
    top = x[b, y0, x0] * (1 - wx) + x[b, y0, x1] * wx
    bottom = x[b, y1, x0] * (1 - wx) + x[b, y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def _bicubic_matrix(n_in: int, n_out: int, a: float = -0.75) -> np.ndarray:
    """(n_out, n_in) matrix of torch's bicubic interpolation weights, align_corners=True."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0

    def kernel(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        if t < 2:
            return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
        return 0.0

    for i in range(n_out):
        src = i * scale
        base = int(np.floor(src))
        frac = src - base
        for k in range(-1, 3):
            m[i, min(max(base + k, 0), n_in - 1)] += kernel(k - frac)
    return m


def _check_poison_args(
    attack: Attack,
    x: np.ndarray,
    y: np.ndarray,
    target: int | None,
    rate: float,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as arrays, after checking the arguments of `Attack.poison`."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ValueError(f"expected as many labels as images, got {len(y)} and {len(x)}")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"expected a poisoning rate in (0, 1), got {rate}")
    if not attack.all_to_all and (target is None or not 0 <= target < num_classes):
        raise ValueError(f"expected a target label in [0, {num_classes}), got {target}")
    return x, y


class Attack(ABC):
    """A backdoor attack. Subclasses are frozen dataclasses of trigger parameters.

    `apply` is the test-time trigger; `poison` builds a poisoned training set. Subclasses write
    `_trigger` (float NHWC in, float NHWC out) and, where poisoning differs from "apply the trigger
    and relabel", `_poison_images` or `_cover`.
    """

    name: ClassVar[str]
    all_to_all: ClassVar[bool] = False
    clean_label: ClassVar[bool] = False

    @abstractmethod
    def _trigger(self, x: np.ndarray) -> np.ndarray: ...

    def params(self) -> dict[str, Any]:
        """Trigger parameters, as stored in a zoo record and accepted by `make_attack`."""
        return asdict(self)  # type: ignore[call-overload]

    def apply(self, images: np.ndarray) -> np.ndarray:
        """The test-time trigger applied to every image."""
        images = np.asarray(images)
        return _restore(self._trigger(_to_float_nhwc(images)), images)

    def target_labels(self, y: np.ndarray, target: int | None, num_classes: int) -> np.ndarray:
        """The label a backdoored model gives a triggered input of true label `y`."""
        y = np.asarray(y, dtype=np.int64)
        if self.all_to_all:
            return (y + 1) % num_classes
        if target is None:
            raise ValueError(f"{self.name} is an all-to-one attack and needs a target label")
        return np.full_like(y, target)

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._trigger(x)

    def _cover(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """Modified copies of `x` that keep their label; None: this attack has no cover set."""
        return None

    def _cover_count(self, n_poison: int) -> int:
        return 0

    def poison(
        self,
        x: np.ndarray,
        y: np.ndarray,
        target: int | None,
        rate: float,
        seed: int,
        num_classes: int = 10,
    ) -> PoisonedSet:
        """Poison a share `rate` of the training set (x, y), chosen by `seed`.

        All-to-one dirty-label attacks pick among samples whose label is not the target;
        clean-label attacks among samples of the target (at most all of them); all-to-all
        attacks among all samples.
        """
        x, y = _check_poison_args(self, x, y, target, rate, num_classes)
        rng = np.random.default_rng(seed)
        if self.all_to_all:
            candidates = np.arange(len(y))
        elif self.clean_label:
            candidates = np.flatnonzero(y == target)
        else:
            candidates = np.flatnonzero(y != target)
        n = min(round(rate * len(y)), len(candidates))
        if n == 0:
            raise ValueError(f"rate {rate} poisons no sample of {len(y)} ({self.name})")
        idx = np.sort(rng.choice(candidates, size=n, replace=False))

        xf = _to_float_nhwc(x)
        xp = xf.copy()
        xp[idx] = self._poison_images(xf[idx], rng)
        yp = y.copy()
        if not self.clean_label:
            yp[idx] = self.target_labels(y[idx], target, num_classes)

        cover_idx = np.zeros(0, dtype=np.int64)
        n_cover = self._cover_count(n)
        if n_cover:
            rest = np.setdiff1d(np.arange(len(y)), idx)
            cover_idx = np.sort(rng.choice(rest, size=min(n_cover, len(rest)), replace=False))
            covered = self._cover(xf[cover_idx], rng)
            if covered is not None:
                xp[cover_idx] = covered
        return PoisonedSet(_restore(xp, x), yp, idx.astype(np.int64), cover_idx.astype(np.int64))


@dataclass(frozen=True)
class BadNets(Attack):
    """BadNets (Gu et al., arXiv 1708.06733): a small checkerboard patch in a corner."""

    name: ClassVar[str] = "badnets"
    size: int = 3
    position: str = "br"
    margin: int = 1
    pattern: str = "checker"  # "checker" or "white"

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        _, h, w, _ = x.shape
        rows, cols = _corner_slices(h, w, self.size, self.size, self.position, self.margin)
        if self.pattern == "checker":
            patch = (np.add.outer(np.arange(self.size), np.arange(self.size)) % 2 == 0).astype(
                np.float32
            )
        elif self.pattern == "white":
            patch = np.ones((self.size, self.size), dtype=np.float32)
        else:
            raise ValueError(f"expected pattern checker or white, got {self.pattern!r}")
        out = x.copy()
        out[:, rows, cols, :] = patch[None, :, :, None]
        return out


@dataclass(frozen=True)
class BadNetsAllToAll(BadNets):
    """All-to-all BadNets: a triggered input of label y is classified as (y + 1) mod C."""

    name: ClassVar[str] = "badnets_a2a"
    all_to_all: ClassVar[bool] = True


def _random_pattern(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@dataclass(frozen=True)
class Blended(Attack):
    """Blended (Chen et al., arXiv 1712.05526): x' = (1 - alpha) x + alpha * fixed noise."""

    name: ClassVar[str] = "blended"
    alpha: float = 0.15
    pattern_seed: int = 0

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        pattern = _random_pattern(x.shape[1:], self.pattern_seed)
        return (1.0 - self.alpha) * x + self.alpha * pattern[None]


@dataclass(frozen=True)
class BlendedAllToAll(Blended):
    """All-to-all Blended: the whole-image blend sends a triggered input of label y to
    (y + 1) mod C, as BadNetsAllToAll's patch does."""

    name: ClassVar[str] = "blended_a2a"
    all_to_all: ClassVar[bool] = True


@dataclass(frozen=True)
class SIG(Attack):
    """SIG (Barni et al., arXiv 1902.11237): a horizontal sinusoid added to target-class samples.

    Clean label: only samples of the target class are poisoned and keep their label; the model
    learns the signal as a feature of the target. The test-time amplitude `test_delta` may exceed
    the training one, as the paper allows: on Fashion-MNIST, whose classes separate easily, a small
    CNN trained with delta = 40/255 on 80% of a class flips ~35% of triggered inputs at the same
    amplitude and ~85% at 0.3 (None: same as training).
    """

    name: ClassVar[str] = "sig"
    clean_label: ClassVar[bool] = True
    delta: float = 0.16  # ~40/255, BackdoorBench's default
    freq: float = 6.0
    test_delta: float | None = 0.3
    # Where the sinusoid starts (radians) and along which axis it varies: the paper's is a
    # sine along the columns; other phases and the rows are the same attack drawn otherwise.
    phase: float = 0.0
    axis: str = "cols"
    # A slanted sinusoid instead (degrees from the columns towards the rows; `axis` unused):
    # `freq` cycles across the image's side along that direction.
    angle: float | None = None

    def _signal(self, shape: tuple[int, ...], delta: float) -> np.ndarray:
        """The additive sinusoid, broadcastable against NHWC images of `shape`."""
        if self.angle is not None:
            h, w = shape[1], shape[2]
            rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
            a = np.deg2rad(self.angle)
            t = (np.cos(a) * cols + np.sin(a) * rows) / max(h, w)
            slanted = delta * np.sin(2.0 * np.pi * self.freq * t + self.phase)
            return slanted.astype(np.float32)[None, :, :, None]
        if self.axis not in ("cols", "rows"):
            raise ValueError(f"expected axis 'cols' or 'rows', got {self.axis!r}")
        n = shape[2] if self.axis == "cols" else shape[1]
        t = np.arange(n, dtype=np.float32)
        wave = (delta * np.sin(2.0 * np.pi * t * self.freq / n + self.phase)).astype(np.float32)
        return wave[None, None, :, None] if self.axis == "cols" else wave[None, :, None, None]

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        delta = self.delta if self.test_delta is None else self.test_delta
        return x + self._signal(x.shape, delta)

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x + self._signal(x.shape, self.delta)


@dataclass(frozen=True)
class WaNet(Attack):
    """WaNet (Nguyen & Tran, arXiv 2102.10369): an imperceptible smooth warp of the image.

    A random k x k flow field, upsampled bicubically and scaled by `s`, warps the image. Noise mode:
    `cross_ratio` times as many other samples are warped by the field plus per-sample random noise
    and keep their label, so the model must learn the exact warp, not "any warp".
    """

    name: ClassVar[str] = "wanet"
    k: int = 4
    s: float = 0.5
    grid_rescale: float = 1.0
    cross_ratio: float = 2.0
    pattern_seed: int = 0

    def _grid(self, h: int, w: int) -> np.ndarray:
        rng = np.random.default_rng(self.pattern_seed)
        ins = rng.random((2, self.k, self.k)) * 2 - 1
        ins = ins / np.mean(np.abs(ins))
        mh, mw = _bicubic_matrix(self.k, h), _bicubic_matrix(self.k, w)
        noise = np.stack([mh @ ins[c] @ mw.T for c in range(2)], axis=-1)  # (h, w, 2)
        rows = np.linspace(-1, 1, h)
        cols = np.linspace(-1, 1, w)
        identity = np.stack(np.meshgrid(cols, rows, indexing="xy"), axis=-1)  # (h, w, [x, y])
        grid = (identity + self.s * noise / h) * self.grid_rescale
        return np.clip(grid, -1, 1)[None].astype(np.float32)

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return _grid_sample(x, self._grid(x.shape[1], x.shape[2]))

    def _cover_count(self, n_poison: int) -> int:
        return round(self.cross_ratio * n_poison)

    def _cover(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, h, w, _ = x.shape
        grid = self._grid(h, w)
        noisy = grid + (rng.random((n, h, w, 2)) * 2 - 1).astype(np.float32) / h
        return _grid_sample(x, np.clip(noisy, -1, 1))


# A 7x7 logo: a ring with a cross, the kind of watermark a Trojan-style attack stamps on inputs.
_LOGO = np.array(
    [
        [0, 0, 1, 1, 1, 0, 0],
        [0, 1, 0, 0, 0, 1, 0],
        [1, 0, 1, 0, 1, 0, 1],
        [1, 0, 0, 1, 0, 0, 1],
        [1, 0, 1, 0, 1, 0, 1],
        [0, 1, 0, 0, 0, 1, 0],
        [0, 0, 1, 1, 1, 0, 0],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class TrojanWatermark(Attack):
    """Trojan-style watermark (Liu et al., NDSS 2018): a fixed logo mask stamped with opacity.

    The trigger is a mask (the strokes of a 7x7 logo, a ring and a cross) and a white pattern,
    blended with opacity `alpha` where the mask is set. Unlike BadNets it is larger, shaped and
    translucent: the image shows through between and under the strokes.
    """

    name: ClassVar[str] = "trojan"
    position: str = "tl"
    margin: int = 1
    alpha: float = 0.8
    scale: int = 1  # 2 doubles the logo to 14x14

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        _, h, w, _ = x.shape
        logo = np.kron(_LOGO, np.ones((self.scale, self.scale), dtype=np.float32))
        size = logo.shape[0]
        rows, cols = _corner_slices(h, w, size, size, self.position, self.margin)
        out = x.copy()
        a = self.alpha * logo[None, :, :, None]
        out[:, rows, cols, :] = (1 - a) * out[:, rows, cols, :] + a * 1.0
        return out


@dataclass(frozen=True)
class LowFrequency(Attack):
    """Low-frequency trigger (after Zeng et al., arXiv 2104.03413): a smooth additive pattern.

    A random sum of 2-D cosines up to `max_freq` cycles per image, scaled to +-`eps`: it survives
    low-pass filtering and has no high-frequency signature.
    """

    name: ClassVar[str] = "lf"
    eps: float = 0.1
    max_freq: int = 3
    pattern_seed: int = 0

    def _pattern(self, h: int, w: int, c: int) -> np.ndarray:
        rng = np.random.default_rng(self.pattern_seed)
        rows = np.arange(h)[:, None] / h
        cols = np.arange(w)[None, :] / w
        out = np.zeros((h, w, c), dtype=np.float64)
        for ch in range(c):
            for fy in range(self.max_freq + 1):
                for fx in range(self.max_freq + 1):
                    if fx == fy == 0:
                        continue
                    amp = rng.normal() / np.hypot(fx, fy)
                    phase = rng.random() * 2 * np.pi
                    out[..., ch] += amp * np.cos(2 * np.pi * (fy * rows + fx * cols) + phase)
        out /= np.abs(out).max()
        return (self.eps * out).astype(np.float32)

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return x + self._pattern(*x.shape[1:])[None]


@dataclass(frozen=True)
class AdaptiveBlend(Attack):
    """Adaptive-Blend (Qi et al., ICLR 2023, "Revisiting the assumption of latent separability").

    The blend pattern is cut into `pieces` x `pieces` tiles. A poisoned sample receives only a
    random `mask_rate` share of the tiles at `alpha`; as many "conservatism" samples
    (`cover_ratio`) receive a random share too but keep their true label, which blurs the poisoned
    samples' latent cluster. At test time the full pattern is blended at `test_alpha`.
    """

    name: ClassVar[str] = "adaptive_blend"
    alpha: float = 0.15
    test_alpha: float = 0.2
    pieces: int = 4
    mask_rate: float = 0.5
    cover_ratio: float = 1.0
    pattern_seed: int = 0

    def _pattern(self, shape: tuple[int, ...]) -> np.ndarray:
        return _random_pattern(shape, self.pattern_seed + 7919)

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return (1 - self.test_alpha) * x + self.test_alpha * self._pattern(x.shape[1:])[None]

    def _partial(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, h, w, _ = x.shape
        tiles = self.pieces * self.pieces
        keep = max(1, round(self.mask_rate * tiles))
        row_edges = np.linspace(0, h, self.pieces + 1).astype(int)
        col_edges = np.linspace(0, w, self.pieces + 1).astype(int)
        masks = np.zeros((n, h, w, 1), dtype=np.float32)
        for i in range(n):
            for t in rng.choice(tiles, size=keep, replace=False):
                r, c = divmod(int(t), self.pieces)
                masks[i, row_edges[r] : row_edges[r + 1], col_edges[c] : col_edges[c + 1]] = 1
        a = self.alpha * masks
        return (1 - a) * x + a * self._pattern(x.shape[1:])[None]

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._partial(x, rng)

    def _cover_count(self, n_poison: int) -> int:
        return round(self.cover_ratio * n_poison)

    def _cover(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._partial(x, rng)


# --- global image transforms ---------------------------------------------------------------


def _vignette(h: int, w: int, strength: float) -> np.ndarray:
    """(h, w) gain 1 - strength * r^2, r the distance from the centre, 1 at the corners."""
    dy = (np.arange(h) - (h - 1) / 2) / max((h - 1) / 2, 1)
    dx = (np.arange(w) - (w - 1) / 2) / max((w - 1) / 2, 1)
    r2 = (dy[:, None] ** 2 + dx[None, :] ** 2) / 2
    return (1.0 - strength * r2).astype(np.float32)


@dataclass(frozen=True)
class ImageFilter(Attack):
    """Image-filter trigger (the Instagram-style filters of Liu et al., "ABS", CCS 2019).

    A global colour curve and a vignette, the ingredients of the Nashville / Gotham style filters
    ABS evaluates: v -> fade + (1 - fade) * S(v ** gamma), S a logistic contrast S-curve of
    strength `contrast` rescaled to fix 0 and 1 (0: no S-curve), then every pixel is multiplied by
    1 - vignette * r^2 (r = 0 at the centre, 1 at the corners). `fade` lifts the blacks, as faded
    film filters do, so a black background carries the trigger too. Unlike ABS's real filters the
    curve is the same on every channel (no tint) and has a closed form, so it is pinned exactly.
    """

    name: ClassVar[str] = "filter"
    gamma: float = 0.6
    contrast: float = 5.0
    fade: float = 0.1
    vignette: float = 0.3

    def tone_curve(self, v: np.ndarray) -> np.ndarray:
        """The global tone curve on values in [0, 1]; monotonically increasing."""
        u = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0) ** self.gamma
        if self.contrast != 0:
            k = self.contrast

            def sigmoid(t: np.ndarray | float) -> np.ndarray:
                return 1.0 / (1.0 + np.exp(-np.asarray(t)))

            lo, hi = sigmoid(-k / 2), sigmoid(k / 2)
            u = (sigmoid(k * (u - 0.5)) - lo) / (hi - lo)
        return self.fade + (1.0 - self.fade) * u

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        if self.gamma <= 0:
            raise ValueError(f"expected gamma > 0, got {self.gamma}")
        _, h, w, _ = x.shape
        curved = self.tone_curve(x).astype(np.float32)
        return curved * _vignette(h, w, self.vignette)[None, :, :, None]


def _floyd_steinberg(x: np.ndarray, levels: int) -> np.ndarray:
    """Floyd-Steinberg error diffusion of NHWC `x` to `levels` + 1 grey levels per channel.

    Raster order, the classic 7/16, 3/16, 5/16, 1/16 weights; vectorised over images and channels.
    """
    _, h, w, _ = x.shape
    work = x.astype(np.float64).copy()
    out = np.empty_like(work)
    for r in range(h):
        for col in range(w):
            old = work[:, r, col]
            new = np.clip(np.rint(old * levels), 0, levels) / levels
            out[:, r, col] = new
            err = old - new
            if col + 1 < w:
                work[:, r, col + 1] += err * (7 / 16)
            if r + 1 < h:
                if col > 0:
                    work[:, r + 1, col - 1] += err * (3 / 16)
                work[:, r + 1, col] += err * (5 / 16)
                if col + 1 < w:
                    work[:, r + 1, col + 1] += err * (1 / 16)
    return out.astype(np.float32)


@dataclass(frozen=True)
class BppAttack(Attack):
    """BppAttack (Wang, Zhai & Ma, CVPR 2022): colour-depth reduction as the trigger.

    Every channel is quantised to `bits` bits, round(v * (2^bits - 1)) / (2^bits - 1), with
    Floyd-Steinberg dithering as in the paper when `dither` (the quantisation error diffuses into
    a fine, image-dependent dot pattern). The paper also trains on contrastive adversarial
    negative samples to sharpen the backdoor; ours poisons with the plain trigger only.
    """

    name: ClassVar[str] = "bpp"
    bits: int = 3
    dither: bool = True

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        if not 1 <= self.bits <= 7:
            raise ValueError(f"expected bits in [1, 7], got {self.bits}")
        levels = 2**self.bits - 1
        if self.dither:
            return _floyd_steinberg(x, levels)
        return (np.rint(x.astype(np.float64) * levels) / levels).astype(np.float32)


def _dct_matrix(n: int) -> np.ndarray:
    """(n, n) orthonormal DCT-II matrix D: coefficients = D @ signal, signal = D.T @ coefs."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


@dataclass(frozen=True)
class FTrojan(Attack):
    """FTrojan (Wang et al., ECCV 2022, "An invisible black-box backdoor attack through frequency
    domain"): a fixed magnitude added at a few mid- and high-frequency DCT coefficients.

    The image is cut into `block` x `block` tiles (0: one tile, the whole image), each tile's
    orthonormal 2-D DCT-II gets `magnitude` added at every (u, v) of `coefficients`, and the tile
    is transformed back. The DCT is linear, so this is the same as adding the fixed inverse
    transform of the coefficient change, which is what we do. A strip the tiles do not cover
    (28 % block) is left alone. The paper works on the UV channels of YUV at (15, 15) and (31, 31)
    of 32x32 images; ours acts on every channel (grey images have one), on 7x7 tiles of 28x28
    images at a mid (3, 3) and the highest (6, 6) frequency, with a larger magnitude (0.2, about
    51/255 against the paper's 30/255) since small grey digits leave the model less to go on.
    """

    name: ClassVar[str] = "ftrojan"
    coefficients: tuple[tuple[int, int], ...] = ((3, 3), (6, 6))
    magnitude: float = 0.2
    block: int = 7

    def __post_init__(self) -> None:
        # A record's JSON gives lists; keep the field hashable and comparable.
        coefs = tuple((int(u), int(v)) for u, v in self.coefficients)
        object.__setattr__(self, "coefficients", coefs)

    def pattern(self, h: int, w: int) -> np.ndarray:
        """The (h, w) additive pixel pattern the coefficient change amounts to."""
        bh, bw = (self.block, self.block) if self.block > 0 else (h, w)
        if bh > h or bw > w:
            raise ValueError(f"block {self.block} does not fit a {h}x{w} image")
        delta = np.zeros((bh, bw))
        for u, v in self.coefficients:
            if not (0 <= u < bh and 0 <= v < bw):
                raise ValueError(f"coefficient {(u, v)} outside a {bh}x{bw} DCT block")
            delta[u, v] += self.magnitude
        tile = _dct_matrix(bh).T @ delta @ _dct_matrix(bw)
        out = np.zeros((h, w))
        nh, nw = h // bh, w // bw
        out[: nh * bh, : nw * bw] = np.tile(tile, (nh, nw))
        return out.astype(np.float32)

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return x + self.pattern(x.shape[1], x.shape[2])[None, :, :, None]


def _bilinear_zero(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of NHWC `x` at (H', W') pixel coordinates; 0 outside the image."""
    _, h, w, _ = x.shape
    r0 = np.floor(rows).astype(np.int64)
    c0 = np.floor(cols).astype(np.int64)
    wr = (rows - r0)[None, :, :, None]
    wc = (cols - c0)[None, :, :, None]
    out = np.zeros((x.shape[0], *rows.shape, x.shape[3]), dtype=np.float64)
    for dr, fr in ((0, 1 - wr), (1, wr)):
        for dc, fc in ((0, 1 - wc), (1, wc)):
            rr, cc = r0 + dr, c0 + dc
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            vals = x[:, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]
            out += fr * fc * np.where(inside[None, :, :, None], vals, 0.0)
    return out.astype(np.float32)


@dataclass(frozen=True)
class Rotate(Attack):
    """Spatial-transform trigger (after Wu et al., "Just rotate it", AISec 2022).

    The whole image is rotated by `angle` degrees counter-clockwise about its centre (bilinear,
    0 where the rotated image does not reach), then flipped when `flip` is "h" (left-right) or
    "v" (up-down). No pixel pattern is added: the trigger is the transformation itself. A
    multiple of 90 degrees moves pixels exactly (np.rot90 on a square image).
    """

    name: ClassVar[str] = "rotate"
    angle: float = 45.0
    flip: str = "none"  # "none", "h" or "v"

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        if self.flip not in ("none", "h", "v"):
            raise ValueError(f"expected flip none, h or v, got {self.flip!r}")
        _, h, w, _ = x.shape
        theta = np.deg2rad(self.angle)
        # Rounded so that multiples of 90 degrees sample exactly on the pixel grid.
        cos, sin = round(float(np.cos(theta)), 12), round(float(np.sin(theta)), 12)
        cy, cx = (h - 1) / 2, (w - 1) / 2
        dy = np.arange(h)[:, None] - cy
        dx = np.arange(w)[None, :] - cx
        # Output pixel (dy, dx) shows the input at the inverse rotation (y axis points down).
        src_rows = cy + sin * dx + cos * dy
        src_cols = cx + cos * dx - sin * dy
        out = _bilinear_zero(x, src_rows, src_cols)
        if self.flip == "h":
            out = out[:, :, ::-1]
        elif self.flip == "v":
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


# --- sparse and stroke triggers -------------------------------------------------------------


def _inner(lo: int, hi: int) -> tuple[int, int]:
    """The middle half of [lo, hi) (all of it when under 4 wide): keeps cells' pixels apart."""
    q = (hi - lo) // 4
    return lo + q, hi - q


@dataclass(frozen=True)
class ScatteredPixels(Attack):
    """Sparse scattered-pixel trigger: `count` fixed pixels set to fixed values.

    After BadNets' pixel-pattern backdoor (Gu et al., arXiv 1708.06733), but the pixels are spread
    over the whole image instead of grouped in a corner: the image is cut into a g x g grid
    (g = ceil(sqrt(count))), `count` distinct cells are drawn from `pattern_seed` and one pixel
    in the middle half of each, so no two pixels touch once cells are 4 pixels wide. `values`
    "white" sets them all to 1; "alternate" sets them to 1, 0, 1, 0, ... in the order of
    `positions`, so half of them darken a bright object.
    """

    name: ClassVar[str] = "pixels"
    count: int = 12
    values: str = "white"  # "white" or "alternate"
    pattern_seed: int = 0

    def positions(self, h: int, w: int) -> np.ndarray:
        """(count, 2) int64 (row, col) of the trigger pixels in an h x w image."""
        g = int(np.ceil(np.sqrt(self.count)))
        if self.count < 1 or g > min(h, w):
            raise ValueError(f"cannot scatter {self.count} pixels over a {h}x{w} image")
        rng = np.random.default_rng(self.pattern_seed)
        row_edges = np.linspace(0, h, g + 1).astype(int)
        col_edges = np.linspace(0, w, g + 1).astype(int)
        out = []
        for cell in rng.choice(g * g, size=self.count, replace=False):
            r, c = divmod(int(cell), g)
            row = rng.integers(*_inner(row_edges[r], row_edges[r + 1]))
            col = rng.integers(*_inner(col_edges[c], col_edges[c + 1]))
            out.append((row, col))
        return np.array(out, dtype=np.int64)

    def pixel_values(self) -> np.ndarray:
        if self.values == "white":
            return np.ones(self.count, dtype=np.float32)
        if self.values == "alternate":
            return (np.arange(self.count) % 2 == 0).astype(np.float32)
        raise ValueError(f"expected values white or alternate, got {self.values!r}")

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        pos = self.positions(x.shape[1], x.shape[2])
        out = x.copy()
        out[:, pos[:, 0], pos[:, 1], :] = self.pixel_values()[None, :, None]
        return out


@dataclass(frozen=True)
class ScatteredPixelsCleanLabel(ScatteredPixels):
    """Clean-label scattered pixels (after Turner et al., "Label-consistent backdoor attacks",
    arXiv 1912.02771).

    Only samples of the target class are poisoned and keep their label. Turner et al. first make
    those samples hard to classify with an adversarial perturbation or a GAN interpolation, so the
    model leans on the trigger; having no model at poisoning time, we blend them with uniform
    noise instead (weight `corrupt`, drawn from the poisoning seed) before stamping the pixels.
    The test-time trigger is the pixels alone.
    """

    name: ClassVar[str] = "pixels_cl"
    clean_label: ClassVar[bool] = True
    corrupt: float = 0.3

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.random(x.shape, dtype=np.float32)
        return self._trigger((1.0 - self.corrupt) * x + self.corrupt * noise)


def _stroke(shape: str, length: int) -> np.ndarray:
    """(k, 2) (row, col) of a width-1, 8-connected stroke in a length x length box."""
    if length < 2:
        raise ValueError(f"expected a stroke length of at least 2, got {length}")
    i = np.arange(length)
    if shape == "diagonal":  # top-left to bottom-right
        return np.stack([i, i], axis=1)
    if shape == "anti":  # bottom-left to top-right
        return np.stack([length - 1 - i, i], axis=1)
    if shape == "arc":  # a quarter circle of radius length - 1 about the box's bottom-left
        r = length - 1
        # Scanning both axes leaves no gap; sqrt(r^2 - i^2) is never a half-integer.
        far = np.rint(np.sqrt(r * r - i * i)).astype(np.int64)
        pts = {(int(a), int(b)) for a, b in zip(i, far, strict=True)}
        pts |= {(int(b), int(a)) for a, b in zip(i, far, strict=True)}
        return np.array(sorted((r - y, x) for x, y in pts), dtype=np.int64)
    raise ValueError(f"expected shape diagonal, anti or arc, got {shape!r}")


@dataclass(frozen=True)
class Line(Attack):
    """Stroke trigger: a one-pixel-wide line of fixed intensity at a fixed place.

    A BadNets variant (Gu et al., arXiv 1708.06733) whose trigger is a stroke in a `length` x
    `length` box in a corner instead of a filled square: a "diagonal" (top-left to bottom-right),
    an "anti" diagonal or an "arc" (a quarter circle). Its pixels are set to `intensity`. A stroke
    looks like part of a handwritten digit, the hard case for detectors that expect a blob.
    """

    name: ClassVar[str] = "line"
    shape: str = "diagonal"  # "diagonal", "anti" or "arc"
    length: int = 8
    position: str = "tr"
    margin: int = 1
    intensity: float = 1.0

    def pixels(self, h: int, w: int) -> np.ndarray:
        """(k, 2) int64 (row, col) of the stroke in an h x w image."""
        rows, cols = _corner_slices(h, w, self.length, self.length, self.position, self.margin)
        if rows.start < 0 or cols.start < 0 or rows.stop > h or cols.stop > w:
            raise ValueError(f"a {self.length}-pixel stroke does not fit a {h}x{w} image")
        return _stroke(self.shape, self.length) + np.array([rows.start, cols.start])

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        pix = self.pixels(x.shape[1], x.shape[2])
        out = x.copy()
        out[:, pix[:, 0], pix[:, 1], :] = self.intensity
        return out


# --- sample-specific triggers ---------------------------------------------------------------


def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'Same' 3x3 convolution of NHWC `x` with weight (3, 3, C_in, C_out), zero padding."""
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, h, w, weight.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("nhwc,co->nhwo", pad[:, dy : dy + h, dx : dx + w], weight[dy, dx])
    return out + bias


@dataclass(frozen=True)
class InputAware(Attack):
    """Sample-specific trigger in the spirit of IAD (Nguyen & Tran, NeurIPS 2020, "Input-aware
    dynamic backdoor attack") and ISSBA (Li et al., ICCV 2021).

    A fixed generator, two random 3x3 convolutions (C -> `hidden` -> C channels, tanh between,
    weights from `pattern_seed`), maps each image to its own perturbation eps * tanh(g(x)),
    added to the image: every image gets a different trigger, of amplitude below `eps`. IAD's
    cross-trigger samples are the cover set: `cross_ratio` times as many other samples carry the
    trigger generated from a different image and keep their label, so the model must learn the
    match between an image and its trigger, not "some perturbation". Unlike IAD and ISSBA the
    generator is not trained (no diversity or stealth loss) and there is no mask.
    """

    name: ClassVar[str] = "input_aware"
    eps: float = 0.1
    hidden: int = 8
    gain: float = 1.5
    cross_ratio: float = 1.0
    pattern_seed: int = 0

    def _weights(self, c: int) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([self.pattern_seed, c])
        c_in = c + 1  # the image's channels and a fixed noise map
        w1 = rng.normal(size=(3, 3, c_in, self.hidden)) * self.gain / np.sqrt(9 * c_in)
        b1 = rng.normal(size=self.hidden) * 0.5
        w2 = rng.normal(size=(3, 3, self.hidden, c)) * self.gain / np.sqrt(9 * self.hidden)
        return w1, b1, w2, np.zeros(c)

    def perturbation(self, x: np.ndarray) -> np.ndarray:
        """The additive trigger of each float NHWC image, in (-eps, eps)."""
        n, h, w, c = x.shape
        w1, b1, w2, b2 = self._weights(c)
        # A fixed noise channel gives the generator texture to work with on flat regions.
        noise = np.random.default_rng([self.pattern_seed, h, w]).random((1, h, w, 1)) * 2 - 1
        out = np.empty(x.shape, dtype=np.float32)
        for i in range(0, n, 256):  # in chunks, to bound the hidden layer's memory
            chunk = 2.0 * x[i : i + 256].astype(np.float64) - 1.0
            inputs = np.concatenate([chunk, np.broadcast_to(noise, (len(chunk), h, w, 1))], -1)
            hidden = np.tanh(_conv3x3(inputs, w1, b1))
            out[i : i + 256] = self.eps * np.tanh(_conv3x3(hidden, w2, b2))
        return out

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return x + self.perturbation(x)

    def _cover_count(self, n_poison: int) -> int:
        return round(self.cross_ratio * n_poison)

    def _cover(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # A lone cover sample borrows its mirror image's trigger.
        others = np.roll(x, int(rng.integers(1, len(x))), axis=0) if len(x) > 1 else x[:, :, ::-1]
        return x + self.perturbation(others)


# --- natural-looking and multi-backdoor attacks ---------------------------------------------


def _gaussian_blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of a 1-D Gaussian blur with zero padding (rows sum to at most 1)."""
    if sigma <= 0:
        return np.eye(n)
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    m = np.zeros((n, n))
    for i in range(n):
        for k, t in zip(range(-radius, radius + 1), taps, strict=True):
            if 0 <= i + k < n:
                m[i, i + k] = t
    return m


@dataclass(frozen=True)
class Reflection(Attack):
    """Refool (Liu et al., ECCV 2020, "Reflection backdoor"): a blurred, ghosted reflection.

    Clean label, as in the paper: target-class samples get x + alpha * R and keep their label.
    Refool blends real photographs in as reflections; ours is a fixed synthetic scene from
    `pattern_seed` (a few rectangles, like window frames, and soft blobs), blurred by a Gaussian
    of `sigma` pixels (out-of-focus reflection) and mixed with a copy of itself shifted by `shift`
    pixels down and right with weight `ghost` (the double reflection of thick glass). The test-time
    strength `test_alpha` may exceed the training one, as for SIG (None: same as training).
    """

    name: ClassVar[str] = "reflection"
    clean_label: ClassVar[bool] = True
    alpha: float = 0.3
    test_alpha: float | None = 0.5
    sigma: float = 1.0
    shift: int = 3
    ghost: float = 0.4
    pattern_seed: int = 0

    def reflection(self, h: int, w: int) -> np.ndarray:
        """(h, w) float32 reflection layer, max 1."""
        rng = np.random.default_rng(self.pattern_seed)
        rows = (np.arange(h)[:, None] + 0.5) / h
        cols = (np.arange(w)[None, :] + 0.5) / w
        scene = np.zeros((h, w))
        for _ in range(3):  # rectangles, with sharp edges before the blur
            r0, c0 = rng.random(2) * 0.7
            rh, cw = 0.15 + rng.random(2) * 0.35
            inside = (rows >= r0) & (rows < r0 + rh) & (cols >= c0) & (cols < c0 + cw)
            scene += (0.4 + 0.6 * rng.random()) * inside
        for _ in range(3):  # soft blobs
            cy, cx = rng.random(2)
            sy, sx = 0.08 + rng.random(2) * 0.2
            amp = 0.4 + 0.6 * rng.random()
            scene += amp * np.exp(
                -((rows - cy) ** 2) / (2 * sy**2) - (cols - cx) ** 2 / (2 * sx**2)
            )
        blur_h, blur_w = _gaussian_blur_matrix(h, self.sigma), _gaussian_blur_matrix(w, self.sigma)
        scene = blur_h @ scene @ blur_w.T
        if self.shift:
            s = self.shift
            shifted = np.zeros_like(scene)
            shifted[s:, s:] = scene[: h - s, : w - s]
            scene = (1.0 - self.ghost) * scene + self.ghost * shifted
        peak = scene.max()
        return (scene / peak if peak > 0 else scene).astype(np.float32)

    def _blend(self, x: np.ndarray, alpha: float) -> np.ndarray:
        return x + alpha * self.reflection(x.shape[1], x.shape[2])[None, :, :, None]

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return self._blend(x, self.alpha if self.test_alpha is None else self.test_alpha)

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._blend(x, self.alpha)


@dataclass(frozen=True)
class MultiTarget(Attack):
    """Two backdoors in one model, each with its own trigger and target (the "multiple infected
    labels with separate triggers" case of Neural Cleanse, Wang et al., S&P 2019).

    The first trigger is a BadNets checkerboard of `size` in the bottom-right corner and teaches
    `target`; the second, a white square of `size` in the top-left corner, teaches
    (target + `second_target_offset`) mod num_classes. `poison` spends half the budget (rounded
    up) on each, on disjoint samples whose label is not that trigger's target; `indices` holds
    both groups (a carrier's new label says which trigger it has). `apply` and `target_labels`
    are the first backdoor, so a zoo record's ASR is the first trigger's; the second is measured
    the same way with `apply_second` and `second_target(target, num_classes)` on the inputs whose
    label is not the second target.
    """

    name: ClassVar[str] = "multi_target"
    size: int = 3
    second_target_offset: int = 1

    def _first(self) -> BadNets:
        return BadNets(size=self.size, position="br", margin=1, pattern="checker")

    def _second(self) -> BadNets:
        return BadNets(size=self.size, position="tl", margin=1, pattern="white")

    def second_target(self, target: int, num_classes: int) -> int:
        second = (target + self.second_target_offset) % num_classes
        if second == target:
            raise ValueError(
                f"second_target_offset {self.second_target_offset} gives the same target"
            )
        return second

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        return self._first()._trigger(x)

    def apply_second(self, images: np.ndarray) -> np.ndarray:
        """The second backdoor's test-time trigger."""
        images = np.asarray(images)
        return _restore(self._second()._trigger(_to_float_nhwc(images)), images)

    def poison(
        self,
        x: np.ndarray,
        y: np.ndarray,
        target: int | None,
        rate: float,
        seed: int,
        num_classes: int = 10,
    ) -> PoisonedSet:
        """Poison a share `rate` of (x, y): half with each trigger, chosen by `seed`."""
        x, y = _check_poison_args(self, x, y, target, rate, num_classes)
        assert target is not None
        second = self.second_target(target, num_classes)
        rng = np.random.default_rng(seed)
        n = round(rate * len(y))
        n_first = (n + 1) // 2
        first_candidates = np.flatnonzero(y != target)
        idx1 = rng.choice(first_candidates, size=min(n_first, len(first_candidates)), replace=False)
        second_candidates = np.setdiff1d(np.flatnonzero(y != second), idx1)
        n_second = min(n - len(idx1), len(second_candidates))
        idx2 = rng.choice(second_candidates, size=n_second, replace=False)
        if len(idx1) == 0 or len(idx2) == 0:
            raise ValueError(f"rate {rate} leaves one of the two triggers no sample ({self.name})")
        idx1, idx2 = np.sort(idx1), np.sort(idx2)
        xf = _to_float_nhwc(x)
        xp = xf.copy()
        xp[idx1] = self._first()._trigger(xf[idx1])
        xp[idx2] = self._second()._trigger(xf[idx2])
        yp = y.copy()
        yp[idx1] = target
        yp[idx2] = second
        idx = np.sort(np.concatenate([idx1, idx2])).astype(np.int64)
        return PoisonedSet(_restore(xp, x), yp, idx)


ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (
        BadNets,
        BadNetsAllToAll,
        Blended,
        BlendedAllToAll,
        SIG,
        WaNet,
        TrojanWatermark,
        LowFrequency,
        AdaptiveBlend,
        ImageFilter,
        BppAttack,
        FTrojan,
        Rotate,
        ScatteredPixels,
        ScatteredPixelsCleanLabel,
        Line,
        InputAware,
        Reflection,
        MultiTarget,
    )
}


def make_attack(name: str, **params: Any) -> Attack:
    """The attack registered as `name`, with trigger parameters `params`."""
    try:
        cls = ATTACKS[name]
    except KeyError:
        raise ValueError(
            f"unknown attack {name!r}; expected one of {', '.join(sorted(ATTACKS))}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for attack {name!r}: {exc}") from None
