"""Differential scanning: discount the shortcuts a trusted baseline model also has.

Some clean models hold a real universal shortcut: a noise blend or a brightening sends every
class to one label, exactly as a Blended backdoor does, and no hard-label test we tried tells
the two apart (docs/verdict.md has the models and figures).
Such a shortcut comes from the architecture and the data, so a model the user trusts, of the same
architecture and trained on the same task (their own training run, or a version vetted before),
has it too. Given one (`bdscan scan --baseline REF.onnx`), the baseline is scanned with the same
data and settings, and every label its own probe search reaches with universality >= SINK_MIN
is a *shared* shortcut: findings that name it (as their label, or as the label the classes
concentrate on) are set aside and the verdict is decided on the rest.

Why the baseline's search figure and not its confirmed one: the search figure is the baseline's
best over every probe (biased upwards), so a shared sink is recognised even when the baseline
reaches it with other probe members than the model under test does.

What it costs: a backdoor whose target is the baseline's own natural sink, reached by the same
probe families, is set aside with the sink. The report keeps the verdict without the baseline
(`evidence.baseline.without_baseline`) so that a reader sees what was discounted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scanner.detectors.evidence import BaselineEvidence, Evidence
from scanner.detectors.probes import ProbeFinding, ProbeResult
from scanner.detectors.search import SearchResult
from scanner.detectors.verdict import CONCENTRATION_MIN
from scanner.errors import UsageError

# Not fitted: the baseline's search universality at which a label counts as its natural sink,
# "half of the samples of three quarters of the other classes". What it gives on the zoo, with
# every pairing of a model and another clean model of its kind: `benchmarks/xray_baseline.py`.
SINK_MIN = 0.5


@dataclass(frozen=True)
class Baseline:
    """What a baseline's scan says about its natural shortcuts."""

    path: str
    sha256: str
    verdict: str
    score: float
    target_label: int | None
    num_classes: int
    per_label_search: tuple[float, ...]
    per_label_search_strong: tuple[float, ...]

    @property
    def sinks(self) -> tuple[int, ...]:
        """Labels the baseline's subtle and visible probes reach (search universality)."""
        return tuple(t for t, v in enumerate(self.per_label_search) if v >= SINK_MIN)

    @property
    def sinks_strong(self) -> tuple[int, ...]:
        """Labels the baseline's strong probes reach."""
        return tuple(t for t, v in enumerate(self.per_label_search_strong) if v >= SINK_MIN)

    @classmethod
    def from_evidence(
        cls,
        evidence: Evidence,
        *,
        path: str,
        sha256: str,
        verdict: str,
        score: float,
        target_label: int | None,
        num_classes: int,
    ) -> Baseline:
        """From the baseline's scan evidence."""
        return cls(
            path=path,
            sha256=sha256,
            verdict=verdict,
            score=float(score),
            target_label=target_label,
            num_classes=int(num_classes),
            per_label_search=evidence.search_universality_per_label,
            per_label_search_strong=evidence.search_universality_per_label_strong,
        )

    def evidence(
        self, set_aside: tuple[ProbeFinding, ...], without: tuple[str, float, int | None]
    ) -> BaselineEvidence:
        """The report's record of what this baseline set aside; `without`: the verdict, score
        and target the scan had without it."""
        return BaselineEvidence(
            path=self.path,
            sha256=self.sha256,
            verdict=self.verdict,
            score=self.score,
            target_label=self.target_label,
            sinks=self.sinks,
            sinks_strong=self.sinks_strong,
            sink_min=SINK_MIN,
            set_aside=set_aside,
            verdict_without=without[0],
            score_without=without[1],
            target_without=without[2],
        )

    def cache_key(self) -> dict[str, Any]:
        """What of the baseline can change a scan's result."""
        return {
            "sha256": self.sha256,
            "sinks": list(self.sinks),
            "sinks_strong": list(self.sinks_strong),
        }


def _shared(f: ProbeFinding, sinks: set[int]) -> bool:
    if f.label in sinks:
        return True
    share, label = f.agreed_concentration
    return label is not None and label in sinks and share >= CONCENTRATION_MIN


def discount(
    probes: ProbeResult, baseline: Baseline
) -> tuple[ProbeResult, tuple[ProbeFinding, ...]]:
    """`probes` without the findings that name one of the baseline's sinks, and with those
    labels' search figures zeroed; and the findings set aside.

    Strong findings are compared with the baseline's strong-probe sinks (a 0.35 grating pushes
    any model further than a subtle one), the others with its subtle and visible sinks.
    """
    n = len(probes.per_label_search)
    if baseline.num_classes != n or len(baseline.per_label_search) != n:
        raise UsageError(
            f"{baseline.path}: the baseline has {baseline.num_classes} classes, the model"
            f" {n}; expected a baseline trained on the same task"
        )
    sinks, sinks_strong = set(baseline.sinks), set(baseline.sinks_strong)
    shared = [_shared(f, sinks_strong if f.probe.strong else sinks) for f in probes.findings]
    kept = tuple(f for f, s in zip(probes.findings, shared, strict=True) if not s)
    set_aside = tuple(f for f, s in zip(probes.findings, shared, strict=True) if s)
    strong = probes.per_label_search_strong
    kept_probes = replace(
        probes,
        findings=kept,
        per_label_search=tuple(
            0.0 if t in sinks else v for t, v in enumerate(probes.per_label_search)
        ),
        per_label_hits=tuple(0 if t in sinks else v for t, v in enumerate(probes.per_label_hits)),
        per_label_search_strong=tuple(
            0.0 if t in sinks_strong else v for t, v in enumerate(strong)
        ),
    )
    return kept_probes, set_aside


def discount_search(search: SearchResult | None, baseline: Baseline) -> SearchResult | None:
    """`search` without the findings whose label is one of the baseline's sinks (subtle,
    visible or strong): a change that reaches a label the trusted model also falls into says
    nothing about this model that the baseline does not."""
    if search is None:
        return None
    sinks = set(baseline.sinks) | set(baseline.sinks_strong)
    return replace(search, findings=tuple(f for f in search.findings if f.label not in sinks))
