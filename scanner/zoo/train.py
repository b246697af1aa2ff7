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

from scanner.zoo.attacks import Attack

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
    """Optimiser settings: Adam under a one-cycle schedule.

    The schedule matters at this budget: on 20k Fashion-MNIST samples, four epochs at a constant
    1e-3 leave the small CNN at ~84%, one-cycle to 3e-3 reaches ~88%.
    """

    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0


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
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = (len(yt) + config.batch_size - 1) // config.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    gen = torch.Generator().manual_seed(seed)
    for _ in range(config.epochs):
        order = torch.randperm(len(yt), generator=gen).to(device)
        for i in range(0, len(order), config.batch_size):
            batch = order[i : i + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[batch]), yt[batch]).backward()
            opt.step()
            sched.step()
    model.eval()
    return time.perf_counter() - start


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
