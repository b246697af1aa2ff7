"""Shared plumbing for the remediation methods: seeds, devices, batched inference, fine-tuning
loops and per-phase time / peak-memory accounting."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scanner.errors import UsageError


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch from one integer; return a CPU generator for data order.

    Every random choice in remediation (shuffles, attack starts, held-out splits) flows from
    this one seed, so a run is repeatable on the same device.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cpu' or 'cuda[:n]' as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UsageError(f"--device: expected auto, cpu or cuda, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to PyTorch here")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device: expected auto, cpu or cuda, got {device!r}")
    return dev


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode for the duration, then the caller's mode back."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def predict_scores(
    model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int = 512
) -> np.ndarray:
    """Class scores (float32, (N, K)) for [0, 1] NHWC images."""
    out = []
    with eval_mode(model), torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[i : i + batch_size]).to(device)
            out.append(model(xb).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def predict_labels(
    model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int = 512
) -> np.ndarray:
    return predict_scores(model, x, device, batch_size).argmax(1).astype(np.int64)


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser settings shared by every method, so comparisons are at equal effort."""

    # Why 5e-4: at 1e-3 plain fine-tuning alone cost cnn_sig_t6 a point of clean accuracy in
    # 8 epochs (0.855 -> 0.845), and BURN up to 4 (Adaptive-Blend); at 5e-4 BURN's unlearning
    # still removed every backdoor measured (benchmarks/bench_burn.py).
    lr: float = 5e-4
    batch_size: int = 128
    weight_decay: float = 0.0


def fine_tune(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: float,
    settings: TrainSettings,
    device: torch.device,
    generator: torch.Generator,
    sample_weight: np.ndarray | None = None,
    augment: Any = None,
) -> list[float]:
    """Cross-entropy fine-tuning with Adam in place; returns the mean loss per epoch.

    The model stays in eval mode while it trains: converted graphs carry no dropout, and frozen
    BatchNorm statistics keep a small or relabelled fine-tuning set from shifting them (this also
    keeps fixed-batch graphs vmappable). `epochs` may be fractional (a share of one pass).
    `augment(xb, yb) -> (xb, yb)` may extend each batch (used by the unlearning baselines).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UsageError("the converted model has no trainable parameters")
    opt = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.int64))
    wt = torch.from_numpy(sample_weight.astype(np.float32)) if sample_weight is not None else None
    n = len(yt)
    steps_total = round(epochs * max(1, -(-n // settings.batch_size)))
    losses: list[float] = []
    step = 0
    with eval_mode(model):
        while step < steps_total:
            order = torch.randperm(n, generator=generator)
            total, count = 0.0, 0
            for i in range(0, n, settings.batch_size):
                if step >= steps_total:
                    break
                idx = order[i : i + settings.batch_size]
                xb, yb = xt[idx].to(device), yt[idx].to(device)
                wb = wt[idx].to(device) if wt is not None else None
                if augment is not None:
                    xb, yb, wb = augment(xb, yb, wb)
                loss_each = nn.functional.cross_entropy(model(xb), yb, reduction="none")
                loss = (loss_each * wb).sum() / wb.sum() if wb is not None else loss_each.mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(yb)
                count += len(yb)
                step += 1
            losses.append(total / max(count, 1))
    return losses


# ---------------------------------------------------------------------------------------------
# Time and memory per phase


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        # No procfs: the process-wide peak is the best available figure.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class PhaseStats:
    """Wall time and peak memory of one phase.

    `peak_rss_mb`: the process's resident set (/proc/self/statm), sampled every 10 ms during the
    phase (it includes the model and data already loaded); `rss_growth_mb`: that peak less the
    resident set when the phase began, the memory the phase itself added (0 when it reused
    memory freed earlier). `peak_device_mb`: torch's peak allocation on a CUDA device during the
    phase; None on CPU.
    """

    name: str
    seconds: float
    peak_rss_mb: float
    peak_device_mb: float | None
    rss_growth_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PhaseClock:
    """Collects PhaseStats; use `with clock.phase("name"):` around each phase."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.phases: list[PhaseStats] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start_rss = _rss_bytes()
        peak = [start_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.01):
                peak[0] = max(peak[0], _rss_bytes())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            stop.set()
            thread.join()
            peak[0] = max(peak[0], _rss_bytes())
            dev_mb = None
            if self.device.type == "cuda":
                dev_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
            self.phases.append(
                PhaseStats(
                    name,
                    round(seconds, 3),
                    peak[0] / 2**20,
                    dev_mb,
                    round((peak[0] - start_rss) / 2**20, 1),
                )
            )

    def total_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)
