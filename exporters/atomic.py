"""Write a file all at once or not at all: a temp file beside the target, then os.replace."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from scanner.errors import OutputError


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[TextIO]:
    """Open a UTF-8 temp file in `path`'s folder; a clean exit moves it onto `path`.

    Same folder so that os.replace is a rename on one file system (atomic on POSIX and Windows):
    a reader sees the old file or the new one, never half of one; on an exception the temp file
    is removed and `path` is untouched. Raises OutputError naming the path when it cannot write.
    """
    with _atomic(Path(path), binary=False) as f:
        yield cast(TextIO, f)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` the same all-or-nothing way (for PNG files)."""
    with _atomic(Path(path), binary=True) as f:
        cast(BinaryIO, f).write(data)


def atomic_write_json(path: str | Path, obj: object) -> None:
    """`obj` as indented, key-sorted JSON with a final newline, the same all-or-nothing way."""
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _atomic(path: Path, *, binary: bool) -> Iterator[TextIO | BinaryIO]:
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file path to write")
    if path.exists() and not path.is_file():
        # The rename below would replace a device or FIFO (as root, /dev/null itself).
        raise OutputError(f"{path}: exists and is not a regular file")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        f: TextIO | BinaryIO
        f = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; a report is meant to be read like any other output.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
