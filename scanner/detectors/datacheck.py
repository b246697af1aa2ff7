"""The training data's check of the target: the one class whose training samples differ from
its clean samples.

A backdoor's poison sits in its target class's training samples. A clean-label attack (SIG)
adds its pattern to most of that class's samples; a dirty-label one relabels triggered samples
of other classes to it. Either way the class's mean training image moves away from its mean
clean image, along the trigger, and no other class's does. The difference is measured per
pixel (a stamp, scattered pixels) and per spatial frequency (a faint pattern spread over the
whole image gathers into one Fourier coefficient), each in units of its standard error, so that
a class's score is the largest such z over pixels or frequencies. Under no poison that maximum
is that of a few hundred standard normals; one class far above every other names the target.

The check reads data only (no model): the training set (`bdscan scan --train-data`, `bdscan
remediate --train-data`) and clean samples of every class (the scan's DATA, remediate's
`--clean-data`). It tells a planted SIG grating from a natural sink where the scan reads both
as a universal shortcut (issues 21 and 23): the scan attributes its finding by it
(`scanner.detectors.by_data`), the repair aims by it (`scanner.remediate.datacheck`).

Where it names a class, the same difference is the trigger itself, up to its strength:
`data_pattern` keeps the spatial frequencies that stand out, `dominant_sine` the plane sine
nearest them, and `pattern_amplitude` reads from the model the least strength at which one
sends the other classes to the class (`read_patterns`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from scanner.detectors.thresholds import value

# Spread of the data the z scores divide by, floored at one grey level so that a pixel that is
# constant in the clean samples (a black background) does not divide by zero.
_GREY_LEVEL = 1.0 / 255.0


@dataclass(frozen=True)
class DataCheckConfig:
    """The check's settings, one place for the scan and the repair (`BurnConfig` carries the
    same values under `data_check_*`, `data_pattern_*` and `data_sine_*`, which --burn-set
    moves).

    A class is named when its z is >= `min_z` at a pixel or a spatial frequency and >= `ratio`
    times every other class's; classes with fewer than `min_samples` on either side are not
    measured; at most `max_samples` per class are read. Hand-set on the stored sets 31, 32 and
    41-50 (114 nets) before any repair or scan used them: planted all-to-one targets z 21.5-391
    at a pixel, every other class of those nets <= 6.0, clean nets <= 5.8, all-to-all nets
    10.5-17.2 in every class (docs/remediation.md section 47).

    The named class's pattern keeps the frequencies with z >= `pattern_min_z` (5: above the
    largest z of a frequency of a class with no poison, <= 3.7 on the 94 nets of sets 44-53);
    it fires at the least of `pattern_amps` (0.4 is past the scan's grating grid, 0.3) that
    sends >= `fire` of `pattern_samples` clean samples of the other classes to the class. The
    plane sine nearest it is read too when their correlation is >= `sine_min_fit` (0.8,
    hand-set on the fifty-fourth set's nine SIG nets, 0.88-0.995; section 48).

    The named class's stamp (`data_stamp`): where its training samples are a mixture with at
    least `stamp_min_mix` of other classes' images (a dirty-label poison relabels them), the
    pixels whose difference the mixture's content does not explain at z >= `pattern_min_z`,
    at most `stamp_max_share` of the image (the verdict's own cap on a planted stamp,
    `mask_cost_max`). 0.05 hand-set: the zoo's dirty-label nets mix 0.31-0.49 (seven seen nets
    of sets 36, 52 and 56), an unpoisoned class none."""

    min_z: float = 10.0
    ratio: float = 3.0
    min_samples: int = 20
    max_samples: int = 2000
    pattern: bool = True
    pattern_min_z: float = 5.0
    pattern_amps: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
    fire: float = 0.5
    pattern_samples: int = 500
    sine: bool = True
    sine_min_fit: float = 0.8
    stamp: bool = True
    stamp_min_mix: float = 0.05
    stamp_max_share: float = value("mask_cost_max")
    # The class's blend (`data_blend`), where its mixture's change is too wide for a stamp (so
    # read only with `stamp`, whose pixel count says so): by the repair unless told not to
    # (`BurnConfig.data_blend`), not by the scan's verdict.
    blend: bool = False
    # The largest change a blend can make: its poisoned image (1 - a) x + a P moves a pixel by
    # a (P - x), at most a <= 1 in [0, 1] images. A larger read is no mixture of images (on nine
    # seen SIG nets a grating on the class's own samples read 2.0-3.5, and the repair sat out
    # the whole class for it; the zoo's blends read 0.15-0.45; docs/remediation.md sections 53
    # and 54).
    blend_max_amp: float = 1.0
    # Read the blend too where the stamp was read (the change stood out on a stamp's few
    # pixels) but does not fire on the model: an opacity-0.15 blend's change stood out on 31
    # pixels of 784, its stamp sent 0.6% there, and the repair without the blend left ASR 0.480
    # (docs/remediation.md section 54).
    blend_after_stamp: bool = True

    def pattern_queries(self) -> int:
        """The most queries `read_patterns` sends (the pattern and its sine at every amplitude,
        the stamp and the blend once)."""
        sweep = (1 + int(self.sine)) * len(self.pattern_amps) if self.pattern else 0
        return (sweep + int(self.stamp) + int(self.blend)) * self.pattern_samples

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DataCheck:
    """Per class, how far its training samples sit from its clean samples (NaN where the class
    has too few samples on either side), and the class that stands out, if one does."""

    z_pixel: tuple[float, ...]
    z_frequency: tuple[float, ...]
    label: int | None
    by: str | None  # "pixel" or "frequency": the measure that singled the label out
    note: str
    # Set by the stage that read it: the labels the scan's findings reach; whether the repair
    # was aimed at `label` (`bdscan remediate`) or the scan's verdict rests on it (`bdscan scan
    # --train-data`, `attributed`); both only when the model answers the class.
    reached: tuple[int, ...] = ()
    aimed: bool = False
    # The target the scan named that the check overruled (an `infected` report's), if any.
    overruled: int | None = None
    # The named class's pattern (`data_pattern`) on the model: the spatial frequencies it
    # kept, the least amplitude that fires (None: none up to the largest tried, so it is not
    # unlearned) and the share of other classes' samples it sends there.
    pattern_terms: int = 0
    pattern_amp: float | None = None
    pattern_rate: float | None = None
    # The plane sine nearest the pattern (`dominant_sine`): its correlation with it, and, when
    # that is >= `DataCheckConfig.sine_min_fit`, its own least amplitude that fires and share.
    sine_fit: float | None = None
    sine_amp: float | None = None
    sine_rate: float | None = None
    attributed: bool = False
    # The named class's stamp (`data_stamp`): its pixels (0: none stands out, or the class is
    # no mixture), the share of other classes' images its training samples hold, the share of
    # other classes' clean samples it sends to the class, and the stamp itself (a search space
    # "mask" point) where that share reaches `DataCheckConfig.fire`.
    stamp_pixels: int = 0
    stamp_mix: float | None = None
    stamp_rate: float | None = None
    stamp: dict[str, Any] | None = None
    # The named class's blend (`data_blend`), where it was read: its largest |change| and the
    # share of other classes' clean samples it sends to the class at that strength.
    blend_amp: float | None = None
    blend_rate: float | None = None
    blend: bool = False  # it fired, so the repair unlearns it

    def to_dict(self) -> dict[str, Any]:
        def rounded(values: tuple[float, ...]) -> list[float | None]:
            return [None if math.isnan(v) else round(v, 2) for v in values]

        return {
            "label": self.label,
            "by": self.by,
            "z_pixel": rounded(self.z_pixel),
            "z_frequency": rounded(self.z_frequency),
            "note": self.note,
            "reached": list(self.reached),
            "aimed": self.aimed,
            "overruled": self.overruled,
            "pattern": {
                "terms": self.pattern_terms,
                "amp": self.pattern_amp,
                "rate": None if self.pattern_rate is None else round(self.pattern_rate, 4),
            },
            "sine": {
                "fit": None if self.sine_fit is None else round(self.sine_fit, 4),
                "amp": self.sine_amp,
                "rate": None if self.sine_rate is None else round(self.sine_rate, 4),
            },
            "attributed": self.attributed,
            "stamp": {
                "pixels": self.stamp_pixels,
                "mix": None if self.stamp_mix is None else round(self.stamp_mix, 4),
                "rate": None if self.stamp_rate is None else round(self.stamp_rate, 4),
                "point": self.stamp,
            },
            "blend": {
                "amp": None if self.blend_amp is None else round(self.blend_amp, 4),
                "rate": None if self.blend_rate is None else round(self.blend_rate, 4),
                "fired": self.blend,
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataCheck:
        """From `to_dict`'s form (a report's `xray.evidence.data_check`)."""

        def zs(values: Any) -> tuple[float, ...]:
            return tuple(math.nan if v is None else float(v) for v in values or ())

        def num(value: Any) -> float | None:
            return None if value is None else float(value)

        pattern, sine, stamp = d.get("pattern") or {}, d.get("sine") or {}, d.get("stamp") or {}
        blend = d.get("blend") or {}
        label, overruled = d.get("label"), d.get("overruled")
        return cls(
            z_pixel=zs(d.get("z_pixel")),
            z_frequency=zs(d.get("z_frequency")),
            label=None if label is None else int(label),
            by=d.get("by"),
            note=str(d.get("note", "")),
            reached=tuple(int(v) for v in d.get("reached") or ()),
            aimed=bool(d.get("aimed", False)),
            overruled=None if overruled is None else int(overruled),
            pattern_terms=int(pattern.get("terms", 0)),
            pattern_amp=num(pattern.get("amp")),
            pattern_rate=num(pattern.get("rate")),
            sine_fit=num(sine.get("fit")),
            sine_amp=num(sine.get("amp")),
            sine_rate=num(sine.get("rate")),
            attributed=bool(d.get("attributed", False)),
            stamp_pixels=int(stamp.get("pixels", 0)),
            stamp_mix=num(stamp.get("mix")),
            stamp_rate=num(stamp.get("rate")),
            stamp=stamp.get("point"),
            blend_amp=num(blend.get("amp")),
            blend_rate=num(blend.get("rate")),
            blend=bool(blend.get("fired", False)),
        )


def _moments(
    x: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and variance per pixel, and mean and variance (real plus imaginary part) per
    spatial frequency, of NHWC images (the frequency's over H and W, per channel); summed in
    chunks, so that large images cost one chunk's transform at a time."""
    n = len(x)
    s1 = np.zeros(x.shape[1:])
    s2 = np.zeros(x.shape[1:])
    f1 = np.zeros(x.shape[1:], dtype=np.complex128)
    f2 = np.zeros(x.shape[1:])
    for start in range(0, n, chunk):
        part = x[start : start + chunk].astype(np.float64)
        f = np.fft.fft2(part, axes=(1, 2))
        s1 += part.sum(axis=0)
        s2 += (part**2).sum(axis=0)
        f1 += f.sum(axis=0)
        f2 += (f.real**2 + f.imag**2).sum(axis=0)
    mean, mean_f = s1 / n, f1 / n
    var = np.maximum(s2 / n - mean**2, 0.0)
    var_f = np.maximum(f2 / n - (mean_f.real**2 + mean_f.imag**2), 0.0)
    return mean, var, mean_f, var_f


def _spread(x: np.ndarray, y: np.ndarray, label: int, most: int) -> np.ndarray:
    """At most `most` of the samples labelled `label`, evenly spaced over them (copied once)."""
    idx = np.flatnonzero(y == label)
    if len(idx) > most:
        idx = idx[np.linspace(0, len(idx) - 1, most).round().astype(np.int64)]
    return x[idx]


def _z(
    a: tuple[np.ndarray, np.ndarray, int], b: tuple[np.ndarray, np.ndarray, int], floor: float
) -> np.ndarray:
    """|mean_a - mean_b| over its standard error, from (mean, variance, count) of each side."""
    (mean_a, var_a, n_a), (mean_b, var_b, n_b) = a, b
    return np.abs(mean_a - mean_b) / np.sqrt((var_a + floor) / n_a + (var_b + floor) / n_b)


def check_training_data(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    num_classes: int,
    *,
    min_z: float,
    ratio: float,
    min_samples: int,
    max_samples: int,
) -> DataCheck:
    """Compare each class's training samples with its clean samples (float NHWC in [0, 1]).

    A class is named when, by one measure (pixel or frequency), its z is >= `min_z` and >=
    `ratio` times every other measured class's; an all-to-all poison moves every class and
    names none. At most `max_samples` per class on each side are read, spread evenly over the
    class's samples (poison appended at the end of a file is read too); a class with fewer
    than `min_samples` on either side is not measured."""
    z_pix = [math.nan] * num_classes
    z_freq = [math.nan] * num_classes
    h, w = x_train.shape[1], x_train.shape[2]
    # One grey level in every pixel is a coefficient of h * w grey levels' energy.
    floor_pix, floor_freq = _GREY_LEVEL**2, (_GREY_LEVEL**2) * h * w
    for c in range(num_classes):
        a, b = _spread(x_train, y_train, c, max_samples), _spread(x_clean, y_clean, c, max_samples)
        if len(a) < min_samples or len(b) < min_samples:
            continue
        ma, va, fa, vfa = _moments(a)
        mb, vb, fb, vfb = _moments(b)
        z_pix[c] = float(_z((ma, va, len(a)), (mb, vb, len(b)), floor_pix).max())
        zf = _z((fa, vfa, len(a)), (fb, vfb, len(b)), floor_freq)
        zf[0, 0] = 0.0  # the mean brightness: the pixels' measure has it
        z_freq[c] = float(zf.max())
    measured = [c for c in range(num_classes) if not math.isnan(z_pix[c])]
    if len(measured) < 3:
        note = f"not run: {len(measured)} classes with >= {min_samples} samples on both sides"
        return DataCheck(tuple(z_pix), tuple(z_freq), None, None, note)
    named: dict[str, int] = {}
    for by, z in (("pixel", z_pix), ("frequency", z_freq)):
        order = sorted(measured, key=lambda c: -z[c])
        top, second = z[order[0]], z[order[1]]
        if top >= min_z and top >= ratio * second:
            named[by] = order[0]
    labels = set(named.values())
    if len(labels) == 1:
        by = "pixel" if "pixel" in named else "frequency"
        label = named[by]
        z = z_pix if by == "pixel" else z_freq
        rest = max(z[c] for c in measured if c != label)
        note = (
            f"class {label}'s training samples differ from its clean samples (z {z[label]:.1f}"
            f" at a {'pixel' if by == 'pixel' else 'spatial frequency'}; every other class"
            f" <= {rest:.1f})"
        )
        return DataCheck(tuple(z_pix), tuple(z_freq), label, by, note)
    top_pix = max(z_pix[c] for c in measured)
    top_freq = max(z_freq[c] for c in measured)
    note = (
        f"no class stands out (largest z {top_pix:.1f} at a pixel, {top_freq:.1f} at a spatial"
        f" frequency)"
        if not labels
        else f"two classes stand out ({', '.join(f'{c} by {b}' for b, c in named.items())})"
    )
    return DataCheck(tuple(z_pix), tuple(z_freq), None, None, note)


def data_pattern(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    label: int,
    *,
    min_z: float,
    max_samples: int,
) -> tuple[np.ndarray | None, int]:
    """(pattern, terms): class `label`'s mean training image minus its mean clean image, kept
    at the spatial frequencies (per channel, not the mean brightness) whose z is >= `min_z`,
    as float32 HWC scaled to a largest |value| of 1; (None, 0) when no frequency stands out.

    Why frequencies: a clean-label trigger added to a share of the class is one pattern in
    the difference, and noise elsewhere; the few frequencies it occupies stand far above the
    noise's, so the pattern comes back at its own phase and frequency (a slant or a frequency
    between whole cycles spreads over a few neighbours, all kept), though as the poisoned
    images held it, clipped where they were black (`dominant_sine`)."""
    a, b = (
        _spread(x_train, y_train, label, max_samples),
        _spread(x_clean, y_clean, label, max_samples),
    )
    if len(a) < 2 or len(b) < 2:
        return None, 0
    _, _, fa, vfa = _moments(a)
    _, _, fb, vfb = _moments(b)
    h, w = a.shape[1], a.shape[2]
    floor = (_GREY_LEVEL**2) * h * w
    z = _z((fa, vfa, len(a)), (fb, vfb, len(b)), floor)
    z[0, 0] = 0.0
    keep = z >= min_z
    if not keep.any():
        return None, 0
    pattern = np.real(np.fft.ifft2(np.where(keep, fa - fb, 0.0), axes=(0, 1)))
    top = float(np.abs(pattern).max())
    if top == 0.0:
        return None, 0
    return (pattern / top).astype(np.float32), int(keep.sum())


def pattern_carriers(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    label: int,
    pattern: np.ndarray,
    *,
    z: float,
) -> np.ndarray:
    """A mask over the training samples: those of class `label` whose projection on `pattern`
    exceeds the class's clean samples' mean projection by `z` of their standard deviations
    (a grating added to an image moves its projection by the grating's own energy, whatever
    the image). All False when the class has fewer than two clean samples."""
    out = np.zeros(len(y_train), dtype=bool)
    clean = np.flatnonzero(y_clean == label)
    if len(clean) < 2:
        return out
    unit = (pattern / max(float(np.linalg.norm(pattern)), 1e-12)).astype(np.float32)

    def projection(x: np.ndarray) -> np.ndarray:
        return np.einsum("nhwc,hwc->n", x.astype(np.float32), unit)

    ref = projection(x_clean[clean])
    bar = float(ref.mean()) + z * float(ref.std())
    members = np.flatnonzero(y_train == label)
    out[members] = projection(x_train[members]) > bar
    return out


def scrub_patterns(
    x: np.ndarray,
    carriers: np.ndarray,
    x_reference: np.ndarray,
    signals: Sequence[np.ndarray],
) -> np.ndarray:
    """A copy of `x` (float NHWC in [0, 1]) whose `carriers` have their component in the span of
    `signals` (HWC) set back to the mean of `x_reference`'s (the class's clean samples), clipped
    to [0, 1]: the image without the grating added to it, its own content kept. Why: sitting
    the carriers out left a class trained on the ~20% of its samples the poison spared."""
    out = np.array(x, dtype=np.float32, copy=True)
    rows = np.flatnonzero(carriers)
    if len(rows) == 0 or not signals or len(x_reference) == 0:
        return out
    basis, _ = np.linalg.qr(np.stack([np.ravel(s).astype(np.float64) for s in signals], axis=1))
    flat = out[rows].reshape(len(rows), -1).astype(np.float64)
    mean = (x_reference.reshape(len(x_reference), -1).astype(np.float64) @ basis).mean(axis=0)
    excess = (flat @ basis - mean) @ basis.T
    out[rows] = np.clip(flat - excess, 0.0, 1.0).reshape(out[rows].shape).astype(np.float32)
    return out


def dominant_sine(pattern: np.ndarray, pad: int = 4) -> tuple[np.ndarray, float]:
    """(sine, fit): the single plane sinusoid nearest `pattern` (float HWC), as float32 HWC
    with a largest |value| of 1, and its correlation with the pattern.

    Its frequency is the peak of the channels' mean pattern's spectrum zero-padded `pad`
    times (so a sine between whole cycles, or at a slant, is found between the bins), its
    phase and per-channel amplitude a least-squares fit. Why: the training difference of a
    clean-label sine is the sine clipped where the images are black (Fashion-MNIST's
    background), so the kept frequencies give back a half-rectified copy (correlation
    0.88-0.995 with the planted sine on the fifty-fourth set); the repair unlearned that copy
    and the planted sine still fired on part of the samples."""
    h, w, c = pattern.shape
    mean = pattern.mean(axis=2)
    spectrum = np.abs(np.fft.rfft2(mean, s=(pad * h, pad * w)))
    spectrum[0, 0] = 0.0
    ky, kx = np.unravel_index(int(spectrum.argmax()), spectrum.shape)
    fy = (ky if ky <= pad * h // 2 else ky - pad * h) / (pad * h)
    fx = kx / (pad * w)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    theta = 2 * np.pi * (fy * rows + fx * cols)
    basis = np.stack([np.sin(theta).ravel(), np.cos(theta).ravel(), np.ones(h * w)], axis=1)
    sine = np.zeros_like(pattern, dtype=np.float64)
    for ch in range(c):
        coef, *_ = np.linalg.lstsq(basis, pattern[..., ch].ravel(), rcond=None)
        sine[..., ch] = (basis[:, :2] @ coef[:2]).reshape(h, w)
    top = float(np.abs(sine).max())
    if top == 0.0:
        return sine.astype(np.float32), 0.0
    fit = float(np.corrcoef(sine.ravel(), pattern.ravel())[0, 1])
    return (sine / top).astype(np.float32), fit


def pattern_amplitude(
    labels_of: Callable[[np.ndarray], np.ndarray],
    pattern: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    target: int,
    *,
    amps: tuple[float, ...],
    fire: float,
    max_samples: int,
) -> tuple[float | None, float]:
    """(amplitude, rate): the least of `amps` at which `pattern` added to samples of classes
    other than `target` sends a share >= `fire` of them there (at most `max_samples` of them,
    spread evenly), with that share; (None, the largest share seen) when none does.
    `labels_of` answers labels for float NHWC images in [0, 1]."""
    idx = np.flatnonzero(y != target)
    if len(idx) > max_samples:
        idx = idx[np.linspace(0, len(idx) - 1, max_samples).round().astype(np.int64)]
    if len(idx) == 0:
        return None, 0.0
    others = x[idx].astype(np.float32)
    best = 0.0
    for amp in sorted(amps):
        stamped = np.clip(others + amp * pattern[None], 0.0, 1.0).astype(np.float32)
        rate = float(np.mean(labels_of(stamped) == target))
        if rate >= fire:
            return float(amp), rate
        best = max(best, rate)
    return None, best


@dataclass(frozen=True)
class _Mixture:
    """Class `label`'s training difference from its clean samples split as a dirty-label
    mixture reads it (`_mixture`): the share `mix` of other classes' images it holds, what
    that content leaves unexplained (`left`, HWC), its standard error, and the other classes'
    clean mean image."""

    mix: float
    left: np.ndarray
    se: np.ndarray
    mean_other: np.ndarray


def _mixture(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    label: int,
    *,
    min_z: float,
    max_samples: int,
) -> _Mixture | None:
    """A dirty-label attack adds triggered images of other classes to the class, so its mean
    training image is (1 - mix) * its clean mean + mix * (the other classes' clean mean + the
    trigger's change). The difference from its clean mean is then mix * the other classes'
    content plus mix * the trigger's change; `mix` is fitted by least squares over the pixels
    the trigger leaves alone (refitted without those that stand out at `min_z`, three times).
    None where either side has fewer than two samples."""
    a = _spread(x_train, y_train, label, max_samples).astype(np.float64)
    b = _spread(x_clean, y_clean, label, max_samples).astype(np.float64)
    others = x_clean[y_clean != label]
    if len(others) > max_samples:
        pick = np.linspace(0, len(others) - 1, max_samples).round().astype(np.int64)
        others = others[pick]
    if len(a) < 2 or len(b) < 2 or len(others) < 2:
        return None
    mean_o = others.astype(np.float64).mean(axis=0)
    diff = a.mean(axis=0) - b.mean(axis=0)
    content = mean_o - b.mean(axis=0)
    floor = _GREY_LEVEL**2
    se = np.sqrt((a.var(axis=0) + floor) / len(a) + (b.var(axis=0) + floor) / len(b))
    fit = np.ones(diff.shape, dtype=bool)
    mix = 0.0
    for _ in range(3):
        denom = float((content[fit] ** 2).sum())
        mix = float((diff[fit] * content[fit]).sum() / denom) if denom > 0 else 0.0
        fit = np.abs(diff - mix * content) / se < min_z
    return _Mixture(mix=mix, left=diff - mix * content, se=se, mean_other=mean_o)


def data_stamp(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    label: int,
    *,
    min_z: float,
    max_samples: int,
    min_mix: float,
    max_share: float,
) -> tuple[dict[str, Any] | None, float | None, int]:
    """(point, mix, pixels): class `label`'s dirty-label stamp as a search space "mask" point
    (None when there is none), the share of other classes' images its training samples hold,
    and the pixels that stand out.

    Why: what the mixture's content leaves unexplained (`_mixture`) stands out only where the
    trigger is. A scattered-pixel trigger spreads over every spatial frequency, so
    `data_pattern` does not rebuild it; this does, pixel by pixel, at the value the trigger
    sets (the other classes' mean plus what is left over `mix`)."""
    fitted = _mixture(
        x_train, y_train, x_clean, y_clean, label, min_z=min_z, max_samples=max_samples
    )
    if fitted is None:
        return None, None, 0
    mix = fitted.mix
    if mix < min_mix:
        return None, mix, 0
    mask = (np.abs(fitted.left) / fitted.se >= min_z).any(axis=2)
    h, w, c = fitted.left.shape
    pixels = int(mask.sum())
    if pixels == 0 or pixels > max_share * h * w:
        return None, mix, pixels
    values = np.clip(fitted.mean_other + fitted.left / mix, 0.0, 1.0)
    rows, cols = np.nonzero(mask)
    params = {
        "shape": [h, w, c],
        "pixels": [[int(r), int(q)] for r, q in zip(rows, cols, strict=True)],
        "values": [
            [round(float(v), 4) for v in values[r, q]] for r, q in zip(rows, cols, strict=True)
        ],
    }
    return {"space": "mask", "params": params}, mix, pixels


def data_blend(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_clean: np.ndarray,
    y_clean: np.ndarray,
    label: int,
    *,
    min_z: float,
    max_samples: int,
    min_mix: float,
) -> np.ndarray | None:
    """Class `label`'s dirty-label change as an additive float32 HWC image, read where the
    class is a mixture (`mix` >= `min_mix`): what its content leaves unexplained, over `mix`.

    Why: a blend's poisoned image (1 - a) x + a P is x + a (P - x); averaged over the other
    classes' images that is their mean plus a (P - their mean), the change this gives back
    (the scan's blend probes draw other patterns, and on the fifty-eighth set's ResNet-8 one
    round left it at ASR 0.116). Where the trigger covers more pixels than a stamp may
    (`data_stamp` gives none), it is read as this whole-image change."""
    fitted = _mixture(
        x_train, y_train, x_clean, y_clean, label, min_z=min_z, max_samples=max_samples
    )
    if fitted is None or fitted.mix < min_mix:
        return None
    return (fitted.left / fitted.mix).astype(np.float32)


def blend_carriers(
    labels_of: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    label: int,
    change: np.ndarray,
    *,
    chunk: int = 4096,
) -> np.ndarray:
    """A mask over the samples: those labelled `label` that the model (`labels_of`) gives
    `label` and, once `change` is taken away (clipped to [0, 1]), another label: the other
    classes' images the blend carried into the class. A projection on the change does not
    single them out (their own content moves it as much)."""
    out = np.zeros(len(y), dtype=bool)
    members = np.flatnonzero(y == label)
    for start in range(0, len(members), chunk):
        idx = members[start : start + chunk]
        imgs = np.asarray(x[idx], dtype=np.float32)
        as_is = labels_of(imgs) == label
        undone = labels_of(np.clip(imgs - change[None], 0.0, 1.0).astype(np.float32)) != label
        out[idx] = as_is & undone
    return out


def stamp_rate(
    labels_of: Callable[[np.ndarray], np.ndarray],
    point: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    target: int,
    max_samples: int,
) -> float:
    """The share of at most `max_samples` clean samples of classes other than `target` (spread
    evenly) that `point`'s stamp sends there."""
    from scanner.detectors.spaces import Point

    idx = np.flatnonzero(y != target)
    if len(idx) > max_samples:
        idx = idx[np.linspace(0, len(idx) - 1, max_samples).round().astype(np.int64)]
    if len(idx) == 0:
        return 0.0
    stamped = Point.from_dict(point).apply(x[idx].astype(np.float32)).astype(np.float32)
    return float(np.mean(labels_of(stamped) == target))


def run_check(
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: DataCheckConfig,
) -> DataCheck:
    """`check_training_data` with `config`'s settings."""
    return check_training_data(
        *train, *clean, num_classes,
        min_z=config.min_z, ratio=config.ratio,
        min_samples=config.min_samples, max_samples=config.max_samples,
    )  # fmt: skip


def read_patterns(
    check: DataCheck,
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    config: DataCheckConfig,
    labels_of: Callable[[np.ndarray], np.ndarray],
) -> tuple[DataCheck, tuple[tuple[np.ndarray, float, str], ...]]:
    """The named class's stamp, blend, pattern and the plane sine nearest the pattern, read on
    the model (`labels_of`: its labels for float NHWC images in [0, 1]): the check with what
    they gave (the stamp in `check.stamp` where it fires), and the changes that fire, each as
    (signal with a largest |value| of 1, least firing amplitude, "pattern", "sine" or
    "blend"), the blend last."""
    label = check.label
    if label is None:
        return check, ()
    blend: tuple[np.ndarray, float, str] | None = None
    if config.stamp:
        point, mix, pixels = data_stamp(
            *train, *clean, label,
            min_z=config.pattern_min_z, max_samples=config.max_samples,
            min_mix=config.stamp_min_mix, max_share=config.stamp_max_share,
        )  # fmt: skip
        check = replace(check, stamp_pixels=pixels, stamp_mix=mix)
        if point is not None:
            rate = stamp_rate(labels_of, point, *clean, label, config.pattern_samples)
            check = replace(check, stamp_rate=rate, stamp=point if rate >= config.fire else None)
        h, w = train[0].shape[1:3]
        wide = pixels > config.stamp_max_share * h * w
        unanswered = point is not None and check.stamp is None and config.blend_after_stamp
        if config.blend and (wide or unanswered):
            check, blend = _read_blend(check, train, clean, config, labels_of)
    fired: list[tuple[np.ndarray, float, str]] = []
    signal, terms = None, 0
    if config.pattern:
        signal, terms = data_pattern(
            *train, *clean, label, min_z=config.pattern_min_z, max_samples=config.max_samples
        )
    if signal is not None:

        def fires(candidate: np.ndarray) -> tuple[float | None, float]:
            return pattern_amplitude(
                labels_of, candidate, *clean, label,
                amps=config.pattern_amps, fire=config.fire, max_samples=config.pattern_samples,
            )  # fmt: skip

        amp, rate = fires(signal)
        check = replace(check, pattern_terms=terms, pattern_amp=amp, pattern_rate=rate)
        if amp is not None:
            fired.append((signal, amp, "pattern"))
        if config.sine:
            sine, fit = dominant_sine(signal)
            check = replace(check, sine_fit=fit)
            if fit >= config.sine_min_fit:
                amp, rate = fires(sine)
                check = replace(check, sine_amp=amp, sine_rate=rate)
                if amp is not None:
                    fired.append((sine, amp, "sine"))
    if blend is not None:
        fired.append(blend)
    return check, tuple(fired)


def _read_blend(
    check: DataCheck,
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    config: DataCheckConfig,
    labels_of: Callable[[np.ndarray], np.ndarray],
) -> tuple[DataCheck, tuple[np.ndarray, float, str] | None]:
    """The named class's blend (`data_blend`) and whether it fires at its own strength."""
    assert check.label is not None
    change = data_blend(
        *train, *clean, check.label,
        min_z=config.pattern_min_z, max_samples=config.max_samples, min_mix=config.stamp_min_mix,
    )  # fmt: skip
    if change is None:
        return check, None
    amp = float(np.abs(change).max())
    if amp == 0.0:
        return check, None
    if amp > config.blend_max_amp:
        return replace(check, blend_amp=round(amp, 4), blend=False), None
    signal = (change / amp).astype(np.float32)
    fired, rate = pattern_amplitude(
        labels_of, signal, *clean, check.label,
        amps=(amp,), fire=config.fire, max_samples=config.pattern_samples,
    )  # fmt: skip
    check = replace(check, blend_amp=round(amp, 4), blend_rate=rate, blend=fired is not None)
    return check, None if fired is None else (signal, amp, "blend")
