"""A zoo model as a hard-label oracle on its scan data, for the research tools in this folder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bdscan_lab.bench.xray import data_path
from scanner.backends.base import LabelOracle
from scanner.backends.onnx_graph import parse_model
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import Dataset, load_dataset, to_model_space


@dataclass(frozen=True)
class ZooOracle:
    oracle: LabelOracle  # counts its queries
    to_model: Callable[[np.ndarray], np.ndarray]  # [0, 1] NHWC images -> the model's input
    data: Dataset  # the model's scan data
    num_classes: int


@contextlib.contextmanager
def zoo_oracle(zoo: Path, rec: dict[str, Any]) -> Iterator[ZooOracle]:
    """Open zoo model `rec` with the scanner's own backend and input conventions."""
    ds = load_dataset(data_path(zoo, rec))
    parsed = parse_model(zoo / f"{rec['name']}.onnx")
    mean = tuple(rec["mean"]) if rec.get("mean") else None
    std = tuple(rec["std"]) if rec.get("std") else None
    with OnnxRuntimeBackend(
        parsed.path,
        parsed=parsed,
        image_hwc=tuple(ds.x.shape[1:]),  # type: ignore[arg-type]
        classes_hint=int(ds.y.max()) + 1,
    ) as backend:
        if backend.num_classes == 0:
            backend.num_classes = int(ds.y.max()) + 1
        spec = backend.input_spec

        def to_model(imgs: np.ndarray) -> np.ndarray:
            return to_model_space(imgs, spec, mean, std, source=ds.path)

        yield ZooOracle(LabelOracle(backend, batch_size=8192), to_model, ds, backend.num_classes)
