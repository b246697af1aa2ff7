"""Research tool: two families of `bdscan bench xray` runs (say, the default scan and `--profile
api`) side by side, pooled and per fold, from the rows the runs saved.

    python benchmarks/fold_compare.py --a RUN_DIR [--a ...] --b RUN_DIR [--b ...]

Each `--a`/`--b` is one run's `--out` folder (its `rows/*.json`); models present in both
families are compared. A fold is a group's all-to-one models against clean models: every clean
model for an attack family, the group's own for an architecture or a recipe. Printed: pooled
AUROC (with and without SIG), right targets, clean models called `infected`, all-to-all models
called `infected` with no single target, median queries; then each fold's AUROC and right
targets, and how many folds B holds within 0.02 of A (issue 27's bar).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bdscan_lab.bench.metrics import auroc

Row = dict[str, Any]
WITHIN = 0.02


def load(runs: list[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for run in runs:
        for f in sorted((Path(run) / "rows").glob("*.json")):
            row = json.loads(f.read_text())
            out[row["name"]] = row
    return out


def all_to_one(r: Row) -> bool:
    return r["attack"] != "clean" and not r["all_to_all"]


def clean(r: Row) -> bool:
    return r["attack"] == "clean"


def fold_auroc(rows: list[Row], pos: Callable[[Row], bool], neg: Callable[[Row], bool]) -> float:
    p = [r["score"] for r in rows if pos(r)]
    n = [r["score"] for r in rows if neg(r)]
    return float(auroc(p + n, [1] * len(p) + [0] * len(n)))


def right(rows: list[Row], pos: Callable[[Row], bool]) -> int:
    return sum(pos(r) and r["verdict"] == "infected" and r["found_target"] == r["target"]
               for r in rows)  # fmt: skip


def summary(rows: list[Row]) -> str:
    no_sig = [r for r in rows if r["attack"] != "sig"]
    a2a = [r for r in rows if r["all_to_all"]]
    queries = sorted(r["queries"] for r in rows)
    return (
        f"AUROC {fold_auroc(rows, all_to_one, clean):.3f} "
        f"(without SIG {fold_auroc(no_sig, all_to_one, clean):.3f}), "
        f"right target {right(rows, all_to_one)} of {sum(map(all_to_one, rows))}, "
        f"clean infected {sum(clean(r) and r['verdict'] == 'infected' for r in rows)} "
        f"of {sum(map(clean, rows))}, all-to-all with no single target "
        f"{sum(r['verdict'] == 'infected' and r['found_target'] is None for r in a2a)} "
        f"of {len(a2a)}, median queries {queries[len(queries) // 2]}, "
        f"{sum(r['seconds'] for r in rows):.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", action="append", required=True, help="a run of family A")
    parser.add_argument("--b", action="append", required=True, help="a run of family B")
    args = parser.parse_args()
    a, b = load(args.a), load(args.b)
    common = sorted(set(a) & set(b))
    ra, rb = [a[k] for k in common], [b[k] for k in common]
    print(f"{len(common)} models in both")
    print(f"A: {summary(ra)}")
    print(f"B: {summary(rb)}")
    within = total = 0
    for key in ("attack", "arch", "recipe"):
        for v in sorted({r[key] for r in ra if all_to_one(r)}):

            def pos(r: Row, key: str = key, v: str = v) -> bool:
                return all_to_one(r) and r[key] == v

            def neg(r: Row, key: str = key, v: str = v) -> bool:
                return clean(r) and (key == "attack" or r[key] == v)

            if not any(map(neg, ra)):
                continue
            x, y = fold_auroc(ra, pos, neg), fold_auroc(rb, pos, neg)
            total += 1
            within += y >= x - WITHIN
            print(
                f"  {key:7s} {v:16s} {sum(map(pos, ra)):3d} vs {sum(map(neg, ra)):3d} clean: "
                f"AUROC {x:.3f} -> {y:.3f} ({y - x:+.3f}), right {right(ra, pos)} -> "
                f"{right(rb, pos)}"
            )
    print(f"folds where B is within {WITHIN} of A or above: {within} of {total}")


if __name__ == "__main__":
    main()
