"""The one seam between detectors and inference engines.

A backend answers hard-label queries for batches in *model space*: float32 arrays shaped
(N, H, W, C), already preprocessed the way the model's input expects (normalised floats, or raw
0..255 pixel values for a uint8 input). Layout, dtype and batch-size conventions of the real model
are the backend's business; batching, counting and budgets live once, in `LabelOracle`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from scanner.errors import QueryBudgetExceeded

Layout = Literal["NCHW", "NHWC", "NHW", "flat"]


def arrange(x: np.ndarray, layout: Layout) -> np.ndarray:
    """NHWC images or points -> the graph input's layout. The one place this is decided, for the
    scan and remediation alike: a flat input is flattened (C, H, W), as PyTorch's Flatten does
    on NCHW tensors (with one channel every order agrees)."""
    if layout == "NCHW":
        return x.transpose(0, 3, 1, 2)
    if layout == "NHW":
        return x[..., 0]
    if layout == "flat":
        return x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    return x


@dataclass(frozen=True)
class InputSpec:
    """What the model's image input looks like.

    `dtype` is the graph input's element type; `query_dtype` is what the detector's points become
    (differs from `dtype` when a uint8 input is bypassed, see `uint8_mode`).
    """

    name: str
    layout: Layout
    height: int
    width: int
    channels: int
    dtype: str
    batch: int | None  # None: dynamic batch dimension
    uint8_mode: Literal["none", "clip", "bypass"] = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        return cls(**d)

    @property
    def shape_hwc(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


@runtime_checkable
class Backend(Protocol):
    """An image classifier that returns hard labels only."""

    input_spec: InputSpec
    num_classes: int
    provider: str

    def predict_labels(self, batch: np.ndarray) -> np.ndarray:
        """Labels (int64, shape (N,)) for model-space points `batch` of shape (N, H, W, C)."""
        ...

    def close(self) -> None: ...


ProgressFn = Callable[[int], None]


class LabelOracle:
    """Batches, counts and budgets the queries every detector sends to a backend.

    The count is of points asked about, which is what a remote API would bill; `budget` (from
    --max-queries) is checked before a batch is sent, so a scan never overspends.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        batch_size: int = 4096,
        budget: int | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"expected batch_size >= 1, got {batch_size}")
        self.backend = backend
        self.batch_size = batch_size
        self.budget = budget
        self.progress = progress
        self.queries = 0

    @property
    def num_classes(self) -> int:
        return self.backend.num_classes

    @property
    def input_spec(self) -> InputSpec:
        return self.backend.input_spec

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 4 or points.shape[1:] != self.input_spec.shape_hwc:
            raise ValueError(
                f"expected points of shape (N, {', '.join(map(str, self.input_spec.shape_hwc))}),"
                f" got {points.shape}"
            )
        n = len(points)
        if self.budget is not None and self.queries + n > self.budget:
            raise QueryBudgetExceeded(
                f"the scan needs more than --max-queries {self.budget} queries"
                f" ({self.queries} spent, {n} more asked for)"
            )
        out = np.empty(n, dtype=np.int64)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            out[start:stop] = self.backend.predict_labels(points[start:stop])
            self.queries += stop - start
            if self.progress is not None:
                self.progress(stop - start)
        return out
