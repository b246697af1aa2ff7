"""Checking and normalising the image/label arrays remediation is given.

Accepted: uint8 (N, H, W) or (N, H, W, C) pixels, or float in [0, 1]; integer labels. Anything
with `.x` and `.y` (such as `scanner.data.Dataset`) works as well as an (x, y) tuple. Output is
float32 NHWC in [0, 1] and int64 labels, the form every remediation method works in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scanner.data import check_labels, normalise_images
from scanner.errors import DataError


def describe(data: Any, what: str) -> str:
    """'--train-data FILE' when the data came from a file, so every message names it."""
    path = getattr(data, "path", None)
    return f"{what} {path}" if path else what


def as_arrays(data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) from a tuple/list pair, a mapping with 'x'/'y', or an object with .x/.y."""
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = data
    elif isinstance(data, dict) and "x" in data and "y" in data:
        x, y = data["x"], data["y"]
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    else:
        raise DataError(f"{what}: expected (x, y) arrays, got {type(data).__name__}")
    # The scanner's own checks, so a data file means the same to `scan` and `remediate`.
    return normalise_images(np.asarray(x), what), check_labels(np.asarray(y), len(x), what)


def check_fit(
    x: np.ndarray, y: np.ndarray, num_classes: int, hwc: tuple[int, int, int], what: str
) -> None:
    """Labels must be classes of the model and images of the size and channels it takes."""
    if len(y) and int(y.max()) >= num_classes:
        raise DataError(
            f"{what}: labels go up to {int(y.max())} but the model has {num_classes} classes"
        )
    if tuple(x.shape[1:]) != tuple(hwc):
        raise DataError(
            f"{what}: images are {x.shape[1]}x{x.shape[2]}x{x.shape[3]} (HxWxC), the model"
            f" takes {hwc[0]}x{hwc[1]}x{hwc[2]}"
        )


def split_holdout(
    n: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) sorted index arrays; the held-out part is never trained on."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"held-out fraction: expected [0, 1), got {fraction}")
    order = rng.permutation(n)
    k = round(fraction * n)
    return np.sort(order[k:]), np.sort(order[:k])
