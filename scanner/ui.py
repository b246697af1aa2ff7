"""Terminal output: a progress bar on stderr while querying, and the verdict summary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from scanner.pipeline import PlaneProgress
from scanner.report import ScanReport


@contextlib.contextmanager
def plane_progress(*, enabled: bool, label: str) -> Iterator[PlaneProgress | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("planes · {task.fields[queries]:,} queries"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"X-ray {label}", total=None, queries=0)

        def update(done: int, total: int, queries: int) -> None:
            bar.update(task, completed=done, total=total, queries=queries)

        yield update


def print_summary(report: ScanReport) -> None:
    x = report.xray
    if x.verdict == "infected":
        head = click.style("INFECTED", fg="red", bold=True)
        target = (
            "no single target"
            if x.target_label is None
            else f"suspected target {report.model.label(x.target_label)}"
        )
    elif x.verdict == "shortcut":
        head = click.style("SHORTCUT", fg="yellow", bold=True)
        label = x.evidence.get("shortcut_label")
        shown = report.model.label(label) if isinstance(label, int) else f"label {label}"
        target = f"universal shortcut to {shown}, not attributed"
    else:
        head = click.style("clean", fg="green", bold=True)
        target = "no target"
    click.echo(f"{report.model.path}: {head}  score {x.score:.2f}  {target}")
    click.echo(f"  {x.target_note}")
    example = x.evidence.get("example")
    if isinstance(example, dict) and example.get("per_class"):
        shares = sorted(float(r) for _, r in example["per_class"])
        moved = ", ".join(f"{s['true']}->{s['after']}" for s in example.get("samples") or [])
        click.echo(
            f"  evidence: the deciding trigger sends {shares[0]:.0%}-{shares[-1]:.0%} of each"
            f" class to {report.model.label(int(example['label']))} on fresh samples (shown:"
            f" {moved}; images in"
            " --html)"
        )
    click.echo(
        f"  published X-ray metrics: RE mean {x.re_mean:.3f}, ATS mean {x.ats_mean:.3f}"
        f" | {len(x.planes)} planes, {x.queries:,} queries, {x.seconds:.1f} s,"
        f" {report.model.provider}"
    )
    covered = report.data.get("classes_covered") or []
    if covered and len(covered) < report.model.num_classes:
        click.echo(
            f"  the data covers {len(covered)} of the model's {report.model.num_classes} classes:"
            " any label can be named as the target, but only these classes' samples were moved"
        )
    if report.model.control_flow:
        click.echo(f"  control flow in the graph (bounded): {', '.join(report.model.control_flow)}")
