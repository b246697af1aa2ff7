"""`bdscan scan`'s workflow (scanner.app.scan) with a stand-in scanner: which display a run uses,
what a single model's failure looks like, the policy's part in the exit code, and the reports."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policies import load_policy
from scanner.app.scan import Displays, ScanRequest, run_scan, write_reports
from scanner.data import Dataset
from scanner.detectors.evidence import Evidence
from scanner.errors import ExitCode, ModelLoadError
from scanner.pipeline import ScanConfig
from scanner.report import DataInfo, ModelInfo, ScanReport, XrayResult


def _report(path: Path, verdict: str, score: float, target: int | None) -> ScanReport:
    evidence = Evidence.empty(decided_by=None if target is None else "universality")
    xray = XrayResult(verdict, score, target, f"{verdict} note", 0.0, 0.0, 1, 0.1, {}, evidence)  # type: ignore[arg-type]
    return ScanReport(
        ModelInfo(str(path), "0" * 64, {}, 10, "cpu"), xray, DataInfo("d.npz", "0" * 64), "now"
    )


class Scanner:
    """Answers by file name: `bad*` cannot be loaded, `bd*` is infected, the rest clean."""

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def __call__(self, path: Path, data: Dataset, config: ScanConfig, **_: Any) -> ScanReport:
        self.scanned.append(Path(path).name)
        name = Path(path).name
        if name.startswith("bad"):
            raise ModelLoadError(f"{path}: not an ONNX model")
        if name.startswith("bd"):
            return _report(path, "infected", 0.97, 3)
        return _report(path, "clean", 0.05, None)


class Recorder:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def displays(self) -> Displays:
        @contextlib.contextmanager
        def single(name: str) -> Iterator[None]:
            self.shown.append(f"single {name}")
            yield None

        @contextlib.contextmanager
        def batch() -> Iterator[None]:
            self.shown.append("batch")
            yield None

        return Displays(single=single, batch=batch)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("bd.onnx", "clean.onnx"):
        (models / name).write_bytes(name.encode())  # distinct: the cache keys by content
    return models


def _request(tmp_path: Path, *targets: Path, **kw: Any) -> ScanRequest:
    data = Dataset(np.zeros((4, 8, 8, 1), np.float32), np.arange(4), "d.npz", "x")
    return ScanRequest(targets=targets, data=data, config=ScanConfig(),
                       cache_dir=tmp_path / "cache", **kw)  # fmt: skip


def test_one_model_file_is_a_single_scan_with_its_own_report_form(
    tmp_path: Path, folder: Path
) -> None:
    shown = Recorder()
    run = run_scan(_request(tmp_path, folder / "bd.onnx"), shown.displays(), scan=Scanner())
    assert run.single and run.form == "single" and shown.shown == ["single bd.onnx"]
    assert run.exit_code == ExitCode.FINDINGS and run.single_error is None
    out = tmp_path / "r.json"
    write_reports(run, json_path=str(out))
    doc = json.loads(out.read_text())
    assert doc["xray"]["verdict"] == "infected" and doc["xray"]["target_label"] == 3


def test_a_folder_is_a_batch_and_one_broken_model_does_not_stop_it(
    tmp_path: Path, folder: Path
) -> None:
    (folder / "bad.onnx").write_bytes(b"stand-in")
    shown, scanner = Recorder(), Scanner()
    run = run_scan(_request(tmp_path, folder), shown.displays(), scan=scanner)
    assert shown.shown == ["batch"] and not run.single and run.form == "summary"
    assert sorted(scanner.scanned) == ["bad.onnx", "bd.onnx", "clean.onnx"]
    errors = {Path(o.path).name: o.error_kind for o in run.outcomes}
    assert errors == {"bad.onnx": "ModelLoadError", "bd.onnx": None, "clean.onnx": None}
    assert run.exit_code == ExitCode.FINDINGS  # a finding outranks a model left unscanned


def test_a_single_model_that_cannot_be_scanned_is_its_error_alone(
    tmp_path: Path, folder: Path
) -> None:
    (folder / "bad.onnx").write_bytes(b"stand-in")
    run = run_scan(_request(tmp_path, folder / "bad.onnx"), scan=Scanner())
    assert run.single_error is not None and "not an ONNX model" in str(run.single_error.error)
    assert run.exit_code == ExitCode.SCAN_ERROR


def test_the_policy_decides_the_exit_code_and_rides_on_each_report(
    tmp_path: Path, folder: Path
) -> None:
    policy = load_policy("default")
    run = run_scan(_request(tmp_path, folder / "clean.onnx", policy=policy), scan=Scanner())
    assert run.exit_code == ExitCode.PASSED and run.policy_results is not None
    assert run.outcomes[0].report is not None and run.outcomes[0].report.policy is not None
    blocked = run_scan(_request(tmp_path, folder / "bd.onnx", policy=policy), scan=Scanner())
    assert blocked.exit_code == ExitCode.FINDINGS
    assert blocked.policy_results is not None and not blocked.policy_results[0].passed
