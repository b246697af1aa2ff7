"""The trigger search on a built zoo: every model scanned once with the search stage, and the
verdict decided with and without it from the same scan (`python benchmarks/search_wild.py
--zoo zoo-out --out bench-out/search`). Prints one row per model and the totals; reports are
kept, so `--redecide` re-reads them under the current rule without scanning again."""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

from scanner.data import load_dataset
from scanner.detectors.evidence import Evidence
from scanner.detectors.spaces import SPACES
from scanner.detectors.verdict import VerdictRule, decide
from scanner.pipeline import ScanConfig, scan_model
from scanner.report import PlaneResult


def scan_all(zoo: Path, out: Path, only: list[str]) -> None:
    index = json.loads((zoo / "index.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    for m in index["models"]:
        if only and m["name"] not in only:
            continue
        dest = out / f"{m['name']}.json"
        if dest.exists():
            continue
        ds = load_dataset(zoo / m["scan_data"])
        mean = tuple(m["mean"]) if m.get("mean") else None
        std = tuple(m["std"]) if m.get("std") else None
        report = scan_model(zoo / m["onnx"], ds, ScanConfig(mean=mean, std=std))
        record = {"model": m, "report": report.to_dict()}
        dest.write_text(json.dumps(record))
        print(f"scanned {m['name']}: {report.xray.verdict} {report.xray.target_label}", flush=True)


def redecide(out: Path, rule: VerdictRule, verbose: bool = True) -> dict[str, int]:
    rows: list[str] = []
    totals: dict[str, int] = {}
    cost: list[tuple[int, float, int, float]] = []
    for path in sorted(out.glob("*.json")):
        rec = json.loads(path.read_text())
        m, xray = rec["model"], rec["report"]["xray"]
        ev = Evidence.from_dict(xray["evidence"])
        probes = ev.probe_result()
        planes = tuple(PlaneResult.from_dict(p) for p in xray["planes"])
        n = rec["report"]["model"]["num_classes"]
        attr = ev.attribution
        search = ev.search
        assert search is not None, f"{path}: scanned without the search"
        cost.append((search.queries, search.seconds, xray["queries"], xray["seconds"]))
        before = decide(probes, planes, n, rule, attr)
        after = decide(probes, planes, n, rule, attr, search)
        kind = "a2a" if m.get("all_to_all") else ("clean" if not m["backdoored"] else "a2o")
        targets = {m.get("target")}
        if m.get("attack") == "multi_target":  # both planted targets count
            offset = int(m["trigger"].get("second_target_offset", 1))
            targets.add((m["target"] + offset) % m["num_classes"])
        for tag, d in (("without", before), ("with", after)):
            right = d.target_label in targets
            key = f"{tag}:{kind}:{d.verdict}" + (
                ":right" if d.verdict == "infected" and right and kind == "a2o" else ""
            )
            totals[key] = totals.get(key, 0) + 1
        attack = m["attack"] if m["backdoored"] else "clean"
        rows.append(
            f"{m['name']:28s} {attack:12s} t={m.get('target')!s:4s}"
            f" without: {before.verdict:8s} {before.target_label!s:4s}"
            f" with: {after.verdict:8s} {after.target_label!s:4s}"
            f" {after.evidence.decided_by}  search {search.queries} q"
            f" {search.seconds:.1f}s of {xray['queries']} q {xray['seconds']:.1f}s"
        )
    if verbose:
        print("\n".join(rows))
    for k in sorted(totals):
        print(f"{k}: {totals[k]}")
    q = [r[0] for r in cost]
    share_q = [r[0] / r[2] for r in cost]
    share_s = [r[1] / r[3] for r in cost]
    print(
        f"search queries per scan: median {statistics.median(q):.0f} (range {min(q)}-{max(q)}),"
        f" {statistics.median(share_q):.1%} of the scan's; search seconds:"
        f" median {statistics.median(share_s):.1%} of the scan's"
    )
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--zoo", type=Path, default=Path("zoo-out"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/search"))
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--redecide", action="store_true", help="only re-read the kept reports")
    args = ap.parse_args()
    if not args.redecide:
        scan_all(args.zoo, args.out, args.only)
    shipped = VerdictRule()
    # The variants tried on these scans, in the order they were tried (docs/trigger-search.md).
    print(
        "== 0: chosen before any search output was seen (stamp and curve retention, no caps"
        " on curves and transforms)"
    )
    SPACES["mask"].graded = True  # type: ignore[misc]
    redecide(args.out, replace(shipped, curve_cost_max=1.0, transform_cost_max=1.0), False)
    print("== 1: curve cap 0.1, transforms off (after 12 models)")
    redecide(args.out, shipped, False)
    SPACES["mask"].graded = False  # type: ignore[misc]
    print("== 2 (shipped): a stamp's size is its dose-response (after all models)")
    redecide(args.out, shipped)


if __name__ == "__main__":
    main()
