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

The check reads data only (no model): it needs the training set the repair is given and clean
samples of every class (`--clean-data`). It is what tells a planted SIG grating from a natural
sink where the scan reads both as a universal shortcut (issue 23: a `shortcut` report names a
natural sink's label on some SIG nets, and aiming the repair there left the backdoor in).

Where it names the repair's target, the same difference is the trigger itself, up to its
strength: `data_pattern` keeps the spatial frequencies that stand out, and `pattern_amplitude`
reads from the model the least strength at which it sends the other classes to the target.
BURN then unlearns that pattern, and the plane sine nearest it (`dominant_sine`), beside the
scan's findings, which only approximate the trigger (a grating's phase or frequency off).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scanner.remediate.config import BurnConfig
    from scanner.remediate.prior import DataPattern, TriggerPrior
    from scanner.report import ScanReport

# Spread of the data the z scores divide by, floored at one grey level so that a pixel that is
# constant in the clean samples (a black background) does not divide by zero.
_GREY_LEVEL = 1.0 / 255.0


@dataclass(frozen=True)
class DataCheck:
    """Per class, how far its training samples sit from its clean samples (NaN where the class
    has too few samples on either side), and the class that stands out, if one does."""

    z_pixel: tuple[float, ...]
    z_frequency: tuple[float, ...]
    label: int | None
    by: str | None  # "pixel" or "frequency": the measure that singled the label out
    note: str
    # Set by the repair that read it: the labels the scan's findings reach, and whether the
    # repair was aimed at `label` (it is only when the findings reach it).
    reached: tuple[int, ...] = ()
    aimed: bool = False
    # The target the scan named that the check overruled (an `infected` report's), if any.
    overruled: int | None = None
    # The named class's pattern (`data_pattern`) on the model being repaired: the spatial
    # frequencies it kept, the least amplitude that fires (None: none up to the largest tried,
    # so it is not unlearned) and the share of other classes' samples it sends there.
    pattern_terms: int = 0
    pattern_amp: float | None = None
    pattern_rate: float | None = None
    # The plane sine nearest the pattern (`dominant_sine`): its correlation with it, and, when
    # that is >= `BurnConfig.data_sine_min_fit`, its own least amplitude that fires and share.
    sine_fit: float | None = None
    sine_amp: float | None = None
    sine_rate: float | None = None

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
        }


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


def wants_data_check(
    method: str,
    config: BurnConfig,
    prior: TriggerPrior | None,
    target_source: str | None,
    has_train: bool,
    has_clean: bool,
) -> bool:
    """Whether a repair reads the training data for its target: BURN given a `shortcut` or
    `clean` report (no target) or an `infected` one whose target came from it (not one the
    user gave), with training data and clean samples to compare it with."""
    verdict = None if prior is None else prior.verdict
    from_report = (verdict in ("shortcut", "clean") and target_source is None) or (
        verdict == "infected" and target_source == "scan-report"
    )
    return method == "burn" and config.data_check and from_report and has_train and has_clean


def aim_by_data(
    report: dict[str, Any] | ScanReport,
    train: tuple[np.ndarray, np.ndarray],
    clean: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: BurnConfig,
    labels_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[DataCheck, tuple[DataPattern, ...]]:
    """The check, with the labels the scan's findings reach, and the named class's pattern and
    its nearest plane sine, those that fire on the model (`labels_of`: the model's labels for
    float NHWC images; None: none read). `aimed` when the check names a class other than the
    report's own target that the findings or its patterns reach (a class the model does not
    answer universally is no target to repair); the report's target is then overruled. The
    patterns come back only where the named class is the repair's target."""
    from scanner.remediate.prior import DataPattern, reached_labels

    check = check_training_data(
        *train, *clean, num_classes,
        min_z=config.data_check_min_z,
        ratio=config.data_check_ratio,
        min_samples=config.data_check_min_samples,
        max_samples=config.data_check_max_samples,
    )  # fmt: skip
    reached = reached_labels(report)
    named = _report_target(report)
    check = replace(check, reached=reached)
    if check.label is None:
        return check, ()
    patterns: list[DataPattern] = []
    label = check.label
    if config.data_pattern and labels_of is not None:
        signal, terms = data_pattern(
            *train, *clean, check.label,
            min_z=config.data_pattern_min_z, max_samples=config.data_check_max_samples,
        )  # fmt: skip
        if signal is not None:

            def fires(candidate: np.ndarray) -> tuple[float | None, float]:
                return pattern_amplitude(
                    labels_of, candidate, *clean, label,
                    amps=config.data_pattern_amps, fire=config.data_pattern_fire,
                    max_samples=config.data_pattern_samples,
                )  # fmt: skip

            amp, rate = fires(signal)
            check = replace(check, pattern_terms=terms, pattern_amp=amp, pattern_rate=rate)
            if amp is not None:
                patterns.append(DataPattern(signal, amp))
            if config.data_sine:
                sine, fit = dominant_sine(signal)
                check = replace(check, sine_fit=fit)
                if fit >= config.data_sine_min_fit:
                    amp, rate = fires(sine)
                    check = replace(check, sine_amp=amp, sine_rate=rate)
                    if amp is not None:
                        patterns.append(DataPattern(sine, amp))
    if check.label == named or (check.label not in reached and not patterns):
        return check, tuple(patterns) if check.label == named else ()
    return replace(check, aimed=True, overruled=named), tuple(patterns)


def _report_target(report: dict[str, Any] | ScanReport) -> int | None:
    from scanner.remediate.prior import prior_from_report

    return prior_from_report(report).target
