"""Research tool: does a structureless change send a zoo model's classes to one label?

X-ray's probes are trigger-like patterns. This asks the plainer question behind the detector's
worst false positives (two clean MNIST ResNet-8s that send everything to "8"): what a change
with no pattern at all does. For each zoo model, 600 correctly classified scan samples get

- `gray.2` / `gray.3`: a blend towards mid-gray at alpha 0.2 / 0.3 (x -> (1 - a) x + a / 2),
- `off.1`: +0.1 on every pixel (clipped),
- `fresh.2`: a blend at 0.2 with uniform noise drawn afresh for every image (no fixed pattern),

and the line shows, for the label most reached: the share of other classes of which at least
half go there (universality, as X-ray counts it) / the mean share that goes there -> the label.

    python benchmarks/brightness_sinks.py --zoo zoo-out
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from zoo_oracle import zoo_oracle

from bdscan_lab.bench.xray import load_index


def sink(pred: np.ndarray, y: np.ndarray, nc: int) -> tuple[float, float, int]:
    """(universality, mean share, label) of the label the changed inputs reach most."""
    best = (-1.0, -1.0, 0)
    for t in range(nc):
        rates = [float(np.mean(pred[y == s] == t)) for s in range(nc) if s != t and (y == s).any()]
        u = float(np.mean([r >= 0.5 for r in rates])) if rates else 0.0
        cand = (u, float(np.mean(rates)) if rates else 0.0, t)
        if cand[:2] > best[:2]:
            best = cand
    return best


def changes(rng: np.random.Generator) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    return {
        "gray.2": lambda a: 0.8 * a + 0.1,
        "gray.3": lambda a: 0.7 * a + 0.15,
        "off.1": lambda a: np.clip(a + 0.1, 0, 1),
        "fresh.2": lambda a: 0.8 * a + 0.2 * rng.random(a.shape).astype(np.float32),
    }


def one_model(zoo: Path, rec: dict, samples: int) -> str:
    with zoo_oracle(zoo, rec) as z:
        pred = z.oracle(z.to_model(z.data.x))
        ok = np.flatnonzero(pred == z.data.y)[:samples]
        x, y = z.data.x[ok], z.data.y[ok]
        out = []
        for key, change in changes(np.random.default_rng(0)).items():
            changed = z.oracle(z.to_model(change(x).astype(np.float32)))
            u, m, t = sink(changed, y, z.num_classes)
            out.append(f"{key}:{u:.2f}/{m:.2f}->{t}")
    kind = "bd   " if rec.get("backdoored") else "CLEAN"
    return f"{kind} {rec['name']:28s} " + " ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--samples", type=int, default=600)
    a = ap.parse_args()
    for rec in load_index(Path(a.zoo)):
        print(one_model(Path(a.zoo), rec, a.samples), flush=True)


if __name__ == "__main__":
    main()
