"""Research tool: finished `bdscan bench xray` runs re-decided by the verdict code of this
checkout, from their saved reports; nothing is rescanned.

A change to the verdict's rule that measures nothing new is judged on old scans this way. The
tool says when it is not enough: a report that lacks the dose-response of a finding this
checkout would measure (`attribution_candidates`) is listed as "rescan"; its re-decided verdict
is then only what the old measurements allow.

    python benchmarks/xray_redecide.py bench-out/n22-fresh22-s0 bench-out/n22-fresh22-s1 ...
    # with a rule field changed from the one each report was decided with (repeatable):
    python benchmarks/xray_redecide.py --set grating_cost_max=0 bench-out/af31-fresh31-s0
    # with search findings added to each report's (benchmarks/grating_search.py --json at the
    # run's seed: the samples the scan's own search stage draws, so the findings it would add):
    python benchmarks/xray_redecide.py --add-search grating-s0.jsonl bench-out/n22-fresh22-s0

Prints, per run and pooled over every run given, the AUROC of the score (all-to-one against
clean), the right target among the all-to-one models, clean models called infected and
shortcut, all-to-all models called "infected, no single target"; then every model whose
verdict or target moved against the saved row.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bdscan_lab.bench.metrics import auroc
from scanner.detectors.evidence import Evidence
from scanner.detectors.search import SearchFinding, SearchResult
from scanner.detectors.verdict import attribution_candidates, decide
from scanner.report import PlaneResult


def saved_rows(run: Path) -> list[dict[str, Any]]:
    """The run's rows: rows/*.json (written per model), else results.json."""
    files = sorted((run / "rows").glob("*.json"))
    if files:
        return [json.loads(f.read_text()) for f in files]
    return list(json.loads((run / "results.json").read_text())["rows"])


def with_findings(search: SearchResult | None, added: list[dict[str, Any]]) -> SearchResult | None:
    """`search` with the findings `added` (SearchFinding dicts) among its own."""
    if not added:
        return search
    extra = tuple(SearchFinding.from_dict(f) for f in added)
    if search is None:
        return SearchResult(extra, (), 0, 0, 0)
    found = sorted((*search.findings, *extra), key=lambda f: (-f.universality, f.cost))
    return replace(search, findings=tuple(found))


def redecide(
    run: Path,
    changes: dict[str, float] | None = None,
    added: dict[str, list[dict[str, Any]]] | None = None,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(re-decided rows, moves, models whose report lacks a candidate's dose-response).
    `changes`: rule fields set over each report's own rule; `added`: search findings per model
    name, added to its report's."""
    out, moves, rescan = [], [], []
    for row in saved_rows(run):
        doc = json.loads((run / "reports" / f"{row['name']}.json").read_text())
        xray = doc["xray"]
        ev = Evidence.from_dict(xray["evidence"])
        probes = ev.probe_result()
        planes = tuple(PlaneResult.from_dict(p) for p in xray["planes"])
        measured = {(a.probe, a.label) for a in ev.attribution}
        rule = replace(ev.rule, **(changes or {}))
        if any(c not in measured for c in attribution_candidates(probes, rule)):
            rescan.append(row["name"])
        search = with_findings(ev.search, (added or {}).get(row["name"], []))
        d = decide(probes, planes, doc["model"]["num_classes"], rule, ev.attribution, search)
        new = {**row, "verdict": d.verdict, "score": d.score, "found_target": d.target_label}
        if (row["verdict"], row["found_target"]) != (d.verdict, d.target_label):
            moves.append(
                f"{run.name} {row['name']} ({row['attack']}, target {row['target']}):"
                f" {row['verdict']} {row['found_target']} {row['score']:.2f} ->"
                f" {d.verdict} {d.target_label} {d.score:.2f}"
            )
        out.append(new)
    return out, moves, rescan


def summary(rows: list[dict[str, Any]]) -> str:
    one = [r for r in rows if r["attack"] != "clean" and not r["all_to_all"]]
    a2a = [r for r in rows if r["all_to_all"]]
    clean = [r for r in rows if r["attack"] == "clean"]
    pair = one + clean
    score = auroc([r["score"] for r in pair], [r["attack"] != "clean" for r in pair])
    right = sum(r["verdict"] == "infected" and r["found_target"] == r["target"] for r in one)
    flagged = sum(r["verdict"] == "infected" for r in clean)
    shortcut = sum(r["verdict"] == "shortcut" for r in clean)
    spread = sum(r["verdict"] == "infected" and r["found_target"] is None for r in a2a)
    return (
        f"{len(rows)} models: AUROC {score:.3f}, right target {right}/{len(one)}, clean infected"
        f" {flagged}/{len(clean)}, clean shortcut {shortcut}, all-to-all no single target"
        f" {spread}/{len(a2a)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="--out folders of bench xray runs")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a rule field changed for every report (repeatable)")  # fmt: skip
    ap.add_argument("--add-search", type=Path, action="append", default=[], metavar="JSONL",
                    help="rows of benchmarks/grating_search.py whose findings join each"
                    " model's report (repeatable)")  # fmt: skip
    args = ap.parse_args()
    changes = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    added: dict[str, list[dict[str, Any]]] = {}
    for path in args.add_search:
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                added.setdefault(r["name"], []).extend(r["findings"])
    pooled: list[dict[str, Any]] = []
    all_moves: list[str] = []
    for run in args.runs:
        rows, moves, rescan = redecide(run, changes, added)
        pooled += rows
        all_moves += moves
        line = f"{run}: {summary(rows)}"
        if rescan:
            line += f"; rescan (a candidate's curve is missing): {', '.join(rescan)}"
        print(line)
    if len(args.runs) > 1:
        print(f"pooled: {summary(pooled)}")
    print(f"{len(all_moves)} verdicts moved against the saved rows")
    for m in all_moves:
        print(f"  {m}")


if __name__ == "__main__":
    main()
