"""The training data's check of the target (`scanner.remediate.datacheck`) on zoo nets.

For each model of each `--zoo`: its poisoned training set as `bench_burn.py` draws it (a
`--train-size` subset at `--seed`), against the zoo's clean scan samples; prints the class the
check names (or none), the planted target, and, with a stored scan per zoo (`--reports
ZOO=DIR`), the scan's verdict and the labels its findings reach. The summary counts nets whose
named class is their all-to-one target, and clean and all-to-all nets where it names none.

    python benchmarks/data_check.py --zoo zoo-fresh44 \
        --reports zoo-fresh44=bench-out/rs-fresh44-s0/reports
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from scanner.data import normalise_images
from scanner.detectors.datacheck import check_training_data
from scanner.remediate.config import BurnConfig
from scanner.remediate.prior import reached_labels


def _truth(rec: dict[str, Any]) -> str:
    if not rec.get("backdoored"):
        return "clean"
    return "all-to-all" if rec.get("all_to_all") else str(rec["target"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", action="append", required=True, type=Path)
    ap.add_argument("--reports", action="append", default=[], help="ZOO=DIR of scan --json files")
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from bdscan_lab.zoo.build import poisoned_training_set

    config = BurnConfig()
    reports = dict(item.split("=", 1) for item in args.reports)
    right = wrong = 0
    for zoo in args.zoo:
        index = json.loads((zoo / "index.json").read_text())["models"]
        for rec in index:
            if rec.get("status") not in ("ok", "retrained"):
                continue
            x, y, *_ = poisoned_training_set(rec)
            rng = np.random.default_rng(args.seed)
            sub = np.sort(rng.choice(len(y), size=min(args.train_size, len(y)), replace=False))
            scan = np.load(zoo / rec["scan_data"])
            check = check_training_data(
                normalise_images(np.asarray(x[sub]), "train"), y[sub],
                normalise_images(scan["x"], "clean"), scan["y"], rec["num_classes"],
                min_z=config.data_check_min_z, ratio=config.data_check_ratio,
                min_samples=config.data_check_min_samples,
                max_samples=config.data_check_max_samples,
            )  # fmt: skip
            truth = _truth(rec)
            expected = int(truth) if truth.isdigit() else None
            ok = check.label == expected
            right, wrong = right + ok, wrong + (not ok)
            seen = ""
            path = Path(reports.get(str(zoo), "")) / f"{rec['name']}.json"
            if str(zoo) in reports and path.is_file():
                doc = json.loads(path.read_text())
                reach = ",".join(str(v) for v in reached_labels(doc))
                seen = f" scan {doc['xray']['verdict']} reaches [{reach}]"
            print(
                f"{rec['name']:34s} truth {truth:10s} named {check.label!s:4s}"
                f" {'ok' if ok else 'WRONG'}{seen} | {check.note}",
                flush=True,
            )
    print(f"{right} of {right + wrong} as the zoo planted them")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
