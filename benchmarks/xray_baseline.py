"""Differential scanning on the zoo: each model judged against a clean baseline of its kind.

`bdscan scan MODEL --baseline REF.onnx` scans REF with the same data and settings and sets aside
MODEL's findings that name one of REF's own sinks (`scanner.detectors.baseline`). This re-decides
a finished `bdscan bench xray` run the same way, from its saved reports (same data and seed as
the CLI would use; nothing is rescanned), with every other clean zoo model of the same
architecture and data set as the baseline in turn:

- "first baseline": each model against the first other clean model of its kind (by name), with
  the held-out refits of `bdscan bench xray` on the discounted evidence;
- "worst baseline": per model, the baseline that serves it worst (a clean model's highest score,
  a backdoored model's lowest), at the shipped thresholds.

    python benchmarks/xray_baseline.py bench-out/xray-p5 bench-out/xray-p5s1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bdscan_lab.bench.xray import held_out, summarise
from scanner.detectors.baseline import Baseline, discount
from scanner.detectors.evidence import Evidence
from scanner.detectors.verdict import VerdictRule, decide


def kind(row: dict[str, Any]) -> tuple[str, str]:
    return ("mnist" if row["name"].startswith("mnist_") else "fmnist", str(row["arch"]))


def baseline_of(report: dict[str, Any]) -> Baseline:
    x = report["xray"]
    return Baseline.from_evidence(
        Evidence.from_dict(x["evidence"]),
        path=report["model"]["path"],
        sha256=report["model"]["sha256"],
        verdict=x["verdict"],
        score=x["score"],
        target_label=x["target_label"],
        num_classes=report["model"]["num_classes"],
    )


def redecide(row: dict[str, Any], report: dict[str, Any], base: Baseline) -> dict[str, Any]:
    """The row and the report's evidence as the scan with this baseline would give them."""
    probes, dropped = discount(Evidence.from_dict(report["xray"]["evidence"]).probe_result(), base)
    d = decide(probes, (), base.num_classes, VerdictRule())
    ev = d.evidence
    new_row = {
        **row,
        "verdict": d.verdict,
        "score": d.score,
        "found_target": d.target_label,
        "universality": ev.universality,
        "consistency": ev.consistency,
        "baseline": Path(base.path).stem,
        "set_aside": len(dropped),
    }
    return {"row": new_row, "evidence": ev.to_dict()}


def line(name: str, s: dict[str, Any]) -> str:
    fp = round((s["fpr_clean"] or 0.0) * s["clean"])
    return (
        f"  {name:34s} AUROC {s['auroc_score']:.3f}  clean flagged {fp} of {s['clean']}"
        f"  all-to-one flagged {s['tpr_all_to_one']:.3f}  target right {s['target_accuracy']:.3f}"
        f"  all-to-all, no single target {s['all_to_all_no_single_target']}"
    )


def one_run(run: Path) -> None:
    rows = json.loads((run / "results.json").read_text())["rows"]
    reports = {
        r["name"]: json.loads((run / "reports" / f"{r['name']}.json").read_text()) for r in rows
    }
    cleans: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["attack"] == "clean":
            cleans.setdefault(kind(r), []).append(r["name"])
    first, worst = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in rows:
            partners = sorted(c for c in cleans.get(kind(r), []) if c != r["name"])
            if not partners:
                sys.exit(f"{run}: no clean baseline of the kind of {r['name']} ({kind(r)})")
            outs = [redecide(r, reports[r["name"]], baseline_of(reports[p])) for p in partners]
            first.append(outs[0]["row"])
            doc = {**reports[r["name"]]}
            doc["xray"] = {**doc["xray"], "evidence": outs[0]["evidence"]}
            (Path(tmp) / f"{r['name']}.json").write_text(json.dumps(doc))
            pick = max if r["attack"] == "clean" else min
            worst.append(pick((o["row"] for o in outs), key=lambda o: o["score"]))
            for o in outs:
                if (o["row"]["verdict"], o["row"]["found_target"]) != (
                    r["verdict"],
                    r["found_target"],
                ):
                    print(
                        f"  {r['name']:26s} baseline {o['row']['baseline']:22s}"
                        f" {r['verdict']} ({r['found_target']}) {r['score']:.2f} ->"
                        f" {o['row']['verdict']} ({o['row']['found_target']})"
                        f" {o['row']['score']:.2f}, {o['row']['set_aside']} findings set aside"
                    )
        print(f"{run}: {len(rows)} models")
        print(line("no baseline, shipped thresholds", summarise(rows)))
        print(line("first baseline, shipped thresholds", summarise(first)))
        for group, name in (("attack", "leave one attack out"), ("arch", "leave one arch out")):
            print(line(f"first baseline, {name}", held_out(first, Path(tmp), group)[1]))
        print(line("worst baseline, shipped thresholds", summarise(worst)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="`bdscan bench xray --out` folders")
    for run in ap.parse_args().runs:
        one_run(run)


if __name__ == "__main__":
    main()
