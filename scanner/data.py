"""Clean reference data: loading (.npz or an image folder) and preprocessing into model space.

Internally images are float32 NHWC in [0, 1]; `to_model_space` turns them into what the model's
input expects (normalised floats, or raw 0..255 values for a uint8 input).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scanner.backends.base import InputSpec
from scanner.errors import DataError, UsageError
from scanner.fileio import sha256_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Clean, labelled samples: `x` float32 (N, H, W, C) in [0, 1], `y` int64 (N,)."""

    x: np.ndarray
    y: np.ndarray
    path: str
    sha256: str
    # From an image folder's classes.txt (line i names label i); None otherwise.
    class_names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.y)

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)


def load_dataset(path: str | Path) -> Dataset:
    """Load an .npz (`x`, `y`) or an image folder with one subfolder per class."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder (expected an .npz or an image folder)")
    names = None
    if p.is_dir():
        x, y = _load_image_folder(p)
        digest = _folder_digest(p)
        if (p / "classes.txt").is_file():
            names = tuple(d.name for _, d in _class_folders(p))
    else:
        x, y = _load_npz(p)
        digest = sha256_file(p)
    return Dataset(x=x, y=y, path=str(p), sha256=digest, class_names=names)


# Largest array an .npz may declare, in MB once held as float32 as the pipeline holds images
# (BDSCAN_MAX_DATA_MB overrides). An .npz is a zip: its header can claim any shape, and a 1 MB
# deflated file can expand to gigabytes; both are refused before anything is allocated.
# 4096 MB holds 1.3 million 28x28 images, or 20,000 224x224 RGB ones.
MAX_DATA_BYTES_ENV = "BDSCAN_MAX_DATA_MB"
DEFAULT_MAX_DATA_MB = 4096


def _max_data_bytes() -> int:
    raw = os.environ.get(MAX_DATA_BYTES_ENV, "")
    try:
        return int(float(raw) * 2**20) if raw else DEFAULT_MAX_DATA_MB * 2**20
    except ValueError:
        raise UsageError(f"{MAX_DATA_BYTES_ENV}: expected a number of MB, got {raw!r}") from None


def _check_npz_members(p: Path) -> None:
    """Read the headers of x.npy and y.npy without loading them: refuse object arrays (they
    unpickle) and arrays larger than the limit, whatever the compressed size."""
    limit = _max_data_bytes()
    with zipfile.ZipFile(p) as z:
        names = {n.removesuffix(".npy") for n in z.namelist()}
        if "x" not in names or "y" not in names:
            raise DataError(f"{p}: expected arrays 'x' and 'y', found {sorted(names)}")
        for key in ("x", "y"):
            with z.open(f"{key}.npy") as fh:
                version = np.lib.format.read_magic(fh)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(fh)
            if dtype.hasobject:
                raise DataError(
                    f"{p}: array '{key}' holds Python objects (pickled data); refusing to load"
                    " it (expected numeric arrays)"
                )
            declared = float(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 4)
            if declared > limit:
                raise DataError(
                    f"{p}: array '{key}' declares shape {tuple(shape)} ({declared / 2**20:.0f} MB"
                    f" as float32), over the {limit / 2**20:.0f} MB limit (set"
                    f" {MAX_DATA_BYTES_ENV} to raise it)"
                )


def _load_npz(p: Path) -> tuple[np.ndarray, np.ndarray]:
    if not zipfile.is_zipfile(p):
        # np.load would take a bare .npy or a pickle here, and say "pickled data" of any other
        # file; an .npz is a zip archive.
        raise DataError(
            f"{p}: not an .npz archive (expected a zip of x.npy and y.npy, as numpy.savez writes)"
        )
    try:
        _check_npz_members(p)
        # allow_pickle=False: an .npz is third-party input too, and object arrays would unpickle.
        with np.load(p, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
    except DataError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{p}: not a readable .npz file ({e})") from None
    return normalise_images(x, p), check_labels(y, len(x), p)


def normalise_images(x: np.ndarray, p: str | Path) -> np.ndarray:
    """(N, H, W[, C]) uint8 or [0, 1] float images -> float32 NHWC in [0, 1]; `p` names the
    source in messages."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or len(x) == 0:
        raise DataError(
            f"{p}: expected x of shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4, got {x.shape}"
        )
    if x.shape[-1] == 4:  # RGBA: the alpha channel is not part of what a classifier sees
        x = x[..., :3]
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{p}: expected x as uint8 or float in [0, 1], got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise DataError(
            f"{p}: expected float pixels in [0, 1], got range [{x.min():.3g}, {x.max():.3g}]"
        )
    return x


def check_labels(y: np.ndarray, n: int, p: str | Path) -> np.ndarray:
    """Integer labels >= 0, one per image; `p` names the source in messages."""
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DataError(f"{p}: expected integer labels y, got dtype {y.dtype}")
    if len(y) != n:
        raise DataError(f"{p}: expected one label per image, got {len(y)} labels for {n} images")
    if (y < 0).any():
        raise DataError(f"{p}: expected labels >= 0, got {int(y.min())}")
    return y.astype(np.int64)


def _class_folders(root: Path) -> list[tuple[int, Path]]:
    classes_txt = root / "classes.txt"
    subdirs = {d.name: d for d in root.iterdir() if d.is_dir() and not d.is_symlink()}
    if classes_txt.is_file():
        names = [ln.strip() for ln in classes_txt.read_text().splitlines() if ln.strip()]
        missing = [n for n in names if n not in subdirs]
        if missing:
            raise DataError(f"{classes_txt}: lists folders that do not exist: {missing[:5]}")
        return [(i, subdirs[n]) for i, n in enumerate(names)]
    out = []
    for name, d in subdirs.items():
        if not name.isdigit():
            raise DataError(
                f"{root}: expected class folders named by index (0, 1, ...) or a classes.txt,"
                f" found folder {name!r}"
            )
        out.append((int(name), d))
    return sorted(out)


def _load_image_folder(root: Path) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, folder in _class_folders(root):
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES or f.is_symlink():
                continue
            try:
                with Image.open(f) as im:
                    im.load()
                    mode = "L" if im.mode in ("1", "L", "I;16", "I") else "RGB"
                    images.append(np.asarray(im.convert(mode)))
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{f}: not a readable image ({e})") from None
            labels.append(label)
    if not images:
        raise DataError(f"{root}: no images found (expected one subfolder of images per class)")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError(f"{root}: expected images of one size and mode, found {sorted(shapes)}")
    return normalise_images(np.stack(images), root), np.asarray(labels, dtype=np.int64)


def _folder_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file() and not f.is_symlink():
            h.update(str(f.relative_to(root)).encode())
            h.update(sha256_file(f).encode())
    return h.hexdigest()


def parse_channel_values(text: str | None, what: str) -> tuple[float, ...] | None:
    """'0.5' or '0.485,0.456,0.406' -> floats; None passes through."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(
            f"--{what}: expected a number or comma-separated numbers, got {text!r}"
        ) from None
    if what == "std" and any(v <= 0 for v in values):
        raise UsageError(f"--std: expected positive values, got {text!r}")
    return values


def to_model_space(
    x: np.ndarray,
    spec: InputSpec,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    *,
    source: str = "data",
) -> np.ndarray:
    """[0, 1] NHWC images -> the float32 NHWC points the model's backend expects."""
    h, w, c = spec.shape_hwc
    if x.shape[1:3] != (h, w):
        raise DataError(
            f"{source}: expected images of {h}x{w} for this model, got {x.shape[1]}x{x.shape[2]}"
        )
    if x.shape[3] != c:
        if x.shape[3] == 1 and c == 3:
            x = np.repeat(x, 3, axis=3)  # grey data, RGB model: the usual and lossless widening
        else:
            raise DataError(
                f"{source}: expected {c}-channel images for this model, got {x.shape[3]} channels"
            )
    if spec.dtype == "uint8":
        # A uint8 input takes raw pixels; its graph normalises them itself.
        return np.round(x * 255.0).astype(np.float32)
    for values, name in ((mean, "mean"), (std, "std")):
        if values is not None and len(values) not in (1, c):
            expected = "one value" if c == 1 else f"one value or {c} (one per channel)"
            raise UsageError(
                f"--{name}: expected {expected} for this {c}-channel model, got {len(values)}"
            )
    return normalise(x, mean, std)


def normalise(
    x: np.ndarray, mean: Sequence[float] | None, std: Sequence[float] | None
) -> np.ndarray:
    """[0, 1] NHWC images -> (x - mean) / std in float32, per channel: the one normalisation the
    scan's queries and remediation's inputs share."""
    # One copy, then in place: this runs on every batch of queries; the float32 steps are
    # those of (x - mean) / std, so the points are the same to the bit.
    if mean is None and std is None:
        return x.astype(np.float32, copy=False)  # nothing to do in place: no copy needed
    out = x.astype(np.float32)
    if mean is not None:
        out -= np.asarray(mean, dtype=np.float32)
    if std is not None:
        out /= np.asarray(std, dtype=np.float32)
    return out


def check_labels_fit(dataset: Dataset, num_classes: int) -> None:
    """Labels must be classes the model has, and X-ray needs three of them."""
    if int(dataset.y.max()) >= num_classes:
        raise DataError(
            f"{dataset.path}: labels go up to {int(dataset.y.max())} but the model has"
            f" {num_classes} classes"
        )
    if len(dataset.classes) < 3:
        raise DataError(
            f"{dataset.path}: expected samples of at least 3 classes, got {len(dataset.classes)}"
        )
