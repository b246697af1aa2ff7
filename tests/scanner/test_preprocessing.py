"""Scan and remediation must feed a model the same arrays for the same images, in every input
convention (a 3-channel flat input once went (C, H, W) in the scan and (H, W, C) in repair)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from scanner.backends.base import InputSpec
from scanner.backends.onnxruntime import to_model_input
from scanner.bridge.convert import _images_to_input
from scanner.data import to_model_space


@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "NHW", "flat"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_scan_and_remediation_prepare_inputs_identically(
    layout: str, channels: int, dtype: str
) -> None:
    if layout == "NHW" and channels == 3:
        pytest.skip("NHW has one channel")
    rng = np.random.default_rng(0)
    images = rng.random((5, 4, 6, channels)).astype(np.float32)
    mean = (0.5,) * channels if dtype == "float32" else None
    std = tuple(0.2 + 0.1 * i for i in range(channels)) if dtype == "float32" else None
    spec = InputSpec(
        name="x",
        layout=layout,
        height=4,
        width=6,
        channels=channels,
        dtype=dtype,  # type: ignore[arg-type]
        batch=None,
        uint8_mode="clip" if dtype == "uint8" else "none",  # type: ignore[arg-type]
    )
    scan = to_model_input(
        to_model_space(images, spec, mean, std),
        layout,
        dtype,
        clip=dtype == "uint8",  # type: ignore[arg-type]
    )
    elem = TensorProto.UINT8 if dtype == "uint8" else TensorProto.FLOAT
    repair = _images_to_input(images, layout, elem, mean, std)  # type: ignore[arg-type]
    assert scan.dtype == repair.dtype and scan.shape == repair.shape
    np.testing.assert_allclose(scan.astype(np.float64), repair.astype(np.float64), atol=1e-5)
    if layout == "flat" and channels == 3 and dtype == "float32":
        # (C, H, W): the first H*W values are the first channel.
        np.testing.assert_allclose(
            scan[0, : 4 * 6].reshape(4, 6), (images[0, ..., 0] - 0.5) / 0.2, atol=1e-5
        )
