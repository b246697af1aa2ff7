"""Many models at once: expand a MODEL argument, scan each (one failure never stops the rest),
cache finished reports, and fold outcomes and policy decisions into one exit code.

Exit code of a run (`exit_code`), in this order:
  3  nothing was scanned (no outcomes at all);
  1  some model has a finding: it failed its policy, or, where no policy was applied to it, its
     X-ray verdict is "infected" or its scan stopped on a finding (NaN/Inf outputs, BDS205);
     a "shortcut" verdict alone is not (the default policy warns on it, BDS104);
  2  some model could not be scanned and nothing decided it (no policy, or a policy with
     `on_scan_error: error`); a policy with `on_scan_error: violation` decides it instead (1);
  0  everything else: every model was scanned and passed.
Findings win over scan errors (as in modelscan): the run is already a failure with something
concrete to fix, and the summary still lists the errors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scanner import __version__
from scanner.backends.remote import is_endpoint, parse_endpoint
from scanner.errors import BdscanError, ExitCode, ModelLoadError, NothingToScanError, UsageError
from scanner.fileio import sha256_file
from scanner.report import ModelOutcome, ScanReport

if TYPE_CHECKING:
    from policies.engine import PolicyResult

log = logging.getLogger(__name__)

CACHE_ENV = "BDSCAN_CACHE_DIR"
# Bumped when the cache's file layout or the meaning of its key changes.
CACHE_FORMAT = 1
MODEL_SUFFIX = ".onnx"

ScanFn = Callable[[Path, Any, Any], ScanReport]


class BatchProgress(Protocol):
    """Told about each model of a batch as it starts and ends (e.g. a progress bar)."""

    def model_started(self, index: int, total: int, path: Path) -> None: ...

    def model_finished(self, index: int, total: int, outcome: ModelOutcome) -> None: ...


# --- which models -----------------------------------------------------------------------------


def expand_models(target: str | Path) -> list[Path]:
    """The model files named by a MODEL argument, in scan order.

    - an existing folder: every `*.onnx` under it (recursively, sorted by relative path); hidden
      folders are skipped, symlinked folders are not entered, and a symlinked file counts only
      when it resolves to a file inside the folder;
    - a file ending in `.onnx` (existing or not: a missing one becomes a per-model error, as for a
      single scan): that file;
    - any other existing file: a list file, one path per line; blank lines and `#` comments are
      skipped, relative paths are resolved against the list file's folder, and an entry that is a
      folder is expanded as above.
    Duplicates (by resolved path) are kept once, preferring a name that is not a symlink.
    Raises NothingToScanError when nothing remains and UsageError when the argument does not
    exist and is not an .onnx path.
    """
    if is_endpoint(target):
        parse_endpoint(str(target))  # a malformed URL is a usage error, before any model runs
        return [target]  # type: ignore[list-item]
    path = Path(target)
    if path.is_dir():
        models = _models_in_folder(path)
    elif path.suffix.lower() == MODEL_SUFFIX:
        models = [path]
    elif path.is_file():
        models = _models_in_list(path)
    else:
        raise UsageError(
            f"{path}: no such file or folder (expected an .onnx model, a folder of them, "
            "or a list file)"
        )
    unique: dict[str, Path] = {}
    for model in models:
        key = _identity(model)
        # A file met twice (e.g. through a symlink) keeps its first place, under its real name.
        if key not in unique or (unique[key].is_symlink() and not model.is_symlink()):
            unique[key] = model
    if not unique:
        raise NothingToScanError(f"{path}: no .onnx models to scan")
    return list(unique.values())


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _models_in_folder(folder: Path) -> list[Path]:
    root = folder.resolve()
    found: list[Path] = []
    # os.walk(followlinks=False) never descends into a symlinked folder, so a link cannot pull
    # in models from elsewhere on the machine.
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.lower().endswith(MODEL_SUFFIX):
                continue
            candidate = Path(dirpath) / name
            if candidate.is_symlink():
                resolved = candidate.resolve()
                if not resolved.is_file() or not resolved.is_relative_to(root):
                    log.warning("skipping %s: symlink to outside %s", candidate, folder)
                    continue
            found.append(candidate)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _models_in_list(list_file: Path) -> list[Path]:
    try:
        text = list_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{list_file}: cannot read the model list: {exc}") from None
    base = list_file.parent
    models: list[Path] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line).expanduser()
        entry = entry if entry.is_absolute() else base / entry
        models.extend(_models_in_folder(entry) if entry.is_dir() else [entry])
    return models


# --- the result cache -------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """$BDSCAN_CACHE_DIR, else $XDG_CACHE_HOME/bdscan, else ~/.cache/bdscan."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "bdscan"


def model_fingerprint(path: Path) -> str:
    """SHA-256 over the .onnx file and every external data file it references.

    External data can change without the .onnx file changing, so hashing the file alone would let
    a swapped weights file reuse a stale verdict. Only files that pass the scan's own confinement
    check (`external_data_paths`) are opened: this runs before the scan, and a hostile model's
    `../secret` or `/dev/zero` must never be read. Raises ModelLoadError when the file is
    unreadable.
    """
    # Checked before opening: a FIFO or a link to /dev/zero would block or never end the read.
    if path.exists() and not path.is_file():
        raise ModelLoadError(f"{path}: not a regular file (expected an .onnx model)")
    try:
        digest = hashlib.sha256(sha256_file(path).encode())
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the model file: {exc.strerror}") from None
    for name, target in _external_data_files(path):
        digest.update(b"\0" + name.encode())
        try:
            digest.update(sha256_file(target).encode())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def _external_data_files(path: Path) -> list[tuple[str, Path]]:
    try:
        import onnx

        from scanner.backends.onnx_graph import external_data_paths

        model = onnx.load_model(str(path), load_external_data=False)
        return sorted(external_data_paths(model, path).items())
    except Exception:
        # Not parseable, or external data that the scan will refuse: the scan itself says why,
        # and the .onnx bytes still key the cache.
        return []


class ResultCache:
    """Finished reports as JSON files, keyed by model, data, settings and bdscan's version.

    A cache problem (unreadable folder, corrupt entry) is never a scan failure: it is a miss, and a
    failed write is logged and forgotten.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_cache_dir()

    @staticmethod
    def key(model_fingerprint: str, data_sha256: str, config_key: str) -> str:
        # The version too: a release may change how a verdict is reached for the same settings.
        parts = (
            f"bdscan-cache/{CACHE_FORMAT}/{__version__}\n"
            f"{model_fingerprint}\n{data_sha256}\n{config_key}"
        )
        return hashlib.sha256(parts.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / f"v{CACHE_FORMAT}" / key[:2] / f"{key}.json"

    def get(self, key: str) -> ScanReport | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("key") != key:
                return None
            return ScanReport.from_dict(entry["report"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unusable cache entry %s: %s", path, exc)
            return None

    def put(self, key: str, report: ScanReport) -> None:
        # Imported here: the exporters package imports this module for exit_code().
        from exporters.atomic import atomic_write

        # A policy decision depends on the policy of the day; only the scan itself is cached.
        entry = {"key": key, "report": replace(report, policy=None).to_dict()}
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as f:
                json.dump(entry, f, sort_keys=True)
        except (OSError, BdscanError) as exc:
            log.warning("could not write the result cache %s: %s", path, exc)


# --- scanning ---------------------------------------------------------------------------------


def scan_models(
    models: Sequence[Path],
    dataset: Any,
    config: Any,
    scan_fn: ScanFn,
    *,
    cache: ResultCache | None = None,
    no_cache: bool = False,
    progress: BatchProgress | None = None,
    reraise_unexpected: bool = False,
) -> list[ModelOutcome]:
    """Scan every model with `scan_fn(path, dataset, config)`; one outcome per model, in order.

    A BdscanError becomes that model's error outcome and the next model is scanned. So does any
    other exception (a hostile model can make a runtime raise anything), as error kind
    "UnexpectedError"; `reraise_unexpected=True` (for --debug) lets those propagate instead.
    With a cache, a model whose (fingerprint, dataset.sha256, config.cache_key()) was scanned
    before is not scanned again; `no_cache=True` skips the lookup but still stores the fresh
    result. Errors are never cached.
    """
    outcomes: list[ModelOutcome] = []
    total = len(models)
    for index, path in enumerate(models):
        if progress is not None:
            progress.model_started(index, total, path)
        outcome = _scan_one(path, dataset, config, scan_fn, cache, no_cache, reraise_unexpected)
        outcomes.append(outcome)
        if progress is not None:
            progress.model_finished(index, total, outcome)
    return outcomes


def _scan_one(
    path: Path,
    dataset: Any,
    config: Any,
    scan_fn: ScanFn,
    cache: ResultCache | None,
    no_cache: bool,
    reraise_unexpected: bool,
) -> ModelOutcome:
    try:
        key = None
        # An endpoint has no file to fingerprint; its query journal makes a re-run cheap.
        if cache is not None and not is_endpoint(path):
            key = cache.key(model_fingerprint(path), dataset.sha256, config.cache_key())
            hit = None if no_cache else cache.get(key)
            if hit is not None:
                # The same bytes may sit under another name now; report where they are today.
                model = replace(hit.model, path=str(path))
                return ModelOutcome(path=str(path), report=replace(hit, model=model), cached=True)
        report = scan_fn(path, dataset, config)
        if cache is not None and key is not None:
            cache.put(key, report)
        return ModelOutcome(path=str(path), report=report)
    except UsageError:
        raise  # about the invocation (a flag that fits no model), not about this model
    except BdscanError as exc:
        return ModelOutcome(path=str(path), error=_one_line(exc), error_kind=type(exc).__name__)
    except Exception as exc:
        if reraise_unexpected:
            raise
        log.debug("unexpected error scanning %s", path, exc_info=True)
        return ModelOutcome(
            path=str(path),
            error=f"{type(exc).__name__}: {_one_line(exc)}",
            error_kind="UnexpectedError",
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --- the verdict of a run ---------------------------------------------------------------------


def exit_code(
    outcomes: Sequence[ModelOutcome],
    policy_results: Iterable[PolicyResult | None] | None = None,
) -> ExitCode:
    """The run's exit code from its outcomes and (aligned, optional) policy results.

    See the module docstring for the rules.
    """
    if not outcomes:
        return ExitCode.NOTHING_TO_SCAN
    results = list(policy_results) if policy_results is not None else [None] * len(outcomes)
    if len(results) != len(outcomes):
        raise ValueError(f"expected {len(outcomes)} policy results, got {len(results)}")
    findings = undecided = False
    for outcome, result in zip(outcomes, results, strict=True):
        if result is not None and result.decided:
            findings |= not result.passed
        elif outcome.report is not None:
            findings |= outcome.report.xray.verdict == "infected"
        elif outcome.finding_error:
            findings = True
        else:
            undecided = True
    if findings:
        return ExitCode.FINDINGS
    if undecided:
        return ExitCode.SCAN_ERROR
    return ExitCode.PASSED
