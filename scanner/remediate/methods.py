"""The repair methods behind one protocol, in an explicit registry.

`remediate_run` (api.py) prepares (convert, split the data, read the prior), asks the method
registered for (method, mode) to run on the prepared job, then evaluates and exports the same
way for every method. A method trains `job.model` in place and says what it did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn

from scanner.remediate.baselines import CleanUnlearnConfig, NCConfig, nc_unlearn, neural_cleanse
from scanner.remediate.burn import BurnConfig, run_burn
from scanner.remediate.clean import run_clean_unlearning
from scanner.remediate.prior import TriggerPrior
from scanner.remediate.record import RepairNotes
from scanner.remediate.runtime import PhaseClock, fine_tune

Mode = Literal["train-data", "clean-only"]


@dataclass(frozen=True)
class RepairJob:
    """What every method gets: the converted model (trained in place), the data it may fit on,
    the target prior and the settings."""

    model: nn.Module
    x_fit: np.ndarray
    y_fit: np.ndarray
    keep_idx: np.ndarray  # x_fit's indices in the training data the user gave
    num_classes: int
    mode: Mode
    target_label: int | None
    prior: TriggerPrior | None
    burn: BurnConfig
    nc: NCConfig
    clean: CleanUnlearnConfig
    device: torch.device
    generator: torch.Generator
    clock: PhaseClock
    # Training samples that must not train (BURN: the data's pattern carriers; None: none).
    sit_out: np.ndarray | None = None
    # Training samples that train only while BURN flags them (its data's blend carriers).
    sit_out_unflagged: np.ndarray | None = None


@dataclass
class RepairOutcome:
    """What a method did, for the report."""

    name: str  # the method as the report names it
    epochs: float
    config: dict[str, Any] = field(default_factory=dict)
    extra: RepairNotes = field(default_factory=RepairNotes)
    suspects: tuple[int, ...] = ()
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    restored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    flagged_phase1: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rounds: tuple[dict[str, Any], ...] = ()
    classes: tuple[dict[str, Any], ...] = ()
    # (label, source) when the method named the target itself ("self-prior", or "mixture": the
    # boundary mixture's lone suspect) or overruled the prior with its own evidence over every
    # class ("corrected").
    target: tuple[int, str] | None = None


class Remediator(Protocol):
    def run(self, job: RepairJob) -> RepairOutcome: ...


def _burn_arguments(job: RepairJob) -> dict[str, Any]:
    """What BURN and its clean-data mode both take from a job, beside the model and data."""
    return {
        "num_classes": job.num_classes,
        "config": job.burn,
        "device": job.device,
        "generator": job.generator,
        "clock": job.clock,
        "target_prior": job.target_label,
        "trigger_prior": job.prior,
    }


class Burn:
    """BURN on a (possibly poisoned) training set (burn.py)."""

    def run(self, job: RepairJob) -> RepairOutcome:
        result = run_burn(
            job.model, job.x_fit, job.y_fit, **_burn_arguments(job), sit_out=job.sit_out,
            sit_out_unflagged=job.sit_out_unflagged,
        )  # fmt: skip
        extra = RepairNotes(
            attack_cost_per_sample=result.boundary.steps_run / max(len(job.y_fit), 1),
            attacked_samples=int(result.boundary.measured.sum()),
            unlearning=result.unlearning,
            self_prior=result.self_prior,
            target_correction=result.correction,
            trigger_prior=job.prior,
        )
        target = None
        found = None if result.self_prior is None else result.self_prior.target
        if job.target_label is None and found is not None:
            target = (int(found), "self-prior")
        promoted = result.unlearning.get("promoted_suspect")
        if job.target_label is None and target is None and promoted is not None:
            # The boundary mixture's one suspect with a count excess (`burn.with_excess`).
            target = (int(promoted), "mixture")
        if result.correction is not None:
            # BURN's own evidence over every class named another target than the prior.
            target = (result.correction.found, "corrected")
        return RepairOutcome(
            name="burn",
            epochs=result.epochs_used,
            config=job.burn.to_dict(),
            extra=extra,
            suspects=result.suspects,
            flagged=job.keep_idx[result.flagged],
            restored=result.restored,
            flagged_phase1=job.keep_idx[result.flagged_phase1],
            rounds=tuple(r.to_dict() for r in result.rounds),
            classes=tuple(c.to_dict() for c in result.classes),
            target=target,
        )


class CleanUnlearning:
    """BURN's shortcut unlearning from clean data alone (clean.py)."""

    def run(self, job: RepairJob) -> RepairOutcome:
        cres = run_clean_unlearning(
            job.model, job.x_fit, job.y_fit, clean_config=job.clean, **_burn_arguments(job)
        )
        extra = RepairNotes(
            loss=cres.losses,
            clean_unlearning=cres.how,
            unlearning=cres.unlearning,
            self_prior=cres.self_prior,
            trigger_prior=job.prior,
        )
        target = None
        label = job.target_label
        if label is None and cres.target is not None:
            target, label = (int(cres.target), "self-prior"), int(cres.target)
        return RepairOutcome(
            name="clean-unlearning",
            epochs=cres.epochs_used,
            config={**job.clean.to_dict(), "burn": job.burn.to_dict()},
            extra=extra,
            suspects=(label,) if label is not None else (),
            target=target,
        )


class FineTune:
    """Plain fine-tuning on the data given: the baseline every method is timed against."""

    def run(self, job: RepairJob) -> RepairOutcome:
        with job.clock.phase("finetune"):
            losses = fine_tune(
                job.model,
                job.x_fit,
                job.y_fit,
                epochs=job.burn.epochs,
                settings=job.burn.train,
                device=job.device,
                generator=job.generator,
            )
        return RepairOutcome(
            name="finetune", epochs=job.burn.epochs, extra=RepairNotes(loss=tuple(losses))
        )


class NeuralCleanse:
    """Neural Cleanse: reverse the trigger for the target, then unlearn it (baselines.py)."""

    def run(self, job: RepairJob) -> RepairOutcome:
        with job.clock.phase("reverse-trigger"):
            mask, pattern, trig = neural_cleanse(
                job.model,
                job.x_fit,
                job.y_fit,
                num_classes=job.num_classes,
                target=job.target_label,
                config=job.nc,
                device=job.device,
                generator=job.generator,
            )
        with job.clock.phase("unlearn"):
            losses = nc_unlearn(
                job.model,
                job.x_fit,
                job.y_fit,
                mask,
                pattern,
                epochs=job.burn.epochs,
                stamp_share=job.nc.stamp_share,
                settings=job.burn.train,
                device=job.device,
                generator=job.generator,
            )
        return RepairOutcome(
            name="nc",
            epochs=job.burn.epochs,
            config=job.nc.to_dict(),
            extra=RepairNotes(reversed_trigger=trig.to_dict(), loss=tuple(losses)),
            suspects=(trig.target,),
        )


# (--method, mode) -> the method that runs. Clean data alone: BURN becomes its clean-data
# mode; the baselines run as they are, on the clean data.
REMEDIATORS: dict[tuple[str, Mode], Remediator] = {
    ("burn", "train-data"): Burn(),
    ("burn", "clean-only"): CleanUnlearning(),
    ("finetune", "train-data"): FineTune(),
    ("finetune", "clean-only"): FineTune(),
    ("nc", "train-data"): NeuralCleanse(),
    ("nc", "clean-only"): NeuralCleanse(),
}


def base_config(burn: BurnConfig) -> dict[str, Any]:
    """The settings every method's report carries: the fine-tuning settings."""
    return {"train": asdict(burn.train)}
