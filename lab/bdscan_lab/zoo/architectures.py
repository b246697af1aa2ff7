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


class _ResidualNet(nn.Module):
    """The skeleton the residual nets share: a stride-2 stem (conv, norm, ReLU), residual
    blocks, global pooling and one linear layer. `blocks` is called after the stem exists, so
    that parameters are initialised in the order the nets always used (seeded builds repeat)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        stem_width: int,
        norm: Callable[[int], nn.Module],
        blocks: Callable[[], list[nn.Module]],
        out_width: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, stride=2, padding=1, bias=False),
            norm(stem_width),
            nn.ReLU(),
        )
        self.layers = nn.Sequential(*blocks())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out_width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class ResNet8(_ResidualNet):
    """ResNet-8: a stem, three basic blocks (16/32/64 channels), global pooling, one linear layer.

    The stem has stride 2 (28 -> 14) so that a few epochs fit in the zoo's time budget on CPU.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        del size  # global pooling makes the head independent of the input size
        super().__init__(
            in_channels,
            num_classes,
            16,
            nn.BatchNorm2d,
            lambda: [_BasicBlock(16, 16, 1), _BasicBlock(16, 32, 2), _BasicBlock(32, 64, 2)],
            64,
        )


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


# --- architectures from outside the original zoo (issue 19): BatchNorm in every common place,
# GroupNorm, squeeze-excitation, depthwise convolutions and attention -------------------------


class _InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 linear projection, each with BN."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetSmall(nn.Module):
    """A MobileNetV2-style net (Sandler et al. 2018): a strided stem, five inverted residual
    blocks (16-24-24-32-48 channels, expansion 4), global pooling, one linear layer."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        del size
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU6(),
        )
        self.blocks = nn.Sequential(
            _InvertedResidual(16, 16, 1, 4),
            _InvertedResidual(16, 24, 2, 4),
            _InvertedResidual(24, 24, 1, 4),
            _InvertedResidual(24, 32, 2, 4),
            _InvertedResidual(32, 48, 1, 4),
        )
        self.head = nn.Sequential(nn.Conv2d(48, 96, 1, bias=False), nn.BatchNorm2d(96), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.head(self.blocks(self.stem(x)))), 1))


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class VGGBN(nn.Module):
    """A VGG-style net with BatchNorm (Simonyan & Zisserman 2015; Ioffe & Szegedy 2015): three
    stages of 3x3 conv-BN-ReLU (32, 64, 128 channels) with max-pooling, a flattening
    fully connected head with dropout."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, 32),
            *_conv_bn_relu(32, 32),
            nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            *_conv_bn_relu(64, 64),
            nn.MaxPool2d(2),
            *_conv_bn_relu(64, 128),
            nn.MaxPool2d(2),
        )
        side = size // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * side * side, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class ResNet14Wide(_ResidualNet):
    """A wider, deeper ResNet: a strided stem and three stages of two basic blocks
    (32, 64, 128 channels), 14 weight layers, about 0.7M parameters."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        del size
        super().__init__(
            in_channels,
            num_classes,
            32,
            nn.BatchNorm2d,
            lambda: [
                _BasicBlock(32, 32, 1),
                _BasicBlock(32, 32, 1),
                _BasicBlock(32, 64, 2),
                _BasicBlock(64, 64, 1),
                _BasicBlock(64, 128, 2),
                _BasicBlock(128, 128, 1),
            ],
            128,
        )


class _SEBlock(_BasicBlock):
    """A basic block whose residual branch is rescaled per channel by squeeze-excitation
    (Hu et al. 2018): global pooling, a bottleneck of two linear layers, a sigmoid gate."""

    def __init__(self, cin: int, cout: int, stride: int, reduction: int = 4) -> None:
        super().__init__(cin, cout, stride)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(cout, cout // reduction),
            nn.ReLU(),
            nn.Linear(cout // reduction, cout),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out * self.gate(out)[:, :, None, None]
        return torch.relu(out + self.shortcut(x))


class SENet(_ResidualNet):
    """ResNet-8's layout (16/32/64 channels) with squeeze-excitation in every block."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        del size
        super().__init__(
            in_channels,
            num_classes,
            16,
            nn.BatchNorm2d,
            lambda: [_SEBlock(16, 16, 1), _SEBlock(16, 32, 2), _SEBlock(32, 64, 2)],
            64,
        )


GN_GROUPS = 4


class _GNBlock(nn.Module):
    """A basic block with GroupNorm (Wu & He 2018) in place of BatchNorm."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.gn1 = nn.GroupNorm(GN_GROUPS, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(GN_GROUPS, cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.GroupNorm(GN_GROUPS, cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.gn1(self.conv1(x)))
        out = self.gn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def _group_norm(channels: int) -> nn.Module:
    return nn.GroupNorm(GN_GROUPS, channels)


class GNResNet(_ResidualNet):
    """ResNet-8's layout with GroupNorm: normalisation that does not depend on the batch."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> None:
        del size
        super().__init__(
            in_channels,
            num_classes,
            16,
            _group_norm,
            lambda: [_GNBlock(16, 16, 1), _GNBlock(16, 32, 2), _GNBlock(32, 64, 2)],
            64,
        )


class _Attention(nn.Module):
    """Multi-head self-attention written out in matmuls, which every exporter handles alike."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, 3D) -> three (B, heads, N, D/heads); unflatten needs no batch size.
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).flatten(2))


class _TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A small vision transformer (Dosovitskiy et al. 2021): 4x4 patches (7x7 tokens at 28 px),
    width 64, four pre-norm blocks of four heads, learned positions, mean-pooled tokens.
    No convolution after the patch embedding and LayerNorm only."""

    PATCH = 4

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        size: int = 28,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
    ) -> None:
        super().__init__()
        if size % self.PATCH:
            raise ValueError(f"expected an image size divisible by {self.PATCH}, got {size}")
        tokens = (size // self.PATCH) ** 2
        self.embed = nn.Conv2d(in_channels, dim, self.PATCH, stride=self.PATCH)
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*[_TransformerBlock(dim, heads, 2 * dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        return self.fc(self.norm(self.blocks(tokens)).mean(dim=1))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "cnn": SmallCNN,
    "lenet": LeNet5,
    "resnet8": ResNet8,
    "mlp": MLP,
    "tiny": TinyCNN,
    "mobilenet": MobileNetSmall,
    "vgg_bn": VGGBN,
    "resnet14w": ResNet14Wide,
    "senet": SENet,
    "gn_resnet": GNResNet,
    "vit": TinyViT,
}

# Architectures with a BatchNorm layer: the group the issue-19 false positives came from.
BATCHNORM_ARCHITECTURES = frozenset({"resnet8", "mobilenet", "vgg_bn", "resnet14w", "senet"})


def make_model(arch: str, in_channels: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """A freshly initialised `arch` (seed torch first for reproducible weights)."""
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    return factory(in_channels=in_channels, num_classes=num_classes, size=size)
