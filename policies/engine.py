"""Decide a model against a policy: run every rule, apply the allow-list, weigh against fail-on.

How a decision is made, in order:
1. Every rule in `RULES` looks at the model (its report, or the error that stopped its scan).
2. A live (not expired) allow-list entry for the model's SHA-256 suppresses all its findings; they
   stay in the result under `suppressed` with the entry's reason. An expired entry does nothing
   but is named in `notes` and `allowlist`.
3. A finding is a violation when its action is not `warn` and its severity is at least fail-on
   (`--fail-on`, else the policy's `fail_on`, else `DEFAULT_FAIL_ON`). The policy passes when
   there is no violation.
4. A model that could not be scanned is *undecided* (`decided: false`) unless the policy says
   `on_scan_error: violation`, which turns the error into finding BDS301.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from policies.findings import Finding, Severity
from policies.policy import AllowEntry, Policy
from policies.rules import RULES
from scanner.report import ModelOutcome, ScanReport

Disposition = Literal["pass", "warn", "block", "require-remediation", "undecided"]


@dataclass(frozen=True)
class AllowlistMatch:
    """The allow-list entry that matched the model's hash, and whether it applied."""

    entry: AllowEntry
    status: Literal["applied", "expired"]

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "status": self.status}


@dataclass(frozen=True)
class PolicyResult:
    """The decision on one model; `to_dict()` is the report's `policy` object (INTERFACE.md)."""

    name: str
    passed: bool
    fail_on: Severity
    findings: tuple[Finding, ...] = ()  # everything that fired and was not allow-listed
    violations: tuple[Finding, ...] = ()  # the findings that make `passed` false
    suppressed: tuple[Finding, ...] = ()  # findings hidden by a live allow-list entry
    allowlist: AllowlistMatch | None = None
    notes: tuple[str, ...] = ()
    decided: bool = True  # False: the scan failed and the policy does not judge errors
    policy_source: str = ""

    @property
    def severity(self) -> Severity | None:
        """The overall severity: the max over the live findings, None when there are none."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def disposition(self) -> Disposition:
        """What should happen to the model, in one word."""
        if not self.decided:
            return "undecided"
        if any(f.action == "require-remediation" for f in self.violations):
            return "require-remediation"
        if self.violations:
            return "block"
        return "warn" if self.findings else "pass"

    def to_dict(self) -> dict[str, Any]:
        severity = self.severity
        return {
            "name": self.name,
            "passed": self.passed,
            "decided": self.decided,
            "disposition": self.disposition,
            "fail_on": self.fail_on.name,
            "severity": None if severity is None else severity.name,
            "violations": [f.to_dict() for f in self.violations],
            "findings": [f.to_dict() for f in self.findings],
            "suppressed": [f.to_dict() for f in self.suppressed],
            "allowlist": None if self.allowlist is None else self.allowlist.to_dict(),
            "notes": list(self.notes),
            "source": self.policy_source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PolicyResult:
        """Read back `to_dict()` output (as saved in a JSON report)."""
        match = d.get("allowlist")
        allow = None
        if match:
            entry = AllowEntry(
                sha256=match["sha256"],
                reason=match["reason"],
                expires=date.fromisoformat(match["expires"]),
                name=match.get("name", ""),
            )
            allow = AllowlistMatch(entry=entry, status=match["status"])
        return cls(
            name=d["name"],
            passed=bool(d["passed"]),
            fail_on=Severity.parse(d.get("fail_on", "MEDIUM")),
            findings=tuple(Finding.from_dict(f) for f in d.get("findings", [])),
            violations=tuple(Finding.from_dict(f) for f in d.get("violations", [])),
            suppressed=tuple(Finding.from_dict(f) for f in d.get("suppressed", [])),
            allowlist=allow,
            notes=tuple(d.get("notes", [])),
            decided=bool(d.get("decided", True)),
            policy_source=d.get("source", ""),
        )


def evaluate(
    policy: Policy,
    report: ScanReport,
    *,
    today: date | None = None,
    fail_on: Severity | None = None,
) -> PolicyResult:
    """Decide one scanned model against `policy` (see the module docstring for the rules)."""
    return evaluate_outcome(
        policy, ModelOutcome(path=report.model.path, report=report), today=today, fail_on=fail_on
    )


def evaluate_outcome(
    policy: Policy,
    outcome: ModelOutcome,
    *,
    today: date | None = None,
    fail_on: Severity | None = None,
) -> PolicyResult:
    """Decide one model of a batch: a report, or the error that stopped its scan."""
    today = today or date.today()
    threshold = policy.fail_on if fail_on is None else fail_on
    findings = tuple(f for rule in RULES.values() for f in rule.check(policy, outcome))
    notes: list[str] = []

    if outcome.report is None and not findings:
        # No report and the policy does not judge errors: nothing was decided about this model.
        notes.append(f"not decided: the scan failed ({outcome.error_kind}: {outcome.error})")
        return PolicyResult(
            name=policy.name,
            passed=False,
            fail_on=threshold,
            notes=tuple(notes),
            decided=False,
            policy_source=policy.source,
        )

    match: AllowlistMatch | None = None
    suppressed: tuple[Finding, ...] = ()
    if outcome.report is not None and outcome.report.model.endpoint is not None:
        skipped = sorted(r.rule_id for r in RULES.values() if getattr(r, "file_only", False))
        notes.append(f"not applicable to an endpoint (no file to inspect): {', '.join(skipped)}")
    if outcome.report is not None:
        entry = policy.allow_entry(outcome.report.model.sha256)
        if entry is not None and entry.expired(today):
            match = AllowlistMatch(entry, "expired")
            notes.append(
                f"allow-list entry for {entry.sha256[:12]}… expired on {entry.expires} "
                f"(reason was: {entry.reason}); it does not apply"
            )
        elif entry is not None:
            match = AllowlistMatch(entry, "applied")
            suppressed, findings = findings, ()
            notes.append(f"allow-listed until {entry.expires}: {entry.reason}")

    violations = tuple(f for f in findings if f.action != "warn" and f.severity >= threshold)
    if any(f.action == "require-remediation" for f in violations):
        notes.append("remediate the model (bdscan remediate) and scan the repaired file")
    return PolicyResult(
        name=policy.name,
        passed=not violations,
        fail_on=threshold,
        findings=_ordered(findings),
        violations=_ordered(violations),
        suppressed=_ordered(suppressed),
        allowlist=match,
        notes=tuple(notes),
        policy_source=policy.source,
    )


def evaluate_outcomes(
    policy: Policy,
    outcomes: Sequence[ModelOutcome],
    *,
    today: date | None = None,
    fail_on: Severity | None = None,
) -> list[PolicyResult]:
    """`evaluate_outcome` for every model of a batch, in order."""
    return [evaluate_outcome(policy, o, today=today, fail_on=fail_on) for o in outcomes]


def _ordered(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    # Most severe first, then by rule id, so reports and SARIF are stable across runs.
    return tuple(sorted(findings, key=lambda f: (-f.severity, f.rule_id, f.message)))
