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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scanner.remediate.config import BurnConfig
    from scanner.remediate.prior import TriggerPrior
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
) -> DataCheck:
    """The check, with the labels the scan's findings reach; `aimed` when it names one of them
    (a class the model does not answer universally is no target to repair) other than the
    report's own target, which it then overrules."""
    from scanner.remediate.prior import reached_labels

    check = check_training_data(
        *train, *clean, num_classes,
        min_z=config.data_check_min_z,
        ratio=config.data_check_ratio,
        min_samples=config.data_check_min_samples,
        max_samples=config.data_check_max_samples,
    )  # fmt: skip
    reached = reached_labels(report)
    named = _report_target(report)
    if check.label is None or check.label not in reached or check.label == named:
        return replace(check, reached=reached)
    return replace(check, reached=reached, aimed=True, overruled=named)


def _report_target(report: dict[str, Any] | ScanReport) -> int | None:
    from scanner.remediate.prior import prior_from_report

    return prior_from_report(report).target
