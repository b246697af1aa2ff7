"""Queries to the worker through shared memory instead of the pipe.

A batch of 4,096 28x28 queries is 12.8 MB; through the pipe it was copied six times (array to
bytes, one message, the kernel twice, the worker's buffer, bytes again). Here the scanner
writes it once into a file in /dev/shm that the worker maps read-only; the pipe carries only
the header and the (small) outputs. The file is unlinked as soon as the worker has mapped it,
so nothing is left behind however either process ends.

Safety: the worker runs a hostile model. Its mapping is read-only, the scanner never reads
the segment back, and the name is the scanner's, chosen at random. Where /dev/shm is missing or
full (the space is claimed up front with posix_fallocate, so a full tmpfs fails here instead of
raising SIGBUS on a write), the pipe carries the arrays as before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
from pathlib import Path

import numpy as np

SHM_ROOT = Path("/dev/shm")
# Smaller arrays go through the pipe: below this a pipe write costs less than the copy into the
# segment. The segment is mapped once and kept (grown when a larger batch comes), so the one
# extra round trip is paid once per worker, not per batch.
SHM_MIN_BYTES = 1 << 16


class SharedInput:
    """The scanner's side: a segment of `size` bytes that batches are written into."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.path = SHM_ROOT / f"bdscan-{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            self.unlink()
            raise
        finally:
            os.close(fd)

    @property
    def name(self) -> str:
        return self.path.name

    def write(self, x: np.ndarray, dtype: np.dtype | None = None) -> dict[str, object]:
        """Copy `x` in, cast to `dtype` on the way (one pass, whatever `x`'s strides: a
        transposed view lands in the segment contiguous); the header that tells the worker how
        to read it."""
        dt = np.dtype(dtype) if dtype is not None else x.dtype
        view = np.ndarray(x.shape, dtype=dt, buffer=self._map)
        np.copyto(view, x, casting="unsafe")  # as astype: the graph decides the type
        return {"dtype": dt.str, "shape": list(x.shape)}

    def unlink(self) -> None:
        """Remove the name (both mappings stay valid until closed)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def close(self) -> None:
        self.unlink()
        self._map.close()


def available() -> bool:
    return SHM_ROOT.is_dir() and os.access(SHM_ROOT, os.W_OK) and hasattr(os, "posix_fallocate")


class MappedInput:
    """The worker's side: the segment, mapped read-only."""

    def __init__(self, name: str, size: int) -> None:
        if "/" in name or not name.startswith("bdscan-"):
            raise ValueError(f"not a bdscan segment name: {name!r}")
        fd = os.open(SHM_ROOT / name, os.O_RDONLY)
        try:
            self._map = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self.size = size

    def array(self, dtype: str, shape: list[int]) -> np.ndarray:
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError("object arrays are not accepted")
        count = int(np.prod(shape, dtype=np.int64))
        if count < 0 or count * dt.itemsize > self.size:
            raise ValueError("the array does not fit the shared segment")
        return np.frombuffer(self._map, dtype=dt, count=count).reshape(shape)

    def close(self) -> None:
        self._map.close()
