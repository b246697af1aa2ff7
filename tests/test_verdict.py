"""The verdict rule on constructed plane results, and re-calibration on known-clean reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scanner.detectors.verdict import (
    VerdictRule,
    anomaly_index,
    calibrate,
    decide,
    load_rule,
    off_anchor_shares,
)
from scanner.errors import UsageError
from scanner.report import PlaneResult


def plane(anchor_labels: tuple[int, int, int], shares: list[float]) -> PlaneResult:
    counts = tuple(round(s * 10000) for s in shares)
    return PlaneResult(
        anchors=(0, 1, 2),
        anchor_labels=anchor_labels,
        resolution=100,
        extend=5.0,
        re=0.0,
        ats=0.0,
        label_counts=counts,
        anchor_areas=(0.1, 0.1, 0.1),
        queries=10000,
    )


def planes_with(sink: int | None, sink_share: float, n: int = 20) -> tuple[PlaneResult, ...]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        labels = tuple(int(v) for v in rng.choice(10, 3, replace=False))
        shares = np.full(10, 0.02)
        shares[list(labels)] = 0.25
        if sink is not None:
            shares[sink] = sink_share
        out.append(plane(labels, list(shares / shares.sum())))  # type: ignore[arg-type]
    return tuple(out)


def test_a_label_that_fills_planes_without_its_samples_is_flagged_as_target() -> None:
    d = decide(planes_with(sink=4, sink_share=0.9), 10, VerdictRule())
    assert d.verdict == "infected"
    assert d.target_label == 4
    assert d.score > 0.9
    assert "label 4" in d.target_note


def test_no_outlier_label_is_clean_with_no_target() -> None:
    d = decide(planes_with(sink=None, sink_share=0.0), 10, VerdictRule())
    assert d.verdict == "clean"
    assert d.target_label is None
    assert d.score < 0.5


def test_off_anchor_shares_ignore_planes_through_the_label() -> None:
    p1 = plane((0, 1, 2), [0.3, 0.3, 0.3, 0.1, 0, 0])
    p2 = plane((3, 4, 5), [0.5, 0, 0, 0.5, 0, 0])
    shares, seen = off_anchor_shares((p1, p2), 6)
    assert seen.tolist() == [1, 1, 1, 1, 1, 1]
    assert shares[0] == pytest.approx(0.5)  # only p2 counts for label 0
    assert shares[3] == pytest.approx(0.1)  # only p1 counts for label 3


def test_anomaly_index_is_a_robust_z_score() -> None:
    a = anomaly_index(np.array([0.1, 0.1, 0.12, 0.08, 0.1, 0.9]))
    assert np.argmax(a) == 5 and a[5] > 10
    assert np.isnan(anomaly_index(np.array([0.1, np.nan]))).all()


def test_score_is_monotone_in_the_statistic_and_half_at_threshold() -> None:
    rule = VerdictRule(threshold=3.0, scale=1.0)
    scores = [decide(planes_with(4, s), 10, rule).score for s in (0.05, 0.2, 0.4, 0.9)]
    assert scores == sorted(scores)


def test_calibration_only_raises_the_threshold() -> None:
    base = VerdictRule()
    assert calibrate([0.5, 1.0, 2.0], fpr=0.0, base=base).threshold == base.threshold
    strict = calibrate([1.0, 2.0, 9.0, 12.0], fpr=0.0, base=base)
    assert strict.threshold > 12.0
    assert calibrate([1.0, 2.0, 9.0, 12.0], fpr=0.25, base=base).threshold > 9.0
    with pytest.raises(ValueError, match="at least one"):
        calibrate([], fpr=0.1, base=base)


def test_rule_files_round_trip_and_bad_ones_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "rule.json"
    good.write_text(json.dumps({"rule": {"threshold": 5.5}}))
    assert load_rule(str(good)).threshold == 5.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rule": {"threshhold": 5.5}}))
    with pytest.raises(UsageError, match=r"bad\.json: unknown rule keys \['threshhold'\]"):
        load_rule(str(bad))
    with pytest.raises(UsageError, match=r"missing\.json"):
        load_rule(str(tmp_path / "missing.json"))
