"""Research tool: one BURN run on one zoo model, with what the bench table hides: which classes
the flagged samples come from, what they were relabelled to, and per-class test accuracy before
and after. This is how the lift in phase 2 was found (docs/remediation.md, step 5).

    python benchmarks/burn_per_class.py resnet8_sig_t3 [KEY=VALUE ...]   # BurnConfig overrides
    python benchmarks/burn_per_class.py resnet8_sig_t3 lift_flags=false unlearn_share=0.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
from bench_burn import _config_value, _ort_labels, repair_zoo_model

from bdscan_lab.zoo.build import poisoned_training_set
from bdscan_lab.zoo.datasets import load_dataset
from scanner.bridge.convert import images_to_input
from scanner.remediate.burn import BurnConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="zoo model name")
    ap.add_argument("set", nargs="*", metavar="KEY=VALUE", help="BurnConfig field overrides")
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--reports", default="bench-out/xray-p4/reports")
    ap.add_argument("--train-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    zoo = Path(a.zoo)
    rec = json.loads((zoo / f"{a.model}.json").read_text())
    x, y, _poisoned, _x_trig, _y_trig = poisoned_training_set(rec)
    rng = np.random.default_rng(a.seed)  # the same subset as bench_burn.py at this seed
    sub = np.sort(rng.choice(len(y), size=min(a.train_size, len(y)), replace=False))
    x_sub, y_sub = x[sub], y[sub]
    x_test, y_test = load_dataset(rec["dataset"], "test")
    report = json.loads((Path(a.reports) / f"{a.model}.json").read_text())
    config = BurnConfig()
    for item in a.set:
        config = dataclasses.replace(config, **_config_value(config, item))
    out = Path(tempfile.mkdtemp(prefix="burn-per-class-")) / "repaired.onnx"
    run = repair_zoo_model(rec, zoo, (x_sub, y_sub), report, config, out, seed=a.seed)
    nc = int(rec["num_classes"])
    flagged = np.asarray(run.report.flagged, dtype=np.int64)
    restored = np.asarray(run.report.restored, dtype=np.int64)
    print(f"flagged {len(flagged)}; by given label {np.bincount(y_sub[flagged], minlength=nc)}")
    print(f"restored to {np.bincount(restored, minlength=nc)}")
    imgs = x_test[..., None] if x_test.ndim == 3 else x_test
    x_in = images_to_input(run.converted, imgs.astype(np.float32) / 255.0)
    for name, path in (("before", zoo / rec["onnx"]), ("after", out)):
        pred = _ort_labels(path, x_in, run.converted.signature.batch)
        recall = [float(np.mean(pred[y_test == c] == c)) for c in range(nc)]
        print(f"{name}: accuracy {np.mean(pred == y_test):.3f}, per class {np.round(recall, 2)}")


if __name__ == "__main__":
    main()
