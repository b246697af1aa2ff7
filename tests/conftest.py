from __future__ import annotations

from pathlib import Path

import pytest

from tests import onnx_builders

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_builders.save_npz(tmp_path_factory.mktemp("data") / "digits.npz")


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_builders.build(tmp_path_factory.mktemp("models") / "digits.onnx")
