"""Research tool: locate a patch trigger without X-ray's probes, by saliency and occlusion.

For a zoo model and a target label, it averages the input-gradient saliency of the target's
margin over the training samples labelled with the target (each map normalised to sum 1),
divides it by the same average over other classes, takes the k x k window with the largest sum
of that ratio, occludes it with the training set's per-pixel median, and counts the
target-labelled samples that leave the target (confidence >= 0.6), split by the zoo's ground
truth. The functions are BURN's own (`scanner/remediate/window.py`, the third stage of its
target check).

    python benchmarks/saliency_window.py cnn_trojan_t8_x2 cnn_badnets_t0 [--target T]
    python benchmarks/saliency_window.py --search cnn_trojan_t8_x2 cnn_clean_s0 ...

`--search` runs the shipped search (`window.search_window`: every class as the candidate target
in turn, 256 of its samples, 256 of the others) and prints, per model, the three classes whose
best window moves the largest share of its samples times the spread of their new labels (entropy
over the other classes, 1 = even), and the tally at `--min-share` and `--min-spread`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from zoo_torch import image_model, training_subset

from scanner.errors import BdscanError
from scanner.remediate.runtime import predict_scores
from scanner.remediate.window import (
    best_window,
    margin_saliency,
    occlusion_moves,
    search_window,
)

CPU = torch.device("cpu")


def _occluded_moves(
    model: torch.nn.Module, x: np.ndarray, fill: np.ndarray, target: int, r: int, c: int, k: int
) -> np.ndarray:
    """New label where occluding the window moves a sample off `target` (conf >= 0.6), else -1."""
    region = np.zeros(x.shape[1:3], dtype=bool)
    region[r : r + k, c : c + k] = True
    return occlusion_moves(model, x, region, fill, target, 0.6, CPU)


def search(
    model: torch.nn.Module, xs: np.ndarray, ys: np.ndarray, windows: list[int]
) -> tuple[int, float, float]:
    """(class, share moved, spread) of the class with the largest share x spread, by BURN's
    own `search_window` (thresholds applied by the caller, so every row can be printed)."""
    pred = predict_scores(model, xs, CPU).argmax(1)
    found = search_window(
        model, xs, ys, pred, int(ys.max()) + 1, sizes=tuple(windows), samples=256,
        min_share=0.0, min_spread=0.0, min_confidence=0.6, device=CPU, seed=0,
    )  # fmt: skip
    rows = found.classes
    top = ", ".join(f"{c}: {sh:.2f} (spread {sp:.2f}, {k}px)" for c, sh, sp, k in rows[:3])
    print(f"  classes by share moved x spread: {top}")
    return rows[0][0], rows[0][1], rows[0][2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="zoo model names")
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--target", type=int, default=None, help="default: the zoo's target")
    ap.add_argument("--windows", default="7,10,14")
    ap.add_argument("--train-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search", action="store_true", help="every class as the candidate target")
    ap.add_argument("--min-share", type=float, default=0.15, help="--search: a target's share")
    ap.add_argument("--min-spread", type=float, default=0.8, help="--search: a target's spread")
    a = ap.parse_args()
    zoo = Path(a.zoo)
    tally: dict[str, list[str]] = {"right": [], "wrong": [], "clean named": [], "none": []}
    for name in a.models:
        rec = json.loads((zoo / f"{name}.json").read_text())
        if not rec.get("onnx"):  # dropped while building (index.json says why)
            print(f"{name}: no model file")
            continue
        xs, ys, pm = training_subset(rec, a.train_size, a.seed)
        if a.search:
            try:
                model = image_model(zoo, rec, xs)
            except BdscanError as e:  # a label-only model: no gradients to take
                print(f"{name}: not convertible: {e}")
                continue
            print(f"{name} ({rec['attack']}, target {rec.get('target')})")
            c, share, sp = search(model, xs, ys, [int(v) for v in a.windows.split(",")])
            if share < a.min_share or sp < a.min_spread:
                tally["none"].append(name)
            elif not rec.get("backdoored"):
                tally["clean named"].append(name)
            else:
                tally["right" if c == rec.get("target") else "wrong"].append(name)
            continue
        target = a.target if a.target is not None else rec.get("target")
        if target is None:
            print(f"{name}: no target (all-to-all or clean); give --target")
            continue
        model = image_model(zoo, rec, xs)
        pred = predict_scores(model, xs, torch.device("cpu")).argmax(1)
        tc = np.flatnonzero((ys == target) & (pred == target))
        others = np.flatnonzero(ys != target)[:2048]
        ratio = margin_saliency(model, xs[tc], target, CPU).mean(0) / (
            margin_saliency(model, xs[others], target, CPU).mean(0) + 1e-12
        )
        fill = np.median(xs[:: max(1, len(xs) // 2000)], axis=0)
        print(f"{name} ({rec['attack']}), target {target}: {len(tc)} target-labelled samples fit, "
              f"{int(pm[tc].sum())} poisoned")  # fmt: skip
        for k in (int(v) for v in a.windows.split(",")):
            r, c = best_window(ratio, k)
            moved = _occluded_moves(model, xs[tc], fill, target, r, c, k)
            hit = moved >= 0
            counts = np.bincount(moved[hit], minlength=int(ys.max()) + 1)
            n_p, n_c = int(pm[tc].sum()), int((~pm[tc]).sum())
            print(f"  window {k:2d} at row {r:2d} col {c:2d}: flagged {int(hit[pm[tc]].sum())} of "
                  f"{n_p} poisoned, {int(hit[~pm[tc]].sum())} of {n_c} clean; "
                  f"new labels {counts.tolist()}")  # fmt: skip
    if a.search:
        print(f"named at share >= {a.min_share} and spread >= {a.min_spread}:")
        for key, names in tally.items():
            print(f"  {key}: {len(names)} {' '.join(names)}")


if __name__ == "__main__":
    main()
