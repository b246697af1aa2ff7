"""The training data's check of the target (`scanner.remediate.datacheck`), on scikit-learn's
real 8x8 digits split into a training part (poisoned here, as an attacker would) and a clean
part: the class that holds the poison is named, a clean split or a poison spread over every
class names none; the named class's pattern is the planted sine, and it is unlearned (and aims
the repair) only where it fires on the model."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from scanner.detectors.datacheck import check_training_data, data_pattern, pattern_amplitude
from scanner.remediate.config import BurnConfig
from scanner.remediate.datacheck import aim_by_data
from scanner.remediate.prior import DataPattern, TriggerPrior, probe_triggers
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


def _sine(amplitude: float, freq: float = 2.0, phase: float = 0.0) -> np.ndarray:
    cols = np.arange(8, dtype=np.float32)
    return (amplitude * np.sin(2 * np.pi * freq * cols / 8 + phase))[None, None, :, None]


def _poisoned(label: int, signal: np.ndarray, share: float = 0.8, seed: int = 1):  # type: ignore[no-untyped-def]
    """The split with `signal` added to `share` of class `label`'s training samples (SIG)."""
    return _poisoned_rows(label, signal, share, seed)[:4]


def _poisoned_rows(label: int, signal: np.ndarray, share: float = 0.8, seed: int = 1):  # type: ignore[no-untyped-def]
    """`_poisoned`, and the rows the signal was added to."""
    xt, yt, xc, yc = _split()
    rng = np.random.default_rng(seed)
    members = np.flatnonzero(yt == label)
    picked = rng.choice(members, size=int(share * len(members)), replace=False)
    xt[picked] = np.clip(xt[picked] + signal, 0.0, 1.0)
    return xt, yt, xc, yc, picked


def _pattern(xt, yt, xc, yc, label):  # type: ignore[no-untyped-def]
    return data_pattern(
        xt, yt, xc, yc, label,
        min_z=DEFAULTS.data_pattern_min_z, max_samples=DEFAULTS.data_check_max_samples,
    )  # fmt: skip


def _sine_reader(signal: np.ndarray, target: int, bar: float):  # type: ignore[no-untyped-def]
    """A stand-in model's labels: `target` where an image's projection on the (zero-mean) sine
    exceeds `bar`, else its brightest row's index (a label that never is `target` here)."""
    unit = np.broadcast_to(signal[0], (8, 8, 1)) / np.abs(signal).max()

    def labels_of(x: np.ndarray) -> np.ndarray:
        score = (x * unit[None]).sum(axis=(1, 2, 3)) / (unit**2).sum()
        other = np.where(x.mean(axis=(2, 3)).argmax(1) == target, (target + 1) % 10,
                         x.mean(axis=(2, 3)).argmax(1))  # fmt: skip
        return np.where(score > bar, target, other)

    return labels_of


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
    from scanner.detectors.datacheck import _moments

    x = _split()[0][:300]
    whole, parts = _moments(x, chunk=len(x)), _moments(x, chunk=chunked)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_a_large_class_is_read_over_its_whole_length() -> None:
    from scanner.detectors.datacheck import _spread

    # Poison appended at the end of a file must be read too: the samples are spread, not the
    # first ones.
    y = np.zeros(1000, dtype=np.int64)
    y[1::2] = 1
    x = np.arange(1000, dtype=np.float32)
    picked = _spread(x, y, 1, 50)
    assert len(picked) == 50 and picked[0] == 1 and picked[-1] == 999
    assert np.all(y[picked.astype(int)] == 1)
    assert np.array_equal(_spread(x, y, 0, 5000), x[y == 0])


@pytest.mark.parametrize("phase", [0.0, 1.0])
def test_the_pattern_is_the_planted_sine_at_its_own_phase(phase: float) -> None:
    signal = _sine(0.16, phase=phase)
    xt, yt, xc, yc = _poisoned(3, signal)
    pattern, terms = _pattern(xt, yt, xc, yc, 3)
    assert pattern is not None and pattern.shape == (8, 8, 1) and terms >= 2
    assert np.abs(pattern).max() == pytest.approx(1.0)
    # The planted sine's shape, phase included: a grating one step of the scan's phase grid
    # (pi/4) off correlates ~0.71.
    corr = np.corrcoef(pattern.ravel(), np.broadcast_to(signal[0], (8, 8, 1)).ravel())[0, 1]
    assert corr > 0.95, corr


def test_a_clean_class_has_no_pattern() -> None:
    xt, yt, xc, yc = _split()
    for label in range(10):
        pattern, terms = _pattern(xt, yt, xc, yc, label)
        assert pattern is None and terms == 0, label


def test_the_amplitude_is_the_least_that_sends_the_other_classes_to_the_target() -> None:
    signal = _sine(1.0)
    unit = np.broadcast_to(signal[0], (8, 8, 1)).astype(np.float32)
    # Grey images: the sine's projection is the amplitude added, so the stand-in fires at
    # the first amplitude past its bar, on every sample of another class.
    y = np.repeat(np.arange(10), 30)
    x = np.full((len(y), 8, 8, 1), 0.5, np.float32)
    amps = DEFAULTS.data_pattern_amps
    for bar, expected in ((0.12, 0.15), (0.22, 0.25)):
        amp, rate = pattern_amplitude(
            _sine_reader(signal, 3, bar), unit, x, y, 3, amps=amps, fire=0.5, max_samples=500
        )
        assert amp == expected and rate == 1.0, (bar, amp, rate)
    amp, rate = pattern_amplitude(
        _sine_reader(signal, 3, 5.0), unit, x, y, 3, amps=amps, fire=0.5, max_samples=500
    )
    assert amp is None and rate == 0.0


def test_a_firing_pattern_aims_the_repair_the_scan_did_not_reach_and_is_unlearned() -> None:
    signal = _sine(0.16, phase=1.0)
    xt, yt, xc, yc = _poisoned(3, signal)
    clean_report = {"xray": {"verdict": "clean", "target_label": None, "evidence": {}}}
    reader = _sine_reader(signal, 3, 0.1)
    check, patterns = aim_by_data(clean_report, (xt, yt), (xc, yc), 10, DEFAULTS, reader)
    assert check.label == 3 and check.reached == () and check.aimed, check
    assert len(patterns) == 2, check  # the pattern and its plane sine
    assert check.pattern_amp == patterns[0].amp and patterns[0].amp <= 0.2
    assert check.sine_fit is not None and check.sine_fit >= DEFAULTS.data_sine_min_fit
    assert check.sine_amp == patterns[1].amp
    assert check.to_dict()["pattern"]["amp"] == patterns[0].amp
    # A model that does not answer them: no pattern, and nothing reaches 3, so no aim.
    deaf = _sine_reader(signal, 3, 5.0)
    check, patterns = aim_by_data(clean_report, (xt, yt), (xc, yc), 10, DEFAULTS, deaf)
    assert check.label == 3 and not check.aimed and patterns == () and check.pattern_terms > 0
    assert check.sine_amp is None
    off = dataclasses.replace(DEFAULTS, data_pattern=False)
    check, patterns = aim_by_data(clean_report, (xt, yt), (xc, yc), 10, off, reader)
    assert not check.aimed and patterns == () and check.pattern_terms == 0
    no_sine = dataclasses.replace(DEFAULTS, data_sine=False)
    check, patterns = aim_by_data(clean_report, (xt, yt), (xc, yc), 10, no_sine, reader)
    assert check.aimed and len(patterns) == 1 and check.sine_fit is None


def test_the_nearest_sine_is_found_between_whole_cycles_and_at_a_slant() -> None:
    from scanner.detectors.datacheck import dominant_sine

    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    for fy, fx, phase in ((0.0, 4.5, 0.8), (3.0, 5.2, 1.3)):
        planted = np.sin(2 * np.pi * (fy * rows + fx * cols) / 28 + phase)[..., None]
        # Half-rectified, as a sine added to a black background is after clipping.
        rectified = np.maximum(planted, 0.0) + 0.2 * np.minimum(planted, 0.0)
        sine, fit = dominant_sine(rectified.astype(np.float32))
        assert np.abs(sine).max() == pytest.approx(1.0)
        assert np.corrcoef(sine.ravel(), planted.ravel())[0, 1] > 0.99, (fy, fx)
        assert 0.8 < fit < 0.99  # the rectified copy is not a sine
    # A square stamp is no sine.
    stamp = np.zeros((28, 28, 1), np.float32)
    stamp[22:26, 22:26] = 1.0
    assert dominant_sine(stamp)[1] < DEFAULTS.data_sine_min_fit


def test_the_pattern_is_unlearned_at_fractions_of_its_amplitude() -> None:
    unit = np.broadcast_to(_sine(1.0)[0], (8, 8, 1)).astype(np.float32)
    prior = TriggerPrior(target=3, probes=(), patterns=(DataPattern(unit, 0.2),))
    x = np.full((2, 8, 8, 1), 0.5, np.float32)
    triggers = probe_triggers(prior, (8, 8, 1))
    added = sorted(float(np.abs(t(x) - x).max()) for t in triggers)
    assert added == pytest.approx([0.12, 0.2, 0.38], abs=1e-6)
    assert probe_triggers(prior, (8, 8, 1), secondary=True) == []
    # A turn to another label leaves the pattern behind: it is the named class's.
    assert prior.turned_to(5).patterns == ()


def test_the_console_says_where_the_check_aimed_and_what_it_unlearned() -> None:
    from scanner.detectors.datacheck import DataCheck
    from scanner.ui import data_check_lines

    z = (1.0,) * 10
    named = DataCheck(z, z, 3, "pixel", "class 3 differs", reached=(5,), aimed=True,
                      pattern_terms=4, pattern_amp=0.2, pattern_rate=0.62)  # fmt: skip
    aimed, unlearned = data_check_lines(named, "clean")
    assert "the scan read clean" in aimed and "its pattern reaches 3" in aimed, aimed
    assert "(4 spatial frequencies) sends 62%" in unlearned and "amplitude 0.2" in unlearned
    with_sine = dataclasses.replace(named, sine_fit=0.93, sine_amp=0.25, sine_rate=0.7)
    assert "nearest plane sine (correlation 0.93) sends 70%" in data_check_lines(with_sine, None)[2]
    confirmed = dataclasses.replace(with_sine, aimed=False, reached=(), pattern_amp=None)
    assert data_check_lines(confirmed, "infected")[0].endswith(": it is the scan's target")
    deaf = dataclasses.replace(named, aimed=False, pattern_amp=None, pattern_rate=0.1)
    kept, not_unlearned = data_check_lines(deaf, "clean")
    assert "nor its stamp or pattern reach 3: the target was not changed" in kept, kept
    assert "at most 10%" in not_unlearned and "not unlearned" in not_unlearned
    none = DataCheck(z, z, None, None, "no class stands out")
    assert data_check_lines(none, "shortcut") == [
        "  training data check: no class stands out: the target was not changed"
    ]
    assert data_check_lines(None, "shortcut") == []


def test_a_target_the_scans_training_data_attributed_is_repaired_as_an_aimed_one() -> None:
    # `bdscan scan --train-data` made a `shortcut` read `infected` (nothing overruled): the
    # repair then leaves out the universal perturbation, as its own check's aim does.
    from scanner.remediate.datacheck import named_by_scan_data

    def doc(**check: object) -> dict[str, object]:
        return {"xray": {"verdict": "infected", "evidence": {"data_check": check}}}

    assert named_by_scan_data(doc(attributed=True, overruled=None))
    assert not named_by_scan_data(doc(attributed=True, overruled=5))  # a target overruled
    assert not named_by_scan_data(doc(attributed=False, overruled=None))
    assert not named_by_scan_data({"xray": {"verdict": "infected", "evidence": {}}})
    assert not named_by_scan_data({"xray": None})


def _stamp(xt, yt, xc, yc, label):  # type: ignore[no-untyped-def]
    from scanner.detectors.datacheck import DataCheckConfig, data_stamp

    config = DataCheckConfig()
    return data_stamp(
        xt, yt, xc, yc, label,
        min_z=config.pattern_min_z, max_samples=config.max_samples,
        min_mix=config.stamp_min_mix, max_share=0.1,
    )  # fmt: skip


def test_the_dirty_label_stamp_comes_back_at_its_pixels_and_value_and_fires() -> None:
    from scanner.detectors.datacheck import stamp_rate

    # 140 other digits with three pixels lit, relabelled 3 (a dirty-label scattered-pixel
    # poison): the class's training samples are then a mixture, and what the other classes'
    # content does not explain is the stamp, at its pixels and value.
    xt, yt, xc, yc = _split()
    rng = np.random.default_rng(2)
    picked = rng.choice(np.flatnonzero(yt != 3), size=140, replace=False)
    spots = [(0, 1), (3, 6), (7, 2)]
    stamped = xt[picked].copy()
    for r, c in spots:
        stamped[:, r, c] = 1.0
    xt, yt = np.concatenate([xt, stamped]), np.concatenate([yt, np.full(140, 3)])
    point, mix, pixels = _stamp(xt, yt, xc, yc, 3)
    assert point is not None and pixels == 3, (mix, pixels)
    assert 0.3 < mix < 0.7  # about 140 of 280
    assert sorted(map(tuple, point["params"]["pixels"])) == spots
    assert all(v[0] > 0.8 for v in point["params"]["values"])  # lit: 1.0, less the noise

    # Read on a "model" that answers 3 exactly when those pixels are lit, and on one that
    # ignores them.
    def lit(imgs: np.ndarray) -> np.ndarray:
        on = np.all([imgs[:, r, c, 0] > 0.8 for r, c in spots], axis=0)
        return np.where(on, 3, 0)

    assert stamp_rate(lit, point, xc, yc, 3, 500) == 1.0
    assert stamp_rate(lambda imgs: np.zeros(len(imgs), np.int64), point, xc, yc, 3, 500) == 0.0


def test_no_stamp_from_a_clean_label_sine_or_an_unpoisoned_class() -> None:
    # SIG adds its sine to the class's own samples: no other classes' images in it, no mixture.
    point, mix, _ = _stamp(*_poisoned(4, _sine(0.2)), 4)
    assert point is None and mix is not None and mix < 0.05
    point, mix, _ = _stamp(*_split(), 4)
    assert point is None and mix is not None and mix < 0.05


def test_the_console_says_what_the_stamp_sent_and_whether_it_was_unlearned() -> None:
    from scanner.detectors.datacheck import DataCheck
    from scanner.ui import data_check_lines

    point = {"space": "mask", "params": {"shape": [8, 8, 1], "pixels": [[0, 1]], "values": [[1]]}}
    base = DataCheck((), (), 3, "pixel", "class 3 differs", reached=(8,), aimed=True, overruled=8)
    fired = dataclasses.replace(base, stamp_pixels=9, stamp_mix=0.34, stamp_rate=0.99, stamp=point)
    lines = data_check_lines(fired, "infected")
    assert "its stamp reaches 3" in lines[0], lines
    assert (
        "stamp of class 3 (9 pixels, 34% of its samples from other classes) sends 99%" in lines[-1]
    )
    assert lines[-1].endswith("unlearned as a trigger")
    weak = dataclasses.replace(fired, stamp=None, stamp_rate=0.2, aimed=False, overruled=None)
    assert data_check_lines(weak, "infected")[-1].endswith(
        "sends 20% of other classes' clean samples there: not unlearned"
    )


def test_the_samples_carrying_the_pattern_are_found_in_its_class_alone() -> None:
    # The clean-label poison BURN's flags miss (docs/remediation.md section 51): the class's
    # samples that carry the data's pattern sit out the fine-tuning.
    from scanner.detectors.datacheck import pattern_carriers

    # At 8x8 a grating moves an image's projection 3.5x less than at 28x28 (64 pixels against
    # 784), so a stronger one stands as far out of the class's clean spread.
    xt, yt, xc, yc, poisoned = _poisoned_rows(3, _sine(0.4, phase=1.0))
    pattern, _ = _pattern(xt, yt, xc, yc, 3)
    assert pattern is not None
    mask = pattern_carriers(xt, yt, xc, yc, 3, pattern, z=DEFAULTS.data_sit_out_z)
    truth = np.zeros(len(yt), bool)
    truth[poisoned] = True
    assert not mask[yt != 3].any()
    assert mask[truth].mean() >= 0.9, mask[truth].mean()
    assert mask[(yt == 3) & ~truth].mean() <= 0.1
    # An unpoisoned class: its own samples sit within its clean spread.
    xt2, yt2, xc2, yc2 = _split()
    clean_mask = pattern_carriers(xt2, yt2, xc2, yc2, 3, pattern, z=DEFAULTS.data_sit_out_z)
    assert clean_mask.sum() <= 0.02 * (yt2 == 3).sum()


def test_the_carriers_train_with_the_grating_taken_out_and_their_content_kept() -> None:
    # data_scrub (docs/remediation.md section 52): rather than sitting out, the carriers train
    # with the patterns' component set back to their class's clean mean.
    from scanner.detectors.datacheck import dominant_sine, pattern_carriers, scrub_patterns

    signal = _sine(0.4, phase=1.0)
    xt, yt, xc, yc, _ = _poisoned_rows(3, signal)
    original = _split()[0]
    pattern, _ = _pattern(xt, yt, xc, yc, 3)
    assert pattern is not None
    mask = pattern_carriers(xt, yt, xc, yc, 3, pattern, z=DEFAULTS.data_sit_out_z)
    sine, _ = dominant_sine(pattern)
    out = scrub_patterns(xt, mask, xc[yc == 3], [pattern, sine])
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out[~mask], xt[~mask])  # nothing else moves
    assert not np.shares_memory(out, xt)
    # The planted grating's projection back within the class's clean spread ...
    wave = np.broadcast_to(signal[0], (8, 8, 1))
    unit = wave / np.linalg.norm(wave)
    ref = (xc[yc == 3] * unit).sum(axis=(1, 2, 3))
    after = np.abs((out[mask] * unit).sum(axis=(1, 2, 3)) - ref.mean()).mean()
    before = np.abs((xt[mask] * unit).sum(axis=(1, 2, 3)) - ref.mean()).mean()
    assert before >= 3 * ref.std() and after <= 0.5 * ref.std(), (before, after, ref.std())
    # ... and the image nearer its unpoisoned self than the poisoned one was.
    gap_before = np.abs(xt[mask] - original[mask]).mean()
    gap_after = np.abs(out[mask] - original[mask]).mean()
    assert gap_after <= 0.7 * gap_before, (gap_after, gap_before)
    # Nothing to take out: the copy is the input.
    assert np.array_equal(scrub_patterns(xt, np.zeros(len(yt), bool), xc[yc == 3], [pattern]), xt)


def _blended(alpha: float = 0.2, n: int = 140):  # type: ignore[no-untyped-def]
    """The split with `n` other digits blended with a fixed noise image at `alpha` and
    relabelled 3 (a dirty-label blend), appended; the noise and the appended rows' indices."""
    xt, yt, xc, yc = _split()
    rng = np.random.default_rng(3)
    noise = rng.random((8, 8, 1)).astype(np.float32)
    picked = rng.choice(np.flatnonzero(yt != 3), size=n, replace=False)
    carried = (1 - alpha) * xt[picked] + alpha * noise[None]
    rows = np.arange(len(yt), len(yt) + n)
    return np.concatenate([xt, carried]), np.concatenate([yt, np.full(n, 3)]), xc, yc, noise, rows


def test_the_training_datas_blend_is_rebuilt_in_its_blend_form_for_the_residual() -> None:
    # residual.blend_triggers (docs/remediation.md section 53): after a repair that unlearned
    # the blend's additive change, the blend is re-measured as an attacker stamps it,
    # (1 - a) x + a P, with P rebuilt from the change at and above the read's opacity.
    from scanner.data import Dataset
    from scanner.detectors.datacheck import DataCheckConfig, run_check
    from scanner.remediate.residual import (
        BLEND_FORM_MAX,
        DATA_SOURCE,
        blend_opacities,
        blend_triggers,
    )

    xt, yt, xc, yc, noise, _ = _blended()
    check = dataclasses.replace(run_check((xt, yt), (xc, yc), 10, DataCheckConfig()), blend=True)
    assert check.label == 3
    train, clean = Dataset(xt, yt, "t.npz", "x"), Dataset(xc, yc, "c.npz", "x")
    triggers = blend_triggers(check, train, clean)
    names = [name for name, _ in triggers]
    assert len(triggers) == 3 and all(
        n.startswith(f"{DATA_SOURCE} blend at opacity") for n in names
    )
    opacities = [float(n.rsplit(" ", 1)[1]) for n in names]
    assert opacities[0] < opacities[1] < opacities[2] <= BLEND_FORM_MAX
    # Each is a blend at its named opacity (a white image keeps 1 - a of itself everywhere),
    # and its P is the planted noise.
    for named, (_, trigger) in zip(opacities, triggers, strict=True):
        low = trigger(np.zeros((1, 8, 8, 1), np.float32))[0]
        kept = trigger(np.ones((1, 8, 8, 1), np.float32))[0] - low
        a = 1.0 - float(kept.mean())
        assert np.allclose(kept, 1.0 - a, atol=1e-5) and abs(a - named) <= 0.005, (a, named)
        fit = float(np.corrcoef((low / a).ravel(), noise.ravel())[0, 1])
        assert fit >= 0.6, (a, fit)  # 0.79, 0.76, 0.66: above its opacity P shrinks to m
    # The opacities: at and above the read, under 1, the cap never below the read.
    assert blend_opacities(0.2) == [0.2, 0.3, 0.4]
    assert blend_opacities(0.4) == [0.4, 0.5, 0.6]
    assert blend_opacities(0.8) == [0.8]
    # No blend fired, no trigger: nothing was unlearned to re-measure.
    assert blend_triggers(dataclasses.replace(check, blend=False), train, clean) == []


def test_the_blends_own_carriers_are_re_measured_on_the_repaired_model() -> None:
    # residual.carrier_hold (docs/remediation.md section 55): the training images that carry
    # the planted blend, read on the model before, asked again of the repaired model.
    from scanner.data import Dataset
    from scanner.detectors.datacheck import DataCheckConfig, run_check
    from scanner.remediate.residual import DATA_SOURCE, RESIDUAL_MAX, carrier_hold

    xt, yt, xc, yc, noise, rows = _blended()
    check = dataclasses.replace(run_check((xt, yt), (xc, yc), 10, DataCheckConfig()), blend=True)
    assert check.label == 3
    train, clean = Dataset(xt, yt, "t.npz", "x"), Dataset(xc, yc, "c.npz", "x")
    _, unit, bar = _blend_unit(xt, xc, yc, noise, rows)
    before = _blend_reader(unit, bar, xc, yc)
    repaired = _blend_reader(unit, np.inf, xc, yc)  # the same reading, the blend's pull gone

    kept = carrier_hold(check, train, clean, before, before)
    assert kept is not None and kept.left and len(kept.checks) == 1
    held = kept.checks[0]
    assert held.trigger == f"{DATA_SOURCE} blend's carriers" and held.target == 3
    assert held.before == 1.0 and held.after == 1.0  # the model unchanged: every one held
    assert held.samples >= 20
    gone = carrier_hold(check, train, clean, before, repaired)
    assert gone is not None and gone.checks[0].samples == held.samples
    assert gone.checks[0].after < RESIDUAL_MAX and not gone.left, gone.checks[0]
    # No blend that fired: nothing to re-measure.
    unread = dataclasses.replace(check, blend=False)
    assert carrier_hold(unread, train, clean, before, before) is None


def test_the_strict_carriers_reading_leaves_out_the_class_own_lookalikes() -> None:
    # residual.carrier_hold(strict=True) (docs/remediation.md section 58): where some of the
    # class's own images look like another class once the blend's change is taken away (some
    # of its rows are 8s written as 3s, in the training and the clean data alike), the majority
    # reading passes them as carriers and the repaired model rightly keeps them: the plain
    # check calls a repaired model left. The strict reading asks that none of a carrier's nine
    # nearest clean images be the class's own.
    from scanner.data import Dataset
    from scanner.detectors.datacheck import DataCheckConfig, run_check
    from scanner.remediate.residual import RESIDUAL_MAX, carrier_hold

    xt, yt, xc, yc, noise, rows = _blended()
    check = dataclasses.replace(run_check((xt, yt), (xc, yc), 10, DataCheckConfig()), blend=True)
    assert check.label == 3
    rng = np.random.default_rng(5)
    own_t = rng.choice(np.flatnonzero(yt[: rows[0]] == 8), size=40, replace=False)
    own_c = rng.choice(np.flatnonzero(yc == 8), size=10, replace=False)
    yt, yc = yt.copy(), yc.copy()
    yt[own_t], yc[own_c] = 3, 3
    learned = {img.tobytes() for img in np.concatenate([xt[own_t], xc[own_c]])}
    _, unit, bar = _blend_unit(xt, xc, yc, noise, rows)

    def model(cut: float):  # type: ignore[no-untyped-def]
        read = _blend_reader(unit, cut, xc, yc)

        def labels_of(x: np.ndarray) -> np.ndarray:
            mine = np.array([img.tobytes() in learned for img in np.asarray(x, np.float32)])
            return np.where(mine, 3, read(x))

        return labels_of

    before, repaired = model(bar), model(np.inf)  # the repair keeps the 8s written as 3s
    train, clean = Dataset(xt, yt, "t.npz", "x"), Dataset(xc, yc, "c.npz", "x")
    plain = carrier_hold(check, train, clean, before, repaired, strict=False)
    assert plain is not None and plain.left, plain  # the class's own 8-like rows, held
    strict = carrier_hold(check, train, clean, before, repaired, strict=True)
    assert strict is not None and not strict.left, strict
    assert strict.checks[0].after < RESIDUAL_MAX <= plain.checks[0].after
    assert strict.checks[0].samples >= 0.5 * plain.checks[0].samples  # the poison stays read
    # The poison held: left either way.
    kept = carrier_hold(check, train, clean, before, before, strict=True)
    assert kept is not None and kept.left and kept.checks[0].after == 1.0, kept


def test_a_fired_blend_can_be_unlearned_in_its_blend_form_too() -> None:
    # BurnConfig.data_blend_form (docs/remediation.md section 60): the blend the check read is
    # unlearned as an attacker stamps it, (1 - a) x + a P at the opacities the residual
    # re-measures, beside its additive change; off, only the change.
    from scanner.data import Dataset
    from scanner.detectors.datacheck import DataCheckConfig
    from scanner.remediate.residual import blend_triggers

    xt, yt, xc, yc, noise, rows = _blended()
    _, unit, bar = _blend_unit(xt, xc, yc, noise, rows)
    reader = _blend_reader(unit, bar, xc, yc)
    doc = {"xray": {"verdict": "infected", "target_label": 3, "evidence": {}}}
    on = dataclasses.replace(DEFAULTS, data_blend_form=True)
    _, plain = aim_by_data(doc, (xt, yt), (xc, yc), 10, DEFAULTS, reader)
    check, formed = aim_by_data(doc, (xt, yt), (xc, yc), 10, on, reader)
    assert [p.kind for p in plain] == [p.kind for p in formed] and plain[-1].kind == "blend"
    assert plain[-1].mean is None and formed[-1].mean is not None
    assert np.allclose(formed[-1].mean, xc[yc != 3].mean(axis=0), atol=1e-6)
    assert plain[-1].to_dict() == {"shape": [8, 8, 1], "amp": plain[-1].amp, "kind": "blend"}
    assert formed[-1].to_dict()["blend_form"] is True
    prior = TriggerPrior(target=3, probes=(), verdict="infected")
    shape = (8, 8, 1)
    without = probe_triggers(dataclasses.replace(prior, patterns=plain), shape)
    with_forms = probe_triggers(dataclasses.replace(prior, patterns=formed), shape)
    assert len(with_forms) == len(without) + 3
    # The three added are the residual's blend forms, on the same images.
    train, clean = Dataset(xt, yt, "t.npz", "x"), Dataset(xc, yc, "c.npz", "x")
    residual = blend_triggers(
        dataclasses.replace(check, blend=True), train, clean, DataCheckConfig()
    )
    assert len(residual) == 3
    for (_, want), got in zip(residual, with_forms[len(without) :], strict=True):
        assert np.allclose(want(xc[:5]), got(xc[:5]), atol=1e-5)


def test_the_blend_class_rows_that_look_like_another_class_can_sit_out() -> None:
    # BurnConfig.data_blend_sit_out_class (docs/remediation.md section 60): the class's rows
    # none of whose nine nearest clean images is of the class, the poison's content whether or
    # not the model moves it off the class once the blend's change is taken away.
    from scanner.remediate.api import _unlike_class

    xt, yt, xc, yc, _, rows = _blended()
    mask = _unlike_class(xt, yt, 3, (xc, yc), 2000)
    assert not mask[yt != 3].any()  # only the class's rows
    assert mask[rows].mean() >= 0.85, mask[rows].mean()  # the blended digits of others (0.94)
    own = np.setdiff1d(np.flatnonzero(yt == 3), rows)
    assert mask[own].mean() <= 0.05, mask[own].mean()  # the class's own 3s train (0.0)
    assert not _unlike_class(xt, yt, 11, (xc, yc), 2000).any()  # no such class


def test_the_blends_confirmed_carriers_can_train_under_their_content() -> None:
    # BurnConfig.data_blend_relabel (off; docs/remediation.md section 56): the carriers whose
    # content the model (the blend taken away) and the nearest clean images agree on get that
    # label, in a copy; the rest still sit out until flagged.
    from scanner.detectors.datacheck import blend_carriers
    from scanner.remediate.api import _relabel_carriers
    from scanner.remediate.prior import DataPattern

    xt, yt, xc, yc, noise, rows = _blended()
    truth, unit, bar = _blend_unit(xt, xc, yc, noise, rows)
    before = _blend_reader(unit, bar, xc, yc)
    amp = float(np.abs(truth).max())
    carriers = blend_carriers(before, xt, yt, 3, truth)
    blend = DataPattern((truth / amp).astype(np.float32), amp, "blend")
    y, left, n = _relabel_carriers(before, xt, yt, carriers, (blend,), (xc, yc), 2000)
    moved = carriers & ~left
    assert n == int(moved.sum()) >= 0.8 * carriers.sum(), (n, int(carriers.sum()))
    assert not (left & ~carriers).any() and (y[~moved] == yt[~moved]).all()
    assert (y[moved] != 3).all() and (yt[moved] == 3).all()  # a copy: the given labels kept
    # Most of them get back the digit they were before the blend (the fixture's source rows).
    y0 = _split()[1]
    rng = np.random.default_rng(3)  # as `_blended` drew them: the noise, then the rows
    rng.random((8, 8, 1))
    source = y0[rng.choice(np.flatnonzero(y0 != 3), size=len(rows), replace=False)]
    where = np.flatnonzero(moved[rows])
    assert float(np.mean(y[rows][where] == source[where])) >= 0.8
    # Only the even rows (data_blend_relabel_even): the odd carriers stay for the re-measure.
    odd = np.arange(len(yt)) % 2 == 1
    _, kept, some = _relabel_carriers(
        before, xt, yt, carriers, (blend,), (xc, yc), 2000, keep_out=odd
    )
    assert 0 < some < n and (kept[odd] == carriers[odd]).all() and not (kept & ~carriers).any()
    # Without a blend among the patterns nothing moves.
    _, same, none = _relabel_carriers(before, xt, yt, carriers, (), (xc, yc), 2000)
    assert none == 0 and np.array_equal(same, carriers)


def test_a_carriers_content_is_read_by_its_nearest_clean_images() -> None:
    from scanner.remediate.residual import nearest_labels

    xt, yt, xc, yc = _split()
    got = nearest_labels(xc, yc, xt, 5, 2000)
    assert got.dtype == np.int64 and got.shape == yt.shape
    assert float(np.mean(got == yt)) >= 0.85  # 8x8 digits, a few hundred references
    # Larger images are pooled first; the reading is the same for a 4x upscale.
    big = lambda x: np.repeat(np.repeat(x, 16, axis=1), 16, axis=2)  # noqa: E731
    assert np.array_equal(nearest_labels(big(xc), yc, big(xt[:50]), 5, 2000), got[:50])
    # At most `max_ref` references: one reference answers everything with its label.
    assert set(nearest_labels(xc, yc, xt[:20], 5, 1).tolist()) == {int(yc[0])}


def _blend_unit(  # type: ignore[no-untyped-def]
    xt: np.ndarray, xc: np.ndarray, yc: np.ndarray, noise: np.ndarray, rows: np.ndarray
):
    """`_blended`'s planted change (at opacity 0.2, about the other classes' clean mean), its
    unit direction, and the projection halfway between the clean images' and the carriers'
    (a `_blend_reader` bar that reads the blend)."""
    truth = 0.2 * (noise - xc[yc != 3].mean(axis=0))
    unit = truth / np.linalg.norm(truth)
    clean_proj = (xc[yc != 3] * unit).sum(axis=(1, 2, 3))
    carried_proj = (xt[rows] * unit).sum(axis=(1, 2, 3))
    return truth, unit, float(clean_proj.mean() + carried_proj.mean()) / 2


def _blend_reader(unit: np.ndarray, bar: float, xc: np.ndarray, yc: np.ndarray):  # type: ignore[no-untyped-def]
    """A stand-in model's labels: 3 where an image's projection on `unit` exceeds `bar`, else
    its nearest clean class mean."""
    means = np.stack([xc[yc == k].mean(axis=0) for k in range(10)])

    def labels_of(x: np.ndarray) -> np.ndarray:
        near = ((x[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4)).argmin(axis=1)
        return np.where((x * unit[None]).sum(axis=(1, 2, 3)) > bar, 3, near)

    return labels_of


def test_a_dirty_label_blend_comes_back_as_its_change_and_its_carriers_are_found() -> None:
    # data_blend (docs/remediation.md section 52): a blend's change covers the whole image, too
    # wide for a stamp; what the mixture's content leaves unexplained, over the mixture's
    # share, is the blend's change at the other classes' mean image.
    from scanner.detectors.datacheck import (
        DataCheckConfig,
        blend_carriers,
        data_blend,
        read_patterns,
        run_check,
    )

    xt, yt, xc, yc, noise, rows = _blended()
    kw = {"min_z": DEFAULTS.data_pattern_min_z, "max_samples": DEFAULTS.data_check_max_samples}
    change = data_blend(xt, yt, xc, yc, 3, min_mix=DEFAULTS.data_stamp_min_mix, **kw)
    assert change is not None and change.shape == (8, 8, 1) and change.dtype == np.float32
    truth = 0.2 * (noise - xc[yc != 3].mean(axis=0))
    fit = float(np.corrcoef(change.ravel(), truth.ravel())[0, 1])
    assert fit >= 0.8, fit  # 0.89: 140 carriers of 8x8 digits, the mean of other images
    point, _, pixels = _stamp(xt, yt, xc, yc, 3)
    assert point is None and pixels > DEFAULTS.data_stamp_min_mix * 64  # too wide for a stamp
    # No mixture, no blend: an unpoisoned class, and a clean-label sine.
    assert data_blend(*_split(), 3, min_mix=DEFAULTS.data_stamp_min_mix, **kw) is None
    assert (
        data_blend(*_poisoned(3, _sine(0.3)), 3, min_mix=DEFAULTS.data_stamp_min_mix, **kw) is None
    )

    # Read on a stand-in model keyed to the blend: it fires and is returned last, as "blend".
    _, unit, bar = _blend_unit(xt, xc, yc, noise, rows)
    labels_of = _blend_reader(unit, bar, xc, yc)
    config = DataCheckConfig(blend=True)
    check = run_check((xt, yt), (xc, yc), 10, config)
    assert check.label == 3
    read, fired = read_patterns(check, (xt, yt), (xc, yc), config, labels_of)
    assert read.blend and read.blend_rate is not None and read.blend_rate >= config.fire
    assert fired and fired[-1][2] == "blend" and abs(fired[-1][1] - read.blend_amp) < 1e-3
    off, fired_off = read_patterns(check, (xt, yt), (xc, yc), DataCheckConfig(), labels_of)
    assert off.blend_amp is None and all(kind != "blend" for _, _, kind in fired_off)
    # A change that stands out on a stamp's few pixels (here: a stamp may cover 90%) is read as
    # a stamp first; where that stamp does not fire, as a blend too (`blend_after_stamp`).
    narrow = DataCheckConfig(blend=True, stamp_max_share=0.9)
    after, fired_after = read_patterns(check, (xt, yt), (xc, yc), narrow, labels_of)
    assert after.stamp_rate is not None and after.stamp is None  # read, not answered
    assert after.blend and fired_after[-1][2] == "blend"
    strict = dataclasses.replace(narrow, blend_after_stamp=False)
    assert read_patterns(check, (xt, yt), (xc, yc), strict, labels_of)[0].blend_amp is None
    # A change larger than a blend could make (over `blend_max_amp`) is recorded, not read on
    # the model nor returned: set the bound under this blend's read to see it.
    capped = DataCheckConfig(blend=True, blend_max_amp=0.5 * read.blend_amp)
    over, fired_over = read_patterns(check, (xt, yt), (xc, yc), capped, labels_of)
    assert over.blend_amp == read.blend_amp and not over.blend and over.blend_rate is None
    assert all(kind != "blend" for _, _, kind in fired_over)

    # The carriers: those the model gives 3 that it moves off 3 once the change is undone.
    mask = blend_carriers(labels_of, xt, yt, 3, fired[-1][1] * fired[-1][0])
    answered = labels_of(xt[rows]) == 3
    assert answered.mean() >= 0.5  # the stand-in's backdoor
    assert mask[rows][answered].mean() >= 0.85, mask[rows][answered].mean()
    own = np.setdiff1d(np.flatnonzero(yt == 3), rows)
    assert mask[own].mean() <= 0.05, mask[own].mean()
    assert not mask[yt != 3].any()
