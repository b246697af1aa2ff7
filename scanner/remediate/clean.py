"""The clean-data-only mode: unlearn a backdoor from a few clean samples, without a training set.

With no training set there is no poison to find and relabel, so BURN's phase 1 and feedback
rounds have nothing to work on; what carries over is its shortcut unlearning (`prior.py`): a
trigger stamped on part of each batch, true labels kept. The mode therefore runs BURN's
unlearner on the clean samples with BURN's own sources of a trigger, in this order:
- X-ray's confirmed probes (from a scan report), with the universal perturbation and the
  universal warp gated beside them (`shortcut.UniversalGate`), exactly as BURN runs them;
- with a target but no probes, the universal perturbation towards the target;
- with neither, BURN's own target check (`prior.find_target`) picks the target;
- with nothing found, the i-BAU-style untargeted universal perturbation (`baselines.
  clean_unlearn`), which is all that is left.
Why not the i-BAU-style perturbation throughout (the mode's first version): a radius-0.15
perturbation fitted afresh on every batch is adversarial training on a few hundred images. On
the zoo's 32 all-to-one models, 1,000 clean samples each (docs/remediation.md §6), it cost a
median 2.8 points of clean accuracy and met the remediation bar on 6; this mode costs 1.6 and
meets it on 15.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.baselines import CleanUnlearnConfig, clean_unlearn
from scanner.remediate.config import BurnConfig
from scanner.remediate.prior import SelfPrior, TriggerPrior
from scanner.remediate.runtime import PhaseClock, fine_tune
from scanner.remediate.shortcut import (
    UniversalGate,
    make_unlearner,
    needs_own_check,
    own_target_check,
    unlearning_summary,
    warp_px_for,
)


@dataclass(frozen=True)
class CleanResult:
    """`how`: "shortcut" (BURN's unlearner) or "universal" (the untargeted fallback);
    `target`: the target unlearned (X-ray's, given, or found by the own check), or None."""

    how: str
    target: int | None
    epochs_used: float
    losses: tuple[float, ...]
    unlearning: dict[str, Any] = field(default_factory=dict)  # the report's research record
    self_prior: SelfPrior | None = None  # BURN's own target check, when no target was given


def run_clean_unlearning(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int,
    config: BurnConfig,
    clean_config: CleanUnlearnConfig,
    device: torch.device,
    generator: torch.Generator,
    clock: PhaseClock,
    target_prior: int | None = None,
    trigger_prior: TriggerPrior | None = None,
) -> CleanResult:
    """Unlearn the backdoor of `model` in place from clean images `x` ([0, 1] NHWC), labels `y`.

    The epoch budget is `clean_config.epochs`; BURN's unlearner runs in BURN's stages: the
    first `config.phase1_epochs` with the probes alone, then a gate check before every
    `config.round_epochs`.
    """
    self_prior: SelfPrior | None = None
    if clean_config.shortcut and needs_own_check(config, target_prior, trigger_prior):
        with clock.phase("self-prior"):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            # No window search: it finds a patch by the poisoned samples it frees, and clean
            # data holds none.
            self_prior = own_target_check(
                model, x, y, num_classes, config, device, seed, window=False
            )
        target_prior = self_prior.target
    unlearner = make_unlearner(model, x, config, device, generator, target_prior, trigger_prior)
    if self_prior is not None and self_prior.by == "warp":
        unlearner.warp_px, unlearner.warp = warp_px_for(config, x), True
    if not (clean_config.shortcut and unlearner.active):
        with clock.phase("clean-unlearning"):
            fallback = clean_unlearn(
                model,
                x,
                y,
                target=target_prior,
                config=clean_config,
                settings=config.train,
                device=device,
                generator=generator,
            )
        unlearning = {"self_prior": self_prior.to_dict() if self_prior is not None else None}
        return CleanResult(
            "universal", target_prior, clean_config.epochs, tuple(fallback), unlearning, self_prior
        )

    with clock.phase("gate0"):
        gate = UniversalGate(unlearner, x, y, config, generator)
    budget, used, stage = clean_config.epochs, 0.0, 0
    losses: list[float] = []
    while used < budget - 1e-9:
        epochs = min(config.phase1_epochs if stage == 0 else config.round_epochs, budget - used)
        if stage > 0:
            with clock.phase(f"gate{stage}"):
                gate.check(stage)
        name = "clean-unlearning" if stage == 0 else f"clean-unlearning{stage}"
        with clock.phase(name):
            losses += fine_tune(
                model,
                x,
                y,
                epochs=epochs,
                settings=config.train,
                device=device,
                generator=generator,
                augment=unlearner,
            )
        used += epochs
        stage += 1
    return CleanResult(
        "shortcut",
        unlearner.target,
        used,
        tuple(losses),
        unlearning_summary(unlearner, gate, self_prior),
        self_prior,
    )
