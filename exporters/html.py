"""A self-contained HTML report: per model its verdict, findings and one decision-region map per
plane, every image inline as a base64 PNG; a Content-Security-Policy forbids anything remote."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import TextIO

from exporters.base import display_path, paired, utc_now
from exporters.plots import anchor_cells, hex_colour, png_bytes, render_plane
from policies.engine import PolicyResult
from scanner import __version__
from scanner.detectors.datacheck import DataCheck
from scanner.detectors.evidence import PlanRecord
from scanner.report import ModelInfo, ModelOutcome, PlaneResult, ScanReport

# No network at all: images are data: URIs and the style sheet is inline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1b1b1b;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2.5em; word-break: break-all; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.badge { display: inline-block; padding: .05em .55em; border-radius: .8em; color: #fff;
         font-weight: 600; }
.infected, .block, .require-remediation { background: #c62828; }
.clean, .pass { background: #2e7d32; } .warn, .shortcut { background: #ef6c00; }
.error, .undecided { background: #6a1b9a; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
.legend span.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: -.15em;
                      border: 1px solid #555; margin-right: .3em; }
.legend li { display: inline-block; margin-right: 1.2em; }
.legend ul { padding: 0; } .legend .target { font-weight: 700; }
.legend .target span.swatch { border: 3px solid #000; }
.planes { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: .5em; }
figcaption { font-size: .85em; max-width: 320px; }
img { image-rendering: pixelated; display: block; }
.note { color: #555; font-size: .9em; }
.evidence { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.evidence img { width: 96px; height: auto; border: 1px solid #999; }
.pair { display: flex; gap: .3em; }
.bars td.bar { width: 180px; } .bars div { background: #c62828; height: .8em; }
"""


def write(
    outcomes: Sequence[ModelOutcome],
    fileobj: TextIO,
    *,
    policy_results: Sequence[PolicyResult | None] | None = None,
    title: str = "bdscan report",
) -> None:
    """Write the whole page to `fileobj`."""
    pairs = paired(outcomes, policy_results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">bdscan {escape(__version__)}, written {escape(utc_now())}. '
        "Each map is one plane through three clean samples (the anchors, numbered); every cell "
        "is coloured by the label the model gives that point. A backdoor target shows as one "
        "label swallowing the plane.</p>",
        _summary_table(pairs),
    ]
    for index, (outcome, result) in enumerate(pairs):
        parts.append(_model_section(index, outcome, result))
    parts.append("</body></html>\n")
    fileobj.write("\n".join(parts))


def _badge(word: str, css: str | None = None) -> str:
    return f'<span class="badge {escape(css or word)}">{escape(word)}</span>'


def _policy_badge(result: PolicyResult | None) -> str:
    if result is None:
        return "-"
    word = "passed" if result.passed and result.disposition == "pass" else result.disposition
    return f"{escape(result.name)}: {_badge(word, result.disposition)}"


def _summary_table(pairs: list[tuple[ModelOutcome, PolicyResult | None]]) -> str:
    rows = []
    for index, (outcome, result) in enumerate(pairs):
        link = f'<a href="#model-{index}">{escape(display_path(outcome.path))}</a>'
        if outcome.report is None:
            cells = [_badge("error"), "-", "-", _policy_badge(result), escape(outcome.error or "")]
        else:
            x = outcome.report.xray
            target = (
                "-"
                if x.target_label is None
                else escape(outcome.report.model.label(x.target_label).removeprefix("label "))
            )
            cells = [_badge(x.verdict), f"{x.score:.3f}", target, _policy_badge(result), ""]
        rows.append("<tr><td>" + "</td><td>".join([link, *cells]) + "</td></tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("Model", "Verdict", "Score", "Target", "Policy", "Error")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _data_line(check: DataCheck) -> str:
    """The training data's check (`--train-data`) in one line."""
    said = "; the verdict rests on it" if check.attributed else ""
    if check.overruled is not None:
        said += f" (it overruled target {check.overruled})"
    return f"{check.note}{said}"


def _model_section(index: int, outcome: ModelOutcome, result: PolicyResult | None) -> str:
    parts = [f'<section id="model-{index}"><h2>{escape(display_path(outcome.path))}</h2>']
    report = outcome.report
    if report is None:
        parts.append(
            f"<p>{_badge('error')} could not be scanned: "
            f"<code>{escape(outcome.error_kind or '')}</code> {escape(outcome.error or '')}</p>"
        )
        parts.append(_policy_block(result))
        parts.append("</section>")
        return "\n".join(parts)
    x = report.xray
    model = report.model
    target = (
        model.label(x.target_label) if x.target_label is not None else "none (no single target)"
    )
    shortcut = _label(model, x.evidence.shortcut_label)
    facts = [
        ("Verdict", _badge(x.verdict)),
        ("Score", f"{x.score:.3f} (0 to 1, higher = more likely backdoored)"),
        ("Suspected target", escape(target + (f" - {x.target_note}" if x.target_note else ""))),
        *(
            [("Shortcut", escape(f"{shortcut}, not attributed"))]
            if x.verdict == "shortcut"
            else []
        ),
        ("RE / ATS (mean)", f"{x.re_mean:.3f} / {x.ats_mean:.3f}"),
        ("Queries / seconds", f"{x.queries} / {x.seconds:.1f}"),
        *(
            [("Training data", escape(_data_line(x.evidence.data_check)))]
            if x.evidence.data_check is not None
            else []
        ),
        *(
            [("Query budget", escape(_budget_line(x.evidence.plan, x.queries)))]
            if x.evidence.plan is not None and x.evidence.plan.budget
            else []
        ),
        ("SHA-256", f"<code>{escape(report.model.sha256)}</code>"),
        ("Classes / provider", f"{report.model.num_classes} / {escape(report.model.provider)}"),
        ("From cache", "yes" if outcome.cached else "no"),
        ("Policy", _policy_badge(result)),
    ]  # fmt: skip
    parts.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    if model.class_names:
        parts.append(
            f'<p class="note">Class names from {escape(str(model.class_names_source))}.</p>'
        )
    parts.append(_evidence(report))
    parts.append(_policy_block(result))
    parts.append(_planes(report))
    parts.append("</section>")
    return "\n".join(parts)


def _label(model: ModelInfo, value: object, word: str = "label") -> str:
    """ "label 3 (Dress)" (or "class 3 (Dress)") from a report value that should be an int."""
    try:
        text = model.label(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return f"{word} ?"
    return text if word == "label" else word + text[len("label") :]


def _png_img(b64: object, alt: str) -> str:
    """An inline <img> for a PNG the report carries; nothing when it is not a PNG (a report
    read back from disk is input like any other)."""
    try:
        raw = base64.b64decode(str(b64), validate=True)
    except ValueError:
        return ""
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return ""
    data = base64.b64encode(raw).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _budget_line(plan: PlanRecord, spent: int) -> str:
    """A scan planned within --max-queries: what it could spend and what it gave up."""
    return f"{plan.budget} (spent {spent}); a reduced scan, it gave up: {plan.gave_up_text()}"


def _evidence(report: ScanReport) -> str:
    """The trigger the verdict rests on, before/after samples, and the per-class shares it sends
    to the label (`evidence.example`, written by scanner.detectors.example)."""
    ex = report.xray.evidence.example
    if ex is None:
        return ""
    try:
        label = ex.label
        source = ex.source
        trigger = ex.trigger
        what = (
            f"search: {trigger.get('space')}"
            if source == "search"
            else f"probe: {trigger.get('family')} (strength {trigger.get('strength')})"
        )
        figures = [
            f"<figure>{_png_img(ex.trigger_png, 'the deciding trigger on a grey image')}"
            f"<figcaption>Deciding trigger ({escape(what)}) on a mid-grey image</figcaption>"
            "</figure>"
        ]
        for i, smp in enumerate(ex.samples):
            before = _png_img(smp["before_png"], f"clean sample {i + 1}")
            after = _png_img(smp["after_png"], f"sample {i + 1} with the trigger")
            figures.append(
                f'<figure class="sample"><div class="pair">{before}{after}</div><figcaption>'
                f"{escape(_label(report.model, smp['true'], 'class'))}: "
                f"{escape(_label(report.model, smp['before']))} &rarr; "
                f"{escape(_label(report.model, smp['after']))} with the trigger</figcaption>"
                "</figure>"
            )
        rows = "".join(
            f"<tr><td>{escape(_label(report.model, c, 'class'))}</td>"
            f'<td class="bar"><div style="width:'
            f'{max(0.0, min(float(r), 1.0)) * 100:.0f}%"></div></td><td>{float(r):.0%}</td></tr>'
            for c, r in ex.per_class
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return '<p class="note">the report\'s evidence example could not be read</p>'
    bars = (
        f'<table class="bars"><thead><tr><th colspan="3">Share of each class the trigger sends '
        f"to {escape(report.model.label(label))}</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return (
        f'<h3>Evidence</h3><div class="evidence">{"".join(figures)}{bars}</div>'
        '<p class="note">Fresh samples the scan did not use elsewhere; the trigger is rebuilt '
        "from the report's own parameters (<code>evidence.example.trigger</code>).</p>"
    )


def _policy_block(result: PolicyResult | None) -> str:
    if result is None:
        return ""
    parts = []
    if result.findings or result.suppressed:
        rows = []
        for finding in (*result.findings, *result.suppressed):
            status = (
                "violation"
                if finding in result.violations
                else "suppressed"
                if finding in result.suppressed
                else "reported"
            )
            cells = (
                finding.rule_id,
                finding.rule,
                finding.severity.name,
                finding.confidence.name,
                finding.action,
                status,
                finding.message,
            )
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>"
            for h in ("Rule", "Name", "Severity", "Confidence", "Action", "Status", "Message")
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    for note in result.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    return "\n".join(parts)


def _planes(report: ScanReport) -> str:
    x = report.xray
    labels: set[int] = set()
    figures = []
    approximate = False
    for i, plane in enumerate(x.planes):
        label_map = plane.decoded_label_map()
        if label_map is None:
            figures.append(f"<figure><figcaption>{_caption(i, plane)}<br>label map not kept in "
                           "the report</figcaption></figure>")  # fmt: skip
            continue
        labels.update(int(v) for v in set(label_map.ravel().tolist()))
        labels.update(plane.anchor_labels)
        approximate |= not anchor_cells(plane)
        image = render_plane(plane, target_label=x.target_label, legend=False)
        data = base64.b64encode(png_bytes(image)).decode("ascii")
        alt = f"decision-region map of plane {i + 1}"
        figures.append(
            f'<figure><img src="data:image/png;base64,{data}" width="{image.width}" '
            f'height="{image.height}" alt="{escape(alt)}">'
            f"<figcaption>{_caption(i, plane)}</figcaption></figure>"
        )
    if not figures:
        return '<p class="note">no planes in this report</p>'
    if x.target_label is not None:
        labels.add(x.target_label)
    items = []
    for label in sorted(labels):
        css = ' class="target"' if label == x.target_label else ""
        suffix = " (suspected target)" if label == x.target_label else ""
        items.append(
            f'<li{css}><span class="swatch" style="background:{hex_colour(label)}"></span>'
            f"label {label}{suffix}</li>"
        )
    note = (
        '<p class="note">This report does not record where the anchors sit on the grid, so they'
        " are not marked.</p>"
        if approximate
        else ""
    )
    legend = f'<div class="legend"><ul>{"".join(items)}</ul>{note}</div>'
    return legend + f'<div class="planes">{"".join(figures)}</div>'


def _caption(i: int, plane: PlaneResult) -> str:
    anchors = ", ".join(
        f"{n}: sample #{idx} (label {lab})"
        for n, (idx, lab) in enumerate(zip(plane.anchors, plane.anchor_labels, strict=True), 1)
    )
    return escape(
        f"Plane {i + 1}. RE {plane.re:.3f}, ATS {plane.ats:.3f}, {plane.resolution} x "
        f"{plane.resolution} cells. Anchors {anchors}."
    )
