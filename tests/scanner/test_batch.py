"""Many models at once: expanding MODEL, per-model errors, the result cache and the exit code."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from policies import evaluate_outcomes, load_policy
from scanner.batch import (
    ResultCache,
    default_cache_dir,
    exit_code,
    expand_models,
    model_fingerprint,
    scan_models,
)
from scanner.detectors.evidence import Evidence
from scanner.errors import ExitCode, ModelLoadError, NothingToScanError, UsageError
from scanner.report import (
    DataInfo,
    ModelInfo,
    ModelOutcome,
    PlaneResult,
    ScanReport,
    XrayResult,
    encode_label_map,
)


@dataclass(frozen=True)
class FakeConfig:
    planes: int = 1
    resolution: int = 16

    def cache_key(self) -> str:
        return f"planes={self.planes};R={self.resolution}"


DATA = SimpleNamespace(path="clean.npz", sha256="d" * 64)


class FakeScanner:
    """Stands in for scanner.pipeline.scan_model: a verdict from the file's first byte."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path, dataset: Any, config: FakeConfig) -> ScanReport:
        self.calls.append(path)
        raw = path.read_bytes()
        if not raw.startswith((b"CLEAN", b"EVIL")):
            raise ModelLoadError(f"{path}: not an ONNX model (protobuf parse failed)")
        infected = raw.startswith(b"EVIL")
        label_map = np.full((16, 16), 5 if infected else 0, dtype=np.int64)
        label_map[:8, :8] = 1
        plane = PlaneResult(
            anchors=(0, 1, 2),
            anchor_labels=(0, 1, 2),
            resolution=16,
            extend=5.0,
            re=0.3 if infected else 1.4,
            ats=0.02 if infected else 0.5,
            label_counts=tuple(int((label_map == k).sum()) for k in range(10)),
            anchor_areas=(0.0, 0.25, 0.0),
            queries=256,
            label_map=encode_label_map(label_map),
        )
        return ScanReport(
            model=ModelInfo(
                path=str(path),
                sha256="a" * 64,
                input={"name": "x"},
                num_classes=10,
                provider="CPUExecutionProvider",
                size_bytes=len(raw),
            ),
            xray=XrayResult(
                verdict="infected" if infected else "clean",
                score=0.9 if infected else 0.1,
                target_label=5 if infected else None,
                target_note="",
                re_mean=plane.re,
                ats_mean=plane.ats,
                queries=256,
                seconds=0.01,
                settings={"planes": config.planes},
                evidence=Evidence.empty(),
                planes=(plane,),
            ),
            data=DataInfo(dataset.path, dataset.sha256),
            created="2026-06-15T10:00:00Z",
        )


def model(path: Path, content: bytes = b"CLEAN model") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- expanding MODEL ----------------------------------------------------------------------------


def test_single_file(tmp_path: Path) -> None:
    m = model(tmp_path / "a.onnx")
    assert expand_models(m) == [m]
    assert expand_models(tmp_path / "missing.onnx") == [tmp_path / "missing.onnx"]


def test_folder_is_sorted_recursive_and_skips_other_files(tmp_path: Path) -> None:
    for name in ("b.onnx", "a.onnx", "sub/c.ONNX", "notes.txt", "weights.bin", ".hidden/x.onnx"):
        model(tmp_path / "zoo" / name)
    found = expand_models(tmp_path / "zoo")
    assert [p.relative_to(tmp_path / "zoo").as_posix() for p in found] == [
        "a.onnx",
        "b.onnx",
        "sub/c.ONNX",
    ]


def test_folder_does_not_follow_symlinks_out_of_it(tmp_path: Path) -> None:
    outside = model(tmp_path / "elsewhere" / "secret.onnx")
    model(tmp_path / "elsewhere" / "more" / "deep.onnx")
    zoo = tmp_path / "zoo"
    inside = model(zoo / "real.onnx")
    (zoo / "link-out.onnx").symlink_to(outside)
    (zoo / "link-in.onnx").symlink_to(inside)
    (zoo / "dir-link").symlink_to(tmp_path / "elsewhere" / "more", target_is_directory=True)
    names = [p.name for p in expand_models(zoo)]
    assert names == ["real.onnx"]  # link-in.onnx is the same file: kept once


def test_list_file(tmp_path: Path) -> None:
    a = model(tmp_path / "models" / "a.onnx")
    b = model(tmp_path / "models" / "b.onnx")
    folder = tmp_path / "more"
    c = model(folder / "c.onnx")
    absolute = model(tmp_path / "abs" / "d.onnx")
    listing = tmp_path / "lists" / "models.txt"
    listing.parent.mkdir()
    listing.write_text(
        "# models to vet before release\n"
        "../models/b.onnx\n"
        "\n"
        "../models/a.onnx   # the baseline\n"
        "../more\n"
        f"{absolute}\n"
        "../models/b.onnx\n"
        "../models/missing.onnx\n"
    )
    found = expand_models(listing)
    assert [p.resolve() for p in found[:4]] == [x.resolve() for x in (b, a, c, absolute)]
    assert found[4].name == "missing.onnx"  # scanned, and recorded as an error then
    assert len(found) == 5


def test_empty_expansions_raise_nothing_to_scan(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingToScanError, match=r"empty: no \.onnx models to scan"):
        expand_models(tmp_path / "empty")
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing yet\n\n")
    with pytest.raises(NothingToScanError, match=r"list\.txt: no \.onnx models"):
        expand_models(listing)
    assert NothingToScanError("x").exit_code == ExitCode.NOTHING_TO_SCAN


def test_missing_argument_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope: no such file or folder"):
        expand_models(tmp_path / "nope")


# --- scanning many ------------------------------------------------------------------------------


def test_one_corrupt_model_is_an_error_and_the_others_are_scanned(tmp_path: Path) -> None:
    paths = [
        model(tmp_path / "a.onnx", b"CLEAN a"),
        model(tmp_path / "b.onnx", b"\x00\x01garbage"),
        model(tmp_path / "c.onnx", b"EVIL c"),
    ]
    scanner = FakeScanner()
    seen: list[tuple[str, int, int]] = []

    class Progress:
        def model_started(self, index: int, total: int, path: Path) -> None:
            seen.append(("start", index, total))

        def model_finished(self, index: int, total: int, outcome: ModelOutcome) -> None:
            seen.append(("end", index, total))

    outcomes = scan_models(paths, DATA, FakeConfig(), scanner, progress=Progress())
    assert scanner.calls == paths
    assert [o.report is not None for o in outcomes] == [True, False, True]
    assert outcomes[1].error_kind == "ModelLoadError"
    assert outcomes[1].error is not None and "not an ONNX model" in outcomes[1].error
    assert seen == [("start", 0, 3), ("end", 0, 3), ("start", 1, 3), ("end", 1, 3),
                    ("start", 2, 3), ("end", 2, 3)]  # fmt: skip


def test_unexpected_exceptions_are_contained_unless_debugging(tmp_path: Path) -> None:
    paths = [model(tmp_path / "a.onnx"), model(tmp_path / "b.onnx")]

    def crashing(path: Path, dataset: Any, config: Any) -> ScanReport:
        if path.name == "a.onnx":
            raise RuntimeError("onnxruntime: segfault-adjacent\nsecond line")
        return FakeScanner()(path, dataset, config)

    outcomes = scan_models(paths, DATA, FakeConfig(), crashing)
    assert outcomes[0].error_kind == "UnexpectedError"
    assert outcomes[0].error == "RuntimeError: onnxruntime: segfault-adjacent second line"
    assert outcomes[1].report is not None
    with pytest.raises(RuntimeError, match="segfault"):
        scan_models(paths, DATA, FakeConfig(), crashing, reraise_unexpected=True)


def test_missing_model_in_a_batch_is_an_error(tmp_path: Path) -> None:
    outcomes = scan_models(
        [tmp_path / "gone.onnx"], DATA, FakeConfig(), FakeScanner(), cache=ResultCache(tmp_path)
    )
    assert outcomes[0].error_kind == "ModelLoadError"
    assert "gone.onnx: cannot read the model file" in (outcomes[0].error or "")


# --- the cache ----------------------------------------------------------------------------------


def test_cache_hit_miss_and_no_cache(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    paths = [model(tmp_path / "a.onnx", b"CLEAN a"), model(tmp_path / "b.onnx", b"EVIL b")]
    scanner = FakeScanner()

    first = scan_models(paths, DATA, FakeConfig(), scanner, cache=cache)
    assert len(scanner.calls) == 2 and not any(o.cached for o in first)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2

    second = scan_models(paths, DATA, FakeConfig(), scanner, cache=cache)
    assert len(scanner.calls) == 2  # nothing re-scanned
    assert all(o.cached for o in second)
    assert [o.report for o in second] == [o.report for o in first]

    forced = scan_models(paths, DATA, FakeConfig(), scanner, cache=cache, no_cache=True)
    assert len(scanner.calls) == 4 and not any(o.cached for o in forced)


def test_cache_key_covers_model_bytes_data_and_settings(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    path = model(tmp_path / "a.onnx", b"CLEAN a")
    scanner = FakeScanner()
    scan_models([path], DATA, FakeConfig(), scanner, cache=cache)
    scan_models([path], DATA, FakeConfig(resolution=32), scanner, cache=cache)
    scan_models([path], SimpleNamespace(sha256="e" * 64), FakeConfig(), scanner, cache=cache)
    path.write_bytes(b"EVIL a, swapped after the first scan")
    (again,) = scan_models([path], DATA, FakeConfig(), scanner, cache=cache)
    assert len(scanner.calls) == 4
    assert again.report is not None and again.report.xray.verdict == "infected"


def test_cached_report_follows_the_file_to_its_new_name(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    old = model(tmp_path / "old.onnx", b"EVIL x")
    scan_models([old], DATA, FakeConfig(), FakeScanner(), cache=cache)
    new = tmp_path / "renamed.onnx"
    old.rename(new)
    (hit,) = scan_models([new], DATA, FakeConfig(), FakeScanner(), cache=cache)
    assert hit.cached and hit.path == str(new)
    assert hit.report is not None and hit.report.model.path == str(new)


def test_errors_are_not_cached_and_a_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    bad = model(tmp_path / "bad.onnx", b"junk")
    good = model(tmp_path / "good.onnx", b"CLEAN")
    scanner = FakeScanner()
    scan_models([bad, good], DATA, FakeConfig(), scanner, cache=cache)
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text("{not json")
    (again,) = scan_models([good], DATA, FakeConfig(), scanner, cache=cache)
    assert not again.cached and again.report is not None
    assert len(scanner.calls) == 3


def test_an_unwritable_cache_does_not_fail_the_scan(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    (outcome,) = scan_models(
        [model(tmp_path / "a.onnx")], DATA, FakeConfig(), FakeScanner(), cache=ResultCache(blocker)
    )
    assert outcome.report is not None and outcome.error is None


def test_policy_is_not_cached(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    path = model(tmp_path / "a.onnx", b"EVIL")

    def with_policy(p: Path, d: Any, c: Any) -> ScanReport:
        return replace(FakeScanner()(p, d, c), policy={"name": "old", "passed": True})

    scan_models([path], DATA, FakeConfig(), with_policy, cache=cache)
    (hit,) = scan_models([path], DATA, FakeConfig(), with_policy, cache=cache)
    assert hit.cached and hit.report is not None and hit.report.policy is None


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BDSCAN_CACHE_DIR", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    assert ResultCache().root == tmp_path / "env-cache"
    monkeypatch.delenv("BDSCAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "bdscan"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "bdscan"


def test_fingerprint_covers_external_data(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        initializer=[weight],
    )
    path = tmp_path / "m.onnx"
    onnx.save_model(
        helper.make_model(graph),
        str(path),
        save_as_external_data=True,
        location="m.weights",
        size_threshold=0,
    )
    before = model_fingerprint(path)
    weights = tmp_path / "m.weights"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(path) != before
    os.remove(weights)
    assert model_fingerprint(path) not in (before, model_fingerprint(model(tmp_path / "x.onnx")))


# --- exit codes ---------------------------------------------------------------------------------


def _outcomes(tmp_path: Path, *contents: bytes) -> list[ModelOutcome]:
    paths = [model(tmp_path / f"m{i}.onnx", c) for i, c in enumerate(contents)]
    return scan_models(paths, DATA, FakeConfig(), FakeScanner())


def test_exit_codes_without_a_policy(tmp_path: Path) -> None:
    assert exit_code([]) is ExitCode.NOTHING_TO_SCAN
    assert exit_code(_outcomes(tmp_path, b"CLEAN", b"CLEAN")) is ExitCode.PASSED
    assert exit_code(_outcomes(tmp_path, b"CLEAN", b"EVIL")) is ExitCode.FINDINGS
    assert exit_code(_outcomes(tmp_path, b"CLEAN", b"junk")) is ExitCode.SCAN_ERROR
    # Findings win over scan errors: there is already something concrete to fix.
    assert exit_code(_outcomes(tmp_path, b"EVIL", b"junk")) is ExitCode.FINDINGS


def test_exit_codes_with_policies(tmp_path: Path) -> None:
    clean_and_broken = _outcomes(tmp_path, b"CLEAN", b"junk")
    default = evaluate_outcomes(load_policy("default"), clean_and_broken)
    assert exit_code(clean_and_broken, default) is ExitCode.SCAN_ERROR  # undecided error
    strict = evaluate_outcomes(load_policy("strict"), clean_and_broken)
    assert exit_code(clean_and_broken, strict) is ExitCode.FINDINGS  # the policy decided it

    evil = _outcomes(tmp_path, b"EVIL")
    assert exit_code(evil, evaluate_outcomes(load_policy("default"), evil)) is ExitCode.FINDINGS
    # A policy that only warns overrides the bare verdict.
    permissive = evaluate_outcomes(load_policy("permissive"), evil)
    assert exit_code(evil, permissive) is ExitCode.PASSED
    with pytest.raises(ValueError, match="expected 1 policy results, got 0"):
        exit_code(evil, [])
