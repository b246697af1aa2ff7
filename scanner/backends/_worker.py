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


def _session(model: bytes, device: str, threads: int) -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            "--device cuda: onnxruntime has no CUDAExecutionProvider here"
            " (install bdscan[gpu] instead of bdscan[cpu], on a machine with CUDA)"
        )
    providers = ["CPUExecutionProvider"]
    if device in ("cuda", "auto") and "CUDAExecutionProvider" in available:
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
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
