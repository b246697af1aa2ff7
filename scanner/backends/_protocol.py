"""Length-prefixed messages between the scanner and its inference worker.

Deliberately not pickle: the worker runs a hostile model, so what it sends back is parsed as a
JSON header plus raw array bytes, which cannot execute anything in the scanner process.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import IO, Any

import numpy as np

_LEN = struct.Struct("<Q")
MAX_HEADER = 1 << 20


class ChannelClosed(Exception):
    """The other side closed the pipe (it exited or crashed)."""


class ChannelTimeout(Exception):
    """No complete message arrived before the deadline."""


def encode(header: dict[str, Any], arrays: list[np.ndarray] = ()) -> bytes:  # type: ignore[assignment]
    header = dict(header)
    header["arrays"] = [
        {"dtype": a.dtype.str, "shape": list(a.shape), "nbytes": int(a.nbytes)} for a in arrays
    ]
    head = json.dumps(header).encode()
    parts = [_LEN.pack(len(head)), head]
    parts.extend(np.ascontiguousarray(a).tobytes() for a in arrays)
    return b"".join(parts)


def write_message(f: IO[bytes], header: dict[str, Any], arrays: list[np.ndarray] = ()) -> None:  # type: ignore[assignment]
    f.write(encode(header, arrays))
    f.flush()


def _read_exact_blocking(f: IO[bytes], n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            raise ChannelClosed("pipe closed")
        buf.extend(chunk)
    return bytes(buf)


def _read_exact_fd(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("timed out")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise ChannelTimeout("timed out")
        chunk = os.read(fd, min(n - len(buf), 1 << 22))
        if not chunk:
            raise ChannelClosed("pipe closed")
        buf.extend(chunk)
    return bytes(buf)


def _decode(read: Any) -> tuple[dict[str, Any], list[np.ndarray]]:
    (n,) = _LEN.unpack(read(_LEN.size))
    if n > MAX_HEADER:
        raise ValueError(f"message header of {n} bytes is larger than allowed")
    header = json.loads(read(n))
    if not isinstance(header, dict):
        raise ValueError("message header is not an object")
    arrays = []
    for meta in header.pop("arrays", []):
        dtype = np.dtype(meta["dtype"])
        if dtype.hasobject:
            raise ValueError("object arrays are not accepted")
        raw = read(int(meta["nbytes"]))
        arrays.append(np.frombuffer(raw, dtype=dtype).reshape(meta["shape"]))
    return header, arrays


def read_message(f: IO[bytes]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Blocking read (worker side)."""
    return _decode(lambda n: _read_exact_blocking(f, n))


def read_message_fd(fd: int, timeout: float | None) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Read with one deadline for the whole message (scanner side)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    return _decode(lambda n: _read_exact_fd(fd, n, deadline))
