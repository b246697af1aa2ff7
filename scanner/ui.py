"""Terminal output: a progress bar on stderr while querying, and the verdict summary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner.pipeline import PlaneProgress
from scanner.report import ScanReport

if TYPE_CHECKING:
    from scanner.app.remediation import RemediateRun
    from scanner.app.scan import BaselineScan
    from scanner.detectors.datacheck import DataCheck
    from scanner.detectors.evidence import Trace


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


def baseline_notice(scan: BaselineScan, *, quiet: bool) -> None:
    """What the trusted baseline's own scan found (`--baseline`), before the models are scanned."""
    if scan.flagged:
        # Its shortcuts are set aside from every model scanned against it, a backdoor included.
        click.echo(
            f"bdscan: warning: the baseline {scan.path} is itself flagged (score {scan.score:.2f});"
            " a backdoor it shares with the model would be set aside too",
            err=True,
        )
    if not quiet:
        base = scan.baseline
        sinks = ", ".join(str(t) for t in base.sinks) or "none"
        strong = ", ".join(str(t) for t in base.sinks_strong) or "none"
        click.echo(
            f"baseline {scan.path.name}: own sinks {sinks} (strong probes: {strong})", err=True
        )


def trace_line(t: Trace) -> str:
    """The verdict's trace on one line: each test's figure against its threshold (and whether
    that threshold was fitted, hand-set or from a rule file), then the attribution read."""
    parts = [
        f"{r.test} {'-' if r.value is None else f'{r.value:.2f}'}"
        f" {'>=' if r.fired else '<'} {r.threshold_value:g} ({r.threshold_kind})"
        for r in t.tests
    ]
    line = ", ".join(parts)
    if t.attribution is not None:
        a = t.attribution
        line += (
            f"; attribution: label {a.label} keeps {a.retention:.0%} of its pull at half"
            f" strength ({'natural' if a.natural else 'planted'}: the bar is"
            f" {a.retention_max:.0%}, {a.threshold_kind})"
        )
    return line


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
        shown = report.model.label(x.evidence.shortcut_label)
        target = f"universal shortcut to {shown}, not attributed"
    else:
        head = click.style("clean", fg="green", bold=True)
        target = "no target"
    click.echo(f"{report.model.path}: {head}  score {x.score:.2f}  {target}")
    click.echo(f"  {x.target_note}")
    if x.evidence.trace is not None:
        click.echo(f"  tests: {trace_line(x.evidence.trace)}")
    if (check := x.evidence.data_check) is not None:
        said = "; the verdict rests on it" if check.attributed else ""
        click.echo(f"  training data (--train-data): {check.note}{said}")
    example = x.evidence.example
    if example is not None and example.per_class:
        shares = sorted(r for _, r in example.per_class)
        moved = ", ".join(f"{s['true']}->{s['after']}" for s in example.samples)
        click.echo(
            f"  evidence: the deciding trigger sends {shares[0]:.0%}-{shares[-1]:.0%} of each"
            f" class to {report.model.label(example.label)} on fresh samples (shown:"
            f" {moved}; images in --html)"
        )
    click.echo(
        f"  published X-ray metrics: RE mean {x.re_mean:.3f}, ATS mean {x.ats_mean:.3f}"
        f" | {len(x.planes)} planes, {x.queries:,} queries, {x.seconds:.1f} s,"
        f" {report.model.provider}"
    )
    plan = x.evidence.plan
    if plan is not None and plan.budget:
        click.echo(
            f"  query budget {plan.budget:,} (spent {x.queries:,}); a reduced scan,"
            f" it gave up: {plan.gave_up_text()}"
        )
    covered = report.data.classes_covered
    if covered and len(covered) < report.model.num_classes:
        click.echo(
            f"  the data covers {len(covered)} of the model's {report.model.num_classes} classes:"
            " any label can be named as the target, but only these classes' samples were moved"
        )
    if report.model.control_flow:
        click.echo(f"  control flow in the graph (bounded): {', '.join(report.model.control_flow)}")


def print_remediation(run: RemediateRun, out: Path) -> None:
    """What `bdscan remediate` prints on stdout (warnings on stderr)."""
    report = run.report
    acc = (
        f"held-out accuracy {report.accuracy_before:.3f} -> {report.accuracy_after:.3f}"
        if report.accuracy_before is not None and report.accuracy_after is not None
        else "no held-out accuracy"
    )
    # On a held-out split of the training data the suspected class holds the poison under
    # the attacker's label: judge a drop by the accuracy outside it (`accuracy_outside`).
    outside = report.accuracy_outside_suspects
    drop_before, drop_after = report.accuracy_before, report.accuracy_after
    if outside is not None:
        names = ",".join(str(v) for v in outside.labels)
        acc += f" (outside suspected class {names}: {outside.before:.3f} -> {outside.after:.3f})"
        drop_before, drop_after = outside.before, outside.after
    notes = report.extra
    # Clean-data-only mode: which unlearning ran ("shortcut" or the "universal" fallback).
    how = notes.clean_unlearning
    mode = f"{report.mode}, {how}" if how else report.mode
    click.echo(
        f"{out}: {report.method} ({mode}), {len(report.flagged)} samples"
        f" flagged, {acc}, {report.seconds:.1f} s"
    )
    if report.rescan is not None and report.rescan.used_as_prior:
        before_scan = report.rescan.before
        n_probes = 0 if notes.trigger_prior is None else len(notes.trigger_prior.probes)
        if before_scan.verdict != "infected":
            said = before_scan.verdict
        elif before_scan.target_label is None:
            said = "infected, no single target"
        else:
            said = f"infected, target {before_scan.target_label}"
        click.echo(
            f"  no --scan-report: X-ray's scan before the repair ({said},"
            f" {n_probes} trigger-like probes) was BURN's prior"
        )
    check = notes.data_check
    read = notes.trigger_prior.verdict if notes.trigger_prior is not None else None
    for line in data_check_lines(check, read):
        click.echo(line)
    if check is None and (
        report.method == "burn"
        and report.holdout_source.startswith("train-data")
        and notes.trigger_prior is not None
        and notes.trigger_prior.verdict in ("shortcut", "clean", "infected")
    ):
        click.echo(
            "  hint: with --clean-data (correctly labelled samples of every class) the training"
            " data would confirm or correct the target (docs/remediation-guide.md, step 5)"
        )
    found, corrected = notes.self_prior, notes.target_correction
    if corrected is not None and corrected.by == "counts":
        click.echo(
            f"  target corrected: the prior named {corrected.given}, but its scan also found a"
            f" trigger to {corrected.found}, the one label with more training samples than the"
            f" others (a dirty-label target's); it repaired {corrected.found}"
        )
    elif corrected is not None:
        click.echo(
            f"  target corrected: the prior named {corrected.given}, BURN's own check"
            f" found {corrected.found} (a universal {corrected.by}); it repaired"
            f" {corrected.found}"
        )
    elif found is not None and found.target is not None:
        how = f"a universal {found.by}"
        win = found.window
        if win is not None:
            how = f"a {win.size}x{win.size} patch window at row {win.row}, col {win.col}"
        click.echo(
            f"  no target given: BURN's own check found target {found.target}"
            f" ({how}) and unlearned it"
        )
    elif notes.target_source == "mixture":
        click.echo(
            f"  no target given or found: BURN's boundary mixture singled out class"
            f" {report.target_label}, which holds more samples than the others, and repaired"
            f" it (were the classes unbalanced to begin with, pass --scan-report or"
            f" --target-label instead)"
        )
    if drop_before is not None and drop_after is not None and drop_after < drop_before - 0.02:
        # Without a target prior BURN can suspect a class of a clean model and pay for it;
        # from a few clean samples alone, every method loses accuracy (fine-tuning too).
        hint = (
            f" on {report.n_holdout} held-out samples; more clean samples lose less"
            if report.mode == "clean-only"
            else "; check the flagged classes (`classes` in --json)"
        )
        if report.mode != "clean-only" and notes.target_source != "scan-report":
            hint += " or pass X-ray's report (--scan-report)"
        click.echo(
            f"  warning: held-out accuracy fell by {drop_before - drop_after:.1%}"
            f"{' outside the suspected classes' if outside is not None else ''}{hint}",
            err=True,
        )
    if report.rescan is not None:
        b, a = report.rescan.before, report.rescan.after
        click.echo(
            f"  X-ray before: {b.verdict} (score {b.score:.2f}); after:"
            f" {a.verdict} (score {a.score:.2f})"
        )
        residual = report.rescan.residual
        if residual is not None:
            strongest = residual.strongest
            hold = 0.0 if strongest is None else strongest.after
            click.echo(
                f"  {len(residual.checks)} triggers (the scan's, the training data's) re-measured"
                " on the repaired model:"
                f" the strongest still holds {hold:.1%} of its samples"
                f" ({'left' if residual.left else 'under'} the {residual.bar:.0%} bar)"
            )
    repairs = notes.repair_rounds
    if len(repairs) > 1:
        steps = "; ".join(
            f"round {i + 1}: target {r.repaired_target}, then"
            + (
                " not re-scanned"
                if r.after is None
                else f" {r.after.verdict} ({r.after.score:.2f})"
            )
            + (", undone: an earlier round's target came back" if r.undone else "")
            for i, r in enumerate(repairs)
        )
        click.echo(f"  {len(repairs)} repair rounds (the re-scan still found a trigger): {steps}")


def data_check_lines(check: DataCheck | None, read: str | None) -> list[str]:
    """What `bdscan remediate` prints about the training data's check (`datacheck`): where it
    aimed the repair or why not, and whether the named class's pattern was unlearned. `read`:
    the scan report's verdict."""
    if check is None:
        return []
    lines = []
    reach = ", ".join(str(v) for v in check.reached)
    if check.aimed:
        said = (
            f"the scan read {read or 'no target'}"
            if check.overruled is None
            else f"the scan named target {check.overruled}"
        )
        how = (
            f"the scan's findings reach {reach}"
            if check.label in check.reached
            else f"the scan's findings reach {reach or 'no label'}, its"
            f" {'stamp' if check.stamp is not None else 'blend' if check.blend else 'pattern'}"
            f" reaches {check.label}"
        )
        lines.append(
            f"  aimed by the training data ({said}): {check.note}; {how}; it repaired {check.label}"
        )
    else:
        if check.label is None:
            why = ": the target was not changed"
        elif (
            check.label in check.reached
            or check.pattern_amp
            or check.sine_amp
            or check.stamp
            or check.blend
        ):
            why = ": it is the scan's target"
        else:
            why = (
                f"; neither the scan's findings nor its stamp or pattern reach {check.label}:"
                " the target was not changed"
            )
        lines.append(f"  training data check: {check.note}{why}")
    if check.pattern_terms and check.pattern_amp is not None:
        lines.append(
            f"  the training data's pattern of class {check.label} ({check.pattern_terms}"
            f" spatial frequencies) sends {check.pattern_rate or 0:.0%} of other classes' clean"
            f" samples there at amplitude {check.pattern_amp}: unlearned as a trigger"
        )
    elif check.pattern_terms:
        lines.append(
            f"  the training data's pattern of class {check.label} sends at most"
            f" {check.pattern_rate or 0:.0%} of other classes' clean samples there: not"
            " unlearned"
        )
    if check.sine_amp is not None:
        lines.append(
            f"  its nearest plane sine (correlation {check.sine_fit or 0:.2f}) sends"
            f" {check.sine_rate or 0:.0%} there at amplitude {check.sine_amp}: unlearned too"
        )
    if check.stamp_pixels and check.stamp_rate is not None:
        fired = check.stamp is not None
        lines.append(
            f"  the training data's stamp of class {check.label} ({check.stamp_pixels} pixels,"
            f" {check.stamp_mix or 0:.0%} of its samples from other classes) sends"
            f" {check.stamp_rate:.0%} of other classes' clean samples there:"
            f" {'unlearned as a trigger' if fired else 'not unlearned'}"
        )
    if check.blend_amp is not None and check.blend_rate is None:
        lines.append(
            f"  the training data's change of class {check.label} reads up to"
            f" {check.blend_amp:.2f}, more than a blend can make: not read as one"
        )
    if check.blend_amp is not None and check.blend_rate is not None:
        lines.append(
            f"  the training data's blend of class {check.label} (a change over"
            f" {check.stamp_pixels} pixels, up to {check.blend_amp:.2f}) sends"
            f" {check.blend_rate:.0%} of other classes' clean samples there:"
            f" {'unlearned as a trigger' if check.blend else 'not unlearned'}"
        )
    return lines
