"""Report formats, one module each with one signature (`exporters.base.Writer`):
json_report, sarif, console, html; plus `plots` (PNG maps) and `atomic` (all-or-nothing files)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from exporters import console, html, json_report, sarif
from exporters.atomic import atomic_write, atomic_write_bytes
from exporters.base import Writer
from exporters.plots import write_plots
from policies.engine import PolicyResult
from scanner.report import ModelOutcome

FORMATS: dict[str, Writer] = {
    "json": json_report.write,
    "sarif": sarif.write,
    "html": html.write,
    "console": console.write,
}


def write_report(
    fmt: str,
    path: str | Path,
    outcomes: Sequence[ModelOutcome],
    *,
    policy_results: Sequence[PolicyResult | None] | None = None,
    **options: Any,
) -> None:
    """Write one report file atomically: `FORMATS[fmt]` into a temp file, then moved onto `path`."""
    writer: Any = FORMATS[fmt]
    with atomic_write(path) as f:
        writer(outcomes, f, policy_results=policy_results, **options)


def load_schema(name: str) -> dict[str, Any]:
    """A committed JSON Schema: `report`, `summary` or `sarif-2.1.0`."""
    file = "sarif-2.1.0-rtm.5.json" if name == "sarif-2.1.0" else f"{name}.schema.json"
    text = resources.files("exporters").joinpath("schemas", file).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


__all__ = [
    "FORMATS",
    "Writer",
    "atomic_write",
    "atomic_write_bytes",
    "console",
    "html",
    "json_report",
    "load_schema",
    "sarif",
    "write_plots",
    "write_report",
]
