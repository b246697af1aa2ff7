"""Research tool: what BURN costs a clean zoo model, repaired with its own scan report.

A user may run `bdscan remediate` on a model the scan read `clean` or `shortcut` (or on one whose
backdoor the scan missed); BURN then has no target from X-ray, runs its own target check, and
flags only what its boundary mixture and feedback rounds find. For each clean model of each zoo
with a report in REPORTS, BURN runs as `bench_burn.py` runs it (the zoo's training set, a seed-0
subset of 10,000 samples, the report as the prior) and the script prints clean test accuracy
before and after, the share of training samples flagged (all of them are false positives here),
the suspect classes and the target BURN's own check named. Per zoo and in all: the median and
worst accuracy change and how many models lost more than the remediation bar's 2 points.

`--inflate LABEL=FACTOR` makes one label larger by nature: the subset gets (FACTOR - 1) times
as many more samples of LABEL, drawn from the model's training samples outside it (a training
set whose classes were never balanced, where BURN's label counts mean nothing). `--rounds N`
repairs through the command's workflow instead (`bench_burn.py --rounds`: re-scans, and up to N
rounds where they ask for more), and prints each round's aim, re-scan and accuracy.

    python benchmarks/burn_clean.py --run zoo-fresh25=bench-out/o25-fresh25-s0/reports \\
        [--run ZOO=REPORTS ...] [--burn-set KEY=VALUE ...] [--inflate LABEL=FACTOR] [--json FILE]
        [--rounds N]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from bench_burn import (
    BAR_ACC_DROP,
    _config_value,
    _ort_labels,
    _workflow,
    repair_zoo_model,
    write_rows,
    zoo_reports,
)

from bdscan_lab.zoo.build import poisoned_training_set
from bdscan_lab.zoo.datasets import load_dataset
from scanner.bridge.convert import images_to_input
from scanner.remediate.burn import BurnConfig


def _accuracy(path: Path, conv: Any, x: np.ndarray, y: np.ndarray) -> float:
    imgs = (x[..., None] if x.ndim == 3 else x).astype(np.float32) / 255.0
    return float(np.mean(_ort_labels(path, images_to_input(conv, imgs), conv.signature.batch) == y))


def model_cost(
    rec: dict[str, Any],
    zoo: Path,
    report: dict[str, Any],
    config: BurnConfig,
    out: Path,
    inflate: tuple[int, float] | None = None,
    rounds: int = 0,
) -> dict[str, Any]:
    """One clean model's row: accuracy before and after BURN, what BURN flagged."""
    x, y, *_ = poisoned_training_set(rec)
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(len(y), size=min(10000, len(y)), replace=False))
    if inflate is not None:
        label, factor = inflate
        outside = np.setdiff1d(np.flatnonzero(y == label), sub)
        more = round((factor - 1.0) * int(np.sum(y[sub] == label)))
        if more > len(outside):
            raise SystemExit(f"{rec['name']}: only {len(outside)} more samples of {label}")
        sub = np.sort(np.concatenate([sub, rng.choice(outside, size=more, replace=False)]))
    x_test, y_test = load_dataset(rec["dataset"], "test")
    repair_rounds: list[dict[str, Any]] = []
    if rounds:
        # The command's workflow: repair, re-scan, and the rounds its re-scans ask for.
        scan = np.load(zoo / rec["scan_data"])
        flow = argparse.Namespace(device="cpu", seed=0, rounds=rounds)

        def score(path: Path, conv: Any) -> dict[str, float]:
            return {"acc": _accuracy(path, conv, x_test, y_test)}

        rep, conv, repair_rounds = _workflow(
            rec, zoo, out, (x[sub], y[sub]), (scan["x"], scan["y"]), report,
            report["xray"]["target_label"], flow, config, score,
        )  # fmt: skip
    else:
        run = repair_zoo_model(rec, zoo, (x[sub], y[sub]), report, config, out)
        rep, conv = run.report, run.converted
    own = (rep.extra.unlearning or {}).get("self_prior") or {}
    return {
        "model": rec["name"],
        "arch": rec["arch"],
        "verdict": report["xray"]["verdict"],
        "before": _accuracy(zoo / rec["onnx"], conv, x_test, y_test),
        "after": _accuracy(out, conv, x_test, y_test),
        "flagged": len(rep.flagged) / len(sub),
        "flagged_phase1": len(rep.flagged_phase1) / len(sub),
        "suspects": list(rep.suspect_labels),
        "own_target": own.get("target"),
        "promoted": (rep.extra.unlearning or {}).get("promoted_suspect"),
        "repair_rounds": repair_rounds,
    }


def _round_text(r: dict[str, Any]) -> str:
    """One workflow round: the label it was aimed at, its re-scan, the accuracy after it."""
    after = r.get("after") or {}
    label = after.get("shortcut_label") if after.get("verdict") == "shortcut" else None
    seen = f"{after.get('verdict')}{'' if label is None else f' to {label}'}"
    acc = r["measured"]["acc"]
    return f"\n    round aimed at {r['repaired_target']}: re-scan {seen}, ACC {acc:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="ZOO=REPORTS")
    parser.add_argument("--burn-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--inflate", metavar="LABEL=FACTOR", help="one label larger by nature")
    parser.add_argument("--json", help="write every model's row here (JSON lines)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="repair through the command's workflow (re-scans, up to N rounds); 0: one repair",
    )
    args = parser.parse_args()
    inflate = None
    if args.inflate:
        label, _, factor = args.inflate.partition("=")
        inflate = (int(label), float(factor))
    config = BurnConfig()
    for item in args.burn_set:
        config = dataclasses.replace(config, **_config_value(config, item))
    rows: list[dict[str, Any]] = []
    out_dir = Path(tempfile.mkdtemp(prefix="burn-clean-"))
    for zoo, rec, report in zoo_reports(args.run):
        if rec["backdoored"]:
            continue
        out = out_dir / f"{rec['name']}.onnx"
        row = model_cost(rec, zoo, report, config, out, inflate, args.rounds)
        rows.append(row)
        print(
            f"{row['model']:28s} {row['verdict']:8s} ACC {row['before']:.4f} -> "
            f"{row['after']:.4f} ({row['after'] - row['before']:+.4f})  flagged "
            f"{row['flagged_phase1']:.4f} -> {row['flagged']:.4f}  suspects "
            f"{row['suspects']}  own target {row['own_target']}  promoted {row['promoted']}"
            + "".join(_round_text(r) for r in row["repair_rounds"]),
            flush=True,
        )
    write_rows(args.json, rows)
    if rows:
        change = sorted(r["after"] - r["before"] for r in rows)
        worse = sum(1 for c in change if c < -BAR_ACC_DROP)
        print(
            f"{len(rows)} clean models: accuracy change median {change[len(change) // 2]:+.4f}, "
            f"worst {change[0]:+.4f}; {worse} lost more than {BAR_ACC_DROP * 100:.0f} points; "
            f"flagged median {sorted(r['flagged'] for r in rows)[len(rows) // 2]:.4f}"
        )


if __name__ == "__main__":
    main()
