"""Research tool: what BURN's resampling flags (`flags.resampling_flags`) catch on a zoo model's
training set, split by the zoo's ground truth, at several displacement amplitudes. This is the
measurement behind `BurnConfig.resample_px`.

    python benchmarks/resampling_flags.py mnist_cnn_wanet_t8 --px 0.5,0.625,1.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from zoo_torch import image_model, training_subset

from scanner.remediate.config import BurnConfig
from scanner.remediate.flags import resampling_flags
from scanner.remediate.runtime import predict_scores, seed_everything


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="zoo model names (all-to-one)")
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--px", default="0.5,0.625,1.0", help="resample_px values to try")
    ap.add_argument("--train-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    zoo = Path(a.zoo)
    for name in a.models:
        rec = json.loads((zoo / f"{name}.json").read_text())
        if rec.get("target") is None:
            print(f"{name}: no single target")
            continue
        target = int(rec["target"])
        xs, ys, pm = training_subset(rec, a.train_size, a.seed)
        model = image_model(zoo, rec, xs)
        pred = predict_scores(model, xs, torch.device("cpu")).argmax(1)
        fit = (ys == target) & (pred == target)
        print(f"{name} ({rec['attack']}), target {target}: {int(fit.sum())} target-labelled "
              f"samples fit, {int((fit & pm).sum())} poisoned")  # fmt: skip
        for px in (float(v) for v in a.px.split(",")):
            config = dataclasses.replace(BurnConfig(), resample_px=px)
            flags, _ = resampling_flags(
                model, xs, ys, pred, target, config, torch.device("cpu"), seed_everything(a.seed)
            )
            print(f"  {px:.3f} px: flags {int((flags & pm).sum())} poisoned, "
                  f"{int((flags & ~pm).sum())} clean")  # fmt: skip


if __name__ == "__main__":
    main()
