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


def test_a_scan_report_of_another_model_is_refused(tmp_path: Path) -> None:
    import json

    report = tmp_path / "other.json"
    report.write_text(json.dumps({"model": {"sha256": "0" * 64},
                                  "xray": {"verdict": "infected", "target_label": 1}}))  # fmt: skip
    code, err = invoke(
        MODEL, "--train-data", DATA, "--scan-report", report, "-o", tmp_path / "out.onnx"
    )
    assert code == 4 and "other.json" in err and "another model" in err
    assert not (tmp_path / "out.onnx").exists()


PROBE = {"family": "patch", "strength": 0, "magnitude": None, "position": [24, 24, 1], "seed": 1}


def _scan_report(tmp_path: Path) -> tuple[Path, int]:
    """A scan report of MODEL whose one confirmed probe is a patch sending every class to the
    example's true target; returns its path and that target."""
    import json

    target = json.loads((EXAMPLES / "models" / "badnets_cnn.json").read_text())["target"]
    finding = {"probe": PROBE, "label": target, "universality": 1.0, "consistency": 1.0,
               "search_universality": 1.0}  # fmt: skip
    report = tmp_path / "scan.json"
    report.write_text(json.dumps({"xray": {"verdict": "infected", "target_label": target,
                                           "evidence": {"findings": [finding]}}}))  # fmt: skip
    return report, target


def test_the_scan_reports_probes_are_the_trigger_prior(tmp_path: Path) -> None:
    import json

    report, target = _scan_report(tmp_path)
    docs = {}
    for flag in ((), ("--no-trigger-prior",)):
        out = tmp_path / f"out{len(flag)}.json"
        code, err = invoke(MODEL, "--train-data", DATA, "--scan-report", report, "--no-rescan",
                           "-o", tmp_path / f"m{len(flag)}.onnx", "--json", out, *flag)  # fmt: skip
        assert code == 0, err
        docs[bool(flag)] = json.loads(out.read_text())
    used, plain = docs[False], docs[True]
    assert used["target_label"] == plain["target_label"] == target
    assert used["extra"]["trigger_prior"]["probes"] == [PROBE]
    assert used["extra"]["unlearning"]["probe_triggers"] == 3
    assert used["extra"]["unlearning"]["universal"]  # beside the probes, at a smaller radius
    # The held-out split comes from --train-data: its accuracy is also given outside the target.
    outside = used["accuracy_outside_suspects"]
    assert target in outside["labels"] and 0 < outside["n"] < used["n_holdout"]
    # Without the probes the target label still aims the universal perturbation.
    assert "trigger_prior" not in plain["extra"]
    assert plain["extra"]["unlearning"]["probe_triggers"] == 0
    assert plain["extra"]["unlearning"]["universal"]


def test_clean_data_alone_runs_the_shortcut_unlearning_on_the_reports_probes(
    tmp_path: Path,
) -> None:
    import json

    report, target = _scan_report(tmp_path)
    few = tmp_path / "few.npz"  # a small clean set keeps the gate's checks quick
    with np.load(DATA) as d:
        np.savez(few, x=d["x"][:120], y=d["y"][:120])
    out = tmp_path / "r.json"
    args = [MODEL, "--clean-data", few, "--scan-report", report, "--no-rescan",
            "-o", tmp_path / "m.onnx", "--json", out]  # fmt: skip
    result = CliRunner().invoke(cli, ["remediate", *map(str, args)])
    assert result.exit_code == 0, result.output
    assert "(clean-only, shortcut)" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["mode"] == "clean-only" and doc["extra"]["clean_unlearning"] == "shortcut"
    assert doc["extra"]["unlearning"]["probe_triggers"] == 3
    assert doc["extra"]["unlearning"]["target"] == target


def test_the_rescans_do_not_inherit_the_pytorch_device() -> None:
    # Seen on a GPU machine with CPU onnxruntime: `--device cuda` repaired the model on the GPU,
    # then its re-scan asked onnxruntime for a CUDA provider it did not have and exited 2.
    from scanner.cli import rescan_device

    assert rescan_device("cuda") == "auto"
    assert rescan_device("auto") == "auto"
    assert rescan_device("cpu") == "cpu"


def test_held_out_accuracy_outside_the_suspects_leaves_the_poison_out() -> None:
    from scanner.remediate.api import accuracy_outside

    # Ten held-out samples: three poisoned ones carry the target label 0, and the repair now
    # predicts their true classes; one clean class-2 sample is lost besides.
    y = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 0])
    before = y.copy()
    after = np.array([4, 5, 6, 1, 1, 2, 9, 3, 3, 0])
    out = accuracy_outside(y, before, after, [0], num_classes=10)
    assert out is not None
    assert out.to_dict() == {"labels": [0], "n": 6, "before": 1.0, "after": round(5 / 6, 5)}
    # No suspect, every class suspected, or nothing outside: no figure rather than a wrong one.
    assert accuracy_outside(y, before, after, [], num_classes=10) is None
    assert accuracy_outside(y, before, after, list(range(10)), num_classes=10) is None
    assert accuracy_outside(np.zeros(4, int), np.zeros(4, int), np.zeros(4, int), [0], 10) is None


def test_without_a_report_the_scan_before_is_the_prior(tmp_path: Path) -> None:
    import json

    # The example BadNets model, its 300 clean test images as --train-data, no --scan-report:
    # the command scans first, and that scan's target and probes aim the repair.
    target = json.loads((EXAMPLES / "models" / "badnets_cnn.json").read_text())["target"]
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli, ["remediate", str(MODEL), "--train-data", str(DATA), "-o", str(tmp_path / "m.onnx"),
              "--json", str(out)],
    )  # fmt: skip
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(out.read_text())
    before = doc["rescan"]["before"]
    assert before["verdict"] == "infected" and before["target_label"] == target
    assert before["used_as_prior"] is True
    # Each scan says which evidence decided it, so an exit 1 names what is left.
    assert before["decided_by"] and before["note"]
    after = doc["rescan"]["after"]
    assert {"verdict", "score", "target_label", "decided_by", "note"} <= set(after)
    # The scan before's confirmed probes, re-measured on the repaired model through
    # onnxruntime: they sent nearly every sample to the target before, and hold a fraction of
    # them after (a repair from 300 samples can leave part of the hold: exit 1 then).
    residual = doc["rescan"]["residual"]
    assert residual["checks"] and all(c["target"] == target for c in residual["checks"])
    assert min(c["before"] for c in residual["checks"]) >= 0.5
    assert max(c["after"] for c in residual["checks"]) < 0.5
    assert "re-measured on the repaired model" in result.stdout
    # Exit 1 exactly when the published model still shows a trigger, and the message says which.
    aimed = after["verdict"] == "shortcut" and after["shortcut_label"] == target
    left = residual["left"] or after["verdict"] == "infected" or aimed
    assert (result.exit_code == 1) == left
    if result.exit_code == 1:
        assert "still looks infected" in result.stderr
    assert doc["target_label"] == target and doc["extra"]["target_source"] == "scan-report"
    assert doc["extra"]["trigger_prior"]["probes"]  # X-ray's confirmed patch probes
    assert "X-ray's scan" in result.stdout


def test_data_residual_is_off_unless_asked(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The stricter exit 1 on the training data's own pattern flagged a repaired net held out
    # (docs/remediation.md section 50), so it is opt-in.
    import scanner.app.remediation as app

    seen: list[bool] = []

    def stop(request: app.RemediateRequest, **_: object) -> None:
        seen.append(request.data_residual)
        raise SystemExit(0)

    monkeypatch.setattr(app, "run_remediate", stop)
    base = (MODEL, "--train-data", DATA, "--clean-data", DATA, "-o", tmp_path / "out.onnx")
    CliRunner().invoke(cli, ["remediate", *map(str, base)])
    CliRunner().invoke(cli, ["remediate", *map(str, base), "--data-residual"])
    assert seen == [False, True]
    assert not (tmp_path / "out.onnx").exists()
