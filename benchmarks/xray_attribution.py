"""Research tool: a finished `bdscan bench xray` run re-decided with and without the attribution
(the planted-or-natural test of `scanner.detectors.attribution`), from its saved reports.

Without attribution is the two-valued detector as it stood before (every one-label shortcut is
"infected"); with it, the shipped rule. Nothing is rescanned: the dose curves are in each
report's evidence. Prints per-model attribution figures, then one summary line per rule, with
clean models called infected / shortcut per architecture.

    python benchmarks/xray_attribution.py bench-out/wild [--retention 0.5]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bdscan_lab.bench.xray import summarise
from scanner.detectors.evidence import Evidence
from scanner.detectors.verdict import VerdictRule, decide


def redecide(rows: list[dict[str, Any]], run: Path, rule: VerdictRule) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        x = json.loads((run / "reports" / f"{r['name']}.json").read_text())["xray"]
        classes = len(x["planes"][0]["label_counts"]) if x["planes"] else 10
        ev = Evidence.from_dict(x["evidence"])
        d = decide(ev.probe_result(), (), classes, rule, ev.attribution)
        out.append({**r, "verdict": d.verdict, "score": d.score, "found_target": d.target_label})
    return out


def by_arch(rows: list[dict[str, Any]], verdict: str) -> str:
    clean = [r for r in rows if r["attack"] == "clean"]
    archs = sorted({r["arch"] for r in clean})
    return ", ".join(
        f"{a} {sum(r['verdict'] == verdict for r in clean if r['arch'] == a)}"
        f"/{sum(r['arch'] == a for r in clean)}"
        for a in archs
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="the --out folder of a bench xray run")
    ap.add_argument("--retention", type=float, default=VerdictRule().retention_max)
    args = ap.parse_args()
    rows = json.loads((args.run / "results.json").read_text())["rows"]
    for r in sorted(rows, key=lambda r: (r["attack"] != "clean", r["attack"], r["name"])):
        x = json.loads((args.run / "reports" / f"{r['name']}.json").read_text())["xray"]
        curves = [
            f"{a['probe']['family']}/{a['probe']['strength']}->{a['label']}"
            f" [{' '.join(f'{u:.2f}' for _, u in a['dose'])}]"
            for a in x["evidence"].get("attribution", [])
        ]
        print(f"{r['name']:30s} {r['attack']:13s} target {r['target']!s:4s} {'; '.join(curves)}")
    print()
    for name, rule in (
        ("without attribution", VerdictRule(retention_max=0.0)),
        (
            f"with attribution (retention < {args.retention})",
            replace(VerdictRule(), retention_max=args.retention),
        ),
    ):
        dec = redecide(rows, args.run, rule)
        s = summarise(dec)
        one = [r for r in dec if r["attack"] != "clean" and not r["all_to_all"]]
        print(
            f"{name}: AUROC {s['auroc_score']}; all-to-one infected"
            f" {sum(r['verdict'] == 'infected' for r in one)}/{len(one)}, target right"
            f" {sum(r['found_target'] == r['target'] for r in one)}/{len(one)}, called shortcut"
            f" {sum(r['verdict'] == 'shortcut' for r in one)}/{len(one)}; clean infected"
            f" {by_arch(dec, 'infected')}; clean shortcut {by_arch(dec, 'shortcut')}"
        )


if __name__ == "__main__":
    main()
