"""Many models on a Ray cluster: one task per model, the same outcomes as `batch.scan_models`.

Each task runs the same `scan_model` code path as a local scan. The data set goes into Ray's
object store once, not once per task. Cache lookups and writes stay on the driver, so a cluster
shares the cache the driver points at (a shared path, e.g. NFS, when drivers move). A task whose
worker dies, or whose node leaves, becomes that model's error entry and the others finish; a
scan is a pure function of its inputs, so Ray may retry it (`retries`). Ctrl-C cancels every
task still running. `ray` is an extra (`bdscan[ray]`), imported only here.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.backends.remote import is_endpoint
from scanner.batch import BatchProgress, ResultCache, model_fingerprint
from scanner.errors import BdscanError, ExecutorError, UsageError
from scanner.report import ModelOutcome, ScanReport

# ray.init() retries an unreachable head for minutes before it raises; a TCP connect first
# turns a wrong address into one line within this many seconds.
CONNECT_TIMEOUT_S = 5.0
RAY_CLIENT_PORT = 10001  # Ray's default client-server port, for `ray://HOST`
RAY_GCS_PORT = 6379  # Ray's default head (GCS) port, for a bare `HOST`


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: a local Ray runtime that starts and stops with the command
    gpus_per_model: float = 0.0
    cpus_per_model: float = 1.0
    retries: int = 1  # task retries after a worker or node died (scans are idempotent)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'bdscan[ray]'") from None
    return ray


def head_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) that `address` makes Ray connect to, or None when Ray finds it itself
    (`auto`, `local`). Accepts `HOST[:PORT]` and `ray://HOST[:PORT]`."""
    if address in ("auto", "local"):
        return None
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    if scheme not in ("", "ray"):
        raise UsageError(f"--ray-address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon:
        host, port = rest.rstrip("/"), ""
    default = RAY_CLIENT_PORT if scheme == "ray" else RAY_GCS_PORT
    if not host or (port and not port.isdigit()):
        raise UsageError(f"--ray-address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    return host.strip("[]"), int(port) if port else default


def _start(ray: Any, address: str | None) -> None:
    """ray.init, with an unreachable cluster reported in one line within CONNECT_TIMEOUT_S."""
    endpoint = head_endpoint(address) if address else None
    if endpoint is not None:
        try:
            socket.create_connection(endpoint, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise ExecutorError(
                f"--ray-address {address}: cannot reach a Ray head at"
                f" {endpoint[0]}:{endpoint[1]} ({why})"
            ) from None
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExecutorError(f"Ray could not start or connect ({first[:300]})") from None


def _task(path: str, dataset: Any, config: Any) -> dict[str, Any]:
    """Runs on a Ray worker: a plain dict back, so nothing of ours needs unpickling there."""
    from scanner.pipeline import scan_model

    try:
        target: Path | str = path if is_endpoint(path) else Path(path)
        return {"report": scan_model(target, dataset, config).to_dict()}
    except BdscanError as exc:
        return {"error": " ".join(str(exc).split()), "kind": type(exc).__name__}
    except (
        Exception
    ) as exc:  # as in a local batch: a hostile model can make a runtime raise anything
        return {
            "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}",
            "kind": "UnexpectedError",
        }


def scan_models_ray(
    models: Sequence[Path | str],
    dataset: Any,
    config: Any,
    options: RayOptions,
    *,
    cache: ResultCache | None = None,
    no_cache: bool = False,
    progress: BatchProgress | None = None,
) -> list[ModelOutcome]:
    """One outcome per model, in order, as `scan_models` gives them; each model a Ray task."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _start(ray, options.address)
    total = len(models)
    outcomes: list[ModelOutcome | None] = [None] * total
    keys: list[str | None] = [None] * total
    pending: dict[Any, int] = {}
    try:
        data_ref = ray.put(dataset)
        remote = ray.remote(_task)
        for index, path in enumerate(models):
            if progress is not None:
                progress.model_started(index, total, Path(str(path)))
            if cache is not None and not is_endpoint(path):
                try:
                    keys[index] = cache.key(
                        model_fingerprint(Path(path)), dataset.sha256, config.cache_key()
                    )
                except BdscanError as exc:
                    outcomes[index] = ModelOutcome(
                        path=str(path),
                        error=" ".join(str(exc).split()),
                        error_kind=type(exc).__name__,
                    )
                    continue
                hit = None if no_cache else cache.get(keys[index])  # type: ignore[arg-type]
                if hit is not None:
                    report = replace(hit, model=replace(hit.model, path=str(path)))
                    outcomes[index] = ModelOutcome(path=str(path), report=report, cached=True)
                    continue
            ref = remote.options(
                name=f"bdscan-scan:{Path(str(path)).name}",
                num_cpus=options.cpus_per_model,
                num_gpus=options.gpus_per_model,
                max_retries=options.retries,
                retry_exceptions=False,
            ).remote(str(path), data_ref, config)
            pending[ref] = index
        if progress is not None:
            for index, outcome in enumerate(outcomes):
                if outcome is not None:
                    progress.model_finished(index, total, outcome)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            index = pending.pop(ref)
            outcomes[index] = _outcome(ray, ref, str(models[index]), cache, keys[index])
            if progress is not None:
                progress.model_finished(index, total, outcomes[index])  # type: ignore[arg-type]
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
    return [o for o in outcomes if o is not None]


def _outcome(
    ray: Any, ref: Any, path: str, cache: ResultCache | None, key: str | None
) -> ModelOutcome:
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as exc:
        # The worker died, its node left, or the task was cancelled: an error entry, never a
        # silent drop.
        why = " ".join(str(exc).split())[:300]
        return ModelOutcome(
            path=path, error=f"Ray task failed: {why}", error_kind=type(exc).__name__
        )
    if "error" in result:
        return ModelOutcome(path=path, error=result["error"], error_kind=result["kind"])
    report = ScanReport.from_dict(result["report"])
    if cache is not None and key is not None:
        cache.put(key, report)
    return ModelOutcome(path=path, report=report)
