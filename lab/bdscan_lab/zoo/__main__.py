"""`python -m bdscan_lab.zoo build --out zoo-out [--set core|full] [--only GLOB] [--force]`.

Also `list` (the specs of a set, without building). `main(argv)` returns the exit code, so the
`bdscan zoo` command can wrap it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from scanner.errors import BdscanError, ExitCode

# The zoo's sets, named here so that `--help` needs no torch (build.SETS holds the specs).
SET_NAMES = [
    "core",
    "full",
    "wild",
    "fresh",
    "fresh2",
    "fresh3",
    "fresh4",
    "fresh5",
    "fresh6",
    "fresh7",
    "fresh8",
    "fresh9",
    "fresh10",
    "fresh11",
    "fresh12",
    "fresh13",
    "fresh14",
    "fresh15",
    "fresh16",
    "fresh17",
    "fresh18",
    "fresh19",
    "fresh20",
    "fresh21",
    "fresh22",
    "fresh23",
    "fresh24",
    "fresh25",
    "fresh26",
    "fresh27",
    "fresh28",
    "fresh29",
    "fresh30",
    "fresh31",
    "fresh32",
    "fresh33",
    "fresh34",
    "fresh35",
    "fresh36",
    "fresh37",
    "fresh38",
    "fresh39",
    "fresh40",
    "fresh41",
    "fresh42",
    "fresh43",
    "fresh44",
    "fresh45",
    "fresh46",
    "fresh47",
    "fresh48",
    "fresh49",
    "fresh50",
    "fresh51",
    "fresh52",
    "fresh53",
    "fresh54",
    "fresh55",
    "fresh56",
    "fresh57",
    "fresh58",
    "fresh59",
    "fresh60",
    "fresh61",
    "fresh62",
    "fresh63",
    "fresh64",
    "fresh65",
    "fresh66",
    "fresh67",
    "fresh68",
    "fresh69",
    "fresh70",
    "fresh71",
    "fresh72",
    "fresh73",
    "fresh74",
    "fresh75",
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bdscan_lab.zoo",
        description="Train clean and backdoored classifiers on real data and export them to ONNX.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or resume building) a zoo set")
    b.add_argument("--out", required=True, help="output folder (e.g. zoo-out)")
    b.add_argument("--set", default="core", choices=SET_NAMES, help="which models")
    b.add_argument(
        "--only", action="append", metavar="GLOB", help="only models matching GLOB (repeatable)"
    )
    b.add_argument("--force", action="store_true", help="rebuild models already built")
    b.add_argument("--fmnist-dir", help="folder of Fashion-MNIST idx.gz files")
    b.add_argument("--min-asr", type=float, default=None, help="retrain/drop a backdoor below")
    b.add_argument(
        "--list",
        action="store_true",
        help="print the planned models, one JSON object per line, without training",
    )
    ls = sub.add_parser("list", help="list the models of a set")
    ls.add_argument("--set", default="full", choices=SET_NAMES)
    return p


def _flushed() -> int:
    """PASSED once the listing is out; a reader that closed the pipe early (`--list | head`)
    got what it wanted, so that is no error (and no traceback at exit)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(ExitCode.PASSED)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bdscan_lab.zoo.build import MIN_ASR, build_zoo, get_specs, plan_entry

    try:
        if args.command == "build" and args.list:
            for s in get_specs(args.set, args.only):
                print(json.dumps(plan_entry(s), sort_keys=True))
            return _flushed()
        if args.command == "list":
            for s in get_specs(args.set):
                target = "-" if s.target is None else s.target
                print(
                    f"{s.name:26s} {s.set:4s} {s.dataset:6s} {s.arch:8s} {s.attack:15s} "
                    f"t={target} rate={s.poison_rate:<5} {s.convention:11s} {s.exporter}"
                )
            return _flushed()
        start = time.perf_counter()
        records = build_zoo(
            args.out,
            names=args.only,
            set=args.set,
            force=args.force,
            fmnist_path=args.fmnist_dir,
            min_asr=MIN_ASR if args.min_asr is None else args.min_asr,
            log=lambda line: print(line, flush=True),
        )
        built = sum(r.status != "dropped" for r in records)
        print(f"zoo: {built} models ready in {args.out} ({time.perf_counter() - start:.0f}s)")
        return int(ExitCode.PASSED)
    except BrokenPipeError:
        return _flushed()  # a long listing whose reader stopped mid-way
    except (BdscanError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code if isinstance(exc, BdscanError) else ExitCode.USAGE_ERROR
        return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
