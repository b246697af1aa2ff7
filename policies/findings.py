"""The vocabulary of policy decisions: ordered severities, confidences, actions and findings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

Action = Literal["block", "warn", "require-remediation"]
ACTIONS: tuple[Action, ...] = ("block", "warn", "require-remediation")


class _Level(IntEnum):
    """An IntEnum that reads its members case-insensitively from text (YAML, CLI, JSON)."""

    @classmethod
    def parse(cls, text: str) -> _Level:
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            choices = ", ".join(m.name.lower() for m in cls)
            raise ValueError(f"expected one of {choices}, got {text!r}") from None


class Severity(_Level):
    """How bad a finding is; ordered, so the overall severity of a result is the max."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        return super().parse(text)  # type: ignore[return-value]


class Confidence(_Level):
    """How sure the rule is that the finding is real (bandit's second axis)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @classmethod
    def parse(cls, text: str) -> Confidence:
        return super().parse(text)  # type: ignore[return-value]


# Documented default for `--fail-on` (and a policy without `fail_on`): LOW findings are things the
# scanner could not check or barely suspects; they are reported but do not fail a build.
DEFAULT_FAIL_ON = Severity.MEDIUM


@dataclass(frozen=True)
class Finding:
    """One rule firing on one model."""

    rule_id: str  # stable, e.g. "BDS101"
    rule: str  # short name, e.g. "xray-infected"
    severity: Severity
    confidence: Confidence
    message: str
    action: Action = "block"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule": self.rule,
            "severity": self.severity.name,
            "confidence": self.confidence.name,
            "message": self.message,
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        action = d.get("action", "block")
        if action not in ACTIONS:
            raise ValueError(
                f"finding action: expected one of {', '.join(ACTIONS)}, got {action!r}"
            )
        return cls(
            rule_id=str(d["rule_id"]),
            rule=str(d.get("rule", "")),
            severity=Severity.parse(d["severity"]),
            confidence=Confidence.parse(d.get("confidence", "MEDIUM")),
            message=str(d["message"]),
            action=action,
        )
