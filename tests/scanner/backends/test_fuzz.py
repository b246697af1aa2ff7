"""The mutation fuzzer (benchmarks/fuzz.py) as tests: a fixed-seed dose of 100 mutated models in
the default run (no traceback, no hang, no read outside the model's folder), 2,000 under
`-m slow`, and one named regression test per crash the fuzzer has found.

The dose runs the fuzzer as a child process in `--runner fork` mode: each case is still its own
process with a hard wall timeout, forked from a parent that imported bdscan once, so 100 cases
take ~20-40 s on two cores instead of the ~2 minutes `python -m scanner` per case would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import onnx
import pytest
from onnx import TensorProto

from tests.conftest import REPO, bdscan

FUZZ = REPO / "benchmarks" / "fuzz.py"
FIXTURES = REPO / "tests" / "fixtures" / "models"
DATA = REPO / "tests" / "hostile_corpus" / "fmnist30.npz"
FAST = ["--planes", "1", "--resolution", "5", "--no-cache", "--quiet"]
FAILURES = ("traceback", "hang", "outside-read")


def fuzz_module() -> ModuleType:
    """benchmarks/ is no package: load the script by path (for its helpers, not to run it)."""
    spec = importlib.util.spec_from_file_location("bdscan_fuzz", FUZZ)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bdscan_fuzz"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def run_fuzz(out: Path, cases: int, seed: int, guard_s: float) -> dict[str, Any]:
    """The fuzzer as a child process; `guard_s` only stops a fuzzer that itself hangs."""
    args = [sys.executable, str(FUZZ), "--cases", str(cases), "--seed", str(seed)]
    args += ["--jobs", "2", "--runner", "fork", "--timeout", "60", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=guard_s, cwd=REPO)
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def describe(doc: dict[str, Any], classes: tuple[str, ...]) -> str:
    rows = [c for c in doc["cases"] if c["cls"] in classes]
    return "\n".join(
        f"case {c['index']} [{c['cls']}] {c['seed']}: {'; '.join(c['mutations'])} -> "
        f"{c['first_line'][:200]} {c['outside']}"
        for c in rows
    )


@pytest.fixture(scope="module")
def dose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_fuzz(tmp_path_factory.mktemp("fuzz") / "results.json", 100, 0, guard_s=900)


def test_fuzz_dose_has_no_traceback_hang_or_outside_read(dose: dict[str, Any]) -> None:
    classes = dose["summary"]["classes"]
    assert dose["summary"]["cases"] == 100
    assert all(classes[c] == 0 for c in FAILURES), describe(dose, FAILURES)


def test_fuzz_dose_names_the_file_in_every_error(dose: dict[str, Any]) -> None:
    """Exit 2 always says which file and what was expected, never a bare exception."""
    assert dose["summary"]["classes"]["internal-error"] == 0, describe(dose, ("internal-error",))


@pytest.mark.slow
def test_fuzz_2000_cases(tmp_path: Path) -> None:
    # 8 minutes on two quiet cores, 13 on busy ones (measured: benchmarks/fuzz.py); the guard
    # only stops a fuzzer that itself hangs.
    doc = run_fuzz(tmp_path / "results.json", 2000, 1, guard_s=3600)
    assert doc["summary"]["cases"] == 2000
    bad = (*FAILURES, "internal-error")
    assert all(doc["summary"]["classes"][c] == 0 for c in bad), describe(doc, bad)


# --- the harness itself: it must be able to see what it claims to see --------------------------


def test_the_audit_hook_sees_an_outside_open_in_a_child(tmp_path: Path) -> None:
    """Positive control: the sitecustomize hook, as the fuzzer installs it, logs a plain open()
    of the sentinel, so a zero outside-read count means something."""
    fuzz = fuzz_module()
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(fuzz.SITECUSTOMIZE)
    sentinel = tmp_path / fuzz.SENTINEL
    sentinel.write_text("x")
    log = tmp_path / "audit.log"
    env = {**os.environ, "PYTHONPATH": str(hook), fuzz.AUDIT_ENV: str(log)}
    code = f"open({str(sentinel)!r}).read()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert str(sentinel) in fuzz._read_opens(log)


def test_classify_flags_planted_and_sibling_paths(tmp_path: Path) -> None:
    fuzz = fuzz_module()
    work = tmp_path.resolve()
    folder = work / "cases" / "case-00001"
    folder.mkdir(parents=True)
    (work / "cases" / "case-00002").mkdir()
    data = work / "gray28.npz"
    case = fuzz.Case(1, "seed.onnx", [], folder, data, ["/etc/hostname"])
    inside = [str(folder / "model.onnx"), str(data)]
    assert fuzz.classify(case, 2, f"{folder}/model.onnx: bad", False, inside, work)[0] == "ok"
    for path in ("/etc/hostname", str(work / fuzz.SENTINEL), str(work / "cases/case-00002/w")):
        assert fuzz.classify(case, 2, "", False, [*inside, path], work)[0] == "outside-read"
    assert fuzz.classify(case, None, "", True, inside, work)[0] == "hang"
    assert fuzz.classify(case, 2, "Traceback (most recent", False, [], work)[0] == "traceback"
    assert fuzz.classify(case, -11, "", False, [], work)[0] == "traceback"
    bare = "bdscan: error: ValueError: embedded null byte"
    assert fuzz.classify(case, 2, bare, False, [], work)[0] == "internal-error"


def test_the_same_seed_makes_the_same_cases(tmp_path: Path) -> None:
    fuzz = fuzz_module()
    seeds = fuzz.load_seeds()
    data = {k: tmp_path / f"{k}.npz" for k in ("gray28", "rgb32", "gray8")}
    one = [fuzz.make_case(i, 7, seeds, tmp_path / "a", data) for i in range(20)]
    two = [fuzz.make_case(i, 7, seeds, tmp_path / "b", data) for i in range(20)]
    for a, b in zip(one, two, strict=True):
        assert a.mutations == b.mutations and a.seed == b.seed
        assert a.model.read_bytes() == b.model.read_bytes()


# --- regressions: crashes the fuzzer found, one test per mutation --------------------------------


def _largest_weight_external(tmp_path: Path, location: str, seed: str = "two_output.onnx") -> Path:
    """The mutation `external:<location>`: the seed's largest initializer moved to external
    data at `location` (what fuzz.mut_external writes)."""
    model = onnx.load(str(FIXTURES / seed))
    t = max(model.graph.initializer, key=lambda x: len(x.raw_data))
    size = len(t.raw_data)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(size))):
        t.external_data.add(key=key, value=value)
    path = tmp_path / "case" / "model.onnx"
    path.parent.mkdir()
    onnx.save(model, str(path))
    return path


def _scan(model: Path) -> tuple[int, str]:
    r = bdscan("scan", model, "--data", DATA, *FAST)
    return r.exit_code, r.stdout + r.stderr


def test_regression_external_location_with_a_nul_byte(tmp_path: Path) -> None:
    """Found by the fuzzer (mutation `external:'w\\x00.bin'` on two_output.onnx): the scan
    printed 'ValueError: embedded null byte' (exit 2, but no file named, nothing expected)."""
    model = _largest_weight_external(tmp_path, "w\x00.bin")
    code, output = _scan(model)
    assert code == 2 and "Traceback" not in output
    assert str(model) in output and "external data" in output, output


def test_regression_external_location_too_long_for_the_file_system(tmp_path: Path) -> None:
    """Found by the fuzzer (mutation `external:'aaa...'`, a 5,000-character location, on
    batch1.onnx): 'OSError: [Errno 36] File name too long' instead of one line about the model."""
    model = _largest_weight_external(tmp_path, "a" * 5000, seed="batch1.onnx")
    code, output = _scan(model)
    assert code == 2 and "Traceback" not in output
    assert str(model) in output and "external data" in output, output[:500]


def test_regression_fixed_batch_of_int64_max(tmp_path: Path) -> None:
    """Found by the fuzzer (mutation `dims:value:input` on label_only.onnx, the batch set to
    2^63-1): 'ValueError: Maximum allowed dimension exceeded' (numpy, allocating a batch)."""
    model = onnx.load(str(FIXTURES / "label_only.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2**63 - 1
    path = tmp_path / "batch.onnx"
    onnx.save(model, str(path))
    code, output = _scan(path)
    assert code == 2 and "Traceback" not in output
    assert str(path) in output and "batch" in output, output
