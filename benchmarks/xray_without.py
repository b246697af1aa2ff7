"""Research tool: the detection figures of a finished `bdscan bench xray` run, with some models
left out of the evaluation.

A decision aid, not a result: it shows what the held-out figures would be if the product
counted the left-out models differently (for example, the two clean MNIST ResNet-8s whose
natural shortcut to "8" every hard-label test we tried reads as a backdoor: leaving them out is
what counting a universal natural shortcut as a finding, rather than as a false positive, would
amount to). The rows, reports and fitting are the run's own (`bdscan_lab.bench.xray.summarise`,
`held_out`); nothing is rescanned.

    python benchmarks/xray_without.py bench-out/xray-p5 bench-out/xray-p5s1 \
        --drop mnist_resnet8_clean_s0,mnist_resnet8_clean_s1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bdscan_lab.bench.xray import held_out, summarise


def line(name: str, s: dict[str, Any]) -> str:
    n_clean = s["clean"]
    fp = round((s["fpr_clean"] or 0.0) * n_clean)
    return (
        f"  {name:28s} AUROC {s['auroc_score']:.3f}  clean flagged {fp} of {n_clean}"
        f"  target right {s['target_accuracy']:.3f}"
        f"  all-to-all flagged, no single target {s['all_to_all_no_single_target']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="`bdscan bench xray --out` folders")
    ap.add_argument("--drop", default="", help="comma-separated zoo model names to leave out")
    a = ap.parse_args()
    drop = {n for n in a.drop.split(",") if n}
    for run in a.runs:
        try:
            rows = json.loads((run / "results.json").read_text())["rows"]
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{run}: not a `bdscan bench xray` output folder ({e})")
        unknown = drop - {r["name"] for r in rows}
        if unknown:
            sys.exit(f"{run}: no such models in the run: {', '.join(sorted(unknown))}")
        kept = [r for r in rows if r["name"] not in drop]
        print(f"{run}: {len(kept)} of {len(rows)} models")
        print(line("shipped thresholds", summarise(kept)))
        for group, name in (("attack", "leave one attack out"), ("arch", "leave one arch out")):
            print(line(name, held_out(kept, run / "reports", group)[1]))


if __name__ == "__main__":
    main()
