"""The process that actually runs a model: `python -m scanner.backends._worker`.

It holds one onnxruntime session and answers run requests on stdin/stdout. A crash, hang or
memory blow-up here ends this process only; the scanner turns it into a scan error.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import numpy as np

from scanner.backends._protocol import ChannelClosed, read_message, write_message
from scanner.backends._shared import MappedInput

PARENT_POLL_S = 0.5
# On CUDA every new input shape costs cuDNN an algorithm search ("EXHAUSTIVE" by default, tens
# of milliseconds per convolution); a scan sends batches of many sizes. So the worker pads each
# batch (repeating its first row) to one of a few sizes, and asks cuDNN for its heuristic choice:
# few shapes, each set up once. Figures: docs/results.md.
CUDA_MIN_BUCKET = 16
CUDA_BUCKET_STEP = 512  # above this many rows, sizes round up to a multiple of it (<= 1/2 padding)
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC"}


def _bucket(n: int) -> int:
    """Powers of two up to CUDA_BUCKET_STEP * 2, multiples of CUDA_BUCKET_STEP above."""
    if n > 2 * CUDA_BUCKET_STEP:
        return -(-n // CUDA_BUCKET_STEP) * CUDA_BUCKET_STEP
    return max(CUDA_MIN_BUCKET, 1 << max(0, n - 1).bit_length())


def _run_padded(sess: Any, fetch: list[str], input_name: str, x: np.ndarray) -> list[Any]:
    """Run `x` padded to its bucket; outputs cut back to `len(x)` rows."""
    n = len(x)
    rows = _bucket(n)
    if rows > n:
        x = np.concatenate([x, np.repeat(x[:1], rows - n, axis=0)])
    outs = sess.run(fetch, {input_name: x})
    return [o[:n] if getattr(o, "ndim", 0) and o.shape[0] == rows else o for o in outs]


def _session(model: bytes, device: str, threads: int) -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            "--device cuda: onnxruntime has no CUDAExecutionProvider here"
            " (install bdscan[gpu] instead of bdscan[cpu], on a machine with CUDA)"
        )
    providers: list[Any] = ["CPUExecutionProvider"]
    if device in ("cuda", "auto") and "CUDAExecutionProvider" in available:
        providers = [("CUDAExecutionProvider", CUDA_OPTIONS), "CPUExecutionProvider"]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads > 0:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model, sess_options=opts, providers=providers)


def _die_with_parent(parent: int) -> None:
    """Exit as soon as the scanner is gone, however it went (SIGKILL included).

    The scanner also asks the kernel for SIGKILL on its death (PR_SET_PDEATHSIG, Linux); this
    thread covers what that cannot: other systems, and a scanner thread that spawned us and
    ended. A worker stuck in a hostile graph's loop still exits, as onnxruntime releases the GIL.
    """

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="bdscan-parent-watch", daemon=True).start()


def _tensor_outputs(sess: Any) -> list[str]:
    # Sequence and map outputs (skl2onnx's ZipMap) carry nothing a hard-label scan needs.
    return [
        o.name
        for o in sess.get_outputs()
        if str(o.type).startswith("tensor(") and str(o.type) != "tensor(string)"
    ]


def main() -> int:
    parent = int(os.environ.get("BDSCAN_WORKER_PARENT", "0")) or os.getppid()
    _die_with_parent(parent)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything the runtime prints must not corrupt the message stream.
    sys.stdout = sys.stderr
    try:
        header, arrays = read_message(stdin)
        sess = _session(arrays[0].tobytes(), header["device"], int(header.get("threads", 0)))
    except ChannelClosed:
        return 0
    except Exception as e:
        write_message(stdout, {"ok": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    info = {
        "ok": True,
        "providers": sess.get_providers(),
        "inputs": [i.name for i in sess.get_inputs()],
        "outputs": [o.name for o in sess.get_outputs()],
        "output_types": [str(o.type) for o in sess.get_outputs()],
    }
    write_message(stdout, info)
    input_name = sess.get_inputs()[0].name
    fetch: list[str] = _tensor_outputs(sess)
    # Padding only once the scanner has chosen its label output (a batch-first tensor), and
    # only where the batch dimension is free.
    pad = False
    on_cuda = sess.get_providers()[0] == "CUDAExecutionProvider"
    batch_dim = sess.get_inputs()[0].shape[0] if sess.get_inputs()[0].shape else None
    dynamic_batch = not isinstance(batch_dim, int) or batch_dim <= 0
    shared: MappedInput | None = None  # the scanner's query segment, once it sent one
    while True:
        try:
            header, arrays = read_message(stdin)
        except ChannelClosed:
            return 0
        if header.get("op") == "close":
            return 0
        try:
            if header.get("op") == "select":
                wanted = [str(n) for n in header.get("outputs", [])]
                unknown = [n for n in wanted if n not in _tensor_outputs(sess)]
                if not wanted or unknown:
                    raise ValueError(f"cannot fetch outputs {unknown or wanted}")
                fetch = wanted
                pad = on_cuda and dynamic_batch
                write_message(stdout, {"ok": True})
                continue
            if header.get("op") == "map":
                shared = MappedInput(str(header["name"]), int(header["size"]))
                write_message(stdout, {"ok": True})
                continue
            if not fetch:
                raise RuntimeError("the model has no tensor output (only sequences or maps)")
            if "shm" in header:
                if shared is None:
                    raise RuntimeError("no shared segment was mapped")
                x = shared.array(str(header["shm"]["dtype"]), list(header["shm"]["shape"]))
            else:
                x = arrays[0]
            if pad and len(x) > 0:
                outs = _run_padded(sess, fetch, input_name, x)
            else:
                outs = sess.run(fetch, {input_name: x})
            del x
            outs = [np.asarray(o) for o in outs]
            if any(o.dtype.hasobject for o in outs):
                raise RuntimeError("the model returned a non-numeric output")
            write_message(stdout, {"ok": True, "outputs": fetch}, outs)
        except Exception as e:
            write_message(stdout, {"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    raise SystemExit(main())
