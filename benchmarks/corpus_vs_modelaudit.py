"""bdscan and modelaudit on every case of the hostile-model corpus (tests/hostile_corpus), case by
case, as a markdown table with totals.

    python3 -m venv /tmp/ma-venv && /tmp/ma-venv/bin/pip install modelaudit onnx
    .venv/bin/python benchmarks/corpus_vs_modelaudit.py --modelaudit /tmp/ma-venv/bin/modelaudit

modelaudit stays in its own environment: it is never a dependency of bdscan. It gets `onnx`
beside it, without which it skips its ONNX analysis and says so (an "info" issue); with it, the
comparison is of what each tool does with an ONNX file, not of a missing package.

The expected outcome of a hostile case is "refused or flagged": the tool completes (no crash, no
hang) and says something is wrong. For a valid control case it is "completes and
passes". The two tools are judged by the same rule, read off what each documents:

- bdscan: exit 1 (findings) or 2/3 (refused: the file is unreadable or hostile, nothing to scan)
  is "refused or flagged"; exit 0 "passed". For a control, exit 0 or 1 counts as met: the scan
  completed and gave a verdict (with one plane of 5x5 cells a verdict on a valid model is noise).
  The table also says whether bdscan matched expected.json exactly (exit code and message). An
  exit 2 whose line names no file (bdscan's catch-all printing a bare exception) still refused
  the file: it counts as refused, with a note. A traceback, a hang or another exit code is a
  crash, never met.
- modelaudit, a static scanner: "flagged" when it exits non-zero (1: issues found, 2: errors
  while scanning) or reports any issue above "info"; "passed" when it exits 0 with at most info
  issues. A traceback in its log beside a JSON report and exit 2 is a handled error (noted, as
  for bdscan); no report, a hang (--timeout) or an exit code outside 0-2 is a crash, never met.
  For a control, met means "passed": a false alarm (or exit 2) on a valid model does not count.

A static scanner cannot see what only running the model shows (NaN outputs, a model that is not
a classifier); those rows are counted like the others but marked as needing execution.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "hostile_corpus"
# Only running the model reveals these: a static scanner is not expected to catch them.
NEEDS_EXECUTION = {"non-finite", "outputs"}
INFO_SEVERITIES = {"info", "debug"}


def load_make_corpus() -> ModuleType:
    """tests/ is not on sys.path for a script: load the corpus module by its path."""
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    code: int | None  # None: timed out
    output: str  # stdout and stderr
    seconds: float
    stdout: str = ""


def run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return Run(None, out, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    return Run(done.returncode, done.stdout + done.stderr, elapsed, done.stdout)


def bdscan_outcome(r: Run, names: tuple[str, ...]) -> tuple[str, str]:
    """(outcome, a note). `names`: the model and data paths, one of which an exit-2 line should
    name; bdscan's catch-all for its own bugs prints only the exception instead, which still
    refuses the file (as modelaudit's logged tracebacks do) and is noted."""
    if r.code is None:
        return "hang", ""
    if "Traceback" in r.output or r.code not in (0, 1, 2, 3, 4):
        return "crash", ""
    unnamed = r.code == 2 and not any(n in r.output for n in names)
    note = "no file named (internal error)" if "internal error" in r.output or unnamed else ""
    outcome = {0: "passed", 1: "flagged", 2: "refused", 3: "refused", 4: "usage error"}[r.code]
    return outcome, note


def modelaudit_outcome(r: Run) -> tuple[str, str, str]:
    """(outcome, a note, the most severe issue's message). A traceback in its log with a JSON
    report and a documented exit code is a handled error (noted), not a crash."""
    if r.code is None:
        return "hang", "", ""
    report: dict[str, Any] | None = None
    start = r.stdout.find("\n{") + 1 if not r.stdout.startswith("{") else 0
    if r.stdout.startswith("{") or start > 0:
        try:
            report = json.loads(r.stdout[start:])
        except ValueError:
            report = None
    if report is None or r.code not in (0, 1, 2):
        return "crash", "", ""
    note = "traceback logged" if "Traceback (most recent call last)" in r.output else ""
    issues: list[dict[str, Any]] = report.get("issues", [])
    serious = [i for i in issues if str(i.get("severity", "")).lower() not in INFO_SEVERITIES]
    first = (serious or issues or [{}])[0].get("message", "")
    if r.code == 2:
        return "error", note, first
    if r.code == 1 or serious:
        return "flagged", note, first
    return "passed", note, first


def met(case: dict[str, Any], outcome: str, tool: str) -> bool:
    if 0 in case["exit_codes"]:  # a valid control
        return outcome in ("passed", "flagged") if tool == "bdscan" else outcome == "passed"
    return outcome in ("flagged", "refused", "error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modelaudit", required=True, help="the modelaudit executable")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per tool per case")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--json", type=Path, help="also write every row as JSON here")
    args = parser.parse_args()

    make_corpus = load_make_corpus()
    expected = make_corpus.load_expected()
    with tempfile.TemporaryDirectory(prefix="bdscan-vs-modelaudit-") as tmp:
        root = make_corpus.copy_corpus(Path(tmp) / "corpus")
        env = dict(os.environ, BDSCAN_CACHE_DIR=str(Path(tmp) / "cache"))
        # modelaudit: its own HOME (cache, config), and its documented telemetry opt-outs.
        ma_env = dict(os.environ, HOME=str(Path(tmp) / "home"), NO_ANALYTICS="1",
                      PROMPTFOO_DISABLE_TELEMETRY="1")  # fmt: skip
        data = str(root / expected["data"])

        def one(case: dict[str, Any]) -> dict[str, Any]:
            path = str(root / case["path"])
            b = run(
                [sys.executable, "-m", "scanner", "scan", path, "--data", data,
                 *expected["scan_args"]],
                args.timeout, env,
            )  # fmt: skip
            m = run(
                [args.modelaudit, "scan", path, "--format", "json", "--no-cache",
                 "--timeout", str(int(args.timeout))],
                args.timeout + 30, ma_env,
            )  # fmt: skip
            b_out, b_note = bdscan_outcome(b, (path, data))
            m_out, m_note, m_msg = modelaudit_outcome(m)
            exact = b.code in case["exit_codes"] and (
                not case["message"] or case["message"].lower() in b.output.lower()
            )
            b_line = next((ln for ln in b.output.splitlines() if ln.strip()), "")
            return {
                "case": case["name"],
                "category": case["category"],
                "control": 0 in case["exit_codes"],
                "bdscan": b_out,
                "bdscan_note": b_note,
                "bdscan_exit": b.code,
                "bdscan_line": b_line[:300],
                "bdscan_exact": exact,
                "bdscan_met": met(case, b_out, "bdscan"),
                "modelaudit": m_out,
                "modelaudit_note": m_note,
                "modelaudit_exit": m.code,
                "modelaudit_issue": m_msg[:300],
                "modelaudit_met": met(case, m_out, "modelaudit"),
                "seconds": [round(b.seconds, 2), round(m.seconds, 2)],
            }

        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(one, expected["cases"]))
        seconds = time.perf_counter() - started

    text = markdown(rows, seconds)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _yn(value: bool) -> str:
    return "yes" if value else "**no**"


def markdown(rows: list[dict[str, Any]], seconds: float) -> str:
    head = ["case", "category", "bdscan", "modelaudit", "bdscan met", "modelaudit met"]
    lines = [
        "| " + " | ".join([*head, "bdscan = expected.json"]) + " |",
        "|" + "---|" * (len(head) + 1),
    ]
    for r in rows:
        cat = r["category"] + (" (needs execution)" if r["category"] in NEEDS_EXECUTION else "")
        lines.append(
            f"| {r['case']} | {cat} | {_said(r, 'bdscan')} | {_said(r, 'modelaudit')} |"
            f" {_yn(r['bdscan_met'])} |"
            f" {_yn(r['modelaudit_met'])} | {_yn(r['bdscan_exact'])} |"
        )
    hostile = [r for r in rows if not r["control"]]
    controls = [r for r in rows if r["control"]]
    static = [r for r in hostile if r["category"] not in NEEDS_EXECUTION]

    def total(subset: list[dict[str, Any]], key: str) -> str:
        return f"{sum(r[key] for r in subset)}/{len(subset)}"

    lines += [
        "",
        "| totals | bdscan | modelaudit |",
        "|---|---|---|",
        f"| hostile cases refused or flagged | {total(hostile, 'bdscan_met')} |"
        f" {total(hostile, 'modelaudit_met')} |",
        f"| ... of them, those a static scanner can see | {total(static, 'bdscan_met')} |"
        f" {total(static, 'modelaudit_met')} |",
        f"| valid controls completed (bdscan) / passed (modelaudit) |"
        f" {total(controls, 'bdscan_met')} | {total(controls, 'modelaudit_met')} |",
        f"| crashes or hangs | {_bad(rows, 'bdscan')} | {_bad(rows, 'modelaudit')} |",
        f"| refused with an unexplained exception (bdscan: no file named; modelaudit:"
        f" traceback logged) | {_noted(rows, 'bdscan')} | {_noted(rows, 'modelaudit')} |",
        f"| bdscan exactly as expected.json (exit code and message) |"
        f" {total(rows, 'bdscan_exact')} | - |",
    ]
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in hostile:
        by_cat[r["category"]].append(r)
    lines += ["", "| category (hostile cases) | bdscan met | modelaudit met |", "|---|---|---|"]
    for cat, subset in sorted(by_cat.items()):
        lines.append(
            f"| {cat} | {total(subset, 'bdscan_met')} | {total(subset, 'modelaudit_met')} |"
        )
    counts = Counter(r["modelaudit"] for r in rows)
    lines += [
        "",
        f"modelaudit outcomes: {dict(counts)}; {len(rows)} cases in {seconds:.0f} s.",
        "Criterion: hostile case met = the tool completed and refused or flagged it (bdscan exit"
        " 1/2/3; modelaudit exit 1/2 with its JSON report, or an issue above info), an"
        " unexplained exception counting as refused for both; control met = bdscan completed a"
        " scan (exit 0/1), modelaudit passed it (exit 0, info issues at most).",
    ]
    return "\n".join(lines) + "\n"


def _said(r: dict[str, Any], tool: str) -> str:
    note = f"; {r[tool + '_note']}" if r[tool + "_note"] else ""
    return f"{r[tool]} (exit {r[tool + '_exit']}{note})"


def _bad(rows: list[dict[str, Any]], tool: str) -> int:
    return sum(r[tool] in ("crash", "hang") for r in rows)


def _noted(rows: list[dict[str, Any]], tool: str) -> int:
    return sum(bool(r[tool + "_note"]) for r in rows)


if __name__ == "__main__":
    raise SystemExit(main())
