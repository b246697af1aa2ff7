"""A ResNet-18-sized RGB classifier scanned end to end at 32 and 224 px (issue 24 / issue 27).

Random weights: this measures that the whole path works at these shapes (export, parse, the
worker, probes and planes scaled to the image, the report) and what a scan costs, never a
verdict; a verdict on random weights means nothing and none is reported as one. The data is
real: the examples' Fashion-MNIST samples resized (bilinear) to the model's size and repeated
over three channels, normalised per channel by --mean/--std as a user's RGB model would be.

    .venv/bin/python benchmarks/resnet18_scan.py --size 32 --planes 2 --resolution 20
    .venv/bin/python benchmarks/resnet18_scan.py --size 224 --planes 1 --resolution 5

Prints one line per run: size, parameters, ONNX bytes, queries, seconds, labels per second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bdscan_lab.bench.sized import ResNet18

REPO = Path(__file__).resolve().parents[1]

MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10's, the usual per-channel normalisation
STD = (0.2470, 0.2435, 0.2616)


def export(size: int, path: Path) -> int:
    torch.manual_seed(0)
    model = ResNet18(size).eval()
    example = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    return sum(p.numel() for p in model.parameters())


def rgb_data(size: int, path: Path, per_class: int) -> None:
    """The examples' Fashion-MNIST samples at `size` px, three channels, pixel values in [0, 1]."""
    src = np.load(REPO / "examples" / "data" / "fmnist_clean.npz")
    x, y = src["x"].astype(np.float32), src["y"]
    if x.max() > 1.0:
        x = x / 255.0
    keep = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)])
    t = torch.from_numpy(x[keep])[:, None]
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    rgb = t.clamp(0, 1).repeat(1, 3, 1, 1).permute(0, 2, 3, 1).numpy()  # NHWC, as .npz takes
    np.savez(path, x=rgb, y=y[keep])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--planes", type=int, default=2)
    parser.add_argument("--resolution", type=int, default=20)
    parser.add_argument("--per-class", type=int, default=10, help="samples per class")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bdscan-resnet18-") as tmp:
        model, data, report = Path(tmp, "resnet18.onnx"), Path(tmp, "d.npz"), Path(tmp, "r.json")
        params = export(args.size, model)
        rgb_data(args.size, data, args.per_class)
        cmd = [sys.executable, "-m", "scanner", "scan", str(model), "--data", str(data)]
        cmd += ["--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]
        cmd += ["--planes", str(args.planes), "--resolution", str(args.resolution)]
        cmd += ["--device", args.device, "--no-cache", "--quiet", "--json", str(report)]
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - started
        if done.returncode not in (0, 1):
            print(done.stderr.strip(), file=sys.stderr)
            return done.returncode
        doc = json.loads(report.read_text())
        queries = doc["xray"]["queries"]
        print(
            f"ResNet-18 {args.size}x{args.size}x3: {params:,} parameters,"
            f" {model.stat().st_size / 2**20:.1f} MiB ONNX, planes {args.planes} x"
            f" resolution {args.resolution}: {queries:,} queries in {seconds:.1f} s"
            f" ({queries / seconds:,.0f} labels/s end to end, process start included),"
            f" provider {doc['model'].get('provider', '?')}, exit {done.returncode}"
            " (random weights: no verdict is meant)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
