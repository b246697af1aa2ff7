"""The shipped rule on the committed example models, which the zoo built like any other model
(the rule's thresholds come from the zoo benchmark, not from these two files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main
from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "fmnist_clean.npz"


def scan(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    out = tmp_path / f"{name}.json"
    code = main(
        [
            "scan",
            str(EXAMPLES / "models" / f"{name}.onnx"),
            "--data",
            str(DATA),
            "--planes",
            "2",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    capsys.readouterr()
    return code, json.loads(out.read_text())


def test_backdoored_example_is_flagged_with_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = json.loads((EXAMPLES / "models" / "badnets_cnn.json").read_text())
    code, report = scan(tmp_path, "badnets_cnn", capsys)
    assert code == 1
    assert report["xray"]["verdict"] == "infected"
    assert report["xray"]["target_label"] == truth["target"]
    assert report["xray"]["score"] >= 0.5


def test_clean_example_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = scan(tmp_path, "clean_cnn", capsys)
    assert code == 0
    assert report["xray"]["verdict"] == "clean"
    assert report["xray"]["target_label"] is None
    assert report["xray"]["score"] < 0.5
