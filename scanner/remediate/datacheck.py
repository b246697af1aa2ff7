"""The repair's use of the training data's check (`scanner.detectors.datacheck`): which class a
repair given a scan report aims at, and the patterns it unlearns there.

A `shortcut` report names no target and its label may be a natural sink; a `clean` one can have
missed a planted grating; an `infected` one can name the wrong label. The training set the
repair is given holds the poison, so the class it names, where the model answers it, is the
repair's target (docs/remediation.md sections 47 and 48).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from scanner.detectors.datacheck import DataCheck, read_patterns, run_check
from scanner.report import ScanReport

if TYPE_CHECKING:
    from scanner.remediate.config import BurnConfig
    from scanner.remediate.prior import DataPattern, TriggerPrior


def wants_data_check(
    method: str,
    config: BurnConfig,
    prior: TriggerPrior | None,
    target_source: str | None,
    has_train: bool,
    has_clean: bool,
) -> bool:
    """Whether a repair reads the training data for its target: BURN given a `shortcut` or
    `clean` report (no target) or an `infected` one whose target came from it (not one the
    user gave), with training data and clean samples to compare it with."""
    verdict = None if prior is None else prior.verdict
    from_report = (verdict in ("shortcut", "clean") and target_source is None) or (
        verdict == "infected" and target_source == "scan-report"
    )
    return method == "burn" and config.data_check and from_report and has_train and has_clean


def aim_by_data(
    report: dict[str, Any] | ScanReport,
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: BurnConfig,
    labels_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[DataCheck, tuple[DataPattern, ...]]:
    """The check, with the labels the scan's findings reach and the named class's stamp (in
    `check.stamp` where it fires), and its pattern and nearest plane sine, those that fire on
    the model (`labels_of`: the model's labels for float NHWC images; None: none read). `aimed`
    when the check names a class other than the report's own target that the findings, its
    stamp or its patterns reach (a class the model does not answer universally is no target to
    repair); the report's target is then overruled. The patterns come back only where the
    named class is the repair's target (the stamp: the caller reads `check.stamp` likewise)."""
    from scanner.remediate.prior import DataPattern, reached_labels

    settings = config.data_check_config()
    check = run_check(train, clean, num_classes, settings)
    reached = reached_labels(report)
    named = _report_target(report)
    check = replace(check, reached=reached)
    if check.label is None:
        return check, ()
    patterns: tuple[DataPattern, ...] = ()
    if labels_of is not None:
        check, fired = read_patterns(check, train, clean, settings, labels_of)
        patterns = tuple(DataPattern(signal, amp, kind) for signal, amp, kind in fired)
        if config.data_blend_form and any(p.kind == "blend" for p in patterns):
            # The blend in its blend form too, about the other classes' clean mean.
            xc, yc = clean
            mean = np.asarray(xc[yc != check.label], dtype=np.float32).mean(axis=0)
            patterns = tuple(replace(p, mean=mean) if p.kind == "blend" else p for p in patterns)
    answered = bool(patterns) or check.stamp is not None
    if check.label == named or (check.label not in reached and not answered):
        return check, patterns if check.label == named else ()
    return replace(check, aimed=True, overruled=named), patterns


def named_by_scan_data(report: dict[str, Any] | ScanReport) -> bool:
    """Whether the report's target is the class `bdscan scan --train-data` attributed where the
    scan alone named none (a `shortcut` or `clean` read made `infected`). Such a target is
    repaired as the repair's own check aims one: without the universal perturbation toward a
    (perhaps clean-label) class (docs/remediation.md section 45), so that the repair is the same
    whether the training data entered through the scan or through --train-data here."""
    if isinstance(report, ScanReport):
        check = report.xray.evidence.data_check
        return check is not None and check.attributed and check.overruled is None
    try:
        doc = report["xray"]["evidence"]["data_check"]
        return bool(doc.get("attributed")) and doc.get("overruled") is None
    except (KeyError, TypeError, AttributeError):
        return False


def _report_target(report: dict[str, Any] | ScanReport) -> int | None:
    from scanner.remediate.prior import prior_from_report

    return prior_from_report(report).target
