"""The zoo's newer attacks: exact triggers, exact poisoning, round trips of shape, dtype and record.

Covers filter, bpp, ftrojan, rotate, pixels, pixels_cl, line, input_aware, reflection and
multi_target in lab/bdscan_lab/zoo/attacks.py; the older attacks are tested in test_zoo.py.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from bdscan_lab.zoo.attacks import (
    ATTACKS,
    BadNets,
    BppAttack,
    FTrojan,
    ImageFilter,
    InputAware,
    Line,
    MultiTarget,
    Reflection,
    Rotate,
    ScatteredPixels,
    ScatteredPixelsCleanLabel,
    _dct_matrix,
    make_attack,
)

NEW = [
    "filter",
    "bpp",
    "ftrojan",
    "rotate",
    "pixels",
    "pixels_cl",
    "line",
    "input_aware",
    "reflection",
    "multi_target",
]
CLEAN_LABEL = ["pixels_cl", "reflection"]
DIRTY_LABEL = [n for n in NEW if n not in CLEAN_LABEL and n != "multi_target"]

# Non-default parameters for the record round trip.
OTHER_PARAMS = {
    "filter": {"gamma": 0.8, "contrast": 3.0, "fade": 0.0, "vignette": 0.5},
    "bpp": {"bits": 2, "dither": False},
    "ftrojan": {"coefficients": ((2, 5), (6, 6), (5, 2)), "magnitude": 0.1, "block": 0},
    "rotate": {"angle": 90.0, "flip": "h"},
    "pixels": {"count": 9, "values": "alternate", "pattern_seed": 3},
    "pixels_cl": {"count": 5, "corrupt": 0.5, "pattern_seed": 1},
    "line": {"shape": "arc", "length": 6, "position": "bl", "margin": 2, "intensity": 0.8},
    "input_aware": {"eps": 0.05, "hidden": 4, "gain": 1.0, "cross_ratio": 0.5, "pattern_seed": 2},
    "reflection": {"alpha": 0.2, "test_alpha": None, "sigma": 2.0, "shift": 0, "pattern_seed": 4},
    "multi_target": {"size": 4, "second_target_offset": 3},
}


def _images(n: int = 8, shape: tuple[int, ...] = (28, 28), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _labels(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.tile(np.arange(10), n // 10)[np.random.default_rng(seed).permutation(n)]


def _changed(before: np.ndarray, after: np.ndarray) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in np.argwhere(before != after)}


# --- every new attack: registry, shape, dtype, range, determinism, record -------------------


def test_new_attacks_are_registered_with_a_paper():
    assert set(NEW) <= set(ATTACKS)
    for name in NEW:
        cls = ATTACKS[name]
        assert cls.name == name
        assert cls.__doc__ and re.search(r"\b20\d\d\b|arXiv \d{4}\.\d{5}", cls.__doc__), name
    assert {n for n in NEW if ATTACKS[n].clean_label} == set(CLEAN_LABEL)
    assert not any(ATTACKS[n].all_to_all for n in NEW)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((28, 28), np.uint8),
        ((28, 28), np.float32),
        ((28, 28), np.float64),
        ((28, 28, 1), np.uint8),
        ((28, 28, 3), np.uint8),
        ((32, 32, 3), np.float32),
    ],
)
def test_shape_dtype_and_range_round_trip(name, shape, dtype):
    x = _images(3, shape)
    if dtype != np.uint8:
        x = (x / 255.0).astype(dtype)
    attack = make_attack(name)
    out = attack.apply(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= (255 if dtype == np.uint8 else 1.0)
    assert not np.array_equal(out, x), "the trigger must change the image"
    assert np.array_equal(out, make_attack(name).apply(x)), "deterministic"


@pytest.mark.parametrize("name", NEW)
def test_uint8_and_float_agree(name):
    x = _images(3)
    attack = make_attack(name)
    from_uint8 = attack.apply(x).astype(np.float32) / 255.0
    from_float = attack.apply(x.astype(np.float32) / 255.0)
    assert np.abs(from_uint8 - from_float).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("params", ["default", "other"])
def test_record_round_trip(name, params):
    attack = make_attack(name, **({} if params == "default" else OTHER_PARAMS[name]))
    stored = json.loads(json.dumps(attack.params()))  # as a zoo record keeps it
    rebuilt = make_attack(name, **stored)
    assert rebuilt == attack and rebuilt.params() == attack.params()
    x = _images(2)
    assert np.array_equal(rebuilt.apply(x), attack.apply(x))
    with pytest.raises(ValueError, match="bad parameters"):
        make_attack(name, nonsense=1)


# --- poisoning ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DIRTY_LABEL)
def test_dirty_label_poisoning_is_exact(name):
    x, y = _images(200), _labels(200)
    attack = make_attack(name)
    poisoned = attack.poison(x, y, target=3, rate=0.1, seed=7)
    px, py, idx = poisoned
    assert len(idx) == 20 and len(np.unique(idx)) == 20
    assert np.all(y[idx] != 3) and np.all(py[idx] == 3)
    assert np.array_equal(px[idx], attack.apply(x[idx]))
    touched = np.union1d(idx, poisoned.cover_indices)
    rest = np.setdiff1d(np.arange(200), touched)
    assert np.array_equal(px[rest], x[rest]), "untouched samples are byte-identical"
    assert np.array_equal(py, np.where(np.isin(np.arange(200), idx), 3, y))
    again = attack.poison(x, y, target=3, rate=0.1, seed=7)
    assert np.array_equal(again.x, px) and np.array_equal(again.indices, idx)
    assert not np.array_equal(attack.poison(x, y, 3, 0.1, seed=8).indices, idx)
    assert np.array_equal(x, _images(200)), "poisoning must not modify its input"


@pytest.mark.parametrize("name", CLEAN_LABEL)
def test_clean_label_poisoning_is_exact(name):
    x, y = _images(200), _labels(200)
    attack = make_attack(name)
    px, py, idx = attack.poison(x, y, target=4, rate=0.08, seed=0)
    assert np.array_equal(py, y), "clean label: every label kept"
    assert len(idx) == 16 and np.all(y[idx] == 4)
    assert np.all(np.any(px[idx] != x[idx], axis=(1, 2)))
    rest = np.setdiff1d(np.arange(200), idx)
    assert np.array_equal(px[rest], x[rest])
    # At most the whole target class.
    assert len(attack.poison(x, y, target=4, rate=0.5, seed=0).indices) == 20


def test_poisoning_keeps_float_and_colour_input():
    x = (_images(50, (28, 28, 3)) / 255.0).astype(np.float32)
    y = _labels(50)
    for name in NEW:
        target = 4 if name in CLEAN_LABEL else 3
        px, py, idx = make_attack(name).poison(x, y, target=target, rate=0.1, seed=0)
        assert px.shape == x.shape and px.dtype == x.dtype and py.dtype == np.int64, name
        assert len(idx) == 5, name


# --- filter ---------------------------------------------------------------------------------


def test_filter_tone_curve_is_monotonic_and_pinned():
    v = np.linspace(0, 1, 1001)
    for attack in (ImageFilter(), ImageFilter(gamma=1.5, contrast=8.0, fade=0.2)):
        curve = attack.tone_curve(v)
        assert np.all(np.diff(curve) > 0), "strictly increasing"
        assert curve[0] == pytest.approx(attack.fade) and curve[-1] == pytest.approx(1.0)
    plain = ImageFilter(gamma=0.5, contrast=0.0, fade=0.0)
    assert plain.tone_curve(np.array([0.25, 0.81])) == pytest.approx([0.5, 0.9])
    s_curve = ImageFilter(gamma=1.0, contrast=4.0, fade=0.0)
    # (sigmoid(1) - sigmoid(-2)) / (sigmoid(2) - sigmoid(-2)), by hand.
    assert s_curve.tone_curve(np.array([0.5, 0.75])) == pytest.approx([0.5, 0.8033880668])
    faded = ImageFilter(gamma=1.0, contrast=0.0, fade=0.1)
    assert faded.tone_curve(np.array([0.0, 0.5])) == pytest.approx([0.1, 0.55])
    assert ImageFilter().tone_curve(np.array([0.0, 0.5, 1.0])) == pytest.approx(
        [0.1, 0.7512772, 1.0], abs=1e-6
    )


def test_filter_is_a_smooth_global_transform():
    attack = ImageFilter(vignette=0.3)
    grey = np.full((1, 7, 7), 0.5, dtype=np.float32)
    out = attack.apply(grey)[0]
    centre = attack.tone_curve(np.array(0.5))
    assert out[3, 3] == pytest.approx(centre, abs=1e-6)
    assert out[0, 0] == pytest.approx(centre * 0.7, abs=1e-6), "corners darkened by the vignette"
    assert out[0, 3] == pytest.approx(centre * (1 - 0.3 / 2), abs=1e-6)
    assert np.allclose(out, out[::-1]) and np.allclose(out, out[:, ::-1])
    assert np.allclose(out, out.T), "radial"
    assert np.all(out != 0.5), "every pixel changes: not a patch"
    # Each output pixel is the curve of its own value times the vignette at its place.
    x = np.random.default_rng(0).random((2, 7, 7), dtype=np.float32)
    gain = out / centre
    expected = attack.tone_curve(x) * gain[None]
    assert np.allclose(attack.apply(x), np.clip(expected, 0, 1), atol=1e-6)
    with pytest.raises(ValueError, match="gamma"):
        ImageFilter(gamma=0.0).apply(grey)


# --- bpp ------------------------------------------------------------------------------------


def test_bpp_quantises_a_ramp_exactly():
    ramp = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = BppAttack(bits=3, dither=False).apply(ramp).ravel()
    # round(k * 255 / 7) for the 8 levels of 3 bits; thresholds at (k + 0.5) * 255 / 7.
    levels = [0, 36, 73, 109, 146, 182, 219, 255]
    counts = [19, 36, 37, 36, 36, 37, 36, 19]
    assert np.array_equal(out, np.repeat(levels, counts))
    one_bit = BppAttack(bits=1, dither=False).apply(ramp).ravel()
    assert np.array_equal(one_bit, np.repeat([0, 255], [128, 128]))
    floats = np.array([[[0.0, 0.1, 0.2, 0.49, 0.51, 1.0]]], dtype=np.float32)
    assert np.allclose(BppAttack(bits=1, dither=False).apply(floats), [[[0, 0, 0, 0, 1, 1]]])
    with pytest.raises(ValueError, match="bits"):
        BppAttack(bits=0).apply(ramp)


def test_bpp_dithering_is_floyd_steinberg():
    one_bit = BppAttack(bits=1, dither=True)
    # One row: only the 7/16 share to the right. 0.4 -> 0 (err .4); .575 -> 1; .214 -> 0.
    row = np.full((1, 1, 3), 0.4, dtype=np.float32)
    assert np.array_equal(one_bit.apply(row), [[[0.0, 1.0, 0.0]]])
    # 2x2 by hand: (0,0) .4 -> 0; (0,1) .575 -> 1; (1,0) .4453 -> 0; (1,1) .4870 -> 0.
    square = np.full((1, 2, 2), 0.4, dtype=np.float32)
    assert np.array_equal(one_bit.apply(square), [[[0.0, 1.0], [0.0, 0.0]]])
    grey = np.full((1, 16, 16), 0.5, dtype=np.float32)
    halftone = one_bit.apply(grey)
    assert set(np.unique(halftone)) == {0.0, 1.0}
    assert abs(halftone.mean() - 0.5) < 0.05, "dithering keeps the mean grey level"
    out = BppAttack().apply(_images(2))
    assert set(np.unique(out)) <= {0, 36, 73, 109, 146, 182, 219, 255}


# --- ftrojan --------------------------------------------------------------------------------


def test_dct_matrix_is_orthonormal_dct_ii():
    d = _dct_matrix(7)
    assert np.allclose(d @ d.T, np.eye(7))
    assert np.allclose(d[0], 1 / math.sqrt(7))
    assert d[1, 0] == pytest.approx(math.sqrt(2 / 7) * math.cos(math.pi / 14))
    fft = pytest.importorskip("scipy.fft")
    signal = np.random.default_rng(0).random(7)
    assert np.allclose(d @ signal, fft.dct(signal, norm="ortho"))


def test_ftrojan_energy_only_at_the_chosen_coefficients_per_block():
    attack = FTrojan()  # 7x7 blocks, (3, 3) and (6, 6)
    grey = np.full((1, 28, 28), 0.5, dtype=np.float32)
    out = attack.apply(grey)
    assert out.min() > 0 and out.max() < 1, "mid-grey: nothing clips"
    diff = (out - grey)[0].astype(np.float64)
    d = _dct_matrix(7)
    expected = np.zeros((7, 7))
    expected[3, 3] = expected[6, 6] = 0.2
    for r in range(0, 28, 7):
        for c in range(0, 28, 7):
            coefs = d @ diff[r : r + 7, c : c + 7] @ d.T
            assert np.allclose(coefs, expected, atol=1e-6)


def test_ftrojan_whole_image_and_uncovered_strip():
    coefficients = ((5, 9), (15, 15), (15, 15))
    attack = FTrojan(coefficients=coefficients, magnitude=0.05, block=0)
    grey = np.full((1, 16, 16), 0.5, dtype=np.float32)
    diff = (attack.apply(grey) - grey)[0].astype(np.float64)
    d = _dct_matrix(16)
    expected = np.zeros((16, 16))
    expected[5, 9] = 0.05
    expected[15, 15] = 0.1  # a repeated coefficient adds twice
    assert np.allclose(d @ diff @ d.T, expected, atol=1e-6)
    # 30 = 4 * 7 + 2: the last two rows and columns are not in a block and stay as they were.
    x = np.full((1, 30, 30), 0.5, dtype=np.float32)
    out = FTrojan().apply(x)
    assert np.array_equal(out[:, 28:], x[:, 28:]) and np.array_equal(out[:, :, 28:], x[:, :, 28:])
    assert not np.array_equal(out[:, :28, :28], x[:, :28, :28])
    with pytest.raises(ValueError, match="coefficient"):
        FTrojan(coefficients=((7, 0),)).apply(x)
    with pytest.raises(ValueError, match="block"):
        FTrojan(block=40).apply(x)
    assert FTrojan(coefficients=[[3, 3], [6, 6]]) == FTrojan(), "JSON lists are normalised"


# --- rotate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("angle", "k"), [(90.0, 1), (180.0, 2), (270.0, 3), (-90.0, -1)])
def test_rotate_by_right_angles_is_rot90(angle, k):
    x = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5) / 50.0
    assert np.array_equal(Rotate(angle=angle).apply(x), np.rot90(x, k, axes=(1, 2)))
    u8 = _images(2, (6, 6, 3))
    assert np.array_equal(Rotate(angle=angle).apply(u8), np.rot90(u8, k, axes=(1, 2)))


def test_rotate_flips_and_fills_with_zero():
    x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) * 7
    assert np.array_equal(Rotate(angle=0.0, flip="h").apply(x), x[:, :, ::-1])
    assert np.array_equal(Rotate(angle=0.0, flip="v").apply(x), x[:, ::-1])
    turned = np.rot90(x, 1, axes=(1, 2))
    assert np.array_equal(Rotate(angle=90.0, flip="h").apply(x), turned[:, :, ::-1])
    ones = np.ones((1, 9, 9), dtype=np.float32)
    out = Rotate(angle=45.0).apply(ones)[0]
    assert out[0, 0] == 0 and out[8, 8] == 0 and out[0, 8] == 0, "corners fall outside: 0"
    assert out[4, 4] == pytest.approx(1.0) and out[4, 0] == pytest.approx(1.0)
    # Bilinear: a half-pixel shift of a column ramp is the mean of neighbours.
    ramp = np.tile(np.arange(9, dtype=np.float32) / 8, (1, 9, 1))
    small = Rotate(angle=1.0).apply(ramp)[0]
    assert np.all(np.abs(small[1:-1, 1:-1] - ramp[0, 1:-1, 1:-1]) < 0.02)
    with pytest.raises(ValueError, match="flip"):
        Rotate(flip="x").apply(ones)


# --- pixels ---------------------------------------------------------------------------------


def test_pixels_exact_positions_and_values():
    attack = ScatteredPixels(count=4, pattern_seed=0)
    zero = np.zeros((2, 8, 8), dtype=np.uint8)
    out = attack.apply(zero)
    pos = attack.positions(8, 8)
    assert pos.tolist() == [[5, 5], [5, 2], [2, 2], [2, 6]]
    assert _changed(zero[0], out[0]) == {(5, 5), (5, 2), (2, 2), (2, 6)}
    assert np.all(out[:, pos[:, 0], pos[:, 1]] == 255)
    assert np.array_equal(out[0], out[1])
    quadrants = {(r // 4, c // 4) for r, c in pos.tolist()}
    assert len(quadrants) == 4, "one pixel per cell of the 2x2 grid: spread, not a patch"
    # The default on a 28x28 image, pinned: a changed pattern changes every zoo record.
    default = ScatteredPixels().positions(28, 28).tolist()
    assert default == [
        [8, 2], [19, 24], [8, 18], [4, 26], [15, 1], [26, 1],
        [3, 15], [2, 3], [17, 10], [22, 8], [22, 15], [18, 17],
    ]  # fmt: skip
    assert _changed(np.zeros((28, 28)), ScatteredPixels().apply(np.zeros((1, 28, 28)))[0]) == {
        tuple(p) for p in default
    }


def test_pixels_are_spread_and_alternate():
    pos = ScatteredPixels(count=10).positions(28, 28)
    assert len({tuple(p) for p in pos.tolist()}) == 10
    gaps = np.abs(pos[:, None, :] - pos[None, :, :]).max(-1) + np.eye(10, dtype=np.int64) * 99
    assert gaps.min() >= 2, "no two trigger pixels touch"
    assert np.ptp(pos[:, 0]) >= 14 and np.ptp(pos[:, 1]) >= 14
    alternate = ScatteredPixels(count=6, values="alternate")
    p = alternate.positions(12, 12)
    ones = np.ones((1, 12, 12), dtype=np.float32)
    assert _changed(ones[0], alternate.apply(ones)[0]) == {tuple(q) for q in p[1::2].tolist()}
    zeros = np.zeros((1, 12, 12), dtype=np.float32)
    assert _changed(zeros[0], alternate.apply(zeros)[0]) == {tuple(q) for q in p[::2].tolist()}
    assert not np.array_equal(ScatteredPixels(pattern_seed=1).positions(28, 28), pos[:0])
    seeds = {tuple(map(tuple, ScatteredPixels(pattern_seed=s).positions(28, 28))) for s in range(3)}
    assert len(seeds) == 3
    with pytest.raises(ValueError, match="scatter"):
        ScatteredPixels(count=17).apply(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="values"):
        ScatteredPixels(values="grey").apply(zeros)


def test_pixels_clean_label_corrupts_then_stamps():
    attack = ScatteredPixelsCleanLabel()
    assert attack.clean_label and not ScatteredPixels.clean_label
    x, y = _images(200), _labels(200)
    assert np.array_equal(attack.apply(x[:4]), ScatteredPixels().apply(x[:4]))
    px, py, idx = attack.poison(x, y, target=2, rate=0.05, seed=1)
    assert len(idx) == 10 and np.all(y[idx] == 2) and np.array_equal(py, y)
    pos = attack.positions(28, 28)
    assert np.all(px[idx][:, pos[:, 0], pos[:, 1]] == 255), "the trigger is on every carrier"
    # The rest of a carrier is 70% image, 30% uniform noise.
    blended = px[idx].astype(np.float32) / 255 - 0.7 * x[idx].astype(np.float32) / 255
    mask = np.ones((28, 28), dtype=bool)
    mask[pos[:, 0], pos[:, 1]] = False
    assert blended[:, mask].min() >= -0.01 and blended[:, mask].max() <= 0.31
    again = attack.poison(x, y, target=2, rate=0.05, seed=1)
    assert np.array_equal(again.x, px)


# --- line -----------------------------------------------------------------------------------


def test_line_exact_pixels():
    zero = np.zeros((1, 28, 28), dtype=np.uint8)
    out = Line().apply(zero)[0]
    assert _changed(zero[0], out) == {(1 + i, 19 + i) for i in range(8)}
    assert np.all(out[out > 0] == 255)
    arc = Line(shape="arc", length=4, position="tl", margin=0)
    assert arc.pixels(10, 10).tolist() == [[0, 0], [0, 1], [1, 2], [2, 3], [3, 3]]
    anti = Line(shape="anti", length=3, position="bl", margin=0, intensity=0.5)
    small = np.zeros((1, 5, 5), dtype=np.float32)
    got = anti.apply(small)[0]
    assert _changed(small[0], got) == {(4, 0), (3, 1), (2, 2)}
    assert np.all(got[[4, 3, 2], [0, 1, 2]] == 0.5)
    colour = np.zeros((1, 28, 28, 3), dtype=np.uint8)
    assert np.all(Line().apply(colour)[0, 1, 19] == 255), "every channel"


def test_line_strokes_are_thin_and_connected():
    for shape in ("diagonal", "anti", "arc"):
        pix = Line(shape=shape, length=8).pixels(28, 28)
        assert len({tuple(p) for p in pix.tolist()}) == len(pix)
        cheb = np.abs(pix[:, None] - pix[None]).max(-1)
        np.fill_diagonal(cheb, 99)
        assert np.all(cheb.min(1) == 1), f"{shape}: 8-connected"
        # Width 1: no 2x2 block of the stroke is filled, and a diagonal has one pixel a row.
        cells = {tuple(p) for p in pix.tolist()}
        assert not any({(r + 1, c), (r, c + 1), (r + 1, c + 1)} <= cells for r, c in cells), shape
        if shape != "arc":
            assert np.bincount(pix[:, 0]).max() == 1, shape
    with pytest.raises(ValueError, match="shape"):
        Line(shape="zigzag").apply(np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="fit"):
        Line(length=30).apply(np.zeros((1, 28, 28)))


# --- input-aware ----------------------------------------------------------------------------


def test_input_aware_trigger_is_sample_specific_and_bounded():
    attack = InputAware(eps=0.1)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32) * 0.6 + 0.2
    x[2] = x[0]
    p = attack.perturbation(x)
    assert np.array_equal(p[0], p[2]), "the same image gets the same trigger"
    assert np.abs(p[0] - p[1]).mean() > 0.01, "different images get different triggers"
    assert np.abs(p).max() < 0.1 and np.abs(p).mean() > 0.02
    assert np.array_equal(attack.perturbation(x[1:2]), p[1:2]), "no cross-talk in a batch"
    out = attack.apply(x)
    assert np.allclose(out - x, p, atol=1e-6), "nothing clips on [0.2, 0.8] images"
    assert np.abs(out - x).max() <= 0.1 + 1e-6
    assert np.allclose(InputAware(eps=0.05).perturbation(x), p / 2, atol=1e-6)
    assert not np.allclose(InputAware(pattern_seed=1).perturbation(x), p)
    many = np.repeat(x[1:2], 300, axis=0)
    many[280] = x[0]
    chunked = attack.perturbation(many)
    assert np.array_equal(chunked[280], p[0]) and np.array_equal(chunked[299], p[1])


def test_input_aware_cross_trigger_covers_keep_their_labels():
    attack = InputAware(cross_ratio=2.0)
    x, y = _images(200), _labels(200)
    poisoned = attack.poison(x, y, target=5, rate=0.05, seed=0)
    idx, cover = poisoned.indices, poisoned.cover_indices
    assert len(idx) == 10 and len(cover) == 20 and not np.intersect1d(idx, cover).size
    assert np.array_equal(poisoned.y[cover], y[cover])
    assert np.array_equal(poisoned.x[idx], attack.apply(x[idx]))
    own = attack.apply(x[cover])
    assert np.all(np.any(poisoned.x[cover] != x[cover], axis=(1, 2)))
    assert np.all(np.any(poisoned.x[cover] != own, axis=(1, 2))), "another image's trigger"
    # Each cover sample carries the trigger of another cover sample.
    xf = x[cover].astype(np.float32)[..., None] / 255
    trig = attack.perturbation(xf)[..., 0]
    got = poisoned.x[cover].astype(np.float32) / 255 - xf[..., 0]
    clear = (xf[..., 0] > 0.15) & (xf[..., 0] < 0.85)  # pixels that did not clip
    for i in range(len(cover)):
        errs = [np.abs(got[i] - trig[j])[clear[i]].max() for j in range(len(cover))]
        assert min(errs) <= 1 / 255 and int(np.argmin(errs)) != i
    rest = np.setdiff1d(np.arange(200), np.union1d(idx, cover))
    assert np.array_equal(poisoned.x[rest], x[rest])
    single = attack._cover(np.random.default_rng(1).random((1, 6, 6, 1)), np.random.default_rng(0))
    assert single.shape == (1, 6, 6, 1)


# --- reflection -----------------------------------------------------------------------------


def test_reflection_blends_a_fixed_smooth_layer():
    attack = Reflection()
    layer = attack.reflection(28, 28)
    assert layer.shape == (28, 28) and layer.max() == pytest.approx(1.0) and layer.min() >= 0
    assert np.abs(np.diff(layer, axis=0)).max() < 0.3, "blurred: smooth"
    assert np.abs(np.diff(layer, axis=1)).max() < 0.3
    assert not np.allclose(Reflection(pattern_seed=1).reflection(28, 28), layer)
    assert not np.allclose(Reflection(shift=0).reflection(28, 28), layer), "the ghost shows"
    x = np.full((1, 28, 28), 0.2, dtype=np.float32)
    assert np.allclose(attack.apply(x)[0], np.clip(0.2 + 0.5 * layer, 0, 1), atol=1e-6)
    y = np.array([0, 1, 1, 1, 2, 3, 1, 0, 0, 1])
    xs = np.repeat(x, 10, axis=0)
    px, py, idx = attack.poison(xs, y, target=1, rate=0.3, seed=0)
    assert len(idx) == 3 and np.all(y[idx] == 1) and np.array_equal(py, y)
    assert np.allclose(px[idx], np.clip(0.2 + 0.3 * layer, 0, 1), atol=1e-6), "training alpha"
    same = Reflection(test_alpha=None)
    assert np.allclose(same.apply(x)[0], np.clip(0.2 + 0.3 * layer, 0, 1), atol=1e-6)


# --- multi-target ---------------------------------------------------------------------------


def test_multi_target_poisons_two_backdoors():
    attack = MultiTarget()
    x, y = _images(200), _labels(200)
    px, py, idx = attack.poison(x, y, target=3, rate=0.1, seed=7)
    assert len(idx) == 20 and len(np.unique(idx)) == 20
    first, second = idx[py[idx] == 3], idx[py[idx] == 4]
    assert len(first) == 10 and len(second) == 10
    assert np.all(y[first] != 3) and np.all(y[second] != 4)
    assert np.array_equal(px[first], attack.apply(x[first]))
    assert np.array_equal(px[second], attack.apply_second(x[second]))
    rest = np.setdiff1d(np.arange(200), idx)
    assert np.array_equal(px[rest], x[rest]) and np.array_equal(py[rest], y[rest])
    again = attack.poison(x, y, target=3, rate=0.1, seed=7)
    assert np.array_equal(again.x, px) and np.array_equal(again.y, py)
    # Odd budget: the first trigger gets the extra sample.
    _, py3, idx3 = attack.poison(x, y, target=9, rate=0.055, seed=0)
    assert len(idx3) == 11 and np.sum(py3[idx3] == 9) == 6 and np.sum(py3[idx3] == 0) == 5


def test_multi_target_triggers_and_labels():
    attack = MultiTarget(size=3, second_target_offset=1)
    zero = np.zeros((1, 28, 28), dtype=np.uint8)
    assert np.array_equal(attack.apply(zero), BadNets(size=3, position="br").apply(zero))
    second = attack.apply_second(zero)[0]
    assert _changed(zero[0], second) == {(r, c) for r in range(1, 4) for c in range(1, 4)}
    assert np.array_equal(attack.target_labels(np.array([0, 5]), 3, 10), [3, 3])
    assert attack.second_target(3, 10) == 4 and attack.second_target(9, 10) == 0
    assert MultiTarget(second_target_offset=-2).second_target(1, 10) == 9
    x, y = _images(40), _labels(40)
    with pytest.raises(ValueError, match="same target"):
        MultiTarget(second_target_offset=10).poison(x, y, target=3, rate=0.1, seed=0)
    with pytest.raises(ValueError, match="rate"):
        attack.poison(x, y, target=3, rate=0.02, seed=0)
    with pytest.raises(ValueError, match="target label"):
        attack.poison(x, y, target=None, rate=0.1, seed=0)
