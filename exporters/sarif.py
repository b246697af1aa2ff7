"""SARIF 2.1.0 for code-scanning views: every policy rule as a SARIF rule, every finding a result.

Levels follow severity (CRITICAL and HIGH: error, MEDIUM: warning, LOW: note), with GitHub's
`security-severity` beside them. Allow-listed findings stay as results with a suppression that
carries the allow-list reason; models that could not be scanned are tool execution notifications.
A model with no policy result is judged by the shipped default policy, so that an infected model
always shows up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from exporters.base import paired
from policies.engine import PolicyResult, evaluate_outcome
from policies.findings import Finding, Severity
from policies.loader import load_policy
from policies.rules import RULES, rule_doc, rule_summary
from scanner import __version__
from scanner.report import ModelOutcome

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
# GitHub code scanning ranks security results by this CVSS-like number (critical is over 9.0).
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}


def write(
    outcomes: Sequence[ModelOutcome],
    fileobj: TextIO,
    *,
    policy_results: Sequence[PolicyResult | None] | None = None,
    base_dir: str | Path | None = None,
) -> None:
    """Write one SARIF run. Model locations are relative to `base_dir` (default: the working
    folder, which is the repository root in CI) under `%SRCROOT%`, or absolute file URIs."""
    json.dump(sarif_log(outcomes, policy_results, base_dir=base_dir), fileobj, indent=2)
    fileobj.write("\n")


def sarif_log(
    outcomes: Sequence[ModelOutcome],
    policy_results: Sequence[PolicyResult | None] | None = None,
    *,
    base_dir: str | Path | None = None,
) -> dict[str, Any]:
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    rule_ids = sorted(RULES)
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    default_policy = None

    artifacts: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for index, (outcome, result) in enumerate(paired(outcomes, policy_results)):
        location = _artifact_location(outcome.path, base, index)
        artifact: dict[str, Any] = {"location": _artifact_location(outcome.path, base, None)}
        if outcome.report is not None:
            artifact["hashes"] = {"sha-256": outcome.report.model.sha256}
            if outcome.report.model.size_bytes > 0:
                artifact["length"] = outcome.report.model.size_bytes
        artifacts.append(artifact)

        if result is None and (outcome.report is not None or outcome.finding_error):
            default_policy = default_policy or load_policy("default")
            result = evaluate_outcome(default_policy, outcome)
        if outcome.report is None and (result is None or not result.decided):
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{outcome.path}: {outcome.error}"},
                    "descriptor": {"id": outcome.error_kind or "ScanError"},
                    "locations": [{"physicalLocation": {"artifactLocation": location}}],
                }
            )
        if result is None:
            continue
        violations = set(result.violations)
        for finding in result.findings:
            results.append(
                _result(finding, location, rule_index, outcome, result, finding in violations)
            )
        for finding in result.suppressed:
            item = _result(finding, location, rule_index, outcome, result, False)
            reason = result.allowlist.entry.reason if result.allowlist else "allow-listed"
            item["suppressions"] = [{"kind": "external", "justification": reason}]
            results.append(item)

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "bdscan",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(RULES[rid]) for rid in rule_ids],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not notifications,
                "toolExecutionNotifications": notifications,
            }
        ],
        "originalUriBaseIds": {SRCROOT: {"uri": _dir_uri(base)}},
        "artifacts": artifacts,
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule: Any) -> dict[str, Any]:
    doc = rule_doc(rule)
    severity: Severity = rule.severity
    return {
        "id": rule.rule_id,
        "name": rule.name,
        "shortDescription": {"text": rule_summary(rule)},
        "fullDescription": {"text": doc},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": ["security", "backdoor" if rule.rule_id.startswith("BDS1") else "onnx"],
            "security-severity": SECURITY_SEVERITY[severity],
        },
    }


def _result(
    finding: Finding,
    location: dict[str, Any],
    rule_index: dict[str, int],
    outcome: ModelOutcome,
    result: PolicyResult,
    violation: bool,
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "severity": finding.severity.name,
        "confidence": finding.confidence.name,
        "action": finding.action,
        "violation": violation,
        "policy": result.name,
        "security-severity": SECURITY_SEVERITY[finding.severity],
    }
    fingerprint = finding.rule_id
    if outcome.report is not None:
        xray = outcome.report.xray
        props.update(verdict=xray.verdict, score=xray.score, targetLabel=xray.target_label)
        fingerprint = f"{outcome.report.model.sha256}:{finding.rule_id}"
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index[finding.rule_id],
        "level": LEVELS[finding.severity],
        "message": {"text": f"{Path(outcome.path).name}: {finding.message}"},
        "locations": [{"physicalLocation": {"artifactLocation": location}}],
        # Same model bytes + same rule = the same alert across runs, wherever the file moved.
        "partialFingerprints": {"bdscanModelRule/v1": fingerprint},
        "properties": props,
    }


def _artifact_location(path: str, base: Path, index: int | None) -> dict[str, Any]:
    absolute = Path(os.path.abspath(path))
    try:
        rel = absolute.relative_to(os.path.abspath(base))
        loc: dict[str, Any] = {"uri": quote(rel.as_posix()), "uriBaseId": SRCROOT}
    except ValueError:
        loc = {"uri": absolute.as_uri()}
    if index is not None:
        loc["index"] = index
    return loc


def _dir_uri(path: Path) -> str:
    uri = Path(os.path.abspath(path)).as_uri()
    return uri if uri.endswith("/") else uri + "/"
