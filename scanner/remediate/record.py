"""What a repair records beside its figures, typed: the method's notes (`RemediationReport.extra`),
the accuracy outside the suspected classes, and the scans before and after
(`RemediationReport.rescan`). The application layer and the console read these fields; `to_dict`
writes the --json document's keys (docs/remediation-guide.md), used only at the JSON edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.detectors.datacheck import DataCheck
    from scanner.remediate.prior import SelfPrior, TriggerPrior
    from scanner.remediate.residual import Residual
    from scanner.report import XrayResult


@dataclass(frozen=True)
class OutsideSuspects:
    """Held-out accuracy before and after on the `n` samples whose given label is none of
    `labels` (`accuracy_outside`)."""

    labels: tuple[int, ...]
    n: int
    before: float
    after: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "n": self.n,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class VerdictSummary:
    """A scan's verdict, score, target and the test that decided it."""

    verdict: str
    score: float
    target_label: int | None
    decided_by: str | None
    shortcut_label: int | None
    note: str

    @classmethod
    def of(cls, xray: XrayResult) -> VerdictSummary:
        return cls(
            verdict=xray.verdict,
            score=xray.score,
            target_label=xray.target_label,
            decided_by=xray.evidence.decided_by,
            shortcut_label=xray.evidence.shortcut_label,
            note=xray.target_note,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "score": self.score,
            "target_label": self.target_label,
            "decided_by": self.decided_by,
            "shortcut_label": self.shortcut_label,
            "note": self.note,
        }


@dataclass(frozen=True)
class Rescan:
    """The scans of the model before the repair and of its replacement after."""

    data: str  # the samples both scans used
    before: VerdictSummary
    used_as_prior: bool  # no --scan-report was given: the scan before was the repair's prior
    after: VerdictSummary
    # The scan before's triggers re-measured after the repair (None: none to re-measure).
    residual: Residual | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "before": {**self.before.to_dict(), "used_as_prior": self.used_as_prior},
            "after": self.after.to_dict(),
            "residual": None if self.residual is None else self.residual.to_dict(),
        }


@dataclass(frozen=True)
class RepairRound:
    """One repair of `bdscan remediate --rounds` and the re-scan after it."""

    target_label: int | None  # the target the repair was given (None: BURN's own check)
    # "scan-report", "scan before", "re-scan", "re-scan (shortcut to the label aimed at)"
    # (scanner.app.remediation) or "none"
    prior: str
    repaired_target: int | None
    accuracy_after: float | None
    seconds: float
    after: VerdictSummary | None
    # Its re-scan found an earlier round's repaired target again: the round before it is the
    # one published (written only when true).
    undone: bool = False
    residual: Residual | None = None  # the scan before's triggers re-measured on its model
    # The class this round's training-data check named (None: it named none or did not run);
    # the report's `extra.data_check` is the last round's only, and a later round's check reads
    # the labels the rounds before it restored.
    data_named: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "target_label": self.target_label,
            "prior": self.prior,
            "repaired_target": self.repaired_target,
            "data_named": self.data_named,
            "accuracy_after": self.accuracy_after,
            "seconds": self.seconds,
            "after": None if self.after is None else self.after.to_dict(),
            "residual": None if self.residual is None else self.residual.to_dict(),
        }
        if self.undone:
            d["undone"] = True
        return d


@dataclass(frozen=True)
class TargetCorrection:
    """BURN's own check over every class named another target than the prior's (`given`)."""

    given: int
    found: int
    # The universal trigger that found it ("perturbation", "warp" or "window"), or "counts":
    # the prior's runner-up label that holds the training set's count excess.
    by: str
    rates: tuple[float, ...]
    warp_rates: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "found": self.found,
            "by": self.by,
            "rates": [round(r, 4) for r in self.rates],
            "warp_rates": [round(r, 4) for r in self.warp_rates],
        }


@dataclass(frozen=True)
class RepairNotes:
    """What the method measured and decided beside the report's figures (`extra` in --json;
    a field a method does not record is None and left out)."""

    # BURN: its boundary attack's cost, and its shortcut unlearning's own record (a research
    # record written to --json; no layer reads it).
    attack_cost_per_sample: float | None = None
    attacked_samples: int | None = None
    unlearning: dict[str, Any] | None = None
    # BURN's own target check, when it named the target or corrected the prior's.
    self_prior: SelfPrior | None = None
    target_correction: TargetCorrection | None = None
    trigger_prior: TriggerPrior | None = None
    # Clean-data mode: "shortcut" (BURN's unlearner) or "universal" (the untargeted fallback).
    clean_unlearning: str | None = None
    loss: tuple[float, ...] | None = None
    reversed_trigger: dict[str, Any] | None = None  # Neural Cleanse's, as the report keeps it
    # Where the target came from: "scan-report", "shortcut" (a `shortcut` report's label,
    # `BurnConfig.shortcut_target`), "data-check" (the training data's check, `datacheck`),
    # "given", "self-prior" (BURN's own check), "mixture" (the boundary mixture's lone suspect
    # with a count excess), "corrected"; None.
    target_source: str | None = None
    repair_rounds: tuple[RepairRound, ...] = ()
    # The training data's check of the target (`datacheck`), when it ran.
    data_check: DataCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        plain = ("attack_cost_per_sample", "attacked_samples", "unlearning", "clean_unlearning")
        for name in plain:
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.loss is not None:
            d["loss"] = list(self.loss)
        if self.reversed_trigger is not None:
            d["reversed_trigger"] = self.reversed_trigger
        if self.target_correction is not None:
            d["target_correction"] = self.target_correction.to_dict()
        if self.trigger_prior is not None:
            d["trigger_prior"] = self.trigger_prior.to_dict()
        if self.target_source is not None:
            d["target_source"] = self.target_source
        if self.repair_rounds:
            d["repair_rounds"] = [r.to_dict() for r in self.repair_rounds]
        if self.data_check is not None:
            d["data_check"] = self.data_check.to_dict()
        return d
