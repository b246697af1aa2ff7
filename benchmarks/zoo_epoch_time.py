"""Seconds per training epoch of each zoo architecture on 20,000 28x28 images (random tensors:
the cost of a step does not depend on the pixels), SGD with momentum, batch 128.

    python benchmarks/zoo_epoch_time.py [--threads 2] [--steps 8]
"""

from __future__ import annotations

import argparse
import time

import torch

from bdscan_lab.zoo.architectures import ARCHITECTURES, make_model

EPOCH_SAMPLES = 20_000
BATCH = 128


def _step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for arch in ARCHITECTURES:
        torch.manual_seed(0)
        model = make_model(arch).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
        _step(model, opt, x, y)
        _step(model, opt, x, y)  # warm-up
        start = time.perf_counter()
        for _ in range(args.steps):
            _step(model, opt, x, y)
        per_sample = (time.perf_counter() - start) / (args.steps * BATCH)
        params = sum(p.numel() for p in model.parameters())
        print(f"{arch:10s} {params:9,d} parameters  {per_sample * EPOCH_SAMPLES:6.1f} s per epoch")


if __name__ == "__main__":
    main()
