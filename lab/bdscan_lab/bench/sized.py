"""ONNX classifiers of realistic sizes, random weights, for throughput figures (issue 27).

Throughput does not depend on what a model has learnt, so random weights are enough here; a
verdict on these models means nothing and no benchmark reports one. Two families:
- the zoo's architectures at 28x28x1, 10 classes (the shapes the zoo's verdicts come from);
- He et al.'s ResNet-18 and Sandler et al.'s MobileNetV2 at 32, 64 and 224 px, three channels,
  10 and 100 classes (below 64 px the CIFAR variants: no stride in the stem, no max-pool).

`bdscan bench models --out DIR` writes them; `bdscan bench throughput DIR/*.onnx` measures them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bdscan_lab.zoo.architectures import ARCHITECTURES, _BasicBlock, make_model

SIZES = (32, 64, 224)
CLASSES = (10, 100)
OPSET = 17


class ResNet18(nn.Module):
    """[2, 2, 2, 2] basic blocks, 64-512 channels (11.2 M parameters at 10 classes)."""

    def __init__(self, size: int, num_classes: int = 10) -> None:
        super().__init__()
        if size >= 64:
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(64),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()
            )
        blocks: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class _InvertedResidualV2(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """Width 1.0: the paper's (t, c, n, s) table, 1280 features (2.2 M parameters at 10)."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
    SETTINGS += ((6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, size: int, num_classes: int = 10) -> None:
        super().__init__()
        small = size < 64
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 1 if small else 2)]
        cin = 32
        for i, (t, c, n, s) in enumerate(self.SETTINGS):
            stride = 1 if small and i == 1 else s
            for k in range(n):
                layers.append(_InvertedResidualV2(cin, c, stride if k == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, 1280, 1, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


@dataclass(frozen=True)
class SizedModel:
    name: str
    model: nn.Module
    channels: int
    size: int

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def sized_models(
    sizes: tuple[int, ...] = SIZES, classes: tuple[int, ...] = CLASSES, zoo: bool = True
) -> Iterator[SizedModel]:
    """Each model built in turn from a fixed seed (so a rerun writes the same weights)."""
    if zoo:
        for arch in ARCHITECTURES:
            torch.manual_seed(0)
            yield SizedModel(f"zoo_{arch}_28", make_model(arch).eval(), 1, 28)
    for factory, family in ((ResNet18, "resnet18"), (MobileNetV2, "mobilenetv2")):
        for size in sizes:
            for k in classes:
                torch.manual_seed(0)
                yield SizedModel(f"{family}_{size}px_{k}c", factory(size, k).eval(), 3, size)


def export(m: SizedModel, path: Path) -> None:
    """Legacy exporter, dynamic batch, NCHW float input named 'input', scores 'logits'."""
    example = torch.zeros(1, m.channels, m.size, m.size)
    tmp = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            m.model,
            (example,),
            str(tmp),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            opset_version=OPSET,
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    tmp.replace(path)
