"""Policy rules: one class per rule, its docstring is its documentation, `RULES` is the registry.

A new rule is a class with `rule_id`, `name`, `severity` and `check()`, added to `RULES` below.
Ids are stable: BDS1xx judge the X-ray result, BDS2xx facts about the file, BDS3xx the scan itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import ClassVar, Protocol

from policies.findings import Action, Confidence, Finding, Severity
from policies.policy import Policy, normalise_domain
from scanner.report import ModelOutcome, ScanReport


class Rule(Protocol):
    """What every rule looks like to the engine and the exporters."""

    rule_id: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]  # the usual severity; a finding may carry another (see BDS101)

    def check(self, policy: Policy, outcome: ModelOutcome) -> Iterator[Finding]:
        """Findings of this rule on one model (a report, or the error that stopped its scan)."""
        ...


def rule_doc(rule: Rule) -> str:
    """The rule's documentation: its class docstring, dedented."""
    return inspect.getdoc(type(rule)) or ""


def rule_summary(rule: Rule) -> str:
    """The first line of the rule's documentation."""
    return rule_doc(rule).split("\n", 1)[0]


def _score_confidence(score: float) -> Confidence:
    # The score is a calibrated probability-like value; these cut-offs only grade how far from
    # the undecided middle it is.
    if score >= 0.9:
        return Confidence.HIGH
    if score >= 0.7:
        return Confidence.MEDIUM
    return Confidence.LOW


class _ReportRule:
    """Shared plumbing: rules that judge a finished scan skip models whose scan failed."""

    rule_id: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]

    # Rules on facts of the .onnx file (size, opset, domains, external data): not applicable to
    # a model scanned through an endpoint, which the engine notes instead of passing silently.
    file_only: ClassVar[bool] = False

    def check(self, policy: Policy, outcome: ModelOutcome) -> Iterator[Finding]:
        if outcome.report is not None:
            if self.file_only and outcome.report.model.endpoint is not None:
                return
            yield from self.check_report(policy, outcome.report)

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        message: str,
        action: Action,
        *,
        severity: Severity | None = None,
        confidence: Confidence = Confidence.HIGH,
    ) -> Finding:
        return Finding(
            rule_id=self.rule_id,
            rule=self.name,
            severity=self.severity if severity is None else severity,
            confidence=confidence,
            message=message,
            action=action,
        )


class XrayInfected(_ReportRule):
    """Model X-ray judged the model backdoored.

    Fires when the X-ray verdict is ``infected`` and the policy has ``xray.flag_infected: true``.
    The verdict comes from the decision-region planes (low Rényi entropy and a low area of the
    anchors' own labels: one label swallowing the plane). Severity is HIGH, CRITICAL when a single
    target label was also named; confidence grows with the X-ray score (LOW below 0.7, MEDIUM
    below 0.9, HIGH from 0.9). What happens to the model is ``xray.action``.
    """

    rule_id = "BDS101"
    name = "xray-infected"
    severity = Severity.HIGH

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        xray = report.xray
        if not policy.xray.flag_infected or xray.verdict != "infected":
            return
        target = xray.target_label
        detail = f"score {xray.score:.3f}" + (
            f", target {report.model.label(target)}"
            if target is not None
            else ", no single target label"
        )
        yield self.finding(
            f"Model X-ray verdict is infected ({detail})",
            policy.xray.action,
            severity=Severity.CRITICAL if target is not None else Severity.HIGH,
            confidence=_score_confidence(xray.score),
        )


class XrayScore(_ReportRule):
    """The X-ray score reached the policy's threshold.

    Fires when ``xray.score_threshold`` is set and the score (0 to 1, higher is more likely
    backdoored) is at or above it, whatever the verdict: a strict policy uses a threshold below the
    verdict's own to catch borderline models. Severity MEDIUM.
    """

    rule_id = "BDS102"
    name = "xray-score"
    severity = Severity.MEDIUM

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        threshold = policy.xray.score_threshold
        score = report.xray.score
        if threshold is None or score < threshold:
            return
        yield self.finding(
            f"X-ray score {score:.3f} is at or above the policy threshold {threshold:g} "
            f"(verdict: {report.xray.verdict})",
            policy.xray.action,
            confidence=_score_confidence(score),
        )


class XrayTargetLabel(_ReportRule):
    """Model X-ray named a backdoor target label.

    Fires when ``xray.target_label_blocks: true`` and the report names a single label that
    dominates the planes (an all-to-one backdoor's target). All-to-all attacks have no single
    target; then this rule stays silent and BDS101 speaks alone. Severity HIGH.
    """

    rule_id = "BDS103"
    name = "xray-target-label"
    severity = Severity.HIGH

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        target = report.xray.target_label
        if not policy.xray.target_label_blocks or target is None:
            return
        note = f": {report.xray.target_note}" if report.xray.target_note else ""
        yield self.finding(
            f"suspected backdoor target {report.model.label(target)}{note}",
            policy.xray.action,
            confidence=_score_confidence(report.xray.score),
        )


class XrayShortcut(_ReportRule):
    """The scan found a universal shortcut it could not attribute to a planted trigger.

    Fires when the X-ray verdict is ``shortcut`` and the policy has ``xray.flag_shortcut: true``:
    one perturbation sends most classes to one label (the label is in the message), but the
    attribution tests (dose-response, specificity) read it as a natural sink of the network, not
    as a trigger someone trained in. Anyone can use such a shortcut at inference time, so it is
    reported; it is not evidence of poisoning. Severity MEDIUM. What happens to the model is
    ``xray.shortcut_action`` (the default policy warns, ``strict`` blocks).
    """

    rule_id = "BDS104"
    name = "xray-shortcut"
    severity = Severity.MEDIUM

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        xray = report.xray
        if not policy.xray.flag_shortcut or xray.verdict != "shortcut":
            return
        note = f": {xray.target_note}" if xray.target_note else ""
        shown = report.model.label(xray.evidence.shortcut_label)
        yield self.finding(
            f"universal shortcut to {shown}, not attributed to a planted trigger{note}",
            policy.xray.shortcut_action,
            confidence=Confidence.MEDIUM,
        )


class ModelSize(_ReportRule):
    """The model file is larger than the policy allows.

    Fires when ``model.max_size_mb`` is set and the file (with its external data) is larger.
    A report that does not record the size gets a LOW finding saying it could not be checked.
    Severity MEDIUM.
    """

    rule_id = "BDS201"
    name = "model-size"
    severity = Severity.MEDIUM
    file_only = True

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        limit = policy.model.max_size_mb
        if limit is None:
            return
        size = report.model.size_bytes
        if size <= 0:
            yield self.finding(
                f"model size unknown; cannot check the {limit:g} MB limit",
                policy.model.action,
                severity=Severity.LOW,
            )
        elif size > limit * 1024 * 1024:
            yield self.finding(
                f"model is {size / (1024 * 1024):.1f} MB, over the policy limit of {limit:g} MB",
                policy.model.action,
            )


class ModelOpset(_ReportRule):
    """The model's ONNX opset is outside the policy's range.

    Fires when ``model.min_opset`` or ``model.max_opset`` is set and the default-domain opset of
    the model lies outside. Old opsets miss fixes in operator semantics; new ones may not be
    supported by the serving runtime. An unknown opset gives a LOW finding. Severity MEDIUM.
    """

    rule_id = "BDS202"
    name = "model-opset"
    severity = Severity.MEDIUM
    file_only = True

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        low, high = policy.model.min_opset, policy.model.max_opset
        if low is None and high is None:
            return
        wanted = f"{low if low is not None else 'any'}..{high if high is not None else 'any'}"
        opset = report.model.opset
        if opset is None:
            yield self.finding(
                f"model opset unknown; cannot check the range {wanted}",
                policy.model.action,
                severity=Severity.LOW,
            )
        elif (low is not None and opset < low) or (high is not None and opset > high):
            yield self.finding(
                f"model opset {opset} is outside the policy range {wanted}", policy.model.action
            )


class OperatorDomain(_ReportRule):
    """The model uses operators from a domain the policy does not allow.

    Fires when ``model.allowed_operator_domains`` is set and the graph uses another domain.
    Custom domains need native operator libraries loaded into the runtime: code that the scan never
    looked at. ``""`` and ``ai.onnx`` both name the standard domain. Severity HIGH.
    """

    rule_id = "BDS203"
    name = "operator-domain"
    severity = Severity.HIGH
    file_only = True

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        allowed = policy.model.allowed_operator_domains
        if allowed is None:
            return
        used = sorted({normalise_domain(d) for d in report.model.operator_domains})
        if not used:
            yield self.finding(
                "operator domains unknown; cannot check them against the policy",
                policy.model.action,
                severity=Severity.LOW,
            )
            return
        extra = [d for d in used if d not in allowed]
        if extra:
            yield self.finding(
                f"operator domain(s) not allowed by the policy: {', '.join(extra)} "
                f"(allowed: {', '.join(allowed) or 'none'})",
                policy.model.action,
            )


class ExternalData(_ReportRule):
    """The model keeps tensors in external data files and the policy forbids it.

    Fires when ``model.allow_external_data: false`` and the model references data outside the
    .onnx file: those files travel separately and can be swapped after the scan. Severity MEDIUM.
    """

    rule_id = "BDS204"
    name = "external-data"
    severity = Severity.MEDIUM
    file_only = True

    def check_report(self, policy: Policy, report: ScanReport) -> Iterator[Finding]:
        if policy.model.allow_external_data or not report.model.external_data:
            return
        yield self.finding(
            "model stores tensors in external data files, which the policy does not allow",
            policy.model.action,
        )


class NonFiniteOutputs(_ReportRule):
    """The model answered NaN or Inf scores, so no verdict could be reached.

    Fires whenever a scan stopped because the model's score output held non-finite values, under
    every policy (it does not depend on ``on_scan_error``). Labels read off NaN scores are
    whatever argmax makes of them: a model that does this is broken, or hides its answers from the
    scanner. Severity HIGH, action block.
    """

    rule_id = "BDS205"
    name = "non-finite-outputs"
    severity = Severity.HIGH

    def check(self, policy: Policy, outcome: ModelOutcome) -> Iterator[Finding]:
        if outcome.finding_error:
            yield self.finding(f"model outputs are not finite: {outcome.error}", "block")


class ScanError(_ReportRule):
    """The model could not be scanned, and the policy counts that as a violation.

    Fires only under ``on_scan_error: violation``. Under the default ``on_scan_error: error`` an
    unscannable model gets no decision at all and the run exits with code 2 (scan error) instead
    of 1. Severity HIGH: a file that resists analysis is itself suspicious.
    """

    rule_id = "BDS301"
    name = "scan-error"
    severity = Severity.HIGH

    def check(self, policy: Policy, outcome: ModelOutcome) -> Iterator[Finding]:
        if (
            outcome.report is not None
            or outcome.finding_error
            or policy.on_scan_error != "violation"
        ):
            return
        kind = f"{outcome.error_kind}: " if outcome.error_kind else ""
        yield self.finding(f"model could not be scanned: {kind}{outcome.error}", "block")


RULES: dict[str, Rule] = {
    rule.rule_id: rule
    for rule in (
        XrayInfected(),
        XrayScore(),
        XrayTargetLabel(),
        XrayShortcut(),
        ModelSize(),
        ModelOpset(),
        OperatorDomain(),
        ExternalData(),
        NonFiniteOutputs(),
        ScanError(),
    )
}
