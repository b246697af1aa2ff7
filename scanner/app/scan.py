"""`bdscan scan`'s workflow, apart from the command line: expand the models, scan the trusted
baseline (when given), scan every model (one process, or Ray tasks), enforce the policy, and
write the reports.

1. Expand each MODEL argument (file, folder, list file, endpoint URL) into models; one model
   given as a file or URL is a "single" scan (its own report form, its error on one line).
2. `--baseline`: scan the trusted model with the same data and settings; its sinks are set aside
   from every model's findings.
3. Scan: the result cache first, then `scan_model` per model (locally, or as Ray tasks).
4. Policy: evaluate each outcome, attach the result to its report; the run's exit code.
5. `write_reports`: JSON, SARIF, HTML and plots, each written whole (temporary file, rename).
The caller (the CLI) builds the request, supplies the progress displays and prints; this module
returns a typed run and prints nothing.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scanner.batch import ResultCache, exit_code, expand_models, scan_models
from scanner.data import Dataset
from scanner.errors import ExitCode
from scanner.pipeline import PlaneProgress, ScanConfig, scan_model
from scanner.report import ModelOutcome, ScanReport

if TYPE_CHECKING:
    from policies import Policy, PolicyResult, Severity
    from scanner.batch import BatchProgress
    from scanner.detectors.baseline import Baseline
    from scanner.ray_executor import RayOptions

__all__ = ["BaselineScan", "Displays", "ScanRequest", "ScanRun", "run_scan", "write_reports"]


@dataclass(frozen=True)
class ScanRequest:
    targets: tuple[Path | str, ...]  # the MODEL arguments as given
    data: Dataset
    config: ScanConfig
    policy: Policy | None = None
    fail_on: Severity | None = None
    baseline: Path | None = None
    ray: RayOptions | None = None  # None: scan in this process
    cache_dir: Path | None = None
    no_cache: bool = False
    debug: bool = False  # unexpected errors propagate (with their traceback) instead of recorded


@dataclass(frozen=True)
class Displays:
    """What the caller shows while the run works: a per-plane display for a single model, a
    per-model one for a batch (context managers yielding the callbacks, or None), and what the
    baseline's scan found, as soon as it is known (before the models are scanned)."""

    single: Callable[[str], contextlib.AbstractContextManager[PlaneProgress | None]]
    batch: Callable[[], contextlib.AbstractContextManager[BatchProgress | None]]
    baseline_scanned: Callable[[BaselineScan], None] = lambda _: None

    @staticmethod
    def none() -> Displays:
        @contextlib.contextmanager
        def nothing(*_: Any) -> Iterator[None]:
            yield None

        return Displays(single=nothing, batch=nothing)


@dataclass(frozen=True)
class BaselineScan:
    """The trusted model's own scan, as `--baseline` uses it."""

    path: Path
    baseline: Baseline
    flagged: bool  # the baseline itself looks infected: a shared backdoor would be set aside
    score: float


@dataclass(frozen=True)
class ScanRun:
    outcomes: tuple[ModelOutcome, ...]
    policy_results: tuple[PolicyResult, ...] | None
    exit_code: ExitCode
    single: bool  # one model, given as a file or URL
    baseline: BaselineScan | None

    @property
    def form(self) -> Literal["single", "summary"]:
        """The JSON report's form: a model without a verdict (an error, a finding such as NaN
        outputs) needs the summary form, which has room for it."""
        ok = self.single and self.outcomes[0].error is None
        return "single" if ok else "summary"

    @property
    def single_error(self) -> ModelOutcome | None:
        """The one model of a single scan, when it could not be scanned at all (no finding)."""
        first = self.outcomes[0] if self.single else None
        if first is not None and first.error is not None and not first.finding_error:
            return first
        return None


def _is_single(targets: tuple[Path | str, ...], models: list[Path]) -> bool:
    from scanner.backends.remote import is_endpoint

    if len(targets) != 1 or len(models) != 1:
        return False
    target = targets[0]
    path = Path(str(target))
    return is_endpoint(target) or (path.suffix.lower() == ".onnx" and not path.is_dir())


Scan = Callable[..., ScanReport]  # scan_model's signature: (path, data, config, progress=)


def scan_baseline(
    path: Path, data: Dataset, config: ScanConfig, *, scan: Scan = scan_model
) -> BaselineScan:
    """Scan the trusted baseline with the scan's own data and settings (`--baseline`)."""
    from scanner.detectors.baseline import Baseline

    ref = scan(path, data, config)
    base = Baseline.from_evidence(
        ref.xray.evidence,
        path=str(path),
        sha256=ref.model.sha256,
        verdict=ref.xray.verdict,
        score=ref.xray.score,
        target_label=ref.xray.target_label,
        num_classes=ref.model.num_classes,
    )
    return BaselineScan(path, base, ref.xray.verdict == "infected", ref.xray.score)


def run_scan(
    req: ScanRequest, displays: Displays | None = None, *, scan: Scan = scan_model
) -> ScanRun:
    """Steps 1-4 of the module docstring. `scan` scans one model (a stand-in in tests; Ray
    tasks always run `scan_model`)."""
    displays = displays or Displays.none()
    models = [m for target in req.targets for m in expand_models(target)]
    single = _is_single(req.targets, models)
    config = req.config
    base = None
    if req.baseline is not None:
        base = scan_baseline(req.baseline, req.data, config, scan=scan)
        displays.baseline_scanned(base)
        config = replace(config, baseline=base.baseline)
    cache = ResultCache(req.cache_dir)

    def scan_fn(path: Path, data: Any, cfg: ScanConfig, progress: Any = None) -> Any:
        try:
            return scan(path, data, cfg, progress=progress)
        except Exception:
            if req.debug:  # the batch records the error; --debug also wants to see where
                traceback.print_exc()
            raise

    if req.ray is not None:
        from scanner.ray_executor import scan_models_ray

        with displays.batch() as bar:
            outcomes = scan_models_ray(
                models, req.data, config, req.ray, cache=cache, no_cache=req.no_cache, progress=bar
            )
    elif single:
        with displays.single(Path(str(models[0])).name) as progress:
            outcomes = scan_models(
                models,
                req.data,
                config,
                lambda p, d, c: scan_fn(p, d, c, progress),
                cache=cache,
                no_cache=req.no_cache,
                reraise_unexpected=req.debug,
            )
    else:
        with displays.batch() as bar:
            outcomes = scan_models(
                models,
                req.data,
                config,
                scan_fn,
                cache=cache,
                no_cache=req.no_cache,
                progress=bar,
                reraise_unexpected=req.debug,
            )
    results = None
    if req.policy is not None:
        from policies import evaluate_outcomes

        results = evaluate_outcomes(req.policy, outcomes, fail_on=req.fail_on)
        outcomes = [
            replace(o, report=replace(o.report, policy=r.to_dict())) if o.report else o
            for o, r in zip(outcomes, results, strict=True)
        ]
    return ScanRun(
        outcomes=tuple(outcomes),
        policy_results=tuple(results) if results is not None else None,
        exit_code=exit_code(outcomes, results),
        single=single,
        baseline=base,
    )


def write_reports(
    run: ScanRun,
    *,
    json_path: str | None = None,
    sarif_path: str | None = None,
    html_path: str | None = None,
    plots_dir: str | None = None,
) -> None:
    """Step 5: every report asked for, each written whole."""
    from exporters import write_plots, write_report

    outcomes = list(run.outcomes)
    results = list(run.policy_results) if run.policy_results is not None else None
    if json_path:
        write_report("json", json_path, outcomes, policy_results=results, form=run.form)
    if sarif_path:
        write_report("sarif", sarif_path, outcomes, policy_results=results)
    if html_path:
        write_report("html", html_path, outcomes, policy_results=results)
    if plots_dir:
        write_plots(outcomes, plots_dir)
