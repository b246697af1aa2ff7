"""Attribution: is a universal shortcut a planted trigger, or a natural sink of the network?

A probe that sends most classes to one label is evidence of a universal shortcut. Clean networks
have some (a strong grating sends most Fashion-MNIST classes of a BatchNorm net trained with SGD
to "Shirt"); a backdoor is one someone trained in. Two measurements on a probe that found a
shortcut, both from hard labels only:
- dose-response (what the verdict uses): the label's universality when the probed image is
  mixed with the clean one, x + f * (probe(x) - x) for f = 1/4, 1/2, 3/4, 1 (a patch at part
  opacity, a blend or grating at part amplitude: one notion of strength for every family), on a
  fresh draw of samples of every class. A trigger the model learned as a feature keeps much of
  its pull at part strength and saturates; a sink that the perturbation's energy opens rises
  slowly with it.
- breadth (evidence only, unless a rule asks for it): the share of the probe's family and
  strength (every position, pattern, orientation or random draw the scan tried) that also
  reaches the label, from the probe sweep, no extra query. The idea that a natural sink answers
  to most of a family did not hold on the zoo (docs/verdict.md).
`scanner.detectors.verdict.decide` turns them into the verdict `shortcut` or keeps `infected`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scanner.backends.base import LabelOracle
from scanner.detectors.probes import Probe, ProbeResult, universality

__all__ = [
    "ATTRIBUTION_PER_CLASS",
    "BUDGET_ATTRIBUTION_PER_CLASS",
    "DOSE_FRACTIONS",
    "Attribution",
    "attribution_budget",
    "measure",
]

# Mixing fractions at which the dose-response is measured; 1.0 is measured on the same samples
# too, so that the figures compare like with like.
DOSE_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
# Correctly classified samples per class (a fresh draw). 40 halves the variance of the dose
# figures that 20 gave, where the verdict's retention and onset bars sit; a budget's plan
# (scanner.plan) measures on BUDGET_ATTRIBUTION_PER_CLASS instead (docs/verdict.md,
# "Attribution on 40 samples per class").
ATTRIBUTION_PER_CLASS = 40
BUDGET_ATTRIBUTION_PER_CLASS = 20


@dataclass(frozen=True)
class Attribution:
    """What the attribution measured on one finding's probe and label."""

    label: int
    probe: Probe
    breadth: float | None  # None: the report predates the breadth statistic
    dose: tuple[tuple[float, float], ...]  # (mixing fraction, universality to label)
    samples: int
    queries: int

    def at(self, fraction: float) -> float:
        """Universality to the label with the probe mixed in at `fraction`."""
        for f, u in self.dose:
            if abs(f - fraction) < 1e-9:
                return u
        raise KeyError(f"dose {fraction} was not measured")

    @property
    def retention(self) -> float:
        """Universality at half strength over universality at full strength (0 when the full
        probe reaches nobody on these samples)."""
        full = self.at(1.0)
        return self.at(0.5) / full if full > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        # The retention written is the one the written dose gives (a report read back writes
        # out unchanged).
        stored = replace(self, dose=tuple((f, round(u, 4)) for f, u in self.dose))
        return {
            "label": self.label,
            "probe": self.probe.to_dict(),
            "breadth": None if self.breadth is None else round(self.breadth, 4),
            "dose": [[f, u] for f, u in stored.dose],
            "retention": round(stored.retention, 4),
            "samples": self.samples,
            "queries": self.queries,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attribution:
        breadth = d.get("breadth")
        return cls(
            label=int(d["label"]),
            probe=Probe.from_dict(d["probe"]),
            breadth=None if breadth is None else float(breadth),
            dose=tuple((float(f), float(u)) for f, u in d["dose"]),
            samples=int(d["samples"]),
            queries=int(d["queries"]),
        )


def attribution_budget(
    classes: int, candidates: int, per_class: int = ATTRIBUTION_PER_CLASS
) -> int:
    """At most the queries `measure` spends on `candidates` (probe, label) pairs at `per_class`
    samples of each class: picking the samples (two draws per class) and each candidate's
    doses."""
    return 2 * per_class * classes + candidates * len(DOSE_FRACTIONS) * per_class * classes


def attribution_samples(
    oracle: LabelOracle,
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    seed: int,
    per_class: int = ATTRIBUTION_PER_CLASS,
) -> np.ndarray:
    """Indices of up to `per_class` correctly classified samples of each class."""
    rng = np.random.default_rng(seed + 2)
    picked = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))[: 2 * per_class]
        pred = oracle(to_model(x01[idx]))
        picked.append(idx[pred == label][:per_class])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def measure(
    oracle: LabelOracle,
    probes: ProbeResult,
    candidates: list[tuple[Probe, int]],
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
    seed: int,
    per_class: int = ATTRIBUTION_PER_CLASS,
) -> tuple[Attribution, ...]:
    """The attribution of each (probe, label) candidate, on one fresh draw of up to `per_class`
    samples of each class."""
    if not candidates:
        return ()
    idx = attribution_samples(oracle, x01, y, to_model, seed, per_class)
    xs, ys = x01[idx], y[idx]
    sources, row = np.unique(ys, return_inverse=True)
    counts = np.maximum(np.bincount(row, minlength=len(sources)), 1)
    out = []
    for probe, label in candidates:
        start = oracle.queries
        triggered = np.clip(probe.trigger(xs.shape[1:])(xs), 0, 1)  # type: ignore[arg-type]
        dose = []
        for f in DOSE_FRACTIONS:  # one fraction at a time: large images stay one array's worth
            mixed = (xs + f * (triggered - xs)).astype(np.float32)
            p = np.clip(oracle(to_model(mixed)), 0, num_classes - 1)
            rates = np.zeros((len(sources), num_classes))
            np.add.at(rates, (row, p), 1.0)
            u = universality(rates / counts[:, None], sources)[label]
            dose.append((f, float(u)))
        out.append(
            Attribution(
                label=label,
                probe=probe,
                breadth=probes.breadth_of(probe, label),
                dose=tuple(dose),
                samples=len(idx),
                queries=oracle.queries - start,
            )
        )
    return tuple(out)
