"""JSON reports: one model's report exactly as INTERFACE.md fixes it, or a multi-model summary.

Keys are sorted and non-finite numbers become null, so the output is stable, diffable and strict
JSON. `schemas/report.schema.json` and `schemas/summary.schema.json` describe the two forms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from exporters.base import paired, utc_now
from policies.engine import PolicyResult
from scanner import __version__
from scanner.batch import exit_code
from scanner.errors import UsageError
from scanner.report import SCHEMA_VERSION, ModelOutcome, ScanReport

Form = Literal["auto", "single", "summary"]
SUMMARY_KIND = "bdscan-summary"


def write(
    outcomes: Sequence[ModelOutcome],
    fileobj: TextIO,
    *,
    policy_results: Sequence[PolicyResult | None] | None = None,
    form: Form = "auto",
    indent: int | None = 2,
) -> None:
    """Write the JSON report.

    `form="single"`: the one model's report (INTERFACE.md), with `policy` when a result is given;
    `"summary"`: every model under `models`, with counts and the run's exit code; `"auto"`: single
    when there is exactly one outcome and it has a report, else summary.
    """
    pairs = paired(outcomes, policy_results)
    if form == "auto":
        form = "single" if len(pairs) == 1 and pairs[0][0].report is not None else "summary"
    if form == "single":
        if len(pairs) != 1 or pairs[0][0].report is None:
            raise ValueError("the single-model JSON form needs exactly one scanned model")
        data = report_dict(pairs[0][0].report, pairs[0][1])  # type: ignore[arg-type]
    else:
        data = summary_dict(outcomes, [r for _, r in pairs])
    json.dump(_finite(data), fileobj, sort_keys=True, indent=indent, allow_nan=False)
    fileobj.write("\n")


def report_dict(report: ScanReport, result: PolicyResult | None = None) -> dict[str, Any]:
    """INTERFACE.md's report object; `policy` is the given result, else what the report carries."""
    data = report.to_dict()
    if result is not None:
        data["policy"] = result.to_dict()
    return data


def summary_dict(
    outcomes: Sequence[ModelOutcome], results: Sequence[PolicyResult | None]
) -> dict[str, Any]:
    models: list[dict[str, Any]] = []
    for outcome, result in zip(outcomes, results, strict=True):
        entry: dict[str, Any] = {"path": outcome.path, "cached": outcome.cached}
        if outcome.report is not None:
            # The decision sits beside the report, where it also sits for a model that errored.
            entry["report"] = report_dict(outcome.report)
            entry["report"].pop("policy", None)
        if outcome.error is not None:
            entry["error"] = {"message": outcome.error, "kind": outcome.error_kind}
        if result is not None:
            entry["policy"] = result.to_dict()
        models.append(entry)
    decided = [r for r in results if r is not None and r.decided]
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": SUMMARY_KIND,
        "tool": {"name": "bdscan", "version": __version__},
        "created": utc_now(),
        "summary": {
            "models": len(outcomes),
            "scanned": sum(o.report is not None for o in outcomes),
            "cached": sum(o.cached for o in outcomes),
            "errors": sum(o.report is None for o in outcomes),
            "infected": sum(
                o.report is not None and o.report.xray.verdict == "infected" for o in outcomes
            ),
            "shortcut": sum(
                o.report is not None and o.report.xray.verdict == "shortcut" for o in outcomes
            ),
            "policy_passed": sum(r.passed for r in decided),
            "policy_failed": sum(not r.passed for r in decided),
            "exit_code": int(exit_code(outcomes, results)),
        },
        "models": models,
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def read(path: str | Path) -> list[ModelOutcome]:
    """Outcomes from a saved JSON report of either form (for `bdscan policy check`).

    A saved decision comes back as the report's `policy`; raises UsageError naming the file when
    it is not a bdscan JSON report.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the report: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a JSON report: {exc}") from None
    try:
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        if data.get("kind") == SUMMARY_KIND:
            return [_read_entry(e) for e in data["models"]]
        report = ScanReport.from_dict(data)
        return [ModelOutcome(path=report.model.path, report=report)]
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UsageError(f"{path}: not a bdscan JSON report ({what})") from None


def _read_entry(entry: dict[str, Any]) -> ModelOutcome:
    report = None
    if "report" in entry:
        report = ScanReport.from_dict({**entry["report"], "policy": entry.get("policy")})
    error = entry.get("error") or {}
    return ModelOutcome(
        path=entry["path"],
        report=report,
        error=error.get("message"),
        error_kind=error.get("kind"),
        cached=bool(entry.get("cached", False)),
    )
