"""The training data's check of the target (`scanner.remediate.datacheck`), on scikit-learn's
real 8x8 digits split into a training part (poisoned here, as an attacker would) and a clean
part: the class that holds the poison is named, a clean split or a poison spread over every
class names none."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scanner.remediate.config import BurnConfig
from scanner.remediate.datacheck import check_training_data
from tests import onnx_builders

DEFAULTS = BurnConfig()


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = onnx_builders.digits()
    x = x[..., None]  # NHWC, as remediation works
    order = np.random.default_rng(0).permutation(len(y))
    train, clean = order[:1400], order[1400:]
    return x[train].copy(), y[train].copy(), x[clean], y[clean]


def _check(xt: np.ndarray, yt: np.ndarray, xc: np.ndarray, yc: np.ndarray):  # type: ignore[no-untyped-def]
    return check_training_data(
        xt, yt, xc, yc, 10,
        min_z=DEFAULTS.data_check_min_z, ratio=DEFAULTS.data_check_ratio,
        min_samples=DEFAULTS.data_check_min_samples, max_samples=DEFAULTS.data_check_max_samples,
    )  # fmt: skip


def _sine(amplitude: float, freq: float = 2.0) -> np.ndarray:
    cols = np.arange(8, dtype=np.float32)
    return (amplitude * np.sin(2 * np.pi * freq * cols / 8))[None, None, :, None]


def test_a_clean_split_names_no_class() -> None:
    check = _check(*_split())
    assert check.label is None and check.by is None, check
    assert "no class stands out" in check.note
    assert all(not math.isnan(z) for z in check.z_pixel)


def test_a_clean_label_sine_names_the_class_it_was_added_to() -> None:
    xt, yt, xc, yc = _split()
    # SIG as the zoo plants it: a sine added to 80% of the target class's samples, labels kept.
    target = np.flatnonzero(yt == 3)
    rng = np.random.default_rng(1)
    poisoned = rng.choice(target, size=int(0.8 * len(target)), replace=False)
    xt[poisoned] = np.clip(xt[poisoned] + _sine(0.16), 0.0, 1.0)
    check = _check(xt, yt, xc, yc)
    assert check.label == 3, check
    others = [z for c, z in enumerate(check.z_pixel) if c != 3]
    assert check.z_pixel[3] > DEFAULTS.data_check_ratio * max(others)


def test_the_frequency_measure_gathers_a_sine_into_its_coefficient() -> None:
    xt, yt, xc, yc = _split()
    target = np.flatnonzero(yt == 7)
    xt[target] = xt[target] + _sine(0.16)
    check = _check(xt, yt, xc, yc)
    assert check.label == 7, check
    # Measured alone too: the sine's class stands out among the coefficients, no other does.
    # (On 8x8 digits a pixel that is always black in a class stands out first: `by` is "pixel".)
    others = [z for c, z in enumerate(check.z_frequency) if c != 7]
    assert check.z_frequency[7] >= DEFAULTS.data_check_min_z, check.z_frequency
    assert check.z_frequency[7] >= DEFAULTS.data_check_ratio * max(others), check.z_frequency


def test_a_poison_in_every_class_names_none() -> None:
    xt, yt, xc, yc = _split()
    # All-to-all: a quarter of every class's samples stamped (relabelled to the next class).
    rng = np.random.default_rng(2)
    stamped = rng.choice(len(yt), size=len(yt) // 4, replace=False)
    xt[stamped, -3:-1, -3:-1] = 1.0
    yt[stamped] = (yt[stamped] + 1) % 10
    check = _check(xt, yt, xc, yc)
    assert check.label is None, check
    # Every class moved, further than any class of the clean split: none stands out.
    clean = _check(*_split())
    assert sorted(check.z_pixel)[1] > max(clean.z_pixel), (check.z_pixel, clean.z_pixel)


def test_too_few_clean_samples_is_said_not_guessed() -> None:
    xt, yt, xc, yc = _split()
    few = np.concatenate([np.flatnonzero(yc == c)[:5] for c in range(10)])
    check = _check(xt, yt, xc[few], yc[few])
    assert check.label is None and check.note.startswith("not run")
    assert all(math.isnan(z) for z in check.z_pixel)
    assert check.to_dict()["z_pixel"] == [None] * 10


@pytest.mark.parametrize("chunked", [1, 1000])
def test_chunking_does_not_change_the_figures(chunked: int) -> None:
    from scanner.remediate.datacheck import _moments

    x = _split()[0][:300]
    whole, parts = _moments(x, chunk=len(x)), _moments(x, chunk=chunked)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_a_large_class_is_read_over_its_whole_length() -> None:
    from scanner.remediate.datacheck import _spread

    # Poison appended at the end of a file must be read too: the samples are spread, not the
    # first ones.
    y = np.zeros(1000, dtype=np.int64)
    y[1::2] = 1
    x = np.arange(1000, dtype=np.float32)
    picked = _spread(x, y, 1, 50)
    assert len(picked) == 50 and picked[0] == 1 and picked[-1] == 999
    assert np.all(y[picked.astype(int)] == 1)
    assert np.array_equal(_spread(x, y, 0, 5000), x[y == 0])
