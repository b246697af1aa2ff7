"""The zoo itself: a declarative list of model specs, and the build that trains, evaluates,
exports and records each of them.

`build_zoo(out_dir)` writes, for every model, `<name>.onnx` and `<name>.json` (a `ZooRecord`), the
clean scan data sets `data/fmnist_test.npz` and `data/mnist_test.npz` (held-out test samples), and
`index.json`. Builds are resumable: a model whose record matches its spec is skipped. Nothing large
is stored: `poisoned_training_set` rebuilds a model's exact poisoned training set from its record.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bdscan_lab.zoo.attacks import PoisonedSet, make_attack
from bdscan_lab.zoo.datasets import DATASETS, INFO, load_dataset, stratified_subset
from bdscan_lab.zoo.recipes import get_recipe
from scanner.errors import DataError

ZOO_SCHEMA_VERSION = 1
MIN_ASR = 0.6  # below this a backdoor is retrained, then dropped: the zoo holds no failed attacks
SCAN_DATA_PER_CLASS = 100
_SCAN_DATA_SEED = 0

# Epochs per (data set, architecture): the fewest that reach ~88% on Fashion-MNIST (20k samples)
# and ~95% on the 4,000 MNIST training digits, to keep each model near 20-40 s on two cores.
DEFAULT_EPOCHS: dict[tuple[str, str], int] = {
    ("fmnist", "cnn"): 4,
    ("fmnist", "lenet"): 5,
    ("fmnist", "mlp"): 5,
    ("fmnist", "resnet8"): 3,
    ("mnist", "cnn"): 10,
    ("mnist", "lenet"): 12,
    ("mnist", "mlp"): 10,
    ("mnist", "resnet8"): 8,
    # The wild set's architectures (issue 19): BatchNorm nets converge in few epochs at this
    # size; the ViT needs more.
    ("fmnist", "mobilenet"): 3,
    ("fmnist", "vgg_bn"): 3,
    ("fmnist", "resnet14w"): 3,
    ("fmnist", "senet"): 3,
    ("fmnist", "gn_resnet"): 3,
    ("fmnist", "vit"): 5,
    ("mnist", "mobilenet"): 8,
    ("mnist", "vgg_bn"): 8,
    ("mnist", "resnet14w"): 8,
    ("mnist", "senet"): 8,
    ("mnist", "gn_resnet"): 8,
    ("mnist", "vit"): 12,
}


@dataclass(frozen=True)
class ModelSpec:
    """What to build: data, architecture, attack, export convention, seed.

    `attack` is "clean" or a name in attacks.ATTACKS; `trigger` holds its parameters. `seed` picks
    the training subset (numpy), the poisoned samples (seed + 1) and torch's initialisation.
    """

    name: str
    dataset: str = "fmnist"
    arch: str = "cnn"
    attack: str = "clean"
    target: int | None = None
    poison_rate: float = 0.0
    trigger: Mapping[str, Any] = field(default_factory=dict)
    convention: str = "nchw"
    exporter: str = "legacy"
    seed: int = 0
    train_size: int = 20000
    epochs: int | None = None  # None: the recipe's epochs for DEFAULT_EPOCHS
    set: str = "core"
    recipe: str = "default"  # a name in recipes.RECIPES

    @property
    def backdoored(self) -> bool:
        return self.attack != "clean"

    @property
    def effective_epochs(self) -> int:
        if self.epochs:
            return self.epochs
        return get_recipe(self.recipe).epochs_for(DEFAULT_EPOCHS[(self.dataset, self.arch)])

    @property
    def effective_train_size(self) -> int:
        cap = get_recipe(self.recipe).train_size
        return min(self.train_size, cap) if cap else self.train_size

    def key(self) -> str:
        """A hash of everything that changes the trained model: a stale record is rebuilt."""
        d = asdict(self)
        d.pop("set")
        d["trigger"] = dict(self.trigger)
        d["epochs"] = self.effective_epochs
        if self.recipe == "default":
            d.pop("recipe")  # keys of models built before recipes existed stay valid
        else:
            d["recipe"] = get_recipe(self.recipe).params()
            d["train_size"] = self.effective_train_size
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class ZooRecord:
    """The metadata of one built model (`<name>.json`).

    `mean`/`std` are what the scanner must be given (--mean/--std), null when it must pass
    nothing (uint8 input, or normalisation inside the graph). `seed`/`poison_rate` are the values
    actually used; they differ from `spec_seed`/`spec_poison_rate` when a weak attack was retrained.
    `status`: "ok", "retrained" (see `attempts`), or "dropped" (no .onnx written). `onnx` and
    `scan_data` are paths relative to the record's folder.
    """

    name: str
    set: str
    dataset: str
    arch: str
    attack: str
    backdoored: bool
    all_to_all: bool
    clean_label: bool
    target: int | None
    poison_rate: float
    trigger: dict[str, Any]
    convention: str
    convention_info: dict[str, Any]
    exporter: str
    opset: int | None
    seed: int
    spec_seed: int
    spec_poison_rate: float
    mean: list[float] | None
    std: list[float] | None
    train_mean: list[float]
    train_std: list[float]
    num_classes: int
    input_shape: list[int | None]
    clean_acc: float
    asr: float | None
    ra: float | None
    n_test: int
    n_triggered: int
    n_poisoned: int
    n_cover: int
    train_size: int
    epochs: int
    train_seconds: float
    status: str
    attempts: list[dict[str, Any]]
    note: str
    onnx: str | None
    onnx_sha256: str | None
    export_check: dict[str, Any] | None
    scan_data: str
    spec_key: str
    torch_version: str
    created: str
    schema_version: int = ZOO_SCHEMA_VERSION
    threads: int | None = None  # torch CPU threads during training (train_seconds depends on it)
    recipe: str = "default"
    recipe_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ZooRecord:
        return cls(**d)


def _fm(name: str, arch: str, attack: str = "clean", *, set: str = "core", **kw: Any) -> ModelSpec:
    return ModelSpec(name=name, dataset="fmnist", arch=arch, attack=attack, set=set, **kw)


def _mn(name: str, arch: str, attack: str = "clean", **kw: Any) -> ModelSpec:
    return ModelSpec(name=name, dataset="mnist", arch=arch, attack=attack, set="full", **kw)


# The core set (issue 2): every attack on the small CNN, the all-to-all BadNets, attacks on each
# other architecture, clean twins with 2+ seeds per architecture, conventions (a)-(f) and both
# exporters spread over it. Targets vary so a detector cannot learn "the target is 0".
CORE: tuple[ModelSpec, ...] = (
    _fm("cnn_clean_s0", "cnn", seed=0, convention="nchw"),
    _fm("cnn_clean_s1", "cnn", seed=1, convention="nhwc", exporter="dynamo"),
    _fm("cnn_clean_s2", "cnn", seed=2, convention="uint8_nhwc"),
    _fm("cnn_badnets_t0", "cnn", "badnets", target=0, poison_rate=0.05, seed=10),
    _fm("cnn_blended_t3", "cnn", "blended", target=3, poison_rate=0.05, seed=11,
        convention="nhwc"),
    _fm("cnn_sig_t6", "cnn", "sig", target=6, poison_rate=0.08, seed=12, convention="probs",
        exporter="dynamo"),
    _fm("cnn_wanet_t7", "cnn", "wanet", target=7, poison_rate=0.1, seed=13, convention="label"),
    _fm("cnn_trojan_t2", "cnn", "trojan", target=2, poison_rate=0.05, seed=14,
        convention="uint8_nhwc", exporter="dynamo"),
    _fm("cnn_lf_t8", "cnn", "lf", target=8, poison_rate=0.05, seed=15, convention="batch1"),
    _fm("cnn_adaptive_t4", "cnn", "adaptive_blend", target=4, poison_rate=0.05, seed=16,
        exporter="dynamo"),
    _fm("cnn_badnets_a2a", "cnn", "badnets_a2a", poison_rate=0.1, seed=17),
    _fm("lenet_clean_s0", "lenet", seed=0, convention="nchw"),
    _fm("lenet_clean_s1", "lenet", seed=1, convention="probs", exporter="dynamo"),
    _fm("lenet_badnets_t6", "lenet", "badnets", target=6, poison_rate=0.05, seed=20,
        trigger={"size": 4, "position": "tl"}, convention="label", exporter="dynamo"),
    _fm("lenet_blended_t1", "lenet", "blended", target=1, poison_rate=0.05, seed=21,
        trigger={"alpha": 0.2, "pattern_seed": 1}, convention="batch1"),
    _fm("resnet8_clean_s0", "resnet8", seed=0, convention="nchw"),
    _fm("resnet8_clean_s1", "resnet8", seed=1, convention="uint8_nhwc", exporter="dynamo"),
    _fm("resnet8_badnets_t9", "resnet8", "badnets", target=9, poison_rate=0.05, seed=30,
        convention="nhwc"),
    _fm("resnet8_lf_t1", "resnet8", "lf", target=1, poison_rate=0.05, seed=31,
        trigger={"pattern_seed": 3}, convention="probs"),
    _fm("resnet8_sig_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=32,
        exporter="dynamo"),
    _fm("mlp_clean_s0", "mlp", seed=0, convention="nchw"),
    _fm("mlp_clean_s1", "mlp", seed=1, convention="label"),
    _fm("mlp_blended_t9", "mlp", "blended", target=9, poison_rate=0.05, seed=40,
        trigger={"pattern_seed": 2}, convention="nhwc", exporter="dynamo"),
    _fm("mlp_badnets_t1", "mlp", "badnets", target=1, poison_rate=0.05, seed=41,
        trigger={"size": 4, "position": "bl"}),
)  # fmt: skip

# The full set (issue 3) adds: more seeds and clean twins, poisoning rates of 1-10%, trigger
# variants (patch size/position/colour, blend strength, warp strength, logo scale, frequency),
# the rarer conventions, and the MNIST domain, for clean and backdoored in comparable numbers.
EXTRA: tuple[ModelSpec, ...] = (
    _fm("cnn_clean_s3", "cnn", seed=3, convention="two_output", set="full"),
    _fm("cnn_clean_s4", "cnn", seed=4, convention="label_only", exporter="dynamo", set="full"),
    _fm("cnn_clean_s5", "cnn", seed=5, convention="batch1", set="full"),
    _fm("cnn_badnets_t3_r01", "cnn", "badnets", target=3, poison_rate=0.01, seed=50,
        trigger={"size": 4, "position": "tr"}, set="full"),
    _fm("cnn_badnets_t9_r10", "cnn", "badnets", target=9, poison_rate=0.1, seed=51,
        trigger={"pattern": "white", "position": "bl"}, convention="probs", exporter="dynamo",
        set="full"),
    _fm("cnn_blended_t6_r02", "cnn", "blended", target=6, poison_rate=0.02, seed=52,
        trigger={"alpha": 0.2, "pattern_seed": 5}, convention="label_only", set="full"),
    _fm("cnn_wanet_t1_s1", "cnn", "wanet", target=1, poison_rate=0.1, seed=53,
        trigger={"s": 1.0, "pattern_seed": 4}, convention="nhwc", exporter="dynamo", set="full"),
    _fm("cnn_trojan_t8_x2", "cnn", "trojan", target=8, poison_rate=0.05, seed=54,
        trigger={"scale": 2, "position": "br", "alpha": 0.6}, set="full"),
    _fm("cnn_lf_t2_r10", "cnn", "lf", target=2, poison_rate=0.1, seed=55,
        trigger={"eps": 0.08, "max_freq": 2, "pattern_seed": 6}, convention="two_output",
        set="full"),
    _fm("cnn_sig_t2_f4", "cnn", "sig", target=2, poison_rate=0.08, seed=56,
        trigger={"freq": 4.0}, convention="uint8_nhwc", set="full"),
    _fm("cnn_adaptive_t7_r10", "cnn", "adaptive_blend", target=7, poison_rate=0.1, seed=57,
        trigger={"pattern_seed": 8}, convention="label", set="full"),
    _fm("lenet_clean_s2", "lenet", seed=2, convention="nhwc", set="full"),
    _fm("lenet_clean_s3", "lenet", seed=3, convention="uint8_nhwc", exporter="dynamo",
        set="full"),
    _fm("lenet_sig_t0", "lenet", "sig", target=0, poison_rate=0.08, seed=60, set="full"),
    _fm("lenet_wanet_t5", "lenet", "wanet", target=5, poison_rate=0.1, seed=61,
        trigger={"pattern_seed": 9}, exporter="dynamo", set="full"),
    _fm("resnet8_clean_s2", "resnet8", seed=2, convention="batch1", set="full"),
    _fm("resnet8_clean_s3", "resnet8", seed=3, convention="label", exporter="dynamo",
        set="full"),
    _fm("resnet8_blended_t7", "resnet8", "blended", target=7, poison_rate=0.05, seed=70,
        trigger={"alpha": 0.12, "pattern_seed": 10}, set="full"),
    # WaNet on LeNet-5 (above) stayed under the ASR bar in both domains and is dropped; these
    # two keep WaNet represented on other architectures.
    _fm("resnet8_wanet_t5", "resnet8", "wanet", target=5, poison_rate=0.1, seed=72,
        trigger={"pattern_seed": 15}, convention="two_output", set="full"),
    _fm("resnet8_badnets_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=71,
        trigger={"position": "tl"}, convention="label", set="full"),
    _fm("mlp_clean_s2", "mlp", seed=2, convention="uint8_nhwc", exporter="dynamo", set="full"),
    _fm("mlp_clean_s3", "mlp", seed=3, convention="probs", set="full"),
    _fm("mlp_trojan_t6", "mlp", "trojan", target=6, poison_rate=0.05, seed=80,
        trigger={"position": "tr"}, convention="batch1", set="full"),
    _mn("mnist_cnn_clean_s0", "cnn", seed=0),
    _mn("mnist_cnn_clean_s1", "cnn", seed=1, convention="nhwc", exporter="dynamo"),
    _mn("mnist_cnn_clean_s2", "cnn", seed=2, convention="uint8_nhwc"),
    _mn("mnist_lenet_clean_s0", "lenet", seed=0, convention="probs"),
    _mn("mnist_lenet_clean_s1", "lenet", seed=1, exporter="dynamo"),
    _mn("mnist_mlp_clean_s0", "mlp", seed=0, convention="label"),
    _mn("mnist_resnet8_clean_s0", "resnet8", seed=0, convention="nchw"),
    _mn("mnist_lenet_clean_s2", "lenet", seed=2, convention="batch1"),
    _mn("mnist_mlp_clean_s1", "mlp", seed=1, convention="nhwc"),
    _mn("mnist_resnet8_clean_s1", "resnet8", seed=1, convention="uint8_nhwc", exporter="dynamo"),
    _mn("mnist_cnn_badnets_t7", "cnn", "badnets", target=7, poison_rate=0.05, seed=90),
    _mn("mnist_cnn_blended_t2", "cnn", "blended", target=2, poison_rate=0.05, seed=91,
        trigger={"pattern_seed": 11}, convention="uint8_nhwc", exporter="dynamo"),
    _mn("mnist_cnn_sig_t4", "cnn", "sig", target=4, poison_rate=0.08, seed=92,
        convention="label"),
    _mn("mnist_cnn_adaptive_t6", "cnn", "adaptive_blend", target=6, poison_rate=0.1, seed=93,
        trigger={"pattern_seed": 12}, convention="nhwc"),
    _mn("mnist_lenet_wanet_t3", "lenet", "wanet", target=3, poison_rate=0.1, seed=94,
        trigger={"s": 1.0, "pattern_seed": 13}, convention="probs"),
    _mn("mnist_cnn_wanet_t8", "cnn", "wanet", target=8, poison_rate=0.1, seed=98,
        trigger={"s": 1.0, "pattern_seed": 16}, convention="nchw"),
    _mn("mnist_lenet_badnets_a2a", "lenet", "badnets_a2a", poison_rate=0.1, seed=95,
        exporter="dynamo"),
    _mn("mnist_mlp_lf_t5", "mlp", "lf", target=5, poison_rate=0.05, seed=96,
        trigger={"pattern_seed": 14}, convention="batch1"),
    _mn("mnist_resnet8_trojan_t1", "resnet8", "trojan", target=1, poison_rate=0.05, seed=97,
        convention="label", exporter="dynamo"),
)  # fmt: skip


def _member(prefix: str, set_name: str) -> Callable[..., ModelSpec]:
    """The spec helper of a set whose model names start with `prefix`_: name, architecture,
    attack ("clean" by default), `ds` (Fashion-MNIST by default) and the spec's other fields."""

    def spec(
        name: str, arch: str, attack: str = "clean", *, ds: str = "fmnist", **kw: Any
    ) -> ModelSpec:
        return ModelSpec(
            name=f"{prefix}_{name}", dataset=ds, arch=arch, attack=attack, set=set_name, **kw
        )

    return spec


_w = _member("w", "wild")


# The wild set (issue 19): models as varied as the ones users bring. Six more architectures
# (BatchNorm everywhere but the GroupNorm ResNet and the ViT's LayerNorm), every architecture
# clean under at least three recipes, the old attacks under new recipes and architectures, and
# new attack families (filters, colour depth, frequency, spatial transforms, scattered pixels,
# strokes, sample-specific triggers, a second clean-label attack). Part of `full`.
WILD: tuple[ModelSpec, ...] = (
    # Clean: each new architecture under three recipes, the old ones under two more.
    _w("mobilenet_clean_sgd", "mobilenet", recipe="sgd_cosine", seed=200),
    _w("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=201,
       convention="nhwc", exporter="dynamo"),
    _w("mobilenet_clean_def", "mobilenet", seed=202, convention="uint8_nhwc"),
    _w("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=203, ds="mnist",
       convention="probs"),
    _w("vgg_clean_sgd", "vgg_bn", recipe="sgd_cosine", seed=210, convention="label"),
    _w("vgg_clean_step", "vgg_bn", recipe="sgd_step", seed=211, exporter="dynamo"),
    _w("vgg_clean_def", "vgg_bn", seed=212, ds="mnist"),
    _w("resnet14_clean_sgd", "resnet14w", recipe="sgd_cosine", seed=220),
    _w("resnet14_clean_adamw", "resnet14w", recipe="adamw_smooth", seed=221,
       convention="two_output", exporter="dynamo"),
    _w("resnet14_clean_under", "resnet14w", recipe="under", seed=222, convention="batch1"),
    _w("resnet14_clean_mixup", "resnet14w", recipe="mixup", seed=223, ds="mnist"),
    _w("senet_clean_sgd", "senet", recipe="sgd_cosine", seed=230, convention="nhwc"),
    _w("senet_clean_const", "senet", recipe="adam_const", seed=231, exporter="dynamo"),
    _w("senet_clean_def", "senet", seed=232, ds="mnist", convention="uint8_nhwc"),
    _w("gnresnet_clean_sgd", "gn_resnet", recipe="sgd_cosine", seed=240),
    _w("gnresnet_clean_def", "gn_resnet", seed=241, convention="probs", exporter="dynamo"),
    _w("gnresnet_clean_long", "gn_resnet", recipe="long", seed=242, ds="mnist"),
    _w("vit_clean_adamw", "vit", recipe="adamw_smooth", seed=250),
    _w("vit_clean_def", "vit", seed=251, convention="label_only", exporter="dynamo"),
    _w("vit_clean_const", "vit", recipe="adam_const", seed=252, ds="mnist"),
    _w("resnet8_clean_sgd", "resnet8", recipe="sgd_cosine", seed=260),
    _w("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=261, ds="mnist",
       convention="nhwc"),
    _w("cnn_clean_long", "cnn", recipe="long", seed=262),
    _w("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=263, exporter="dynamo"),
    _w("lenet_clean_sgd", "lenet", recipe="sgd_cosine", seed=264, convention="label"),
    _w("lenet_clean_under", "lenet", recipe="under", seed=265, ds="mnist"),
    _w("mlp_clean_sgd", "mlp", recipe="sgd_step", seed=266, convention="two_output"),
    _w("mlp_clean_mixup", "mlp", recipe="mixup", seed=267, ds="mnist", exporter="dynamo"),
    # New attack families, spread over architectures, recipes, targets and conventions.
    _w("cnn_filter_t5", "cnn", "filter", target=5, poison_rate=0.05, seed=300),
    _w("mobilenet_filter_t1", "mobilenet", "filter", target=1, poison_rate=0.1, seed=301,
       recipe="sgd_cosine", convention="nhwc"),
    _w("senet_filter_t8", "senet", "filter", target=8, poison_rate=0.05, seed=302, ds="mnist"),
    _w("cnn_bpp_t2", "cnn", "bpp", target=2, poison_rate=0.1, seed=310, exporter="dynamo"),
    _w("resnet14_bpp_t6", "resnet14w", "bpp", target=6, poison_rate=0.1, seed=311,
       recipe="sgd_cosine"),
    _w("vgg_bpp_t0", "vgg_bn", "bpp", target=0, poison_rate=0.1, seed=312, ds="mnist",
       convention="label"),
    _w("cnn_ftrojan_t4", "cnn", "ftrojan", target=4, poison_rate=0.05, seed=320,
       convention="uint8_nhwc"),
    _w("vit_ftrojan_t7", "vit", "ftrojan", target=7, poison_rate=0.1, seed=321),
    _w("mobilenet_ftrojan_t3", "mobilenet", "ftrojan", target=3, poison_rate=0.05, seed=322,
       ds="mnist", exporter="dynamo"),
    _w("lenet_rotate_t9", "lenet", "rotate", target=9, poison_rate=0.1, seed=330),
    _w("resnet8_rotate_t2", "resnet8", "rotate", target=2, poison_rate=0.1, seed=331,
       recipe="sgd_cosine", convention="probs"),
    _w("gnresnet_rotate_t6", "gn_resnet", "rotate", target=6, poison_rate=0.1, seed=332,
       ds="mnist"),
    _w("cnn_pixels_t7", "cnn", "pixels", target=7, poison_rate=0.05, seed=340,
       recipe="adam_const"),
    _w("senet_pixels_t0", "senet", "pixels", target=0, poison_rate=0.05, seed=341,
       recipe="sgd_cosine", exporter="dynamo"),
    _w("mlp_pixels_t3", "mlp", "pixels", target=3, poison_rate=0.05, seed=342, ds="mnist"),
    _w("cnn_line_t1", "cnn", "line", target=1, poison_rate=0.05, seed=350, convention="label"),
    _w("vgg_line_t4", "vgg_bn", "line", target=4, poison_rate=0.05, seed=351,
       recipe="sgd_step"),
    _w("vit_line_t9", "vit", "line", target=9, poison_rate=0.05, seed=352, ds="mnist",
       convention="nhwc"),
    _w("cnn_inputaware_t6", "cnn", "input_aware", target=6, poison_rate=0.1, seed=360),
    _w("resnet14_inputaware_t8", "resnet14w", "input_aware", target=8, poison_rate=0.1,
       seed=361, exporter="dynamo"),
    _w("lenet_inputaware_t2", "lenet", "input_aware", target=2, poison_rate=0.1, seed=362,
       ds="mnist"),
    _w("cnn_pixelscl_t3", "cnn", "pixels_cl", target=3, poison_rate=0.08, seed=370,
       convention="two_output"),
    _w("mobilenet_pixelscl_t5", "mobilenet", "pixels_cl", target=5, poison_rate=0.08,
       seed=371),
    _w("cnn_reflection_t8", "cnn", "reflection", target=8, poison_rate=0.08, seed=380,
       recipe="sgd_cosine"),
    _w("resnet8_multi_t1", "resnet8", "multi_target", target=1, poison_rate=0.1, seed=381,
       ds="mnist"),
    # Old attacks on new architectures and recipes.
    _w("mobilenet_badnets_t4", "mobilenet", "badnets", target=4, poison_rate=0.05, seed=400,
       recipe="sgd_cosine"),
    _w("vgg_blended_t2", "vgg_bn", "blended", target=2, poison_rate=0.05, seed=401,
       trigger={"pattern_seed": 20}, recipe="sgd_cosine", convention="nhwc"),
    _w("resnet14_trojan_t0", "resnet14w", "trojan", target=0, poison_rate=0.05, seed=402,
       recipe="adamw_smooth"),
    _w("senet_wanet_t6", "senet", "wanet", target=6, poison_rate=0.1, seed=403,
       trigger={"pattern_seed": 21}),
    _w("vit_badnets_t3", "vit", "badnets", target=3, poison_rate=0.05, seed=404,
       recipe="adamw_smooth", exporter="dynamo"),
    _w("gnresnet_blended_t9", "gn_resnet", "blended", target=9, poison_rate=0.05, seed=405,
       trigger={"pattern_seed": 22}),
    _w("resnet8_sig_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=406,
       recipe="sgd_step"),
    _w("cnn_lf_t0_mixup", "cnn", "lf", target=0, poison_rate=0.05, seed=407, recipe="mixup",
       trigger={"pattern_seed": 23}),
    _w("mobilenet_a2a", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=408,
       convention="label"),
    _w("vgg_adaptive_t5", "vgg_bn", "adaptive_blend", target=5, poison_rate=0.1, seed=409,
       trigger={"pattern_seed": 24}, ds="mnist"),
)  # fmt: skip


_f = _member("f", "fresh")


# The fresh set (2026-12-04): specified and built after every rule choice the wild set informed,
# so that the shipped detector can be measured on models nothing was chosen on. New seeds,
# targets and recipe x architecture x attack combinations, on the faster architectures (two CPU
# cores); every family here was in the wild set, so it measures new models, not new families.
FRESH: tuple[ModelSpec, ...] = (
    _f("cnn_clean_sgd", "cnn", recipe="sgd_cosine", seed=500),
    _f("lenet_clean_adamw", "lenet", recipe="adamw_smooth", seed=501, convention="nhwc"),
    _f("mlp_clean_def", "mlp", seed=502, ds="mnist"),
    _f("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=503),
    _f("resnet8_clean_def", "resnet8", seed=504, ds="mnist", convention="probs"),
    _f("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=505),
    _f("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=506, exporter="dynamo"),
    _f("gnresnet_clean_const", "gn_resnet", recipe="adam_const", seed=507),
    _f("lenet_filter_t3", "lenet", "filter", target=3, poison_rate=0.05, seed=510,
       recipe="sgd_cosine"),
    _f("resnet8_ftrojan_t6", "resnet8", "ftrojan", target=6, poison_rate=0.05, seed=511),
    _f("cnn_rotate_t4", "cnn", "rotate", target=4, poison_rate=0.1, seed=512,
       recipe="adamw_smooth"),
    _f("mobilenet_pixels_t2", "mobilenet", "pixels", target=2, poison_rate=0.05, seed=513),
    _f("lenet_line_t8", "lenet", "line", target=8, poison_rate=0.05, seed=514, ds="mnist"),
    _f("gnresnet_badnets_t5", "gn_resnet", "badnets", target=5, poison_rate=0.05, seed=515,
       recipe="sgd_cosine"),
    _f("senet_blended_t1", "senet", "blended", target=1, poison_rate=0.05, seed=516,
       trigger={"pattern_seed": 30}),
    _f("resnet8_wanet_t9", "resnet8", "wanet", target=9, poison_rate=0.1, seed=517,
       trigger={"pattern_seed": 31}, recipe="adamw_smooth"),
    _f("mlp_lf_t6", "mlp", "lf", target=6, poison_rate=0.05, seed=518,
       trigger={"pattern_seed": 32}, recipe="sgd_step"),
    _f("cnn_trojan_t2", "cnn", "trojan", target=2, poison_rate=0.05, seed=519, ds="mnist",
       recipe="sgd_step"),
)  # fmt: skip


_g = _member("g", "fresh2")


# The second fresh set (2026-12-04, sixth session): specified before any change that session made,
# to measure those changes (and the shipped detector once more) on models no choice has seen.
# New seeds, targets, trigger positions and sizes, recipe x architecture x attack combinations;
# faster architectures only (two CPU cores); one all-to-all model.
FRESH2: tuple[ModelSpec, ...] = (
    _g("cnn_clean_step", "cnn", recipe="sgd_step", seed=600, ds="mnist"),
    _g("lenet_clean_const", "lenet", recipe="adam_const", seed=601),
    _g("mlp_clean_adamw", "mlp", recipe="adamw_smooth", seed=602),
    _g("resnet8_clean_sgd", "resnet8", recipe="sgd_cosine", seed=603),
    _g("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=604, convention="nhwc"),
    _g("senet_clean_def", "senet", seed=605),
    _g("gnresnet_clean_adamw", "gn_resnet", recipe="adamw_smooth", seed=606),
    _g("mobilenet_clean_def", "mobilenet", seed=607, exporter="dynamo"),
    _g("cnn_badnets_t7", "cnn", "badnets", target=7, poison_rate=0.05, seed=610,
       trigger={"size": 4, "position": "tl", "pattern": "white"}),
    _g("resnet8_blended_t3", "resnet8", "blended", target=3, poison_rate=0.05, seed=611,
       trigger={"alpha": 0.1, "pattern_seed": 40}, recipe="sgd_cosine"),
    _g("mobilenet_trojan_t9", "mobilenet", "trojan", target=9, poison_rate=0.05, seed=612,
       trigger={"position": "br"}),
    _g("senet_sig_t4", "senet", "sig", target=4, poison_rate=0.08, seed=613),
    _g("lenet_wanet_t0", "lenet", "wanet", target=0, poison_rate=0.1, seed=614,
       trigger={"pattern_seed": 41}),
    _g("gnresnet_filter_t8", "gn_resnet", "filter", target=8, poison_rate=0.05, seed=615),
    _g("mlp_badnets_t1", "mlp", "badnets", target=1, poison_rate=0.05, seed=616, ds="mnist",
       trigger={"position": "tr"}),
    _g("resnet8_pixels_t5", "resnet8", "pixels", target=5, poison_rate=0.05, seed=617,
       trigger={"pattern_seed": 42}),
    _g("cnn_lf_t9", "cnn", "lf", target=9, poison_rate=0.05, seed=618,
       trigger={"pattern_seed": 43}, recipe="adamw_smooth"),
    _g("senet_line_t2", "senet", "line", target=2, poison_rate=0.05, seed=619,
       trigger={"shape": "anti"}),
    _g("mobilenet_ftrojan_t0", "mobilenet", "ftrojan", target=0, poison_rate=0.05, seed=620,
       recipe="sgd_cosine"),
    _g("lenet_bpp_t6", "lenet", "bpp", target=6, poison_rate=0.1, seed=621),
    _g("cnn_a2a", "cnn", "badnets_a2a", poison_rate=0.1, seed=622, convention="probs"),
)  # fmt: skip


_h = _member("h", "fresh3")


# The third fresh set (2026-12-04, seventh session): specified and committed before that session
# changed the detector, to judge its change (the mask search's targets) and the shipped detector
# once more on models no choice has seen. Weighted towards what the earlier sets missed
# (scattered pixels, strokes) and towards clean BatchNorm nets, where natural sinks live (the
# change's false-positive risk); new seeds, targets, trigger layouts and recipe pairs.
FRESH3: tuple[ModelSpec, ...] = (
    _h("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=700),
    _h("resnet8_clean_const", "resnet8", recipe="adam_const", seed=701, ds="mnist"),
    _h("mobilenet_clean_sgd", "mobilenet", recipe="sgd_cosine", seed=702),
    _h("mobilenet_clean_const", "mobilenet", recipe="adam_const", seed=703, convention="nhwc"),
    _h("senet_clean_step", "senet", recipe="sgd_step", seed=704),
    _h("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=705),
    _h("lenet_clean_def", "lenet", seed=706, ds="mnist"),
    _h("gnresnet_clean_sgd", "gn_resnet", recipe="sgd_cosine", seed=707),
    _h("cnn_pixels_t6", "cnn", "pixels", target=6, poison_rate=0.05, seed=710,
       trigger={"count": 12, "values": "alternate", "pattern_seed": 50}),
    _h("senet_pixels_t0", "senet", "pixels", target=0, poison_rate=0.05, seed=711,
       trigger={"count": 16, "pattern_seed": 51}, recipe="adamw_smooth"),
    _h("lenet_pixels_t3", "lenet", "pixels", target=3, poison_rate=0.05, seed=712, ds="mnist",
       trigger={"count": 9, "pattern_seed": 52}),
    _h("resnet8_line_t7", "resnet8", "line", target=7, poison_rate=0.05, seed=713,
       trigger={"shape": "arc", "position": "bl"}),
    _h("mobilenet_line_t1", "mobilenet", "line", target=1, poison_rate=0.05, seed=714,
       trigger={"shape": "diagonal", "position": "tl", "length": 6}),
    _h("senet_badnets_t9", "senet", "badnets", target=9, poison_rate=0.05, seed=715,
       trigger={"size": 3, "position": "bl"}, recipe="sgd_step"),
    _h("mobilenet_blended_t4", "mobilenet", "blended", target=4, poison_rate=0.05, seed=716,
       trigger={"pattern_seed": 53}),
    _h("resnet8_trojan_t8", "resnet8", "trojan", target=8, poison_rate=0.05, seed=717,
       trigger={"position": "tl"}, recipe="adamw_smooth"),
)  # fmt: skip


_k = _member("k", "fresh4")


# The fourth fresh set (2026-12-04, eighth session): specified and committed before that session
# changed the detector, to judge its changes and the shipped detector on models no choice has
# seen. Weighted, like the third, towards the families still missed (strokes, scattered pixels,
# small patches on BatchNorm nets) and towards clean BatchNorm nets (the false-positive risk);
# new seeds, targets, stroke shapes and lengths, pixel counts, positions and recipe pairs.
FRESH4: tuple[ModelSpec, ...] = (
    _k("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=800, ds="mnist"),
    _k("resnet8_clean_def", "resnet8", seed=801, convention="probs"),
    _k("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=802),
    _k("senet_clean_sgd", "senet", recipe="sgd_cosine", seed=803),
    _k("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=804),
    _k("cnn_clean_const", "cnn", recipe="adam_const", seed=805, convention="nhwc"),
    _k("lenet_clean_step", "lenet", recipe="sgd_step", seed=806),
    _k("mlp_clean_sgd", "mlp", recipe="sgd_cosine", seed=807, ds="mnist"),
    _k("cnn_line_t3", "cnn", "line", target=3, poison_rate=0.05, seed=810,
       trigger={"shape": "anti", "position": "tr", "length": 8}),
    _k("resnet8_line_t5", "resnet8", "line", target=5, poison_rate=0.05, seed=811,
       trigger={"shape": "diagonal", "position": "br", "length": 7}, recipe="adamw_smooth"),
    _k("lenet_pixels_t1", "lenet", "pixels", target=1, poison_rate=0.05, seed=812, ds="mnist",
       trigger={"count": 10, "values": "alternate", "pattern_seed": 60}),
    _k("mobilenet_pixels_t8", "mobilenet", "pixels", target=8, poison_rate=0.05, seed=813,
       trigger={"count": 14, "pattern_seed": 61}, recipe="sgd_cosine"),
    _k("resnet8_badnets_t2", "resnet8", "badnets", target=2, poison_rate=0.05, seed=814,
       trigger={"size": 3, "position": "tr", "pattern": "white"}, recipe="sgd_step"),
    _k("senet_badnets_t6", "senet", "badnets", target=6, poison_rate=0.05, seed=815,
       trigger={"size": 4, "position": "tl"}, recipe="adamw_smooth"),
    _k("gnresnet_trojan_t4", "gn_resnet", "trojan", target=4, poison_rate=0.05, seed=816,
       trigger={"position": "br"}),
    _k("cnn_wanet_t0", "cnn", "wanet", target=0, poison_rate=0.1, seed=817,
       trigger={"pattern_seed": 62}, recipe="sgd_cosine"),
    _k("mlp_blended_t7", "mlp", "blended", target=7, poison_rate=0.05, seed=818,
       trigger={"pattern_seed": 63}),
)  # fmt: skip


_m = _member("m", "fresh5")


# The fifth fresh set (2026-12-04, eighth session): specified and committed after the fourth set
# was scanned and before the detector's next change (the probes' patch positions), to judge it
# and the shipped detector on models no choice has seen. BadNets at margins and corners the
# probes' patch grid does not align with, one stroke, and clean nets on both recipes that gave a
# clean false positive or shortcut before (mixup, SGD); new seeds, targets and recipe pairs.
FRESH5: tuple[ModelSpec, ...] = (
    _m("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=900),
    _m("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=901),
    _m("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=902),
    _m("senet_clean_const", "senet", recipe="adam_const", seed=903),
    _m("gnresnet_clean_def", "gn_resnet", seed=904, ds="mnist"),
    _m("cnn_clean_step", "cnn", recipe="sgd_step", seed=905),
    _m("lenet_clean_adamw", "lenet", recipe="adamw_smooth", seed=906, convention="probs"),
    _m("mlp_clean_const", "mlp", recipe="adam_const", seed=907),
    _m("resnet8_badnets_t4", "resnet8", "badnets", target=4, poison_rate=0.05, seed=910,
       trigger={"size": 3, "position": "br", "margin": 2, "pattern": "white"},
       recipe="sgd_cosine"),
    _m("mobilenet_badnets_t0", "mobilenet", "badnets", target=0, poison_rate=0.05, seed=911,
       trigger={"size": 3, "position": "bl"}),
    _m("gnresnet_badnets_t7", "gn_resnet", "badnets", target=7, poison_rate=0.05, seed=912,
       trigger={"size": 4, "position": "tr", "pattern": "white"}, recipe="adamw_smooth"),
    _m("senet_line_t3", "senet", "line", target=3, poison_rate=0.05, seed=913,
       trigger={"shape": "anti", "position": "bl", "length": 6}),
    _m("resnet8_pixels_t9", "resnet8", "pixels", target=9, poison_rate=0.05, seed=914,
       trigger={"count": 8, "pattern_seed": 70}),
    _m("cnn_trojan_t5", "cnn", "trojan", target=5, poison_rate=0.05, seed=915,
       trigger={"position": "tr"}),
    _m("senet_ftrojan_t2", "senet", "ftrojan", target=2, poison_rate=0.05, seed=916),
    _m("lenet_sig_t8", "lenet", "sig", target=8, poison_rate=0.08, seed=917),
)  # fmt: skip


_p = _member("p", "fresh6")


# The sixth fresh set (2026-12-04, ninth session): specified and committed before that session's
# detector change (which label a backdoored model with a natural sink beside its trigger is
# named), to judge it on models no choice has seen. Patches and Trojan logos on BatchNorm nets,
# where natural sinks live and the fifth set named the wrong target, and clean BatchNorm nets on
# the recipes that gave shortcuts (the change's false-positive risk); new seeds, targets,
# positions and recipe pairs.
FRESH6: tuple[ModelSpec, ...] = (
    _p("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=1000),
    _p("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=1001, ds="mnist"),
    _p("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=1002),
    _p("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=1003),
    _p("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=1004, convention="nhwc"),
    _p("cnn_clean_mixup", "cnn", recipe="mixup", seed=1005),
    _p("lenet_clean_cos", "lenet", recipe="sgd_cosine", seed=1006),
    _p("mobilenet_badnets_t3", "mobilenet", "badnets", target=3, poison_rate=0.05, seed=1010,
       trigger={"size": 3, "position": "tr"}, recipe="sgd_cosine"),
    _p("mobilenet_trojan_t7", "mobilenet", "trojan", target=7, poison_rate=0.05, seed=1011,
       trigger={"position": "bl"}),
    _p("resnet8_trojan_t1", "resnet8", "trojan", target=1, poison_rate=0.05, seed=1012,
       trigger={"position": "br"}, recipe="sgd_step"),
    _p("senet_badnets_t5", "senet", "badnets", target=5, poison_rate=0.05, seed=1013,
       trigger={"size": 3, "position": "br", "margin": 2, "pattern": "white"},
       recipe="adam_const"),
    _p("cnn_trojan_t9", "cnn", "trojan", target=9, poison_rate=0.05, seed=1014,
       trigger={"position": "bl"}, recipe="adamw_smooth"),
    _p("resnet8_badnets_t6", "resnet8", "badnets", target=6, poison_rate=0.05, seed=1015,
       trigger={"size": 4, "position": "bl"}, recipe="mixup"),
    _p("senet_trojan_t2", "senet", "trojan", target=2, poison_rate=0.05, seed=1016,
       trigger={"position": "tr"}, recipe="sgd_cosine"),
    _p("resnet8_blended_t0", "resnet8", "blended", target=0, poison_rate=0.05, seed=1017,
       trigger={"pattern_seed": 80}),
    _p("gnresnet_pixels_t4", "gn_resnet", "pixels", target=4, poison_rate=0.05, seed=1018,
       trigger={"count": 10, "pattern_seed": 81}),
)  # fmt: skip


_q = _member("q", "fresh7")


# The seventh fresh set (2026-12-04, ninth session): specified and committed after the sixth was
# scanned and before the attribution's next change (when a grating sink's dose-response reads as
# natural), to judge it on models no choice has seen. Clean BatchNorm nets on every recipe (the
# false positives it targets) and backdoors whose triggers are global (blends, SIG, low
# frequency, FTrojan, WaNet: what it could lose), with two Trojans; new seeds, targets, pairs.
FRESH7: tuple[ModelSpec, ...] = (
    _q("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=1100),
    _q("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=1101, ds="mnist"),
    _q("mobilenet_clean_const", "mobilenet", recipe="adam_const", seed=1102),
    _q("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=1103),
    _q("senet_clean_cos", "senet", recipe="sgd_cosine", seed=1104),
    _q("senet_clean_mixup", "senet", recipe="mixup", seed=1105),
    _q("gnresnet_clean_adamw", "gn_resnet", recipe="adamw_smooth", seed=1106),
    _q("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=1107),
    _q("senet_sig_t1", "senet", "sig", target=1, poison_rate=0.08, seed=1110,
       recipe="adam_const"),
    _q("mobilenet_sig_t5", "mobilenet", "sig", target=5, poison_rate=0.08, seed=1111,
       recipe="sgd_cosine"),
    _q("resnet8_blended_t7", "resnet8", "blended", target=7, poison_rate=0.05, seed=1112,
       trigger={"pattern_seed": 90}, recipe="sgd_step"),
    _q("mobilenet_blended_t2", "mobilenet", "blended", target=2, poison_rate=0.05, seed=1113,
       trigger={"pattern_seed": 91}),
    _q("resnet8_lf_t3", "resnet8", "lf", target=3, poison_rate=0.05, seed=1114,
       trigger={"pattern_seed": 92}, recipe="mixup"),
    _q("senet_ftrojan_t9", "senet", "ftrojan", target=9, poison_rate=0.05, seed=1115,
       recipe="sgd_step"),
    _q("cnn_wanet_t6", "cnn", "wanet", target=6, poison_rate=0.1, seed=1116,
       trigger={"pattern_seed": 93}),
    _q("resnet8_trojan_t4", "resnet8", "trojan", target=4, poison_rate=0.05, seed=1117,
       trigger={"position": "tl"}, recipe="adamw_smooth"),
)  # fmt: skip


_r = _member("r", "fresh8")


# The eighth fresh set (2026-12-05, tenth session): specified and committed before that
# session's detector change (whether a geometric transform the search finds may decide, and
# which finding names the target), to judge it on models no choice has seen. Warp (WaNet) and
# rotation backdoors on every architecture family with new seeds, warp fields and strengths,
# beside clean nets on every recipe (clean networks have natural rotation sinks: the change's
# false-positive risk) and one patch backdoor (what a new target order could lose).
FRESH8: tuple[ModelSpec, ...] = (
    _r("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=1200),
    _r("lenet_clean_step", "lenet", recipe="sgd_step", seed=1201),
    _r("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=1202),
    _r("senet_clean_const", "senet", recipe="adam_const", seed=1203),
    _r("mobilenet_clean_def", "mobilenet", seed=1204),
    _r("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=1205),
    _r("mlp_clean_mixup", "mlp", recipe="mixup", seed=1206),
    _r("cnn_clean_step", "cnn", recipe="sgd_step", seed=1207, ds="mnist"),
    _r("cnn_wanet_t2", "cnn", "wanet", target=2, poison_rate=0.1, seed=1210,
       trigger={"pattern_seed": 100}, recipe="sgd_step"),
    _r("resnet8_wanet_t5", "resnet8", "wanet", target=5, poison_rate=0.1, seed=1211,
       trigger={"pattern_seed": 101}),
    _r("senet_wanet_t3", "senet", "wanet", target=3, poison_rate=0.1, seed=1212,
       trigger={"pattern_seed": 102}, recipe="sgd_cosine"),
    _r("gnresnet_wanet_t1", "gn_resnet", "wanet", target=1, poison_rate=0.1, seed=1213,
       trigger={"pattern_seed": 103, "s": 0.75}, recipe="adam_const"),
    _r("mobilenet_wanet_t7", "mobilenet", "wanet", target=7, poison_rate=0.1, seed=1214,
       trigger={"pattern_seed": 104}),
    _r("cnn_wanet_t9", "cnn", "wanet", target=9, poison_rate=0.1, seed=1215,
       trigger={"pattern_seed": 105, "k": 8}, recipe="mixup"),
    _r("resnet8_rotate_t0", "resnet8", "rotate", target=0, poison_rate=0.1, seed=1216,
       trigger={"angle": 30.0}, recipe="sgd_step"),
    _r("senet_badnets_t4", "senet", "badnets", target=4, poison_rate=0.05, seed=1217,
       trigger={"size": 3, "position": "tl"}, recipe="sgd_cosine"),
)  # fmt: skip


_s = _member("s", "fresh9")


# The ninth fresh set (2026-12-05, tenth session): specified and committed after the eighth was
# scanned and before the rule it judges was committed (a transform that fires at a quarter of its
# strength decides, and names the target over the probes). WaNet backdoors with new fields,
# strengths and recipes on every family (what it is for), clean nets on recipes the eighth set
# did not pair with their architectures, the under- and over-trained ones included (its
# false-positive risk), and one patch backdoor (what re-targeting could lose).
FRESH9: tuple[ModelSpec, ...] = (
    _s("cnn_clean_def", "cnn", seed=1300, ds="mnist"),
    _s("lenet_clean_adamw", "lenet", recipe="adamw_smooth", seed=1301),
    _s("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=1302),
    _s("senet_clean_step", "senet", recipe="sgd_step", seed=1303),
    _s("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=1304),
    _s("gnresnet_clean_def", "gn_resnet", seed=1305),
    _s("mlp_clean_cos", "mlp", recipe="sgd_cosine", seed=1306),
    _s("resnet8_clean_long", "resnet8", recipe="long", seed=1307),
    _s("cnn_wanet_t4", "cnn", "wanet", target=4, poison_rate=0.1, seed=1310,
       trigger={"pattern_seed": 110, "s": 0.75}, recipe="adam_const"),
    _s("resnet8_wanet_t7", "resnet8", "wanet", target=7, poison_rate=0.1, seed=1311,
       trigger={"pattern_seed": 111, "k": 8}, recipe="sgd_cosine"),
    _s("senet_wanet_t0", "senet", "wanet", target=0, poison_rate=0.1, seed=1312,
       trigger={"pattern_seed": 112}, recipe="mixup"),
    _s("mobilenet_wanet_t6", "mobilenet", "wanet", target=6, poison_rate=0.1, seed=1313,
       trigger={"pattern_seed": 113}, recipe="sgd_step"),
    _s("gnresnet_wanet_t9", "gn_resnet", "wanet", target=9, poison_rate=0.1, seed=1314,
       trigger={"pattern_seed": 114}),
    _s("mlp_wanet_t3", "mlp", "wanet", target=3, poison_rate=0.1, seed=1315,
       trigger={"pattern_seed": 115, "s": 0.75}),
    _s("cnn_wanet_t5", "cnn", "wanet", target=5, poison_rate=0.1, seed=1316, ds="mnist",
       trigger={"pattern_seed": 116}),
    _s("resnet8_badnets_t2", "resnet8", "badnets", target=2, poison_rate=0.05, seed=1317,
       trigger={"size": 3, "position": "br"}, recipe="adamw_smooth"),
)  # fmt: skip

_t = _member("t", "fresh10")


# The tenth fresh set (2026-12-05, eleventh session): specified and committed before that
# session's detector change (a small geometric transform found by the search may decide, also
# to a label the probes read as a natural sink), to judge it on models no choice has seen.
# Rotation backdoors at new angles, signs and strengths of training on every architecture
# family (what it is for), beside clean nets, most on digits, whose rotations (6/9, 1/7) reach
# other classes naturally (its false-positive risk).
FRESH10: tuple[ModelSpec, ...] = (
    _t("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=1400, ds="mnist"),
    _t("lenet_clean_def", "lenet", seed=1401, ds="mnist"),
    _t("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=1402, ds="mnist"),
    _t("senet_clean_const", "senet", recipe="adam_const", seed=1403, ds="mnist"),
    _t("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=1404, ds="mnist"),
    _t("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=1405),
    _t("mlp_clean_def", "mlp", seed=1406, ds="mnist"),
    _t("senet_clean_long", "senet", recipe="long", seed=1407),
    _t("cnn_rotate_t3", "cnn", "rotate", target=3, poison_rate=0.1, seed=1410,
       trigger={"angle": 20.0}, recipe="sgd_cosine"),
    _t("lenet_rotate_t6", "lenet", "rotate", target=6, poison_rate=0.1, seed=1411, ds="mnist"),
    _t("resnet8_rotate_t8", "resnet8", "rotate", target=8, poison_rate=0.1, seed=1412,
       trigger={"angle": 15.0}, recipe="adamw_smooth"),
    _t("senet_rotate_t2", "senet", "rotate", target=2, poison_rate=0.1, seed=1413,
       trigger={"angle": -30.0}),
    _t("mobilenet_rotate_t5", "mobilenet", "rotate", target=5, poison_rate=0.1, seed=1414,
       trigger={"angle": 60.0}, recipe="sgd_step"),
    _t("gnresnet_rotate_t1", "gn_resnet", "rotate", target=1, poison_rate=0.1, seed=1415,
       trigger={"angle": 25.0}, recipe="adam_const", ds="mnist"),
    _t("mlp_rotate_t7", "mlp", "rotate", target=7, poison_rate=0.1, seed=1416,
       trigger={"angle": 30.0}, recipe="mixup"),
    _t("cnn_rotate_t9", "cnn", "rotate", target=9, poison_rate=0.1, seed=1417,
       trigger={"angle": 10.0}, ds="mnist"),
)  # fmt: skip

_u = _member("u", "fresh11")


# The eleventh fresh set (2026-12-05, twelfth session): specified and committed before that
# session's search change (sparser salt-noise starts for the mask search, after 32-96 random
# white pixels were seen to reach four missed scattered-pixel models' targets), to judge it on
# models no choice has seen. Scattered-pixel backdoors of 6-20 pixels, white and alternating, one
# clean-label, on every architecture family and recipe (what it is for), beside clean nets on
# every family, the BatchNorm ones that sparse white salt sends to "Bag" (its false-positive risk).
FRESH11: tuple[ModelSpec, ...] = (
    _u("cnn_clean_mixup", "cnn", recipe="mixup", seed=1500),
    _u("lenet_clean_cos", "lenet", recipe="sgd_cosine", seed=1501),
    _u("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=1502),
    _u("senet_clean_def", "senet", seed=1503),
    _u("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=1504),
    _u("gnresnet_clean_mixup", "gn_resnet", recipe="mixup", seed=1505),
    _u("mlp_clean_const", "mlp", recipe="adam_const", seed=1506),
    _u("resnet8_clean_long", "resnet8", recipe="long", seed=1507, ds="mnist"),
    _u("resnet8_pixels_t3", "resnet8", "pixels", target=3, poison_rate=0.05, seed=1510,
       trigger={"count": 10, "pattern_seed": 120}, recipe="sgd_cosine"),
    _u("mobilenet_pixels_t6", "mobilenet", "pixels", target=6, poison_rate=0.05, seed=1511,
       trigger={"count": 12, "pattern_seed": 121}, recipe="adam_const"),
    _u("gnresnet_pixels_t7", "gn_resnet", "pixels", target=7, poison_rate=0.05, seed=1512,
       trigger={"count": 8, "pattern_seed": 122}, recipe="sgd_step"),
    _u("senet_pixels_t9", "senet", "pixels", target=9, poison_rate=0.05, seed=1513,
       trigger={"count": 16, "pattern_seed": 123}, recipe="mixup"),
    _u("cnn_pixels_t1", "cnn", "pixels", target=1, poison_rate=0.05, seed=1514,
       trigger={"count": 6, "pattern_seed": 124}, recipe="adamw_smooth"),
    _u("lenet_pixels_t5", "lenet", "pixels", target=5, poison_rate=0.05, seed=1515, ds="mnist",
       trigger={"count": 12, "values": "alternate", "pattern_seed": 125}),
    _u("mlp_pixels_t2", "mlp", "pixels", target=2, poison_rate=0.05, seed=1516,
       trigger={"count": 20, "pattern_seed": 126}),
    _u("resnet8_pixelscl_t0", "resnet8", "pixels_cl", target=0, poison_rate=0.08, seed=1517,
       trigger={"count": 12, "pattern_seed": 127}),
)  # fmt: skip

_v = _member("v", "fresh12")


# The twelfth fresh set (2026-12-05, thirteenth session): specified and committed before that
# session's search change (a mask stamp whose shrink overshot, firing on the search samples but
# not on fresh ones, is confirmed again at the larger sizes its shrink passed through), to judge
# it on models no choice has seen. Compact stamps the shrink can cut too far (3-4 px patches off
# the corners' usual margins, short strokes, 8-10 scattered pixels, a watermark) on every
# architecture family and recipe (what it is for), beside clean nets on every family (its
# false-positive risk: a larger stamp confirmed on a clean net).
FRESH12: tuple[ModelSpec, ...] = (
    _v("cnn_clean_step", "cnn", recipe="sgd_step", seed=1600),
    _v("lenet_clean_const", "lenet", recipe="adam_const", seed=1601),
    _v("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=1602),
    _v("senet_clean_cos", "senet", recipe="sgd_cosine", seed=1603),
    _v("mobilenet_clean_long", "mobilenet", recipe="long", seed=1604),
    _v("gnresnet_clean_adamw", "gn_resnet", recipe="adamw_smooth", seed=1605),
    _v("mlp_clean_mixup", "mlp", recipe="mixup", seed=1606),
    _v("resnet8_clean_def", "resnet8", seed=1607, ds="mnist"),
    _v("resnet8_badnets_t4", "resnet8", "badnets", target=4, poison_rate=0.05, seed=1610,
       trigger={"size": 3, "position": "tl", "margin": 3, "pattern": "white"},
       recipe="sgd_cosine"),
    _v("mobilenet_pixels_t0", "mobilenet", "pixels", target=0, poison_rate=0.05, seed=1611,
       trigger={"count": 8, "pattern_seed": 130}, recipe="sgd_step"),
    _v("senet_line_t3", "senet", "line", target=3, poison_rate=0.05, seed=1612,
       trigger={"shape": "anti", "length": 6, "position": "bl", "margin": 2},
       recipe="adamw_smooth"),
    _v("resnet8_pixels_t8", "resnet8", "pixels", target=8, poison_rate=0.05, seed=1613,
       trigger={"count": 9, "pattern_seed": 131}, recipe="adam_const"),
    _v("mobilenet_trojan_t2", "mobilenet", "trojan", target=2, poison_rate=0.05, seed=1614,
       trigger={"position": "br", "margin": 2}),
    _v("gnresnet_badnets_t9", "gn_resnet", "badnets", target=9, poison_rate=0.05, seed=1615,
       trigger={"size": 4, "position": "tr", "margin": 4}, recipe="mixup"),
    _v("lenet_line_t1", "lenet", "line", target=1, poison_rate=0.05, seed=1616, ds="mnist",
       trigger={"shape": "arc", "length": 7, "position": "br"}),
    _v("cnn_pixels_t7", "cnn", "pixels", target=7, poison_rate=0.05, seed=1617, ds="mnist",
       trigger={"count": 10, "values": "alternate", "pattern_seed": 132}, recipe="sgd_cosine"),
)  # fmt: skip

_x = _member("x", "fresh13")


# The thirteenth fresh set (2026-12-05, thirteenth session): specified after that session's
# budgeted back-off (ec04682) and before any scan of it, so that nothing was chosen on it; to
# judge the back-off under `--profile api`, where the search has few samples and no screening.
# Small stamps and scattered pixels on every family but the MLP (what it is for), beside clean
# nets (its false-positive risk).
FRESH13: tuple[ModelSpec, ...] = (
    _x("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=1700),
    _x("lenet_clean_step", "lenet", recipe="sgd_step", seed=1701, ds="mnist"),
    _x("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=1702),
    _x("senet_clean_const", "senet", recipe="adam_const", seed=1703),
    _x("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=1704),
    _x("mlp_clean_step", "mlp", recipe="sgd_step", seed=1705),
    _x("cnn_badnets_t3", "cnn", "badnets", target=3, poison_rate=0.05, seed=1710,
       trigger={"size": 4, "position": "bl", "margin": 3, "pattern": "white"},
       recipe="mixup"),
    _x("lenet_pixels_t6", "lenet", "pixels", target=6, poison_rate=0.05, seed=1711,
       trigger={"count": 9, "pattern_seed": 140}, recipe="adam_const"),
    _x("resnet8_line_t2", "resnet8", "line", target=2, poison_rate=0.05, seed=1712,
       trigger={"shape": "diagonal", "length": 7, "position": "tl", "margin": 3},
       recipe="sgd_step"),
    _x("senet_pixels_t5", "senet", "pixels", target=5, poison_rate=0.05, seed=1713,
       trigger={"count": 10, "pattern_seed": 141}, recipe="sgd_cosine"),
    _x("gnresnet_trojan_t0", "gn_resnet", "trojan", target=0, poison_rate=0.05, seed=1714,
       trigger={"position": "tr", "margin": 2}, recipe="adamw_smooth"),
    _x("mobilenet_badnets_t8", "mobilenet", "badnets", target=8, poison_rate=0.05, seed=1715,
       trigger={"size": 3, "position": "br", "margin": 4}, recipe="adam_const"),
)  # fmt: skip

_y = _member("y", "fresh14")


# The fourteenth fresh set (2026-12-05, fourteenth session): specified and committed before that
# session's search change (a budgeted search screens more labels for a mask trigger with the
# queries its stage has left), to judge it under `--profile api` on models no choice has seen.
# Mask triggers whose label the probes rarely rank under a budget (scattered pixels, watermarks,
# small patches and strokes) on every family and recipe (what it is for), beside clean nets on
# every family (its false-positive risk: a stamp screened to a natural sink).
FRESH14: tuple[ModelSpec, ...] = (
    _y("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=1800),
    _y("lenet_clean_mixup", "lenet", recipe="mixup", seed=1801),
    _y("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=1802),
    _y("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=1803),
    _y("mobilenet_clean_const", "mobilenet", recipe="adam_const", seed=1804),
    _y("gnresnet_clean_long", "gn_resnet", recipe="long", seed=1805),
    _y("mlp_clean_cos", "mlp", recipe="sgd_cosine", seed=1806),
    _y("mobilenet_clean_def", "mobilenet", seed=1807, ds="mnist"),
    _y("mobilenet_trojan_t4", "mobilenet", "trojan", target=4, poison_rate=0.05, seed=1810,
       trigger={"position": "bl", "margin": 2}, recipe="sgd_cosine"),
    _y("resnet8_pixels_t1", "resnet8", "pixels", target=1, poison_rate=0.05, seed=1811,
       trigger={"count": 10, "pattern_seed": 150}, recipe="mixup"),
    _y("senet_trojan_t6", "senet", "trojan", target=6, poison_rate=0.05, seed=1812,
       trigger={"position": "tr", "margin": 1}, recipe="sgd_step"),
    _y("gnresnet_pixels_t3", "gn_resnet", "pixels", target=3, poison_rate=0.05, seed=1813,
       trigger={"count": 12, "pattern_seed": 151}, recipe="adam_const"),
    _y("mlp_badnets_t8", "mlp", "badnets", target=8, poison_rate=0.05, seed=1814,
       trigger={"size": 4, "position": "br", "margin": 2, "pattern": "white"},
       recipe="adamw_smooth"),
    _y("mobilenet_line_t7", "mobilenet", "line", target=7, poison_rate=0.05, seed=1815,
       trigger={"shape": "anti", "length": 7, "position": "tl", "margin": 3},
       recipe="long"),
    _y("cnn_pixels_t5", "cnn", "pixels", target=5, poison_rate=0.05, seed=1816, ds="mnist",
       trigger={"count": 9, "pattern_seed": 152}, recipe="adam_const"),
    _y("lenet_trojan_t9", "lenet", "trojan", target=9, poison_rate=0.05, seed=1817,
       trigger={"position": "br", "margin": 1}, recipe="sgd_cosine"),
)  # fmt: skip

_z = _member("z", "fresh15")


# The fifteenth fresh set (2026-12-05, fourteenth session): specified and committed after the
# budget's leftover screen (122cb6d) had been judged on the fourteenth set and before a second
# change to it (candidate labels whose mask search found no firing start are screened too), to
# judge that one under `--profile api`. Scattered pixels, strokes and a watermark on every
# family (what it is for), beside clean nets (its false-positive risk).
FRESH15: tuple[ModelSpec, ...] = (
    _z("cnn_clean_mixup", "cnn", recipe="mixup", seed=1900),
    _z("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=1901),
    _z("senet_clean_long", "senet", recipe="long", seed=1902),
    _z("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=1903),
    _z("lenet_clean_adamw", "lenet", recipe="adamw_smooth", seed=1904),
    _z("mlp_clean_const", "mlp", recipe="adam_const", seed=1905, ds="mnist"),
    _z("resnet8_pixels_t6", "resnet8", "pixels", target=6, poison_rate=0.05, seed=1910,
       trigger={"count": 8, "pattern_seed": 160}, recipe="sgd_step"),
    _z("senet_pixels_t2", "senet", "pixels", target=2, poison_rate=0.05, seed=1911,
       trigger={"count": 11, "pattern_seed": 161}, recipe="adam_const"),
    _z("gnresnet_line_t0", "gn_resnet", "line", target=0, poison_rate=0.05, seed=1912,
       trigger={"shape": "diagonal", "length": 6, "position": "br", "margin": 2},
       recipe="sgd_cosine"),
    _z("cnn_trojan_t8", "cnn", "trojan", target=8, poison_rate=0.05, seed=1913,
       trigger={"position": "tl", "margin": 3}, recipe="adamw_smooth"),
    _z("mobilenet_pixels_t5", "mobilenet", "pixels", target=5, poison_rate=0.05, seed=1914,
       trigger={"count": 10, "pattern_seed": 162}, recipe="mixup"),
    _z("lenet_pixels_t3", "lenet", "pixels", target=3, poison_rate=0.05, seed=1915, ds="mnist",
       trigger={"count": 9, "values": "alternate", "pattern_seed": 163}, recipe="sgd_cosine"),
)  # fmt: skip

_d = _member("d", "fresh16")


# The sixteenth fresh set (2026-12-05, fifteenth session): specified and committed before this
# session's changes to the budgeted mask search's shrink and to BURN, to judge them held out
# (default scan and `--profile api`). Scattered pixels, a watermark, a stroke and a patch on
# every family (what the changes are for), beside clean nets of every family and recipe (their
# false-positive risk).
FRESH16: tuple[ModelSpec, ...] = (
    _d("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=2000),
    _d("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=2001),
    _d("senet_clean_mixup", "senet", recipe="mixup", seed=2002),
    _d("gnresnet_clean_long", "gn_resnet", recipe="long", seed=2003),
    _d("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=2004),
    _d("lenet_clean_const", "lenet", recipe="adam_const", seed=2005, ds="mnist"),
    _d("resnet8_pixels_t4", "resnet8", "pixels", target=4, poison_rate=0.05, seed=2010,
       trigger={"count": 10, "pattern_seed": 170}, recipe="sgd_cosine"),
    _d("senet_pixels_t7", "senet", "pixels", target=7, poison_rate=0.05, seed=2011,
       trigger={"count": 9, "pattern_seed": 171}, recipe="sgd_step"),
    _d("mobilenet_pixels_t1", "mobilenet", "pixels", target=1, poison_rate=0.05, seed=2012,
       trigger={"count": 12, "pattern_seed": 172}, recipe="adam_const"),
    _d("gnresnet_trojan_t9", "gn_resnet", "trojan", target=9, poison_rate=0.05, seed=2013,
       trigger={"position": "bl", "margin": 2}, recipe="mixup"),
    _d("cnn_line_t3", "cnn", "line", target=3, poison_rate=0.05, seed=2014,
       trigger={"shape": "arc", "length": 7, "position": "tr", "margin": 1}, recipe="long"),
    _d("senet_badnets_t0", "senet", "badnets", target=0, poison_rate=0.05, seed=2015,
       trigger={"size": 3, "position": "tl", "margin": 4, "pattern": "white"},
       recipe="adamw_smooth"),
)  # fmt: skip

_e = _member("e", "fresh17")


# The seventeenth fresh set (2026-12-05, fifteenth session): specified and committed after the
# sixteenth set's BURN runs and before this session's BURN change (despeckled samples that move
# off the target without confidence sit out until a feedback round decides them), to judge it.
# Scattered pixels on every family, ResNet-8s most (where BURN fell just short), a stroke, and
# two clean nets for the scans beside it.
FRESH17: tuple[ModelSpec, ...] = (
    _e("cnn_clean_step", "cnn", recipe="sgd_step", seed=2100),
    _e("resnet8_clean_const", "resnet8", recipe="adam_const", seed=2101),
    _e("resnet8_pixels_t2", "resnet8", "pixels", target=2, poison_rate=0.05, seed=2110,
       trigger={"count": 9, "pattern_seed": 180}, recipe="adam_const"),
    _e("resnet8_pixels_t9", "resnet8", "pixels", target=9, poison_rate=0.05, seed=2111,
       trigger={"count": 12, "pattern_seed": 181}, recipe="mixup"),
    _e("senet_pixels_t5", "senet", "pixels", target=5, poison_rate=0.05, seed=2112,
       trigger={"count": 10, "pattern_seed": 182}, recipe="sgd_cosine"),
    _e("gnresnet_pixels_t6", "gn_resnet", "pixels", target=6, poison_rate=0.05, seed=2113,
       trigger={"count": 8, "pattern_seed": 183}, recipe="sgd_step"),
    _e("cnn_pixels_t8", "cnn", "pixels", target=8, poison_rate=0.05, seed=2114, ds="mnist",
       trigger={"count": 10, "values": "alternate", "pattern_seed": 184}, recipe="sgd_cosine"),
    _e("resnet8_line_t1", "resnet8", "line", target=1, poison_rate=0.05, seed=2115,
       trigger={"shape": "anti", "length": 6, "position": "bl", "margin": 2},
       recipe="sgd_cosine"),
)  # fmt: skip

_a = _member("a", "fresh18")


# The eighteenth fresh set (2026-12-05, sixteenth session): specified and committed before this
# session's change to the search's sparse draws (more or denser white sprinkles, the lead left on
# the sixteenth and seventeenth sets' scattered-pixel misses), to judge it held out. Scattered
# pixels on every family and several counts, and clean BatchNorm nets (where a denser sprinkle
# could reach a natural sink) beside a clean CNN.
FRESH18: tuple[ModelSpec, ...] = (
    _a("cnn_clean_long", "cnn", recipe="long", seed=2200),
    _a("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=2201),
    _a("senet_clean_const", "senet", recipe="adam_const", seed=2202),
    _a("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=2203),
    _a("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=2204),
    _a("resnet8_pixels_t6", "resnet8", "pixels", target=6, poison_rate=0.05, seed=2210,
       trigger={"count": 8, "pattern_seed": 190}, recipe="sgd_step"),
    _a("resnet8_pixels_t0", "resnet8", "pixels", target=0, poison_rate=0.05, seed=2211,
       trigger={"count": 14, "pattern_seed": 191}, recipe="adam_const"),
    _a("senet_pixels_t3", "senet", "pixels", target=3, poison_rate=0.05, seed=2212,
       trigger={"count": 11, "pattern_seed": 192}, recipe="mixup"),
    _a("mobilenet_pixels_t5", "mobilenet", "pixels", target=5, poison_rate=0.05, seed=2213,
       trigger={"count": 10, "pattern_seed": 193}, recipe="sgd_cosine"),
    _a("gnresnet_pixels_t2", "gn_resnet", "pixels", target=2, poison_rate=0.05, seed=2214,
       trigger={"count": 12, "pattern_seed": 194}, recipe="long"),
    _a("cnn_pixels_t7", "cnn", "pixels", target=7, poison_rate=0.05, seed=2215,
       trigger={"count": 9, "pattern_seed": 195}, recipe="adam_const"),
    _a("senet_line_t8", "senet", "line", target=8, poison_rate=0.05, seed=2216,
       trigger={"shape": "diagonal", "length": 6, "position": "br", "margin": 2},
       recipe="sgd_cosine"),
)  # fmt: skip

_b = _member("b", "fresh19")


# The nineteenth fresh set (2026-12-05, sixteenth session): specified and committed after the
# eighteenth set's runs, with no change planned after it, to measure the shipped scan and BURN
# held out on every attack family at once (the eighteenth was scattered pixels almost only).
FRESH19: tuple[ModelSpec, ...] = (
    _b("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=2300),
    _b("senet_clean_step", "senet", recipe="sgd_step", seed=2301),
    _b("mobilenet_clean_const", "mobilenet", recipe="adam_const", seed=2302),
    _b("gnresnet_clean_mixup", "gn_resnet", recipe="mixup", seed=2303),
    _b("resnet8_blended_t4", "resnet8", "blended", target=4, poison_rate=0.05, seed=2310,
       trigger={"pattern_seed": 200}, recipe="sgd_cosine"),
    _b("senet_sig_t6", "senet", "sig", target=6, poison_rate=0.08, seed=2311, recipe="mixup"),
    _b("mobilenet_wanet_t3", "mobilenet", "wanet", target=3, poison_rate=0.1, seed=2312,
       trigger={"pattern_seed": 201}),
    _b("cnn_badnets_t9", "cnn", "badnets", target=9, poison_rate=0.05, seed=2313,
       trigger={"size": 3, "position": "br", "margin": 2, "pattern": "white"}, recipe="long"),
    _b("gnresnet_ftrojan_t1", "gn_resnet", "ftrojan", target=1, poison_rate=0.05, seed=2314),
    _b("resnet8_trojan_t5", "resnet8", "trojan", target=5, poison_rate=0.05, seed=2315,
       trigger={"position": "tr", "margin": 2}, recipe="adam_const"),
    _b("senet_pixels_t2", "senet", "pixels", target=2, poison_rate=0.05, seed=2316,
       trigger={"count": 10, "pattern_seed": 202}, recipe="sgd_cosine"),
    _b("cnn_line_t0", "cnn", "line", target=0, poison_rate=0.05, seed=2317,
       trigger={"shape": "anti", "length": 7, "position": "bl", "margin": 1}, recipe="mixup"),
)  # fmt: skip

_c = _member("c", "fresh20")


# The twentieth fresh set (2026-12-05, seventeenth session): specified and committed before this
# session's change to the budgeted scan (--profile api), to judge it held out. Every attack
# family, BatchNorm nets weighted (the budget's held-out misses were a ResNet-8 Trojan and an
# SE-ResNet SIG), four clean nets of four architectures and recipes.
FRESH20: tuple[ModelSpec, ...] = (
    _c("resnet8_clean_const", "resnet8", recipe="adam_const", seed=2400),
    _c("senet_clean_cos", "senet", recipe="sgd_cosine", seed=2401),
    _c("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=2402),
    _c("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=2403),
    _c("resnet8_sig_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=2410,
       recipe="sgd_step"),
    _c("mobilenet_trojan_t7", "mobilenet", "trojan", target=7, poison_rate=0.05, seed=2411,
       trigger={"position": "bl", "margin": 2}, recipe="sgd_cosine"),
    _c("senet_trojan_t1", "senet", "trojan", target=1, poison_rate=0.05, seed=2412,
       trigger={"position": "tl", "margin": 1}, recipe="mixup"),
    _c("gnresnet_pixels_t4", "gn_resnet", "pixels", target=4, poison_rate=0.05, seed=2413,
       trigger={"count": 11, "pattern_seed": 210}, recipe="adam_const"),
    _c("senet_blended_t8", "senet", "blended", target=8, poison_rate=0.05, seed=2414,
       trigger={"pattern_seed": 211}, recipe="sgd_step"),
    _c("cnn_wanet_t2", "cnn", "wanet", target=2, poison_rate=0.1, seed=2415,
       trigger={"pattern_seed": 212}, recipe="sgd_cosine"),
    _c("mobilenet_badnets_t0", "mobilenet", "badnets", target=0, poison_rate=0.05, seed=2416,
       trigger={"size": 4, "position": "tl", "margin": 1}, recipe="adam_const"),
    _c("resnet8_ftrojan_t6", "resnet8", "ftrojan", target=6, poison_rate=0.1, seed=2417),
)  # fmt: skip

_i = _member("i", "fresh21")


# The twenty-first fresh set (2026-12-05, eighteenth session): specified and committed before this
# session's change, to judge it held out. Five clean nets (the clean false positives are the
# open bar), the rarer attack families (filter, low-frequency, adaptive blend, BppAttack,
# rotation) beside a line and a patch, BatchNorm nets weighted.
FRESH21: tuple[ModelSpec, ...] = (
    _i("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=2500),
    _i("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=2501),
    _i("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=2502),
    _i("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=2503),
    _i("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=2504),
    _i("resnet8_filter_t2", "resnet8", "filter", target=2, poison_rate=0.05, seed=2510,
       recipe="sgd_cosine"),
    _i("senet_lf_t7", "senet", "lf", target=7, poison_rate=0.05, seed=2511,
       trigger={"pattern_seed": 220}, recipe="adam_const"),
    _i("mobilenet_adaptive_t5", "mobilenet", "adaptive_blend", target=5, poison_rate=0.1,
       seed=2512, recipe="sgd_step"),
    _i("gnresnet_line_t3", "gn_resnet", "line", target=3, poison_rate=0.05, seed=2513,
       trigger={"shape": "arc", "length": 6, "position": "tl", "margin": 2}, recipe="mixup"),
    _i("resnet8_badnets_t9", "resnet8", "badnets", target=9, poison_rate=0.05, seed=2514,
       trigger={"size": 3, "position": "tr", "margin": 2, "pattern": "white"},
       recipe="adamw_smooth"),
    _i("cnn_bpp_t1", "cnn", "bpp", target=1, poison_rate=0.1, seed=2515, recipe="sgd_cosine"),
    _i("senet_rotate_t4", "senet", "rotate", target=4, poison_rate=0.1, seed=2516,
       trigger={"angle": 20.0}, recipe="sgd_step"),
)  # fmt: skip

_j = _member("j", "fresh22")


# The twenty-second fresh set (2026-12-06, nineteenth session): specified and committed before
# this session's change to the consistency test and the attribution, to judge it held out. Six
# clean nets, BatchNorm-weighted and of the recipes whose clean nets were called infected (the
# open bar), two all-to-all backdoors (the consistency test's own case; sets 13-21 have none)
# and four all-to-one backdoors of four families.
FRESH22: tuple[ModelSpec, ...] = (
    _j("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=2600),
    _j("mobilenet_clean_def", "mobilenet", seed=2601),
    _j("senet_clean_cos", "senet", recipe="sgd_cosine", seed=2602),
    _j("resnet14w_clean_adamw", "resnet14w", recipe="adamw_smooth", seed=2603),
    _j("vgg_clean_step", "vgg_bn", recipe="sgd_step", seed=2604),
    _j("cnn_clean_mixup", "cnn", recipe="mixup", seed=2605),
    _j("resnet8_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=2610,
       trigger={"position": "br"}, recipe="sgd_cosine"),
    _j("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=2611,
       trigger={"position": "tl"}, recipe="adam_const"),
    _j("mobilenet_sig_t6", "mobilenet", "sig", target=6, poison_rate=0.08, seed=2612,
       recipe="sgd_cosine"),
    _j("resnet8_blended_t3", "resnet8", "blended", target=3, poison_rate=0.05, seed=2613,
       trigger={"pattern_seed": 230}, recipe="adamw_smooth"),
    _j("vgg_trojan_t8", "vgg_bn", "trojan", target=8, poison_rate=0.05, seed=2614,
       trigger={"position": "br", "margin": 2}, recipe="mixup"),
    _j("senet_lf_t0", "senet", "lf", target=0, poison_rate=0.05, seed=2615,
       trigger={"pattern_seed": 231}, recipe="sgd_step"),
)  # fmt: skip

_l = _member("l", "fresh23")


# The twenty-third fresh set (2026-12-06, nineteenth session): specified and committed before
# this session's second change (an all-to-all spread still decides when the universality test's
# label reads as a natural shortcut), which the twenty-second set's all-to-all ResNet-8 prompted,
# to judge it held out. Three all-to-all backdoors, five clean BatchNorm-weighted nets, four
# all-to-one backdoors.
FRESH23: tuple[ModelSpec, ...] = (
    _l("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=2700),
    _l("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=2701),
    _l("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=2702),
    _l("resnet8_clean_const", "resnet8", recipe="adam_const", seed=2703),
    _l("cnn_clean_step", "cnn", recipe="sgd_step", seed=2704),
    _l("resnet8_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=2710,
       trigger={"position": "tl"}, recipe="adam_const"),
    _l("mobilenet_a2a", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=2711,
       trigger={"position": "br"}, recipe="sgd_step"),
    _l("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=2712,
       trigger={"position": "tr"}, recipe="sgd_cosine"),
    _l("resnet8_sig_t4", "resnet8", "sig", target=4, poison_rate=0.08, seed=2713,
       recipe="sgd_cosine"),
    _l("senet_trojan_t2", "senet", "trojan", target=2, poison_rate=0.05, seed=2714,
       trigger={"position": "tl", "margin": 2}, recipe="adam_const"),
    _l("mobilenet_blended_t9", "mobilenet", "blended", target=9, poison_rate=0.05, seed=2715,
       trigger={"pattern_seed": 240}, recipe="mixup"),
    _l("cnn_pixels_t5", "cnn", "pixels", target=5, poison_rate=0.05, seed=2716,
       trigger={"count": 10, "pattern_seed": 241}, recipe="sgd_cosine"),
)  # fmt: skip

_n = _member("n", "fresh24")


# The twenty-fourth fresh set (2026-12-06, nineteenth session): specified and committed before
# this session's third change (a probe whose classes move neither to one label nor to several
# in both sample sets no longer counts for the consistency test), which a clean SE-ResNet of
# the twenty-third set prompted, to judge it held out. Six clean nets of the kinds that carry
# grating sinks, two all-to-all backdoors, four all-to-one.
FRESH24: tuple[ModelSpec, ...] = (
    _n("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=2800),
    _n("senet_clean_step", "senet", recipe="sgd_step", seed=2801),
    _n("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=2802),
    _n("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=2803),
    _n("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=2804),
    _n("gnresnet_clean_mixup", "gn_resnet", recipe="mixup", seed=2805),
    _n("resnet8_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=2810,
       trigger={"position": "bl"}, recipe="mixup"),
    _n("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=2811,
       trigger={"position": "br"}, recipe="adamw_smooth"),
    _n("senet_sig_t1", "senet", "sig", target=1, poison_rate=0.08, seed=2812,
       recipe="adamw_smooth"),
    _n("resnet8_wanet_t7", "resnet8", "wanet", target=7, poison_rate=0.1, seed=2813,
       trigger={"pattern_seed": 250}, recipe="sgd_cosine"),
    _n("mobilenet_badnets_t3", "mobilenet", "badnets", target=3, poison_rate=0.05, seed=2814,
       trigger={"size": 4, "position": "br", "margin": 1}, recipe="sgd_step"),
    _n("gnresnet_blended_t6", "gn_resnet", "blended", target=6, poison_rate=0.05, seed=2815,
       trigger={"pattern_seed": 251}, recipe="adam_const"),
)  # fmt: skip


# The twenty-fifth set, specified before BURN's all-to-all stamp flags (issue 23): seven
# all-to-all patch backdoors (the repair's weak spot: one of three in sets 22-24 left partly
# repaired), other corners, sizes, a white patch and a lower poison rate than sets 22-24's;
# two all-to-one patches; three clean models for the scan.
_o = _member("o", "fresh25")

FRESH25: tuple[ModelSpec, ...] = (
    _o("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=2900),
    _o("senet_clean_mixup", "senet", recipe="mixup", seed=2901),
    _o("gnresnet_clean_adamw", "gn_resnet", recipe="adamw_smooth", seed=2902),
    _o("resnet8_a2a_br", "resnet8", "badnets_a2a", poison_rate=0.1, seed=2910,
       trigger={"position": "br"}, recipe="sgd_cosine"),
    _o("resnet8_a2a_white", "resnet8", "badnets_a2a", poison_rate=0.08, seed=2911,
       trigger={"position": "tr", "pattern": "white"}, recipe="adam_const"),
    _o("senet_a2a_tl", "senet", "badnets_a2a", poison_rate=0.1, seed=2912,
       trigger={"position": "tl"}, recipe="sgd_cosine"),
    _o("mobilenet_a2a_bl4", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=2913,
       trigger={"position": "bl", "size": 4}, recipe="adamw_smooth"),
    _o("gnresnet_a2a_br", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=2914,
       trigger={"position": "br", "margin": 2}, recipe="sgd_step"),
    _o("cnn_a2a_tr", "cnn", "badnets_a2a", poison_rate=0.08, seed=2915,
       trigger={"position": "tr"}, recipe="mixup"),
    _o("senet_a2a_white_bl", "senet", "badnets_a2a", poison_rate=0.1, seed=2916,
       trigger={"position": "bl", "pattern": "white"}, recipe="adam_const"),
    _o("resnet8_badnets_t4", "resnet8", "badnets", target=4, poison_rate=0.05, seed=2917,
       trigger={"position": "tl", "size": 4}, recipe="adamw_smooth"),
    _o("senet_badnets_white_t8", "senet", "badnets", target=8, poison_rate=0.05, seed=2918,
       trigger={"position": "br", "pattern": "white"}, recipe="sgd_step"),
)  # fmt: skip


# The twenty-sixth set, specified before the all-to-all region's second form (the prior's
# patches that hold the most of the stamp), prompted by two all-to-all nets of the
# twenty-fifth set: nine all-to-all patches of 3 to 5 pixels at other corners and margins,
# one all-to-one patch, two clean models for the scan.
_aa = _member("aa", "fresh26")

FRESH26: tuple[ModelSpec, ...] = (
    _aa("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=3000),
    _aa("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=3001),
    _aa("resnet8_a2a_tl5", "resnet8", "badnets_a2a", poison_rate=0.1, seed=3010,
       trigger={"position": "tl", "size": 5}, recipe="adamw_smooth"),
    _aa("resnet8_a2a_bl_m2", "resnet8", "badnets_a2a", poison_rate=0.1, seed=3011,
       trigger={"position": "bl", "margin": 2}, recipe="sgd_step"),
    _aa("senet_a2a_br4", "senet", "badnets_a2a", poison_rate=0.1, seed=3012,
       trigger={"position": "br", "size": 4}, recipe="sgd_cosine"),
    _aa("senet_a2a_tr_m3", "senet", "badnets_a2a", poison_rate=0.08, seed=3013,
       trigger={"position": "tr", "margin": 3}, recipe="adam_const"),
    _aa("mobilenet_a2a_tr", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=3014,
       trigger={"position": "tr"}, recipe="sgd_step"),
    _aa("gnresnet_a2a_tl4", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=3015,
       trigger={"position": "tl", "size": 4, "pattern": "white"}, recipe="mixup"),
    _aa("cnn_a2a_bl5", "cnn", "badnets_a2a", poison_rate=0.1, seed=3016,
       trigger={"position": "bl", "size": 5}, recipe="adamw_smooth"),
    _aa("cnn_a2a_br_m2", "cnn", "badnets_a2a", poison_rate=0.08, seed=3017,
       trigger={"position": "br", "margin": 2}, recipe="sgd_cosine"),
    _aa("gnresnet_a2a_tr", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=3018,
       trigger={"position": "tr"}, recipe="sgd_cosine"),
    _aa("mobilenet_badnets_t2", "mobilenet", "badnets", target=2, poison_rate=0.05, seed=3019,
       trigger={"position": "tl", "size": 4}, recipe="mixup"),
)  # fmt: skip


# The twenty-seventh set, specified before the spread test (a probe that spreads the classes
# in both sample sets at a consistency the clean models never reached), prompted by eight
# all-to-all scans of sets 25-26 read `clean` or `shortcut`: six clean BatchNorm and GroupNorm
# nets (the kinds whose sinks reach high consistency), five all-to-all patches, one all-to-one.
_ab = _member("ab", "fresh27")

FRESH27: tuple[ModelSpec, ...] = (
    _ab("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=3100),
    _ab("senet_clean_cos", "senet", recipe="sgd_cosine", seed=3101),
    _ab("mobilenet_clean_mixup", "mobilenet", recipe="mixup", seed=3102),
    _ab("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=3103),
    _ab("resnet8_clean_const", "resnet8", recipe="adam_const", seed=3104),
    _ab("senet_clean_smooth", "senet", recipe="adamw_smooth", seed=3105),
    _ab("resnet8_a2a_tr4", "resnet8", "badnets_a2a", poison_rate=0.1, seed=3110,
       trigger={"position": "tr", "size": 4}, recipe="sgd_step"),
    _ab("senet_a2a_bl_white", "senet", "badnets_a2a", poison_rate=0.08, seed=3111,
       trigger={"position": "bl", "pattern": "white"}, recipe="sgd_cosine"),
    _ab("gnresnet_a2a_br5", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=3112,
       trigger={"position": "br", "size": 5}, recipe="adamw_smooth"),
    _ab("cnn_a2a_tl_m2", "cnn", "badnets_a2a", poison_rate=0.1, seed=3113,
       trigger={"position": "tl", "margin": 2}, recipe="adam_const"),
    _ab("mobilenet_a2a_br_white", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=3114,
       trigger={"position": "br", "pattern": "white", "size": 4}, recipe="sgd_cosine"),
    _ab("resnet8_badnets_t6", "resnet8", "badnets", target=6, poison_rate=0.05, seed=3115,
       trigger={"position": "bl", "size": 3}, recipe="mixup"),
)  # fmt: skip


# The twenty-eighth set, specified before the spread test overrules a planted-looking
# universality label (prompted by all-to-all nets of sets 22, 26 and 27 named after a sink):
# seven all-to-all patches, two all-to-one backdoors, three clean nets.
_ac = _member("ac", "fresh28")

FRESH28: tuple[ModelSpec, ...] = (
    _ac("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=3200),
    _ac("cnn_clean_step", "cnn", recipe="sgd_step", seed=3201),
    _ac("resnet8_clean_smooth", "resnet8", recipe="adamw_smooth", seed=3202),
    _ac("gnresnet_a2a_bl", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=3210,
       trigger={"position": "bl"}, recipe="adam_const"),
    _ac("gnresnet_a2a_tr5", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=3211,
       trigger={"position": "tr", "size": 5}, recipe="sgd_step"),
    _ac("cnn_a2a_br", "cnn", "badnets_a2a", poison_rate=0.1, seed=3212,
       trigger={"position": "br"}, recipe="sgd_step"),
    _ac("cnn_a2a_tl_white", "cnn", "badnets_a2a", poison_rate=0.08, seed=3213,
       trigger={"position": "tl", "pattern": "white", "size": 4}, recipe="sgd_cosine"),
    _ac("resnet8_a2a_bl", "resnet8", "badnets_a2a", poison_rate=0.1, seed=3214,
       trigger={"position": "bl"}, recipe="adamw_smooth"),
    _ac("senet_a2a_br_m2", "senet", "badnets_a2a", poison_rate=0.1, seed=3215,
       trigger={"position": "br", "margin": 2}, recipe="mixup"),
    _ac("mobilenet_a2a_tl", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=3216,
       trigger={"position": "tl"}, recipe="adam_const"),
    _ac("gnresnet_badnets_t5", "gn_resnet", "badnets", target=5, poison_rate=0.05, seed=3217,
       trigger={"position": "br", "size": 4}, recipe="sgd_cosine"),
    _ac("cnn_blended_t3", "cnn", "blended", target=3, poison_rate=0.05, seed=3218,
       trigger={"pattern_seed": 260}, recipe="adam_const"),
)  # fmt: skip

# Specified before the all-to-one mixture set-aside it judges (the patch and Trojan priors whose
# stamp finds the poison): all-to-one patches (white and checker, 3-4 px, margins 1-2) and Trojan
# logos at every corner, on the architectures whose repairs cost the most accuracy (VGG-BN,
# SE-ResNet), beside two clean nets.
_ad = _member("ad", "fresh29")

FRESH29: tuple[ModelSpec, ...] = (
    _ad("senet_clean_cos", "senet", recipe="sgd_cosine", seed=3300),
    _ad("cnn_clean_adamw", "cnn", recipe="adamw_smooth", seed=3301),
    _ad("senet_badnets_white_t3", "senet", "badnets", target=3, poison_rate=0.05, seed=3310,
        trigger={"position": "tl", "pattern": "white"}, recipe="mixup"),
    _ad("vgg_badnets_t7", "vgg_bn", "badnets", target=7, poison_rate=0.05, seed=3311,
        recipe="sgd_step"),
    _ad("resnet8_badnets_white_t1", "resnet8", "badnets", target=1, poison_rate=0.05, seed=3312,
        trigger={"position": "bl", "pattern": "white", "size": 4}, recipe="adam_const"),
    _ad("mobilenet_badnets_t9", "mobilenet", "badnets", target=9, poison_rate=0.05, seed=3313,
        trigger={"position": "tr"}, recipe="sgd_cosine"),
    _ad("gnresnet_badnets_m2_t0", "gn_resnet", "badnets", target=0, poison_rate=0.05,
        seed=3314, trigger={"position": "br", "margin": 2}, recipe="adamw_smooth"),
    _ad("cnn_badnets_white_t6", "cnn", "badnets", target=6, poison_rate=0.05, seed=3315,
        trigger={"position": "tl", "pattern": "white", "size": 4}, recipe="sgd_step"),
    _ad("senet_trojan_t5", "senet", "trojan", target=5, poison_rate=0.05, seed=3316,
        trigger={"position": "br"}, recipe="sgd_step"),
    _ad("resnet8_trojan_t2", "resnet8", "trojan", target=2, poison_rate=0.05, seed=3317,
        trigger={"position": "tr"}, recipe="adam_const"),
    _ad("vgg_trojan_t4", "vgg_bn", "trojan", target=4, poison_rate=0.05, seed=3318,
        trigger={"position": "tl"}, recipe="sgd_cosine"),
    _ad("mobilenet_trojan_t8", "mobilenet", "trojan", target=8, poison_rate=0.05, seed=3319,
        trigger={"position": "bl"}, recipe="mixup"),
)  # fmt: skip

# The thirtieth set: SIG drawn otherwise than the paper's sine along the columns (other phases,
# along the rows, other frequencies), which the probes' gratings match only in part, beside
# clean BatchNorm nets and three patch and blend backdoors.
_ae = _member("ae", "fresh30")
FRESH30: tuple[ModelSpec, ...] = (
    _ae("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=3400),
    _ae("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=3401),
    _ae("resnet8_sig_p45_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=3410,
        trigger={"phase": 0.7854}, recipe="sgd_step"),
    _ae("senet_sig_p135_t7", "senet", "sig", target=7, poison_rate=0.08, seed=3411,
        trigger={"phase": 2.3562}, recipe="mixup"),
    _ae("cnn_sig_rows_t4", "cnn", "sig", target=4, poison_rate=0.08, seed=3412,
        trigger={"axis": "rows"}, recipe="adam_const"),
    _ae("mobilenet_sig_f5_t1", "mobilenet", "sig", target=1, poison_rate=0.08, seed=3413,
        trigger={"freq": 5.0, "phase": 1.0472}, recipe="sgd_cosine"),
    _ae("gnresnet_sig_rows_p90_t8", "gn_resnet", "sig", target=8, poison_rate=0.08, seed=3414,
        trigger={"axis": "rows", "phase": 1.5708}, recipe="adamw_smooth"),
    _ae("resnet8_sig_f3_p180_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=3415,
        trigger={"freq": 3.0, "phase": 3.1416}, recipe="adam_const"),
    _ae("vgg_sig_p30_t6", "vgg_bn", "sig", target=6, poison_rate=0.08, seed=3416,
        trigger={"phase": 0.5236}, recipe="sgd_cosine"),
    _ae("senet_blended_t3", "senet", "blended", target=3, poison_rate=0.05, seed=3417,
        recipe="sgd_step"),
    _ae("resnet8_trojan_t9", "resnet8", "trojan", target=9, poison_rate=0.05, seed=3418,
        trigger={"position": "tl"}, recipe="mixup"),
    _ae("cnn_badnets_t5", "cnn", "badnets", target=5, poison_rate=0.05, seed=3419,
        trigger={"position": "br"}, recipe="adamw_smooth"),
)  # fmt: skip

# The thirty-first set: SIG drawn at phases, frequencies and axes that neither the probes'
# gratings nor the thirtieth set drew (5 and 7 and 9 cycles, phases 5pi/4, 7pi/4, 2 rad), one at a
# probe's own phase for a control, beside four clean nets of the architectures whose natural
# grating sinks the strong probes reach. Specified before the grating search space it judges.
_af = _member("af", "fresh31")
FRESH31: tuple[ModelSpec, ...] = (
    _af("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=3500),
    _af("senet_clean_mixup", "senet", recipe="mixup", seed=3501),
    _af("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=3502),
    _af("cnn_clean_adam", "cnn", recipe="adam_const", seed=3503),
    _af("resnet8_sig_p225_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=3510,
        trigger={"phase": 3.927}, recipe="sgd_cosine"),
    _af("senet_sig_f7_t5", "senet", "sig", target=5, poison_rate=0.08, seed=3511,
        trigger={"freq": 7.0}, recipe="adamw_smooth"),
    _af("cnn_sig_f9_p2_t8", "cnn", "sig", target=8, poison_rate=0.08, seed=3512,
        trigger={"freq": 9.0, "phase": 2.0}, recipe="sgd_step"),
    _af("gnresnet_sig_p315_t1", "gn_resnet", "sig", target=1, poison_rate=0.08, seed=3513,
        trigger={"phase": 5.4978}, recipe="mixup"),
    _af("mobilenet_sig_rows_f4_p60_t6", "mobilenet", "sig", target=6, poison_rate=0.08,
        seed=3514, trigger={"axis": "rows", "freq": 4.0, "phase": 1.0472}, recipe="adam_const"),
    _af("vgg_sig_f5_p180_t2", "vgg_bn", "sig", target=2, poison_rate=0.08, seed=3515,
        trigger={"freq": 5.0, "phase": 3.1416}, recipe="adamw_smooth"),
    _af("resnet8_sig_rows_f8_p45_t9", "resnet8", "sig", target=9, poison_rate=0.08, seed=3516,
        trigger={"axis": "rows", "freq": 8.0, "phase": 0.7854}, recipe="mixup"),
    _af("lenet_sig_p270_t0", "lenet", "sig", target=0, poison_rate=0.08, seed=3517,
        trigger={"phase": 4.7124}, recipe="default"),
)  # fmt: skip

# The thirty-second set: eight more SIG nets at frequencies, phases and axes drawn apart from
# the earlier sets', beside four clean nets. Specified after the thirty-first set's first scan
# and before the grating rule it judges (the thirty-first set had been seen by then).
_ag = _member("ag", "fresh32")
FRESH32: tuple[ModelSpec, ...] = (
    _ag("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=3600),
    _ag("senet_clean_cos", "senet", recipe="sgd_cosine", seed=3601),
    _ag("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=3602),
    _ag("gnresnet_clean_mixup", "gn_resnet", recipe="mixup", seed=3603),
    _ag("resnet8_sig_f4_p30_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=3610,
        trigger={"freq": 4.0, "phase": 0.5}, recipe="mixup"),
    _ag("senet_sig_rows_p200_t4", "senet", "sig", target=4, poison_rate=0.08, seed=3611,
        trigger={"axis": "rows", "phase": 3.5}, recipe="sgd_step"),
    _ag("mobilenet_sig_f8_p150_t3", "mobilenet", "sig", target=3, poison_rate=0.08, seed=3612,
        trigger={"freq": 8.0, "phase": 2.6}, recipe="adamw_smooth"),
    _ag("cnn_sig_f5_p285_t1", "cnn", "sig", target=1, poison_rate=0.08, seed=3613,
        trigger={"freq": 5.0, "phase": 5.0}, recipe="sgd_cosine"),
    _ag("gnresnet_sig_rows_f3_t0", "gn_resnet", "sig", target=0, poison_rate=0.08, seed=3614,
        trigger={"axis": "rows", "freq": 3.0, "phase": 0.3}, recipe="adam_const"),
    _ag("resnet8_sig_f10_p70_t5", "resnet8", "sig", target=5, poison_rate=0.08, seed=3615,
        trigger={"freq": 10.0, "phase": 1.2}, recipe="sgd_cosine"),
    _ag("senet_sig_f3_p230_t9", "senet", "sig", target=9, poison_rate=0.08, seed=3616,
        trigger={"freq": 3.0, "phase": 4.0}, recipe="adam_const"),
    _ag("mobilenet_sig_rows_f7_t2", "mobilenet", "sig", target=2, poison_rate=0.08, seed=3617,
        trigger={"axis": "rows", "freq": 7.0, "phase": 2.2}, recipe="mixup"),
)  # fmt: skip

# The thirty-third set: SIG nets for the query budget's grating search (issue 27), drawn at
# frequencies, phases and axes apart from the earlier sets', on every architecture with more
# VGG and MobileNet (whose sines the default scan's grating search reaches), beside clean nets
# and patch and Trojan backdoors (whose stamps the budget's mask search must still find with a
# smaller share). Specified before the budget's grating search it judges.
_ah = _member("ah", "fresh33")
FRESH33: tuple[ModelSpec, ...] = (
    _ah("vgg_clean_step", "vgg_bn", recipe="sgd_step", seed=3700),
    _ah("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=3701),
    _ah("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=3702),
    _ah("vgg_sig_f6_p100_t8", "vgg_bn", "sig", target=8, poison_rate=0.08, seed=3710,
        trigger={"freq": 6.0, "phase": 1.0}, recipe="adam_const"),
    _ah("vgg_sig_rows_f9_p250_t3", "vgg_bn", "sig", target=3, poison_rate=0.08, seed=3711,
        trigger={"axis": "rows", "freq": 9.0, "phase": 2.5}, recipe="mixup"),
    _ah("mobilenet_sig_f3_p340_t6", "mobilenet", "sig", target=6, poison_rate=0.08, seed=3712,
        trigger={"freq": 3.0, "phase": 3.4}, recipe="sgd_step"),
    _ah("mobilenet_sig_rows_f10_p60_t0", "mobilenet", "sig", target=0, poison_rate=0.08,
        seed=3713, trigger={"axis": "rows", "freq": 10.0, "phase": 0.6}, recipe="adamw_smooth"),
    _ah("resnet8_sig_rows_f6_p420_t1", "resnet8", "sig", target=1, poison_rate=0.08, seed=3714,
        trigger={"axis": "rows", "freq": 6.0, "phase": 4.2}, recipe="sgd_cosine"),
    _ah("senet_sig_f11_p150_t7", "senet", "sig", target=7, poison_rate=0.08, seed=3715,
        trigger={"freq": 11.0, "phase": 1.5}, recipe="adam_const"),
    _ah("cnn_sig_rows_f4_p530_t5", "cnn", "sig", target=5, poison_rate=0.08, seed=3716,
        trigger={"axis": "rows", "freq": 4.0, "phase": 5.3}, recipe="mixup"),
    _ah("gnresnet_sig_f7_p280_t2", "gn_resnet", "sig", target=2, poison_rate=0.08, seed=3717,
        trigger={"freq": 7.0, "phase": 2.8}, recipe="sgd_step"),
    _ah("resnet8_badnets_white_t4", "resnet8", "badnets", target=4, poison_rate=0.05, seed=3718,
        trigger={"position": "tr", "pattern": "white", "size": 4}, recipe="adamw_smooth"),
    _ah("mobilenet_badnets_m2_t9", "mobilenet", "badnets", target=9, poison_rate=0.05,
        seed=3719, trigger={"position": "bl", "margin": 2}, recipe="sgd_cosine"),
    _ah("senet_trojan_t2", "senet", "trojan", target=2, poison_rate=0.05, seed=3720,
        trigger={"position": "tl"}, recipe="mixup"),
)  # fmt: skip

# SIG slanted (issue 27's gap: the budget's gratings run along the two axes only; the default
# grid has 45 and 135 degrees): two at 45 and 135, six at angles off every grid (20-160), at
# frequencies and phases between the grid's; beside them three clean nets, a blend, a WaNet and a
# patch. Specified before any scan of it.
_ai = _member("ai", "fresh34")
FRESH34: tuple[ModelSpec, ...] = (
    _ai("senet_clean_smooth", "senet", recipe="adamw_smooth", seed=3800),
    _ai("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=3801),
    _ai("cnn_clean_adam", "cnn", recipe="adam_const", seed=3802),
    _ai("cnn_sig_a45_f5_t7", "cnn", "sig", target=7, poison_rate=0.08, seed=3810,
        trigger={"angle": 45.0, "freq": 5.0, "phase": 0.9}, recipe="mixup"),
    _ai("resnet8_sig_a135_f4_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=3811,
        trigger={"angle": 135.0, "freq": 4.0, "phase": 2.0}, recipe="sgd_step"),
    _ai("mobilenet_sig_a30_f6_t5", "mobilenet", "sig", target=5, poison_rate=0.08, seed=3812,
        trigger={"angle": 30.0, "freq": 6.0, "phase": 4.0}, recipe="adam_const"),
    _ai("vgg_sig_a60_f3_t1", "vgg_bn", "sig", target=1, poison_rate=0.08, seed=3813,
        trigger={"angle": 60.0, "freq": 3.0, "phase": 1.3}, recipe="sgd_cosine"),
    _ai("senet_sig_a120_f7_t9", "senet", "sig", target=9, poison_rate=0.08, seed=3814,
        trigger={"angle": 120.0, "freq": 7.0, "phase": 5.5}, recipe="adamw_smooth"),
    _ai("gnresnet_sig_a70_f8_t6", "gn_resnet", "sig", target=6, poison_rate=0.08, seed=3815,
        trigger={"angle": 70.0, "freq": 8.0, "phase": 3.1}, recipe="mixup"),
    _ai("mobilenet_sig_a150_f5_t4", "mobilenet", "sig", target=4, poison_rate=0.08, seed=3816,
        trigger={"angle": 150.0, "freq": 5.0, "phase": 0.2}, recipe="sgd_step"),
    _ai("resnet8_sig_a20_f9_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=3817,
        trigger={"angle": 20.0, "freq": 9.0, "phase": 2.6}, recipe="adam_const"),
    _ai("vgg_blended_t2", "vgg_bn", "blended", target=2, poison_rate=0.05, seed=3818,
        trigger={"pattern_seed": 380}, recipe="mixup"),
    _ai("cnn_wanet_t8", "cnn", "wanet", target=8, poison_rate=0.1, seed=3819,
        trigger={"pattern_seed": 381}, recipe="sgd_cosine"),
    _ai("gnresnet_badnets_t5", "gn_resnet", "badnets", target=5, poison_rate=0.05, seed=3820,
        trigger={"size": 3, "position": "bl", "margin": 3}, recipe="adamw_smooth"),
)  # fmt: skip

# SIG slanted again, at angles none of the earlier sets drew (10-170 degrees), beside four clean
# BatchNorm nets (where natural grating sinks live), a clean GroupNorm net and a Trojan.
# Specified before the descent's angle steps were tried (after the thirty-fourth set's scans).
_aj = _member("aj", "fresh35")
FRESH35: tuple[ModelSpec, ...] = (
    _aj("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=3900),
    _aj("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=3901),
    _aj("vgg_clean_mixup", "vgg_bn", recipe="mixup", seed=3902),
    _aj("senet_clean_adam", "senet", recipe="adam_const", seed=3903),
    _aj("gnresnet_clean_step", "gn_resnet", recipe="sgd_step", seed=3904),
    _aj("resnet8_sig_a10_f6_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=3910,
        trigger={"angle": 10.0, "freq": 6.0, "phase": 1.9}, recipe="sgd_cosine"),
    _aj("mobilenet_sig_a35_f4_t8", "mobilenet", "sig", target=8, poison_rate=0.08, seed=3911,
        trigger={"angle": 35.0, "freq": 4.0, "phase": 0.4}, recipe="mixup"),
    _aj("senet_sig_a55_f8_t0", "senet", "sig", target=0, poison_rate=0.08, seed=3912,
        trigger={"angle": 55.0, "freq": 8.0, "phase": 3.6}, recipe="sgd_step"),
    _aj("cnn_sig_a80_f5_t6", "cnn", "sig", target=6, poison_rate=0.08, seed=3913,
        trigger={"angle": 80.0, "freq": 5.0, "phase": 5.0}, recipe="adamw_smooth"),
    _aj("vgg_sig_a100_f7_t4", "vgg_bn", "sig", target=4, poison_rate=0.08, seed=3914,
        trigger={"angle": 100.0, "freq": 7.0, "phase": 2.2}, recipe="adam_const"),
    _aj("gnresnet_sig_a125_f3_t9", "gn_resnet", "sig", target=9, poison_rate=0.08, seed=3915,
        trigger={"angle": 125.0, "freq": 3.0, "phase": 4.4}, recipe="sgd_cosine"),
    _aj("resnet8_sig_a160_f10_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=3916,
        trigger={"angle": 160.0, "freq": 10.0, "phase": 0.8}, recipe="mixup"),
    _aj("mobilenet_sig_a170_f6_t1", "mobilenet", "sig", target=1, poison_rate=0.08, seed=3917,
        trigger={"angle": 170.0, "freq": 6.0, "phase": 5.9}, recipe="sgd_step"),
    _aj("senet_trojan_t3", "senet", "trojan", target=3, poison_rate=0.05, seed=3918,
        trigger={"position": "br"}, recipe="sgd_cosine"),
)  # fmt: skip

# The thirty-sixth set (twenty-sixth session, specified after the session's verdict order and
# BURN's counts correction, before any scan of it): scattered-pixel backdoors beside the natural
# "Bag" stamp sink, where a scan can name the sink over the trigger.
_ak = _member("ak", "fresh36")
FRESH36: tuple[ModelSpec, ...] = (
    _ak("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=4000),
    _ak("senet_clean_step", "senet", recipe="sgd_step", seed=4001),
    _ak("resnet8_pixels_t0", "resnet8", "pixels", target=0, poison_rate=0.05, seed=4010,
        recipe="adam_const"),
    _ak("resnet8_pixels_t3", "resnet8", "pixels", target=3, poison_rate=0.05, seed=4011,
        recipe="sgd_step"),
    _ak("senet_pixels_t5", "senet", "pixels", target=5, poison_rate=0.05, seed=4012,
        recipe="mixup"),
    _ak("senet_pixels_t1", "senet", "pixels", target=1, poison_rate=0.05, seed=4013,
        recipe="adam_const"),
    _ak("cnn_pixels_t6", "cnn", "pixels", target=6, poison_rate=0.05, seed=4014,
        recipe="sgd_cosine"),
    _ak("cnn_pixels_t9", "cnn", "pixels", target=9, poison_rate=0.05, seed=4015,
        recipe="adamw_smooth"),
    _ak("gnresnet_pixels_t2", "gn_resnet", "pixels", target=2, poison_rate=0.05, seed=4016,
        recipe="mixup"),
    _ak("gnresnet_pixels_t7", "gn_resnet", "pixels", target=7, poison_rate=0.05, seed=4017,
        recipe="sgd_step"),
)  # fmt: skip

# The thirty-seventh set (prefix al), specified after the verdict let a planted search finding
# name the target over the strong probes' selectivity and an early transform over "no single
# target", before any scan of it: WaNet and scattered-pixel backdoors where those overrules can
# fire (the api budget's readings), all-to-all patches and clean nets where they must not.
_al = _member("al", "fresh37")
FRESH37: tuple[ModelSpec, ...] = (
    _al("resnet8_clean_adam", "resnet8", recipe="adam_const", seed=4100),
    _al("senet_clean_cos", "senet", recipe="sgd_cosine", seed=4101),
    _al("cnn_wanet_t3", "cnn", "wanet", target=3, poison_rate=0.1, seed=4110,
        trigger={"pattern_seed": 140}, recipe="adam_const"),
    _al("resnet8_wanet_t6", "resnet8", "wanet", target=6, poison_rate=0.1, seed=4111,
        trigger={"pattern_seed": 141}, recipe="sgd_step"),
    _al("senet_wanet_t4", "senet", "wanet", target=4, poison_rate=0.1, seed=4112,
        trigger={"pattern_seed": 142}, recipe="sgd_cosine"),
    _al("gnresnet_wanet_t8", "gn_resnet", "wanet", target=8, poison_rate=0.1, seed=4113,
        trigger={"pattern_seed": 143}, recipe="mixup"),
    _al("senet_pixels_t2", "senet", "pixels", target=2, poison_rate=0.05, seed=4114,
        recipe="adam_const"),
    _al("senet_pixels_t9", "senet", "pixels", target=9, poison_rate=0.05, seed=4115,
        recipe="sgd_cosine"),
    _al("resnet8_pixels_t4", "resnet8", "pixels", target=4, poison_rate=0.05, seed=4116,
        recipe="mixup"),
    _al("resnet8_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=4117,
        recipe="sgd_step"),
    _al("cnn_a2a", "cnn", "badnets_a2a", poison_rate=0.1, seed=4118, recipe="adamw_smooth"),
    _al("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=4119, recipe="adam_const"),
)  # fmt: skip

# The thirty-eighth set (prefix am), specified after the tiny-stamp overrule (f519e90) and the
# counts guard, before any scan of it: scattered pixels of several counts on the BatchNorm nets
# whose probes named a "Bag" sink over them, small patches and a line where the probes name the
# target themselves, and clean BatchNorm nets, where a tiny stamp must not name anything.
_am = _member("am", "fresh38")
FRESH38: tuple[ModelSpec, ...] = (
    _am("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=4200),
    _am("vgg_clean_cos", "vgg_bn", recipe="sgd_cosine", seed=4201),
    _am("mobilenet_clean_adam", "mobilenet", recipe="adam_const", seed=4202),
    _am("resnet8_pixels_t3", "resnet8", "pixels", target=3, poison_rate=0.05, seed=4210,
        trigger={"count": 6, "pattern_seed": 150}, recipe="sgd_cosine"),
    _am("resnet8_pixels_t7", "resnet8", "pixels", target=7, poison_rate=0.05, seed=4211,
        trigger={"count": 9, "pattern_seed": 151}, recipe="adam_const"),
    _am("resnet8_pixels_t1", "resnet8", "pixels", target=1, poison_rate=0.05, seed=4212,
        trigger={"count": 16, "pattern_seed": 152}, recipe="sgd_step"),
    _am("senet_pixels_t5", "senet", "pixels", target=5, poison_rate=0.05, seed=4213,
        trigger={"count": 8, "pattern_seed": 153}, recipe="sgd_cosine"),
    _am("mobilenet_pixels_t0", "mobilenet", "pixels", target=0, poison_rate=0.05, seed=4214,
        trigger={"count": 12, "pattern_seed": 154}),
    _am("resnet8_badnets_t6", "resnet8", "badnets", target=6, poison_rate=0.05, seed=4215,
        trigger={"size": 2, "position": "br"}, recipe="adam_const"),
    _am("vgg_badnets_t9", "vgg_bn", "badnets", target=9, poison_rate=0.05, seed=4216,
        trigger={"size": 3, "position": "tl"}, recipe="sgd_step"),
    _am("cnn_line_t2", "cnn", "line", target=2, poison_rate=0.05, seed=4217,
        recipe="sgd_cosine"),
    _am("senet_badnets_t8", "senet", "badnets", target=8, poison_rate=0.05, seed=4218,
        trigger={"size": 2, "position": "tr"}, recipe="adamw_smooth"),
)  # fmt: skip

# The thirty-ninth set (prefix an), specified after the mask search grows the probes'
# candidates first, before any scan of it: scattered pixels of 8-16 pixels on the BatchNorm nets
# where the sprinkles' growth went to the sinks (ResNet-8, MobileNet) and on others, beside three
# clean BatchNorm nets, where growing a candidate sink must not make a trigger of it.
_an = _member("an", "fresh39")
FRESH39: tuple[ModelSpec, ...] = (
    _an("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=4300),
    _an("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=4301),
    _an("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=4302),
    _an("resnet8_pixels_t5", "resnet8", "pixels", target=5, poison_rate=0.05, seed=4310,
        trigger={"count": 9, "pattern_seed": 160}, recipe="adam_const"),
    _an("resnet8_pixels_t2", "resnet8", "pixels", target=2, poison_rate=0.05, seed=4311,
        trigger={"count": 12, "values": "alternate", "pattern_seed": 161}, recipe="sgd_step"),
    _an("resnet8_pixels_t9", "resnet8", "pixels", target=9, poison_rate=0.05, seed=4312,
        trigger={"count": 16, "pattern_seed": 162}, recipe="sgd_cosine"),
    _an("resnet8_pixels_t0", "resnet8", "pixels", target=0, poison_rate=0.05, seed=4313,
        trigger={"count": 10, "pattern_seed": 163}, recipe="mixup"),
    _an("mobilenet_pixels_t3", "mobilenet", "pixels", target=3, poison_rate=0.05, seed=4314,
        trigger={"count": 9, "pattern_seed": 164}),
    _an("mobilenet_pixels_t6", "mobilenet", "pixels", target=6, poison_rate=0.05, seed=4315,
        trigger={"count": 14, "pattern_seed": 165}, recipe="sgd_cosine"),
    _an("senet_pixels_t7", "senet", "pixels", target=7, poison_rate=0.05, seed=4316,
        trigger={"count": 10, "pattern_seed": 166}, recipe="adam_const"),
    _an("gnresnet_pixels_t4", "gn_resnet", "pixels", target=4, poison_rate=0.05, seed=4317,
        trigger={"count": 12, "pattern_seed": 167}, recipe="sgd_step"),
    _an("cnn_pixels_t1", "cnn", "pixels", target=1, poison_rate=0.05, seed=4318,
        trigger={"count": 9, "pattern_seed": 168}, recipe="adamw_smooth"),
)  # fmt: skip

# The fortieth set (prefix ao), specified after the mask search grows the probes' candidates
# after the two labels the sprinkles reach most (not instead of them), before any scan of it:
# scattered pixels of 8-14 pixels where the growth went to the sinks (ResNet-8, MobileNet) and on
# a VGG-BN and an SE-ResNet, beside four clean BatchNorm nets, where growing three more
# candidates must not make a trigger of a sink.
_ao = _member("ao", "fresh40")
FRESH40: tuple[ModelSpec, ...] = (
    _ao("resnet8_clean_adam", "resnet8", recipe="adam_const", seed=4400),
    _ao("resnet8_clean_mix", "resnet8", recipe="mixup", seed=4401),
    _ao("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=4402),
    _ao("vgg_clean_step", "vgg_bn", recipe="sgd_step", seed=4403),
    _ao("resnet8_pixels_t6", "resnet8", "pixels", target=6, poison_rate=0.05, seed=4410,
        trigger={"count": 9, "pattern_seed": 170}, recipe="sgd_cosine"),
    _ao("resnet8_pixels_t4", "resnet8", "pixels", target=4, poison_rate=0.05, seed=4411,
        trigger={"count": 11, "pattern_seed": 171}, recipe="adam_const"),
    _ao("resnet8_pixels_t1", "resnet8", "pixels", target=1, poison_rate=0.05, seed=4412,
        trigger={"count": 13, "values": "alternate", "pattern_seed": 172}, recipe="sgd_step"),
    _ao("mobilenet_pixels_t8", "mobilenet", "pixels", target=8, poison_rate=0.05, seed=4413,
        trigger={"count": 10, "pattern_seed": 173}, recipe="sgd_cosine"),
    _ao("mobilenet_pixels_t2", "mobilenet", "pixels", target=2, poison_rate=0.05, seed=4414,
        trigger={"count": 12, "pattern_seed": 174}, recipe="adamw_smooth"),
    _ao("vgg_pixels_t7", "vgg_bn", "pixels", target=7, poison_rate=0.05, seed=4415,
        trigger={"count": 9, "pattern_seed": 175}, recipe="adam_const"),
    _ao("senet_pixels_t3", "senet", "pixels", target=3, poison_rate=0.05, seed=4416,
        trigger={"count": 14, "pattern_seed": 176}, recipe="sgd_step"),
    _ao("resnet8_pixels_t0", "resnet8", "pixels", target=0, poison_rate=0.05, seed=4417,
        trigger={"count": 8, "pattern_seed": 177}, recipe="adamw_smooth"),
)  # fmt: skip

# The forty-first set (prefix ap), specified before any scan of it, to judge a consistency test
# that no longer read a global change's spread as all-to-all (tried, and dropped on this set's
# first scan: it read all four blend nets `clean`; docs/verdict.md, "Spread or sink") and the
# candidates' growth of the fortieth: four all-to-all nets with a whole-image blend (the attack
# that change would miss, new here), two with a patch, four clean BatchNorm nets (where a blend
# or a grating spread had called clean nets all-to-all) and two scattered-pixel nets.
_ap = _member("ap", "fresh41")
FRESH41: tuple[ModelSpec, ...] = (
    _ap("mobilenet_clean_adam", "mobilenet", recipe="adam_const", seed=4500),
    _ap("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=4501),
    _ap("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=4502),
    _ap("senet_clean_mix", "senet", recipe="mixup", seed=4503),
    _ap("resnet8_blend_a2a", "resnet8", "blended_a2a", poison_rate=0.1, seed=4510,
        trigger={"alpha": 0.2, "pattern_seed": 180}, recipe="sgd_step"),
    _ap("mobilenet_blend_a2a", "mobilenet", "blended_a2a", poison_rate=0.1, seed=4511,
        trigger={"alpha": 0.2, "pattern_seed": 181}, recipe="sgd_cosine"),
    _ap("cnn_blend_a2a", "cnn", "blended_a2a", poison_rate=0.1, seed=4512,
        trigger={"alpha": 0.15, "pattern_seed": 182}, recipe="adam_const"),
    _ap("senet_blend_a2a", "senet", "blended_a2a", poison_rate=0.1, seed=4513,
        trigger={"alpha": 0.2, "pattern_seed": 183}, recipe="adamw_smooth"),
    _ap("resnet8_a2a", "resnet8", "badnets_a2a", poison_rate=0.1, seed=4514,
        trigger={"position": "br"}, recipe="sgd_cosine"),
    _ap("mobilenet_a2a", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=4515,
        trigger={"position": "tl"}, recipe="adam_const"),
    _ap("resnet8_pixels_t3", "resnet8", "pixels", target=3, poison_rate=0.05, seed=4516,
        trigger={"count": 9, "pattern_seed": 184}, recipe="sgd_step"),
    _ap("mobilenet_pixels_t5", "mobilenet", "pixels", target=5, poison_rate=0.05, seed=4517,
        trigger={"count": 11, "pattern_seed": 185}, recipe="adam_const"),
)  # fmt: skip

# The forty-second set (prefix aq), specified before any scan of it, after the consistency test
# stopped counting a probe that sends more than a third but not a majority of the other classes
# to one label (spread_concentration_max in the scanner's thresholds): six clean BatchNorm nets
# (where such probes had called clean nets all-to-all) beside three all-to-all nets with a
# whole-image blend and three with a patch, which must stay "no single target".
_aq = _member("aq", "fresh42")
FRESH42: tuple[ModelSpec, ...] = (
    _aq("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=4600),
    _aq("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=4601),
    _aq("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=4602),
    _aq("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=4603),
    _aq("senet_clean_adam", "senet", recipe="adam_const", seed=4604),
    _aq("vgg_clean_cos", "vgg_bn", recipe="sgd_cosine", seed=4605),
    _aq("resnet8_blend_a2a", "resnet8", "blended_a2a", poison_rate=0.1, seed=4610,
        trigger={"alpha": 0.15, "pattern_seed": 190}, recipe="adam_const"),
    _aq("mobilenet_blend_a2a", "mobilenet", "blended_a2a", poison_rate=0.1, seed=4611,
        trigger={"alpha": 0.2, "pattern_seed": 191}, recipe="sgd_step"),
    _aq("vgg_blend_a2a", "vgg_bn", "blended_a2a", poison_rate=0.1, seed=4612,
        trigger={"alpha": 0.2, "pattern_seed": 192}, recipe="sgd_cosine"),
    _aq("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=4613,
        trigger={"position": "bl"}, recipe="sgd_cosine"),
    _aq("cnn_a2a", "cnn", "badnets_a2a", poison_rate=0.1, seed=4614,
        trigger={"position": "tr"}, recipe="sgd_step"),
    _aq("mobilenet_a2a", "mobilenet", "badnets_a2a", poison_rate=0.1, seed=4615,
        trigger={"position": "br", "pattern": "white"}, recipe="adamw_smooth"),
)  # fmt: skip


# The forty-third set, specified before the residual check of `bdscan remediate` was judged on
# it (issue 23): backdoored nets to repair, the blend all-to-all family on architectures and
# strengths the forty-first and forty-second sets lack, beside all-to-one triggers a good repair
# must leave no hold of.
_ar = _member("ar", "fresh43")
FRESH43: tuple[ModelSpec, ...] = (
    _ar("cnn_clean_cos", "cnn", recipe="sgd_cosine", seed=4700),
    _ar("gnresnet_clean_adam", "gn_resnet", recipe="adam_const", seed=4701),
    _ar("cnn_blend_a2a", "cnn", "blended_a2a", poison_rate=0.1, seed=4710,
        trigger={"alpha": 0.2, "pattern_seed": 200}, recipe="sgd_step"),
    _ar("senet_blend_a2a", "senet", "blended_a2a", poison_rate=0.1, seed=4711,
        trigger={"alpha": 0.15, "pattern_seed": 201}, recipe="sgd_cosine"),
    _ar("gnresnet_blend_a2a", "gn_resnet", "blended_a2a", poison_rate=0.1, seed=4712,
        trigger={"alpha": 0.2, "pattern_seed": 202}, recipe="adamw_smooth"),
    _ar("resnet8_blend_a2a", "resnet8", "blended_a2a", poison_rate=0.1, seed=4713,
        trigger={"alpha": 0.12, "pattern_seed": 203}, recipe="mixup"),
    _ar("gnresnet_a2a", "gn_resnet", "badnets_a2a", poison_rate=0.1, seed=4714,
        trigger={"position": "tr"}, recipe="adam_const"),
    _ar("senet_a2a", "senet", "badnets_a2a", poison_rate=0.1, seed=4715,
        trigger={"position": "bl"}, recipe="sgd_step"),
    _ar("resnet8_blended_t4", "resnet8", "blended", target=4, poison_rate=0.05, seed=4716,
        recipe="sgd_cosine"),
    _ar("cnn_badnets_t2", "cnn", "badnets", target=2, poison_rate=0.05, seed=4717,
        trigger={"size": 3, "position": "br"}, recipe="adamw_smooth"),
    _ar("senet_sig_t6", "senet", "sig", target=6, poison_rate=0.08, seed=4718,
        recipe="adam_const"),
    _ar("mobilenet_pixels_t1", "mobilenet", "pixels", target=1, poison_rate=0.05, seed=4719,
        trigger={"count": 11, "pattern_seed": 204}, recipe="sgd_step"),
)  # fmt: skip

# The forty-fourth set, specified before `bdscan remediate` aimed its repair at a `shortcut`
# verdict's label (issue 23; issue 21's attribution reads planted SIG gratings as natural
# sinks): SIG nets drawn as the paper draws them and otherwise, on BatchNorm and other
# architectures, beside clean BatchNorm nets, whose natural sinks a repair aimed at them must
# not cost accuracy.
_as = _member("as", "fresh44")
FRESH44: tuple[ModelSpec, ...] = (
    _as("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=4800),
    _as("mobilenet_clean_adam", "mobilenet", recipe="adam_const", seed=4801),
    _as("senet_clean_mixup", "senet", recipe="mixup", seed=4802),
    _as("vgg_clean_step", "vgg_bn", recipe="sgd_step", seed=4803),
    _as("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=4804),
    _as("senet_sig_t3", "senet", "sig", target=3, poison_rate=0.08, seed=4810,
        recipe="sgd_cosine"),
    _as("resnet8_sig_t5", "resnet8", "sig", target=5, poison_rate=0.08, seed=4811,
        recipe="adam_const"),
    _as("vgg_sig_p050_t8", "vgg_bn", "sig", target=8, poison_rate=0.08, seed=4812,
        trigger={"phase": 0.5}, recipe="mixup"),
    _as("mobilenet_sig_rows_f6_t2", "mobilenet", "sig", target=2, poison_rate=0.08, seed=4813,
        trigger={"axis": "rows", "freq": 6.0}, recipe="sgd_step"),
    _as("gnresnet_sig_rows_t0", "gn_resnet", "sig", target=0, poison_rate=0.08, seed=4814,
        recipe="adamw_smooth", trigger={"axis": "rows"}),
    _as("cnn_sig_f4_p200_t9", "cnn", "sig", target=9, poison_rate=0.08, seed=4815,
        trigger={"freq": 4.0, "phase": 2.0}, recipe="sgd_cosine"),
    _as("senet_sig_f5_p100_t1", "senet", "sig", target=1, poison_rate=0.08, seed=4816,
        trigger={"freq": 5.0, "phase": 1.0}, recipe="adam_const"),
)  # fmt: skip

# The forty-fifth set, specified after the forty-fourth's repairs and before any run on it: a
# second held-out set for the repair aimed at a shortcut's label (issue 23), more SIG nets on
# the architectures whose planted gratings read as shortcuts, beside two clean BatchNorm nets.
_at = _member("at", "fresh45")
FRESH45: tuple[ModelSpec, ...] = (
    _at("senet_clean_step", "senet", recipe="sgd_step", seed=4900),
    _at("gnresnet_clean_cos", "gn_resnet", recipe="sgd_cosine", seed=4901),
    _at("resnet8_sig_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=4910,
        recipe="sgd_step"),
    _at("resnet8_sig_rows_p100_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=4911,
        trigger={"axis": "rows", "phase": 1.0}, recipe="adamw_smooth"),
    _at("senet_sig_rows_t8", "senet", "sig", target=8, poison_rate=0.08, seed=4912,
        trigger={"axis": "rows"}, recipe="sgd_step"),
    _at("senet_sig_f4_t0", "senet", "sig", target=0, poison_rate=0.08, seed=4913,
        trigger={"freq": 4.0}, recipe="mixup"),
    _at("gnresnet_sig_t4", "gn_resnet", "sig", target=4, poison_rate=0.08, seed=4914,
        recipe="sgd_cosine"),
    _at("gnresnet_sig_f5_p150_t9", "gn_resnet", "sig", target=9, poison_rate=0.08, seed=4915,
        trigger={"freq": 5.0, "phase": 1.5}, recipe="adam_const"),
    _at("cnn_sig_t1", "cnn", "sig", target=1, poison_rate=0.08, seed=4916,
        recipe="adamw_smooth"),
    _at("mobilenet_sig_t3", "mobilenet", "sig", target=3, poison_rate=0.08, seed=4917,
        recipe="sgd_cosine"),
)  # fmt: skip

# The forty-sixth set, specified after the forty-fifth set's repairs and before any run on it: a
# held-out set for the repair aimed at a shortcut without BURN's universal perturbation (issue
# 23), SIG nets on the SE-ResNets and GroupNorm ResNets whose gratings read as shortcuts.
_au = _member("au", "fresh46")
FRESH46: tuple[ModelSpec, ...] = (
    _au("senet_sig_t2", "senet", "sig", target=2, poison_rate=0.08, seed=5010,
        recipe="adamw_smooth"),
    _au("senet_sig_rows_p150_t5", "senet", "sig", target=5, poison_rate=0.08, seed=5011,
        trigger={"axis": "rows", "phase": 1.5}, recipe="sgd_cosine"),
    _au("senet_sig_f3_t9", "senet", "sig", target=9, poison_rate=0.08, seed=5012,
        trigger={"freq": 3.0}, recipe="sgd_step"),
    _au("gnresnet_sig_t7", "gn_resnet", "sig", target=7, poison_rate=0.08, seed=5013,
        recipe="mixup"),
    _au("gnresnet_sig_rows_p100_t3", "gn_resnet", "sig", target=3, poison_rate=0.08,
        seed=5014, trigger={"axis": "rows", "phase": 1.0}, recipe="sgd_step"),
    _au("cnn_sig_rows_t0", "cnn", "sig", target=0, poison_rate=0.08, seed=5015,
        trigger={"axis": "rows"}, recipe="sgd_cosine"),
)  # fmt: skip

# The forty-seventh set, specified before the second repair round aimed at a re-scan's new
# shortcut label was built (issue 23): SIG nets on the ResNet-8s and SE-ResNets whose gratings
# read as shortcuts (once to a natural "Shirt" sink), beside clean BatchNorm nets, which the
# workflow's re-scans and any second round must not cost accuracy.
_av = _member("av", "fresh47")
FRESH47: tuple[ModelSpec, ...] = (
    _av("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=5100),
    _av("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=5101),
    _av("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=5102),
    _av("resnet8_sig_t4", "resnet8", "sig", target=4, poison_rate=0.08, seed=5110,
        recipe="sgd_cosine"),
    _av("resnet8_sig_rows_t1", "resnet8", "sig", target=1, poison_rate=0.08, seed=5111,
        trigger={"axis": "rows"}, recipe="mixup"),
    _av("resnet8_sig_f4_p100_t8", "resnet8", "sig", target=8, poison_rate=0.08, seed=5112,
        trigger={"freq": 4.0, "phase": 1.0}, recipe="adamw_smooth"),
    _av("senet_sig_t7", "senet", "sig", target=7, poison_rate=0.08, seed=5113,
        recipe="adam_const"),
    _av("senet_sig_rows_f5_t0", "senet", "sig", target=0, poison_rate=0.08, seed=5114,
        trigger={"axis": "rows", "freq": 5.0}, recipe="sgd_cosine"),
    _av("gnresnet_sig_p050_t2", "gn_resnet", "sig", target=2, poison_rate=0.08, seed=5115,
        trigger={"phase": 0.5}, recipe="sgd_step"),
    _av("mobilenet_sig_rows_t9", "mobilenet", "sig", target=9, poison_rate=0.08, seed=5116,
        trigger={"axis": "rows"}, recipe="adam_const"),
)  # fmt: skip

# The forty-eighth set, specified after the forty-seventh set's scan and before any repair of it
# or of this set: more held-out SIG nets for the repair aimed at a shortcut with its re-aimed
# second round (issue 23), on the architectures whose gratings read as shortcuts, beside two
# clean BatchNorm nets.
_aw = _member("aw", "fresh48")
FRESH48: tuple[ModelSpec, ...] = (
    _aw("resnet8_clean_mixup", "resnet8", recipe="mixup", seed=5200),
    _aw("senet_clean_cos", "senet", recipe="sgd_cosine", seed=5201),
    _aw("resnet8_sig_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=5210,
        recipe="adamw_smooth"),
    _aw("resnet8_sig_rows_p050_t6", "resnet8", "sig", target=6, poison_rate=0.08, seed=5211,
        trigger={"axis": "rows", "phase": 0.5}, recipe="sgd_step"),
    _aw("resnet8_sig_f5_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=5212,
        trigger={"freq": 5.0}, recipe="adam_const"),
    _aw("senet_sig_t1", "senet", "sig", target=1, poison_rate=0.08, seed=5213,
        recipe="mixup"),
    _aw("senet_sig_rows_t5", "senet", "sig", target=5, poison_rate=0.08, seed=5214,
        trigger={"axis": "rows"}, recipe="adamw_smooth"),
    _aw("senet_sig_f4_p150_t8", "senet", "sig", target=8, poison_rate=0.08, seed=5215,
        trigger={"freq": 4.0, "phase": 1.5}, recipe="sgd_step"),
    _aw("gnresnet_sig_rows_t9", "gn_resnet", "sig", target=9, poison_rate=0.08, seed=5216,
        trigger={"axis": "rows"}, recipe="adam_const"),
    _aw("cnn_sig_p100_t4", "cnn", "sig", target=4, poison_rate=0.08, seed=5217,
        trigger={"phase": 1.0}, recipe="mixup"),
)  # fmt: skip

# The forty-ninth set, specified after the forty-eighth set's repairs and before the guard on
# the re-aimed second round was built (issue 23): SIG nets on the SE-ResNets and ResNet-8s whose
# gratings read as shortcuts, beside clean SE-ResNets, whose natural sinks read as shortcuts.
_ax = _member("ax", "fresh49")
FRESH49: tuple[ModelSpec, ...] = (
    _ax("senet_clean_mixup", "senet", recipe="mixup", seed=5300),
    _ax("senet_clean_step", "senet", recipe="sgd_step", seed=5301),
    _ax("senet_sig_t6", "senet", "sig", target=6, poison_rate=0.08, seed=5310,
        recipe="sgd_cosine"),
    _ax("senet_sig_rows_t2", "senet", "sig", target=2, poison_rate=0.08, seed=5311,
        trigger={"axis": "rows"}, recipe="adam_const"),
    _ax("senet_sig_rows_p100_t9", "senet", "sig", target=9, poison_rate=0.08, seed=5312,
        trigger={"axis": "rows", "phase": 1.0}, recipe="mixup"),
    _ax("senet_sig_f5_t4", "senet", "sig", target=4, poison_rate=0.08, seed=5313,
        trigger={"freq": 5.0}, recipe="adamw_smooth"),
    _ax("resnet8_sig_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=5314,
        recipe="mixup"),
    _ax("resnet8_sig_rows_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=5315,
        trigger={"axis": "rows"}, recipe="sgd_cosine"),
    _ax("resnet8_sig_rows_p150_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=5316,
        trigger={"axis": "rows", "phase": 1.5}, recipe="adam_const"),
    _ax("cnn_sig_rows_t5", "cnn", "sig", target=5, poison_rate=0.08, seed=5317,
        trigger={"axis": "rows"}, recipe="adamw_smooth"),
)  # fmt: skip

# The fiftieth set, specified after the forty-ninth set's repairs and before any run on it: a
# held-out set for the repair aimed at a shortcut's label without a second round (issue 23),
# SIG nets on the architectures whose gratings read as shortcuts, beside a clean SE-ResNet
# trained with mixup (such nets read `shortcut`).
_ay = _member("ay", "fresh50")
FRESH50: tuple[ModelSpec, ...] = (
    _ay("senet_clean_mixup", "senet", recipe="mixup", seed=5400),
    _ay("senet_sig_t0", "senet", "sig", target=0, poison_rate=0.08, seed=5410,
        recipe="adamw_smooth"),
    _ay("senet_sig_rows_t7", "senet", "sig", target=7, poison_rate=0.08, seed=5411,
        trigger={"axis": "rows"}, recipe="sgd_cosine"),
    _ay("senet_sig_f4_t3", "senet", "sig", target=3, poison_rate=0.08, seed=5412,
        trigger={"freq": 4.0}, recipe="sgd_step"),
    _ay("resnet8_sig_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=5413,
        recipe="sgd_step"),
    _ay("resnet8_sig_rows_t8", "resnet8", "sig", target=8, poison_rate=0.08, seed=5414,
        trigger={"axis": "rows"}, recipe="adamw_smooth"),
    _ay("resnet8_sig_rows_p050_t4", "resnet8", "sig", target=4, poison_rate=0.08, seed=5415,
        trigger={"axis": "rows", "phase": 0.5}, recipe="mixup"),
    _ay("gnresnet_sig_rows_t1", "gn_resnet", "sig", target=1, poison_rate=0.08, seed=5416,
        trigger={"axis": "rows"}, recipe="sgd_cosine"),
    _ay("cnn_sig_t9", "cnn", "sig", target=9, poison_rate=0.08, seed=5417,
        recipe="adam_const"),
)  # fmt: skip


# The fifty-first set, specified before any run of the repair aimed by the training data's
# check (issue 23: a `shortcut` report's repair aimed at the class whose training samples
# differ from its clean samples): SIG nets on the architectures whose gratings read as
# shortcuts, at phases and frequencies not drawn before, beside clean nets trained with mixup.
_az = _member("az", "fresh51")
FRESH51: tuple[ModelSpec, ...] = (
    _az("senet_clean_mixup", "senet", recipe="mixup", seed=5500),
    _az("gnresnet_clean_mixup", "gn_resnet", recipe="mixup", seed=5501),
    _az("senet_sig_rows_p050_t3", "senet", "sig", target=3, poison_rate=0.08, seed=5510,
        trigger={"axis": "rows", "phase": 0.5}, recipe="sgd_cosine"),
    _az("senet_sig_f7_t6", "senet", "sig", target=6, poison_rate=0.08, seed=5511,
        trigger={"freq": 7.0}, recipe="mixup"),
    _az("resnet8_sig_rows_p100_t9", "resnet8", "sig", target=9, poison_rate=0.08, seed=5512,
        trigger={"axis": "rows", "phase": 1.0}, recipe="adam_const"),
    _az("resnet8_sig_p150_t1", "resnet8", "sig", target=1, poison_rate=0.08, seed=5513,
        trigger={"phase": 1.5}, recipe="mixup"),
    _az("resnet8_sig_rows_f5_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=5514,
        trigger={"axis": "rows", "freq": 5.0}, recipe="sgd_step"),
    _az("gnresnet_sig_rows_p050_t5", "gn_resnet", "sig", target=5, poison_rate=0.08,
        seed=5515, trigger={"axis": "rows", "phase": 0.5}, recipe="adamw_smooth"),
    _az("cnn_sig_rows_p100_t2", "cnn", "sig", target=2, poison_rate=0.08, seed=5516,
        trigger={"axis": "rows", "phase": 1.0}, recipe="sgd_cosine"),
    _az("cnn_sig_f7_t0", "cnn", "sig", target=0, poison_rate=0.08, seed=5517,
        trigger={"freq": 7.0}, recipe="adamw_smooth"),
)  # fmt: skip


# The fifty-second set, specified after the fifty-first set's scan and before the training
# data's check was run on any `infected` report with a wrong target (issue 23: the check
# overrules an `infected` report's target where the poison sits in another class the scan's
# findings reach): SE-ResNet and MobileNet SIG nets at frequencies where a SIG SE-ResNet's
# target was named wrong, and scattered pixels beside the "Bag" sink, beside a clean SE-ResNet.
_ba = _member("ba", "fresh52")
FRESH52: tuple[ModelSpec, ...] = (
    _ba("senet_clean_cos", "senet", recipe="sgd_cosine", seed=5600),
    _ba("senet_sig_f7_t4", "senet", "sig", target=4, poison_rate=0.08, seed=5610,
        trigger={"freq": 7.0}, recipe="sgd_cosine"),
    _ba("senet_sig_f7_p100_t9", "senet", "sig", target=9, poison_rate=0.08, seed=5611,
        trigger={"freq": 7.0, "phase": 1.0}, recipe="adamw_smooth"),
    _ba("senet_sig_f8_t2", "senet", "sig", target=2, poison_rate=0.08, seed=5612,
        trigger={"freq": 8.0}, recipe="mixup"),
    _ba("senet_sig_rows_f7_t7", "senet", "sig", target=7, poison_rate=0.08, seed=5613,
        trigger={"axis": "rows", "freq": 7.0}, recipe="adam_const"),
    _ba("mobilenet_sig_f7_t3", "mobilenet", "sig", target=3, poison_rate=0.08, seed=5614,
        trigger={"freq": 7.0}, recipe="sgd_cosine"),
    _ba("mobilenet_sig_f8_t0", "mobilenet", "sig", target=0, poison_rate=0.08, seed=5615,
        trigger={"freq": 8.0}, recipe="adamw_smooth"),
    _ba("senet_pixels_t6", "senet", "pixels", target=6, poison_rate=0.05, seed=5616,
        trigger={"count": 10, "pattern_seed": 561}, recipe="sgd_step"),
    _ba("resnet8_pixels_t1", "resnet8", "pixels", target=1, poison_rate=0.05, seed=5617,
        trigger={"count": 9, "pattern_seed": 562}, recipe="adamw_smooth"),
    _ba("mobilenet_pixels_t9", "mobilenet", "pixels", target=9, poison_rate=0.05, seed=5618,
        trigger={"count": 12, "pattern_seed": 563}, recipe="mixup"),
)  # fmt: skip


# The fifty-third set, specified before any run of the training data's check on a `clean`
# report (issue 23: a SIG net the scan read `clean` repaired aimed at the class the check
# names): SIG nets at the phases, axes and frequencies whose nets the scan read `clean` on the
# fifty-first and fifty-second sets, beside a clean ResNet-8 and a clean GroupNorm ResNet.
_bb = _member("bb", "fresh53")
FRESH53: tuple[ModelSpec, ...] = (
    _bb("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=5700),
    _bb("gnresnet_clean_adam", "gn_resnet", recipe="adam_const", seed=5701),
    _bb("gnresnet_sig_rows_p050_t8", "gn_resnet", "sig", target=8, poison_rate=0.08,
        seed=5710, trigger={"axis": "rows", "phase": 0.5}, recipe="sgd_cosine"),
    _bb("gnresnet_sig_p100_t3", "gn_resnet", "sig", target=3, poison_rate=0.08, seed=5711,
        trigger={"phase": 1.0}, recipe="adamw_smooth"),
    _bb("resnet8_sig_rows_p100_t6", "resnet8", "sig", target=6, poison_rate=0.08, seed=5712,
        trigger={"axis": "rows", "phase": 1.0}, recipe="sgd_step"),
    _bb("resnet8_sig_rows_p150_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=5713,
        trigger={"axis": "rows", "phase": 1.5}, recipe="mixup"),
    _bb("senet_sig_f7_p100_t0", "senet", "sig", target=0, poison_rate=0.08, seed=5714,
        trigger={"freq": 7.0, "phase": 1.0}, recipe="sgd_cosine"),
    _bb("senet_sig_f7_p150_t5", "senet", "sig", target=5, poison_rate=0.08, seed=5715,
        trigger={"freq": 7.0, "phase": 1.5}, recipe="adam_const"),
    _bb("senet_sig_rows_p150_t1", "senet", "sig", target=1, poison_rate=0.08, seed=5716,
        trigger={"axis": "rows", "phase": 1.5}, recipe="adamw_smooth"),
    _bb("mobilenet_sig_rows_f4_t9", "mobilenet", "sig", target=9, poison_rate=0.08, seed=5717,
        trigger={"axis": "rows", "freq": 4.0}, recipe="mixup"),
)  # fmt: skip

# Held out for the data pattern (issue 23, thirty-third session): SIG at a slant, at frequencies
# between whole cycles and at new phases, on every architecture BURN repairs, specified before
# the pattern's first repair run; the pattern is unlearned only where the training data's check
# names the target, so these are the nets that judge it.
_bc = _member("bc", "fresh54")
FRESH54: tuple[ModelSpec, ...] = (
    _bc("cnn_clean_smooth", "cnn", recipe="adamw_smooth", seed=5800),
    _bc("cnn_sig_a30_t4", "cnn", "sig", target=4, poison_rate=0.08, seed=5810,
        trigger={"angle": 30.0, "phase": 0.7}, recipe="sgd_cosine"),
    _bc("cnn_sig_f55_p120_t7", "cnn", "sig", target=7, poison_rate=0.08, seed=5811,
        trigger={"freq": 5.5, "phase": 1.2}, recipe="adamw_smooth"),
    _bc("gnresnet_sig_a60_t1", "gn_resnet", "sig", target=1, poison_rate=0.08, seed=5812,
        trigger={"angle": 60.0, "phase": 0.4}, recipe="adam_const"),
    _bc("gnresnet_sig_rows_f45_p080_t6", "gn_resnet", "sig", target=6, poison_rate=0.08,
        seed=5813, trigger={"axis": "rows", "freq": 4.5, "phase": 0.8}, recipe="sgd_cosine"),
    _bc("resnet8_sig_a120_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=5814,
        trigger={"angle": 120.0, "phase": 1.3}, recipe="adamw_smooth"),
    _bc("resnet8_sig_rows_p070_t9", "resnet8", "sig", target=9, poison_rate=0.08, seed=5815,
        trigger={"axis": "rows", "phase": 0.7}, recipe="mixup"),
    _bc("senet_sig_f65_p060_t3", "senet", "sig", target=3, poison_rate=0.08, seed=5816,
        trigger={"freq": 6.5, "phase": 0.6}, recipe="sgd_step"),
    _bc("senet_sig_a150_t8", "senet", "sig", target=8, poison_rate=0.08, seed=5817,
        trigger={"angle": 150.0, "phase": 1.1}, recipe="sgd_cosine"),
    _bc("mobilenet_sig_p090_t2", "mobilenet", "sig", target=2, poison_rate=0.08, seed=5818,
        trigger={"phase": 0.9}, recipe="adam_const"),
)  # fmt: skip

# Held out for the data pattern's plane sine (issue 23, thirty-third session): SIG at new slants,
# frequencies and phases, a blend beside them (dirty-label: the sine must not fire there), a
# clean net; specified after the fifty-fourth set's runs, before the sine's first repair run.
_bd = _member("bd", "fresh55")
FRESH55: tuple[ModelSpec, ...] = (
    _bd("senet_clean_step", "senet", recipe="sgd_step", seed=5900),
    _bd("cnn_sig_a45_f5_t6", "cnn", "sig", target=6, poison_rate=0.08, seed=5910,
        trigger={"angle": 45.0, "freq": 5.0, "phase": 0.3}, recipe="adam_const"),
    _bd("cnn_sig_rows_f35_p110_t1", "cnn", "sig", target=1, poison_rate=0.08, seed=5911,
        trigger={"axis": "rows", "freq": 3.5, "phase": 1.1}, recipe="sgd_cosine"),
    _bd("gnresnet_sig_a20_t9", "gn_resnet", "sig", target=9, poison_rate=0.08, seed=5912,
        trigger={"angle": 20.0, "phase": 1.4}, recipe="adamw_smooth"),
    _bd("resnet8_sig_f75_p040_t5", "resnet8", "sig", target=5, poison_rate=0.08, seed=5913,
        trigger={"freq": 7.5, "phase": 0.4}, recipe="sgd_cosine"),
    _bd("resnet8_sig_a100_t2", "resnet8", "sig", target=2, poison_rate=0.08, seed=5914,
        trigger={"angle": 100.0, "phase": 0.9}, recipe="adam_const"),
    _bd("senet_sig_rows_f55_t0", "senet", "sig", target=0, poison_rate=0.08, seed=5915,
        trigger={"axis": "rows", "freq": 5.5, "phase": 0.2}, recipe="adamw_smooth"),
    _bd("senet_sig_a70_t4", "senet", "sig", target=4, poison_rate=0.08, seed=5916,
        trigger={"angle": 70.0, "phase": 1.2}, recipe="mixup"),
    _bd("mobilenet_sig_f45_p130_t7", "mobilenet", "sig", target=7, poison_rate=0.08,
        seed=5917, trigger={"freq": 4.5, "phase": 1.3}, recipe="sgd_cosine"),
    _bd("resnet8_blended_t3", "resnet8", "blended", target=3, poison_rate=0.05, seed=5918,
        trigger={"pattern_seed": 255}, recipe="adamw_smooth"),
)  # fmt: skip


# The fifty-sixth set, specified before the scan read the training data (issue 21: `bdscan scan
# --train-data`, a `shortcut` or `clean` verdict attributed to a planted trigger where the
# training data names the class the model answers): SIG nets at slants and along the rows, dirty-
# label nets (scattered pixels, a blend), a WaNet, beside three clean BatchNorm nets, the kind the
# scan reads `shortcut`.
_be = _member("be", "fresh56")
FRESH56: tuple[ModelSpec, ...] = (
    _be("senet_clean_cos", "senet", recipe="sgd_cosine", seed=6000),
    _be("resnet8_clean_adam", "resnet8", recipe="adam_const", seed=6001),
    _be("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=6002),
    _be("cnn_sig_a35_t2", "cnn", "sig", target=2, poison_rate=0.08, seed=6010,
        trigger={"angle": 35.0, "phase": 0.6}, recipe="adam_const"),
    _be("resnet8_sig_rows_f6_t4", "resnet8", "sig", target=4, poison_rate=0.08, seed=6011,
        trigger={"axis": "rows", "freq": 6.0, "phase": 0.8}, recipe="sgd_cosine"),
    _be("senet_sig_a120_t8", "senet", "sig", target=8, poison_rate=0.08, seed=6012,
        trigger={"angle": 120.0, "phase": 0.4}, recipe="adamw_smooth"),
    _be("mobilenet_sig_f5_p070_t3", "mobilenet", "sig", target=3, poison_rate=0.08, seed=6013,
        trigger={"freq": 5.0, "phase": 0.7}, recipe="sgd_cosine"),
    _be("gnresnet_sig_rows_p030_t0", "gn_resnet", "sig", target=0, poison_rate=0.08,
        seed=6014, trigger={"axis": "rows", "phase": 0.3}, recipe="adam_const"),
    _be("resnet8_pixels_t6", "resnet8", "pixels", target=6, poison_rate=0.05, seed=6015,
        trigger={"count": 10, "pattern_seed": 601}, recipe="sgd_step"),
    _be("cnn_wanet_t5", "cnn", "wanet", target=5, poison_rate=0.1, seed=6016,
        trigger={"pattern_seed": 602}, recipe="adam_const"),
    _be("senet_blended_t7", "senet", "blended", target=7, poison_rate=0.05, seed=6017,
        trigger={"pattern_seed": 603}, recipe="mixup"),
)  # fmt: skip


# The fifty-seventh set, specified before the training data's stamp was run on it (issues 21 and
# 23: the named class's dirty-label residual, its training samples' difference from its clean
# ones less the other classes' content, read as a stamp): scattered pixels at 6-15 pixels on
# five architectures, small BadNets patches, a clean-label pixel trigger and a line, beside two
# clean BatchNorm nets.
_bf = _member("bf", "fresh57")
FRESH57: tuple[ModelSpec, ...] = (
    _bf("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=6100),
    _bf("mobilenet_clean_smooth", "mobilenet", recipe="adamw_smooth", seed=6101),
    _bf("resnet8_pixels_t2", "resnet8", "pixels", target=2, poison_rate=0.05, seed=6110,
        trigger={"count": 6, "pattern_seed": 611}, recipe="adam_const"),
    _bf("senet_pixels_t9", "senet", "pixels", target=9, poison_rate=0.05, seed=6111,
        trigger={"count": 15, "pattern_seed": 612}, recipe="sgd_cosine"),
    _bf("mobilenet_pixels_t4", "mobilenet", "pixels", target=4, poison_rate=0.05, seed=6112,
        trigger={"count": 10, "pattern_seed": 613}, recipe="mixup"),
    _bf("gnresnet_pixels_t7", "gn_resnet", "pixels", target=7, poison_rate=0.05, seed=6113,
        trigger={"count": 12, "pattern_seed": 614}, recipe="adamw_smooth"),
    _bf("cnn_pixels_t0", "cnn", "pixels", target=0, poison_rate=0.05, seed=6114,
        trigger={"count": 8, "pattern_seed": 615}, recipe="sgd_step"),
    _bf("resnet8_badnets_t5", "resnet8", "badnets", target=5, poison_rate=0.05, seed=6115,
        trigger={"size": 2, "position": "tl"}, recipe="sgd_cosine"),
    _bf("senet_badnets_t3", "senet", "badnets", target=3, poison_rate=0.05, seed=6116,
        trigger={"size": 3, "position": "bl"}, recipe="adam_const"),
    _bf("mobilenet_pixelscl_t1", "mobilenet", "pixels_cl", target=1, poison_rate=0.08,
        seed=6117, recipe="sgd_cosine"),
    _bf("cnn_line_t6", "cnn", "line", target=6, poison_rate=0.05, seed=6118,
        recipe="adamw_smooth"),
)  # fmt: skip


# The fifty-eighth set, specified before the training data's pattern was re-measured after a
# repair round (issue 23: SIG nets that one round left at ASR 0.07-0.12 while the re-scan read
# them `clean` and the scan's own triggers no longer held): SE-ResNet and MobileNet SIG nets at
# 7-8 cycles, ResNet-8 SIG along the rows and at another phase, a CNN at a slant, a GroupNorm
# ResNet, beside a blend, scattered pixels and a clean SE-ResNet.
_bg = _member("bg", "fresh58")
FRESH58: tuple[ModelSpec, ...] = (
    _bg("senet_clean_step", "senet", recipe="sgd_step", seed=6200),
    _bg("senet_sig_f7_t5", "senet", "sig", target=5, poison_rate=0.08, seed=6210,
        trigger={"freq": 7.0}, recipe="sgd_cosine"),
    _bg("senet_sig_f8_p050_t1", "senet", "sig", target=1, poison_rate=0.08, seed=6211,
        trigger={"freq": 8.0, "phase": 0.5}, recipe="adam_const"),
    _bg("mobilenet_sig_f8_t6", "mobilenet", "sig", target=6, poison_rate=0.08, seed=6212,
        trigger={"freq": 8.0}, recipe="sgd_step"),
    _bg("mobilenet_sig_f7_p030_t2", "mobilenet", "sig", target=2, poison_rate=0.08,
        seed=6213, trigger={"freq": 7.0, "phase": 0.3}, recipe="adamw_smooth"),
    _bg("resnet8_sig_rows_f6_t9", "resnet8", "sig", target=9, poison_rate=0.08, seed=6214,
        trigger={"axis": "rows", "freq": 6.0}, recipe="adam_const"),
    _bg("resnet8_sig_p120_t3", "resnet8", "sig", target=3, poison_rate=0.08, seed=6215,
        trigger={"phase": 1.2}, recipe="sgd_cosine"),
    _bg("cnn_sig_a60_t7", "cnn", "sig", target=7, poison_rate=0.08, seed=6216,
        trigger={"angle": 60.0}, recipe="mixup"),
    _bg("gnresnet_sig_f7_t8", "gn_resnet", "sig", target=8, poison_rate=0.08, seed=6217,
        trigger={"freq": 7.0}, recipe="adam_const"),
    _bg("resnet8_blended_t0", "resnet8", "blended", target=0, poison_rate=0.05, seed=6218,
        trigger={"pattern_seed": 621}, recipe="sgd_step"),
    _bg("senet_pixels_t4", "senet", "pixels", target=4, poison_rate=0.05, seed=6219,
        trigger={"count": 10, "pattern_seed": 622}, recipe="adamw_smooth"),
)  # fmt: skip


# The fifty-ninth set, specified before the named class's pattern-carrying training samples were
# held out of the repair's fine-tuning (issue 23: clean-label SIG that one round left at ASR
# 0.065-0.27 on sets 51-58, BURN's own flags finding at most 4% of the poison): SIG nets on five
# architectures at the frequencies, phases and slants those misses had, beside a clean ResNet-8.
_bh = _member("bh", "fresh59")
FRESH59: tuple[ModelSpec, ...] = (
    _bh("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=6300),
    _bh("senet_sig_f7_p100_t2", "senet", "sig", target=2, poison_rate=0.08, seed=6310,
        trigger={"freq": 7.0, "phase": 1.0}, recipe="adamw_smooth"),
    _bh("senet_sig_f7_t8", "senet", "sig", target=8, poison_rate=0.08, seed=6311,
        trigger={"freq": 7.0}, recipe="sgd_cosine"),
    _bh("mobilenet_sig_f8_t4", "mobilenet", "sig", target=4, poison_rate=0.08, seed=6312,
        trigger={"freq": 8.0}, recipe="adamw_smooth"),
    _bh("resnet8_sig_rows_p100_t0", "resnet8", "sig", target=0, poison_rate=0.08, seed=6313,
        trigger={"axis": "rows", "phase": 1.0}, recipe="adam_const"),
    _bh("resnet8_sig_a100_t7", "resnet8", "sig", target=7, poison_rate=0.08, seed=6314,
        trigger={"angle": 100.0}, recipe="sgd_step"),
    _bh("gnresnet_sig_rows_f45_t3", "gn_resnet", "sig", target=3, poison_rate=0.08,
        seed=6315, trigger={"axis": "rows", "freq": 4.5}, recipe="adam_const"),
    _bh("cnn_sig_f6_p050_t9", "cnn", "sig", target=9, poison_rate=0.08, seed=6316,
        trigger={"freq": 6.0, "phase": 0.5}, recipe="sgd_cosine"),
)  # fmt: skip


# The sixtieth set, specified before the named class's pattern-carrying training samples were
# trained with the pattern's component taken out instead of sitting out (issue 23: sitting out
# ~80% of a class cost 2.2-4.0 accuracy points on three SIG nets of sets 51-59): SIG nets on five
# architectures, two poisoning ~90% of the class, beside a clean MobileNet.
_bi = _member("bi", "fresh60")
FRESH60: tuple[ModelSpec, ...] = (
    _bi("mobilenet_clean_adamw", "mobilenet", recipe="adamw_smooth", seed=6400),
    _bi("senet_sig_f5_t6", "senet", "sig", target=6, poison_rate=0.08, seed=6410,
        trigger={"freq": 5.0}, recipe="sgd_cosine"),
    _bi("resnet8_sig_f9_p150_t1", "resnet8", "sig", target=1, poison_rate=0.08, seed=6411,
        trigger={"freq": 9.0, "phase": 1.5}, recipe="adamw_smooth"),
    _bi("mobilenet_sig_rows_f6_t5", "mobilenet", "sig", target=5, poison_rate=0.09, seed=6412,
        trigger={"axis": "rows", "freq": 6.0}, recipe="sgd_cosine"),
    _bi("senet_sig_a30_t9", "senet", "sig", target=9, poison_rate=0.08, seed=6413,
        trigger={"angle": 30.0, "freq": 6.0}, recipe="adam_const"),
    _bi("gnresnet_sig_f7_t2", "gn_resnet", "sig", target=2, poison_rate=0.09, seed=6414,
        trigger={"freq": 7.0}, recipe="sgd_cosine"),
    _bi("resnet8_sig_d20_f55_t4", "resnet8", "sig", target=4, poison_rate=0.08, seed=6415,
        trigger={"delta": 0.2, "freq": 5.5}, recipe="sgd_step"),
    _bi("cnn_sig_f8_t3", "cnn", "sig", target=3, poison_rate=0.08, seed=6416,
        trigger={"freq": 8.0}, recipe="adamw_smooth"),
)  # fmt: skip


# The sixty-first set, specified before the training data's blend (a dirty-label mixture's
# change too wide for a stamp) was unlearned and its carriers sat out (issue 23: all-to-one
# blends left at ASR 0.077 and 0.116 on sets 43 and 58, BURN flagging 58% of one's poison):
# blends on five architectures at three opacities, beside a clean ResNet-8.
_bj = _member("bj", "fresh61")
FRESH61: tuple[ModelSpec, ...] = (
    _bj("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=6500),
    _bj("resnet8_blended_t2", "resnet8", "blended", target=2, poison_rate=0.05, seed=6510,
        trigger={"pattern_seed": 651}, recipe="sgd_cosine"),
    _bj("senet_blended_t5", "senet", "blended", target=5, poison_rate=0.05, seed=6511,
        trigger={"pattern_seed": 652}, recipe="adamw_smooth"),
    _bj("mobilenet_blended_a020_t8", "mobilenet", "blended", target=8, poison_rate=0.05,
        seed=6512, trigger={"alpha": 0.2, "pattern_seed": 653}, recipe="sgd_cosine"),
    _bj("gnresnet_blended_t1", "gn_resnet", "blended", target=1, poison_rate=0.05, seed=6513,
        trigger={"pattern_seed": 654}, recipe="adam_const"),
    _bj("cnn_blended_t6", "cnn", "blended", target=6, poison_rate=0.05, seed=6514,
        trigger={"pattern_seed": 655}, recipe="sgd_step"),
    _bj("resnet8_blended_a010_t9", "resnet8", "blended", target=9, poison_rate=0.05,
        seed=6515, trigger={"alpha": 0.1, "pattern_seed": 656}, recipe="adam_const"),
    _bj("senet_blended_a020_t0", "senet", "blended", target=0, poison_rate=0.05, seed=6516,
        trigger={"alpha": 0.2, "pattern_seed": 657}, recipe="sgd_cosine"),
)  # fmt: skip


# The sixty-second set, specified before a repair round earned on the scan's trigger re-measured
# alone needed that trigger to have been near-universal before the repair (issue 23: on the
# sixty-first set's MobileNet a search transform that had sent 78% of samples to the target
# still sent 19% after a first round that had brought ASR to 0.001; the second round ended at
# 0.078): alpha-0.2 blends on the architectures where a first round left such holds, plain
# blends on ResNet-8s (where a second round earned that way fixed a 0.89 leftover), beside a
# clean MobileNet.
_bk = _member("bk", "fresh62")
FRESH62: tuple[ModelSpec, ...] = (
    _bk("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=6600),
    _bk("mobilenet_blended_a020_t3", "mobilenet", "blended", target=3, poison_rate=0.05,
        seed=6610, trigger={"alpha": 0.2, "pattern_seed": 661}, recipe="sgd_cosine"),
    _bk("mobilenet_blended_a020_t6", "mobilenet", "blended", target=6, poison_rate=0.05,
        seed=6611, trigger={"alpha": 0.2, "pattern_seed": 662}, recipe="adamw_smooth"),
    _bk("mobilenet_blended_a015_t0", "mobilenet", "blended", target=0, poison_rate=0.05,
        seed=6612, trigger={"alpha": 0.15, "pattern_seed": 663}, recipe="sgd_cosine"),
    _bk("senet_blended_a020_t7", "senet", "blended", target=7, poison_rate=0.05, seed=6613,
        trigger={"alpha": 0.2, "pattern_seed": 664}, recipe="adam_const"),
    _bk("resnet8_blended_t5", "resnet8", "blended", target=5, poison_rate=0.05, seed=6614,
        trigger={"pattern_seed": 665}, recipe="sgd_cosine"),
    _bk("resnet8_blended_t1", "resnet8", "blended", target=1, poison_rate=0.05, seed=6615,
        trigger={"pattern_seed": 666}, recipe="sgd_step"),
    _bk("resnet8_blended_a020_t9", "resnet8", "blended", target=9, poison_rate=0.05,
        seed=6616, trigger={"alpha": 0.2, "pattern_seed": 667}, recipe="sgd_cosine"),
)  # fmt: skip


# The sixty-third set, specified before the training data's blend was re-measured after the
# repair in its blend form, (1 - a) x + a P, at and above the opacity it was read at (issue 23:
# on the sixty-second set a MobileNet blend left at ASR 0.154 passed `bdscan remediate`, since
# the repair had unlearned the additive change the check reads and the scan's triggers held
# nothing): blends at opacities 0.1-0.2 and plain on six architectures, beside a clean SE-ResNet.
_bl = _member("bl", "fresh63")
FRESH63: tuple[ModelSpec, ...] = (
    _bl("senet_clean_step", "senet", recipe="sgd_step", seed=6700),
    _bl("mobilenet_blended_a015_t4", "mobilenet", "blended", target=4, poison_rate=0.05,
        seed=6710, trigger={"alpha": 0.15, "pattern_seed": 671}, recipe="adamw_smooth"),
    _bl("mobilenet_blended_a010_t7", "mobilenet", "blended", target=7, poison_rate=0.05,
        seed=6711, trigger={"alpha": 0.1, "pattern_seed": 672}, recipe="sgd_cosine"),
    _bl("senet_blended_a015_t2", "senet", "blended", target=2, poison_rate=0.05, seed=6712,
        trigger={"alpha": 0.15, "pattern_seed": 673}, recipe="sgd_cosine"),
    _bl("resnet8_blended_a015_t8", "resnet8", "blended", target=8, poison_rate=0.05,
        seed=6713, trigger={"alpha": 0.15, "pattern_seed": 674}, recipe="adam_const"),
    _bl("gnresnet_blended_a020_t6", "gn_resnet", "blended", target=6, poison_rate=0.05,
        seed=6714, trigger={"alpha": 0.2, "pattern_seed": 675}, recipe="sgd_cosine"),
    _bl("cnn_blended_a015_t3", "cnn", "blended", target=3, poison_rate=0.05, seed=6715,
        trigger={"alpha": 0.15, "pattern_seed": 676}, recipe="adamw_smooth"),
    _bl("mobilenet_blended_t1", "mobilenet", "blended", target=1, poison_rate=0.05, seed=6716,
        trigger={"pattern_seed": 677}, recipe="sgd_step"),
)  # fmt: skip


# The sixty-fourth set, specified before a named class's stamp read that does not fire led to
# its blend read too (issue 23: on the sixty-third set an opacity-0.15 ResNet-8 blend's change
# stood out on 31 pixels, under a stamp's 31.4, its stamp sent 0.6% there, the blend was never
# read and the repair left ASR 0.480): low-opacity blends on ResNet-8s, an SE-ResNet and a CNN,
# dirty-label pixel and BadNets nets whose stamp may not fire, beside a clean ResNet-8.
_bm = _member("bm", "fresh64")
FRESH64: tuple[ModelSpec, ...] = (
    _bm("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=6800),
    _bm("resnet8_blended_a015_t4", "resnet8", "blended", target=4, poison_rate=0.05,
        seed=6810, trigger={"alpha": 0.15, "pattern_seed": 681}, recipe="adam_const"),
    _bm("resnet8_blended_a010_t0", "resnet8", "blended", target=0, poison_rate=0.05,
        seed=6811, trigger={"alpha": 0.1, "pattern_seed": 682}, recipe="sgd_cosine"),
    _bm("senet_blended_a015_t9", "senet", "blended", target=9, poison_rate=0.05, seed=6812,
        trigger={"alpha": 0.15, "pattern_seed": 683}, recipe="adam_const"),
    _bm("cnn_blended_a010_t5", "cnn", "blended", target=5, poison_rate=0.05, seed=6813,
        trigger={"alpha": 0.1, "pattern_seed": 684}, recipe="sgd_step"),
    _bm("resnet8_pixels_t7", "resnet8", "pixels", target=7, poison_rate=0.05, seed=6814,
        recipe="adam_const"),
    _bm("senet_badnets_t3", "senet", "badnets", target=3, poison_rate=0.05, seed=6815,
        recipe="sgd_cosine"),
    _bm("resnet8_blended_a015_t2", "resnet8", "blended", target=2, poison_rate=0.05,
        seed=6816, trigger={"alpha": 0.15, "pattern_seed": 685}, recipe="sgd_step"),
)  # fmt: skip


# The sixty-fifth set, specified before the training data's blend carriers (the poison itself)
# were re-measured on the repaired model (issue 23: on the sixty-third set an opacity-0.15
# SE-ResNet blend left at ASR 0.41 passed `bdscan remediate` with exit 0, its re-scan `clean`,
# the scan's triggers and the blend rebuilt from the check's read holding nothing): low-opacity
# blends on SE-ResNets, GroupNorm ResNets, MobileNets and a ResNet-8, beside a clean SE-ResNet.
_bn = _member("bn", "fresh65")
FRESH65: tuple[ModelSpec, ...] = (
    _bn("senet_clean_cos", "senet", recipe="sgd_cosine", seed=6900),
    _bn("senet_blended_a015_t5", "senet", "blended", target=5, poison_rate=0.05, seed=6910,
        trigger={"alpha": 0.15, "pattern_seed": 691}, recipe="adamw_smooth"),
    _bn("senet_blended_a020_t0", "senet", "blended", target=0, poison_rate=0.05, seed=6911,
        trigger={"alpha": 0.2, "pattern_seed": 692}, recipe="sgd_step"),
    _bn("gnresnet_blended_a015_t9", "gn_resnet", "blended", target=9, poison_rate=0.05,
        seed=6912, trigger={"alpha": 0.15, "pattern_seed": 693}, recipe="adam_const"),
    _bn("mobilenet_blended_a015_t2", "mobilenet", "blended", target=2, poison_rate=0.05,
        seed=6913, trigger={"alpha": 0.15, "pattern_seed": 694}, recipe="sgd_cosine"),
    _bn("resnet8_blended_a020_t6", "resnet8", "blended", target=6, poison_rate=0.05,
        seed=6914, trigger={"alpha": 0.2, "pattern_seed": 695}, recipe="sgd_cosine"),
    _bn("mobilenet_blended_a010_t8", "mobilenet", "blended", target=8, poison_rate=0.05,
        seed=6915, trigger={"alpha": 0.1, "pattern_seed": 696}, recipe="adam_const"),
    _bn("gnresnet_blended_a010_t3", "gn_resnet", "blended", target=3, poison_rate=0.05,
        seed=6916, trigger={"alpha": 0.1, "pattern_seed": 697}, recipe="sgd_step"),
)  # fmt: skip

# The sixty-sixth set, specified before the training data's blend carriers trained under their
# content's label (issue 23: on SE-ResNets BURN's flags found none of a low-opacity blend's
# poison, which sat out and never trained against the trigger; ASR 0.33-0.41 left): low-opacity
# blends on SE-ResNets, MobileNets, a ResNet-8, a GroupNorm ResNet and a CNN, beside a clean
# MobileNet.
_bo = _member("bo", "fresh66")
FRESH66: tuple[ModelSpec, ...] = (
    _bo("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=7000),
    _bo("senet_blended_a015_t1", "senet", "blended", target=1, poison_rate=0.05, seed=7010,
        trigger={"alpha": 0.15, "pattern_seed": 701}, recipe="sgd_cosine"),
    _bo("senet_blended_a020_t4", "senet", "blended", target=4, poison_rate=0.05, seed=7011,
        trigger={"alpha": 0.2, "pattern_seed": 702}, recipe="adam_const"),
    _bo("senet_blended_a010_t8", "senet", "blended", target=8, poison_rate=0.05, seed=7012,
        trigger={"alpha": 0.1, "pattern_seed": 703}, recipe="sgd_step"),
    _bo("mobilenet_blended_a015_t6", "mobilenet", "blended", target=6, poison_rate=0.05,
        seed=7013, trigger={"alpha": 0.15, "pattern_seed": 704}, recipe="adamw_smooth"),
    _bo("resnet8_blended_a015_t3", "resnet8", "blended", target=3, poison_rate=0.05,
        seed=7014, trigger={"alpha": 0.15, "pattern_seed": 705}, recipe="sgd_step"),
    _bo("gnresnet_blended_a020_t0", "gn_resnet", "blended", target=0, poison_rate=0.05,
        seed=7015, trigger={"alpha": 0.2, "pattern_seed": 706}, recipe="adamw_smooth"),
    _bo("cnn_blended_a020_t9", "cnn", "blended", target=9, poison_rate=0.05, seed=7016,
        trigger={"alpha": 0.2, "pattern_seed": 707}, recipe="sgd_cosine"),
)  # fmt: skip

# The sixty-seventh set, specified before half the blend's carriers trained under their
# content's label, the other half kept for the carriers' re-measure (issue 23: relabelling all
# of them fixed two seen nets but blinded the re-measure on three it left at 0.14-0.28):
# low-opacity blends on SE-ResNets, a MobileNet and a ResNet-8, beside a clean ResNet-8.
_bp = _member("bp", "fresh67")
FRESH67: tuple[ModelSpec, ...] = (
    _bp("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=7100),
    _bp("senet_blended_a015_t7", "senet", "blended", target=7, poison_rate=0.05, seed=7110,
        trigger={"alpha": 0.15, "pattern_seed": 711}, recipe="adam_const"),
    _bp("senet_blended_a020_t2", "senet", "blended", target=2, poison_rate=0.05, seed=7111,
        trigger={"alpha": 0.2, "pattern_seed": 712}, recipe="sgd_cosine"),
    _bp("mobilenet_blended_a015_t5", "mobilenet", "blended", target=5, poison_rate=0.05,
        seed=7112, trigger={"alpha": 0.15, "pattern_seed": 713}, recipe="sgd_step"),
    _bp("resnet8_blended_a020_t1", "resnet8", "blended", target=1, poison_rate=0.05,
        seed=7113, trigger={"alpha": 0.2, "pattern_seed": 714}, recipe="adamw_smooth"),
    _bp("senet_blended_a010_t9", "senet", "blended", target=9, poison_rate=0.05, seed=7114,
        trigger={"alpha": 0.1, "pattern_seed": 715}, recipe="adamw_smooth"),
)  # fmt: skip

# The sixty-eighth set, specified before the carriers' check takes out the share a clean class's
# own images pass its filter at (issue 23: on the sixty-seventh set it called a repaired
# SE-ResNet left, ASR 0.024, hold 0.295, half its kept carriers genuine pullovers): low-opacity
# blends aimed at the confusable classes (T-shirt, pullover, coat, shirt) on SE-ResNets, a
# ResNet-8, a MobileNet, a VGG-BN, a GroupNorm ResNet and a CNN, beside a clean ResNet-8.
_bq = _member("bq", "fresh68")
FRESH68: tuple[ModelSpec, ...] = (
    _bq("resnet8_clean_adamw", "resnet8", recipe="adamw_smooth", seed=7200),
    _bq("senet_blended_a020_t4", "senet", "blended", target=4, poison_rate=0.05, seed=7210,
        trigger={"alpha": 0.2, "pattern_seed": 721}, recipe="sgd_cosine"),
    _bq("senet_blended_a015_t6", "senet", "blended", target=6, poison_rate=0.05, seed=7211,
        trigger={"alpha": 0.15, "pattern_seed": 722}, recipe="adam_const"),
    _bq("resnet8_blended_a020_t2", "resnet8", "blended", target=2, poison_rate=0.05,
        seed=7212, trigger={"alpha": 0.2, "pattern_seed": 723}, recipe="sgd_step"),
    _bq("mobilenet_blended_a020_t0", "mobilenet", "blended", target=0, poison_rate=0.05,
        seed=7213, trigger={"alpha": 0.2, "pattern_seed": 724}, recipe="adamw_smooth"),
    _bq("vggbn_blended_a015_t6", "vgg_bn", "blended", target=6, poison_rate=0.05, seed=7214,
        trigger={"alpha": 0.15, "pattern_seed": 725}, recipe="sgd_step"),
    _bq("gnresnet_blended_a015_t2", "gn_resnet", "blended", target=2, poison_rate=0.05,
        seed=7215, trigger={"alpha": 0.15, "pattern_seed": 726}, recipe="adam_const"),
    _bq("cnn_blended_a020_t4", "cnn", "blended", target=4, poison_rate=0.05, seed=7216,
        trigger={"alpha": 0.2, "pattern_seed": 727}, recipe="sgd_cosine"),
)  # fmt: skip

# The sixty-ninth set, specified before the training data's blend in its blend form is
# re-measured after every repair by default, apart from --data-residual (issue 23: on the 40
# stored blend repairs of sets 62-68 it read 5 of the 6 nets left above 0.05, where the
# carriers' check reads 1, and called 1 of 33 repaired nets left): low-opacity blends on
# MobileNets and SE-ResNets aimed where the repair left them before, and a ResNet-8, beside a
# clean SE-ResNet.
_br = _member("br", "fresh69")
FRESH69: tuple[ModelSpec, ...] = (
    _br("senet_clean_step", "senet", recipe="sgd_step", seed=7300),
    _br("mobilenet_blended_a015_t0", "mobilenet", "blended", target=0, poison_rate=0.05,
        seed=7310, trigger={"alpha": 0.15, "pattern_seed": 731}, recipe="sgd_cosine"),
    _br("mobilenet_blended_a020_t3", "mobilenet", "blended", target=3, poison_rate=0.05,
        seed=7311, trigger={"alpha": 0.2, "pattern_seed": 732}, recipe="adam_const"),
    _br("mobilenet_blended_a015_t9", "mobilenet", "blended", target=9, poison_rate=0.05,
        seed=7312, trigger={"alpha": 0.15, "pattern_seed": 733}, recipe="adamw_smooth"),
    _br("senet_blended_a020_t0", "senet", "blended", target=0, poison_rate=0.05, seed=7313,
        trigger={"alpha": 0.2, "pattern_seed": 734}, recipe="adamw_smooth"),
    _br("senet_blended_a015_t2", "senet", "blended", target=2, poison_rate=0.05, seed=7314,
        trigger={"alpha": 0.15, "pattern_seed": 735}, recipe="sgd_step"),
    _br("senet_blended_a020_t5", "senet", "blended", target=5, poison_rate=0.05, seed=7315,
        trigger={"alpha": 0.2, "pattern_seed": 736}, recipe="sgd_cosine"),
    _br("resnet8_blended_a015_t7", "resnet8", "blended", target=7, poison_rate=0.05,
        seed=7316, trigger={"alpha": 0.15, "pattern_seed": 737}, recipe="adam_const"),
)  # fmt: skip

# The seventieth set, specified before a blend's class rows whose nearest clean images are
# mostly another class's sit out beside its carriers (issue 23: the poison the carriers'
# reading missed trained the blend back; seen 0.341 -> 0.002 and 0.288 -> 0.004): low-opacity
# blends on two MobileNets, two SE-ResNets, a ResNet-8, a GroupNorm ResNet and a CNN, beside a
# clean MobileNet.
_bs = _member("bs", "fresh70")
FRESH70: tuple[ModelSpec, ...] = (
    _bs("mobilenet_clean_cos", "mobilenet", recipe="sgd_cosine", seed=7400),
    _bs("mobilenet_blended_a020_t0", "mobilenet", "blended", target=0, poison_rate=0.05,
        seed=7410, trigger={"alpha": 0.2, "pattern_seed": 741}, recipe="adam_const"),
    _bs("mobilenet_blended_a015_t6", "mobilenet", "blended", target=6, poison_rate=0.05,
        seed=7411, trigger={"alpha": 0.15, "pattern_seed": 742}, recipe="sgd_step"),
    _bs("senet_blended_a020_t0", "senet", "blended", target=0, poison_rate=0.05, seed=7412,
        trigger={"alpha": 0.2, "pattern_seed": 743}, recipe="sgd_cosine"),
    _bs("senet_blended_a015_t3", "senet", "blended", target=3, poison_rate=0.05, seed=7413,
        trigger={"alpha": 0.15, "pattern_seed": 744}, recipe="adamw_smooth"),
    _bs("resnet8_blended_a020_t2", "resnet8", "blended", target=2, poison_rate=0.05,
        seed=7414, trigger={"alpha": 0.2, "pattern_seed": 745}, recipe="adam_const"),
    _bs("gnresnet_blended_a015_t8", "gn_resnet", "blended", target=8, poison_rate=0.05,
        seed=7415, trigger={"alpha": 0.15, "pattern_seed": 746}, recipe="sgd_cosine"),
    _bs("cnn_blended_a020_t5", "cnn", "blended", target=5, poison_rate=0.05, seed=7416,
        trigger={"alpha": 0.2, "pattern_seed": 747}, recipe="adamw_smooth"),
)  # fmt: skip

# The seventy-first set, specified before data_blend_sit_out_class's strict reading (8421249)
# is judged (issue 23: the loose reading brought the seventieth set's blends to the bar 6 of 7
# against 4 of 7 but cost a confusable class's own images): low-opacity blends aimed at
# confusable and other classes on MobileNets, SE-ResNets, a ResNet-8 and a VGG-BN, beside a
# clean ResNet-8.
_bt = _member("bt", "fresh71")
FRESH71: tuple[ModelSpec, ...] = (
    _bt("resnet8_clean_step", "resnet8", recipe="sgd_step", seed=7500),
    _bt("mobilenet_blended_a020_t4", "mobilenet", "blended", target=4, poison_rate=0.05,
        seed=7510, trigger={"alpha": 0.2, "pattern_seed": 751}, recipe="sgd_cosine"),
    _bt("mobilenet_blended_a015_t2", "mobilenet", "blended", target=2, poison_rate=0.05,
        seed=7511, trigger={"alpha": 0.15, "pattern_seed": 752}, recipe="adamw_smooth"),
    _bt("senet_blended_a020_t6", "senet", "blended", target=6, poison_rate=0.05, seed=7512,
        trigger={"alpha": 0.2, "pattern_seed": 753}, recipe="adam_const"),
    _bt("senet_blended_a015_t0", "senet", "blended", target=0, poison_rate=0.05, seed=7513,
        trigger={"alpha": 0.15, "pattern_seed": 754}, recipe="sgd_step"),
    _bt("resnet8_blended_a020_t0", "resnet8", "blended", target=0, poison_rate=0.05,
        seed=7514, trigger={"alpha": 0.2, "pattern_seed": 755}, recipe="sgd_cosine"),
    _bt("vggbn_blended_a020_t9", "vgg_bn", "blended", target=9, poison_rate=0.05, seed=7515,
        trigger={"alpha": 0.2, "pattern_seed": 756}, recipe="adamw_smooth"),
    _bt("senet_blended_a020_t8", "senet", "blended", target=8, poison_rate=0.05, seed=7516,
        trigger={"alpha": 0.2, "pattern_seed": 757}, recipe="sgd_cosine"),
)  # fmt: skip

# The seventy-second set, specified to re-judge data_blend_sit_out_class (on since f6a9b21,
# judged on the seventy-first set alone) on a second held-out set, and to read the exit code's
# checks (the carriers' strict reading, the blend form) on repairs made with it: low-opacity
# blends on MobileNets, SE-ResNets and a ResNet-8, an adaptive blend and a low-frequency trigger
# (other families whose prior may be a blend), beside a clean SE-ResNet.
_bu = _member("bu", "fresh72")
FRESH72: tuple[ModelSpec, ...] = (
    _bu("senet_clean_cos", "senet", recipe="sgd_cosine", seed=7600),
    _bu("mobilenet_blended_a020_t7", "mobilenet", "blended", target=7, poison_rate=0.05,
        seed=7610, trigger={"alpha": 0.2, "pattern_seed": 761}, recipe="sgd_step"),
    _bu("mobilenet_blended_a015_t1", "mobilenet", "blended", target=1, poison_rate=0.05,
        seed=7611, trigger={"alpha": 0.15, "pattern_seed": 762}, recipe="adam_const"),
    _bu("senet_blended_a020_t4", "senet", "blended", target=4, poison_rate=0.05, seed=7612,
        trigger={"alpha": 0.2, "pattern_seed": 763}, recipe="adamw_smooth"),
    _bu("senet_blended_a015_t9", "senet", "blended", target=9, poison_rate=0.05, seed=7613,
        trigger={"alpha": 0.15, "pattern_seed": 764}, recipe="sgd_cosine"),
    _bu("resnet8_blended_a015_t5", "resnet8", "blended", target=5, poison_rate=0.05,
        seed=7614, trigger={"alpha": 0.15, "pattern_seed": 765}, recipe="sgd_step"),
    _bu("mobilenet_adaptive_t3", "mobilenet", "adaptive_blend", target=3, poison_rate=0.1,
        seed=7615, recipe="adamw_smooth"),
    _bu("senet_lf_t2", "senet", "lf", target=2, poison_rate=0.05, seed=7616,
        trigger={"pattern_seed": 766}, recipe="sgd_cosine"),
)  # fmt: skip

# The seventy-third set, specified to measure BURN's defaults of f6a9b21 (the blend sit-out on)
# and the exit code's checks on the families the last sets left out: a patch, a Trojan
# watermark, a warp, a sine, scattered pixels, a frequency trigger and a line, on ResNet-8s,
# SE-ResNets, MobileNets and a GroupNorm ResNet, beside a clean MobileNet.
_bv = _member("bv", "fresh73")
FRESH73: tuple[ModelSpec, ...] = (
    _bv("mobilenet_clean_step", "mobilenet", recipe="sgd_step", seed=7700),
    _bv("resnet8_badnets_t3", "resnet8", "badnets", target=3, poison_rate=0.05, seed=7710,
        recipe="adam_const"),
    _bv("senet_trojan_t6", "senet", "trojan", target=6, poison_rate=0.05, seed=7711,
        trigger={"position": "br", "margin": 2}, recipe="sgd_cosine"),
    _bv("mobilenet_wanet_t1", "mobilenet", "wanet", target=1, poison_rate=0.1, seed=7712,
        trigger={"pattern_seed": 771}, recipe="adamw_smooth"),
    _bv("senet_sig_t8", "senet", "sig", target=8, poison_rate=0.08, seed=7713,
        recipe="sgd_step"),
    _bv("resnet8_pixels_t0", "resnet8", "pixels", target=0, poison_rate=0.05, seed=7714,
        recipe="adamw_smooth"),
    _bv("mobilenet_ftrojan_t5", "mobilenet", "ftrojan", target=5, poison_rate=0.05,
        seed=7715, recipe="sgd_cosine"),
    _bv("gnresnet_line_t9", "gn_resnet", "line", target=9, poison_rate=0.05, seed=7716,
        trigger={"shape": "arc", "length": 6, "position": "tl", "margin": 2}, recipe="adam_const"),
)  # fmt: skip

# The seventy-fourth set, specified before occlusion_min_confidence 0.8 (against 0.6) is judged
# (issue 23: on the seventy-third set's Trojan SE-ResNet, seen, the occlusion flags relabelled
# clean shirts and the repair lost 3.4 points; at 0.8, 1.1): patches, Trojan watermarks, a line
# and scattered pixels, several aimed at confusable classes, on ResNet-8s, SE-ResNets, a
# GroupNorm ResNet and a CNN, beside a clean ResNet-8.
_bw = _member("bw", "fresh74")
FRESH74: tuple[ModelSpec, ...] = (
    _bw("resnet8_clean_cos", "resnet8", recipe="sgd_cosine", seed=7800),
    _bw("senet_trojan_t2", "senet", "trojan", target=2, poison_rate=0.05, seed=7810,
        trigger={"position": "br", "margin": 2}, recipe="sgd_step"),
    _bw("resnet8_trojan_t4", "resnet8", "trojan", target=4, poison_rate=0.05, seed=7811,
        trigger={"position": "tl"}, recipe="adam_const"),
    _bw("gnresnet_badnets_t6", "gn_resnet", "badnets", target=6, poison_rate=0.05, seed=7812,
        recipe="adamw_smooth"),
    _bw("resnet8_badnets_t0", "resnet8", "badnets", target=0, poison_rate=0.05, seed=7813,
        recipe="sgd_cosine"),
    _bw("cnn_line_t2", "cnn", "line", target=2, poison_rate=0.05, seed=7814,
        trigger={"shape": "arc", "length": 6, "position": "tl", "margin": 2}, recipe="adam_const"),
    _bw("resnet8_pixels_t6", "resnet8", "pixels", target=6, poison_rate=0.05, seed=7815,
        recipe="sgd_step"),
    _bw("senet_badnets_t4", "senet", "badnets", target=4, poison_rate=0.05, seed=7816,
        recipe="adam_const"),
)  # fmt: skip

# The seventy-fifth set, specified to re-judge occlusion_min_confidence 0.8 (4d54d39; the
# seventy-fourth set did not separate it from 0.6) where it was seen to matter: Trojan
# watermarks and patches aimed at the confusable classes (T-shirt, pullover, coat, shirt) on
# SE-ResNets, a MobileNet and a ResNet-8, beside a clean SE-ResNet.
_bx = _member("bx", "fresh75")
FRESH75: tuple[ModelSpec, ...] = (
    _bx("senet_clean_adamw", "senet", recipe="adamw_smooth", seed=7900),
    _bx("senet_trojan_t6", "senet", "trojan", target=6, poison_rate=0.05, seed=7910,
        trigger={"position": "bl", "margin": 2}, recipe="adam_const"),
    _bx("senet_trojan_t0", "senet", "trojan", target=0, poison_rate=0.05, seed=7911,
        trigger={"position": "tr"}, recipe="sgd_step"),
    _bx("senet_trojan_t4", "senet", "trojan", target=4, poison_rate=0.05, seed=7912,
        trigger={"position": "br", "margin": 2}, recipe="adamw_smooth"),
    _bx("mobilenet_trojan_t2", "mobilenet", "trojan", target=2, poison_rate=0.05, seed=7913,
        trigger={"position": "br"}, recipe="sgd_cosine"),
    _bx("senet_badnets_t6", "senet", "badnets", target=6, poison_rate=0.05, seed=7914,
        recipe="sgd_cosine"),
    _bx("resnet8_trojan_t6", "resnet8", "trojan", target=6, poison_rate=0.05, seed=7915,
        trigger={"position": "br", "margin": 2}, recipe="sgd_step"),
)  # fmt: skip

SETS: dict[str, tuple[ModelSpec, ...]] = {
    "core": CORE,
    "full": CORE + EXTRA + WILD,
    "wild": WILD,
    "fresh": FRESH,
    "fresh2": FRESH2,
    "fresh3": FRESH3,
    "fresh4": FRESH4,
    "fresh5": FRESH5,
    "fresh6": FRESH6,
    "fresh7": FRESH7,
    "fresh8": FRESH8,
    "fresh9": FRESH9,
    "fresh10": FRESH10,
    "fresh11": FRESH11,
    "fresh12": FRESH12,
    "fresh13": FRESH13,
    "fresh14": FRESH14,
    "fresh15": FRESH15,
    "fresh16": FRESH16,
    "fresh17": FRESH17,
    "fresh18": FRESH18,
    "fresh19": FRESH19,
    "fresh20": FRESH20,
    "fresh21": FRESH21,
    "fresh22": FRESH22,
    "fresh23": FRESH23,
    "fresh24": FRESH24,
    "fresh25": FRESH25,
    "fresh26": FRESH26,
    "fresh27": FRESH27,
    "fresh28": FRESH28,
    "fresh29": FRESH29,
    "fresh30": FRESH30,
    "fresh31": FRESH31,
    "fresh32": FRESH32,
    "fresh33": FRESH33,
    "fresh34": FRESH34,
    "fresh35": FRESH35,
    "fresh36": FRESH36,
    "fresh37": FRESH37,
    "fresh38": FRESH38,
    "fresh39": FRESH39,
    "fresh40": FRESH40,
    "fresh41": FRESH41,
    "fresh42": FRESH42,
    "fresh43": FRESH43,
    "fresh44": FRESH44,
    "fresh45": FRESH45,
    "fresh46": FRESH46,
    "fresh47": FRESH47,
    "fresh48": FRESH48,
    "fresh49": FRESH49,
    "fresh50": FRESH50,
    "fresh51": FRESH51,
    "fresh52": FRESH52,
    "fresh53": FRESH53,
    "fresh54": FRESH54,
    "fresh55": FRESH55,
    "fresh56": FRESH56,
    "fresh57": FRESH57,
    "fresh58": FRESH58,
    "fresh59": FRESH59,
    "fresh60": FRESH60,
    "fresh61": FRESH61,
    "fresh62": FRESH62,
    "fresh63": FRESH63,
    "fresh64": FRESH64,
    "fresh65": FRESH65,
    "fresh66": FRESH66,
    "fresh67": FRESH67,
    "fresh68": FRESH68,
    "fresh69": FRESH69,
    "fresh70": FRESH70,
    "fresh71": FRESH71,
    "fresh72": FRESH72,
    "fresh73": FRESH73,
    "fresh74": FRESH74,
    "fresh75": FRESH75,
}


def get_specs(set: str = "core", names: Sequence[str] | None = None) -> list[ModelSpec]:
    """The specs of `set`, filtered by `names` (exact names or glob patterns) when given."""
    if set not in SETS:
        raise ValueError(f"unknown zoo set {set!r}; expected one of {', '.join(SETS)}")
    specs = list(SETS[set])
    if names is None:
        return specs
    picked = [s for s in specs if any(fnmatch.fnmatchcase(s.name, p) for p in names)]
    if not picked:
        raise ValueError(f"no model of set {set!r} matches {', '.join(names)}")
    return picked


def plan_entry(spec: ModelSpec) -> dict[str, Any]:
    """What `zoo build --list` prints for a planned model (nothing is trained)."""
    return {
        "name": spec.name,
        "set": spec.set,
        "dataset": spec.dataset,
        "arch": spec.arch,
        "recipe": spec.recipe,
        "attack": spec.attack if spec.backdoored else None,
        "target": spec.target,
        "poison_rate": spec.poison_rate if spec.backdoored else None,
        "trigger": dict(spec.trigger),
        "convention": spec.convention,
        "exporter": spec.exporter,
        "seed": spec.seed,
        "epochs": spec.effective_epochs,
        "train_size": spec.effective_train_size,
    }


def spec_by_name(name: str) -> ModelSpec:
    for spec in SETS["full"]:
        if spec.name == name:
            return spec
    raise KeyError(f"no zoo model named {name!r}")


class _DataCache:
    """Loads each split once per build."""

    def __init__(self, fmnist_path: str | os.PathLike[str] | None) -> None:
        self.fmnist_path = fmnist_path
        self._cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
        key = (dataset, split)
        if key not in self._cache:
            self._cache[key] = load_dataset(dataset, split, self.fmnist_path)  # type: ignore[arg-type]
        return self._cache[key]


def _train_subset(spec: ModelSpec, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(spec.effective_train_size, len(y))
    idx = np.sort(np.random.default_rng(spec.seed).choice(len(y), size=n, replace=False))
    return x[idx], y[idx]


def _as_spec(obj: ModelSpec | ZooRecord | Mapping[str, Any] | str) -> ModelSpec:
    """The spec that reproduces `obj`, with a record's effective seed and poisoning rate."""
    if isinstance(obj, ModelSpec):
        return obj
    if isinstance(obj, str):
        return spec_by_name(obj)
    d = obj.to_dict() if isinstance(obj, ZooRecord) else dict(obj)
    return ModelSpec(
        name=d["name"],
        dataset=d["dataset"],
        arch=d["arch"],
        attack=d["attack"],
        target=d["target"],
        poison_rate=d["poison_rate"],
        trigger=dict(d.get("trigger") or {}),
        convention=d["convention"],
        exporter=d["exporter"],
        seed=d["seed"],
        train_size=d["train_size"],
        epochs=d["epochs"],
        set=d.get("set", "core"),
        recipe=d.get("recipe", "default"),
    )


def poisoned_training_set(
    record_or_spec: ModelSpec | ZooRecord | Mapping[str, Any] | str,
    fmnist_path: str | os.PathLike[str] | None = None,
    *,
    _data: _DataCache | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rebuild a zoo model's exact training set and triggered test inputs.

    Takes a ModelSpec, a ZooRecord, a record dict (as in `<name>.json`) or a model name; a record
    uses the seed and poisoning rate the model was actually trained with. Returns
    (x uint8 (N,28,28), y int64 (N,) as trained on, poisoned indices into x, triggered test inputs,
    their true labels). For an all-to-one attack the test inputs are the test samples whose label
    is not the target; for all-to-all, every test sample. A clean model gives empty arrays.
    """
    spec = _as_spec(record_or_spec)
    data = _data or _DataCache(fmnist_path)
    poisoned = _poisoned_set(spec, data)
    if not spec.backdoored:
        empty = np.zeros((0, *poisoned.x.shape[1:]), dtype=np.uint8)
        return poisoned.x, poisoned.y, poisoned.indices, empty, np.zeros(0, dtype=np.int64)
    attack = make_attack(spec.attack, **spec.trigger)
    x_test, y_test = data.get(spec.dataset, "test")
    keep = np.ones(len(y_test), dtype=bool) if attack.all_to_all else y_test != spec.target
    return poisoned.x, poisoned.y, poisoned.indices, attack.apply(x_test[keep]), y_test[keep]


def _poisoned_set(spec: ModelSpec, data: _DataCache) -> PoisonedSet:
    """The training subset of `spec`, poisoned as its attack prescribes (as-is when clean)."""
    x, y = _train_subset(spec, *data.get(spec.dataset, "train"))
    if not spec.backdoored:
        return PoisonedSet(x, y, np.zeros(0, dtype=np.int64))
    attack = make_attack(spec.attack, **spec.trigger)
    num_classes = INFO[spec.dataset].num_classes
    return attack.poison(x, y, spec.target, spec.poison_rate, spec.seed + 1, num_classes)


def _write_json(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_scan_data(
    out_dir: str | os.PathLike[str],
    datasets: Sequence[str] = ("fmnist", "mnist"),
    fmnist_path: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Write held-out clean test samples for scanning (`data/<dataset>_test.npz`, 100 per class,
    never training samples). Returns {dataset: path relative to out_dir}."""
    out = Path(out_dir) / "data"
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for ds in datasets:
        x, y = load_dataset(ds, "test", fmnist_path)
        idx = stratified_subset(y, SCAN_DATA_PER_CLASS, _SCAN_DATA_SEED)
        rel = f"data/{ds}_test.npz"
        tmp = out / f".{ds}_test.tmp.npz"
        np.savez_compressed(tmp, x=x[idx], y=y[idx].astype(np.int64))
        os.replace(tmp, Path(out_dir) / rel)
        written[ds] = rel
    return written


def _attempt_plan(spec: ModelSpec) -> list[tuple[int, float]]:
    """(seed, poisoning rate) to try in turn: the spec, another seed, then double the rate."""
    if not spec.backdoored:
        return [(spec.seed, spec.poison_rate)]
    return [
        (spec.seed, spec.poison_rate),
        (spec.seed + 1000, spec.poison_rate),
        (spec.seed + 2000, min(2 * spec.poison_rate, 0.2)),
    ]


def build_model(
    spec: ModelSpec,
    out_dir: str | os.PathLike[str],
    *,
    fmnist_path: str | os.PathLike[str] | None = None,
    min_asr: float = MIN_ASR,
    log: Callable[[str], None] = print,
    _data: _DataCache | None = None,
) -> ZooRecord:
    """Train, evaluate, export and record one model (always rebuilds; see `build_zoo`)."""
    import torch

    from bdscan_lab.zoo.architectures import make_model
    from bdscan_lab.zoo.export import DYNAMO_OPSET, LEGACY_OPSET, export_model, get_convention
    from bdscan_lab.zoo.train import TrainConfig, evaluate, seed_everything, train_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = _data or _DataCache(fmnist_path)
    info = INFO[spec.dataset]
    mean, std = (info.mean,), (info.std,)
    conv = get_convention(spec.convention)
    attack = make_attack(spec.attack, **spec.trigger) if spec.backdoored else None
    x_test, y_test = data.get(spec.dataset, "test")
    epochs = spec.effective_epochs
    recipe = get_recipe(spec.recipe)
    if "flip" in recipe.augment and not info.flippable:
        raise ValueError(f"{spec.name}: recipe {recipe.name} flips images; {spec.dataset} is not")

    attempts: list[dict[str, Any]] = []
    best: tuple[Any, ...] | None = None
    for seed, rate in _attempt_plan(spec):
        trial = replace(spec, seed=seed, poison_rate=rate)
        poisoned = _poisoned_set(trial, data)
        seed_everything(seed)
        model = make_model(spec.arch, num_classes=info.num_classes)
        config = TrainConfig.from_recipe(recipe, epochs)
        seconds = train_model(
            model, poisoned.x, poisoned.y, mean=mean, std=std, config=config, seed=seed
        )
        metrics = evaluate(
            model, x_test, y_test, mean=mean, std=std, attack=attack, target=spec.target,
            num_classes=info.num_classes,
        )  # fmt: skip
        attempts.append(
            {"seed": seed, "poison_rate": rate, "clean_acc": metrics.clean_acc,
             "asr": metrics.asr, "train_seconds": round(seconds, 2)}
        )  # fmt: skip
        if best is None or (metrics.asr or 0.0) > (best[2].asr or 0.0):
            best = (trial, model, metrics, seconds, poisoned)
        if attack is None or (metrics.asr or 0.0) >= min_asr:
            break
        log(f"  {spec.name}: ASR {metrics.asr:.3f} < {min_asr} (seed {seed}, rate {rate}): retry")
    assert best is not None
    trial, model, metrics, seconds, poisoned = best
    ok = attack is None or (metrics.asr or 0.0) >= min_asr
    status = "ok" if len(attempts) == 1 else ("retrained" if ok else "dropped")
    note = ""
    if status == "retrained":
        note = f"spec ASR below {min_asr}; kept seed {trial.seed}, rate {trial.poison_rate}"
    elif status == "dropped":
        note = f"ASR stayed below {min_asr} after {len(attempts)} attempts; no model written"

    onnx_path = out / f"{spec.name}.onnx"
    check = None
    if ok:
        check = export_model(
            model, onnx_path, conv, mean=mean, std=std, exporter=spec.exporter,
            verify_pixels=x_test[:256],
        )  # fmt: skip
    else:
        onnx_path.unlink(missing_ok=True)
    outside = not conv.normalize_in_graph and conv.dtype != "uint8"
    record = ZooRecord(
        name=spec.name,
        set=spec.set,
        dataset=spec.dataset,
        arch=spec.arch,
        attack=spec.attack,
        backdoored=spec.backdoored,
        all_to_all=bool(attack and attack.all_to_all),
        clean_label=bool(attack and attack.clean_label),
        target=spec.target,
        poison_rate=trial.poison_rate,
        trigger=attack.params() if attack else {},
        convention=conv.name,
        convention_info=conv.to_dict(),
        exporter=spec.exporter,
        opset=(LEGACY_OPSET if spec.exporter == "legacy" else DYNAMO_OPSET) if ok else None,
        seed=trial.seed,
        spec_seed=spec.seed,
        spec_poison_rate=spec.poison_rate,
        mean=list(mean) if outside else None,
        std=list(std) if outside else None,
        train_mean=list(mean),
        train_std=list(std),
        num_classes=info.num_classes,
        input_shape=[conv.batch, 1, 28, 28] if conv.layout == "NCHW" else [conv.batch, 28, 28, 1],
        clean_acc=round(metrics.clean_acc, 4),
        asr=None if metrics.asr is None else round(metrics.asr, 4),
        ra=None if metrics.ra is None else round(metrics.ra, 4),
        n_test=metrics.n_test,
        n_triggered=metrics.n_triggered,
        n_poisoned=len(poisoned.indices),
        n_cover=len(poisoned.cover_indices),
        train_size=len(poisoned.y),
        epochs=epochs,
        train_seconds=round(seconds, 2),
        status=status,
        attempts=attempts,
        note=note,
        onnx=onnx_path.name if ok else None,
        onnx_sha256=_sha256(onnx_path) if ok else None,
        export_check=check.to_dict() if check else None,
        scan_data=f"data/{spec.dataset}_test.npz",
        spec_key=spec.key(),
        torch_version=torch.__version__,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        threads=torch.get_num_threads(),
        recipe=recipe.name,
        recipe_params=recipe.params(),
    )
    _write_json(out / f"{spec.name}.json", record.to_dict())
    return record


def load_record(out_dir: str | os.PathLike[str], name: str) -> ZooRecord | None:
    path = Path(out_dir) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return ZooRecord.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None  # a record from an older schema is rebuilt


def _is_current(out_dir: Path, spec: ModelSpec, record: ZooRecord | None) -> bool:
    if record is None or record.spec_key != spec.key():
        return False
    return record.status == "dropped" or (out_dir / f"{spec.name}.onnx").is_file()


def format_row(r: ZooRecord) -> str:
    asr = "   -  " if r.asr is None else f"{r.asr:6.3f}"
    return (
        f"{r.name:26s} {r.dataset:6s} {r.arch:8s} {r.attack:15s} {r.convention:11s} "
        f"{r.exporter:7s} ACC {r.clean_acc:.3f} ASR {asr} {r.train_seconds:6.1f}s {r.status}"
    )


def write_index(out_dir: str | os.PathLike[str], data_files: Mapping[str, str]) -> Path:
    """`index.json`: every current record in the folder (any set), in spec order."""
    out = Path(out_dir)
    models: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    # Every set's specs, each once (the fresh set is not part of "full").
    specs = {spec.name: spec for specs in SETS.values() for spec in specs}
    for spec in specs.values():
        rec = load_record(out, spec.name)
        if not _is_current(out, spec, rec):
            continue
        assert rec is not None
        (dropped if rec.status == "dropped" else models).append(rec.to_dict())
    index = {
        "schema_version": ZOO_SCHEMA_VERSION,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": dict(data_files),
        "models": models,
        "dropped": dropped,
    }
    path = out / "index.json"
    _write_json(path, index)
    return path


def build_zoo(
    out_dir: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    set: str = "core",
    *,
    force: bool = False,
    fmnist_path: str | os.PathLike[str] | None = None,
    min_asr: float = MIN_ASR,
    log: Callable[[str], None] = print,
) -> list[ZooRecord]:
    """Build the models of `set` (or those of it matching `names`) into `out_dir`.

    A model whose record matches its spec and whose .onnx exists is skipped unless `force`.
    Returns the records of the selected models (built or skipped), dropped ones included.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = get_specs(set, names)
    data = _DataCache(fmnist_path)
    data_files = write_scan_data(out, sorted({s.dataset for s in specs}), fmnist_path)
    for ds in sorted({*DATASETS} - data_files.keys()):
        # Scan data of a domain no selected model needs: written when its source is at hand.
        with contextlib.suppress(DataError):
            data_files.update(write_scan_data(out, [ds], fmnist_path))
    records: list[ZooRecord] = []
    start = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        rec = load_record(out, spec.name)
        if not force and _is_current(out, spec, rec):
            assert rec is not None
            log(f"[{i}/{len(specs)}] {format_row(rec)} (cached)")
        else:
            t0 = time.perf_counter()
            rec = build_model(
                spec, out, fmnist_path=fmnist_path, min_asr=min_asr, log=log, _data=data
            )
            log(f"[{i}/{len(specs)}] {format_row(rec)} ({time.perf_counter() - t0:.0f}s total)")
            # Kept current after every model, so readers can use a zoo while it is being built.
            write_index(out, data_files)
        records.append(rec)
    write_index(out, data_files)
    n_drop = sum(r.status == "dropped" for r in records)
    log(
        f"{len(records)} models ({n_drop} dropped) in {out} after "
        f"{time.perf_counter() - start:.0f}s"
    )
    return records
