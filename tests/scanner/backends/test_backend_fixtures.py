"""The backend on real torch exports (legacy and dynamo exporters) of every convention: the
labels it reads must be the ones PyTorch gave (recorded by tests/fixtures/make_fixtures.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import load_dataset, to_model_space
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "models"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_labels_match_pytorch(name: str) -> None:
    spec = EXPECTED[name]
    data = load_dataset(REPO / spec["data"])
    with OnnxRuntimeBackend(
        FIXTURES / name, image_hwc=data.x.shape[1:], classes_hint=int(data.y.max()) + 1
    ) as backend:
        assert backend.input_spec.layout == spec["input"]["layout"]
        assert backend.input_spec.dtype == spec["input"]["dtype"]
        if spec["label_output"]:
            assert backend.outputs.labels_from == spec["label_output"]
        x = to_model_space(data.x, backend.input_spec, spec["mean"], spec["std"])
        labels = backend.predict_labels(x)
    expected = np.asarray(spec["labels"])
    np.testing.assert_array_equal(labels[: len(expected)], expected)
