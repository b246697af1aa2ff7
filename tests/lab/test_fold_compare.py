"""benchmarks/fold_compare.py: two run families' pooled and per-fold figures from saved rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import benchmark_module


def _module() -> Any:
    return benchmark_module("fold_compare")


def _row(name: str, attack: str, arch: str, score: float, verdict: str, found: int | None,
         target: int | None = None, a2a: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "attack": attack, "arch": arch, "recipe": "sgd_step", "score": score,
            "verdict": verdict, "found_target": found, "target": target, "all_to_all": a2a,
            "queries": 100, "seconds": 1.0}  # fmt: skip


def _run(folder: Path, rows: list[dict[str, Any]]) -> str:
    (folder / "rows").mkdir(parents=True)
    for r in rows:
        (folder / "rows" / f"{r['name']}.json").write_text(json.dumps(r))
    return str(folder)


def test_the_folds_read_each_groups_backdoors_against_clean_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A: both backdoors scored over both clean models, both targets right. B: the CNN's SIG
    # scored under its clean twin and missed; one model only in A, so left out.
    a = _run(tmp_path / "a", [
        _row("c1", "clean", "cnn", 0.1, "clean", None),
        _row("c2", "clean", "resnet8", 0.2, "clean", None),
        _row("s1", "sig", "cnn", 0.9, "infected", 3, target=3),
        _row("p1", "badnets", "resnet8", 0.8, "infected", 1, target=1),
        _row("x1", "badnets", "cnn", 0.9, "infected", 2, target=2),
    ])  # fmt: skip
    b = _run(tmp_path / "b", [
        _row("c1", "clean", "cnn", 0.3, "clean", None),
        _row("c2", "clean", "resnet8", 0.2, "infected", 5),
        _row("s1", "sig", "cnn", 0.25, "clean", None, target=3),
        _row("p1", "badnets", "resnet8", 0.8, "infected", 1, target=1),
    ])  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["fold_compare", "--a", a, "--b", b])
    _module().main()
    out = capsys.readouterr().out
    assert "4 models in both" in out
    assert "A: AUROC 1.000 (without SIG 1.000), right target 2 of 2, clean infected 0 of 2" in out
    # B: SIG 0.25 sits between the clean 0.2 and 0.3 (AUROC 0.5 of its pairs), the patch over
    # both: (0.5 + 1) / 2; without SIG 1.0.
    assert "B: AUROC 0.750 (without SIG 1.000), right target 1 of 2, clean infected 1 of 2" in out
    # The SIG fold (against every clean model), the CNN fold (against the CNN's clean one,
    # 0.25 under 0.3) and the one recipe's fold fall; the patch and ResNet-8 folds hold.
    assert "attack  sig" in out and "AUROC 1.000 -> 0.500 (-0.500), right 1 -> 0" in out
    assert "AUROC 1.000 -> 0.000 (-1.000), right 1 -> 0" in out
    assert "AUROC 1.000 -> 0.750 (-0.250), right 2 -> 1" in out
    assert "folds where B is within 0.02 of A or above: 2 of 5" in out
