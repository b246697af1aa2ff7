"""The onnxruntime backend answers the same labels whatever convention the export used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scanner.backends import _shared
from scanner.backends.base import LabelOracle
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.errors import ModelRuntimeError, QueryBudgetExceeded
from tests import onnx_builders

X, Y = onnx_builders.digits()
SAMPLES = X[1500:1600]
EXPECTED = onnx_builders.reference_labels(SAMPLES)


def model_space(spec_dtype: str) -> np.ndarray:
    pts = SAMPLES[..., None]
    return np.round(pts * 255) if spec_dtype == "uint8" else pts


CONVENTIONS = [
    ("nchw_logits", dict(layout="NCHW"), "NCHW", "float32", None),
    ("nhwc_logits", dict(layout="NHWC"), "NHWC", "float32", None),
    ("nhw", dict(layout="NHW"), "NHW", "float32", None),
    ("flat", dict(layout="flat"), "flat", "float32", None),
    ("uint8_nhwc", dict(layout="NHWC", dtype="uint8"), "NHWC", "uint8", None),
    ("probs", dict(output="probs"), "NCHW", "float32", None),
    ("label_and_logits", dict(output="label_and_logits"), "NCHW", "float32", None),
    ("label_only", dict(output="label_only"), "NCHW", "float32", None),
    ("two_outputs", dict(output="logits_and_features"), "NCHW", "float32", None),
    ("batch1_rebatched", dict(batch=1), "NCHW", "float32", None),
    ("batch1_looped", dict(batch=1, flatten_with_fixed_reshape=True), "NCHW", "float32", 1),
    ("opset13", dict(opset=13), "NCHW", "float32", None),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "layout", "dtype", "fixed"), CONVENTIONS, ids=[c[0] for c in CONVENTIONS]
)
def test_every_convention_gives_the_reference_labels(
    tmp_path: Path, name: str, kwargs: dict, layout: str, dtype: str, fixed: int | None
) -> None:
    path = onnx_builders.build(tmp_path / f"{name}.onnx", **kwargs)
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1), device="cpu", classes_hint=10) as backend:
        spec = backend.input_spec
        assert (spec.layout, spec.dtype, spec.batch) == (layout, dtype, fixed)
        assert backend.provider == "CPUExecutionProvider"
        labels = backend.predict_labels(model_space(dtype).astype(np.float32))
    np.testing.assert_array_equal(labels, EXPECTED)


def test_label_output_is_preferred_over_scores(tmp_path: Path) -> None:
    path = onnx_builders.build(tmp_path / "m.onnx", output="label_and_logits")
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1)) as backend:
        assert backend.outputs.kind == "label"
        assert backend.outputs.labels_from == "label"
        assert backend.num_classes == 10


def test_uint8_bypass_accepts_points_between_pixels_and_clip_mode_rounds(tmp_path: Path) -> None:
    path = onnx_builders.build(tmp_path / "u8.onnx", layout="NHWC", dtype="uint8")
    w, b = onnx_builders.weights()
    rng = np.random.default_rng(0)
    # Points far outside [0, 255]: only the bypass can represent them.
    pts = rng.normal(0, 600, size=(64, 8, 8, 1)).astype(np.float32)
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1), uint8_mode="bypass") as backend:
        assert backend.input_spec.uint8_mode == "bypass"
        bypass = backend.predict_labels(pts)
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1), uint8_mode="clip") as backend:
        assert backend.input_spec.uint8_mode == "clip"
        clipped = backend.predict_labels(pts)
    expect_bypass = ((pts / 255).reshape(64, -1) @ w + b).argmax(1)
    expect_clip = ((np.clip(np.rint(pts), 0, 255) / 255).reshape(64, -1) @ w + b).argmax(1)
    np.testing.assert_array_equal(bypass, expect_bypass)
    np.testing.assert_array_equal(clipped, expect_clip)
    assert (bypass != clipped).any()


def test_oracle_counts_batches_and_enforces_the_budget(tmp_path: Path) -> None:
    path = onnx_builders.build(tmp_path / "m.onnx")
    seen: list[int] = []
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1)) as backend:
        oracle = LabelOracle(backend, batch_size=30, budget=150, progress=seen.append)
        np.testing.assert_array_equal(oracle(SAMPLES[..., None]), EXPECTED)
        assert oracle.queries == 100
        assert seen == [30, 30, 30, 10]
        with pytest.raises(QueryBudgetExceeded, match="--max-queries 150"):
            oracle(SAMPLES[..., None])
        assert oracle.queries == 100  # nothing was sent past the budget


def test_a_dead_worker_is_a_scan_error_not_a_crash(tmp_path: Path) -> None:
    path = onnx_builders.build(tmp_path / "m.onnx")
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1)) as backend:
        assert backend._worker is not None
        backend._worker.proc.kill()
        with pytest.raises(ModelRuntimeError, match="worker died"):
            backend.predict_labels(SAMPLES[..., None])


def test_a_hung_worker_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    import os
    import signal

    path = onnx_builders.build(tmp_path / "m.onnx")
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1), timeout=1.0) as backend:
        assert backend._worker is not None
        os.kill(backend._worker.proc.pid, signal.SIGSTOP)  # a model that never answers
        with pytest.raises(ModelRuntimeError, match="did not answer within 1 s"):
            backend.predict_labels(SAMPLES[..., None])
        assert backend._worker.proc.poll() is not None


def _segments() -> set[str]:
    root = Path("/dev/shm")
    return {p.name for p in root.glob("bdscan-*")} if root.is_dir() else set()


@pytest.mark.skipif(not _shared.available(), reason="no writable /dev/shm")
@pytest.mark.parametrize("kwargs", [dict(), dict(layout="NHWC", dtype="uint8")])
def test_shared_memory_and_the_pipe_give_the_same_labels_and_leave_nothing_behind(
    tmp_path: Path, kwargs: dict
) -> None:
    path = onnx_builders.build(tmp_path / "m.onnx", **kwargs)
    # 5,000 8x8 points: 1.3 MB, above the size that goes through shared memory.
    pts = np.concatenate([model_space(kwargs.get("dtype", "float32"))] * 50).astype(np.float32)
    before = _segments()
    answers = []
    for shared in (True, False):
        with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1), shared_memory=shared) as backend:
            answers.append(backend.predict_labels(pts))
            used = backend._worker._shared is not None  # type: ignore[union-attr]
            assert used == shared
            # Unlinked as soon as the worker mapped it: nothing to leak if either side dies.
            assert _segments() == before
    np.testing.assert_array_equal(answers[0], answers[1])
    np.testing.assert_array_equal(answers[0], np.tile(EXPECTED, 50))


def test_without_shared_memory_the_pipe_carries_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /dev/shm missing (or full: posix_fallocate fails): the scan goes on through the pipe.
    path = onnx_builders.build(tmp_path / "m.onnx")
    pts = np.concatenate([model_space("float32")] * 50).astype(np.float32)

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_shared.os, "posix_fallocate", full)
    before = _segments()
    with OnnxRuntimeBackend(path, image_hwc=(8, 8, 1)) as backend:
        labels = backend.predict_labels(pts)
        assert backend._worker._shared is None  # type: ignore[union-attr]
    np.testing.assert_array_equal(labels, np.tile(EXPECTED, 50))
    assert _segments() == before


def test_bench_throughput_measures_the_three_paths(tmp_path: Path) -> None:
    from tests.conftest import bdscan

    path = onnx_builders.build(tmp_path / "m.onnx")
    out = tmp_path / "tp.json"
    r = bdscan("bench", "throughput", path, "--queries", "8192", "--out", out)
    printed = r.stdout
    assert r.exit_code == 0 and "| m.onnx | 8x8x1 |" in printed
    (row,) = json.loads(out.read_text())["rows"]
    assert row["queries"] == 8192
    assert min(row["raw_qps"], row["pipe_qps"], row["shared_qps"]) > 0
    assert row["shared_ratio"] == round(row["raw_qps"] / row["shared_qps"], 3)


def test_cuda_padding_keeps_each_rows_answer_and_uses_few_shapes(tmp_path: Path) -> None:
    """The worker's CUDA path pads batches to a few sizes; run here on the CPU provider, the
    padded run must answer every real row exactly as the unpadded one."""
    import onnxruntime as ort

    from scanner.backends._worker import _bucket, _run_padded

    sizes = range(1, 4097)
    assert all(n <= _bucket(n) < 2 * n + 16 for n in sizes)
    assert len({_bucket(n) for n in sizes}) <= 16
    path = onnx_builders.build(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    fetch = [o.name for o in sess.get_outputs()]
    for n in (1, 5, 17, 100):
        x = model_space("float32")[:n].astype(np.float32)
        x = np.moveaxis(x, -1, 1)
        padded = _run_padded(sess, fetch, name, x)
        plain = sess.run(fetch, {name: x})
        assert [p.shape for p in padded] == [p.shape for p in plain]
        for a, b in zip(padded, plain, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bench_models_writes_dynamic_batch_classifiers(tmp_path: Path) -> None:
    import onnxruntime as ort

    from scanner.backends.onnx_graph import parse_model
    from tests.conftest import bdscan

    r = bdscan(
        "bench", "models", "--out", tmp_path, "--sizes", "32", "--classes", "100", "--no-zoo"
    )
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in tmp_path.glob("*.onnx"))
    assert names == ["mobilenetv2_32px_100c.onnx", "resnet18_32px_100c.onnx"]
    for name in names:
        parsed = parse_model(tmp_path / name)
        assert tuple(parsed.image_input.dims[1:]) == (3, 32, 32)
        sess = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        (scores,) = sess.run(None, {"input": np.zeros((3, 3, 32, 32), np.float32)})
        assert scores.shape == (3, 100)


def test_bench_models_refuses_sizes_it_cannot_build(tmp_path: Path) -> None:
    from scanner.errors import ExitCode
    from tests.conftest import bdscan

    r = bdscan("bench", "models", "--out", tmp_path / "m", "--sizes", "0")
    assert (
        r.exit_code == ExitCode.USAGE_ERROR and "--sizes" in r.output and "at least 8" in r.output
    )
    assert not (tmp_path / "m").exists()
