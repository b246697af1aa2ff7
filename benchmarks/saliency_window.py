"""Research tool: can a patch trigger be located without X-ray's probes? For a zoo model and a
target label, it averages the input-gradient saliency of the target's margin over the training
samples labelled with the target (each map normalised to sum 1), divides it by the same average
over other classes, takes the k x k window with the largest sum of that ratio, occludes it with
the training set's per-pixel median, and counts the target-labelled samples that leave the
target (confidence >= 0.6), split by the zoo's ground truth. Not part of BURN (yet).

    python benchmarks/saliency_window.py cnn_trojan_t8_x2 cnn_badnets_t0 [--target T]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.remediate.convert import convert_model
from scanner.remediate.runtime import predict_scores
from scanner.zoo.build import poisoned_training_set


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="zoo model names")
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--target", type=int, default=None, help="default: the zoo's target")
    ap.add_argument("--windows", default="7,10,14")
    ap.add_argument("--train-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    zoo = Path(a.zoo)
    for name in a.models:
        rec = json.loads((zoo / f"{name}.json").read_text())
        x, y, poisoned, _, _ = poisoned_training_set(rec)
        rng = np.random.default_rng(a.seed)  # the same subset as bench_burn.py at this seed
        sub = np.sort(rng.choice(len(y), size=min(a.train_size, len(y)), replace=False))
        is_poison = np.zeros(len(y), dtype=bool)
        is_poison[poisoned] = True
        xs = x[sub].astype(np.float32) / 255.0
        xs = xs[..., None] if xs.ndim == 3 else xs
        ys, pm = y[sub], is_poison[sub]
        target = a.target if a.target is not None else rec.get("target")
        if target is None:
            print(f"{name}: no target (all-to-all or clean); give --target")
            continue
        conv = convert_model(
            zoo / rec["onnx"],
            xs[:64],
            mean=tuple(rec["mean"]) if rec.get("mean") else None,
            std=tuple(rec["std"]) if rec.get("std") else None,
        )
        model = conv.image_model.eval()
        pred = predict_scores(model, xs, torch.device("cpu")).argmax(1)
        tc = np.flatnonzero((ys == target) & (pred == target))
        others = np.flatnonzero(ys != target)[:2048]
        ratio = _margin_saliency(model, xs[tc], target).mean(0) / (
            _margin_saliency(model, xs[others], target).mean(0) + 1e-12
        )
        fill = np.median(xs[:: max(1, len(xs) // 2000)], axis=0)
        h, w = ratio.shape
        print(f"{name} ({rec['attack']}), target {target}: {len(tc)} target-labelled samples fit, "
              f"{int(pm[tc].sum())} poisoned")  # fmt: skip
        for k in (int(v) for v in a.windows.split(",")):
            _, r, c = max(
                (float(ratio[i : i + k, j : j + k].sum()), i, j)
                for i in range(h - k + 1)
                for j in range(w - k + 1)
            )
            xo = xs[tc].copy()
            xo[:, r : r + k, c : c + k] = fill[r : r + k, c : c + k]
            sc = predict_scores(model, xo, torch.device("cpu"))
            z = np.exp(sc - sc.max(1, keepdims=True))
            p = z / z.sum(1, keepdims=True)
            hit = (p.argmax(1) != target) & (p.max(1) >= 0.6)
            spread = np.bincount(p.argmax(1)[hit], minlength=p.shape[1])
            n_p, n_c = int(pm[tc].sum()), int((~pm[tc]).sum())
            print(f"  window {k:2d} at row {r:2d} col {c:2d}: flagged {int(hit[pm[tc]].sum())} of "
                  f"{n_p} poisoned, {int(hit[~pm[tc]].sum())} of {n_c} clean; "
                  f"new labels {spread.tolist()}")  # fmt: skip


if __name__ == "__main__":
    main()
