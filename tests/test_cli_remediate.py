"""`bdscan remediate` through the CLI: bad invocations and bad data never leave a model behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from scanner.cli import cli
from tests.conftest import EXAMPLES

MODEL = EXAMPLES / "models" / "badnets_cnn.onnx"
DATA = EXAMPLES / "data" / "fmnist_clean.npz"


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["remediate", *map(str, args)])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


def test_no_data_is_a_usage_error(tmp_path: Path) -> None:
    code, err = invoke(MODEL, "-o", tmp_path / "out.onnx")
    assert code == 4 and "--train-data" in err
    assert not (tmp_path / "out.onnx").exists()


def test_the_input_model_is_never_overwritten(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(MODEL.read_bytes())
    code, err = invoke(model, "--clean-data", DATA, "-o", model)
    assert code == 4 and "overwrite" in err
    assert model.read_bytes() == MODEL.read_bytes()


def test_labels_that_do_not_fit_the_model_are_a_scan_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((40, 28, 28), np.uint8), y=np.arange(40) % 40)
    code, err = invoke(MODEL, "--train-data", bad, "-o", tmp_path / "out.onnx", "--no-rescan")
    assert code == 2 and "bad.npz" in err
    assert not (tmp_path / "out.onnx").exists()


def test_a_bad_scan_report_is_named(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text("{}")
    code, err = invoke(
        MODEL, "--clean-data", DATA, "--scan-report", report, "-o", tmp_path / "out.onnx"
    )
    assert code == 4 and "r.json" in err
