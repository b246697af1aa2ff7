"""Research tool: how far each zoo model's largest label stands over the others in the training
subset BURN sees (`bench_burn.py`'s seed-0 subset of 10,000 samples), the count BURN's
`promote_min_excess` reads (`scanner.remediate.burn.with_excess`).

Printed per model: its attack ("clean" for none), target, whether all-to-all, the largest label
and its excess over the median of the other labels' counts, as a share of that median, the
second largest's, and how many labels reach `promote_min_excess` (more than one: the counts are
not read, `burn.counts_speak`); then the ranges per group (clean, all-to-all, clean-label,
dirty-label all-to-one).

    python benchmarks/label_counts.py --zoo zoo-fresh13 [--zoo zoo-fresh14 ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bdscan_lab.zoo.build import poisoned_training_set
from scanner.remediate.burn import BurnConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", action="append", required=True)
    args = parser.parse_args()
    bar = BurnConfig().promote_min_excess or 0.0
    groups: dict[str, list[tuple[float, float, int]]] = {}
    for zoo in args.zoo:
        for rec in json.loads((Path(zoo) / "index.json").read_text())["models"]:
            if not rec.get("onnx"):
                continue
            _, y, *_ = poisoned_training_set(rec)
            rng = np.random.default_rng(0)
            sub = np.sort(rng.choice(len(y), size=min(10000, len(y)), replace=False))
            counts = np.bincount(y[sub], minlength=rec["num_classes"]).astype(float)
            share = [
                (counts[c] - np.median(np.delete(counts, c))) / np.median(np.delete(counts, c))
                for c in range(len(counts))
            ]
            top, second = (int(c) for c in np.argsort(share)[::-1][:2])
            over = sum(v >= bar for v in share)
            if not rec["backdoored"]:
                group = "clean"
            elif rec["all_to_all"]:
                group = "all-to-all"
            elif rec.get("clean_label"):
                group = "clean-label"
            else:
                group = "dirty-label all-to-one"
            groups.setdefault(group, []).append((float(share[top]), float(share[second]), over))
            print(
                f"{rec['name']:30s} {rec['attack'] if rec['backdoored'] else 'clean':14s} target "
                f"{rec['target']}  largest label {top}, {share[top]:+.3f} of the others' median;"
                f" second {second}, {share[second]:+.3f}; {over} over {bar}",
                flush=True,
            )
    for group, rows in sorted(groups.items()):
        first, second, over = (np.array(v) for v in zip(*rows, strict=True))
        print(f"{group}: {len(rows)} models, largest label's excess {first.min():.3f}-"
              f"{first.max():.3f}, second's {second.min():.3f}-{second.max():.3f}, labels over"
              f" {bar}: {over.min()}-{over.max()}")  # fmt: skip


if __name__ == "__main__":
    main()
