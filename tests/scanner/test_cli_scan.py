"""`bdscan scan` end to end on a tiny real model: report contents, reproducibility, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scanner.detectors.xray import anchor_areas, ats, make_plane, renyi_entropy
from scanner.report import ScanReport, decode_label_map
from tests.conftest import bdscan

FAST = ["--planes", "4", "--resolution", "24", "--quiet"]


def run(*args: object) -> tuple[int, str, str]:
    r = bdscan(*args)
    return r.exit_code, r.stdout, r.stderr


def test_report_has_the_interface_fields_and_recomputes(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    out = tmp_path / "r.json"
    code, _, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--json", out)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["schema_version"] == 1
    assert d["tool"]["name"] == "bdscan"
    assert set(d["model"]) >= {"path", "sha256", "input", "num_classes", "provider"}
    x = d["xray"]
    assert set(x) >= {
        "verdict",
        "score",
        "target_label",
        "re_mean",
        "ats_mean",
        "queries",
        "seconds",
        "planes",
    }
    assert x["verdict"] == ("infected" if code == 1 else "clean")
    assert 0.0 <= x["score"] <= 1.0
    assert len(x["planes"]) == 4
    with np.load(digits_npz) as f:
        y = f["y"]
    for p in x["planes"]:
        assert p["resolution"] == 24 and p["extend"] == 5.0
        assert p["anchor_labels"] == [int(y[i]) for i in p["anchors"]]
        assert len(set(p["anchor_labels"])) == 3
        # Everything the metrics need is in the report.
        label_map = decode_label_map(p["label_map"])
        counts = np.bincount(label_map.ravel(), minlength=10)
        assert counts.tolist() == p["label_counts"]
        assert renyi_entropy(counts, 10.0) == pytest.approx(p["re"])
    assert x["re_mean"] == pytest.approx(np.mean([p["re"] for p in x["planes"]]))
    assert ScanReport.from_dict(d).to_dict() == d


def test_ats_recomputes_from_anchors_and_data(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    out = tmp_path / "r.json"
    run("scan", digits_model, "--data", digits_npz, *FAST, "--json", out)
    d = json.loads(out.read_text())
    with np.load(digits_npz) as f:
        x01 = f["x"].astype(np.float32)[..., None] / 255
    for p in d["xray"]["planes"]:
        i, j, k = p["anchors"]
        plane = make_plane(x01[i], x01[j], x01[k], p["resolution"], p["extend"])
        areas = anchor_areas(
            decode_label_map(p["label_map"]), plane.anchor_cells(), tuple(p["anchor_labels"])
        )
        assert ats(areas, 0.5) == pytest.approx(p["ats"])


def test_same_seed_same_result_and_dense_equals_adaptive(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    reports = []
    for name, grid in (("a", "adaptive"), ("b", "adaptive"), ("c", "dense")):
        out = tmp_path / f"{name}.json"
        run(
            "scan",
            digits_model,
            "--data",
            digits_npz,
            *FAST,
            "--seed",
            "7",
            "--grid",
            grid,
            "--json",
            out,
        )
        reports.append(json.loads(out.read_text())["xray"])
    a, b, dense = reports
    assert [p["label_map"] for p in a["planes"]] == [p["label_map"] for p in b["planes"]]
    assert [p["label_map"] for p in a["planes"]] == [p["label_map"] for p in dense["planes"]]
    assert (a["score"], a["verdict"]) == (b["score"], b["verdict"])
    assert sum(p["queries"] for p in dense["planes"]) == 4 * 24 * 24  # every cell
    assert sum(p["queries"] for p in a["planes"]) <= 4 * 24 * 24
    # The probes do not depend on the grid.
    assert dense["queries"] - a["queries"] == sum(p["queries"] for p in dense["planes"]) - sum(
        p["queries"] for p in a["planes"]
    )


def test_summary_names_verdict_and_metrics(digits_model: Path, digits_npz: Path) -> None:
    code, out, _ = run(
        "scan", digits_model, "--data", digits_npz, "--planes", "3", "--resolution", "20"
    )
    assert ("INFECTED" in out) == (code == 1)
    assert "RE mean" in out and "ATS mean" in out and "queries" in out


def test_a_budget_below_the_least_scan_is_refused_before_any_query(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    out = tmp_path / "r.json"
    code, _, err = run(
        "scan",
        digits_model,
        "--data",
        digits_npz,
        *FAST,
        "--max-queries",
        "100",
        "--json",
        out,
    )
    assert code == 4
    assert "--max-queries 100 is below the least" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_train_data_is_read_beside_the_scan_and_refused_in_one_line_when_it_does_not_fit(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    from tests.onnx_builders import digits

    x, y = digits()
    train = tmp_path / "train.npz"
    np.savez(train, x=np.round(x[:1500] * 255).astype(np.uint8), y=y[:1500])
    out = tmp_path / "r.json"
    code, stdout, err = run(
        "scan", digits_model, "--data", digits_npz, "--planes", "3", "--resolution", "20",
        "--train-data", train, "--json", out,
    )  # fmt: skip
    assert code in (0, 1), err
    check = json.loads(out.read_text())["xray"]["evidence"]["data_check"]
    assert check["label"] is None and check["attributed"] is False  # an unpoisoned training set
    assert "training data (--train-data):" in stdout
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((30, 28, 28), np.uint8), y=np.arange(30) % 10)
    code, _, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--train-data", wrong)
    assert code == 2
    assert err.strip().count("\n") == 0 and "wrong.npz: training images are 28x28x1" in err
    assert "Traceback" not in err
