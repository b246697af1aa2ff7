"""Research tool: locate a patch trigger without X-ray's probes, by saliency and occlusion.

For a zoo model and a target label, it averages the input-gradient saliency of the target's
margin over the training samples labelled with the target (each map normalised to sum 1),
divides it by the same average over other classes, takes the k x k window with the largest sum
of that ratio, occludes it with the training set's per-pixel median, and counts the
target-labelled samples that leave the target (confidence >= 0.6), split by the zoo's ground
truth. Not part of BURN (yet).

    python benchmarks/saliency_window.py cnn_trojan_t8_x2 cnn_badnets_t0 [--target T]
    python benchmarks/saliency_window.py --search cnn_trojan_t8_x2 cnn_clean_s0 ...

`--search` treats every class as the candidate target in turn (256 of its samples, 256 of the
others) and prints, per model, the three classes whose best window moves the largest share of its
samples times the spread of their new labels (entropy over the other classes, 1 = even): the
measurement a per-class target search would rest on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoo_torch import image_model, training_subset

from scanner.errors import BdscanError
from scanner.remediate.runtime import predict_scores


def _margin_saliency(model: torch.nn.Module, x: np.ndarray, target: int) -> np.ndarray:
    """|d(target score - best other score)/d pixel|, summed over channels, each map sums to 1."""
    out = []
    for lo in range(0, len(x), 256):
        xs = torch.from_numpy(x[lo : lo + 256]).requires_grad_(True)
        s = model(xs)
        other = s.detach().clone()
        other[:, target] = float("-inf")
        (s[:, target] - s.gather(1, other.argmax(1, keepdim=True))[:, 0]).sum().backward()
        g = xs.grad.abs().sum(-1).numpy()  # type: ignore[union-attr]
        out.append(g / np.maximum(g.reshape(len(g), -1).sum(1), 1e-12)[:, None, None])
    return np.concatenate(out)


def _best_window(ratio: np.ndarray, k: int) -> tuple[int, int]:
    h, w = ratio.shape
    _, r, c = max(
        (float(ratio[i : i + k, j : j + k].sum()), i, j)
        for i in range(h - k + 1)
        for j in range(w - k + 1)
    )
    return r, c


def _occluded_moves(
    model: torch.nn.Module, x: np.ndarray, fill: np.ndarray, target: int, r: int, c: int, k: int
) -> np.ndarray:
    """New label where occluding the window moves a sample off `target` (conf >= 0.6), else -1."""
    xo = x.copy()
    xo[:, r : r + k, c : c + k] = fill[r : r + k, c : c + k]
    sc = predict_scores(model, xo, torch.device("cpu"))
    z = np.exp(sc - sc.max(1, keepdims=True))
    p = z / z.sum(1, keepdims=True)
    hit = (p.argmax(1) != target) & (p.max(1) >= 0.6)
    return np.where(hit, p.argmax(1), -1)


def _spread(labels: np.ndarray, k: int) -> float:
    """Entropy of `labels` over the k - 1 other classes, 1 when even."""
    if len(labels) == 0:
        return 0.0
    q = np.bincount(labels, minlength=k) / len(labels)
    q = q[q > 0]
    return float(-(q * np.log(q)).sum() / np.log(k - 1))


def search(
    model: torch.nn.Module, xs: np.ndarray, ys: np.ndarray, windows: list[int]
) -> tuple[int, float, float]:
    """(class, share moved, spread) of the class with the largest share x spread."""
    pred = predict_scores(model, xs, torch.device("cpu")).argmax(1)
    k_cls = int(ys.max()) + 1
    fill = np.median(xs[:: max(1, len(xs) // 2000)], axis=0)
    rng = np.random.default_rng(0)
    rows = []
    for c in range(k_cls):
        own = np.flatnonzero((ys == c) & (pred == c))
        own = own[rng.permutation(len(own))[:256]]
        oth = np.flatnonzero(ys != c)
        oth = oth[rng.permutation(len(oth))[:256]]
        ratio = _margin_saliency(model, xs[own], c).mean(0) / (
            _margin_saliency(model, xs[oth], c).mean(0) + 1e-12
        )
        best = (0.0, 0.0, 0)
        for k in windows:
            r, col = _best_window(ratio, k)
            moved = _occluded_moves(model, xs[own], fill, c, r, col, k)
            new = moved[moved >= 0]
            share = len(new) / max(len(own), 1)
            if share > best[0]:
                best = (share, _spread(new, k_cls), k)
        rows.append((c, *best))
    # A backdoor's poison comes from every other class; a natural confusion goes to one or two.
    rows.sort(key=lambda t: -t[1] * t[2])
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
            c, share, spread = search(model, xs, ys, [int(v) for v in a.windows.split(",")])
            if share < a.min_share or spread < a.min_spread:
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
        ratio = _margin_saliency(model, xs[tc], target).mean(0) / (
            _margin_saliency(model, xs[others], target).mean(0) + 1e-12
        )
        fill = np.median(xs[:: max(1, len(xs) // 2000)], axis=0)
        print(f"{name} ({rec['attack']}), target {target}: {len(tc)} target-labelled samples fit, "
              f"{int(pm[tc].sum())} poisoned")  # fmt: skip
        for k in (int(v) for v in a.windows.split(",")):
            r, c = _best_window(ratio, k)
            moved = _occluded_moves(model, xs[tc], fill, target, r, c, k)
            hit = moved >= 0
            spread = np.bincount(moved[hit], minlength=int(ys.max()) + 1)
            n_p, n_c = int(pm[tc].sum()), int((~pm[tc]).sum())
            print(f"  window {k:2d} at row {r:2d} col {c:2d}: flagged {int(hit[pm[tc]].sum())} of "
                  f"{n_p} poisoned, {int(hit[~pm[tc]].sum())} of {n_c} clean; "
                  f"new labels {spread.tolist()}")  # fmt: skip
    if a.search:
        print(f"named at share >= {a.min_share} and spread >= {a.min_spread}:")
        for key, names in tally.items():
            print(f"  {key}: {len(names)} {' '.join(names)}")


if __name__ == "__main__":
    main()
