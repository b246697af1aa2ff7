"""The terminal summary: one rich table row per model, then a one-line tally; and a progress bar
across the models of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from exporters.base import display_path, paired
from policies.engine import PolicyResult
from scanner.report import ModelOutcome

_DISPOSITION_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "block": "bold red",
    "require-remediation": "bold red",
    "undecided": "magenta",
}


def write(
    outcomes: Sequence[ModelOutcome],
    fileobj: TextIO,
    *,
    policy_results: Sequence[PolicyResult | None] | None = None,
    color: bool | None = None,
    width: int | None = None,
) -> None:
    """Print the summary table. `color=None` lets rich decide from `fileobj` (a terminal or not);
    `width=None` uses the terminal's width, or 120 columns for a file."""
    console = Console(
        file=fileobj,
        force_terminal=color,
        no_color=color is False,
        width=width or (None if fileobj.isatty() else 120),
        highlight=False,
    )
    pairs = paired(outcomes, policy_results)
    table = Table(title="bdscan summary", title_justify="left", expand=False)
    table.add_column("Model", overflow="fold")
    table.add_column("Verdict")
    table.add_column("Score", justify="right")
    table.add_column("Target", justify="right")
    table.add_column("Policy")
    table.add_column("Findings / error", overflow="fold")
    for outcome, result in pairs:
        table.add_row(*_row(outcome, result))
    console.print(table)
    console.print(_tally(pairs))


VERDICT_STYLES = {"infected": "bold red", "shortcut": "yellow", "clean": "green"}


def _row(outcome: ModelOutcome, result: PolicyResult | None) -> list[Text | str]:
    # Text, not str: rich would read "[...]" in a file name or message as markup.
    name = Text(display_path(outcome.path) + (" (cached)" if outcome.cached else ""))
    policy = _policy_cell(result)
    if outcome.report is None:
        error = f"{outcome.error_kind}: {outcome.error}" if outcome.error_kind else outcome.error
        return [name, Text("error", "magenta"), "-", "-", policy, Text(error or "", "magenta")]
    xray = outcome.report.xray
    verdict = Text(xray.verdict, VERDICT_STYLES.get(xray.verdict, "green"))
    target = "-" if xray.target_label is None else str(xray.target_label)
    return [name, verdict, f"{xray.score:.3f}", target, policy, _findings_cell(result)]


def _policy_cell(result: PolicyResult | None) -> Text:
    if result is None:
        return Text("-")
    word = result.disposition
    text = Text(f"{result.name}: ")
    text.append("passed" if result.passed else word, _DISPOSITION_STYLE[word])
    if result.passed and word == "warn":
        text.append(" (warnings)", "yellow")
    return text


def _findings_cell(result: PolicyResult | None) -> Text:
    if result is None:
        return Text("")
    text = Text()
    for finding in result.findings:
        style = "red" if finding in result.violations else "yellow"
        if text:
            text.append("\n")
        text.append(f"{finding.rule_id} {finding.severity.name}", style)
        text.append(f" {finding.message}")
    if result.allowlist is not None:
        if text:
            text.append("\n")
        entry = result.allowlist.entry
        style = "cyan" if result.allowlist.status == "applied" else "yellow"
        label = "allow-listed" if result.allowlist.status == "applied" else "allow-list EXPIRED"
        text.append(f"{label} (until {entry.expires}): {entry.reason}", style)
    return text


def _tally(pairs: list[tuple[ModelOutcome, PolicyResult | None]]) -> Text:
    total = len(pairs)
    errors = sum(o.report is None for o, _ in pairs)
    cached = sum(o.cached for o, _ in pairs)
    infected = sum(o.report is not None and o.report.xray.verdict == "infected" for o, _ in pairs)
    shortcut = sum(o.report is not None and o.report.xray.verdict == "shortcut" for o, _ in pairs)
    decided = [r for _, r in pairs if r is not None and r.decided]
    parts = [f"{total} model{'s' if total != 1 else ''}", f"{infected} infected"]
    if shortcut:
        parts.append(f"{shortcut} with a shortcut")
    if decided:
        failed = sum(not r.passed for r in decided)
        parts.append(f"{len(decided) - failed} passed policy, {failed} failed")
    parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if cached:
        parts.append(f"{cached} from cache")
    return Text(", ".join(parts))


class RichBatchProgress:
    """A `scanner.batch.BatchProgress` drawn as a rich progress bar (on stderr by default).

    Use as a context manager around `scan_models(..., progress=bar)`.
    """

    def __init__(self, console: Console | None = None, *, disable: bool = False) -> None:
        self._progress = Progress(
            TextColumn("[bold]scanning[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console or Console(stderr=True),
            disable=disable,
            transient=False,
        )
        self._task = self._progress.add_task("", total=None)

    def __enter__(self) -> RichBatchProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def model_started(self, index: int, total: int, path: Path) -> None:
        self._progress.update(
            self._task, total=total, completed=index, description=Path(str(path)).name
        )

    def model_finished(self, index: int, total: int, outcome: ModelOutcome) -> None:
        self._progress.update(self._task, completed=index + 1)
