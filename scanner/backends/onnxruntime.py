"""The onnxruntime backend: a parsed ONNX classifier answering hard-label queries from a worker.

Conventions of real exports handled here: NCHW / NHWC / NHW / flat inputs; float or uint8
input; dynamic or fixed batch (re-batched when the graph allows, looped otherwise); logits,
probabilities or an int64 label output, among several outputs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from scanner.backends import _shared
from scanner.backends._protocol import (
    ChannelClosed,
    ChannelTimeout,
    read_message_fd,
    write_message,
)
from scanner.backends.base import InputSpec, Layout, arrange
from scanner.backends.onnx_graph import ParsedModel, parse_model, uint8_bypass, with_dynamic_batch
from scanner.errors import ModelLoadError, ModelRuntimeError, NonFiniteOutputError

Device = Literal["auto", "cpu", "cuda"]
Uint8Mode = Literal["bypass", "clip"]

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MEMORY_MB = int(os.environ.get("BDSCAN_WORKER_MEMORY_MB", "12288"))
# The first query of one sample must answer within this (hand-set): a graph that takes longer
# for one image cannot finish a scan of ~10^5 queries, and a time bomb shows itself here.
FIRST_QUERY_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def resolve_layout(
    dims: tuple[int | None, ...], hint_hwc: tuple[int, int, int] | None, source: str
) -> tuple[Layout, int, int, int]:
    """Work out (layout, H, W, C) from the input's dims, using the data's shape where dims are
    symbolic. Channels are 1 or 3; NCHW wins a tie, as PyTorch exports it."""

    if len(dims) == 3:
        h, w = dims[1], dims[2]
        if (h is None or w is None) and hint_hwc is None:
            raise ModelLoadError(f"{source}: input height/width are symbolic; pass --data")
        return "NHW", h or hint_hwc[0], w or hint_hwc[1], 1  # type: ignore[index]
    if len(dims) == 2:
        if hint_hwc is None:
            raise ModelLoadError(f"{source}: a flat input needs --data to know the image size")
        h, w, c = hint_hwc
        if dims[1] is not None and dims[1] != h * w * c:
            raise ModelLoadError(
                f"{source}: flat input of {dims[1]} values does not fit {h}x{w}x{c} images"
            )
        return "flat", h, w, c
    d1, d2, d3 = dims[1], dims[2], dims[3]
    channel_counts = (1, 3)
    nchw = d1 in channel_counts and d3 not in channel_counts
    nhwc = d3 in channel_counts and d1 not in channel_counts
    if not nchw and not nhwc:
        if d1 in channel_counts:
            nchw = True
        elif d3 in channel_counts:
            nhwc = True
        elif hint_hwc is not None and d1 is None and d3 is None:
            nchw = True
        else:
            raise ModelLoadError(
                f"{source}: cannot tell the image layout of input dims {list(dims)}"
                " (expected 1 or 3 channels, NCHW or NHWC)"
            )
    dc, dh, dw = (d1, d2, d3) if nchw else (d3, d1, d2)
    if None in (dc, dh, dw) and hint_hwc is None:
        raise ModelLoadError(f"{source}: input dims {list(dims)} are symbolic; pass --data")
    hint = hint_hwc or (0, 0, 0)
    height = dh if dh is not None else hint[0]
    width = dw if dw is not None else hint[1]
    chans = dc if dc is not None else hint[2]
    if chans in (1, 3):
        return ("NCHW" if nchw else "NHWC"), height, width, chans
    raise ModelLoadError(f"{source}: expected 1 or 3 input channels, got {chans}")


def cuda_available() -> bool:
    """Whether onnxruntime here offers CUDA (importing it runs no model)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelRuntimeError(
            "onnxruntime is not installed: pip install 'bdscan[cpu]' (or 'bdscan[gpu]')"
        ) from None
    return "CUDAExecutionProvider" in ort.get_available_providers()


def to_model_input(x: np.ndarray, layout: Layout, dtype: str, *, clip: bool) -> np.ndarray:
    """Model-space NHWC float32 points -> the array the graph's input takes."""
    x = arrange(x, layout)
    if clip:
        # What an API taking images would do to any point we ask about.
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x, dtype=np.dtype(dtype))


def _out_of_memory(message: str) -> bool:
    return any(m in message for m in ("Failed to allocate memory", "bad_alloc", "MemoryError"))


def _limit_memory(limit_bytes: int | None, die_with_parent: bool) -> None:
    """Runs in the forked child before exec: limits, and death with the scanner."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    if die_with_parent and sys.platform.startswith("linux"):
        # SIGKILL when the spawning thread ends: a scanner killed by SIGKILL leaves no worker
        # (the worker's own parent watch covers the rest).
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _worker_env() -> dict[str, str]:
    """The worker imports this very package, installed or not."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["BDSCAN_WORKER_PARENT"] = str(os.getpid())
    return env


class _Worker:
    """One worker process holding one session; any failure becomes ModelRuntimeError."""

    def __init__(
        self,
        model: onnx.ModelProto | bytes,
        *,
        device: Device,
        timeout: float,
        memory_mb: int,
        threads: int,
        source: str,
        shared_memory: bool = True,
    ) -> None:
        self.source = source
        self.timeout = timeout
        # Large batches go through shared memory (scanner.backends._shared) where it works.
        self._shared: _shared.SharedInput | None = None
        self._shm_ok = shared_memory and _shared.available()
        # Kept open for the worker's lifetime; closed in close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        # CUDA maps far more address space than it uses; a hard RLIMIT_AS would break it.
        uses_cuda = device == "cuda" or (device == "auto" and cuda_available())
        limit = memory_mb * (1 << 20) if memory_mb > 0 and not uses_cuda else None
        # PR_SET_PDEATHSIG follows the spawning thread, not the process: only the main thread
        # lives as long as the scanner.
        in_main = threading.current_thread() is threading.main_thread()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanner.backends._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            preexec_fn=lambda: _limit_memory(limit, in_main),
            start_new_session=True,
            env=_worker_env(),
        )
        raw = model if isinstance(model, bytes) else model.SerializeToString()
        payload = np.frombuffer(raw, dtype=np.uint8)
        header = self._request(
            {"op": "init", "device": device, "threads": threads},
            [payload],
            what="loading the model",
        )[0]
        self.providers: list[str] = header["providers"]
        all_names: list[str] = header["outputs"]
        types: list[str] = header.get("output_types", ["tensor(float)"] * len(all_names))
        # What `run` returns: the numeric tensor outputs (sequences and maps are skipped).
        self.output_names = [
            n
            for n, t in zip(all_names, types, strict=True)
            if t.startswith("tensor(") and t != "tensor(string)"
        ]
        if not self.output_names:
            kinds = ", ".join(f"{n}: {t}" for n, t in zip(all_names, types, strict=True))
            self.kill()
            raise ModelLoadError(
                f"{source}: not a classifier: expected a float (N, classes) score output or an"
                f" integer (N,) label output, got only {kinds or 'no outputs'}"
            )

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln]
        return lines[-1][:300] if lines else ""

    def _request(
        self,
        header: dict[str, Any],
        arrays: list[np.ndarray],
        *,
        what: str,
        timeout: float | None = None,
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        limit = self.timeout if timeout is None else timeout
        try:
            write_message(self.proc.stdin, header, arrays)
            reply, outs = read_message_fd(self.proc.stdout.fileno(), limit)
        except ChannelTimeout:
            self.kill()
            raise ModelRuntimeError(
                f"{self.source}: onnxruntime did not answer within {limit:.0f} s while"
                f" {what}; the worker was stopped"
            ) from None
        except (ChannelClosed, BrokenPipeError, ValueError):
            code = self.proc.wait(timeout=5)
            self.kill()
            why = f"signal {-code}" if code < 0 else f"exit code {code}"
            tail = self._stderr_tail()
            if "MemoryError" in tail or "bad_alloc" in tail or code == -9:
                why += ", out of memory?"
            raise ModelRuntimeError(
                f"{self.source}: the onnxruntime worker died while {what} ({why})"
                + (f": {tail}" if tail else "")
            ) from None
        if not reply.get("ok"):
            raise ModelRuntimeError(
                f"{self.source}: onnxruntime failed while {what}: "
                f"{str(reply.get('error', 'unknown error'))[:400]}"
            )
        return reply, outs

    def run(self, x: np.ndarray, dtype: np.dtype | None = None) -> list[np.ndarray]:
        """The numeric tensor outputs (`output_names`), in order. `x` may be a strided view
        (a layout transpose) and `dtype` the graph's: through shared memory both are resolved in
        the one copy into the segment."""
        dt = np.dtype(dtype) if dtype is not None else x.dtype
        nbytes = x.size * dt.itemsize
        segment = self._segment(nbytes) if nbytes >= _shared.SHM_MIN_BYTES else None
        if segment is not None:
            header = {"op": "run", "shm": segment.write(x, dt)}
            return self._request(header, [], what="answering queries")[1]
        x = np.ascontiguousarray(x, dtype=dt)
        return self._request({"op": "run"}, [x], what="answering queries")[1]

    def _segment(self, nbytes: int) -> _shared.SharedInput | None:
        """A shared segment of at least `nbytes` the worker has mapped, or None: the pipe."""
        if not self._shm_ok:
            return None
        if self._shared is not None and self._shared.size >= nbytes:
            return self._shared
        self._drop_segment()
        try:
            segment = _shared.SharedInput(nbytes)
        except OSError:
            self._shm_ok = False
            return None
        try:
            self._request(
                {"op": "map", "name": segment.name, "size": segment.size},
                [],
                what="mapping shared memory",
            )
        except ModelRuntimeError:
            segment.close()
            if self.proc.poll() is not None:
                raise
            self._shm_ok = False  # the worker could not map it: the pipe, as before
            return None
        segment.unlink()  # both sides hold it mapped; no name left to leak
        self._shared = segment
        return segment

    def _drop_segment(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def first_query(self, x: np.ndarray) -> list[np.ndarray]:
        """`run` under FIRST_QUERY_TIMEOUT_S: a time bomb stops here, before the scan."""
        limit = min(self.timeout, FIRST_QUERY_TIMEOUT_S)
        return self._request(
            {"op": "run"}, [x], what=f"answering its first query ({len(x)} sample)", timeout=limit
        )[1]

    def fetch_only(self, names: list[str]) -> None:
        """From now on `run` returns only these outputs (the label or score output)."""
        self._request({"op": "select", "outputs": names}, [], what="selecting outputs")
        self.output_names = list(names)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._drop_segment()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                write_message(self.proc.stdin, {"op": "close"})
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self._stderr.close()


def run_in_worker(
    model: onnx.ModelProto | bytes,
    x: np.ndarray,
    *,
    source: str,
    batch: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    per_sample: bool = True,
) -> list[np.ndarray]:
    """Every numeric tensor output of an untrusted graph on `x`, computed in a worker process
    under the scan's memory and time limits (remediation's checks use this, never an in-process
    session). `batch`: a fixed-batch graph gets chunks of that size, the last one padded.
    `per_sample=False`: the outputs are not per-sample rows (shape tensors), so they are
    returned as the graph gives them, from one call of at most 256 samples.
    ModelRuntimeError on any failure."""
    if not per_sample and (batch is not None or len(x) > 256):
        raise ValueError("per_sample=False takes one call: no fixed batch, at most 256 samples")
    worker = _Worker(
        model, device="cpu", timeout=timeout, memory_mb=memory_mb, threads=0, source=source
    )
    try:
        step = batch or 256
        chunks: list[list[np.ndarray]] = []
        for i in range(0, len(x), step):
            part = x[i : i + step]
            k = len(part)
            if batch is not None and k < batch:
                part = np.concatenate([part, np.repeat(part[-1:], batch - k, 0)])
            call = worker.first_query if i == 0 else worker.run
            outs = call(np.ascontiguousarray(part))
            chunks.append([o[:k] if o.ndim and per_sample else o for o in outs])
    finally:
        worker.close()
    return [np.concatenate([c[j] for c in chunks]) for j in range(len(chunks[0]))]


@dataclass(frozen=True)
class OutputChoice:
    labels_from: str  # output name
    kind: Literal["label", "argmax"]
    scores: str | None  # the float (N, C) output, when there is one
    num_classes: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"labels_from": self.labels_from, "kind": self.kind, "scores": self.scores}


_SCORE_NAMES = re.compile(r"logit|prob|score|output|pred|class|softmax", re.IGNORECASE)


def choose_output(
    names: list[str],
    outs: list[np.ndarray],
    n: int,
    source: str,
    classes_hint: int | None = None,
) -> OutputChoice:
    """Pick the label output, or the class-score output to argmax.

    With several float (N, C) outputs (features beside logits, say), prefer C equal to the data's
    class count, then a name that says scores, then the first.
    """
    labels, scores = [], []
    for i, o in enumerate(outs):
        if o.ndim >= 1 and o.shape[0] == n:
            squeezed = o.reshape(n, -1)
            if np.issubdtype(o.dtype, np.integer) and squeezed.shape[1] == 1:
                labels.append(i)
            elif (
                np.issubdtype(o.dtype, np.floating)
                and squeezed.shape[1] >= 2
                and (o.ndim == 2 or all(d == 1 for d in o.shape[2:]))
            ):
                scores.append(i)
    if not labels and not scores:
        shapes = ", ".join(
            f"{nm}: {o.dtype}{list(o.shape)}" for nm, o in zip(names, outs, strict=True)
        )
        raise ModelLoadError(
            f"{source}: not a classifier: expected a float (N, classes) score output or an"
            f" integer (N,) label output, got {shapes}"
        )
    score_idx = None
    if scores:

        def rank(i: int) -> tuple[bool, bool, int]:
            width = outs[i].reshape(n, -1).shape[1]
            return (width != classes_hint, not _SCORE_NAMES.search(names[i]), i)

        score_idx = min(scores, key=rank)
    num_classes = None if score_idx is None else int(outs[score_idx].reshape(n, -1).shape[1])
    if labels:
        return OutputChoice(
            names[labels[0]], "label", None if score_idx is None else names[score_idx], num_classes
        )
    assert score_idx is not None
    return OutputChoice(names[score_idx], "argmax", names[score_idx], num_classes)


class OnnxRuntimeBackend:
    """A hard-label oracle over an ONNX file. Close it (or use `with`) to stop the worker."""

    def __init__(
        self,
        path: str | Path,
        *,
        image_hwc: tuple[int, int, int] | None = None,
        device: Device = "auto",
        uint8_mode: Uint8Mode = "bypass",
        num_classes: int | None = None,
        classes_hint: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        threads: int = 0,
        parsed: ParsedModel | None = None,
        shared_memory: bool = True,
    ) -> None:
        """`shared_memory=False` sends every batch through the worker's pipe (for comparison:
        `bdscan bench throughput`)."""
        self.parsed = parsed if parsed is not None else parse_model(path)
        source = str(self.parsed.path)
        gi = self.parsed.image_input
        layout, h, w, c = resolve_layout(gi.dims, image_hwc, source)
        model = self.parsed.proto
        query_dtype, mode = gi.dtype, "none"
        if gi.dtype == "uint8":
            mode = "clip"
            if uint8_mode == "bypass":
                bypassed = uint8_bypass(model)
                if bypassed is not None:
                    model, query_dtype = bypassed
                    mode = "bypass"
        fixed = gi.dims[0]
        worker_args = dict(
            device=device,
            timeout=timeout,
            memory_mb=memory_mb,
            threads=threads,
            source=source,
            shared_memory=shared_memory,
        )
        self._layout: Layout = layout
        self._query_dtype = query_dtype
        self._mode = mode
        self._hwc = (h, w, c)
        self._fixed_batch: int | None = None
        self._max_rows: int | None = None  # set when a batch did not fit in memory
        self._worker: _Worker | None = None
        try:
            if fixed is not None and fixed > 0:
                self._worker = self._try_rebatched(model, fixed, worker_args)
                if self._worker is None:
                    self._fixed_batch = fixed
            if self._worker is None:
                self._worker = _Worker(model, **worker_args)  # type: ignore[arg-type]
                self._worker.first_query(self._to_model(self._probe_points(1, seed=0)))
            probe_n = self._fixed_batch or 2
            outs = self._worker.run(self._to_model(self._probe_points(probe_n, seed=0)))
            self.outputs = choose_output(
                self._worker.output_names, outs, probe_n, source, classes_hint
            )
            chosen = self._worker.output_names.index(self.outputs.labels_from)
            self._check_finite(outs[chosen].reshape(probe_n, -1), "random images")
            # Only the output that gives labels crosses the pipe from now on.
            self._worker.fetch_only([self.outputs.labels_from])
        except BaseException:
            self.close()
            raise
        self.num_classes = int(num_classes or self.outputs.num_classes or 0)
        self.provider = self._worker.providers[0]
        self.input_spec = InputSpec(
            name=gi.name,
            layout=layout,
            height=h,
            width=w,
            channels=c,
            dtype=gi.dtype,
            batch=self._fixed_batch,
            uint8_mode=mode,  # type: ignore[arg-type]
        )

    def _check_finite(self, scores: np.ndarray, what: str) -> None:
        """NaN or Inf scores stop the scan with a finding (BDS205): argmax of them means nothing."""
        if not np.issubdtype(scores.dtype, np.floating):
            return
        bad = ~np.isfinite(scores).all(axis=1)
        if bad.any():
            kinds = [k for k, f in (("NaN", np.isnan), ("Inf", np.isinf)) if f(scores[bad]).any()]
            raise NonFiniteOutputError(
                f"{self.parsed.path}: output {self.outputs.labels_from!r} held {'/'.join(kinds)}"
                f" for {int(bad.sum())} of {len(scores)} {what}; no verdict can rest on labels"
                " read off such scores"
            )

    def _probe_points(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        scale = 255.0 if self.parsed.image_input.dtype == "uint8" else 1.0
        return (rng.random((n, *self._hwc)) * scale).astype(np.float32)

    def _try_rebatched(
        self, model: onnx.ModelProto, fixed: int, args: dict[str, Any]
    ) -> _Worker | None:
        """Serve a fixed-batch export through a dynamic-batch copy when it gives the same
        answers as the original batch size; looping over batches is the fallback."""
        try:
            worker = _Worker(with_dynamic_batch(model, fixed), **args)
        except ModelRuntimeError:
            return None
        n = 3 * fixed
        points = self._probe_points(n, seed=1)
        try:
            worker.first_query(self._to_model(points[:fixed]))
            together = worker.run(self._to_model(points))
            apart = [worker.run(self._to_model(points[i : i + fixed])) for i in range(0, n, fixed)]
            ok = len(together) == len(apart[0]) and all(
                t.shape[0] == n
                and np.allclose(t, np.concatenate([a[k] for a in apart]), atol=1e-4, rtol=1e-3)
                for k, t in enumerate(together)
            )
        except ModelRuntimeError:
            ok = False
        if not ok:
            worker.close()
            return None
        return worker

    def _to_model(self, x: np.ndarray) -> np.ndarray:
        return to_model_input(x, self._layout, self._query_dtype, clip=self._mode == "clip")

    def predict_labels(self, batch: np.ndarray) -> np.ndarray:
        assert self._worker is not None, "backend is closed"
        n = len(batch)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        labels = np.empty(n, dtype=np.int64)
        start = 0
        while start < n:
            step = self._fixed_batch or min(n - start, self._max_rows or n)
            chunk = batch[start : start + step]
            k = len(chunk)
            if k < step:  # a fixed-batch model gets a padded last chunk
                chunk = np.concatenate([chunk, np.repeat(chunk[:1], step - k, axis=0)])
            try:
                out = self._run(chunk)
            except ModelRuntimeError as e:
                if not self._shrink_after(e, step):
                    raise
                continue
            out = out.reshape(step, -1)
            if self.outputs.kind == "argmax":
                self._check_finite(out[:k], "queries")
            labels[start : start + k] = (
                out[:k, 0] if self.outputs.kind == "label" else out[:k].argmax(axis=1)
            )
            start += k
        return labels

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        assert self._worker is not None, "backend is closed"
        if self._mode == "clip":
            return self._worker.run(self._to_model(chunk))[0]
        # The layout change and the cast happen in the one copy to the worker.
        return self._worker.run(arrange(chunk, self._layout), np.dtype(self._query_dtype))[0]

    def _shrink_after(self, error: ModelRuntimeError, rows: int) -> bool:
        """After onnxruntime could not allocate a batch's activations (a large model under the
        worker's memory limit: MobileNetV2 at 32 px needs more than 12 GB for 4,096 points),
        later batches take half as many rows. False where that cannot help."""
        alive = self._worker is not None and self._worker.proc.poll() is None
        if self._fixed_batch or rows <= 1 or not alive or not _out_of_memory(str(error)):
            return False
        self._max_rows = rows // 2
        return True

    def close(self) -> None:
        if getattr(self, "_worker", None) is not None:
            self._worker.close()  # type: ignore[union-attr]
            self._worker = None

    def __enter__(self) -> OnnxRuntimeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
