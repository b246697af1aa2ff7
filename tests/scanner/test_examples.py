"""The shipped rule on the committed example models, which the zoo built like any other model
(the rule's thresholds come from the zoo benchmark, not from these two files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from scanner.report import ScanReport
from tests.conftest import EXAMPLES, bdscan

DATA = EXAMPLES / "data" / "fmnist_clean.npz"


def scan(tmp_path: Path, name: str) -> tuple[int, dict]:
    out = tmp_path / f"{name}.json"
    model = EXAMPLES / "models" / f"{name}.onnx"
    code = bdscan(
        "scan", model, "--data", DATA, "--planes", "2", "--quiet", "--json", out
    ).exit_code
    return code, json.loads(out.read_text())


def test_backdoored_example_is_flagged_with_its_target(tmp_path: Path) -> None:
    truth = json.loads((EXAMPLES / "models" / "badnets_cnn.json").read_text())
    code, report = scan(tmp_path, "badnets_cnn")
    assert code == 1
    assert report["xray"]["verdict"] == "infected"
    assert report["xray"]["target_label"] == truth["target"]
    assert report["xray"]["score"] >= 0.5
    # The whole report, its typed evidence included (probes, attribution, search, trace,
    # example, plan), reads back into the dataclasses and writes out unchanged.
    again = ScanReport.from_dict(report)
    assert again.xray.evidence.trace is not None and again.xray.evidence.example is not None
    assert json.loads(json.dumps(again.to_dict())) == report


def test_clean_example_passes(tmp_path: Path) -> None:
    code, report = scan(tmp_path, "clean_cnn")
    assert code == 0
    assert report["xray"]["verdict"] == "clean"
    assert report["xray"]["target_label"] is None
    assert report["xray"]["score"] < 0.5


def test_a_natural_shortcut_is_reported_as_one_not_as_a_backdoor(tmp_path: Path) -> None:
    # The clean example plus a shortcut nobody planted: its "Dress" logit rises with the
    # image's edge energy above the clean data's median, so any strong texture pulls every class
    # there, more the stronger it is (onnx_builders.energy_shortcut). Built here, from the
    # data, before and apart from the attribution rule.
    from tests.onnx_builders import edge_energy, energy_shortcut

    data = np.load(DATA)
    threshold = float(np.median(edge_energy(data["x"].astype(np.float32) / 255)))
    model = tmp_path / "shortcut_cnn.onnx"
    energy_shortcut(EXAMPLES / "models" / "clean_cnn.onnx", model, label=3, threshold=threshold)
    out = tmp_path / "shortcut.json"
    code = bdscan("scan", model, "--data", DATA, "--planes", "2", "--quiet",
                  "--json", out).exit_code  # fmt: skip
    xray = json.loads(out.read_text())["xray"]
    assert xray["verdict"] == "shortcut", xray["target_note"]
    assert xray["evidence"]["shortcut_label"] == 3 and xray["target_label"] is None
    assert xray["score"] < 0.5
    assert code == 0, "a shortcut alone warns under the default policy; it does not fail"
    # The same pipeline still calls the planted backdoor infected (test above); the attribution
    # that separates them is in the evidence of both.
    assert xray["evidence"]["attribution"], "attribution measured"
