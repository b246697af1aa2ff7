"""The scan's evidence, typed: the figures the verdict rule read, what attribution, the trigger
search and the example measured, and the verdict's trace. Every layer above the detectors reads
these fields; `Evidence.to_dict`/`from_dict` are the report's `xray.evidence` (JSON schema in
exporters/schemas/report.schema.json, described in docs/report.md), used only at the JSON edge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from scanner.detectors.attribution import Attribution
from scanner.detectors.datacheck import DataCheck
from scanner.detectors.probes import ProbeFinding, ProbeResult
from scanner.detectors.search import SearchResult
from scanner.detectors.thresholds import VerdictRule

__all__ = [
    "BaselineEvidence",
    "DrawRecord",
    "Draws",
    "Evidence",
    "Example",
    "PlanRecord",
    "PlaneShareAnomaly",
    "Reading",
    "Trace",
    "TraceAttribution",
]


@dataclass(frozen=True)
class Reading:
    """One test's figure beside its threshold, as this scan measured it."""

    test: str  # a VERDICT_TESTS id
    value: float | None  # None: the test had nothing to measure (no search, no small finding)
    threshold: str
    threshold_value: float
    # "fitted" or "hand-set" (scanner.detectors.thresholds), or "rule file": a value other than
    # the shipped one, from --rule.
    threshold_kind: str
    fired: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reading:
        return cls(**{f: d[f] for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TraceAttribution:
    """The attribution read of the deciding label: its retention at half strength against the
    rule's bar (`natural`: it re-read the decision as a shortcut)."""

    label: int
    retention: float
    retention_max: float
    threshold_kind: str
    natural: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceAttribution:
        return cls(
            label=int(d["label"]),
            retention=float(d["retention"]),
            retention_max=float(d["retention_max"]),
            threshold_kind=str(d["threshold_kind"]),
            natural=bool(d["natural"]),
        )


@dataclass(frozen=True)
class Trace:
    """How the verdict was reached: the test that decided (`Evidence.decided_by`), every test's
    figure and threshold, and the attribution read of the deciding label when one was measured."""

    decided_by: str | None
    tests: tuple[Reading, ...]
    attribution: TraceAttribution | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decided_by": self.decided_by,
            "tests": [t.to_dict() for t in self.tests],
            "attribution": None if self.attribution is None else self.attribution.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        attribution = d.get("attribution")
        return cls(
            d.get("decided_by"),
            tuple(Reading.from_dict(t) for t in d.get("tests", ())),
            None if attribution is None else TraceAttribution.from_dict(attribution),
        )


@dataclass(frozen=True)
class PlaneShareAnomaly:
    """The plane-based statistic tried first (kept as evidence, not used by the verdict): the
    label taking an outlying share of the planes drawn through none of its samples."""

    label: int | None
    anomaly_index: float | None
    share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label, "anomaly_index": self.anomaly_index}
        if self.share is not None:
            d["share"] = self.share
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlaneShareAnomaly:
        return cls(d.get("label"), d.get("anomaly_index"), d.get("share"))


@dataclass(frozen=True)
class BaselineEvidence:
    """What `--baseline` set aside: the trusted model's sinks, the findings naming them, and
    the verdict without the baseline."""

    path: str
    sha256: str
    verdict: str
    score: float
    target_label: int | None
    sinks: tuple[int, ...]
    sinks_strong: tuple[int, ...]
    sink_min: float
    set_aside: tuple[ProbeFinding, ...]
    verdict_without: str
    score_without: float
    target_without: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "verdict": self.verdict,
            "score": self.score,
            "target_label": self.target_label,
            "sinks": list(self.sinks),
            "sinks_strong": list(self.sinks_strong),
            "sink_min": self.sink_min,
            "set_aside": [f.to_dict() for f in self.set_aside],
            "without_baseline": {
                "verdict": self.verdict_without,
                "score": self.score_without,
                "target_label": self.target_without,
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaselineEvidence:
        without = d.get("without_baseline") or {}
        return cls(
            path=str(d["path"]),
            sha256=str(d["sha256"]),
            verdict=str(d["verdict"]),
            score=float(d["score"]),
            target_label=d.get("target_label"),
            sinks=tuple(int(v) for v in d.get("sinks", ())),
            sinks_strong=tuple(int(v) for v in d.get("sinks_strong", ())),
            sink_min=float(d.get("sink_min", 0.0)),
            set_aside=tuple(ProbeFinding.from_dict(f) for f in d.get("set_aside", ())),
            verdict_without=str(without.get("verdict", "")),
            score_without=float(without.get("score", 0.0)),
            target_without=without.get("target_label"),
        )


@dataclass(frozen=True)
class Example:
    """The deciding trigger shown on fresh samples (scanner.detectors.example)."""

    source: str  # "probe" or "search"
    trigger: dict[str, Any]  # Probe.to_dict() or Point.to_dict(): rebuilds it exactly
    label: int
    trigger_png: str  # the trigger on a mid-grey image
    samples: tuple[dict[str, Any], ...]  # true/before/after labels, before_png/after_png
    per_class: tuple[tuple[int, float], ...]  # (class, share of it sent to `label`)
    queries: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trigger": self.trigger,
            "label": self.label,
            "trigger_png": self.trigger_png,
            "samples": list(self.samples),
            "per_class": [[c, round(r, 4)] for c, r in self.per_class],
            "queries": self.queries,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Example:
        return cls(
            source=str(d["source"]),
            trigger=dict(d["trigger"]),
            label=int(d["label"]),
            trigger_png=str(d["trigger_png"]),
            samples=tuple(dict(s) for s in d["samples"]),
            per_class=tuple((int(c), float(r)) for c, r in d["per_class"]),
            queries=int(d["queries"]),
        )


@dataclass(frozen=True)
class PlanRecord:
    """What the query plan gave each stage and what the budget cost the scan (scanner.plan)."""

    budget: int | None
    planes: int
    resolution: int
    probes: int | None  # probes tested; None: all of them
    probes_confirmed: int | None
    search: dict[str, Any] | None  # targets, samples, spaces, max_queries; None: no search
    samples_per_class: int | None
    attribution_candidates: int | None
    bounds: dict[str, int]  # stage -> most queries it may spend
    gave_up: tuple[str, ...]  # in words

    def gave_up_text(self) -> str:
        return "; ".join(self.gave_up) or "nothing"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gave_up"] = list(self.gave_up)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlanRecord:
        return cls(
            budget=d.get("budget"),
            planes=int(d.get("planes", 0)),
            resolution=int(d.get("resolution", 0)),
            probes=d.get("probes"),
            probes_confirmed=d.get("probes_confirmed"),
            search=d.get("search"),
            samples_per_class=d.get("samples_per_class"),
            attribution_candidates=d.get("attribution_candidates"),
            bounds={str(k): int(v) for k, v in (d.get("bounds") or {}).items()},
            gave_up=tuple(str(g) for g in d.get("gave_up") or ()),
        )


@dataclass(frozen=True)
class DrawRecord:
    """One draw's own decision in a scan of several (`bdscan scan --repeats N`)."""

    seed: int  # the seed its probes, samples and search starts were drawn with
    verdict: str
    score: float
    target_label: int | None
    shortcut_label: int | None
    decided_by: str | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DrawRecord:
        return cls(
            seed=int(d["seed"]),
            verdict=str(d["verdict"]),
            score=float(d["score"]),
            target_label=d.get("target_label"),
            shortcut_label=d.get("shortcut_label"),
            decided_by=d.get("decided_by"),
        )


@dataclass(frozen=True)
class Draws:
    """A scan of several draws, decided together (scanner.detectors.draws): each draw's
    decision, and the seed of the draw whose evidence the report carries."""

    runs: tuple[DrawRecord, ...]
    shown: int

    def to_dict(self) -> dict[str, Any]:
        return {"shown": self.shown, "runs": [asdict(r) for r in self.runs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Draws:
        return cls(
            runs=tuple(DrawRecord.from_dict(r) for r in d["runs"]),
            shown=int(d["shown"]),
        )


@dataclass(frozen=True)
class Evidence:
    """Everything the verdict rule read and the stages after it measured (`xray.evidence`)."""

    # The probes' three tests (scanner.detectors.verdict) and their labels.
    universality: float
    universality_label: int | None
    consistency: float
    selectivity: float
    selectivity_label: int | None
    rule: VerdictRule
    # The probes (scanner.detectors.probes): what was tested, and what it found.
    probes: int
    probe_queries: int
    search_samples: int
    confirm_samples: int
    findings: tuple[ProbeFinding, ...]
    search_universality_per_label: tuple[float, ...]
    search_hits_per_label: tuple[int, ...]
    search_universality_per_label_strong: tuple[float, ...]
    search_breadth_per_level: dict[str, tuple[float, ...]]
    other_candidates: tuple[int, ...]
    plane_share_anomaly: PlaneShareAnomaly
    attribution: tuple[Attribution, ...]
    # Which test decided (a VERDICT_TESTS id, "+attribution" when attribution re-read it as a
    # shortcut, "search:<space>"); None: clean.
    decided_by: str | None
    concentration: float | None = None  # the consistency test's, when it fired
    shortcut_label: int | None = None  # verdict "shortcut": the label it names
    infected_note: str | None = None  # verdict "shortcut": what the probes alone said
    search: SearchResult | None = None  # None: the scan ran without the trigger search
    trace: Trace | None = None
    baseline: BaselineEvidence | None = None
    example: Example | None = None
    clean_accuracy_on_data: float | None = None
    plan: PlanRecord | None = None
    draws: Draws | None = None  # None: one draw (no --repeats)
    # The training data's check (`bdscan scan --train-data`; scanner.detectors.by_data).
    data_check: DataCheck | None = None
    # Optional keys, written only when set (a report never carries them as null).
    _OPTIONAL = (
        "concentration",
        "shortcut_label",
        "infected_note",
        "search",
        "trace",
        "baseline",
        "example",
        "clean_accuracy_on_data",
        "plan",
        "draws",
        "data_check",
    )

    @classmethod
    def empty(cls, **fields: Any) -> Evidence:
        """The evidence of a scan that measured nothing, with `fields` set: a stand-in report
        (tests, a summary built without a scan)."""
        nothing = cls(
            universality=0.0,
            universality_label=None,
            consistency=0.0,
            selectivity=0.0,
            selectivity_label=None,
            rule=VerdictRule(),
            probes=0,
            probe_queries=0,
            search_samples=0,
            confirm_samples=0,
            findings=(),
            search_universality_per_label=(),
            search_hits_per_label=(),
            search_universality_per_label_strong=(),
            search_breadth_per_level={},
            other_candidates=(),
            plane_share_anomaly=PlaneShareAnomaly(None, None),
            attribution=(),
            decided_by=None,
        )
        return replace(nothing, **fields)

    def probe_result(self) -> ProbeResult:
        """The probes' result as the scan measured it, to re-decide a saved report."""
        return ProbeResult(
            findings=self.findings,
            per_label_search=self.search_universality_per_label,
            per_label_hits=self.search_hits_per_label,
            probes=self.probes,
            search_samples=self.search_samples,
            confirm_samples=self.confirm_samples,
            queries=self.probe_queries,
            per_label_search_strong=self.search_universality_per_label_strong,
            breadth=dict(self.search_breadth_per_level),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "universality": self.universality,
            "universality_label": self.universality_label,
            "consistency": self.consistency,
            "selectivity": self.selectivity,
            "selectivity_label": self.selectivity_label,
            "rule": self.rule.to_dict(),
            "probes": self.probes,
            "probe_queries": self.probe_queries,
            "search_samples": self.search_samples,
            "confirm_samples": self.confirm_samples,
            "findings": [f.to_dict() for f in self.findings],
            "search_universality_per_label": list(self.search_universality_per_label),
            "search_hits_per_label": list(self.search_hits_per_label),
            "search_universality_per_label_strong": list(self.search_universality_per_label_strong),
            "search_breadth_per_level": {
                k: list(vs) for k, vs in self.search_breadth_per_level.items()
            },
            "other_candidates": list(self.other_candidates),
            "plane_share_anomaly": self.plane_share_anomaly.to_dict(),
            "attribution": [a.to_dict() for a in self.attribution],
            "decided_by": self.decided_by,
        }
        for name in self._OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                d[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """From a report's `xray.evidence`; keys added after a report was written default to
        what a scan without that stage records."""
        rule = d.get("rule") or {}
        known = set(VerdictRule.__dataclass_fields__)

        def optional(key: str, parse: Any) -> Any:
            value = d.get(key)
            return None if value is None else parse(value)

        return cls(
            universality=float(d["universality"]),
            universality_label=d.get("universality_label"),
            consistency=float(d["consistency"]),
            selectivity=float(d.get("selectivity") or 0.0),
            selectivity_label=d.get("selectivity_label"),
            rule=VerdictRule(**{k: float(v) for k, v in rule.items() if k in known}),
            probes=int(d["probes"]),
            probe_queries=int(d["probe_queries"]),
            search_samples=int(d["search_samples"]),
            confirm_samples=int(d["confirm_samples"]),
            findings=tuple(ProbeFinding.from_dict(f) for f in d["findings"]),
            search_universality_per_label=tuple(
                float(v) for v in d["search_universality_per_label"]
            ),
            search_hits_per_label=tuple(int(v) for v in d["search_hits_per_label"]),
            search_universality_per_label_strong=tuple(
                float(v) for v in d.get("search_universality_per_label_strong") or ()
            ),
            search_breadth_per_level={
                str(k): tuple(float(v) for v in vs)
                for k, vs in (d.get("search_breadth_per_level") or {}).items()
            },
            other_candidates=tuple(int(v) for v in d.get("other_candidates") or ()),
            plane_share_anomaly=PlaneShareAnomaly.from_dict(
                d.get("plane_share_anomaly") or {"label": None, "anomaly_index": None}
            ),
            attribution=tuple(Attribution.from_dict(a) for a in d.get("attribution") or ()),
            decided_by=d.get("decided_by"),
            concentration=optional("concentration", float),
            shortcut_label=optional("shortcut_label", int),
            infected_note=optional("infected_note", str),
            search=optional("search", SearchResult.from_dict) if d.get("search") else None,
            trace=optional("trace", Trace.from_dict),
            baseline=optional("baseline", BaselineEvidence.from_dict),
            example=optional("example", Example.from_dict) if d.get("example") else None,
            clean_accuracy_on_data=optional("clean_accuracy_on_data", float),
            plan=optional("plan", PlanRecord.from_dict),
            draws=optional("draws", Draws.from_dict),
            data_check=optional("data_check", DataCheck.from_dict),
        )
