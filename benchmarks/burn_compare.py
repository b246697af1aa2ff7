"""Research tool: `bench_burn.py --json` runs side by side, one row per model.

For each model that every run repaired: ASR before, then per run the ASR after, the clean
accuracy change in points, RA, whether it meets the remediation bar (`bench_burn.meets_bar`),
and each round's aim and re-scan (the label a round repaired, the verdict after it). Then, per
run, how many models meet the bar and on how many its ASR after is the lowest of the runs. The
runs must come from the same models and scan reports for the comparison to mean anything (the
same `--zoo`, `--scan-reports` and seed, a `--burn-set` or code change apart).

    python benchmarks/burn_compare.py unaimed=bench-out/burn-nosc-fresh49.json \\
        aimed=bench-out/burn-ra-fresh49.json [NAME=FILE ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench_burn import meets_bar


def _rounds(r: dict[str, Any]) -> str:
    """Each round as `aim -> re-scan`: the label it repaired, what the re-scan read after it."""
    steps = []
    for x in r.get("repair_rounds") or []:
        after = x.get("after") or {}
        verdict = after.get("verdict")
        label = after.get("shortcut_label") if verdict == "shortcut" else after.get("target_label")
        seen = f"{verdict}{'' if label is None else f' {label}'}"
        steps.append(f"{x.get('repaired_target')}->{seen}{' (undone)' if x.get('undone') else ''}")
    return ", ".join(steps)


def _cell(r: dict[str, Any]) -> str:
    b, a = r["before"], r["after"]
    bar = " BAR" if meets_bar(r) else ""
    return f"{a['asr']:.3f} {(a['acc'] - b['acc']) * 100:+.1f} RA {a['ra']:.2f}{bar} [{_rounds(r)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=FILE")
    args = parser.parse_args()
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for item in args.runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=FILE, got {item!r}")
        runs[name] = {r["model"]: r for r in json.loads(Path(path).read_text())}
    models = sorted(set.intersection(*(set(rows) for rows in runs.values())))
    if not models:
        raise SystemExit("no model is in every run")
    print("| model | ASR before | " + " | ".join(runs) + " |")
    print("|---" * (len(runs) + 2) + "|")
    lowest = dict.fromkeys(runs, 0)
    for model in models:
        rows = {name: rs[model] for name, rs in runs.items()}
        best = min(r["after"]["asr"] for r in rows.values())
        for name, r in rows.items():
            lowest[name] += r["after"]["asr"] == best
        before = next(iter(rows.values()))["before"]["asr"]
        print(f"| {model} | {before:.3f} | " + " | ".join(_cell(r) for r in rows.values()) + " |")
    print()
    for name, rs in runs.items():
        bar = sum(meets_bar(rs[m]) for m in models)
        print(f"{name}: at the bar {bar} of {len(models)}, lowest ASR on {lowest[name]}")


if __name__ == "__main__":
    main()
