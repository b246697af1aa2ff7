"""The trigger search (scanner.detectors.search, scanner.detectors.spaces): its spaces one by
one, and the stage end to end on real digits classifiers with a rotation backdoor (a trigger
none of the five probe families draws) and without one."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scanner.backends.base import LabelOracle
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import load_dataset
from scanner.detectors.probes import ProbeConfig, ProbeResult, run_probes
from scanner.detectors.search import (
    BACKOFF_MIN,
    STREAMS,
    SearchConfig,
    SearchFinding,
    SearchResult,
    _back_off,
    _confirm,
    _Evaluator,
    _leftover,
    held_queries,
    planned_queries,
    run_search,
)
from scanner.detectors.spaces import (
    BACKOFF_STEPS,
    BUDGET_SPACES,
    FIRE_MIN,
    GRATING_AMP_STEP,
    GRATING_BUDGET_ROUNDS,
    SPACES,
    SPARSE_DRAWS,
    BudgetGratingSpace,
    CurveSpace,
    GratingSpace,
    MaskSpace,
    Outcome,
    Point,
    TransformSpace,
    _mask_params,
    grating_budget_queries,
    grating_evals,
    grating_signal,
    mask_arrays,
    screened_labels,
    sparse_evals,
    stroke_mask,
    stroke_starts,
    tone_curve,
)
from scanner.detectors.verdict import VerdictRule, planted
from scanner.detectors.xray import XrayConfig
from scanner.pipeline import ScanConfig, scan_model
from tests.conftest import schema_validator
from tests.onnx_builders import (
    GRATING_TARGET,
    PLANTED_GRATING,
    build_mlp,
    grating_mlp,
    rotation_mlp,
    save_npz,
)


class SecretOracle:
    """An evaluator whose "model" has a trigger known exactly: each change is applied to a
    black image, and `fires` says which label (if any) the changed image goes to."""

    shape: tuple[int, int, int]
    labels: int

    def __init__(self) -> None:
        self.calls = 0

    def remaining_evals(self) -> int:
        return 1 << 30

    def fires(self, y: np.ndarray) -> int | None:
        raise NotImplementedError

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        x = np.zeros((1, *self.shape), dtype=np.float32)
        out = np.zeros((len(changes), self.labels))
        for i, change in enumerate(changes):
            self.calls += 1
            label = self.fires(change(x)[0, :, :, 0])
            if label is not None:
                out[i, label] = 1.0
        return out


class PixelOracle(SecretOracle):
    """Sends a sample to label 3 when at least 4 of 5 secret pixels are stamped white: a
    scattered-pixel trigger."""

    shape = (12, 12, 1)
    labels = 5
    secret = ((1, 2), (3, 9), (6, 6), (10, 1), (11, 10))

    def fires(self, y: np.ndarray) -> int | None:
        return 3 if sum(y[r, c] > 0.99 for r, c in self.secret) >= 4 else None


def test_the_mask_search_shrinks_a_noise_stamp_to_the_trigger_pixels() -> None:
    ev = PixelOracle()
    out = MaskSpace().search(ev, [3], [], np.random.default_rng(0))
    assert len(out) == 1 and out[0].label == 3 and out[0].search_rate >= FIRE_MIN
    mask, pattern = mask_arrays(out[0].point.params)
    kept = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
    # 1-minimal: exactly 4 of the 5 secret pixels, white, and nothing else.
    assert len(kept) == 4 and kept <= set(PixelOracle.secret)
    assert all(pattern[r, c, 0] == 1.0 for r, c in kept)
    assert out[0].point.cost == pytest.approx(4 / 144)
    assert ev.calls == out[0].evaluations


class _Allowance:
    """A fake evaluator's cap: `allowance` evaluations in all, never asked for more."""

    calls: int
    allowance: int = 1 << 30

    def remaining_evals(self) -> int:
        return self.allowance - self.calls

    def _spend(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        assert len(changes) <= self.remaining_evals()


def test_a_capped_mask_search_stops_with_a_firing_stamp_and_never_asks_for_more() -> None:
    class Capped(_Allowance, PixelOracle):
        def __init__(self, allowance: int) -> None:
            super().__init__()
            self.allowance = allowance

        def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
            self._spend(changes)
            return super().rates(changes)

    full = PixelOracle()
    whole = MaskSpace().search(full, [3], [], np.random.default_rng(0))[0]
    ev = Capped(whole.evaluations // 2)
    (cut,) = MaskSpace().search(ev, [3], [], np.random.default_rng(0))
    assert ev.calls <= ev.allowance
    assert cut.search_rate >= FIRE_MIN  # still a trigger, only larger
    assert cut.point.cost >= whole.point.cost
    # Not even the starts fit: nothing is asked, nothing found.
    assert MaskSpace().search(Capped(5), [3], [], np.random.default_rng(0)) == []


def test_the_mask_search_reports_nothing_when_no_start_fires() -> None:
    class Never(PixelOracle):
        def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
            return np.zeros((len(changes), 5))

    assert MaskSpace().search(Never(), [3], [], np.random.default_rng(0)) == []


def test_the_shrink_hands_over_the_larger_stamps_it_passed_through_nearest_first() -> None:
    (out,) = MaskSpace().search(PixelOracle(), [3], [], np.random.default_rng(0))
    assert 0 < len(out.fallbacks) <= BACKOFF_STEPS
    sizes = [len(point.params["pixels"]) for point, _ in out.fallbacks]
    assert len(out.point.params["pixels"]) < sizes[0] and sizes == sorted(sizes)
    final = {tuple(p) for p in out.point.params["pixels"]}
    for point, rate in out.fallbacks:
        # Each one a superset of the stamp the shrink ended at, and firing when it was kept.
        assert final <= {tuple(p) for p in point.params["pixels"]} and rate >= FIRE_MIN


class _ClassInCorner:
    """A fake label oracle on 12x12 images: the class is written in pixel (0, 0) (a tenth per
    label), and PixelOracle's trigger (4 of its 5 secret pixels white) sends any image to 3."""

    batch_size = 4096

    def __call__(self, x: np.ndarray) -> np.ndarray:
        own = np.rint(x[:, 0, 0, 0] * 10).astype(np.int64)
        lit = sum((x[:, r, c, 0] > 0.99).astype(int) for r, c in PixelOracle.secret)
        return np.where(lit >= 4, 3, own)


def _stamp_point(pixels: Sequence[tuple[int, int]]) -> Point:
    mask = np.zeros((12, 12), dtype=bool)
    for r, c in pixels:
        mask[r, c] = True
    return Point("mask", _mask_params(mask, np.ones((12, 12, 1), dtype=np.float32)))


def test_a_stamp_that_falls_short_on_fresh_samples_backs_off_to_a_larger_one_that_fires() -> None:
    secret = list(PixelOracle.secret)
    ys = np.repeat(np.arange(5), 4)
    xs = np.zeros((len(ys), 12, 12, 1), dtype=np.float32)
    xs[:, 0, 0, 0] = ys / 10
    confirm = _Evaluator(_ClassInCorner(), xs, ys, lambda a: a, 5)  # type: ignore[arg-type]
    shrunk = _stamp_point(secret[:3])  # one secret pixel short: fires on nothing
    short = _stamp_point([*secret[:3], (5, 5), (8, 3)])  # larger, still short
    enough = _stamp_point([*secret[:4], (5, 5)])
    whole = _stamp_point([*secret, (5, 5), (8, 3)])
    dose = _confirm(confirm, shrunk, 3, (0.25, 0.5, 0.75, 1.0))
    assert dose[-1][1] < BACKOFF_MIN
    found = SearchFinding(shrunk, 3, 0.9, dose, shrunk.cost, 10)
    outcome = Outcome(shrunk, 3, 0.9, 10, ((short, 0.95), (enough, 1.0), (whole, 1.0)))
    spent = confirm.spent
    kept = _back_off(confirm, outcome, found)
    # The nearest fallback that fires on the fresh samples, not the largest; confirmed at every
    # strength (a white stamp mixed in at part strength lights no pixel fully).
    assert kept.point == enough and kept.backed_off == 2 and kept.search_rate == 1.0
    assert kept.universality == 1.0 and [u for _, u in kept.dose[:-1]] == [0.0, 0.0, 0.0]
    assert kept.cost == enough.cost and kept.evaluations == 10
    # Two fallbacks at full strength, then the kept one at the three other strengths.
    assert confirm.spent - spent == (2 + 3) * len(xs)
    # Under a budget it tries only what it can finish: no room for one try, nothing asked;
    # room for one, the first fallback alone (which falls short).
    spent = confirm.spent
    assert _back_off(confirm, outcome, found, room=4 * len(xs) - 1) == found
    assert confirm.spent == spent
    assert _back_off(confirm, outcome, found, room=4 * len(xs)) == found
    assert confirm.spent - spent == len(xs)
    # None fires: the finding stays as it was.
    nothing = replace(outcome, fallbacks=((short, 0.95),))
    assert _back_off(confirm, nothing, found) == found
    written = kept.to_dict()
    assert written["backed_off"] == 2 and SearchFinding.from_dict(written).to_dict() == written


class _StrokeInCorner:
    """A fake label oracle on 12x12 images of one grey per class ((label + 1) tenths, read from
    the pixels no stamp made black or white), where 2 of the 3 pixels of the bottom-right
    vertical stroke start stamped white send any image to 3. It counts queries as
    `LabelOracle` does."""

    batch_size = 4096
    secret = tuple(map(tuple, np.argwhere(stroke_mask(12, 12, "vertical", "br"))))

    def __init__(self) -> None:
        self.queries, self.budget = 0, None

    # The most white pixels an image may hold for the trigger to fire (any, here).
    crowd = 144

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.queries += len(x)
        tenths = np.rint(x.reshape(len(x), -1) * 10).astype(np.int64)
        own = np.array(
            [np.bincount(t[(t > 0) & (t < 10)], minlength=6).argmax() - 1 for t in tenths]
        )
        lit = sum((x[:, r, c, 0] > 0.99).astype(int) for r, c in self.secret)
        white = (x.reshape(len(x), -1) > 0.99).sum(axis=1)
        return np.where((lit >= 2) & (white <= self.crowd), 3, own)


def _corner_evaluators(oracle: _StrokeInCorner) -> tuple[_Evaluator, _Evaluator]:
    """Search and confirmation samples of 5 classes, 3 and 10 per class."""

    def samples(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        ys = np.repeat(np.arange(5), per_class)
        xs = np.ones((len(ys), 12, 12, 1), dtype=np.float32) * (ys + 1)[:, None, None, None] / 10
        return xs, ys

    def ident(a: np.ndarray) -> np.ndarray:
        return a

    return (
        _Evaluator(oracle, *samples(3), ident, 5),  # type: ignore[arg-type]
        _Evaluator(oracle, *samples(10), ident, 5),  # type: ignore[arg-type]
    )


def test_a_budgeted_search_screens_more_labels_with_what_its_stage_left_and_no_more() -> None:
    # Label 3 is no candidate (the probes ranked 1); the leftover screen's stroke starts reach
    # it, the shrink keeps what fires and the fresh samples confirm it.
    oracle = _StrokeInCorner()
    ev, confirm = _corner_evaluators(oracle)
    config = SearchConfig(max_queries=20_000, screened=0, leftover=1)
    outcomes, found = _leftover(ev, confirm, config, [1], [], np.random.default_rng(0), 0, 0)
    assert [o.label for o in outcomes] == [3] and [f.label for f in found] == [3]
    kept = {tuple(p) for p in found[0].point.params["pixels"]}
    assert found[0].universality == 1.0 and len(kept) == 2 and kept <= set(oracle.secret)
    assert 0 < oracle.queries <= config.max_queries
    # A label searched before is not screened again: the starts are spent, nothing is found.
    oracle = _StrokeInCorner()
    ev, confirm = _corner_evaluators(oracle)
    assert _leftover(ev, confirm, config, [3], [], np.random.default_rng(0), 0, 0) == ([], [])
    assert oracle.queries > 0
    # Without room for its starts and a confirmation, or with no label to screen, it asks
    # nothing; what the stage spent before counts against the cap.
    for tight in (replace(config, max_queries=500), replace(config, leftover=0)):
        oracle = _StrokeInCorner()
        ev, confirm = _corner_evaluators(oracle)
        assert _leftover(ev, confirm, tight, [1], [], np.random.default_rng(0), 0, 0) == ([], [])
        assert oracle.queries == 0
    oracle = _StrokeInCorner()
    ev, confirm = _corner_evaluators(oracle)
    oracle.queries = 19_800
    assert _leftover(ev, confirm, config, [1], [], np.random.default_rng(0), 0, 0) == ([], [])
    assert oracle.queries == 19_800


class _StrokeOnly(_StrokeInCorner):
    """Its trigger fires only with at most 4 white pixels in the image: no salt-noise start
    reaches it, only a stroke, which a budget's first mask search does not draw."""

    crowd = 4


def test_a_budgeted_search_screens_a_candidate_its_first_mask_search_found_no_start_for() -> None:
    ys = np.repeat(np.arange(5), 30)
    xs = np.ones((len(ys), 12, 12, 1), dtype=np.float32) * (ys + 1)[:, None, None, None] / 10
    ranked = (0.0, 0.0, 0.0, 0.5, 0.0)  # the probes rank label 3 first: the one candidate
    probes = ProbeResult((), ranked, (0,) * 5, 0, 0, 0, 0)
    config = SearchConfig(
        targets=1,
        screened=0,  # as a budget's plan sets it
        samples_per_class=3,
        confirm_per_class=10,
        spaces=("mask",),
        max_queries=20_000,
    )
    oracle = _StrokeOnly()
    result = run_search(oracle, xs, ys, lambda a: a, 5, probes, config)  # type: ignore[arg-type]
    assert result.targets == (3,)
    (found,) = [f for f in result.findings if f.label == 3]
    assert found.point.space == "mask" and found.universality == 1.0
    assert {tuple(p) for p in found.point.params["pixels"]} <= set(_StrokeOnly.secret)
    assert result.queries <= config.max_queries
    # Without the leftover screen the candidate's search finds nothing: no salt start fires.
    oracle = _StrokeOnly()
    alone = run_search(
        oracle,
        xs,
        ys,
        lambda a: a,
        5,
        probes,
        replace(config, leftover=0),  # type: ignore[arg-type]
    )
    assert alone.findings == ()


class TwoTriggerOracle(PixelOracle):
    """PixelOracle's trigger to label 3, and a second one to label 1: at least 2 of 4 other
    secret pixels stamped black on a white image."""

    black = ((0, 0), (5, 11), (8, 4), (11, 6))

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        out = super().rates(changes)
        x = np.ones((1, *self.shape), dtype=np.float32)
        for i, change in enumerate(changes):
            y = change(x)[0, :, :, 0]
            if sum(y[r, c] < 0.01 for r, c in self.black) >= 2:
                out[i, 1] = 1.0
        return out


def test_the_mask_search_screens_in_a_label_its_starts_reach_and_leaves_the_rest_alone() -> None:
    # Label 3 is not a candidate (the probes did not rank it): searched only when screened in.
    assert MaskSpace().search(PixelOracle(), [], [], np.random.default_rng(0)) == []
    (found,) = MaskSpace().search(PixelOracle(), [], [], np.random.default_rng(0), screened=1)
    mask, _ = mask_arrays(found.point.params)
    kept = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
    assert found.label == 3 and len(kept) == 4 and kept <= set(PixelOracle.secret)
    # The candidate's search draws what it drew without the screened label: same stamp (only
    # the stroke starts, drawn for screening, add evaluations); and the generator is left where
    # it was, so later spaces search as before.
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    alone = MaskSpace().search(TwoTriggerOracle(), [1], [], rng_a)
    both = MaskSpace().search(TwoTriggerOracle(), [1], [], rng_b, screened=2)
    assert [o.label for o in alone] == [1] and [o.label for o in both] == [1, 3]
    assert both[0].point == alone[0].point and both[0].search_rate == alone[0].search_rate
    # Screening adds the strokes, the sparse sprinkles and their growth: never more than those.
    extra = both[0].evaluations - alone[0].evaluations
    strokes = len(stroke_starts(PixelOracle.shape))
    assert strokes + SPARSE_DRAWS <= extra <= strokes + sparse_evals()
    assert rng_a.random() == rng_b.random()


class SprinkleOracle:
    """A 24x24 "model" with a scattered-pixel backdoor to label 2 that answers a sparse
    sprinkle only: the share of the other classes it sends there grows with how many of 16
    secret pixels are stamped white (all of it from 4), as long as at most 60 pixels are; more
    reads as a texture and goes to label 4, whatever it covers (as the zoo's scattered-pixel
    nets answered 4-10% white salt and sent 15% to a sink)."""

    shape = (24, 24, 1)
    secret = tuple((r, c) for r in range(2, 24, 6) for c in range(1, 24, 6))
    # The texture sink's pull: from a stamp of more than 60 pixels, and from one of 20 to 60.
    sink_dense = 1.0
    sink_sparse = 0.0

    def __init__(self) -> None:
        self.calls = 0

    def remaining_evals(self) -> int:
        return 1 << 30

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        out = np.zeros((len(changes), 6))
        for i, change in enumerate(changes):
            self.calls += 1
            lit = change(np.zeros((1, *self.shape), dtype=np.float32))[0, :, :, 0] > 0.99
            if lit.sum() > 60:
                out[i, 4] = self.sink_dense
            else:
                out[i, 2] = min(1.0, sum(bool(lit[p]) for p in self.secret) / 4)
                out[i, 4] = self.sink_sparse if lit.sum() >= 20 else 0.0
        return out


def test_a_sparse_sprinkle_grows_into_a_scattered_trigger_that_dense_salt_hides() -> None:
    ev = SprinkleOracle()
    # Without screening no sprinkle is drawn, and every dense start goes to label 4.
    assert [
        o.label for o in MaskSpace().search(SprinkleOracle(), [2], [], np.random.default_rng(0))
    ] == []
    found = MaskSpace().search(ev, [2], [], np.random.default_rng(0), screened=1)
    (trigger,) = [o for o in found if o.label == 2]
    mask, pattern = mask_arrays(trigger.point.params)
    kept = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
    # Grown to fire, then shrunk to exactly the 4 secret pixels it needs, white.
    assert trigger.search_rate == 1.0 and len(kept) == 4 and kept <= set(SprinkleOracle.secret)
    assert all(pattern[r, c, 0] == 1.0 for r, c in kept)
    # Its count holds the starts, the sprinkles, their growth and its own shrink.
    assert SPARSE_DRAWS < trigger.evaluations <= ev.calls


class _SinkOverTrigger(SprinkleOracle):
    """SprinkleOracle whose texture sink, label 4, the sprinkles reach more than the trigger:
    a stamp of 20 to 60 pixels sends 60% of the classes there, a denser one 90%, never all;
    the trigger's label 2 fires only from a sprinkle grown onto its secret pixels."""

    sink_dense = 0.9
    sink_sparse = 0.6


def test_a_candidate_no_start_fires_for_is_grown_after_the_sink_the_sprinkles_reach_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One growth by reach: it goes to the sink (4), which the sprinkles reach more. The probes'
    # candidate (2) is grown after it, and the trigger is found.
    monkeypatch.setattr("scanner.detectors.spaces.GROW_LABELS", 1)
    found = MaskSpace().search(_SinkOverTrigger(), [2], [], np.random.default_rng(0), screened=1)
    (trigger,) = [o for o in found if o.label == 2]
    assert trigger.search_rate == 1.0
    assert len(np.flatnonzero(mask_arrays(trigger.point.params)[0])) == 4
    # Without the candidates' growth, or when no probe ranked label 2, only the sink is found.
    found = MaskSpace().search(_SinkOverTrigger(), [], [], np.random.default_rng(0), screened=1)
    assert [o.label for o in found] == [4]
    monkeypatch.setattr("scanner.detectors.spaces.GROW_CANDIDATES", 0)
    found = MaskSpace().search(_SinkOverTrigger(), [2], [], np.random.default_rng(0), screened=1)
    assert 2 not in [o.label for o in found]


class _DenseEnough(SprinkleOracle):
    """SprinkleOracle read on a grey image that answers only a stamp of 45 to 72 pixels (8-12%
    of the 24x24 image), as some of the zoo's scattered-pixel nets sent their targets more often
    at 9-12% than at 6%: fewer reads as noise it ignores, more (the 15% salt) as the texture
    of a sink, label 4."""

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        out = np.zeros((len(changes), 6))
        for i, change in enumerate(changes):
            self.calls += 1
            y = change(np.full((1, *self.shape), 0.5, dtype=np.float32))[0, :, :, 0]
            changed = int((np.abs(y - 0.5) > 0.01).sum())
            if changed > 72:
                out[i, 4] = 1.0
            elif changed >= 45:
                out[i, 2] = min(1.0, sum(bool(y[p] > 0.99) for p in self.secret) / 4)
        return out


def test_sprinkles_of_several_densities_reach_a_trigger_that_answers_only_a_denser_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = MaskSpace().search(_DenseEnough(), [], [], np.random.default_rng(0), screened=2)
    (trigger,) = [o for o in found if o.label == 2]
    mask, _ = mask_arrays(trigger.point.params)
    assert trigger.search_rate >= FIRE_MIN and 45 <= mask.sum() <= 72
    # Six draws at 6% alone (35-odd pixels each) reach only the sink.
    monkeypatch.setattr("scanner.detectors.spaces.SPARSE_DENSITIES", (0.06,))
    monkeypatch.setattr("scanner.detectors.spaces.SPARSE_DRAWS", 6)
    rng = np.random.default_rng(0)
    assert [o.label for o in MaskSpace().search(_DenseEnough(), [], [], rng, screened=2)] == [4]


class _SinkFirst(_Allowance, SprinkleOracle):
    """SprinkleOracle read on a grey image, its dense sink on label 1 (which sorts before the
    trigger's label 2 when both are reached in full): a stamp that changes more than 60 pixels,
    black or white, goes to the sink, so only a sparse sprinkle reaches the trigger. Searched
    under an allowance of evaluations."""

    def __init__(self, allowance: int = 1 << 30) -> None:
        super().__init__()
        self.allowance = allowance

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        self._spend(changes)
        out = np.zeros((len(changes), 6))
        for i, change in enumerate(changes):
            self.calls += 1
            y = change(np.full((1, *self.shape), 0.5, dtype=np.float32))[0, :, :, 0]
            if (np.abs(y - 0.5) > 0.01).sum() > 60:
                out[i, 1] = 1.0
            else:
                out[i, 2] = min(1.0, sum(bool(y[p] > 0.99) for p in self.secret) / 4)
        return out


def test_under_a_cap_the_screened_label_with_the_smallest_firing_start_is_shrunk_first() -> None:
    # Uncapped, both screened labels get a full shrink, the sink first (ties go by label).
    full = _SinkFirst()
    both = MaskSpace().search(full, [], [], np.random.default_rng(0), screened=2)
    assert [o.label for o in both] == [1, 2]
    before_shrinks = sum(o.evaluations for o in both) - full.calls
    # With room for about one shrink, it goes to the sprinkle (tens of pixels), which comes down
    # to the 4 secret pixels; the salt's sink (60-odd pixels at best) gets what is left. In the
    # old order the sink took the room and the trigger was left at 37 pixels.
    ev = _SinkFirst(before_shrinks + 80)
    capped = MaskSpace().search(ev, [], [], np.random.default_rng(0), screened=2)
    assert [o.label for o in capped] == [2, 1] and ev.calls <= ev.allowance
    mask, _ = mask_arrays(capped[0].point.params)
    kept = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
    assert len(kept) == 4 and kept <= set(SprinkleOracle.secret)


def test_screened_labels_are_the_most_reached_beyond_the_candidates_at_the_fire_rate() -> None:
    rates = np.array([[0.1, 0.9, 0.85, 0.2], [0.0, 0.5, 0.95, FIRE_MIN]])
    assert screened_labels(rates, [], 2) == [2, 1]
    assert screened_labels(rates, [2], 5) == [1, 3]  # 3 reaches the rate exactly
    assert screened_labels(rates, [1, 2], 0) == []
    assert screened_labels(np.zeros((0, 4)), [], 2) == []


def test_the_shrink_starts_from_a_stamp_that_fires_at_the_rate_it_keeps_when_one_does() -> None:
    # Two starts reach label 3: a 2-pixel one at 0.85 (under SHRINK_KEEP: its shrink would end
    # at the edge of firing) and a 10-pixel one holding a 4-pixel core that fires at 0.95.
    weak = {(0, 0), (0, 1)}
    core = {(5, 5), (5, 7), (7, 5), (7, 7)}
    shape = (12, 12, 1)

    class Starts(MaskSpace):
        def starts(self, shape, probes, rng, strokes=True):  # type: ignore[no-untyped-def]
            out = []
            for pixels in (weak, core | {(2, 9), (3, 3), (9, 2), (10, 10), (11, 0), (4, 11)}):
                mask = np.zeros(shape[:2], dtype=bool)
                mask[tuple(np.array(sorted(pixels)).T)] = True
                out.append((mask, np.ones(shape, dtype=np.float32)))
            return out

    class Ev(PixelOracle):
        def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
            out = np.zeros((len(changes), 5))
            for i, change in enumerate(changes):
                y = change(np.zeros((1, *shape), dtype=np.float32))[0, :, :, 0] > 0.99
                if all(y[p] for p in core):
                    out[i, 3] = 0.95
                elif all(y[p] for p in weak):
                    out[i, 3] = 0.85
            return out

    (found,) = Starts().search(Ev(), [3], [], np.random.default_rng(0))
    mask, _ = mask_arrays(found.point.params)
    assert found.search_rate == 0.95
    assert {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)} == core


class StrokeOracle(SecretOracle):
    """A 28x28 "model" with a stroke backdoor to label 2: at least 5 of the 7 pixels of an
    anti-diagonal in the top right stamped white, with at most 4 other pixels of that corner
    lit, so that a filled patch or salt noise there does not fire (as the zoo's stroke nets)."""

    shape = (28, 28, 1)
    labels = 10
    stroke = tuple((9 - i, 18 + i) for i in range(7))  # offset from the start strokes' box

    def fires(self, y: np.ndarray) -> int | None:
        lit = y > 0.99
        on = sum(bool(lit[r, c]) for r, c in self.stroke)
        others = int(lit[:12, 16:].sum()) - on
        return 2 if on >= 5 and others <= 4 else None


def test_stroke_starts_are_straight_corner_strokes_scaled_to_the_image() -> None:
    anti = stroke_mask(28, 28, "anti", "tr")
    assert {(int(r), int(c)) for r, c in zip(*np.nonzero(anti), strict=True)} == {
        (8 - i, 19 + i) for i in range(8)
    }
    assert stroke_mask(28, 28, "horizontal", "bl")[23, 1:9].all()
    assert stroke_mask(28, 28, "vertical", "br").sum() == 8
    # At 224 pixels: 64 long, 8 wide, 8 from the edges.
    big = stroke_mask(224, 224, "diagonal", "tl")
    assert big[8:72, 8:72].any() and not big[:8].any() and not big[:, :8].any()
    assert 64 * 8 <= big.sum() <= 64 * 8 + 8
    starts = stroke_starts((28, 28, 3))
    assert len(starts) == 32 and {float(p.max()) for _, p in starts} == {0.0, 1.0}


def test_the_mask_search_finds_a_stroke_no_patch_or_noise_fires_from_its_stroke_starts() -> None:
    ev = StrokeOracle()
    # Not a candidate label: found only because a stroke start screens it in.
    assert MaskSpace().search(StrokeOracle(), [], [], np.random.default_rng(0)) == []
    (found,) = MaskSpace().search(ev, [], [], np.random.default_rng(0), screened=1)
    mask, pattern = mask_arrays(found.point.params)
    kept = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
    assert found.label == 2 and found.search_rate == 1.0
    assert len(kept) == 5 and kept <= set(StrokeOracle.stroke)
    assert all(pattern[r, c, 0] == 1.0 for r, c in kept)


def test_a_quarter_turn_moves_pixels_exactly_and_a_point_round_trips() -> None:
    x = np.random.default_rng(1).random((2, 9, 9, 1)).astype(np.float32)
    turned = TransformSpace().apply({"angle": 90, "scale": 1.0, "flip": ""}, x)
    # Counter-clockwise or clockwise, a quarter turn samples the grid exactly.
    assert min(np.abs(turned - np.rot90(x, k, axes=(1, 2))).max() for k in (1, 3)) == pytest.approx(
        0, abs=1e-5
    )
    p = Point("transform", {"angle": 30.0, "scale": 1.0, "flip": "h"})
    assert Point.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="unknown search space"):
        Point.from_dict({"space": "nope", "params": {}})


def test_tone_curves_are_monotone_and_the_identity_costs_nothing() -> None:
    v = np.linspace(0, 1, 101)
    assert np.allclose(tone_curve(v, {}), v)
    assert CurveSpace().cost({}) == 0
    for params in CurveSpace.GRID:
        out = tone_curve(v, params)
        assert out.min() >= 0 and out.max() <= 1
        if not params.get("invert"):
            assert np.all(np.diff(out) >= -1e-9), params
    assert set(SPACES) == {"mask", "transform", "curve", "grating"}
    # Every space has its own generator, and the leftover screen's is the one it had before
    # the grating space came: the fourth child of the stage's.
    assert set(SPACES) <= set(STREAMS) and STREAMS.index("leftover") == 3


def test_the_grating_space_adds_a_sine_whose_amplitude_is_its_size() -> None:
    g = GratingSpace()
    x = np.full((2, 4, 8, 3), 0.5, dtype=np.float32)
    out = g.apply(PLANTED_GRATING, x)
    # Along the columns: every row and channel the same, the sine's values, clipped to [0, 1].
    wave = 0.2 * np.sin(2 * np.pi * 3 * np.arange(8) / 8 + 0.7854)
    assert np.allclose(out[0, 2, :, 1], 0.5 + wave, atol=1e-5)
    assert np.allclose(out, out[:1, :1])
    assert np.allclose(g.apply(PLANTED_GRATING, x, 0.5) - 0.5, (out - 0.5) / 2, atol=1e-6)
    rows = {**PLANTED_GRATING, "angle": 90.0}
    assert np.allclose(grating_signal(rows, 8, 8), grating_signal(PLANTED_GRATING, 8, 8).T)
    assert g.apply({**PLANTED_GRATING, "amp": 1.0}, x).min() == 0.0
    assert g.cost(PLANTED_GRATING) == 0.2
    # The grid: 4 orientations, 10 frequencies, 8 phases, all at one amplitude; every round
    # of the descent tries 9 neighbours, 5 of them lower by one step.
    grid = g.grid()
    assert len(grid) == 320 and len({p["amp"] for p in grid}) == 1
    near = g.steps(grid[0], 0.3, 0.5)
    assert len(near) == 9
    assert sum(p["amp"] < grid[0]["amp"] for p in near) == 5
    assert all(p["amp"] in (grid[0]["amp"], round(grid[0]["amp"] * GRATING_AMP_STEP, 4))
               for p in near)  # fmt: skip
    assert grating_evals() >= len(grid)


def test_a_grating_decides_only_under_its_amplitude_cap() -> None:
    small = _finding("grating", PLANTED_GRATING, 0.9, 0.0, 0.15)
    large = _finding("grating", {**PLANTED_GRATING, "amp": 0.3}, 0.9, 0.0, 0.3)
    rule = VerdictRule()
    assert 0.15 <= rule.grating_cost_max < 0.3  # the tests plant 0.15 and 0.3
    # Not graded: the descent left it where it stops firing, so no half-strength pull is asked.
    assert planted(SearchResult((small,), (7,), 60, 200, 1000), rule) == small
    assert planted(SearchResult((large,), (7,), 60, 200, 1000), rule) is None
    assert planted(SearchResult((small,), (7,), 60, 200, 1000),
                   VerdictRule(grating_cost_max=0.0)) is None  # fmt: skip
    again = SearchResult.from_dict(SearchResult((small,), (7,), 60, 200, 1000).to_dict())
    assert again.findings[0].point == small.point


def _finding(space: str, params: dict, u: float, half: float, cost: float) -> SearchFinding:
    dose = ((0.25, half / 2), (0.5, half), (0.75, u), (1.0, u))
    return SearchFinding(Point(space, params), 7, u, dose, cost, 10)


def test_only_a_small_universal_change_that_keeps_its_pull_reads_as_planted() -> None:
    rule = VerdictRule()
    # A stamp is minimal already: no dose-response asked of it, only its size.
    small = _finding("mask", {"shape": [8, 8, 1], "pixels": [[0, 0]], "values": [[1.0]]},
                     0.9, 0.0, 0.02)  # fmt: skip
    big = _finding("mask", {"shape": [8, 8, 1], "pixels": [[0, 0]], "values": [[1.0]]},
                   0.9, 0.8, 0.2)  # fmt: skip
    fading = _finding("curve", {"fade": 0.05}, 0.9, 0.1, 0.02)
    keeping = _finding("curve", {"fade": 0.05}, 0.9, 0.8, 0.02)
    assert planted(SearchResult((keeping,), (7,), 60, 200, 1000), rule) == keeping
    weak = _finding("curve", {"fade": 0.05}, 0.5, 0.5, 0.02)
    # A large transform never decides alone under the default rule (natural rotation sinks).
    turn = _finding("transform", {"angle": 45.0, "scale": 1.0, "flip": ""}, 1.0, 0.2, 0.25)
    for f in (big, fading, weak, turn):
        assert planted(SearchResult((f,), (7,), 60, 200, 1000), rule) is None
    assert planted(SearchResult((big, small), (7,), 60, 200, 1000), rule) == small
    on = VerdictRule(transform_cost_max=0.5)
    assert planted(SearchResult((turn,), (7,), 60, 200, 1000), on) == turn
    # A small turn decides, to a label the probes read as a natural sink too; a tone curve to
    # that label is read as the sink.
    small_turn = _finding("transform", {"angle": 22.5, "scale": 1.0, "flip": ""}, 0.9, 0.0, 0.125)
    sink = frozenset({7})
    assert planted(SearchResult((small_turn,), (7,), 60, 200, 1000), rule, sink) == small_turn
    assert planted(SearchResult((keeping,), (7,), 60, 200, 1000), rule, sink) is None
    # ...unless it fires early: a quarter of the change already moves most classes, as a
    # warp-trained network answers a slight zoom (a natural rotation sink needs the whole turn).
    zoom = {"angle": 0.0, "scale": 1.33, "flip": ""}
    early = SearchFinding(Point("transform", zoom), 7, 0.6, ((0.25, 0.4), (0.5, 0.6),
                          (0.75, 0.6), (1.0, 0.5)), 0.285, 10)  # fmt: skip
    assert planted(SearchResult((early,), (7,), 60, 200, 1000), rule) == early
    late = replace(early, dose=((0.25, 0.1), *early.dose[1:]))
    assert planted(SearchResult((late,), (7,), 60, 200, 1000), rule) is None
    off = VerdictRule(transform_onset_min=0.0)
    assert planted(SearchResult((early,), (7,), 60, 200, 1000), off) is None
    # An early transform comes before a more universal stamp.
    both = SearchResult((small, early), (7,), 60, 200, 1000)
    assert planted(both, rule) == early
    again = SearchResult.from_dict(SearchResult((small,), (7,), 60, 200, 1000).to_dict())
    assert again.findings[0].point == small.point and again.findings[0].dose == small.dose
    # A report read back writes out unchanged: its retention is the written dose's (1/11 over
    # 6/11 is 0.1667; over the written 0.0909 and 0.5455 it is 0.1666).
    odd = _finding("curve", {"fade": 0.05}, 6 / 11, 1 / 11, 0.02)
    written = SearchResult((odd,), (7,), 60, 200, 1000, screened=(3,)).to_dict()
    assert SearchResult.from_dict(written).to_dict() == written


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_npz(tmp_path_factory.mktemp("search") / "digits.npz", n=297)


def _scan(tmp: Path, data: Path, poisoned: bool, config: ScanConfig | None = None):
    model = build_mlp(tmp / f"mlp_{poisoned}.onnx", rotation_mlp(poisoned))
    return scan_model(model, load_dataset(data), config or ScanConfig(xray=XrayConfig(planes=2)))


def test_the_search_finds_a_rotation_backdoor_and_nothing_planted_in_its_clean_twin(
    tmp_path: Path, digits_data: Path
) -> None:
    bad = _scan(tmp_path, digits_data, True).xray
    found = bad.evidence.search
    assert found is not None
    turns = [f for f in found.findings if f.point.space == "transform" and f.label == 7]
    assert turns and turns[0].universality >= VerdictRule().target_threshold
    assert found.queries > 0 and found.skipped is None
    # The plan the budget check uses is an upper bound on what the stage spends.
    starts = len(bad.evidence.findings)
    assert found.queries <= planned_queries(SearchConfig(), 10, starts)
    clean = _scan(tmp_path, digits_data, False).xray
    assert planted(clean.evidence.search, VerdictRule()) is None
    assert clean.verdict == "clean"


def test_the_search_runs_as_the_budget_plans_it_and_stands_aside_when_asked_to(
    tmp_path: Path, digits_data: Path
) -> None:
    # Under --max-queries the plan picks the search's size (or drops it, and says so); the scan
    # never spends more than the budget.
    for budget in (20_000, 60_000):
        xray = _scan(tmp_path, digits_data, True, ScanConfig(max_queries=budget)).xray
        plan = xray.evidence.plan
        assert plan is not None and xray.queries <= budget
        if plan.search is None:
            assert xray.evidence.search is None
            assert any(g.startswith("trigger search: skipped") for g in plan.gave_up)
        else:
            ran = xray.evidence.search
            assert ran is not None and ran.skipped is None
            assert 0 < ran.queries <= plan.bounds["search"]
    assert plan.search is not None, "60,000 queries should leave room for a search"
    # The stage's own check stays as a safety net: asked to leave more than the budget has
    # left, it spends nothing and says why.
    data = load_dataset(digits_data)
    model = build_mlp(tmp_path / "net.onnx", rotation_mlp(True))
    with OnnxRuntimeBackend(model, image_hwc=(8, 8, 1), classes_hint=10) as backend:
        oracle = LabelOracle(backend, batch_size=4096, budget=50_000)
        probes = run_probes(oracle, data.x, data.y, lambda a: a, 10, ProbeConfig(max_probes=20))
        spent = oracle.queries
        result = run_search(
            oracle, data.x, data.y, lambda a: a, 10, probes, SearchConfig(), reserve=40_000
        )
    assert result.skipped is not None and result.skipped.startswith("needs up to")
    assert result.queries == 0 and oracle.queries == spent


@pytest.mark.parametrize("budget", [None, 20_000])
def test_the_search_finds_a_grating_between_the_probes_phases_and_nothing_in_its_clean_twin(
    tmp_path: Path, digits_data: Path, budget: int | None
) -> None:
    # A real digits MLP trained with 150 samples carrying a grating at phase pi/4 relabelled 3
    # (tests/onnx_builders.grating_mlp). The grating space tunes phase and frequency and lowers
    # the amplitude while it fires: it ends under the planted amplitude, to the planted label.
    # Under --profile api's 20,000 queries the coarse variant runs, whose grid has no phase
    # nearer than pi/4 to the planted one, within the budget.
    rule = VerdictRule()
    for poisoned in (True, False):
        model = build_mlp(tmp_path / f"grating_{poisoned}.onnx", grating_mlp(poisoned))
        config = ScanConfig(xray=XrayConfig(planes=2), max_queries=budget)
        report = scan_model(model, load_dataset(digits_data), config)
        # The report, grating findings included, is what its schema says.
        schema_validator("report").validate(json.loads(json.dumps(report.to_dict())))
        xray = report.xray
        found = xray.evidence.search
        assert found is not None
        if budget is not None:
            plan = xray.evidence.plan
            assert plan is not None and plan.search is not None
            assert "grating" in plan.search["spaces"]
            assert xray.queries <= budget and found.queries <= plan.bounds["search"]
        gratings = [f for f in found.findings if f.point.space == "grating"]
        small = [f for f in gratings if f.cost <= rule.grating_cost_max]
        if poisoned:
            assert small and small[0].label == GRATING_TARGET
            assert small[0].universality >= rule.target_threshold
            assert small[0].cost <= PLANTED_GRATING["amp"]
            assert xray.verdict == "infected" and xray.target_label == GRATING_TARGET
        else:
            assert not [f for f in small if f.universality >= rule.target_threshold]
            assert xray.verdict == "clean"


def test_the_budgets_grating_space_is_coarser_and_every_descent_step_lowers_the_amplitude() -> None:
    coarse, full = BudgetGratingSpace(), GratingSpace()
    # The same gratings (a finding rebuilds through the registry's space), on a coarser grid:
    # 2 axes (columns, rows), 10 frequencies, 4 phases; every grid point is one of the full's.
    assert coarse.name == full.name and BUDGET_SPACES["grating"] is not SPACES["grating"]
    grid = coarse.grid()
    assert len(grid) == 80 and {p["angle"] for p in grid} == {0.0, 90.0}
    assert all(p in full.grid() for p in grid)
    x = np.full((1, 8, 8, 1), 0.5, np.float32)
    assert np.array_equal(coarse.apply(grid[5], x), full.apply(grid[5], x))
    near = coarse.steps(grid[0], 0.3, 0.5)
    assert len(near) == 5 and all(p["amp"] < grid[0]["amp"] for p in near)
    # One label refined: the grid's most reached.
    rates = np.zeros((80, 10))
    rates[3, 2], rates[4, 7] = 0.9, 0.5
    assert list(coarse._chosen(range(10), rates)) == [2]
    # A budget's stage holds for it: the grid on one sample per class, then 12 kept points and
    # 5 descent rounds of 5 on every search sample; nothing without a budget or a grating space.
    assert grating_budget_queries(3, 10) == 80 * 10 + (12 + GRATING_BUDGET_ROUNDS * 5) * 30
    budgeted = SearchConfig(max_queries=10_000, samples_per_class=3)
    assert held_queries(budgeted, 10) == grating_budget_queries(3, 10)
    assert held_queries(SearchConfig(samples_per_class=3), 10) == 0
    assert held_queries(replace(budgeted, spaces=("mask",)), 10) == 0


class _AlwaysThree(_StrokeInCorner):
    """Every image goes to label 3: every grating fires there, at any amplitude."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.queries += len(x)
        return np.full(len(x), 3)


def test_the_budgets_grating_spends_what_is_held_for_it_and_no_more() -> None:
    # A model every grating fires on makes the descent take every round it may: uncapped, the
    # space spends exactly the held queries (its 5 rounds, not the default space's 12)...
    oracle = _AlwaysThree()
    ev, _ = _corner_evaluators(oracle)  # 5 classes, 3 search samples each
    (found,) = BudgetGratingSpace().search(ev, range(5), [], np.random.default_rng(0))
    assert found.label == 3 and found.search_rate == 1.0
    assert oracle.queries == grating_budget_queries(3, 5)
    # (each step rounds to 4 places)
    assert found.point.params["amp"] == pytest.approx(
        0.3 * GRATING_AMP_STEP**GRATING_BUDGET_ROUNDS, abs=1e-3
    )
    # ... and capped at fewer, it stops within the cap, keeping what it found.
    for cap in (grating_budget_queries(3, 5) - 1, 80 * 5):
        oracle = _AlwaysThree()
        ev, _ = _corner_evaluators(oracle)
        ev.allowance = cap
        BudgetGratingSpace().search(ev, range(5), [], np.random.default_rng(0))
        assert 0 < oracle.queries <= cap


def test_a_subset_evaluator_takes_the_first_samples_of_each_class_and_spends_the_parents() -> None:
    oracle = _StrokeInCorner()
    ev, _ = _corner_evaluators(oracle)
    ev.allowance = 10 * len(ev.xs)  # 10 passes over the 15 search samples
    few = ev.subset(1)
    assert len(few.xs) == 5 and sorted(few.ys) == [0, 1, 2, 3, 4]
    assert few.remaining_evals() == 30  # the parent's 150 queries, 5 a pass
    few.rates([lambda x: x] * 3)
    assert oracle.queries == 15 and ev.spent == 15 and ev.remaining_evals() == 9
    assert few.remaining_evals() == 27
