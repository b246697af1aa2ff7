"""BURN's own target check (`shortcut.own_target_check`) on every zoo model.

The check is `prior.find_target` (a universal perturbation and a universal warp per class) and,
when neither names a target, the saliency-window search (`window.search_window`).

For each model in `zoo-out/index.json` that converts to PyTorch, the check runs with
`BurnConfig`'s shipped settings on a random 9,000-sample subset of the model's own (poisoned)
training set, as BURN would see it, and the script prints the class it names, if any, beside the
zoo's true target: how often it names a target on a clean model, and how often the right one
on an all-to-one model. The figures for the check in docs/remediation.md come from this script.

`--nc` also runs Neural Cleanse's all-class trigger reversal (`baselines.neural_cleanse`, the
NC baseline's settings) on the same images and prints its smallest-mask class and MAD anomaly
index: the evidence for or against NC as a second stage of the check.

    python benchmarks/self_prior.py --zoo zoo-out [--models a,b] [--nc] \
        [--json bench-out/self_prior.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from exporters.atomic import atomic_write_json
from scanner.bridge.convert import convert_model
from scanner.errors import BdscanError
from scanner.remediate.config import BurnConfig
from scanner.remediate.shortcut import own_target_check


def run(
    zoo: Path, names: list[str] | None, size: int, seed: int, nc: bool = False
) -> list[dict[str, Any]]:
    import torch

    from bdscan_lab.zoo.build import poisoned_training_set
    from scanner.remediate.baselines import NCConfig, neural_cleanse

    cfg = BurnConfig()
    rows = []
    for rec in json.loads((zoo / "index.json").read_text())["models"]:
        if rec.get("status") == "dropped" or not rec.get("onnx"):
            continue
        if names and rec["name"] not in names:
            continue
        t0 = time.perf_counter()
        x, y, *_ = poisoned_training_set(rec)
        x = x.astype(np.float32)[..., None] / 255.0
        pick = np.random.default_rng(seed).choice(len(y), min(size, len(y)), replace=False)
        x, y = x[pick], y[pick]
        mean = tuple(rec["mean"]) if rec.get("mean") else None
        std = tuple(rec["std"]) if rec.get("std") else None
        try:
            conv = convert_model(zoo / rec["onnx"], x[:64], mean=mean, std=std)
        except BdscanError as e:  # e.g. a label-only model
            print(f"{rec['name']:26s} not convertible: {e}", flush=True)
            continue
        found = own_target_check(
            conv.image_model.eval(), x, y, conv.num_classes, cfg, torch.device("cpu"), seed
        )
        row = {
            "model": rec["name"],
            "backdoored": bool(rec["backdoored"]),
            "all_to_all": bool(rec["all_to_all"]),
            "target": rec["target"],
            "found": found.to_dict(),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if nc:
            t1 = time.perf_counter()
            *_, trig = neural_cleanse(
                conv.image_model.eval(), x, y, num_classes=conv.num_classes, target=None,
                config=NCConfig(), device=torch.device("cpu"),
                generator=torch.Generator().manual_seed(seed),
            )  # fmt: skip
            row["nc"] = {**trig.to_dict(), "seconds": round(time.perf_counter() - t1, 1)}
            print(
                f"{rec['name']:26s} NC: class {trig.target} anomaly index {trig.anomaly_index}"
                f" success {trig.success:.2f} ({row['nc']['seconds']:.0f}s)",
                flush=True,
            )
        rows.append(row)
        u, w = np.asarray(found.rates), np.asarray(found.warp_rates)
        ou, ow = np.argsort(u)[::-1], np.argsort(w)[::-1]
        print(
            f"{rec['name']:26s} target {rec['target']!s:4s} found {found.target!s:4s}"
            f" {found.by or '':12s} perturbation {ou[0]}: {u[ou[0]]:.2f} (next {u[ou[1]]:.2f})"
            f"  warp {ow[0]}: {w[ow[0]]:.2f} (next {w[ow[1]]:.2f})  {row['seconds']:.0f}s",
            flush=True,
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    clean = [r for r in rows if not r["backdoored"]]
    a2o = [r for r in rows if r["backdoored"] and not r["all_to_all"]]
    fp = sum(1 for r in clean if r["found"]["target"] is not None)
    right = sum(1 for r in a2o if r["found"]["target"] == r["target"])
    wrong = sum(1 for r in a2o if r["found"]["target"] not in (None, r["target"]))
    secs = sorted(r["seconds"] for r in rows)
    stages = ("perturbation", "warp", "window")
    by = {k: sum(1 for r in a2o if r["found"]["target"] == r["target"] and r["found"]["by"] == k)
          for k in stages}  # fmt: skip
    lines = [
        f"clean models given a target: {fp}/{len(clean)}; all-to-one models: right target"
        f" {right}/{len(a2o)}, wrong target {wrong}/{len(a2o)}; median {secs[len(secs) // 2]:.0f} s"
        " per model",
        "right targets by stage: " + ", ".join(f"{k} {v}" for k, v in by.items()),
    ]
    if all("nc" in r for r in rows):
        missed = [r for r in a2o if r["found"]["target"] is None]
        for t in (1.5, 2.0, 2.5, 3.0, 4.0):

            def hit(r: dict[str, Any], t: float = t) -> bool:
                return (r["nc"]["anomaly_index"] or 0.0) >= t

            ok = sum(hit(r) and r["nc"]["target"] == r["target"] for r in a2o)
            bad = sum(hit(r) and r["nc"]["target"] != r["target"] for r in a2o)
            rescued = sum(hit(r) and r["nc"]["target"] == r["target"] for r in missed)
            lines.append(
                f"NC anomaly index >= {t}: clean {sum(map(hit, clean))}/{len(clean)};"
                f" all-to-one right {ok}/{len(a2o)}, wrong {bad}; right where the own check"
                f" found none {rescued}/{len(missed)}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--models", default=None, help="comma-separated zoo model names")
    ap.add_argument("--train-size", type=int, default=9000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nc", action="store_true", help="also run Neural Cleanse's class search")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    names = args.models.split(",") if args.models else None
    rows = run(Path(args.zoo), names, args.train_size, args.seed, nc=args.nc)
    if not rows:
        raise SystemExit(f"{args.zoo}: no convertible zoo models found")
    print(summary(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
