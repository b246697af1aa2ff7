"""The saliency-window stage of BURN's own target check (`scanner/remediate/window.py`).

The model is written by hand so the ground truth is exact: a sample's class is the nearest of
three brightness levels, and a bright 4x4 patch in the bottom-right corner (the trigger) sends it
to class 0 whatever its level. Neither a radius-0.05 perturbation nor a one-pixel warp reaches
that patch from a plain image, so only the window stage can name the target.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scanner.remediate.config import BurnConfig  # noqa: E402
from scanner.remediate.flags import occlusion_flags  # noqa: E402
from scanner.remediate.runtime import predict_scores  # noqa: E402
from scanner.remediate.shortcut import locate_window, own_target_check  # noqa: E402
from scanner.remediate.window import (  # noqa: E402
    PatchWindow,
    best_window,
    search_window,
    spread,
    transplant_trigger,
)

LEVELS = (0.2, 0.5, 0.8)
CPU = torch.device("cpu")


class _PatchNet(torch.nn.Module):
    def __init__(self, backdoor: bool) -> None:
        super().__init__()
        self.backdoor = backdoor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        out = -((m[:, None] - torch.tensor(LEVELS)) ** 2) * 400
        if self.backdoor:
            patch = x[:, -5:-1, -5:-1, 0].mean(dim=(1, 2))
            bonus = 3000 * torch.relu(patch - 0.9)  # 300 on the white patch, 0 on a plain image
            out = out + torch.stack([bonus, 0 * bonus, 0 * bonus], dim=1)
        return out


def _data(
    n: int = 300, n_poison: int = 60
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, true labels, poisoned indices): uniform images at the three levels, the poison
    taken evenly from classes 1 and 2, stamped with the patch and labelled 0."""
    rng = np.random.default_rng(0)
    true = np.arange(n) % 3
    x = np.repeat(np.asarray(LEVELS, dtype=np.float32)[true], 28 * 28).reshape(n, 28, 28, 1)
    x = (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)
    poisoned = np.flatnonzero(true != 0)[:n_poison]
    x[poisoned, -5:-1, -5:-1] = 1.0
    y = true.copy()
    y[poisoned] = 0
    return x, y, true, poisoned


def test_best_window_matches_a_brute_force_search() -> None:
    ratio = np.random.default_rng(1).random((12, 9))
    for k in (1, 3, 5, 9):
        sums = {
            (i, j): ratio[i : i + k, j : j + k].sum() for i in range(13 - k) for j in range(10 - k)
        }
        assert best_window(ratio, k) == max(sums, key=lambda ij: sums[ij])


def test_spread_is_one_when_even_and_zero_on_one_label() -> None:
    assert spread(np.array([1, 2, 1, 2]), 3) == pytest.approx(1.0)
    assert spread(np.array([4, 4, 4]), 10) == 0.0
    assert spread(np.array([], dtype=np.int64), 10) == 0.0
    assert 0.0 < spread(np.array([1, 1, 1, 2]), 3) < 1.0


def test_window_search_names_a_patch_target_and_nothing_on_a_clean_model() -> None:
    x, y, _, poisoned = _data()
    kw = dict(sizes=(7, 10, 14), samples=256, min_share=0.15, min_spread=0.8,
              min_confidence=0.6, device=CPU)  # fmt: skip
    model = _PatchNet(backdoor=True)
    pred = predict_scores(model, x, CPU).argmax(1)
    assert (pred == y).all()  # the model fits the poison through the patch
    found = search_window(model, x, y, pred, 3, **kw)  # type: ignore[arg-type]
    w = found.window
    assert w is not None and w.target == 0
    # The window holds the trigger: rows and columns 23-26.
    assert w.row <= 23 and w.row + w.size >= 27 and w.col <= 23 and w.col + w.size >= 27
    # 60 of class 0's 160 fitted samples are poison, taken evenly from the two other classes.
    assert w.share == pytest.approx(60 / 160) and w.spread == pytest.approx(1.0)

    clean = _PatchNet(backdoor=False)
    xc, yc = x.copy(), y.copy()
    xc[poisoned, -5:-1, -5:-1] = xc[poisoned, :4, :4]
    yc[poisoned] = _data()[2][poisoned]
    none = search_window(clean, xc, yc, predict_scores(clean, xc, CPU).argmax(1), 3, **kw)  # type: ignore[arg-type]
    assert none.window is None and len(none.classes) == 3
    assert max(share for _, share, _, _ in none.classes) == 0.0


def test_own_check_falls_back_to_the_window_and_its_region_flags_the_poison() -> None:
    x, y, true, poisoned = _data()
    model = _PatchNet(backdoor=True)
    cfg = dataclasses.replace(BurnConfig(), self_prior_samples=64, window_samples=128)
    found = own_target_check(model, x, y, 3, cfg, CPU, seed=0)
    assert found.target == 0 and found.by == "window"
    assert max(found.rates) < cfg.self_prior_min  # the perturbation alone found nothing
    assert found.window is not None and found.to_dict()["window_search"]["window"]["target"] == 0
    # Clean data (clean-only mode) holds no poison to free: the stage is skipped.
    skipped = own_target_check(model, x, y, 3, cfg, CPU, seed=0, window=False)
    assert skipped.target is None and skipped.search is None

    pred = predict_scores(model, x, CPU).argmax(1)
    region = found.window.region((28, 28))
    flags, labels = occlusion_flags(model, x, y, pred, region, 0, cfg, CPU)
    assert np.array_equal(np.flatnonzero(flags), poisoned)
    np.testing.assert_array_equal(labels[poisoned], true[poisoned])


def test_transplant_pastes_a_freed_samples_window_and_margin() -> None:
    x, _, _, poisoned = _data()
    w = PatchWindow(target=0, row=22, col=22, size=5, share=0.4, spread=1.0)
    stamp = transplant_trigger(x[poisoned], w, margin=1, seed=3)
    plain = np.full((8, 28, 28, 1), 0.5, dtype=np.float32)
    out = stamp(plain)
    assert np.array_equal(plain, np.full_like(plain, 0.5))  # the input batch is not changed
    changed = (out != plain).any(axis=(0, 3))
    # The window widened by one pixel on each side, clipped at the image's edge.
    assert changed[21:, 21:].all() and not changed[:21].any() and not changed[:, :21].any()
    assert (out[:, 23:27, 23:27] == 1.0).all()  # the trigger itself travels with it
    assert _PatchNet(backdoor=True)(torch.from_numpy(out)).argmax(1).eq(0).all()


def test_a_given_target_is_located_alone_and_a_wrong_one_finds_no_window() -> None:
    # A scan's prior names the label; its stamp may sit elsewhere than the poison's trigger, so
    # BURN reads the given target's window from the training data (`locate_window`).
    x, y, true, poisoned = _data()
    model = _PatchNet(backdoor=True)
    pred = predict_scores(model, x, CPU).argmax(1)
    cfg = dataclasses.replace(BurnConfig(), window_samples=128)
    found = locate_window(model, x, y, pred, 0, 3, cfg, CPU, seed=0)
    assert [c for c, *_ in found.classes] == [0]  # only the given target was searched
    w = found.window
    assert w is not None and w.target == 0 and w.share == pytest.approx(60 / 160, abs=0.05)
    # It covers part of the trigger (rows and columns 23-26), which is enough to break it.
    assert w.row <= 26 and w.row + w.size > 23 and w.col <= 26 and w.col + w.size > 23
    flags, labels = occlusion_flags(model, x, y, pred, w.region((28, 28)), 0, cfg, CPU)
    assert np.array_equal(np.flatnonzero(flags), poisoned)
    np.testing.assert_array_equal(labels[poisoned], true[poisoned])
    # A class nothing was planted in: its samples hang on no few pixels.
    wrong = locate_window(model, x, y, pred, 1, 3, cfg, CPU, seed=0)
    assert wrong.window is None and [c for c, *_ in wrong.classes] == [1]
