"""The carriers' check (`residual.carrier_hold`) read plainly and strictly on stored repairs,
beside the zoo's own poison (lab-only ground truth: which kept carriers are poisoned rows).

    python benchmarks/carrier_readings.py --zoo zoo-freshN --repaired bench-out/rep-TAG-freshN \
        --json bench-out/burn-TAG-freshN.json

For each repaired net of the bench_burn JSON: ASR after, then per reading (plain: the majority
of 5 nearest clean images; strict: of 9, none of the class's own) the hold the check reports,
how many carriers it kept, how many of those are the class's own images, and the hold among the
poisoned ones alone; then the training data's blend in its blend form (`blend_triggers`, at
each opacity) re-measured on the clean data as `--data-residual` does. The training set is the
bench's (10,000 rows drawn with seed 0)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bdscan_lab.zoo.build import poisoned_training_set
from scanner.app.remediation import onnx_labels
from scanner.data import Dataset, load_dataset
from scanner.detectors.datacheck import DataCheck, DataCheckConfig, blend_carriers
from scanner.pipeline import ScanConfig
from scanner.remediate.residual import (
    CARRIERS_MAX,
    _blend_change,
    blend_triggers,
    carrier_content,
    carrier_hold,
    measure_triggers,
)

TRAIN_ROWS = 10_000  # as bench_burn draws them


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoo", type=Path, required=True)
    ap.add_argument("--repaired", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True, action="append")
    args = ap.parse_args()
    config = DataCheckConfig()
    for js in args.json:
        for row in json.loads(js.read_text()):
            name = row["model"]
            rec = json.loads((args.zoo / f"{name}.json").read_text())
            x, y, poisoned, _, _ = poisoned_training_set(rec)
            rng = np.random.default_rng(0)
            sub = np.sort(rng.choice(len(y), size=min(TRAIN_ROWS, len(y)), replace=False))
            xs = x[sub][..., None] if x.ndim == 3 else x[sub]
            train = Dataset(xs.astype(np.float32) / 255.0, y[sub].astype(np.int64), "train", "")
            is_poison = np.isin(sub, poisoned)
            clean = load_dataset(args.zoo / rec["scan_data"])
            cfg = ScanConfig(
                mean=tuple(rec["mean"]) if rec.get("mean") else None,
                std=tuple(rec["std"]) if rec.get("std") else None,
            )
            asr = row["after"]["asr"]
            check = DataCheck.from_dict(row["data_check"]) if row.get("data_check") else None
            change = _blend_change(check, train, clean, config) if check else None
            if check is None or check.label is None or change is None:
                print(f"{name}: ASR {asr:.3f}; no blend read", flush=True)
                continue
            label = check.label
            xc, yc = np.asarray(clean.x, np.float32), np.asarray(clean.y)
            onnx, repaired = args.zoo / rec["onnx"], args.repaired / f"{name}.burn.onnx"
            with (
                onnx_labels(onnx, cfg, clean) as before,
                onnx_labels(repaired, cfg, clean) as after,
            ):
                rows = np.flatnonzero(blend_carriers(before, train.x, train.y, label, change))
                if len(rows) > CARRIERS_MAX:
                    pick = np.linspace(0, len(rows) - 1, CARRIERS_MAX).round().astype(np.int64)
                    rows = rows[pick]
                held = after(train.x[rows]) == label
                parts = []
                for reading, strict in (("plain", False), ("strict", True)):
                    r = carrier_hold(check, train, clean, before, after, strict=strict)
                    own = label if strict else None
                    _, keep = carrier_content(
                        before, train.x[rows], change, xc, yc, config.max_samples, own=own
                    )
                    poison = keep & is_poison[rows]
                    ph = f"{held[poison].mean():.3f}" if poison.any() else "-"
                    said = "none" if r is None else f"{r.checks[0].after:.3f}"
                    left = " LEFT" if r is not None and r.left else ""
                    parts.append(
                        f"{reading} {said}{left} of {int(keep.sum())} "
                        f"({int((keep & ~is_poison[rows]).sum())} own, poison held {ph})"
                    )
                forms = measure_triggers(
                    blend_triggers(check, train, clean), label, clean, before, after
                )
                if forms is not None:
                    holds = ", ".join(f"{c.after:.3f}" for c in forms.checks)
                    parts.append(f"blend form {holds}{' LEFT' if forms.left else ''}")
            print(f"{name}: ASR {asr:.3f}, class {label} | " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
