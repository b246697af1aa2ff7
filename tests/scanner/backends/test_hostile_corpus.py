"""Every case of the committed hostile-model corpus (tests/hostile_corpus) through `bdscan scan`,
in process: the expected exit code, the one-line message naming the file, never a traceback,
and never a read of the sentinel file outside the case's folder.

The corpus is copied to a temporary folder first, where FIFOs, symlinks and the 3,000-node model
are made (`materialize`), so no test reads or writes the committed files. Regenerate the corpus
with `.venv/bin/python tests/hostile_corpus/make_corpus.py`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from tests.hostile_corpus import make_corpus

EXPECTED = make_corpus.load_expected()
CASES: list[dict[str, Any]] = EXPECTED["cases"]
# A hang guard, not a speed test: a case that has not finished by then never would (the scan
# itself stops a runtime call after --timeout 5 s).
HANG_GUARD_S = 60.0
# Cases whose file, if a regression opened it, would block forever (a FIFO) or never end
# (/dev/zero): run in a child process that can be killed. Startup is ~1 s, so 15 s is a hang.
SUBPROCESS_CASES = {"model_is_fifo", "model_symlink_dev_zero", "ext_fifo", "ext_symlink_dev_zero"}
SUBPROCESS_GUARD_S = 15.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus.copy_corpus(tmp_path_factory.mktemp("hostile") / "corpus")


class _OpenLog:
    """Python-level `open` events while a case runs (an audit hook cannot be removed, so one is
    installed once and records only while `active`). Reads made by onnxruntime's C++ code, or in
    the worker process, are not seen here; `benchmarks/fuzz.py` watches the worker too."""

    paths: list[str] = []  # noqa: RUF012 - one process-wide log
    active = False
    installed = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event == "open" and isinstance(args[0], str | bytes | Path):
            cls.paths.append(str(args[0]))


def invoke(corpus: Path, case: dict[str, Any]) -> tuple[Result, float, list[str]]:
    """Run one case's scan under the hang guard; returns the result, seconds, opened paths."""
    args = ["scan", str(corpus / case["path"]), "--data", str(corpus / EXPECTED["data"])]
    args += EXPECTED["scan_args"]
    box: dict[str, Any] = {}

    def target() -> None:
        box["result"] = CliRunner().invoke(cli, args)

    _OpenLog.install()
    _OpenLog.paths = []
    _OpenLog.active = True
    started = time.perf_counter()
    # A thread, so that a hang fails this case instead of blocking the whole run.
    worker = threading.Thread(target=target, name=f"corpus-{case['name']}", daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    _OpenLog.active = False
    elapsed = time.perf_counter() - started
    if worker.is_alive():
        pytest.fail(f"{case['name']}: still running after {HANG_GUARD_S:.0f} s (a hang)")
    return box["result"], elapsed, list(_OpenLog.paths)


def invoke_subprocess(corpus: Path, case: dict[str, Any]) -> tuple[int, str, float]:
    """Run one case as `python -m scanner` under the hang guard: for model paths that are FIFOs
    or /dev/zero, where a regression blocks or reads forever inside a C call that no thread in
    this process could be stopped from."""
    args = [sys.executable, "-m", "scanner", "scan", str(corpus / case["path"])]
    args += ["--data", str(corpus / EXPECTED["data"]), *EXPECTED["scan_args"]]
    started = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=SUBPROCESS_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case['name']}: still running after {SUBPROCESS_GUARD_S:.0f} s (a hang)")
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def check(corpus: Path, case: dict[str, Any]) -> None:
    opened: list[str] = []
    if case["name"] in SUBPROCESS_CASES:
        code, output, elapsed = invoke_subprocess(corpus, case)
    else:
        result, elapsed, opened = invoke(corpus, case)
        code, output = result.exit_code, result.output
    where = f"{case['name']} ({case['description']}): exit {code}, {elapsed:.1f} s"
    assert "Traceback" not in output, f"{where}\n{output}"
    assert "internal error" not in output, f"{where}\n{output}"
    assert "RecursionError" not in output, f"{where}\n{output}"
    assert code in case["exit_codes"], f"{where}, expected {case['exit_codes']}\n{output}"
    if case["message"]:
        assert case["message"].lower() in output.lower(), f"{where}\n{output}"
    if case["rule"]:
        assert case["rule"] in output, f"{where}\n{output}"
    if code == 2:
        # One line that names the file (the model, or the data where they do not fit), and no
        # report standing in for a scan that did not happen.
        lines = [ln for ln in output.splitlines() if ln.strip()]
        assert len(lines) == 1, f"{where}: expected one line\n{output}"
        names = (Path(case["path"]).name, case["name"], EXPECTED["data"])
        assert any(n in lines[0] for n in names), f"{where}: the line names no file\n{output}"
    sentinel = str((corpus / EXPECTED["sentinel"]).resolve())
    leaked = [p for p in opened if str(Path(p).resolve()) == sentinel]
    assert not leaked, f"{where}: opened the sentinel outside the folder: {leaked}"


# Valid models are scanned in full (about a second each); the default run keeps these and the
# rest (refused while parsing or checking, or at onnxruntime's first answer) runs with -m slow.
DEFAULT_CONTROLS = {"clean", "clean_label", "ext_valid_inside", "loop_small", "chain_3000"}


def _param(case: dict[str, Any]) -> Any:
    slow = 0 in case["exit_codes"] and case["name"] not in DEFAULT_CONTROLS
    return pytest.param(case, id=case["name"], marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_corpus_case(corpus: Path, case: dict[str, Any]) -> None:
    check(corpus, case)


def test_corpus_is_what_make_corpus_writes(tmp_path: Path) -> None:
    """The committed files are exactly what the generator writes (no hand edits, no drift)."""
    make_corpus.write_corpus(tmp_path)
    committed = make_corpus.HERE
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            rel = path.relative_to(tmp_path)
            assert (committed / rel).read_bytes() == path.read_bytes(), f"{rel} differs"
    names = {p.relative_to(committed) for p in (committed / "cases").rglob("*") if p.is_file()}
    fresh = {p.relative_to(tmp_path) for p in (tmp_path / "cases").rglob("*") if p.is_file()}
    assert names == fresh


def test_corpus_covers_every_category() -> None:
    categories = {c["category"] for c in CASES}
    assert len(CASES) >= 100
    for category in categories - {"large-graph"}:
        assert sum(c["category"] == category for c in CASES) >= 3, category


def test_the_open_log_sees_a_python_open(corpus: Path) -> None:
    """Positive control for the sentinel check above: an open() of the sentinel while the log
    is active is recorded."""
    sentinel = corpus / EXPECTED["sentinel"]
    _OpenLog.install()
    _OpenLog.paths = []
    _OpenLog.active = True
    try:
        sentinel.read_bytes()
    finally:
        _OpenLog.active = False
    assert str(sentinel) in _OpenLog.paths
