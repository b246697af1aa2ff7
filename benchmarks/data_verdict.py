"""Research tool: finished `bdscan bench xray` runs re-decided with the training data
(`bdscan scan --train-data`; scanner.detectors.by_data), from their saved reports.

The attribution by the training data comes after the scan's own decision and reads only the
saved evidence, the data and (where it could decide) the model's labels for the named class's
pattern, so a saved report re-decided here is what a scan with --train-data would say at the
same seed. Each model's training data is its poisoned training set as `bench_burn.py` draws it
(a `--train-size` subset at `--seed`); the clean side is the zoo's scan data, as a scan's DATA.

    python benchmarks/data_verdict.py --run zoo-fresh54=bench-out/rs-fresh54-s0 \\
        --run zoo-fresh55=bench-out/rs-fresh55-s0 [--reports-out bench-out/dv]

Prints every model (the check's class, the labels the findings reach, the pattern's share, the
verdict before -> after), then per run and pooled: the AUROC of the score (all-to-one against
clean), right targets, clean models called infected and shortcut, before and after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from xray_redecide import saved_rows, summary
from zoo_oracle import zoo_oracle

from scanner.data import normalise_images
from scanner.detectors.by_data import check_scan
from scanner.detectors.datacheck import DataCheckConfig
from scanner.detectors.evidence import Evidence
from scanner.detectors.verdict import Decision


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", required=True, metavar="ZOO=RUN",
                    help="a zoo and a bench xray --out folder of it (repeatable)")  # fmt: skip
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jsonl", type=Path, default=None, help="one row per model")
    ap.add_argument("--no-stamp", action="store_true", help="without the training data's stamp")
    ap.add_argument("--reports-out", type=Path, default=None, metavar="DIR",
                    help="write each re-decided report there (DIR/RUN-NAME/NAME.json), as"
                    " `bdscan scan --train-data --json` would have")  # fmt: skip
    args = ap.parse_args(argv)
    from bdscan_lab.zoo.build import poisoned_training_set

    config = DataCheckConfig(stamp=not args.no_stamp)
    before_all: list[dict[str, Any]] = []
    after_all: list[dict[str, Any]] = []
    out = args.jsonl.open("w") if args.jsonl else None
    for item in args.run:
        zoo_s, run_s = item.split("=", 1)
        zoo, run = Path(zoo_s), Path(run_s)
        index = {r["name"]: r for r in json.loads((zoo / "index.json").read_text())["models"]}
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for row in saved_rows(run):
            rec = index[row["name"]]
            doc = json.loads((run / "reports" / f"{row['name']}.json").read_text())
            x = doc["xray"]
            decision = Decision(
                x["verdict"],
                float(x["score"]),
                x["target_label"],
                x["target_note"],
                Evidence.from_dict(x["evidence"]),
            )
            xt, yt, *_ = poisoned_training_set(rec)
            rng = np.random.default_rng(args.seed)
            sub = np.sort(rng.choice(len(yt), size=min(args.train_size, len(yt)), replace=False))
            train = (normalise_images(np.asarray(xt[sub]), "train"), np.asarray(yt[sub]))
            with zoo_oracle(zoo, rec) as zo:
                new = check_scan(
                    decision,
                    train,
                    (zo.data.x, zo.data.y),
                    zo.num_classes,
                    config,
                    labels_of=lambda imgs, zo=zo: zo.oracle(zo.to_model(imgs)),
                    queries_left=None,
                )
                queries = zo.oracle.queries
            check = new.evidence.data_check
            assert check is not None
            if args.reports_out is not None:
                folder = args.reports_out / run.name
                folder.mkdir(parents=True, exist_ok=True)
                doc["xray"].update(
                    verdict=new.verdict,
                    score=new.score,
                    target_label=new.target_label,
                    target_note=new.target_note,
                    evidence=new.evidence.to_dict(),
                )
                (folder / f"{row['name']}.json").write_text(json.dumps(doc))
            moved = replace_row(row, new)
            before.append(row)
            after.append(moved)
            share = max(
                (r for r in (check.pattern_rate, check.sine_rate) if r is not None), default=None
            )
            stamp = "-" if check.stamp_rate is None else f"{check.stamp_rate:.2f}"
            print(
                f"{row['name']:36s} {row['attack']:9s} t={row['target']!s:4s}"
                f" named {check.label!s:4s} reach {list(check.reached)!s:12s}"
                f" pattern {'-' if share is None else f'{share:.2f}'} stamp {stamp}"
                f" ({check.stamp_pixels} px) ({queries} q) |"
                f" {row['verdict']} {row['found_target']} {row['score']:.2f} ->"
                f" {new.verdict} {new.target_label} {new.score:.2f}",
                flush=True,
            )
            if out is not None:
                out.write(
                    json.dumps({**moved, "run": str(run), "data_check": check.to_dict()}) + "\n"
                )
        print(f"{run}: before {summary(before)}")
        print(f"{run}: after  {summary(after)}")
        before_all += before
        after_all += after
    if len(args.run) > 1:
        print(f"pooled: before {summary(before_all)}")
        print(f"pooled: after  {summary(after_all)}")
    if out is not None:
        out.close()
    return 0


def replace_row(row: dict[str, Any], d: Decision) -> dict[str, Any]:
    return {**row, "verdict": d.verdict, "score": d.score, "found_target": d.target_label}


if __name__ == "__main__":
    raise SystemExit(main())
