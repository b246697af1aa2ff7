"""Scan results as frozen dataclasses that round-trip through JSON (docs/report.md, and
exporters/schemas/report.schema.json).

A report carries the evidence needed to recompute its verdict: every plane's anchors (indices into
the data file), settings, and its label map, so `policy check` and the HTML report never need to
query the model again.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

from scanner import __version__
from scanner.detectors.evidence import Evidence
from scanner.errors import FINDING_ERRORS
from scanner.labels import label_text

SCHEMA_VERSION = 1

# "shortcut": a universal shortcut the scan could not attribute to a planted trigger (BDS104).
Verdict = Literal["infected", "shortcut", "clean"]
VERDICTS: tuple[Verdict, ...] = ("infected", "shortcut", "clean")


def encode_label_map(label_map: np.ndarray) -> str:
    """R x R int map -> compact text: zlib-compressed uint8 (or uint16) cells, base64."""
    dtype = np.uint8 if int(label_map.max(initial=0)) < 256 else np.uint16
    raw = np.ascontiguousarray(label_map, dtype=dtype).tobytes()
    tag = "u8" if dtype is np.uint8 else "u16"
    return f"{tag}:{label_map.shape[0]}x{label_map.shape[1]}:" + base64.b64encode(
        zlib.compress(raw, 9)
    ).decode("ascii")


def decode_label_map(text: str) -> np.ndarray:
    tag, shape, payload = text.split(":", 2)
    rows, cols = (int(v) for v in shape.split("x"))
    dtype = np.uint8 if tag == "u8" else np.uint16
    cells = np.frombuffer(zlib.decompress(base64.b64decode(payload)), dtype=dtype)
    return cells.reshape(rows, cols).astype(np.int64)


@dataclass(frozen=True)
class PlaneResult:
    anchors: tuple[int, int, int]
    anchor_labels: tuple[int, int, int]
    resolution: int
    extend: float
    re: float
    ats: float
    label_counts: tuple[int, ...]
    anchor_areas: tuple[float, float, float]  # each anchor's own region's share (ATS)
    queries: int
    label_map: str | None = None  # encode_label_map(); None when not kept
    anchor_cells: tuple[tuple[int, int], ...] | None = None  # (row, col) of each anchor's cell

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("anchors", "anchor_labels", "label_counts", "anchor_areas"):
            d[key] = list(d[key])
        if self.anchor_cells is not None:
            d["anchor_cells"] = [list(c) for c in self.anchor_cells]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlaneResult:
        return cls(
            anchors=tuple(d["anchors"]),  # type: ignore[arg-type]
            anchor_labels=tuple(d["anchor_labels"]),  # type: ignore[arg-type]
            resolution=int(d["resolution"]),
            extend=float(d["extend"]),
            re=float(d["re"]),
            ats=float(d["ats"]),
            label_counts=tuple(int(c) for c in d["label_counts"]),
            anchor_areas=tuple(float(a) for a in d["anchor_areas"]),  # type: ignore[arg-type]
            queries=int(d["queries"]),
            label_map=d.get("label_map"),
            anchor_cells=None
            if d.get("anchor_cells") is None
            else tuple((int(r), int(c)) for r, c in d["anchor_cells"]),
        )

    def decoded_label_map(self) -> np.ndarray | None:
        return None if self.label_map is None else decode_label_map(self.label_map)


@dataclass(frozen=True)
class XrayResult:
    verdict: Verdict
    score: float  # in [0, 1], higher = more likely backdoored
    target_label: int | None  # None: clean, or no single target
    target_note: str  # why target_label is what it is, in words
    re_mean: float
    ats_mean: float
    queries: int
    seconds: float
    settings: dict[str, Any]  # planes, resolution, extend, alpha, threshold T, seed, grid, ...
    evidence: Evidence  # what the verdict rule read and the stages after it measured
    planes: tuple[PlaneResult, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "planes"}
        d["evidence"] = self.evidence.to_dict()
        d["planes"] = [p.to_dict() for p in self.planes]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> XrayResult:
        return cls(
            verdict=d["verdict"],
            score=float(d["score"]),
            target_label=None if d["target_label"] is None else int(d["target_label"]),
            target_note=d.get("target_note", ""),
            re_mean=float(d["re_mean"]),
            ats_mean=float(d["ats_mean"]),
            queries=int(d["queries"]),
            seconds=float(d["seconds"]),
            settings=dict(d.get("settings", {})),
            evidence=Evidence.from_dict(d["evidence"]),
            planes=tuple(PlaneResult.from_dict(p) for p in d.get("planes", [])),
        )


@dataclass(frozen=True)
class ModelInfo:
    path: str
    sha256: str
    input: dict[str, Any]  # InputSpec.to_dict()
    num_classes: int
    provider: str
    size_bytes: int = 0
    opset: int | None = None
    operator_domains: tuple[str, ...] = ()
    external_data: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)  # which output gave labels, and how
    nodes: int = 0  # graph nodes, subgraphs included
    control_flow: tuple[str, ...] = ()  # e.g. ("If x1",): bounded control flow the graph holds
    # A model scanned through an endpoint: URL, metadata, requests, retries, queries sent and
    # replayed from the journal (never a credential). None for a file.
    endpoint: dict[str, Any] | None = None
    # Class names (scanner.labels), and where they came from: "--labels", "data" (classes.txt)
    # or "metadata" (the ONNX file's). None when none were given or found.
    class_names: tuple[str, ...] | None = None
    class_names_source: str | None = None

    def label(self, label: int | None) -> str:
        """ "label 3 (Dress)", or "label 3" without names."""
        return label_text(label, self.class_names)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["operator_domains"] = list(self.operator_domains)
        d["control_flow"] = list(self.control_flow)
        d["class_names"] = None if self.class_names is None else list(self.class_names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelInfo:
        return cls(
            path=d["path"],
            sha256=d["sha256"],
            input=dict(d["input"]),
            num_classes=int(d["num_classes"]),
            provider=d["provider"],
            size_bytes=int(d.get("size_bytes", 0)),
            opset=d.get("opset"),
            operator_domains=tuple(d.get("operator_domains", ())),
            external_data=bool(d.get("external_data", False)),
            outputs=dict(d.get("outputs", {})),
            nodes=int(d.get("nodes", 0)),
            control_flow=tuple(d.get("control_flow", ())),
            endpoint=d.get("endpoint"),
            class_names=None if d.get("class_names") is None else tuple(d["class_names"]),
            class_names_source=d.get("class_names_source"),
        )


@dataclass(frozen=True)
class DataInfo:
    """The clean samples a scan used, and how they were normalised."""

    path: str
    sha256: str
    samples: int = 0  # in the file
    samples_used: int = 0  # kept (a query budget keeps at most 60 per class)
    # The model may have more outputs than the data has classes (a 1,000-class model vetted
    # with samples of ten): the probes measured moves from these classes only.
    classes_covered: tuple[int, ...] = ()
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "samples": self.samples,
            "samples_used": self.samples_used,
            "classes_covered": list(self.classes_covered),
            "mean": None if self.mean is None else list(self.mean),
            "std": None if self.std is None else list(self.std),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        def floats(key: str) -> tuple[float, ...] | None:
            value = d.get(key)
            return None if value is None else tuple(float(v) for v in value)

        return cls(
            path=str(d.get("path", "")),
            sha256=str(d.get("sha256", "")),
            samples=int(d.get("samples", 0)),
            samples_used=int(d.get("samples_used", 0)),
            classes_covered=tuple(int(c) for c in d.get("classes_covered") or ()),
            mean=floats("mean"),
            std=floats("std"),
        )


@dataclass(frozen=True)
class ScanReport:
    model: ModelInfo
    xray: XrayResult
    data: DataInfo
    created: str  # UTC, ISO 8601
    policy: dict[str, Any] | None = None  # filled by the policy engine when --policy is given
    schema_version: int = SCHEMA_VERSION
    tool: dict[str, str] = field(default_factory=lambda: {"name": "bdscan", "version": __version__})

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema_version": self.schema_version,
            "tool": dict(self.tool),
            "created": self.created,
            "model": self.model.to_dict(),
            "data": self.data.to_dict(),
            "xray": self.xray.to_dict(),
        }
        if self.policy is not None:
            d["policy"] = self.policy
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScanReport:
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"expected schema_version {SCHEMA_VERSION}, got {version!r}")
        return cls(
            model=ModelInfo.from_dict(d["model"]),
            xray=XrayResult.from_dict(d["xray"]),
            data=DataInfo.from_dict(d.get("data") or {}),
            created=d.get("created", ""),
            policy=d.get("policy"),
            schema_version=version,
            tool=dict(d.get("tool", {"name": "bdscan", "version": __version__})),
        )


@dataclass(frozen=True)
class ModelOutcome:
    """One model of a (possibly multi-model) scan: a report, or the error that stopped it.

    Kept apart so that "scanned and clean" can never be confused with "could not scan".
    """

    path: str
    report: ScanReport | None = None
    error: str | None = None  # one line: what went wrong
    error_kind: str | None = None  # class name of the BdscanError, e.g. "ModelLoadError"
    cached: bool = False

    @property
    def finding_error(self) -> bool:
        """The scan stopped on something that is itself a finding (NaN outputs, BDS205)."""
        return self.report is None and self.error_kind in FINDING_ERRORS

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "cached": self.cached}
        if self.report is not None:
            d["report"] = self.report.to_dict()
        if self.error is not None:
            d["error"] = {"message": self.error, "kind": self.error_kind}
        return d
