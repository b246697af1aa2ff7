"""Training and evaluation of zoo models: clean accuracy (ACC), attack success (ASR), robust
accuracy (RA), with the BackdoorBench definitions (ALGORITHMS.md, "Metrics").

Models take normalised NCHW float input; data stays uint8 (N, H, W[, C]) until `to_tensor`.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bdscan_lab.zoo.attacks import Attack
from bdscan_lab.zoo.recipes import Recipe

# Two threads on the two-core machines this runs on. Where the cores are shared with other busy
# processes, BDSCAN_ZOO_THREADS=1 is faster: measured for ResNet-8 at a load average of ~8, one
# thread took 5-11 s of wall time per epoch of 3,000 images, two threads 33-36 s (and 5-10x the
# CPU time), because OpenMP threads wait for each other whenever one is descheduled.
DEFAULT_THREADS = 2


def seed_everything(seed: int, threads: int | None = None) -> None:
    """Seed Python, numpy and torch, and pin torch's CPU threads, for reproducible training."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    n = threads or int(os.environ.get("BDSCAN_ZOO_THREADS", DEFAULT_THREADS))
    torch.set_num_threads(n)


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser settings; the defaults are the zoo's original recipe, Adam under one-cycle.

    The schedule matters at this budget: on 20k Fashion-MNIST samples, four epochs at a constant
    1e-3 leave the small CNN at ~84%, one-cycle to 3e-3 reaches ~88%. Other recipes
    (lab/bdscan_lab/zoo/recipes.py) set the rest.
    """

    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam, adamw, sgd
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "onecycle"  # onecycle, constant, step, cosine
    augment: tuple[str, ...] = ()  # shift (up to 2 px), flip (horizontal)
    label_smoothing: float = 0.0
    mixup: float = 0.0

    @classmethod
    def from_recipe(cls, recipe: Recipe, epochs: int) -> TrainConfig:
        return cls(
            epochs=epochs,
            batch_size=recipe.batch_size,
            lr=recipe.lr,
            weight_decay=recipe.weight_decay,
            optimizer=recipe.optimizer,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            schedule=recipe.schedule,
            augment=recipe.augment,
            label_smoothing=recipe.label_smoothing,
            mixup=recipe.mixup,
        )


@dataclass(frozen=True)
class Metrics:
    """ACC on clean test data; ASR and RA on triggered test inputs (see `evaluate`)."""

    clean_acc: float
    asr: float | None
    ra: float | None
    n_test: int
    n_triggered: int


def to_tensor(
    images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...], device: str = "cpu"
) -> torch.Tensor:
    """Normalised NCHW float32 tensor from uint8 (or [0,1] float) NHW/NHWC images."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    m = np.asarray(mean, dtype=np.float32).reshape(1, 1, 1, -1)
    s = np.asarray(std, dtype=np.float32).reshape(1, 1, 1, -1)
    x = (x - m) / s
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)


def train_model(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    config: TrainConfig,
    seed: int,
    device: str = "cpu",
) -> float:
    """Train `model` in place (cross-entropy, `config`); returns the wall-clock seconds."""
    seed_everything(seed)
    start = time.perf_counter()
    xt = to_tensor(x, mean, std, device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    model.to(device).train()
    opt = _optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    steps_per_epoch = (len(yt) + config.batch_size - 1) // config.batch_size
    sched = _schedule(opt, config, config.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(config.epochs):
        order = torch.randperm(len(yt), generator=gen).to(device)
        for i in range(0, len(order), config.batch_size):
            batch = order[i : i + config.batch_size]
            xb, yb = _augment(xt[batch], config.augment, gen), yt[batch]
            opt.zero_grad(set_to_none=True)
            if config.mixup > 0:
                lam = float(np.random.default_rng(int(torch.randint(1 << 30, (1,), generator=gen)))
                            .beta(config.mixup, config.mixup))  # fmt: skip
                perm = torch.randperm(len(yb), generator=gen).to(device)
                out = model(lam * xb + (1 - lam) * xb[perm])
                loss = lam * loss_fn(out, yb) + (1 - lam) * loss_fn(out, yb[perm])
            else:
                loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return time.perf_counter() - start


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, wd = model.parameters(), config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=wd)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
            weight_decay=wd,
        )  # fmt: skip
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def _schedule(
    opt: torch.optim.Optimizer, config: TrainConfig, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    sched = torch.optim.lr_scheduler
    if config.schedule == "onecycle":
        return sched.OneCycleLR(opt, max_lr=config.lr, total_steps=total)
    if config.schedule == "constant":
        return sched.LambdaLR(opt, lambda _: 1.0)
    if config.schedule == "step":
        return sched.MultiStepLR(opt, milestones=[total // 2, (3 * total) // 4], gamma=0.1)
    if config.schedule == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=max(1, total))
    raise ValueError(f"unknown schedule {config.schedule!r}")


# Shifts move the image by up to this many pixels, edges repeated (the usual pad-and-crop).
MAX_SHIFT = 2


def _augment(x: torch.Tensor, augment: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and integer shifts, drawn per sample from `gen`."""
    if not augment:
        return x
    n = x.shape[0]
    if "flip" in augment:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if "shift" in augment:
        h, w = x.shape[2], x.shape[3]
        pad = torch.nn.functional.pad(x, (MAX_SHIFT,) * 4, mode="replicate")
        dy = torch.randint(0, 2 * MAX_SHIFT + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * MAX_SHIFT + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (n, h)
        cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # (n, w)
        idx = torch.arange(n, device=x.device)[:, None, None]
        x = pad.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return x.contiguous()


@torch.no_grad()
def predict(
    model: nn.Module,
    images: np.ndarray,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 2000,
    device: str = "cpu",
) -> np.ndarray:
    """Predicted labels (int64) for uint8 or [0,1] images; restores the model's training flag."""
    was_training = model.training
    model.eval()
    try:
        out = [
            model(to_tensor(images[i : i + batch_size], mean, std, device)).argmax(1).cpu()
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def triggered_test_set(
    attack: Attack, x: np.ndarray, y: np.ndarray, target: int | None, num_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(triggered inputs, true labels, backdoor labels) of the ASR set.

    All-to-one: test inputs whose true label is not the target (they could not show a flip
    otherwise). All-to-all: every test input, with backdoor label (y + 1) mod C.
    """
    keep = np.ones(len(y), dtype=bool) if attack.all_to_all else np.asarray(y) != target
    y_true = np.asarray(y, dtype=np.int64)[keep]
    return attack.apply(x[keep]), y_true, attack.target_labels(y_true, target, num_classes)


def evaluate(
    model: nn.Module,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    attack: Attack | None = None,
    target: int | None = None,
    num_classes: int = 10,
    device: str = "cpu",
) -> Metrics:
    """ACC on (x_test, y_test); with an attack, ASR (triggered inputs classified as the backdoor
    label) and RA (triggered inputs classified as their true label)."""
    acc = float(np.mean(predict(model, x_test, mean=mean, std=std, device=device) == y_test))
    if attack is None:
        return Metrics(acc, None, None, len(y_test), 0)
    x_trig, y_true, y_bd = triggered_test_set(attack, x_test, y_test, target, num_classes)
    pred = predict(model, x_trig, mean=mean, std=std, device=device)
    return Metrics(
        acc, float(np.mean(pred == y_bd)), float(np.mean(pred == y_true)), len(y_test), len(y_true)
    )
