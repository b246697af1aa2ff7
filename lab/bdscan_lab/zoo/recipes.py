"""Training recipes: how a zoo model was trained, named and recorded with it.

Third-party models come from every recipe there is; a detector fitted on one recipe learns that
recipe's boundaries as much as backdoors (issue 19: clean BatchNorm nets trained with SGD and a
cosine schedule were flagged, the same nets trained the zoo's way were not). Each recipe here is
a plain record of choices that published training scripts make: optimiser, schedule, weight
decay, augmentation, label smoothing, mixup, and how long. `default` is the zoo's original recipe
(Adam under one-cycle), so records built before recipes existed keep their keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["onecycle", "constant", "step", "cosine"]
AUGMENTATIONS = ("shift", "flip")


@dataclass(frozen=True)
class Recipe:
    """One training recipe. `epochs` replaces the architecture's default epoch count;
    `epoch_scale` multiplies it; `train_size` caps the training subset (long recipes train on part
    of the set to keep the build practical)."""

    name: str
    optimizer: Optimizer = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: Schedule = "onecycle"
    epochs: int | None = None
    epoch_scale: float = 1.0
    augment: tuple[str, ...] = ()
    label_smoothing: float = 0.0
    mixup: float = 0.0  # Beta(alpha, alpha) mixing; 0: off
    train_size: int | None = None
    batch_size: int = 128
    description: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.augment) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"recipe {self.name}: unknown augmentation {sorted(unknown)}")

    def epochs_for(self, default: int) -> int:
        return self.epochs if self.epochs is not None else max(1, round(default * self.epoch_scale))

    def params(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = list(self.augment)
        return d


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("default", description="Adam, one-cycle to 3e-3 (the zoo's original recipe)"),
        Recipe(
            "sgd_cosine",
            optimizer="sgd",
            lr=0.05,
            nesterov=True,
            weight_decay=5e-4,
            schedule="cosine",
            epoch_scale=2.0,
            augment=("shift",),
            description="SGD with Nesterov momentum, weight decay 5e-4, cosine, shifts",
        ),
        Recipe(
            "sgd_step",
            optimizer="sgd",
            lr=0.02,
            weight_decay=1e-4,
            schedule="step",
            epoch_scale=2.0,
            description="SGD with momentum, step decay x0.1 at 50% and 75%",
        ),
        Recipe(
            "adam_const",
            lr=1e-3,
            schedule="constant",
            epoch_scale=1.5,
            description="Adam at a constant 1e-3, no decay",
        ),
        Recipe(
            "adamw_smooth",
            optimizer="adamw",
            lr=2e-3,
            weight_decay=0.05,
            schedule="cosine",
            label_smoothing=0.1,
            augment=("shift", "flip"),
            description="AdamW, cosine, label smoothing 0.1, shifts and flips",
        ),
        Recipe(
            "mixup",
            optimizer="sgd",
            lr=0.05,
            weight_decay=5e-4,
            schedule="cosine",
            epoch_scale=2.0,
            mixup=0.2,
            description="SGD, cosine, mixup (alpha 0.2)",
        ),
        Recipe(
            "under",
            epochs=1,
            lr=1e-3,
            schedule="constant",
            description="under-trained: one epoch of Adam at 1e-3",
        ),
        Recipe(
            "long",
            lr=1e-3,
            schedule="constant",
            epochs=30,
            train_size=4000,
            description="over-trained: 30 epochs of Adam on 4,000 samples (memorises them)",
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown recipe {name!r}; expected one of {', '.join(sorted(RECIPES))}"
        ) from None
