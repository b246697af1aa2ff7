"""The trigger search on a built zoo: every model scanned once with the search stage, and the
verdict decided with and without it from the same scan (`python benchmarks/search_wild.py
--zoo zoo-out --out bench-out/search`). Prints one row per model and the totals; reports are
kept, so `--redecide` re-reads them under the current rule without scanning again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scanner.data import load_dataset
from scanner.detectors.attribution import from_evidence
from scanner.detectors.probes import ProbeResult
from scanner.detectors.search import SearchResult
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


def redecide(out: Path, rule: VerdictRule) -> dict[str, int]:
    rows, totals = [], {}
    for path in sorted(out.glob("*.json")):
        rec = json.loads(path.read_text())
        m, xray = rec["model"], rec["report"]["xray"]
        ev = xray["evidence"]
        probes = ProbeResult.from_evidence(ev)
        planes = tuple(PlaneResult.from_dict(p) for p in xray["planes"])
        n = rec["report"]["model"]["num_classes"]
        attr = from_evidence(ev)
        search = SearchResult.from_dict(ev["search"])
        before = decide(probes, planes, n, rule, attr)
        after = decide(probes, planes, n, rule, attr, search)
        kind = "a2a" if m.get("all_to_all") else ("clean" if not m["backdoored"] else "a2o")
        for tag, d in (("without", before), ("with", after)):
            right = d.target_label == m.get("target")
            key = f"{tag}:{kind}:{d.verdict}" + (
                ":right" if d.verdict == "infected" and right and kind == "a2o" else ""
            )
            totals[key] = totals.get(key, 0) + 1
        attack = m["attack"] if m["backdoored"] else "clean"
        rows.append(
            f"{m['name']:28s} {attack:12s} t={m.get('target')!s:4s}"
            f" without: {before.verdict:8s} {before.target_label!s:4s}"
            f" with: {after.verdict:8s} {after.target_label!s:4s}"
            f" {after.evidence.get('decided_by')}  search {search.queries} q"
            f" {search.seconds:.1f}s of {xray['queries']} q {xray['seconds']:.1f}s"
        )
    print("\n".join(rows))
    for k in sorted(totals):
        print(f"{k}: {totals[k]}")
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
    redecide(args.out, VerdictRule())


if __name__ == "__main__":
    main()
