"""benchmarks/pack_ort_gpu.py: blanking other GPU generations' kernels in a fat binary."""

from __future__ import annotations

import struct
from typing import Any

from tests.conftest import benchmark_module


def _module() -> Any:
    return benchmark_module("pack_ort_gpu")


def _entry(kind: int, arch: int, payload: bytes) -> bytes:
    # kind, unknown, header size, payload size, 12 bytes, arch at offset 28, padding to 64
    head = struct.pack("<HHIQ", kind, 0, 64, len(payload)) + bytes(12) + struct.pack("<I", arch)
    return head + bytes(64 - len(head)) + payload


def _fatbin(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def test_only_the_chosen_generation_keeps_its_bytes() -> None:
    pack = _module()
    sm80, sm90, ptx = b"\x01" * 40, b"\x02" * 48, b"\x03" * 24
    with_90 = _fatbin(_entry(2, 80, sm80), _entry(2, 90, sm90), _entry(1, 90, ptx))
    without_90 = _fatbin(_entry(2, 80, sm80), _entry(1, 80, ptx))
    data = bytearray(b"ELF-prefix" + with_90 + b"between" + without_90 + b"tail")
    before = bytes(data)
    seen, blanked = pack.blank_other_generations(data, 90)
    assert (seen, blanked) == (2, len(sm80) + len(ptx))
    assert len(data) == len(before)
    first = bytes(data[10 : 10 + len(with_90)])
    assert sm90 in first and sm80 not in first and ptx not in first
    # A fat binary with no entry for sm_90 stays whole, and nothing outside fat binaries moves.
    assert bytes(data).endswith(b"between" + without_90 + b"tail")
    assert bytes(data).startswith(b"ELF-prefix")
