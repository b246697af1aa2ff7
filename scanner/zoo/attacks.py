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
        x = np.asarray(x)
        y = np.asarray(y, dtype=np.int64)
        if len(x) != len(y):
            raise ValueError(f"expected as many labels as images, got {len(y)} and {len(x)}")
        if not 0.0 < rate < 1.0:
            raise ValueError(f"expected a poisoning rate in (0, 1), got {rate}")
        if not self.all_to_all and (target is None or not 0 <= target < num_classes):
            raise ValueError(f"expected a target label in [0, {num_classes}), got {target}")
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

    def _signal(self, w: int, delta: float) -> np.ndarray:
        cols = np.arange(w, dtype=np.float32)
        return (delta * np.sin(2.0 * np.pi * cols * self.freq / w)).astype(np.float32)

    def _trigger(self, x: np.ndarray) -> np.ndarray:
        delta = self.delta if self.test_delta is None else self.test_delta
        return x + self._signal(x.shape[2], delta)[None, None, :, None]

    def _poison_images(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x + self._signal(x.shape[2], self.delta)[None, None, :, None]


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


ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (
        BadNets,
        BadNetsAllToAll,
        Blended,
        SIG,
        WaNet,
        TrojanWatermark,
        LowFrequency,
        AdaptiveBlend,
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
