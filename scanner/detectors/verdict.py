"""From per-plane label maps to a verdict, a score in [0, 1] and a suspected target label.

The published X-ray stops at per-plane RE and ATS. Our rule asks whether one label takes far more
of the planes than the model's other labels do: an outlier test across the model's own labels,
so that an architecture that simply draws large regions for every label does not look infected.
The statistic and the threshold are calibrated on the zoo (`bdscan bench xray`); see README.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scanner.report import PlaneResult

MAD_SCALE = 1.4826  # makes the MAD a consistent estimate of a normal's standard deviation


@dataclass(frozen=True)
class VerdictRule:
    """Score = logistic((anomaly - threshold) / scale); infected when score >= 0.5."""

    threshold: float = 3.5
    scale: float = 1.0
    # Below this many planes without the label among the anchors, its share is too noisy to test.
    min_off_anchor_planes: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    verdict: str
    score: float
    target_label: int | None
    target_note: str
    evidence: dict[str, Any]


def off_anchor_shares(
    planes: tuple[PlaneResult, ...], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's mean area share over the planes where it is none of the anchors' labels,
    and how many such planes there were. Those planes are the cleanest evidence: a label that
    fills a plane that was not drawn through any of its samples is one the model is drawn to."""
    total = np.zeros(num_classes)
    seen = np.zeros(num_classes, dtype=np.int64)
    for p in planes:
        counts = np.asarray(p.label_counts[:num_classes], dtype=np.float64)
        share = counts / max(sum(p.label_counts), 1)
        off = np.ones(num_classes, dtype=bool)
        off[[lab for lab in p.anchor_labels if lab < num_classes]] = False
        total[off] += share[off]
        seen[off] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
    return mean, seen


def anomaly_index(values: np.ndarray) -> np.ndarray:
    """Robust z-scores (Neural Cleanse's anomaly index), NaN where a value is missing."""
    finite = values[np.isfinite(values)]
    if len(finite) < 3:
        return np.full_like(values, np.nan)
    med = np.median(finite)
    mad = MAD_SCALE * np.median(np.abs(finite - med))
    # A floor on the spread: with near-identical shares the MAD collapses to 0 and any wobble
    # would look infinite.
    mad = max(mad, 0.01)
    return (values - med) / mad


def decide(planes: tuple[PlaneResult, ...], num_classes: int, rule: VerdictRule) -> Decision:
    shares, seen = off_anchor_shares(planes, num_classes)
    usable = seen >= rule.min_off_anchor_planes
    tested = np.where(usable, shares, np.nan)
    anomaly = anomaly_index(tested)
    if not np.isfinite(anomaly).any():
        return Decision(
            "clean",
            0.0,
            None,
            "too few planes to test labels against each other",
            {
                "off_anchor_share": _clean(shares),
                "off_anchor_planes": seen.tolist(),
                "anomaly_index": _clean(anomaly),
                "rule": rule.to_dict(),
            },
        )
    top = int(np.nanargmax(anomaly))
    a = float(anomaly[top])
    score = 1.0 / (1.0 + math.exp(-(a - rule.threshold) / rule.scale))
    infected = score >= 0.5
    if infected:
        note = (
            f"label {top} covers {shares[top]:.0%} of planes drawn through none of its"
            f" samples (anomaly index {a:.1f} >= {rule.threshold})"
        )
        target: int | None = top
    else:
        note = f"no label stands out (largest anomaly index {a:.1f} < {rule.threshold})"
        target = None
    return Decision(
        verdict="infected" if infected else "clean",
        score=round(score, 6),
        target_label=target,
        target_note=note,
        evidence={
            "statistic": "off_anchor_share_anomaly",
            "off_anchor_share": _clean(shares),
            "off_anchor_planes": seen.tolist(),
            "anomaly_index": _clean(anomaly),
            "top_label": top,
            "top_anomaly": round(a, 4),
            "rule": rule.to_dict(),
        },
    )


def _clean(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def top_anomaly(planes: tuple[PlaneResult, ...], num_classes: int, rule: VerdictRule) -> float:
    """The statistic the threshold applies to, recomputed from a report's planes."""
    shares, seen = off_anchor_shares(planes, num_classes)
    anomaly = anomaly_index(np.where(seen >= rule.min_off_anchor_planes, shares, np.nan))
    return float(np.nanmax(anomaly)) if np.isfinite(anomaly).any() else float("-inf")


def calibrate(clean_statistics: list[float], *, fpr: float, base: VerdictRule) -> VerdictRule:
    """A rule whose threshold flags at most `fpr` of these known-clean models.

    Never lowered below the shipped default: a handful of clean models cannot show that a
    laxer threshold is safe, only that a stricter one is needed.
    """
    if not clean_statistics:
        raise ValueError("expected at least one known-clean report")
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"expected fpr in [0, 1), got {fpr}")
    s = np.sort(np.asarray(clean_statistics, dtype=np.float64))
    allowed = int(np.floor(fpr * len(s)))
    # Strictly above the highest clean statistic that must pass, on a 1e-4 grid.
    needed = math.floor(float(s[len(s) - allowed - 1]) * 1e4 + 1) / 1e4
    return VerdictRule(
        threshold=max(base.threshold, needed),
        scale=base.scale,
        min_off_anchor_planes=base.min_off_anchor_planes,
    )


def load_rule(path: str) -> VerdictRule:
    """A rule file written by `bdscan calibrate` (JSON)."""
    import json
    from pathlib import Path

    from scanner.errors import UsageError

    p = Path(path)
    try:
        d = json.loads(p.read_text())
        rule = d.get("rule", d)
        unknown = set(rule) - set(VerdictRule.__dataclass_fields__)
        if unknown:
            raise UsageError(f"{p}: unknown rule keys {sorted(unknown)}")
        return VerdictRule(**{k: type(getattr(VerdictRule(), k))(v) for k, v in rule.items()})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{p}: not a bdscan rule file ({e})") from None
