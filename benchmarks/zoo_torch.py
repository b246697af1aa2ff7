"""A zoo model's training set and its converted PyTorch model, for the white-box research tools
in this folder (`resampling_flags.py`, `saliency_window.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bdscan_lab.zoo.build import poisoned_training_set
from scanner.bridge.convert import convert_model


def training_subset(
    rec: dict[str, Any], train_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images [0, 1] NHWC float32, labels as trained on, poisoned mask): the same subset
    `bench_burn.py` draws at `seed`."""
    x, y, poisoned, _, _ = poisoned_training_set(rec)
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(len(y), size=min(train_size, len(y)), replace=False))
    is_poison = np.zeros(len(y), dtype=bool)
    is_poison[poisoned] = True
    xs = x[sub].astype(np.float32) / 255.0
    return (xs[..., None] if xs.ndim == 3 else xs), y[sub], is_poison[sub]


def image_model(zoo: Path, rec: dict[str, Any], xs: np.ndarray) -> torch.nn.Module:
    """The zoo model converted to PyTorch ([0, 1] NHWC images -> class scores), in eval mode.
    Raises the converter's BdscanError for a model it cannot use (a label-only output)."""
    conv = convert_model(
        zoo / rec["onnx"],
        xs[:64],
        mean=tuple(rec["mean"]) if rec.get("mean") else None,
        std=tuple(rec["std"]) if rec.get("std") else None,
    )
    return conv.image_model.eval()
