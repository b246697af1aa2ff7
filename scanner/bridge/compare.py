"""How far one model's outputs are from another's: the check behind both the conversion
(PyTorch vs onnxruntime) and the export (exported ONNX vs PyTorch)."""

from __future__ import annotations

import math

import numpy as np

# An argmax output may flip only on an exact tie between two scores; more is a real mismatch.
MAX_LABEL_DISAGREEMENT = 0.01


def output_mismatch(ref: np.ndarray, got: np.ndarray, atol: float) -> tuple[float, str | None]:
    """(max absolute difference for score outputs, or share of disagreeing entries for integer
    outputs; the problem in words, or None when within tolerance)."""
    if ref.shape != got.shape:
        return math.inf, f"has shape {got.shape}, the reference gives {ref.shape}"
    if np.issubdtype(ref.dtype, np.floating):
        d = float(np.max(np.abs(ref.astype(np.float64) - got.astype(np.float64)), initial=0.0))
        return d, None if d <= atol else f"differs by {d:.3g} (> {atol:g})"
    d = float(np.mean(ref != got)) if ref.size else 0.0
    return d, None if d <= MAX_LABEL_DISAGREEMENT else f"disagrees on {d:.1%} of samples"
