"""Model X-ray (Su et al., arXiv 2402.17465): decision-region planes through three clean samples,
queried for hard labels, summarised by Renyi entropy (RE) and the area of the anchors' own
regions (ATS). This module reproduces the official code's geometry and metrics; how they become a
verdict lives in `scanner.detectors.verdict`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from scanner.backends.base import LabelOracle
from scanner.detectors.grid import adaptive_map, dense_map
from scanner.report import PlaneResult, encode_label_map

Grid = Literal["dense", "adaptive"]


@dataclass(frozen=True)
class XrayConfig:
    """Defaults reproduce the official code: 20 planes, R = 100, r = 5, alpha = 10, T = 0.5."""

    planes: int = 20
    resolution: int = 100
    extend: float = 5.0
    alpha: float = 10.0
    ats_threshold: float = 0.5
    seed: int = 0
    grid: Grid = "adaptive"
    keep_maps: bool = True

    def __post_init__(self) -> None:
        if self.planes < 1:
            raise ValueError(f"expected planes >= 1, got {self.planes}")
        if self.resolution < 3:
            raise ValueError(f"expected resolution >= 3, got {self.resolution}")
        if self.extend < 0:
            raise ValueError(f"expected extend >= 0, got {self.extend}")
        if self.alpha < 0:
            raise ValueError(f"expected alpha >= 0, got {self.alpha}")
        if self.grid not in ("dense", "adaptive"):
            raise ValueError(f"expected grid dense or adaptive, got {self.grid!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Plane:
    """The plane through x1, x2, x3: cell (i, j) is origin + us[i] * a + vs[j] * b_perp."""

    origin: np.ndarray
    a: np.ndarray
    b_perp: np.ndarray
    us: np.ndarray
    vs: np.ndarray
    anchor_uv: np.ndarray  # (3, 2) plane coordinates of x1, x2, x3

    def points(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        u = self.us[ii].astype(np.float32)[:, None]
        v = self.vs[jj].astype(np.float32)[:, None]
        flat = self.origin[None, :] + u * self.a[None, :] + v * self.b_perp[None, :]
        return flat

    def anchor_cells(self) -> list[tuple[int, int]]:
        return [
            (int(np.abs(self.us - u).argmin()), int(np.abs(self.vs - v).argmin()))
            for u, v in self.anchor_uv
        ]


class DegeneratePlane(ValueError):
    """Three anchors that span no plane: identical or collinear images."""


def make_plane(
    x1: np.ndarray, x2: np.ndarray, x3: np.ndarray, resolution: int, extend: float
) -> Plane:
    """Model X-ray's plane through three anchors (docs/verdict.md part 1): float64 geometry,
    float32 points."""
    o = x1.astype(np.float64).ravel()
    d2 = x2.astype(np.float64).ravel() - o
    d3 = x3.astype(np.float64).ravel() - o
    n2 = np.linalg.norm(d2)
    if n2 == 0:
        raise DegeneratePlane("two of its anchor images are identical")
    a = d2 / n2
    ab = float(a @ d3)
    perp = d3 - ab * a
    np_ = np.linalg.norm(perp)
    if np_ == 0:
        raise DegeneratePlane("its three anchor images are collinear")
    b_perp = perp / np_
    anchor_uv = np.array([[0.0, 0.0], [n2, 0.0], [ab, float(b_perp @ d3)]])

    def axis(vals: np.ndarray) -> np.ndarray:
        lo, hi = vals.min(), vals.max()
        length = hi - lo
        return np.linspace(lo - extend * length, hi + extend * length, resolution)

    return Plane(
        origin=o.astype(np.float32),
        a=a.astype(np.float32),
        b_perp=b_perp.astype(np.float32),
        us=axis(anchor_uv[:, 0]),
        vs=axis(anchor_uv[:, 1]),
        anchor_uv=anchor_uv,
    )


def renyi_entropy(counts: np.ndarray, alpha: float) -> float:
    """RE = log2(sum p^alpha) / (1 - alpha); Shannon entropy in bits at alpha = 1."""
    p = counts[counts > 0] / counts.sum()
    if alpha == 1.0:
        return float(-(p * np.log2(p)).sum())
    if alpha == 0.0:
        return float(np.log2(len(p)))
    return float(np.log2((p**alpha).sum()) / (1.0 - alpha))


def component_area(label_map: np.ndarray, cell: tuple[int, int]) -> int:
    """Cells of the 8-connected region of label_map[cell]'s label that contains `cell`."""
    mask = label_map == label_map[cell]
    region = np.zeros_like(mask)
    region[cell] = True
    while True:
        # One 8-neighbour dilation step, kept inside the label's cells.
        grown = region.copy()
        grown[1:, :] |= region[:-1, :]
        grown[:-1, :] |= region[1:, :]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        grown &= mask
        if (grown == region).all():
            return int(region.sum())
        region = grown


def anchor_areas(
    label_map: np.ndarray, cells: list[tuple[int, int]], anchor_labels: tuple[int, ...]
) -> tuple[float, ...]:
    """s_i: area share of anchor i's own-label component, 0 when its cell has another label."""
    total = label_map.size
    return tuple(
        component_area(label_map, c) / total if label_map[c] == y else 0.0
        for c, y in zip(cells, anchor_labels, strict=False)
    )


def ats(areas: tuple[float, ...], threshold: float) -> float:
    """Regions of half the plane or more are left out: they are taken for a backdoor target's."""
    return float(sum(s for s in areas if s < threshold))


def choose_anchors(y: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """Three samples with three different ground-truth labels, uniformly at random."""
    classes = np.unique(y)
    labels = rng.choice(classes, size=3, replace=False)
    return tuple(int(rng.choice(np.flatnonzero(y == lab))) for lab in labels)  # type: ignore[return-value]


def analyse_plane(
    oracle: LabelOracle,
    x: np.ndarray,
    y: np.ndarray,
    anchors: tuple[int, int, int],
    config: XrayConfig,
    num_classes: int,
) -> tuple[PlaneResult, np.ndarray]:
    plane = make_plane(
        x[anchors[0]], x[anchors[1]], x[anchors[2]], config.resolution, config.extend
    )
    shape = x.shape[1:]
    before = oracle.queries

    def label_cells(ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        return oracle(plane.points(ii, jj).reshape(len(ii), *shape))

    if config.grid == "dense":
        label_map = dense_map(config.resolution, label_cells)
    else:
        label_map = adaptive_map(config.resolution, label_cells)
    anchor_labels = tuple(int(y[i]) for i in anchors)
    counts = np.bincount(label_map.ravel(), minlength=num_classes)
    cells = plane.anchor_cells()
    areas = anchor_areas(label_map, cells, anchor_labels)
    result = PlaneResult(
        anchors=anchors,
        anchor_labels=anchor_labels,  # type: ignore[arg-type]
        resolution=config.resolution,
        extend=config.extend,
        re=renyi_entropy(counts, config.alpha),
        ats=ats(areas, config.ats_threshold),
        label_counts=tuple(int(c) for c in counts),
        anchor_areas=areas,  # type: ignore[arg-type]
        queries=oracle.queries - before,
        label_map=encode_label_map(label_map) if config.keep_maps else None,
        anchor_cells=tuple(cells),
    )
    return result, label_map


@dataclass(frozen=True)
class XrayPlanes:
    planes: tuple[PlaneResult, ...]
    queries: int
    seconds: float


def run_planes(
    oracle: LabelOracle,
    x: np.ndarray,
    y: np.ndarray,
    config: XrayConfig,
    on_plane: Callable[[int, int], None] | None = None,
) -> XrayPlanes:
    """Query `config.planes` planes; `x` is the clean data in model space (N, H, W, C).
    `on_plane(done, total)` is called after each plane (progress display)."""
    rng = np.random.default_rng(config.seed)
    start, before = time.perf_counter(), oracle.queries
    results = []
    for k in range(config.planes):
        anchors = choose_anchors(y, rng)
        result, _ = analyse_plane(oracle, x, y, anchors, config, oracle.num_classes)
        results.append(result)
        if on_plane is not None:
            on_plane(k + 1, config.planes)
    return XrayPlanes(tuple(results), oracle.queries - before, time.perf_counter() - start)
