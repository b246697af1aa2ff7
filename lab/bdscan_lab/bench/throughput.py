"""Queries per second: the scanner's oracle against onnxruntime alone, in one run.

For each model: the same uniform points, in the model's own input size, answered (1) by an
onnxruntime session in this process (the reference: no isolation, no copies), (2) by the
scanner's worker with every batch through its pipe, and (3) through shared memory (the default
transport). The ratios are what the worker's isolation costs. On CUDA two more figures: the
batch bound on the GPU once (IOBinding) and the same replayed as a CUDA graph, the ceiling a
transport could reach. Random points are enough here: throughput does not depend on what the
model says (`bdscan bench models` writes random-weight models of realistic sizes).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scanner.backends.onnx_graph import parse_model
from scanner.backends.onnxruntime import Device, OnnxRuntimeBackend, resolve_layout, to_model_input

# The scanner's batch (scanner.pipeline's default, before its per-call byte cap).
BATCH = 4096
QUERY_BYTES_PER_CALL = 64 << 20


@dataclass(frozen=True)
class Throughput:
    model: str
    input: str  # H x W x C
    provider: str
    queries: int
    raw_qps: float  # onnxruntime in this process
    pipe_qps: float  # the scanner's worker, batches through its pipe
    shared_qps: float  # the scanner's worker, batches through shared memory
    batch: int = 0
    # CUDA only: onnxruntime alone with the batch bound once on the GPU (IOBinding, input
    # updated in place, scores copied back), and the same replayed as a CUDA graph; None where
    # not measured, with the reason in `notes`.
    bound_qps: float | None = None
    graph_qps: float | None = None
    notes: str = ""

    @property
    def pipe_ratio(self) -> float:
        return self.raw_qps / self.pipe_qps

    @property
    def shared_ratio(self) -> float:
        return self.raw_qps / self.shared_qps

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pipe_ratio": round(self.pipe_ratio, 3),
            "shared_ratio": round(self.shared_ratio, 3),
        }


def _raw_qps(model: Path, points: np.ndarray, batch: int, device: Device) -> tuple[float, str]:
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device in ("cuda", "auto") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model), opts, providers=providers)
    name = sess.get_inputs()[0].name
    sess.run(None, {name: points[:batch]})  # warm-up
    start = time.perf_counter()
    for i in range(0, len(points), batch):
        sess.run(None, {name: points[i : i + batch]})
    return len(points) / (time.perf_counter() - start), sess.get_providers()[0]


def _bound_qps(model: Path, points: np.ndarray, batch: int, cuda_graph: bool) -> float:
    """onnxruntime's CUDA provider with device-resident input and output (IOBinding), optionally
    captured once and replayed as a CUDA graph: the ceiling a transport could reach."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    cuda_opts = {"enable_cuda_graph": "1"} if cuda_graph else {}
    sess = ort.InferenceSession(
        str(model), opts, providers=[("CUDAExecutionProvider", cuda_opts), "CPUExecutionProvider"]
    )
    if sess.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError("the CUDA provider did not load")
    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    # Output shapes from one plain run of a session without the graph option.
    plain = ort.InferenceSession(str(model), opts, providers=["CUDAExecutionProvider"])
    shapes = [o.shape[1:] for o in plain.run(None, {name: points[:batch]})]
    del plain
    x_dev = ort.OrtValue.ortvalue_from_numpy(points[:batch], "cuda", 0)
    y_devs = [
        ort.OrtValue.ortvalue_from_shape_and_type([batch, *shape], np.float32, "cuda", 0)
        for shape in shapes
    ]
    io = sess.io_binding()
    io.bind_ortvalue_input(name, x_dev)
    for out, y in zip(outputs, y_devs, strict=True):
        io.bind_ortvalue_output(out, y)
    for _ in range(2):  # warm-up; the graph is captured on these runs
        sess.run_with_iobinding(io)
    start = time.perf_counter()
    for i in range(0, len(points), batch):
        x_dev.update_inplace(points[i : i + batch])
        sess.run_with_iobinding(io)
        for y in y_devs:
            y.numpy()
    return len(points) / (time.perf_counter() - start)


def _scanner_qps(
    model: Path, nhwc: np.ndarray, batch: int, device: Device, shared_memory: bool
) -> float:
    hwc = tuple(int(v) for v in nhwc.shape[1:])
    with OnnxRuntimeBackend(
        model,
        image_hwc=hwc,  # type: ignore[arg-type]
        device=device,
        uint8_mode="bypass",
        shared_memory=shared_memory,
    ) as backend:
        backend.predict_labels(nhwc[:batch])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(nhwc), batch):
            backend.predict_labels(nhwc[i : i + batch])
        return len(nhwc) / (time.perf_counter() - start)


def measure(
    model: Path,
    queries: int,
    device: Device = "cpu",
    seed: int = 0,
    rounds: int = 3,
    batch: int | None = None,
) -> Throughput:
    """One model's figures on `queries` uniform points (rounded up to whole batches), each the
    best of `rounds` runs taken in turn, so that a busy moment hits all alike. `batch` replaces
    the scanner's own batch size (a fixed-batch model keeps its own)."""
    parsed = parse_model(model)
    gi = parsed.image_input
    layout, h, w, c = resolve_layout(gi.dims, None, str(model))
    fixed = gi.dims[0] if gi.dims[0] is not None and gi.dims[0] > 0 else None
    batch = fixed or batch or max(1, min(BATCH, QUERY_BYTES_PER_CALL // (4 * h * w * c)))
    n = max(batch, -(-queries // batch) * batch)
    rng = np.random.default_rng(seed)
    nhwc = rng.random((n, h, w, c), dtype=np.float32)
    if gi.dtype == "uint8":
        nhwc *= 255.0
    points = to_model_input(nhwc, layout, gi.dtype, clip=gi.dtype == "uint8")
    raw = pipe = shared = 0.0
    bound: dict[bool, float | None] = {False: 0.0, True: 0.0}
    notes: list[str] = []
    provider = ""
    for _ in range(rounds):
        qps, provider = _raw_qps(model, points, batch, device)
        raw = max(raw, qps)
        pipe = max(pipe, _scanner_qps(model, nhwc, batch, device, shared_memory=False))
        shared = max(shared, _scanner_qps(model, nhwc, batch, device, shared_memory=True))
        for graph in (False, True):
            if provider != "CUDAExecutionProvider" or bound[graph] is None:
                continue
            try:
                bound[graph] = max(bound[graph] or 0.0, _bound_qps(model, points, batch, graph))
            except Exception as e:  # a graph the CUDA provider cannot capture: say so, go on
                bound[graph] = None
                what = "CUDA graph" if graph else "IOBinding"
                notes.append(f"{what}: {type(e).__name__}: {str(e)[:200]}")
    on_cuda = provider == "CUDAExecutionProvider"
    return Throughput(
        model=model.name,
        input=f"{h}x{w}x{c}",
        provider=provider,
        queries=n,
        raw_qps=round(raw, 1),
        pipe_qps=round(pipe, 1),
        shared_qps=round(shared, 1),
        batch=batch,
        bound_qps=round(bound[False], 1) if on_cuda and bound[False] else None,
        graph_qps=round(bound[True], 1) if on_cuda and bound[True] else None,
        notes="; ".join(notes),
    )


def _qps(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def table(rows: list[Throughput]) -> str:
    head = (
        "| model | input | provider | batch | queries | raw q/s | pipe q/s | time vs raw |"
        " shared q/s | time vs raw | bound q/s | graph q/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "".join(
        f"| {r.model} | {r.input} | {r.provider} | {r.batch} | {r.queries} | {r.raw_qps:.0f} |"
        f" {r.pipe_qps:.0f} | {r.pipe_ratio:.2f}x | {r.shared_qps:.0f} | {r.shared_ratio:.2f}x |"
        f" {_qps(r.bound_qps)} | {_qps(r.graph_qps)} |\n"
        for r in rows
    )
