"""The training data's attribution of a scan's verdict (`bdscan scan --train-data`,
scanner.detectors.by_data): the rule's four cases on decisions built by hand, and a real scan
of a digits MLP with a planted grating that the scan alone does not attribute."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exporters import html
from scanner.data import load_dataset
from scanner.detectors.by_data import attribute, check_scan
from scanner.detectors.datacheck import DataCheck, DataCheckConfig
from scanner.detectors.evidence import Evidence, Reading, Trace
from scanner.detectors.verdict import Decision, VerdictRule
from scanner.detectors.xray import XrayConfig
from scanner.errors import DataError
from scanner.pipeline import ScanConfig, scan_model
from scanner.report import ModelOutcome
from tests.conftest import schema_validator
from tests.onnx_builders import (
    GRATING_TARGET,
    build_mlp,
    grating_mlp,
    grating_training_set,
    save_npz,
)


def _check(label: int | None, **fields: object) -> DataCheck:
    z = tuple(40.0 if c == label else 3.0 for c in range(10))
    note = "no class stands out" if label is None else f"class {label} stands out"
    return replace(DataCheck(z, z, label, None if label is None else "pixel", note), **fields)


def _decision(verdict: str, target: int | None = None, score: float = 0.3) -> Decision:
    trace = Trace("consistency", (Reading("consistency", 1.0, "x", 0.8, "fitted", True),), None)
    evidence = Evidence.empty(
        decided_by="consistency+attribution" if verdict == "shortcut" else None,
        shortcut_label=4 if verdict == "shortcut" else None,
        trace=trace,
    )
    return Decision(verdict, score, target, f"the scan said {verdict}", evidence)


def test_a_shortcut_to_the_class_the_data_names_that_the_findings_reach_is_infected() -> None:
    d = attribute(_decision("shortcut"), _check(4), {4: 0.88, 8: 0.6})
    assert (d.verdict, d.target_label) == ("infected", 4)
    assert d.score == pytest.approx(0.88)  # the share the findings send there, >= 0.5
    ev = d.evidence
    assert ev.decided_by == "data-check" and ev.shortcut_label is None
    assert ev.infected_note == "the scan said shortcut"
    assert ev.data_check is not None and ev.data_check.attributed
    assert ev.data_check.reached == (4, 8) and ev.data_check.overruled is None
    assert ev.trace is not None and ev.trace.decided_by == "data-check"
    assert ev.trace.tests[-1].test == "data-check" and ev.trace.tests[-1].fired
    assert "training data names class 4" in d.target_note


def test_a_clean_verdict_is_attributed_by_the_pattern_where_no_finding_reaches() -> None:
    check = _check(2, pattern_amp=0.15, pattern_rate=0.71, sine_amp=None, sine_rate=0.4)
    d = attribute(_decision("clean", score=0.2), check, {8: 0.9})
    assert (d.verdict, d.target_label, d.score) == ("infected", 2, pytest.approx(0.71))
    assert "its pattern in the training data at amplitude 0.15 sends 71%" in d.target_note


def test_a_wrong_infected_target_is_overruled_by_the_datas_stamp_where_no_finding_reaches() -> None:
    stamp = {"space": "mask", "params": {"shape": [8, 8, 1], "pixels": [[0, 1]], "values": [[1.0]]}}
    check = _check(7, stamp=stamp, stamp_rate=0.9, stamp_pixels=1, stamp_mix=0.35)
    d = attribute(_decision("infected", target=8, score=0.8), check, {8: 0.95})
    assert (d.verdict, d.target_label, d.score) == ("infected", 7, pytest.approx(0.9))
    assert "its stamp in the training data (1 pixels) sends 90%" in d.target_note
    assert d.evidence.data_check is not None and d.evidence.data_check.overruled == 8
    # A stamp read that did not fire (no point kept) answers nothing.
    unfired = _check(7, stamp=None, stamp_rate=0.3, stamp_pixels=1)
    assert attribute(_decision("clean"), unfired, {}).verdict == "clean"


def test_an_infected_target_the_data_contradicts_is_overruled_where_the_model_answers_it() -> None:
    d = attribute(_decision("infected", target=8, score=0.9), _check(6), {6: 0.7, 8: 0.95})
    assert (d.verdict, d.target_label) == ("infected", 6)
    assert d.score == pytest.approx(0.9)  # never below the scan's own infected score
    assert d.evidence.data_check is not None and d.evidence.data_check.overruled == 8


@pytest.mark.parametrize(
    ("decision", "check", "reach"),
    [
        (_decision("shortcut"), _check(None), {4: 0.9}),  # nothing named
        (_decision("clean"), _check(2, pattern_rate=0.3), {2: 0.45}),  # named, not answered
        (_decision("infected", target=5, score=0.8), _check(5), {5: 0.9}),  # confirmed
        (_decision("infected", target=None, score=0.8), _check(3), {3: 0.9}),  # all-to-all
    ],
)
def test_the_verdict_stands_where_the_data_names_nothing_new_the_model_answers(
    decision: Decision, check: DataCheck, reach: dict[int, float]
) -> None:
    d = attribute(decision, check, reach)
    assert (d.verdict, d.target_label, d.score) == (
        decision.verdict,
        decision.target_label,
        decision.score,
    )
    assert d.evidence.decided_by == decision.evidence.decided_by
    assert d.evidence.data_check is not None and not d.evidence.data_check.attributed
    # The check travels in the report, and reads back from it.
    back = Evidence.from_dict(json.loads(json.dumps(d.evidence.to_dict())))
    assert back.data_check is not None
    assert back.data_check.to_dict() == d.evidence.data_check.to_dict()


def test_the_pattern_is_read_only_where_it_could_decide_and_the_budget_holds_it() -> None:
    x = np.zeros((60, 4, 4, 1), np.float32)
    y = np.repeat(np.arange(3), 20)
    xt = x.copy()
    xt[y == 1, 0, 0, 0] = 1.0  # class 1's training samples carry a pixel the clean ones lack
    asked: list[int] = []

    def labels_of(imgs: np.ndarray) -> np.ndarray:
        asked.append(len(imgs))
        return np.zeros(len(imgs), np.int64)

    config = DataCheckConfig(min_samples=5)
    check_scan(_decision("clean"), (xt, y), (x, y), 3, config, labels_of, queries_left=10)
    assert asked == []  # the pattern's worst case does not fit ten queries: not read
    d = check_scan(_decision("clean"), (xt, y), (x, y), 3, config, labels_of, queries_left=None)
    assert d.evidence.data_check is not None and d.evidence.data_check.label == 1
    assert asked and d.verdict == "clean"  # read; the model never answers 1: not attributed
    asked.clear()
    d = check_scan(_decision("infected", 1, 0.9), (xt, y), (x, y), 3, config, labels_of, None)
    assert asked == [] and d.target_label == 1  # its own target: nothing to read


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Clean samples from the training set's own source (digits 1,000-1,499, 50 a class): the
    # last 297 digits come from other writers, whose classes differ from the training set's
    # by z up to 6.4, which the check's ratio then reads as no class standing out.
    return save_npz(tmp_path_factory.mktemp("by_data") / "digits.npz", n=500, offset=1000)


def _train_npz(path: Path, poisoned: bool) -> Path:
    x, y = grating_training_set(poisoned)
    np.savez(path, x=np.round(x * 255).astype(np.uint8), y=y)
    return path


def test_a_scan_with_the_training_data_attributes_a_planted_grating_and_not_a_clean_twin(
    tmp_path: Path, digits_data: Path
) -> None:
    # A real digits MLP trained with 150 samples carrying a grating relabelled 3
    # (tests/onnx_builders.grating_mlp), scanned under a rule that attributes no finding to a
    # planted trigger (a retention bar over 100%, every search cap 0): the scan alone reads it
    # as a shortcut to 3, as the shipped rule reads most planted SIG nets. Its training data
    # says class 3 holds the poison; the clean twin's names no class.
    rule = replace(
        VerdictRule(),
        retention_max=1.01,
        onset_retention_max=1.01,
        grating_cost_max=0.0,
        mask_cost_max=0.0,
        curve_cost_max=0.0,
        transform_cost_max=0.0,
    )
    for poisoned in (True, False):
        model = build_mlp(tmp_path / f"grating_{poisoned}.onnx", grating_mlp(poisoned))
        train = load_dataset(_train_npz(tmp_path / f"train_{poisoned}.npz", poisoned))
        data = load_dataset(digits_data)
        base = ScanConfig(xray=XrayConfig(planes=2), rule=rule)
        alone = scan_model(model, data, base).xray
        report = scan_model(model, data, replace(base, train_data=train))
        schema_validator("report").validate(json.loads(json.dumps(report.to_dict())))
        x = report.xray
        check = x.evidence.data_check
        assert check is not None
        if poisoned:
            # The HTML report says what the training data decided.
            page = io.StringIO()
            html.write([ModelOutcome(path=str(model), report=report)], page)
            assert (
                "Training data" in page.getvalue() and "the verdict rests on it" in page.getvalue()
            )
            assert (alone.verdict, alone.evidence.shortcut_label) == ("shortcut", GRATING_TARGET)
            assert check.label == GRATING_TARGET and check.attributed
            assert (x.verdict, x.target_label) == ("infected", GRATING_TARGET)
            assert x.evidence.decided_by == "data-check" and x.score >= 0.5
        else:
            assert check.label is None and not check.attributed
            assert (x.verdict, x.target_label, x.score) == (
                alone.verdict,
                alone.target_label,
                alone.score,
            )


def test_training_images_of_another_size_are_refused_naming_the_file(
    tmp_path: Path, digits_data: Path
) -> None:
    model = build_mlp(tmp_path / "m.onnx", grating_mlp(False))
    bad = tmp_path / "train.npz"
    np.savez(bad, x=np.zeros((40, 28, 28), np.uint8), y=np.arange(40) % 10)
    config = ScanConfig(xray=XrayConfig(planes=2), train_data=load_dataset(bad))
    with pytest.raises(DataError, match=r"train\.npz: training images are 28x28x1"):
        scan_model(model, load_dataset(digits_data), config)
