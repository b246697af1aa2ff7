"""Differential scanning (`--baseline`): findings that name the baseline's own sinks are set
aside, the rest decide; on constructed probe results and on the committed example models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.detectors.baseline import SINK_MIN, Baseline, discount
from scanner.detectors.probes import Probe, ProbeFinding, ProbeResult
from scanner.detectors.verdict import VerdictRule, decide
from scanner.errors import UsageError
from tests.conftest import EXAMPLES, bdscan

BLEND = Probe("blend", 1, None, 7)
STRONG = Probe("periodic", 2, (0, 8, 1), 3)


def baseline(search: list[float], strong: list[float] | None = None) -> Baseline:
    return Baseline(
        path="ref.onnx",
        sha256="0" * 64,
        verdict="clean",
        score=0.1,
        target_label=None,
        num_classes=len(search),
        per_label_search=tuple(search),
        per_label_search_strong=tuple(strong or [0.0] * len(search)),
    )


def probes(*findings: ProbeFinding) -> ProbeResult:
    search = [0.0] * 10
    for f in findings:
        search[f.label] = max(search[f.label], f.search_universality)
    return ProbeResult(
        findings=findings,
        per_label_search=tuple(search),
        per_label_hits=tuple(3 if v else 0 for v in search),
        probes=100,
        search_samples=60,
        confirm_samples=200,
        queries=6000,
        per_label_search_strong=tuple([0.0] * 10),
    )


def sink_8() -> list[float]:
    return [0.0] * 8 + [SINK_MIN, 0.0]


def test_a_shortcut_the_baseline_shares_is_set_aside() -> None:
    # The clean MNIST ResNet-8 case: every class to "8", and the baseline goes there too.
    shared = ProbeFinding(BLEND, 8, 1.0, 1.0, 1.0, 1.0, 1.0, 8, 1.0, 8)
    alone = decide(probes(shared), (), 10, VerdictRule())
    assert (alone.verdict, alone.target_label) == ("infected", 8)
    kept, set_aside = discount(probes(shared), baseline(sink_8()))
    assert set_aside == (shared,) and kept.findings == ()
    assert kept.per_label_search[8] == 0.0 and kept.per_label_hits[8] == 0
    assert decide(kept, (), 10, VerdictRule()).verdict == "clean"


def test_a_target_the_baseline_does_not_reach_still_decides() -> None:
    # The ResNet-8 trojan: its target 1 beside the architecture's sink 8.
    trojan = ProbeFinding(BLEND, 1, 0.95, 0.95, 0.95, 0.95, 1.0, 1, 1.0, 1)
    sink = ProbeFinding(BLEND, 8, 0.9, 0.9, 0.9, 0.9, 1.0, 8, 1.0, 8)
    kept, set_aside = discount(probes(trojan, sink), baseline(sink_8()))
    assert set_aside == (sink,)
    d = decide(kept, (), 10, VerdictRule())
    assert (d.verdict, d.target_label) == ("infected", 1)


def test_classes_concentrating_on_a_baseline_sink_are_set_aside_too() -> None:
    # No single label passes universality, but the classes move together towards the sink.
    spread = ProbeFinding(BLEND, 3, 0.2, 0.9, 0.2, 0.9, 0.8, 8, 0.8, 8)
    kept, set_aside = discount(probes(spread), baseline(sink_8()))
    assert set_aside == (spread,)
    # An all-to-all spread (concentration 1/9) is not the baseline's sink: kept.
    a2a = ProbeFinding(BLEND, 3, 0.2, 0.9, 0.2, 0.9, 0.11, 8, 0.11, 8)
    kept, set_aside = discount(probes(a2a), baseline(sink_8()))
    assert set_aside == () and kept.findings == (a2a,)


def test_strong_findings_are_compared_with_the_strong_sinks() -> None:
    strong = ProbeFinding(STRONG, 8, 0.9, 0.9, 0.9, 0.9)
    # The baseline reaches 8 only under its strong probes.
    base = baseline([0.0] * 10, strong=sink_8())
    _, set_aside = discount(probes(strong), base)
    assert set_aside == (strong,)
    subtle = ProbeFinding(BLEND, 8, 0.9, 0.9, 0.9, 0.9)
    _, set_aside = discount(probes(subtle), base)
    assert set_aside == ()


def test_a_baseline_for_another_task_is_refused() -> None:
    with pytest.raises(UsageError, match="same task"):
        discount(probes(), baseline([0.0] * 5))


def badnets_target() -> int:
    return int(json.loads((EXAMPLES / "models" / "badnets_cnn.json").read_text())["target"])


def scan(tmp_path: Path, name: str, ref: str) -> tuple[int, dict, str]:
    out = tmp_path / f"{name}-vs-{ref}.json"
    r = bdscan(
        "scan",
        EXAMPLES / "models" / f"{name}.onnx",
        "--data",
        EXAMPLES / "data" / "fmnist_clean.npz",
        "--planes",
        "2",
        "--baseline",
        EXAMPLES / "models" / f"{ref}.onnx",
        "--quiet",
        "--no-cache",
        "--json",
        out,
    )
    return r.exit_code, json.loads(out.read_text()), r.stderr


def test_backdoor_stays_flagged_against_a_clean_baseline(tmp_path: Path) -> None:
    target = badnets_target()
    code, report, err = scan(tmp_path, "badnets_cnn", "clean_cnn")
    assert code == 1
    assert (report["xray"]["verdict"], report["xray"]["target_label"]) == ("infected", target)
    base = report["xray"]["evidence"]["baseline"]
    assert base["verdict"] == "clean" and target not in base["sinks"]
    assert base["without_baseline"]["target_label"] == target
    assert "warning" not in err


def test_a_backdoored_baseline_hides_the_backdoor_it_shares_and_says_so(tmp_path: Path) -> None:
    # The cost of the mode, pinned: a baseline with the same backdoor sets it aside.
    target = badnets_target()
    code, report, err = scan(tmp_path, "badnets_cnn", "badnets_cnn")
    x = report["xray"]
    assert target in x["evidence"]["baseline"]["sinks"] and x["evidence"]["baseline"]["set_aside"]
    assert x["evidence"]["baseline"]["without_baseline"]["verdict"] == "infected"
    assert x["target_label"] != target and code == (1 if x["verdict"] == "infected" else 0)
    assert "baseline" in x["target_note"] and "is itself flagged" in err


def test_an_unreadable_baseline_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    r = bdscan(
        "scan",
        EXAMPLES / "models" / "clean_cnn.onnx",
        "--data",
        EXAMPLES / "data" / "fmnist_clean.npz",
        "--baseline",
        missing,
        "--quiet",
    )
    err = r.stderr
    assert r.exit_code == 2
    assert str(missing) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
