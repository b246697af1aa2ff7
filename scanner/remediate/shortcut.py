"""BURN's shortcut unlearning, as BURN and the clean-data-only mode run it.

- `needs_own_check` / `own_target_check`: BURN's own target check when X-ray gave none (a
  universal perturbation and a universal warp per class, `prior.find_target`, then the
  saliency-window search, `window.search_window`); `locate_window`: that search for a given
  target alone;
- `make_unlearner`: the batch hook that stamps triggers (X-ray's probes, the own check's
  transplanted window, the synthesized perturbation and warp) on part of each batch;
- `UniversalGate`: switches the synthesized triggers on fresh measurements;
- `unlearning_summary`: what ran, for the report.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.remediate.config import BurnConfig
from scanner.remediate.prior import (
    SelfPrior,
    ShortcutUnlearner,
    Trigger,
    TriggerPrior,
    find_target,
    probe_triggers,
)
from scanner.remediate.runtime import predict_scores
from scanner.remediate.window import (
    PatchWindow,
    WindowSearch,
    locate_by_occlusion,
    search_window,
)


def needs_own_check(
    config: BurnConfig, target_prior: int | None, trigger_prior: TriggerPrior | None
) -> bool:
    """Whether BURN looks for a target itself: no target from X-ray, and no all-to-all report
    (an `infected` verdict, or a report without one, with probes but no single target), which is
    left as X-ray read it. A `shortcut` or `clean` report's probes name no target: the
    check runs (a WaNet read as a shortcut to a natural sink kept 0.46 attack success without)."""
    return config.self_prior and target_prior is None and not reads_all_to_all(trigger_prior)


def reads_all_to_all(trigger_prior: TriggerPrior | None) -> bool:
    """Whether a scan report reads all-to-all: probes but no single target, under an `infected`
    verdict (or a report without one). A `clean` or `shortcut` report without a target is no
    such read: X-ray found no planted trigger there."""
    return (
        trigger_prior is not None
        and trigger_prior.target is None
        and bool(trigger_prior.probes)
        and trigger_prior.verdict in (None, "infected")
    )


def own_target_check(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    config: BurnConfig,
    device: torch.device,
    seed: int,
    window: bool = True,
) -> SelfPrior:
    """BURN's own target check: `prior.find_target` with `config`'s self-prior settings, then,
    when neither its perturbation nor its warp found a target and `window` (and
    `config.self_prior_window`) allow, the saliency-window search (`window.search_window`)."""
    found = find_target(
        model,
        x,
        y,
        num_classes,
        eps=config.self_prior_eps,
        warp_px=warp_px_for(config, x),
        samples=config.self_prior_samples,
        min_rate=config.self_prior_min,
        min_warp_rate=config.self_prior_warp_min,
        ratio=config.self_prior_ratio,
        device=device,
        seed=seed,
    )
    if found.target is not None or not (window and config.self_prior_window):
        return found
    pred = predict_scores(model, x, device, batch_size=config.attack_batch).argmax(1)
    search = search_window(
        model, x, y, pred, num_classes, device=device, seed=seed, **window_settings(config)
    )
    hit: PatchWindow | None = search.window
    if hit is None:
        return replace(found, search=search)
    return replace(found, search=search, target=hit.target, by="window")


def locate_window(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    target: int,
    num_classes: int,
    config: BurnConfig,
    device: torch.device,
    seed: int,
) -> WindowSearch:
    """Where, if anywhere, a given target's training samples hang on a few pixels
    (`window.locate_by_occlusion`, the own check's window bars). A scan's prior names the label,
    but its stamp can sit elsewhere than the poison's (a checkerboard found in the top corner for
    one planted in the bottom corner): the window read from the training data says where to
    occlude."""
    return locate_by_occlusion(
        model, x, y, pred, target, num_classes, device=device, seed=seed, **window_settings(config)
    )


def window_settings(config: BurnConfig) -> dict[str, Any]:
    """The window searches' sizes, sample count and bars from `config` (both searches read the
    same ones: a located window passes the bars the own check's does)."""
    return {
        "sizes": config.window_sizes,
        "samples": config.window_samples,
        "min_share": config.window_min_share,
        "min_spread": config.window_min_spread,
        "min_confidence": config.occlusion_min_confidence,
    }


def warp_px_for(config: BurnConfig, x: np.ndarray) -> float | None:
    """`universal_warp_px`, given at 28x28, scaled to the images' size."""
    if config.universal_warp_px is None:
        return None
    return config.universal_warp_px * min(int(x.shape[1]), int(x.shape[2])) / 28


def make_unlearner(
    model: nn.Module,
    x: np.ndarray,
    config: BurnConfig,
    device: torch.device,
    generator: torch.Generator,
    target_prior: int | None,
    trigger_prior: TriggerPrior | None,
    extra_triggers: list[Trigger] | None = None,
) -> ShortcutUnlearner:
    """The batch hook for shortcut unlearning, aimed at the best-known target.

    Target: X-ray's (`--target-label`), else the scan report's, else BURN's own check's; none
    in X-ray's all-to-all case, where every sample may be stamped. With no target and no X-ray
    prior at all, shortcut unlearning stays off and BURN only relabels. Why: unlearning
    towards a guessed class costs accuracy for nothing. `extra_triggers` (the own check's
    transplanted window) count as probes do.
    """
    shape = tuple(int(v) for v in x.shape[1:])
    target = target_prior
    if target is None and trigger_prior is not None:
        target = trigger_prior.target
    triggers = probe_triggers(trigger_prior, shape) if trigger_prior is not None else []  # type: ignore[arg-type]
    triggers += extra_triggers or []
    # Why only with a target: untargeted (X-ray's all-to-all case) it is plain adversarial
    # training, and cost the all-to-all BadNets model 2 points (0.866 -> 0.845) for no gain
    # in ASR. Beside probes it runs at a smaller radius (see `universal_eps_with_probes`).
    universal = config.universal and target is not None
    eps = config.universal_eps
    if triggers:
        universal = universal and config.universal_eps_with_probes is not None
        eps = config.universal_eps_with_probes or eps
    share = config.unlearn_share if (target is not None or trigger_prior is not None) else 0.0
    return ShortcutUnlearner(
        model,
        shape=shape,  # type: ignore[arg-type]
        target=target,
        triggers=triggers,
        share=share,
        universal=universal,
        eps=eps,
        steps=config.universal_steps,
        step_size=config.universal_step_size,
        device=device,
        seed=int(torch.randint(2**31 - 1, (1,), generator=generator)),
        warp_px=warp_px_for(config, x) if triggers and target is not None else None,
        refit_every=config.universal_refit_every,
        secondary=(
            probe_triggers(trigger_prior, shape, secondary=True)  # type: ignore[arg-type]
            if trigger_prior is not None
            else []
        ),
    )


class UniversalGate:
    """Switches the synthesized triggers beside X-ray's probes (`BurnConfig.universal_gate`):
    the universal perturbation and the universal warp, each on its own fresh measurement, and
    (`gate_latch`) kept on once switched on.

    Why: beside probes that already match the trigger (SIG's grating) the perturbation finds no
    shortcut left, only adversarial directions, and training on them cost a LeNet 2.8 points of
    clean accuracy; where the probes miss the trigger (a random-noise blend, a warp) a fresh
    perturbation still finds the target and the gate turns it on.
    """

    def __init__(
        self,
        unlearner: ShortcutUnlearner,
        x: np.ndarray,
        y: np.ndarray,
        config: BurnConfig,
        generator: torch.Generator,
    ) -> None:
        self.unlearner = unlearner
        self.gate = config.universal_gate
        self.latch = config.gate_latch
        self.screen = config.universal_screen_samples
        self.screen_max = config.universal_screen_max
        self.checks: list[dict[str, Any]] = []
        self.enabled = (
            self.gate is not None
            and unlearner.universal_allowed
            and bool(unlearner.triggers)
            and unlearner.target is not None
        )
        if not self.enabled:
            return
        pool = np.flatnonzero(y != unlearner.target)
        order = torch.randperm(len(pool), generator=generator).numpy()
        self.sample = x[pool[order[: config.universal_check_samples]]]
        unlearner.universal = False  # phase 1: the probes alone
        if config.gate_warp_at_start and unlearner.warp_px is not None:
            self.check(0, only="warp")

    def check(self, stage: int, only: str | None = None) -> None:
        """Measure and switch the synthesized triggers before `stage` (`only`: just that one)."""
        if not self.enabled:
            return
        gate = float(self.gate)  # type: ignore[arg-type]
        un = self.unlearner
        check: dict[str, Any] = {"stage": stage}
        # A latched trigger needs no new measurement (None in the report): it stays on anyway.
        kinds = [("universal", "residual", un.residual_shortcut)]
        if un.warp_px is not None:
            kinds.append(("warp", "residual_warp", un.residual_warp))
        for kind, key, measure in kinds:
            if only is not None and kind != only:
                continue
            if self.latch and getattr(un, kind):
                check[key] = None
                continue
            screened = False
            if self.screen < len(self.sample):
                rate = measure(self.sample[: self.screen])
                screened = rate < self.screen_max
                if screened:
                    check[f"{key}_screen"] = round(rate, 4)
            if not screened:
                rate = measure(self.sample)
            setattr(un, kind, not screened and rate >= gate)
            check[key] = None if screened else round(rate, 4)
        check.update(universal=un.universal, warp=un.warp)
        self.checks.append(check)


def unlearning_summary(
    unlearner: ShortcutUnlearner, gate: UniversalGate, self_prior: SelfPrior | None
) -> dict[str, Any]:
    """The report's `extra.unlearning`: what shortcut unlearning ran, and the gate's checks."""
    return {
        "target": unlearner.target,
        "probe_triggers": len(unlearner.triggers),
        "secondary_triggers": len(unlearner.secondary),
        "universal": unlearner.universal_allowed,
        "warp_px": unlearner.warp_px,
        "stamped": unlearner.stamped,
        "share": unlearner.share if unlearner.active else 0.0,
        "universal_checks": gate.checks,
        "self_prior": self_prior.to_dict() if self_prior is not None else None,
    }
