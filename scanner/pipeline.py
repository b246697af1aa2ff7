"""One model, end to end: load -> query -> analyse -> decide, into a `ScanReport`."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scanner import __version__
from scanner.backends.base import LabelOracle
from scanner.backends.onnx_graph import ParsedModel, parse_model
from scanner.backends.onnxruntime import (
    DEFAULT_TIMEOUT_S,
    Device,
    OnnxRuntimeBackend,
    Uint8Mode,
    resolve_layout,
)
from scanner.backends.remote import ApiConfig, OipBackend, is_endpoint
from scanner.data import Dataset, check_labels_fit, to_model_space
from scanner.detectors.attribution import attribution_budget
from scanner.detectors.attribution import measure as measure_attribution
from scanner.detectors.baseline import Baseline, discount, discount_search
from scanner.detectors.by_data import check_scan
from scanner.detectors.datacheck import DataCheckConfig
from scanner.detectors.draws import combine
from scanner.detectors.example import deciding_trigger, example_fits, measure_example
from scanner.detectors.probes import ProbeConfig, ProbeFinding, ProbeResult, run_probes
from scanner.detectors.search import SearchConfig, SearchResult, run_search
from scanner.detectors.verdict import Decision, VerdictRule, attribution_candidates, decide
from scanner.detectors.xray import DegeneratePlane, XrayConfig, run_planes
from scanner.errors import DataError, UsageError
from scanner.labels import names_from_metadata
from scanner.plan import DATA_PER_CLASS, ScanPlan, plan_scan, replan_search, subsample
from scanner.report import DataInfo, ModelInfo, ScanReport, XrayResult

# Hand-set: the float32 query points one call may carry (the batch size shrinks for large
# images; at 28x28 and 32x32x3 the default 4,096 stays).
QUERY_BYTES_PER_CALL = 64 << 20

# on_plane(done, total, queries_so_far)
PlaneProgress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class ScanConfig:
    xray: XrayConfig = field(default_factory=XrayConfig)
    probes: ProbeConfig = field(default_factory=ProbeConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    rule: VerdictRule = field(default_factory=VerdictRule)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    device: Device = "auto"
    uint8_mode: Uint8Mode = "bypass"
    max_queries: int | None = None
    batch_size: int = 4096
    timeout: float = DEFAULT_TIMEOUT_S
    # A trusted model of the same architecture and task: findings naming its own sinks are set
    # aside (`scanner.detectors.baseline`; `bdscan scan --baseline`).
    baseline: Baseline | None = None
    # Endpoints (Open Inference Protocol): transport settings, and where the query journal lives.
    api: ApiConfig = field(default_factory=ApiConfig)
    journal_root: Path | None = None
    # Class names from --labels (scanner.labels); else the data's, else the model file's.
    class_names: tuple[str, ...] | None = None
    # Draws decided together (`--repeats`; scanner.detectors.draws); 1: the scan as it was.
    repeats: int = 1
    # The model's training data, or a part of it (`--train-data`): the verdict is attributed
    # by it (scanner.detectors.by_data), with the check's settings.
    train_data: Dataset | None = None
    data_check: DataCheckConfig = field(default_factory=DataCheckConfig)

    def cache_key(self) -> str:
        """Stable hash of everything that can change a result (not device or batching)."""
        relevant: dict[str, Any] = {
            "version": __version__,
            "xray": self.xray.to_dict(),
            "probes": self.probes.to_dict(),
            "search": self.search.to_dict(),
            "rule": self.rule.to_dict(),
            "mean": self.mean,
            "std": self.std,
            "uint8_mode": self.uint8_mode,
            "max_queries": self.max_queries,
            "class_names": self.class_names,
        }
        if self.repeats != 1:  # keys of one-draw scans stay as they were
            relevant["repeats"] = self.repeats
        if self.baseline is not None:
            relevant["baseline"] = self.baseline.cache_key()
        if self.train_data is not None:  # keys of scans without it stay as they were
            relevant["train_data"] = self.train_data.sha256
            relevant["data_check"] = self.data_check.to_dict()
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Draw:
    """What one draw of a scan decided, and what the report's example is built from."""

    seed: int
    decision: Decision
    decided_on: ProbeResult
    searched: SearchResult | None
    plan: ScanPlan


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_image_size(parsed: ParsedModel, hwc: tuple[int, int, int], source: str) -> None:
    """The data's images must have the size the model's input declares. Checked before the model
    runs: the backend's first queries are images of that size, and a hostile graph could declare
    any size (a 273-byte model asking for 10000x10000 inputs made bdscan allocate 14 GB)."""
    _, h, w, _ = resolve_layout(parsed.image_input.dims, hwc, str(parsed.path))
    if (h, w) != hwc[:2]:
        raise DataError(
            f"{source}: expected images of {h}x{w} for this model, got {hwc[0]}x{hwc[1]}"
        )


def check_train_data(train: Dataset, data: Dataset) -> None:
    """The training data must hold images of DATA's size (its labels are checked against the
    model's classes once the model says how many it has)."""
    if train.x.shape[1:] != data.x.shape[1:]:
        raise DataError(
            f"{train.path}: training images are {'x'.join(map(str, train.x.shape[1:]))}"
            f" (HxWxC), DATA's are {'x'.join(map(str, data.x.shape[1:]))} (expected the same"
            " size, the model's training data or a part of it)"
        )


def check_repeats(config: ScanConfig) -> None:
    """`--repeats` is a positive count, and multiplies the probes' and the search's queries, so a
    budget's plan (made for one draw) cannot hold more than one."""
    if config.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {config.repeats}")
    if config.repeats > 1 and config.max_queries is not None:
        raise UsageError(
            f"--repeats {config.repeats} cannot be planned within --max-queries"
            f" {config.max_queries} (or --profile): a budget plans one draw; leave one of them"
            " out"
        )


def _class_names(
    config: ScanConfig, dataset: Dataset, parsed: ParsedModel | None
) -> tuple[tuple[str, ...] | None, str | None]:
    """(names, where from): --labels first, then the data's classes.txt, then the model's
    metadata."""
    if config.class_names:
        return config.class_names, "--labels"
    if dataset.class_names:
        return dataset.class_names, "data"
    if parsed is not None:
        found = names_from_metadata({p.key: p.value for p in parsed.proto.metadata_props})
        if found:
            return found, "metadata"
    return None, None


def _plan(config: ScanConfig, dataset: Dataset) -> ScanPlan:
    """The stages' sizes under --max-queries (scanner.plan); every stage in full without it."""
    return plan_scan(
        config.max_queries,
        config.xray,
        config.probes,
        config.search,
        class_counts=[int(c) for c in np.bincount(dataset.y)[np.unique(dataset.y)]],
        shape=tuple(int(v) for v in dataset.x.shape[1:]),  # type: ignore[arg-type]
    )


def scan_model(
    model_path: str | Path,
    dataset: Dataset,
    config: ScanConfig,
    *,
    progress: PlaneProgress | None = None,
) -> ScanReport:
    """Scan one ONNX model against clean data; BdscanError subclasses on bad input."""
    check_repeats(config)
    started = time.perf_counter()
    hwc = tuple(int(v) for v in dataset.x.shape[1:])
    parsed: ParsedModel | None = None
    backend: OnnxRuntimeBackend | OipBackend
    if is_endpoint(model_path):
        backend = OipBackend(
            str(model_path),
            image_hwc=hwc,  # type: ignore[arg-type]
            classes_hint=int(dataset.y.max()) + 1,
            config=config.api,
            journal_root=config.journal_root,
        )
    else:
        parsed = parse_model(model_path)
        check_image_size(parsed, hwc, dataset.path)  # type: ignore[arg-type]
        backend = OnnxRuntimeBackend(
            parsed.path,
            parsed=parsed,
            image_hwc=hwc,  # type: ignore[arg-type]
            device=config.device,
            uint8_mode=config.uint8_mode,
            num_classes=None,
            classes_hint=int(dataset.y.max()) + 1,
            timeout=config.timeout,
        )
    names, names_source = _class_names(config, dataset, parsed)
    plan = _plan(config, dataset)
    samples_given = len(dataset)
    given = dataset  # the training data's check reads every clean sample, at no query cost
    if config.train_data is not None:
        check_train_data(config.train_data, dataset)
    in_file: np.ndarray | None = None  # the kept samples' indices in DATA, under a budget
    if plan.samples_per_class is not None:
        dataset, in_file = subsample(dataset, DATA_PER_CLASS, config.probes.seed)
    with backend:
        if backend.num_classes == 0:
            # Only a label output: the data's labels tell how many classes there are.
            backend.num_classes = int(dataset.y.max()) + 1
        check_labels_fit(dataset, backend.num_classes)
        if config.train_data is not None:
            check_labels_fit(config.train_data, backend.num_classes)
        spec = backend.input_spec
        x = to_model_space(dataset.x, spec, config.mean, config.std, source=dataset.path)
        # Large images get smaller calls: 4,096 RGB 224x224 points are 2.4 GB per array.
        per_point = 4 * spec.height * spec.width * spec.channels
        batch = max(1, min(config.batch_size, QUERY_BYTES_PER_CALL // per_point))
        oracle = LabelOracle(backend, batch_size=batch, budget=config.max_queries)

        def on_plane(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total, oracle.queries)

        # Every later stage and the clean accuracy share this one pass over the data.
        clean_pred = oracle(x)
        try:
            result = run_planes(oracle, x, dataset.y, plan.xray, on_plane)
        except DegeneratePlane as e:
            raise DataError(
                f"{dataset.path}: a plane through three samples of different labels is"
                f" degenerate: {e} (expected distinct images; is one image stored under"
                " several labels?)"
            ) from None

        def to_model(imgs: np.ndarray) -> np.ndarray:
            return to_model_space(imgs, spec, config.mean, config.std, source=dataset.path)

        clean_acc = float(np.mean(clean_pred == dataset.y))
        num_classes = backend.num_classes
        planes = result.planes
        if in_file is not None:  # anchors index the data file, as in a scan without a budget
            planes = tuple(
                replace(
                    p,
                    anchors=(
                        int(in_file[p.anchors[0]]),
                        int(in_file[p.anchors[1]]),
                        int(in_file[p.anchors[2]]),
                    ),
                )
                for p in planes
            )
        before_probes = oracle.queries

        def one_draw(k: int, plan: ScanPlan) -> _Draw:
            """Probes, search, attribution and decision on the k-th draw: every seed moved on
            by k (the random probes, their samples, the search's starts). `--repeats N` makes
            N draws and decides on all of them (scanner.detectors.draws); draw 0 is the scan
            without it."""
            probe_config = replace(plan.probes, seed=plan.probes.seed + k)
            probes = run_probes(
                oracle,
                dataset.x,
                dataset.y,
                to_model,
                num_classes,
                probe_config,
                clean_pred=clean_pred,
            )
            # Under a budget the stages so far spent less than their worst cases: the search
            # may take the difference.
            plan = replan_search(
                plan,
                config.search,
                {"data": len(x), "planes": before_probes - len(x), "probes": probes.queries},
                len(np.unique(dataset.y)),
            )
            search: SearchResult | None = None
            if plan.search.enabled:
                search = run_search(
                    oracle,
                    dataset.x,
                    dataset.y,
                    to_model,
                    num_classes,
                    probes,
                    replace(plan.search, seed=plan.search.seed + k),
                    reserve=attribution_budget(
                        len(np.unique(dataset.y)),
                        plan.attribution_candidates or 4,
                        plan.attribution_per_class,
                    ),
                )
            # Attribution is measured on the findings a verdict could rest on, with and
            # without the baseline's sinks, so that deciding needs no more queries.
            kept: ProbeResult | None = None
            set_aside: tuple[ProbeFinding, ...] = ()
            if config.baseline is not None:
                kept, set_aside = discount(probes, config.baseline)
            wanted = attribution_candidates(probes, config.rule)
            if kept is not None:
                wanted += attribution_candidates(kept, config.rule)
            wanted = list(dict.fromkeys(wanted))
            if plan.attribution_candidates is not None:
                wanted = wanted[: plan.attribution_candidates]
            attributions = measure_attribution(
                oracle,
                probes,
                wanted,
                dataset.x,
                dataset.y,
                to_model,
                num_classes,
                config.probes.seed + k,
                plan.attribution_per_class,
            )
            decision = decide(probes, planes, num_classes, config.rule, attributions, search)
            if config.baseline is not None:
                assert kept is not None
                alone = decision
                search_kept = discount_search(search, config.baseline)
                decision = decide(kept, planes, num_classes, config.rule, attributions, search_kept)
                if set_aside:
                    said = alone.verdict + (
                        f", target {alone.target_label}" if alone.target_label is not None else ""
                    )
                    decision = replace(
                        decision,
                        target_note=f"{decision.target_note}; {len(set_aside)} finding(s)"
                        f" naming the baseline's own sinks set aside (without the baseline:"
                        f" {said})",
                    )
                record = config.baseline.evidence(
                    set_aside, (alone.verdict, alone.score, alone.target_label)
                )
                decision = replace(decision, evidence=replace(decision.evidence, baseline=record))
            return _Draw(
                seed=config.probes.seed + k,
                decision=decision,
                decided_on=kept if kept is not None else probes,
                searched=discount_search(search, config.baseline) if config.baseline else search,
                plan=plan,
            )

        draws = [one_draw(k, plan) for k in range(config.repeats)]
        drawn = combine([(d.seed, d.decision) for d in draws])
        picked = next(d for d in draws if d.seed == drawn.seed)
        decision, decided_on, searched, plan = (
            drawn.decision,
            picked.decided_on,
            picked.searched,
            picked.plan,
        )
        if config.train_data is not None:
            train = config.train_data
            decision = check_scan(
                decision,
                (train.x, train.y),
                (given.x, given.y),
                num_classes,
                config.data_check,
                labels_of=lambda imgs: oracle(to_model(imgs)),
                queries_left=None if oracle.budget is None else oracle.budget - oracle.queries,
            )
        chosen = deciding_trigger(decision, decided_on, searched, config.rule)
        # The example is for the reader; it never spends queries the budget does not have.
        if chosen is not None and example_fits(oracle, len(np.unique(dataset.y))):
            example = measure_example(
                oracle, chosen, dataset.x, dataset.y, to_model, num_classes, config.probes.seed
            )
            decision = replace(decision, evidence=replace(decision.evidence, example=example))
        if isinstance(backend, OipBackend):
            endpoint = backend.describe()
            model_info = ModelInfo(
                path=backend.endpoint.url,
                # An endpoint has no file: its hash is that of its metadata (the interface, not
                # the weights behind it).
                sha256=hashlib.sha256(
                    json.dumps(endpoint["metadata"], sort_keys=True).encode()
                ).hexdigest(),
                input=spec.to_dict(),
                num_classes=backend.num_classes,
                provider=backend.provider,
                outputs=backend.outputs.to_dict(),
                endpoint=endpoint,
                class_names=names,
                class_names_source=names_source,
            )
        else:
            assert parsed is not None
            model_info = ModelInfo(
                path=str(parsed.path),
                sha256=parsed.sha256,
                input=spec.to_dict(),
                num_classes=backend.num_classes,
                provider=backend.provider,
                size_bytes=parsed.size_bytes,
                opset=parsed.opset,
                operator_domains=parsed.operator_domains,
                external_data=parsed.external_data,
                outputs=backend.outputs.to_dict(),
                nodes=parsed.facts.nodes,
                control_flow=parsed.facts.control_flow,
                class_names=names,
                class_names_source=names_source,
            )
    xray = XrayResult(
        verdict=decision.verdict,  # type: ignore[arg-type]
        score=decision.score,
        target_label=decision.target_label,
        target_note=decision.target_note,
        re_mean=float(np.mean([p.re for p in planes])),
        ats_mean=float(np.mean([p.ats for p in planes])),
        queries=oracle.queries,
        seconds=round(time.perf_counter() - started, 3),
        settings={
            **plan.xray.to_dict(),
            "uint8_mode": spec.uint8_mode,
            "max_queries": config.max_queries,
        },
        evidence=replace(
            decision.evidence, clean_accuracy_on_data=round(clean_acc, 4), plan=plan.record()
        ),
        planes=planes,
    )
    data_info = DataInfo(
        path=dataset.path,
        sha256=dataset.sha256,
        samples=samples_given,
        samples_used=len(dataset),
        classes_covered=tuple(int(c) for c in np.unique(dataset.y)),
        mean=config.mean,
        std=config.std,
    )
    return ScanReport(model=model_info, xray=xray, data=data_info, created=_now())
