"""What a reviewer needs to see of a verdict: the trigger that decided it, applied to a few clean
samples with the labels the model gave before and after, and the share of each class it sends to
the label. Measured once the verdict is known, on samples drawn apart from every other stage, and
kept in the report (small PNG thumbnails, base64) so that the HTML report and the console can show
it without the data or the model.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from scanner.backends.base import LabelOracle
from scanner.detectors.evidence import Example
from scanner.detectors.probes import Probe, ProbeResult
from scanner.detectors.search import SearchResult
from scanner.detectors.verdict import (
    Decision,
    VerdictRule,
    best_strong,
    deciding_weak,
    planted_findings,
)

__all__ = [
    "Example",
    "deciding_trigger",
    "example_fits",
    "measure_example",
    "png_base64",
]

EXAMPLE_SAMPLES = 4  # clean samples shown before and after, each of another class
EXAMPLE_PER_CLASS = 20  # samples per class behind the per-class shares
THUMB_MAX = 64  # longest side of a stored thumbnail, in pixels

Change = Callable[[np.ndarray], np.ndarray]


def deciding_trigger(
    decision: Decision, probes: ProbeResult, search: SearchResult | None, rule: VerdictRule
) -> tuple[str, dict[str, Any], Change, int] | None:
    """(source, parameters, change, label) of the finding the verdict rests on; None for a
    clean verdict or one with no single label (all-to-all)."""
    label = decision.target_label
    if label is None:
        label = decision.evidence.shortcut_label
    decided_by = decision.evidence.decided_by or ""
    if label is None or not decided_by:
        return None
    if decided_by.startswith("search:"):
        # The planted finding the verdict names: its label, in the space it was decided by.
        space = decided_by.removeprefix("search:")
        found = next(
            (
                f
                for f in planted_findings(search, rule)
                if f.label == label and f.point.space == space
            ),
            None,
        )
        if found is None:
            return None
        point = found.point
        return "search", point.to_dict(), lambda x: point.apply(x), int(label)
    if decided_by == "data-check":
        # The training data decided; the example shows the finding that reaches its class most
        # (none: the class's stamp or pattern in the data decided, which the scan did not find).
        return _reaching(probes, search, int(label))
    if decided_by.startswith("selectivity"):
        finding = max(
            (f for f in probes.findings if f.probe.strong and f.label == label),
            key=lambda f: f.agreed_universality,
            default=best_strong(probes),
        )
    elif decided_by.startswith("consistency"):
        finding = max(
            (f for f in probes.findings if not f.probe.strong),
            key=lambda f: f.agreed_consistency,
            default=None,
        )
    else:
        finding = deciding_weak(probes, rule)
    if finding is None:
        return None
    probe: Probe = finding.probe
    return "probe", probe.to_dict(), lambda x: probe.trigger(x.shape[1:])(x), int(label)


def _reaching(
    probes: ProbeResult, search: SearchResult | None, label: int
) -> tuple[str, dict[str, Any], Change, int] | None:
    """The finding that sends the most other classes to `label` (a search finding, or a probe
    other than a strong one, as `by_data.reach_by_label` reads them)."""
    found = [f for f in (search.findings if search is not None else ()) if f.label == label]
    probe_found = [f for f in probes.findings if not f.probe.strong and f.label == label]
    best_search = max(found, key=lambda f: f.universality, default=None)
    best_probe = max(probe_found, key=lambda f: f.universality, default=None)
    if best_search is not None and (
        best_probe is None or best_search.universality >= best_probe.universality
    ):
        point = best_search.point
        return "search", point.to_dict(), lambda x: point.apply(x), label
    if best_probe is None:
        return None
    probe: Probe = best_probe.probe
    return "probe", probe.to_dict(), lambda x: probe.trigger(x.shape[1:])(x), label


def example_fits(oracle: LabelOracle, classes: int) -> bool:
    """Whether the example's queries (at most two per sample) fit what the budget leaves."""
    if oracle.budget is None:
        return True
    return oracle.queries + 2 * EXAMPLE_PER_CLASS * classes <= oracle.budget


def png_base64(image01: np.ndarray) -> str:
    """One HWC image in [0, 1] as a base64 PNG, its longest side at most THUMB_MAX."""
    arr = np.clip(np.rint(np.asarray(image01) * 255), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    if max(img.size) > THUMB_MAX:
        scale = THUMB_MAX / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def measure_example(
    oracle: LabelOracle,
    chosen: tuple[str, dict[str, Any], Change, int],
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
    seed: int,
) -> Example:
    """The example of `chosen` (from `deciding_trigger`) on a fresh draw of `x01`."""
    source, params, change, label = chosen
    before_q = oracle.queries
    rng = np.random.default_rng(seed + 4)
    classes = [int(c) for c in np.unique(y) if c != label]
    idx = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:EXAMPLE_PER_CLASS] for c in classes]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    xs, ys = x01[idx], y[idx]
    triggered = np.clip(change(xs), 0, 1).astype(np.float32)
    preds = np.clip(oracle(to_model(np.concatenate([xs, triggered]))), 0, num_classes - 1)
    before, after = preds[: len(xs)], preds[len(xs) :]
    per_class = tuple(
        (c, float(np.mean(after[(ys == c) & (before == c)] == label)))
        for c in classes
        if ((ys == c) & (before == c)).any()
    )
    shown = []
    for c in rng.permutation(classes)[:EXAMPLE_SAMPLES]:
        ok = np.flatnonzero((ys == c) & (before == c))
        if not len(ok):
            continue
        i = int(ok[0])
        shown.append(
            {
                "true": int(ys[i]),
                "before": int(before[i]),
                "after": int(after[i]),
                "before_png": png_base64(xs[i]),
                "after_png": png_base64(triggered[i]),
            }
        )
    grey = np.full((1, *x01.shape[1:]), 0.5, dtype=np.float32)
    return Example(
        source=source,
        trigger=params,
        label=label,
        trigger_png=png_base64(np.clip(change(grey), 0, 1)[0]),
        samples=tuple(shown),
        per_class=per_class,
        queries=oracle.queries - before_q,
    )
