"""A deployment policy as frozen dataclasses: what `policies.loader` builds from YAML.

The YAML keys are the field names below; the shipped `default.yaml` documents every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from policies.findings import DEFAULT_FAIL_ON, Action, Severity

POLICY_SCHEMA_VERSION = 1

ScanErrorMode = Literal["error", "violation"]
SCAN_ERROR_MODES: tuple[ScanErrorMode, ...] = ("error", "violation")

# ONNX names its default operator set both "" and "ai.onnx"; rules compare the normalised form.
DEFAULT_DOMAIN = "ai.onnx"


def normalise_domain(domain: str) -> str:
    return domain.strip() or DEFAULT_DOMAIN


@dataclass(frozen=True)
class XrayRules:
    """Rules on the Model X-ray result (BDS1xx)."""

    flag_infected: bool = True  # an "infected" verdict is a finding
    score_threshold: float | None = None  # a score at or above it is a finding; None: off
    target_label_blocks: bool = True  # a named target label is a finding of its own
    action: Action = "block"  # what a model flagged by these rules gets
    # BDS104: a "shortcut" verdict (a universal shortcut not attributed to a planted trigger).
    flag_shortcut: bool = True
    shortcut_action: Action = "warn"  # default: reported, the model passes


@dataclass(frozen=True)
class ModelRules:
    """Rules on facts about the ONNX file itself (BDS2xx); None switches a rule off."""

    max_size_mb: float | None = None
    min_opset: int | None = None
    max_opset: int | None = None
    allowed_operator_domains: tuple[str, ...] | None = None  # normalised, see normalise_domain
    allow_external_data: bool = True
    action: Action = "block"


@dataclass(frozen=True)
class AllowEntry:
    """A vetted model: findings on a file with this SHA-256 are suppressed until `expires`."""

    sha256: str  # lower-case hex
    reason: str
    expires: date  # last day on which the entry applies
    name: str = ""  # for people reading the policy; not matched against anything
    line: int = field(default=0, compare=False)  # where it stands in the policy file

    def expired(self, today: date) -> bool:
        return today > self.expires

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "sha256": self.sha256,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
        }
        if self.name:
            d["name"] = self.name
        return d


@dataclass(frozen=True)
class Policy:
    name: str
    schema_version: int = POLICY_SCHEMA_VERSION
    description: str = ""
    fail_on: Severity = DEFAULT_FAIL_ON  # a finding at or above this (and not "warn") fails
    on_scan_error: ScanErrorMode = "error"  # "violation": an unscannable model fails the policy
    xray: XrayRules = field(default_factory=XrayRules)
    model: ModelRules = field(default_factory=ModelRules)
    allowlist: tuple[AllowEntry, ...] = ()
    source: str = ""  # the file it was read from, for messages

    def allow_entry(self, sha256: str) -> AllowEntry | None:
        """The allow-list entry for this hash, expired or not (the caller checks the date)."""
        wanted = sha256.lower()
        return next((e for e in self.allowlist if e.sha256 == wanted), None)
