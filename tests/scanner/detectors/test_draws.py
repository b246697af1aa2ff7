"""Several draws of one scan decided together (`--repeats`, scanner.detectors.draws): the rule on
hand-made decisions, and a real scan of two draws whose second draw is the scan at the next
seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.data import load_dataset
from scanner.detectors.draws import combine
from scanner.detectors.evidence import Evidence
from scanner.detectors.probes import ProbeConfig
from scanner.detectors.search import SearchConfig
from scanner.detectors.verdict import Decision
from scanner.errors import UsageError
from scanner.pipeline import ScanConfig, scan_model
from scanner.report import ScanReport
from tests.conftest import bdscan
from tests.onnx_builders import build_mlp, rotation_mlp, save_npz


def _d(verdict: str, score: float, label: int | None = None, sink: int | None = None) -> Decision:
    evidence = Evidence.empty(decided_by=f"{verdict}-test", shortcut_label=sink)
    return Decision(verdict, score, label, f"{verdict} note", evidence)


def test_one_draw_is_the_scan_as_it_was() -> None:
    only = _d("infected", 0.9, 3)
    combined = combine([(7, only)])
    assert combined.decision is only and combined.seed == 7


def test_the_mean_score_decides_and_the_most_named_label_is_the_target() -> None:
    draws = [(0, _d("infected", 0.92, 6)), (1, _d("shortcut", 0.2, sink=6))]
    c = combine(draws)
    assert c.decision.verdict == "infected" and c.decision.target_label == 6
    assert c.decision.score == pytest.approx(0.56)
    assert c.seed == 0 and c.decision.evidence.shortcut_label is None
    assert "2 draws: infected 0.92 (label 6), shortcut 0.20" in c.decision.target_note
    runs = c.decision.evidence.draws
    assert runs is not None and runs.shown == 0
    assert [(r.seed, r.verdict, r.target_label) for r in runs.runs] == [
        (0, "infected", 6),
        (1, "shortcut", None),
    ]
    # Two labels named once each: the higher-scoring draw's; named twice beats higher scores.
    assert combine([(0, _d("infected", 0.7, 1)), (1, _d("infected", 0.9, 2))]).seed == 1
    three = [(0, _d("infected", 1.0, 1)), (1, _d("infected", 0.6, 2)), (2, _d("infected", 0.7, 2))]
    c3 = combine(three)
    assert c3.decision.target_label == 2 and c3.seed == 2


def test_below_the_mean_threshold_half_the_draws_make_a_shortcut() -> None:
    # One infected draw at 0.6 against a clean one at 0.3: the mean, 0.45, is under 0.5.
    c = combine([(0, _d("infected", 0.6, 4)), (1, _d("clean", 0.3))])
    assert c.decision.verdict == "clean" and c.decision.target_label is None and c.seed == 1
    c = combine([(0, _d("shortcut", 0.3, sink=8)), (1, _d("clean", 0.1))])
    assert c.decision.verdict == "shortcut" and c.decision.evidence.shortcut_label == 8
    c = combine([(0, _d("shortcut", 0.3, sink=8)), (1, _d("clean", 0.1)), (2, _d("clean", 0.2))])
    assert c.decision.verdict == "clean" and c.seed == 2
    # No draw says what the mean says: the evidence is the draw nearest the mean.
    odd = [(0, _d("infected", 0.5, 1)), (1, _d("infected", 0.5, 2)), (2, _d("shortcut", 0.0))]
    c = combine(odd)
    assert c.decision.verdict == "clean" and c.decision.target_label is None
    with pytest.raises(ValueError):
        combine([])


def test_a_scan_of_two_draws_decides_on_both(tmp_path: Path) -> None:
    model = build_mlp(tmp_path / "m.onnx", rotation_mlp(True))
    data = load_dataset(save_npz(tmp_path / "d.npz", n=600, offset=0))
    two = scan_model(model, data, ScanConfig(repeats=2))
    at_1 = scan_model(
        model, data, ScanConfig(probes=ProbeConfig(seed=1), search=SearchConfig(seed=1))
    )
    draws = two.xray.evidence.draws
    assert draws is not None and [r.seed for r in draws.runs] == [0, 1]
    # The second draw is the scan at the next seed, decided alone.
    second = draws.runs[1]
    assert (second.verdict, second.score, second.target_label) == (
        at_1.xray.verdict,
        at_1.xray.score,
        at_1.xray.target_label,
    )
    mean = (draws.runs[0].score + draws.runs[1].score) / 2
    assert two.xray.score == pytest.approx(mean, abs=1e-6)
    assert two.xray.queries > at_1.xray.queries
    back = ScanReport.from_dict(json.loads(json.dumps(two.to_dict())))
    assert back.xray.evidence.draws == draws


def test_repeats_need_a_scan_without_a_budget(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    with pytest.raises(UsageError, match="--repeats 2 cannot be planned"):
        scan_model(
            digits_model, load_dataset(digits_npz), ScanConfig(max_queries=20_000, repeats=2)
        )
    r = bdscan("scan", digits_model, "--data", digits_npz, "--profile", "api", "--repeats", "2")
    assert r.exit_code == 4 and "--repeats 2 cannot be planned" in r.stderr  # usage error
    assert "Traceback" not in r.stderr + r.stdout


def test_the_command_line_scans_two_draws_and_writes_both(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    out = tmp_path / "r.json"
    r = bdscan(
        "scan", digits_model, "--data", digits_npz, "--repeats", "2", "--json", out, "--quiet"
    )
    assert r.exit_code in (0, 1), r.stderr
    xray = json.loads(out.read_text())["xray"]
    runs = xray["evidence"]["draws"]["runs"]
    assert [run["seed"] for run in runs] == [0, 1]
    assert xray["score"] == pytest.approx(sum(run["score"] for run in runs) / 2, abs=1e-6)
    assert "2 draws:" in xray["target_note"]
