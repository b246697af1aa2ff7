"""Small image classifiers for the zoo, each fast to train on two CPU cores.

All take normalised NCHW float input; the export wrappers (export.py) add layout, dtype and
normalisation conventions around them. Architectures differ on purpose (pooling vs. strides,
BatchNorm vs. none, convolution vs. none), because the scanner's statistics must not depend on
the architecture.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Two 3x3 convolutions with max-pooling, two fully connected layers (~0.1M parameters)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * (size // 4) ** 2, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling, the common modern variant."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = (size // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet8(nn.Module):
    """ResNet-8: a stem, three basic blocks (16/32/64 channels), global pooling, one linear layer.

    The stem has stride 2 (28 -> 14) so that a few epochs fit in the zoo's time budget on CPU.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        del size  # global pooling makes the head independent of the input size
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
        )
        self.layers = nn.Sequential(
            _BasicBlock(16, 16, 1), _BasicBlock(16, 32, 2), _BasicBlock(32, 64, 2)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class MLP(nn.Module):
    """A two-hidden-layer perceptron on the flattened image."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * size * size, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyCNN(nn.Module):
    """A few-hundred-parameter CNN for the committed convention fixtures (files of a few KB)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        del size
        # Global pooling (output size 1) keeps the legacy exporter happy for any input size.
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "cnn": SmallCNN,
    "lenet": LeNet5,
    "resnet8": ResNet8,
    "mlp": MLP,
    "tiny": TinyCNN,
}


def make_model(arch: str, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """A freshly initialised `arch` (seed torch first for reproducible weights)."""
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    return factory(in_channels=in_channels, num_classes=num_classes, size=size)
