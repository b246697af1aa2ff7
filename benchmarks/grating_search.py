"""Research tool: the trigger search's grating space alone on zoo models, to see at what
amplitude a tuned grating fires on clean networks (their natural grating sinks) and on SIG
backdoors, without a full scan.

    python benchmarks/grating_search.py --zoo zoo-fresh13 [--zoo ...] [--attack clean --attack sig]
        [--seed 0] [--no-backoff] [--samples SEARCH CONFIRM] [--json bench-out/grating.jsonl]

For each model: the grating findings the search confirmed (label, amplitude, universality on the
fresh samples), the search's queries and seconds; and, per model, the smallest amplitude of a
finding that reaches the verdict's `target_threshold` (the figure `grating_cost_max` caps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bench_burn import write_rows
from zoo_oracle import zoo_oracle

from bdscan_lab.bench.xray import load_index
from scanner.detectors.probes import ProbeResult
from scanner.detectors.search import SearchConfig, run_search
from scanner.detectors.thresholds import value


def _no_probes(classes: int) -> ProbeResult:
    # The grating space searches every label, so the probes' ranking is not needed.
    return ProbeResult((), (0.0,) * classes, (0,) * classes, 0, 0, 0, 0)


def search_model(
    zoo: Path,
    rec: dict[str, Any],
    seed: int,
    backoff: bool = True,
    samples: tuple[int, ...] = (6, 20),
) -> dict[str, Any]:
    with zoo_oracle(zoo, rec) as zo:
        x, y = zo.data.x, zo.data.y
        config = SearchConfig(
            spaces=("grating",),
            seed=seed,
            backoff=backoff,
            samples_per_class=samples[0],
            confirm_per_class=samples[1],
        )
        started = time.perf_counter()
        result = run_search(
            zo.oracle, x, y, zo.to_model, zo.num_classes, _no_probes(zo.num_classes), config
        )
        seconds = time.perf_counter() - started
    findings = [f.to_dict() for f in result.findings]
    firing = [f for f in result.findings if f.universality >= value("target_threshold")]
    return {
        "name": rec["name"],
        "attack": rec.get("attack"),
        "arch": rec.get("arch"),
        "target": rec.get("target"),
        "queries": result.queries,
        "seconds": round(seconds, 2),
        "min_amp": min((f.cost for f in firing), default=None),
        "min_amp_label": min(firing, key=lambda f: f.cost).label if firing else None,
        "findings": findings,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", action="append", type=Path, required=True)
    ap.add_argument("--attack", action="append", help="only models of this attack (repeatable)")
    ap.add_argument("--only", action="append", help="only these model names (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-backoff", action="store_true", help="confirm the descent's own end")
    ap.add_argument(
        "--samples",
        type=int,
        nargs=2,
        default=(6, 20),
        metavar=("SEARCH", "CONFIRM"),
        help="samples per class to search and to confirm on (a budget's: 3 10)",
    )
    ap.add_argument("--json", help="the rows as JSON lines")
    args = ap.parse_args(argv)
    rows = []
    for zoo in args.zoo:
        for rec in load_index(zoo):
            if args.attack and rec.get("attack") not in args.attack:
                continue
            if args.only and rec["name"] not in args.only:
                continue
            row = search_model(
                zoo, rec, args.seed, backoff=not args.no_backoff, samples=tuple(args.samples)
            )
            rows.append(row)
            amp = "-" if row["min_amp"] is None else f"{row['min_amp']:.3f}"
            print(
                f"{row['name']:34s} {row['attack']:8s} target {row['target']!s:4s}"
                f" fires at {amp} to {row['min_amp_label']!s:4s} {row['queries']:6d} q"
                f" {row['seconds']:5.1f} s",
                flush=True,
            )
            write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
