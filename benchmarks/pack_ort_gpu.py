"""Pack onnxruntime-gpu small enough to carry to an offline GPU machine (the CUDA figures' setup).

The onnxruntime-gpu wheel is about 250 MB, most of it the CUDA provider's kernels compiled for
six GPU generations. A machine without network that accepts 64 MB per transfer cannot take it.
This keeps the kernels of one generation (`--sm 90`: Hopper, the H100/H200) and blanks the
others' bytes in place (their fat-binary headers stay, so nothing is moved or relinked; the
CUDA runtime picks the entry of the device's generation and never reads the blanked ones),
drops what a scan does not load (TensorRT's provider, the C API library, the transformer and
quantisation tools), and writes one .tar.xz (57.5 MiB for 1.31.1 at sm_90).

    python benchmarks/pack_ort_gpu.py WHEEL.whl --sm 90 --out .gpu/ort.tar.xz

There: `python3 -c "import tarfile; tarfile.open('.gpu/ort.tar.xz').extractall('/tmp/site')"`,
`PYTHONPATH=/tmp/site`, and LD_LIBRARY_PATH holding CUDA's and cuDNN's libraries of the wheel's
CUDA major version (benchmarks/cuda_figures.sh's header says how that run found them).
A fat binary without an entry for `--sm` is left whole, so a kernel set that only ships PTX or
other generations still loads (slower, or not at all on that device).
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import tarfile
import zipfile
from pathlib import Path

FATBIN_MAGIC = struct.pack("<I", 0xBA55ED50)
ELF_KIND = 2  # a compiled cubin; 1 is PTX
DROP = (
    "onnxruntime/capi/libonnxruntime.so",
    "onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
    "onnxruntime/transformers/",
    "onnxruntime/tools/",
    "onnxruntime/quantization/",
)


def blank_other_generations(data: bytearray, sm: int) -> tuple[int, int]:
    """Zero the payload of every cubin not for `sm` in fat binaries that hold one for `sm`.
    Returns (fat binaries seen, bytes blanked)."""
    pos = seen = blanked = 0
    while (i := data.find(FATBIN_MAGIC, pos)) >= 0:
        version, header, size = struct.unpack_from("<HHQ", data, i + 4)
        end = i + 16 + size
        if version != 1 or header != 16 or size == 0 or end > len(data):
            pos = i + 4
            continue
        seen += 1
        entries = []
        e = i + 16
        while e < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, e)
            arch = struct.unpack_from("<I", data, e + 28)[0]
            if entry_header < 32 or e + entry_header + payload > end:
                break
            entries.append((kind, arch, e + entry_header, payload))
            e += entry_header + payload
        if any(k == ELF_KIND and a == sm for k, a, _, _ in entries):
            for kind, arch, start, payload in entries:
                if not (kind == ELF_KIND and arch == sm):
                    data[start : start + payload] = bytes(payload)
                    blanked += payload
        pos = end
    return seen, blanked


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--sm", type=int, default=90, help="GPU generation to keep (90: Hopper)")
    ap.add_argument("--out", type=Path, default=Path(".gpu/ort.tar.xz"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    with zipfile.ZipFile(args.wheel) as whl, tarfile.open(tmp, "w:xz", preset=9) as tar:
        for info in whl.infolist():
            name = info.filename
            if info.is_dir() or any(name.startswith(d) for d in DROP):
                continue
            data = bytearray(whl.read(info))
            if name.endswith("libonnxruntime_providers_cuda.so"):
                seen, blanked = blank_other_generations(data, args.sm)
                print(
                    f"{name}: {seen} fat binaries, {blanked / 2**20:.0f} MiB blanked",
                    file=sys.stderr,
                )
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            entry.mode = 0o755 if name.endswith(".so") else 0o644
            tar.addfile(entry, io.BytesIO(bytes(data)))
    tmp.replace(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
