"""Mutation fuzzer for `bdscan scan`: malformed ONNX models must end in a documented exit code
with one line of explanation, never a traceback, a hang, or a read outside the model's folder.

    .venv/bin/python benchmarks/fuzz.py --cases 200 --seed 0 --jobs 2 --out fuzz-out/results.json

Seeds are the committed models (examples/models/*.onnx, tests/fixtures/models/*.onnx). Each case
applies 1-3 mutations to one seed, deterministically from (--seed, case index):

- protobuf fields: dims, element types, attributes, opset and ir_version, op_type and domain,
  tensor names (input/output/node), initializer bytes, node order;
- external data: a weight moved to a file that is fine, missing, a folder, a FIFO, a symlink out
  of the folder, `../../outside_sentinel.bin`, an absolute path, /dev/zero, /etc/hostname, with
  bad offsets and lengths;
- control flow: the last node wrapped in 1-150 nested Ifs (written as raw protobuf past the
  library's own depth limit) or in a Loop with a small, huge or missing trip count;
- bytes: truncation, bit flips, overwritten, inserted or deleted chunks.

Every case is scanned by a separate process with a hard wall timeout (--timeout), its whole
process tree killed when it runs over. `--runner spawn` (default) starts `python -m scanner` per
case; `--runner fork` forks a parent that has imported bdscan once (same code path from
`scanner.cli.main` on, ~1 s less per case; what the default test run uses). The scan itself gets
`--timeout` of half the wall limit, so its own per-call guard fires first.

Classes (one per case, the first that applies):
  outside-read    a Python `open` of a path outside the case's folder that the case planted or
                  that lies in the fuzzer's work folder (the sentinel, another case's files)
  hang            still running at --timeout (killed)
  traceback       "Traceback" in the output, an exit code outside 0-4, or death by a signal
  internal-error  bdscan's catch-all: "internal error", or an exit-2 line that names no file
                  (an unexpected exception reported as "ValueError: ..." instead of what was
                  expected of the file)
  ok              everything else: exit 0, 1, 2 or 3 with the documented one-line message

What the outside-read check can see: `open` audit events (PEP 578) of Python code, in the scanner
process and in its onnxruntime worker (the hook rides on PYTHONPATH as a `sitecustomize`, which
the worker inherits). That covers numpy, onnx's Python loader (`onnx.load`, external data
loading) and bdscan itself. It cannot see reads made by C/C++ code through the OS: onnx's C++
checker, protobuf, and onnxruntime's own file reads. The scanner hands onnxruntime the model as
bytes with external data already inlined, so onnxruntime has no path to open unless a model
smuggles one past the scanner (e.g. external data in a sparse tensor), which this check would
miss. `stat`, `readlink` and `listdir` are not recorded either: only opens count.

Non-ok cases are copied to <out dir>/repro/<class>/case-NNNNN/ with `command.sh` (the exact
command) and `output.txt`; results.json holds every case.

Time, measured on the 2-core development machine: 200 cases (seed 1) took 45 s with
`--runner fork` (4.4 cases/s) and 193 s with `--runner spawn` (1.0 cases/s), with the same class
and exit code for every case. 2,000 cases (seed 1, fork) took 477 s (8 min, 4.2 cases/s) on
quiet cores and 793 s (13 min) while another engineer's tests shared them; with `--runner
spawn` they would take about 32 min (not run). Most cases are refused while parsing (tens of
ms); the ~10% that scan in full cost 1-3 s each.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
SEED_GLOBS = ("examples/models/*.onnx", "tests/fixtures/models/*.onnx")
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4}
CLASSES = ("ok", "internal-error", "traceback", "hang", "outside-read")
SENTINEL = "outside_sentinel.bin"
# What each case's scan costs at most: tiny settings (one plane of 5x5 cells).
SCAN_ARGS = ["--planes", "1", "--resolution", "5", "--no-cache", "--quiet"]
AUDIT_ENV = "BDSCAN_FUZZ_AUDIT_LOG"
# Paths some mutations point external data at: opening any of them is an escape.
PLANTED_ABSOLUTE = ("/dev/zero", "/etc/hostname", "/proc/self/environ")

# The audit hook, as a sitecustomize module (spawned scans and their workers) and installed
# directly in forked scans. os.write on a descriptor opened before the hook: writing the log
# raises no `open` event of its own.
SITECUSTOMIZE = '''"""bdscan fuzzer: log Python-level opens to $BDSCAN_FUZZ_AUDIT_LOG."""
import os
import sys


def _install(log):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def hook(event, args):
        if event != "open" or not args or isinstance(args[0], int):
            return
        try:
            path = os.path.abspath(os.fsdecode(args[0]))
            os.write(fd, ("%d\\t%s\\n" % (os.getpid(), path)).encode("utf-8", "surrogateescape"))
        except Exception:
            pass

    sys.addaudithook(hook)


if os.environ.get("BDSCAN_FUZZ_AUDIT_LOG"):
    _install(os.environ["BDSCAN_FUZZ_AUDIT_LOG"])
'''


# --- seeds and data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    raw: bytes
    data: str  # "gray28" or "rgb32"
    # The example CNNs are 25 times the fixtures' size and scan 2-4 times slower: drawn a third
    # as often each.
    weight: int


def _image_kind(dims: list[int]) -> str | None:
    """Which data set fits an input of these dims (NCHW or NHWC), if any."""
    if len(dims) != 4:
        return None
    c, h, w = (dims[1], dims[2], dims[3]) if dims[1] in (1, 3) else (dims[3], dims[1], dims[2])
    return {(1, 28, 28): "gray28", (3, 32, 32): "rgb32", (1, 8, 8): "gray8"}.get((c, h, w))


def load_seeds() -> list[Seed]:
    seeds = []
    for pattern in SEED_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            raw = path.read_bytes()
            model = onnx.load_from_string(raw)
            inits = {t.name for t in model.graph.initializer}
            vi = next(i for i in model.graph.input if i.name not in inits)
            kind = _image_kind([d.dim_value for d in vi.type.tensor_type.shape.dim])
            if kind is None:  # no data of that size here: every mutant would fail on the data
                print(f"note: seed {path.name} skipped (no data for its input size)")
                continue
            seeds.append(Seed(path.name, raw, kind, 1 if pattern.startswith("examples") else 3))
    if not seeds:
        raise SystemExit(f"no seed models under {REPO} ({', '.join(SEED_GLOBS)})")
    return seeds


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped inside the package; a dev dependency) as uint8."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.round(d.images * 255 / 16).astype(np.uint8), d.target.astype(np.int64)


def write_data(folder: Path) -> dict[str, Path]:
    """Real images for the scans: 10 of each of three classes from data the repository ships."""
    out = {}
    sources: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "gray28": lambda: _npz(REPO / "examples" / "data" / "fmnist_clean.npz"),
        "rgb32": lambda: _npz(REPO / "tests" / "fixtures" / "data" / "rgb32.npz"),
        "gray8": _digits,
    }
    for key, load in sources.items():
        x, y = load()
        idx = np.concatenate([np.flatnonzero(y == c)[:10] for c in (0, 1, 2)])
        out[key] = folder / f"{key}.npz"
        np.savez(out[key], x=x[idx], y=y[idx])
    return out


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as d:
        return d["x"], d["y"]


# --- raw protobuf, for nesting past the library's depth limit ---------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _pb_len(num: int, payload: bytes) -> bytes:
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def _graph_attr(name: str, graph: bytes) -> bytes:
    return (
        _pb_len(1, name.encode())
        + _pb_len(6, graph)
        + _varint(20 << 3)
        + _varint(onnx.AttributeProto.GRAPH)
    )


def _ser(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)


# --- mutations ---------------------------------------------------------------------------------

DIM_VALUES = [0, 1, 2, 3, 7, 28, 32, 1000, -1, -28, 2**31 - 1, 2**40, 2**62, 2**63 - 1]
ELEM_TYPES = [*range(0, 24), 99, 2**20]
OP_TYPES = [
    "Relu", "Identity", "Add", "MatMul", "Conv", "Gemm", "Reshape", "Loop", "If", "Scan",
    "Softmax", "ArgMax", "Cast", "Upsample", "Resize", "ConstantOfShape", "Expand", "Tile",
    "NonZero", "Where", "Pad", "Split", "Concat", "Gather", "TopK", "Constant", "LSTM", "Range",
    "RandomNormal", "StringNormalizer", "Dropout", "BatchNormalization", "Unsqueeze", "Einsum",
    "FrobnicateTensor", "", "SequenceConstruct", "DequantizeLinear", "Trilu", "CumSum",
]  # fmt: skip
DOMAINS = ["", "ai.onnx", "ai.onnx.ml", "com.microsoft", "com.evil", "ai.onnx.preview.training"]
OPSETS = [-1, 0, 1, 6, 7, 11, 13, 17, 18, 21, 23, 99, 2**31 - 1]
IR_VERSIONS = [-1, 0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 99, 2**40]


@dataclass
class Mutant:
    """A case under construction: the proto, files beside it, what must never be read."""

    model: onnx.ModelProto
    rng: random.Random
    notes: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes
    symlinks: dict[str, str] = field(default_factory=dict)  # relative path -> target
    fifos: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    planted: set[str] = field(default_factory=set)  # absolute paths outside the folder
    nest: tuple[str, int] | None = None  # applied last, on bytes: ("if", depth)


def _value_infos(m: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    g = m.graph
    return [*g.input, *g.output, *g.value_info]


def mut_dims(mu: Mutant) -> None:
    vis = [v for v in _value_infos(mu.model) if v.type.HasField("tensor_type")]
    if not vis:
        return
    vi = mu.rng.choice(vis)
    dims = vi.type.tensor_type.shape.dim
    what = mu.rng.choice(["value", "param", "drop", "add", "clear"])
    if what == "value" and len(dims):
        d = mu.rng.choice(dims)
        d.dim_value = mu.rng.choice(DIM_VALUES)
    elif what == "param" and len(dims):
        mu.rng.choice(dims).dim_param = mu.rng.choice(["N", "", "H", "😀"])
    elif what == "drop" and len(dims):
        del dims[mu.rng.randrange(len(dims))]
    elif what == "add":
        dims.add().dim_value = mu.rng.choice(DIM_VALUES)
    else:
        vi.type.tensor_type.ClearField("shape")
    mu.notes.append(f"dims:{what}:{vi.name}")


def mut_dtype(mu: Mutant) -> None:
    g = mu.model.graph
    targets: list[Any] = [*g.input, *g.output, *g.initializer]
    if not targets:
        return
    t = mu.rng.choice(targets)
    new = mu.rng.choice(ELEM_TYPES)
    if isinstance(t, onnx.TensorProto):
        t.data_type = new
    elif t.type.HasField("tensor_type"):
        t.type.tensor_type.elem_type = new
    mu.notes.append(f"dtype:{t.name}={new}")


def mut_attribute(mu: Mutant) -> None:
    nodes = list(mu.model.graph.node)
    node = mu.rng.choice(nodes)
    if not node.attribute or mu.rng.random() < 0.15:
        name = mu.rng.choice(["axis", "perm", "kernel_shape", "to", "body", "evil"])
        node.attribute.append(helper.make_attribute(name, mu.rng.choice(DIM_VALUES)))
        mu.notes.append(f"attribute:add:{node.op_type}.{name}")
        return
    attr = mu.rng.choice(node.attribute)
    what = mu.rng.choice(["value", "type", "drop", "dup", "rename", "float"])
    if what == "value":
        if attr.ints:
            attr.ints[mu.rng.randrange(len(attr.ints))] = mu.rng.choice(DIM_VALUES)
        else:
            attr.i = mu.rng.choice(DIM_VALUES)
    elif what == "type":
        attr.type = mu.rng.choice([*onnx.AttributeProto.AttributeType.values(), 99])
    elif what == "drop":
        node.attribute.remove(attr)
    elif what == "dup":
        node.attribute.append(copy.deepcopy(attr))
    elif what == "rename":
        attr.name = mu.rng.choice(["", "axis", "perm", "x" * 300])
    else:
        attr.f = mu.rng.choice([math.nan, math.inf, -math.inf, 1e38, 0.0])
    mu.notes.append(f"attribute:{what}:{node.op_type}.{attr.name}")


def mut_opset(mu: Mutant) -> None:
    ops = mu.model.opset_import
    what = mu.rng.choice(["version", "version", "clear", "dup", "domain"])
    if what == "version" and len(ops):
        ops[0].version = mu.rng.choice(OPSETS)
    elif what == "clear":
        del ops[:]
    elif what == "dup":
        ops.add(domain="", version=mu.rng.choice(OPSETS))
    else:
        ops.add(domain=mu.rng.choice(DOMAINS), version=mu.rng.choice(OPSETS))
    mu.notes.append(f"opset:{what}")


def mut_ir_version(mu: Mutant) -> None:
    mu.model.ir_version = mu.rng.choice(IR_VERSIONS)
    mu.notes.append(f"ir_version={mu.model.ir_version}")


def mut_op_type(mu: Mutant) -> None:
    node = mu.rng.choice(list(mu.model.graph.node))
    old, node.op_type = node.op_type, mu.rng.choice(OP_TYPES)
    mu.notes.append(f"op_type:{old}->{node.op_type or '<empty>'}")


def mut_domain(mu: Mutant) -> None:
    node = mu.rng.choice(list(mu.model.graph.node))
    node.domain = mu.rng.choice(DOMAINS)
    if node.domain and mu.rng.random() < 0.5:
        mu.model.opset_import.add(domain=node.domain, version=1)
    mu.notes.append(f"domain:{node.op_type}@{node.domain or '<default>'}")


def mut_names(mu: Mutant) -> None:
    g = mu.model.graph
    slots: list[tuple[Any, int | None]] = []  # (message with .name, None) or (repeated, index)
    slots += [(v, None) for v in [*g.input, *g.output, *g.initializer]]
    for node in g.node:
        slots += [(node.input, i) for i in range(len(node.input))]
        slots += [(node.output, i) for i in range(len(node.output))]
    names = sorted({v.name for v in [*g.input, *g.output, *g.initializer]})
    names += sorted({o for n in g.node for o in n.output})
    target, index = mu.rng.choice(slots)
    new = mu.rng.choice([*names, "", "fz_fresh", "../../etc/passwd"])
    if index is None:
        target.name = new
    else:
        target[index] = new
    mu.notes.append(f"names:->{new or '<empty>'}")


def mut_initializer(mu: Mutant) -> None:
    inits = list(mu.model.graph.initializer)
    if not inits:
        return
    t = mu.rng.choice(inits)
    what = mu.rng.choice(["truncate", "extend", "dims", "clear", "external-flag"])
    if what == "truncate":
        t.raw_data = t.raw_data[: mu.rng.randrange(len(t.raw_data) + 1)]
    elif what == "extend":
        t.raw_data = t.raw_data + bytes(mu.rng.randrange(1, 64))
    elif what == "dims":
        del t.dims[:]
        t.dims.extend(mu.rng.choice(DIM_VALUES[:10]) for _ in range(mu.rng.randrange(0, 4)))
    elif what == "clear":
        t.ClearField("raw_data")
    else:
        t.data_location = TensorProto.EXTERNAL  # EXTERNAL, with no location at all
    mu.notes.append(f"initializer:{what}:{t.name}")


def mut_nodes(mu: Mutant) -> None:
    nodes = mu.model.graph.node
    what = mu.rng.choice(["drop", "dup", "swap", "reverse"])
    if what == "drop" and len(nodes) > 1:
        del nodes[mu.rng.randrange(len(nodes))]
    elif what == "dup":
        nodes.insert(mu.rng.randrange(len(nodes) + 1), copy.deepcopy(mu.rng.choice(nodes)))
    elif what == "swap" and len(nodes) > 1:
        i, j = mu.rng.sample(range(len(nodes)), 2)
        a, b = copy.deepcopy(nodes[i]), copy.deepcopy(nodes[j])
        nodes[i].CopyFrom(b)
        nodes[j].CopyFrom(a)
    else:
        order = [copy.deepcopy(n) for n in reversed(nodes)]
        del nodes[:]
        nodes.extend(order)
    mu.notes.append(f"nodes:{what}")


def mut_external(mu: Mutant, sentinel: Path) -> None:
    """Move the largest initializer to external data at a location that may not be allowed."""
    inits = [t for t in mu.model.graph.initializer if t.raw_data]
    if not inits:
        return
    t = max(inits, key=lambda x: len(x.raw_data))
    raw = t.raw_data
    choices = [
        "weights.bin", "sub/../weights.bin", f"../../{SENTINEL}", str(sentinel), *PLANTED_ABSOLUTE,
        "missing.bin", "link.bin", "fifo.bin", "adir", "w\x00.bin", "a" * 5000,
    ]  # fmt: skip
    location = mu.rng.choice(choices)
    offset, length = 0, len(raw)
    if location in ("weights.bin", "sub/../weights.bin"):
        mu.files["weights.bin"] = raw
        if location.startswith("sub/"):
            mu.dirs.append("sub")
        bad = mu.rng.choice([None, None, "offset", "length", "negative", "short"])
        if bad == "offset":
            offset = len(raw) + mu.rng.randrange(1, 10**6)
        elif bad == "length":
            length = mu.rng.choice([len(raw) * 2, 10**12, 0])
        elif bad == "negative":
            offset = -8
        elif bad == "short":
            mu.files["weights.bin"] = raw[: len(raw) // 2]
    elif location == "link.bin":
        mu.symlinks["link.bin"] = str(sentinel)
    elif location == "fifo.bin" and "fifo.bin" not in mu.fifos:  # two tensors may share it
        mu.fifos.append("fifo.bin")
    elif location == "adir":
        mu.dirs.append("adir")
    if location in PLANTED_ABSOLUTE:
        mu.planted.add(location)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        t.external_data.add(key=key, value=value)
    mu.notes.append(f"external:{location[:40]!r}@{offset}+{length}")


def mut_nest(mu: Mutant) -> None:
    mu.nest = ("if", mu.rng.choice([1, 2, 5, 20, 31, 40, 150]))
    mu.notes.append(f"nest:if*{mu.nest[1]}")


def mut_loop(mu: Mutant) -> None:
    """Wrap the last node in a Loop whose trip count is small, huge or missing."""
    g = mu.model.graph
    if not g.node or len(g.node[-1].output) != 1:
        return
    last = g.node[-1]
    out = last.output[0]
    # 10,001: just past the scanner's static limit (10,000 was allowed and ran 25 s a scan).
    trip = mu.rng.choice([None, 0, 1, 3, 10_001, 10**5, 10**12, 2**63 - 1])
    inner = copy.deepcopy(last)
    inner.output[0] = "fz_v_out"
    body = helper.make_graph(
        [helper.make_node("Identity", ["fz_c_in"], ["fz_c_out"]), inner],
        "fz_body",
        [
            helper.make_tensor_value_info("fz_i", TensorProto.INT64, []),
            helper.make_tensor_value_info("fz_c_in", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("fz_c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("fz_v_out", TensorProto.FLOAT, None),
        ],
    )
    g.initializer.append(numpy_helper.from_array(np.array(True), "fz_cond"))
    if trip is not None:
        g.initializer.append(numpy_helper.from_array(np.array(trip, np.int64), "fz_trip"))
    loop = helper.make_node(
        "Loop", ["fz_trip" if trip is not None else "", "fz_cond"], ["fz_scan_out"], body=body
    )
    # The body's value comes out as a scan output stacked per iteration: take the last one.
    g.node.remove(last)
    g.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "fz_last"))
    g.node.append(loop)
    g.node.append(helper.make_node("Gather", ["fz_scan_out", "fz_last"], ["fz_gathered"], axis=0))
    g.node.append(helper.make_node("Squeeze", ["fz_gathered", "fz_zero"], [out]))
    g.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "fz_zero"))
    mu.notes.append(f"loop:trip={trip}")


def _nest_bytes(model: onnx.ModelProto, depth: int) -> bytes | None:
    """The model with its last node moved into `depth` nested If then-branches, as bytes."""
    g = model.graph
    if not g.node or len(g.node[-1].output) != 1:
        return None
    last = g.node[-1]
    out = last.output[0]
    typed = {v.name: v for v in g.output}

    def branch(name: str, out_name: str) -> bytes:
        node = copy.deepcopy(last)
        node.output[0] = out_name
        vi = copy.deepcopy(typed[out]) if out in typed else onnx.ValueInfoProto()
        vi.name = out_name
        return _ser(helper.make_graph([node], name, [], [vi]))

    inner = branch("fz_g0", "fz_o0")
    node_bytes = b""
    for level in range(1, depth + 1):
        out_name = out if level == depth else f"fz_o{level}"
        node_bytes = (
            _ser(helper.make_node("If", ["fz_cond"], [out_name]))
            + _pb_len(5, _graph_attr("then_branch", inner))
            + _pb_len(5, _graph_attr("else_branch", branch(f"fz_e{level}", f"fz_e{level}")))
        )
        vi = onnx.ValueInfoProto(name=out_name)
        inner = _ser(helper.make_graph([], f"fz_g{level}", [], [vi])) + _pb_len(1, node_bytes)
    g.node.remove(last)
    g.initializer.append(numpy_helper.from_array(np.array(True), "fz_cond"))
    return _ser(model) + _pb_len(7, _pb_len(1, node_bytes))


def mut_bytes(raw: bytes, rng: random.Random, notes: list[str]) -> bytes:
    what = rng.choice(["truncate", "flip", "flip", "overwrite", "insert", "delete", "duplicate"])
    n = len(raw)
    if n == 0:
        return raw
    at = rng.randrange(n)
    if what == "truncate":
        raw = raw[:at]
    elif what == "flip":
        buf = bytearray(raw)
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        raw = bytes(buf)
    elif what == "overwrite":
        k = rng.randint(1, 32)
        raw = raw[:at] + bytes(rng.randrange(256) for _ in range(k)) + raw[at + k :]
    elif what == "insert":
        raw = raw[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 32))) + raw[at:]
    elif what == "delete":
        raw = raw[:at] + raw[at + rng.randint(1, 64) :]
    else:
        k = rng.randint(1, 256)
        raw = raw[:at] + raw[at : at + k] + raw[at:]
    notes.append(f"bytes:{what}@{at}")
    return raw


PROTO_MUTATIONS: list[tuple[Callable[..., None], int]] = [
    (mut_dims, 3),
    (mut_dtype, 2),
    (mut_attribute, 3),
    (mut_opset, 2),
    (mut_ir_version, 1),
    (mut_op_type, 2),
    (mut_domain, 1),
    (mut_names, 2),
    (mut_initializer, 2),
    (mut_nodes, 1),
    (mut_external, 3),
    (mut_nest, 1),
    (mut_loop, 1),
]


# --- a case ------------------------------------------------------------------------------------


@dataclass
class Case:
    index: int
    seed: str
    mutations: list[str]
    folder: Path
    data: Path
    planted: list[str]

    @property
    def model(self) -> Path:
        return self.folder / "model.onnx"


def make_case(
    index: int, run_seed: int, seeds: list[Seed], cases_dir: Path, data: dict[str, Path]
) -> Case:
    rng = random.Random(f"bdscan-fuzz:{run_seed}:{index}")
    seed = rng.choices(seeds, weights=[s.weight for s in seeds])[0]
    model = onnx.load_from_string(seed.raw)
    folder = cases_dir / f"case-{index:05d}"
    sentinel = cases_dir.parent / SENTINEL
    mu = Mutant(model, rng)
    k = rng.choice([0, 1, 1, 1, 2, 2, 3])
    funcs, weights = zip(*PROTO_MUTATIONS, strict=True)
    for fn in rng.choices(funcs, weights=weights, k=k):
        try:
            fn(mu, sentinel) if fn is mut_external else fn(mu)
        except (IndexError, ValueError, TypeError) as e:  # a mutation that does not apply
            mu.notes.append(f"{fn.__name__}:skipped({type(e).__name__})")
    raw = None
    if mu.nest is not None:
        raw = _nest_bytes(mu.model, mu.nest[1])
    if raw is None:
        raw = _ser(mu.model)
    if k == 0 or rng.random() < 0.25:
        raw = mut_bytes(raw, rng, mu.notes)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(raw)
    for rel, content in mu.files.items():
        (folder / rel).write_bytes(content)
    for rel in mu.dirs:
        (folder / rel).mkdir(exist_ok=True)
    for rel, target in mu.symlinks.items():
        (folder / rel).symlink_to(target)
    for rel in mu.fifos:
        os.mkfifo(folder / rel)
    return Case(index, seed.name, mu.notes, folder, data[seed.data], sorted(mu.planted))


# --- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    index: int
    seed: str
    mutations: list[str]
    cls: str
    exit_code: int | None
    seconds: float
    first_line: str
    reason: str = ""
    outside: list[str] = field(default_factory=list)


def scan_argv(case: Case, scan_timeout: float) -> list[str]:
    return [
        "scan", str(case.model), "--data", str(case.data), *SCAN_ARGS,
        "--timeout", f"{scan_timeout:g}",
    ]  # fmt: skip


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started (the worker runs in a session of its own, so
    a process group kill would miss it). Collected first: once a parent dies its children are
    re-parented and no longer traceable to it."""
    tree = _children()
    victims, stack = [], [pid]
    while stack:
        p = stack.pop()
        victims.append(p)
        stack.extend(tree.get(p, []))
    for p in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


def classify(
    case: Case, code: int | None, output: str, timed_out: bool, opened: list[str], work: Path
) -> tuple[str, str, list[str]]:
    folder = case.folder.resolve()
    # The harness's own files: the data, the result cache, its logs, the hook, the scan's cwd.
    allowed_in_work = [folder, case.data.resolve()]
    allowed_in_work += [work / name for name in ("cache", "logs", "hook", "cwd")]
    planted = {_real(p) for p in case.planted} | set(case.planted)
    outside = []
    for path in opened:
        real = Path(_real(path))
        inside_work = real.is_relative_to(work)
        allowed = any(real.is_relative_to(a) for a in allowed_in_work)
        if str(real) in planted or path in planted or (inside_work and not allowed):
            outside.append(path if str(real) == path else f"{path} -> {real}")
    if outside:
        return "outside-read", "opened outside the folder", sorted(set(outside))
    if timed_out:
        return "hang", "killed at the wall timeout", []
    if "Traceback" in output:
        return "traceback", "a Python traceback in the output", []
    if code is None or code not in DOCUMENTED_EXIT_CODES:
        return "traceback", f"exit code {code} is not a documented one", []
    if "internal error" in output:
        return "internal-error", "bdscan's catch-all for its own bugs", []
    lines = [ln for ln in output.splitlines() if ln.strip()]
    names = (str(case.model), str(case.data))
    if code == 2 and not any(n in ln for ln in lines for n in names):
        return "internal-error", "exit 2 without naming the file (an unexpected exception)", []
    return "ok", "", []


def _real(path: str) -> str:
    """Where a logged path leads (symlinks followed), or the path itself when it cannot be
    resolved (a NUL byte: then nothing could have been opened there either)."""
    try:
        return os.path.realpath(path)
    except (ValueError, OSError):
        return path


def _read_opens(log: Path) -> list[str]:
    try:
        text = log.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return []
    return [line.split("\t", 1)[1] for line in text.splitlines() if "\t" in line]


class Runner:
    def __init__(self, work: Path, timeout: float, jobs: int) -> None:
        self.work = work.resolve()
        self.timeout = timeout
        self.jobs = jobs
        self.hook_dir = self.work / "hook"
        self.hook_dir.mkdir(parents=True, exist_ok=True)
        (self.hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
        (self.work / "logs").mkdir(exist_ok=True)
        (self.work / "cwd").mkdir(exist_ok=True)
        # The scan's own per-call timeout fires first, so a slow runtime is the scanner's to stop.
        self.scan_timeout = max(1.0, timeout / 2)

    def env(self, audit_log: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.hook_dir), env.get("PYTHONPATH", "")) if p
        )
        env[AUDIT_ENV] = str(audit_log)
        env["BDSCAN_CACHE_DIR"] = str(self.work / "cache")
        return env

    def command(self, case: Case) -> list[str]:
        return [sys.executable, "-m", "scanner", *scan_argv(case, self.scan_timeout)]

    def _finish(
        self, case: Case, code: int | None, output: str, timed_out: bool, seconds: float
    ) -> Outcome:
        log = self.work / "logs" / f"{case.index}.log"
        opened = _read_opens(log)
        cls, reason, outside = classify(case, code, output, timed_out, opened, self.work)
        first = next((ln for ln in output.splitlines() if ln.strip()), "")
        (self.work / "logs" / f"{case.index}.out").write_text(output)
        return Outcome(
            case.index, case.seed, case.mutations, cls, code, round(seconds, 3),
            first[:300], reason, outside,
        )  # fmt: skip

    # spawn: `python -m scanner` per case, in threads that each wait on one child
    def _spawn_one(self, case: Case) -> Outcome:
        log = self.work / "logs" / f"{case.index}.log"
        log.unlink(missing_ok=True)
        started = time.perf_counter()
        proc = subprocess.Popen(
            self.command(case),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.work / "cwd",
            env=self.env(log),
            start_new_session=True,
        )
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc.pid)
            out, _ = proc.communicate()
        code = proc.returncode if not timed_out else None
        text = out.decode("utf-8", "replace")
        return self._finish(case, code, text, timed_out, time.perf_counter() - started)

    def run_spawn(self, cases: Iterator[Case], on_done: Callable[[Outcome], None]) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            pending = []
            for case in cases:
                pending.append(pool.submit(self._spawn_one, case))
                # Keep case folders on disk only a little ahead of the runners.
                while len(pending) >= 2 * self.jobs:
                    on_done(pending.pop(0).result())
            for fut in pending:
                on_done(fut.result())

    # fork: children of a parent that imported bdscan once
    def run_fork(self, cases: Iterator[Case], on_done: Callable[[Outcome], None]) -> None:
        from scanner.cli import main  # imported once, inherited by every fork

        running: dict[int, tuple[Case, float, Path]] = {}
        todo = iter(cases)
        exhausted = False
        while running or not exhausted:
            while not exhausted and len(running) < self.jobs:
                case = next(todo, None)
                if case is None:
                    exhausted = True
                    break
                out_path = self.work / "logs" / f"{case.index}.raw"
                log = self.work / "logs" / f"{case.index}.log"
                log.unlink(missing_ok=True)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    self._child(main, case, out_path, log)
                running[pid] = (case, time.perf_counter(), out_path)
            time.sleep(0.005)
            for pid, (case, started, out_path) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                elapsed = time.perf_counter() - started
                timed_out = False
                if not done and elapsed > self.timeout:
                    kill_tree(pid)
                    done, status = os.waitpid(pid, 0)
                    timed_out = True
                if not done:
                    continue
                del running[pid]
                code = None if timed_out else os.waitstatus_to_exitcode(status)
                text = out_path.read_bytes().decode("utf-8", "replace")
                on_done(self._finish(case, code, text, timed_out, elapsed))

    def _child(self, main: Callable[[list[str]], int], case: Case, out: Path, log: Path) -> None:
        code = 70
        try:
            os.setsid()
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ.update(self.env(log))  # the worker inherits the hook through these
            os.chdir(self.work / "cwd")
            namespace: dict[str, Any] = {"__name__": "bdscan_fuzz_hook"}
            exec(compile(SITECUSTOMIZE, "sitecustomize", "exec"), namespace)
            code = main(scan_argv(case, self.scan_timeout))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)


# --- reproducers and the summary ---------------------------------------------------------------


def _copy_special(src: Path, dst: Path) -> None:
    """Copy a case folder keeping symlinks and FIFOs as they are (copying a FIFO's contents
    would block)."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        mode = entry.lstat().st_mode
        if stat.S_ISLNK(mode):
            target.symlink_to(os.readlink(entry))
        elif stat.S_ISFIFO(mode):
            os.mkfifo(target)
        elif stat.S_ISDIR(mode):
            _copy_special(entry, target)
        elif stat.S_ISREG(mode):
            shutil.copyfile(entry, target)


def write_reproducer(runner: Runner, case: Case, outcome: Outcome, repro: Path) -> None:
    dest = repro / outcome.cls / case.folder.name
    if dest.exists():
        shutil.rmtree(dest)
    _copy_special(case.folder, dest)
    data = repro / case.data.name  # the reproducer needs nothing from the work folder
    if not data.exists():
        shutil.copyfile(case.data, data)
    moved = Case(case.index, case.seed, case.mutations, dest, data, case.planted)
    command = " ".join(_quote(a) for a in runner.command(moved))
    (dest / "command.sh").write_text(
        "#!/bin/sh\n# bdscan fuzz case "
        f"{case.index} (seed model {case.seed}): {'; '.join(case.mutations)}\n"
        f"# class {outcome.cls}: {outcome.reason}\n"
        f"cd {_quote(str(REPO))} && BDSCAN_CACHE_DIR=$(mktemp -d) {command}\n"
    )
    (dest / "command.sh").chmod(0o755)
    text = (runner.work / "logs" / f"{case.index}.out").read_text()
    (dest / "output.txt").write_text(
        text + ("\n" + "\n".join(outcome.outside) if outcome.outside else "")
    )


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Mutation fuzzer for `bdscan scan` (see the module docstring).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="wall seconds per case")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runner", choices=["spawn", "fork"], default="spawn")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out/results.json"))
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    args = parser.parse_args(argv)

    out_dir = args.out.resolve().parent
    work = out_dir / "work"
    repro = out_dir / "repro"
    for d in (work, repro):
        if d.exists():
            shutil.rmtree(d)
    (work / "cases").mkdir(parents=True)
    repro.mkdir(parents=True)
    (work / SENTINEL).write_bytes(b"bdscan fuzz sentinel: nothing may read this\n")
    (repro / SENTINEL).write_bytes(b"bdscan fuzz sentinel: nothing may read this\n")
    data = write_data(work)
    seeds = load_seeds()
    runner = Runner(work, args.timeout, args.jobs)
    cases: dict[int, Case] = {}

    def generate() -> Iterator[Case]:
        for i in range(args.first, args.first + args.cases):
            cases[i] = make_case(i, args.seed, seeds, work / "cases", data)
            yield cases[i]

    outcomes: list[Outcome] = []
    started = time.perf_counter()

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        case = cases.pop(outcome.index)
        if outcome.cls != "ok":
            write_reproducer(runner, case, outcome, repro)
            what = f"{case.seed}: {'; '.join(case.mutations)}"
            print(f"  {outcome.cls}: case {outcome.index} ({what}) -> {outcome.first_line[:160]}")
        shutil.rmtree(case.folder, ignore_errors=True)
        n = len(outcomes)
        if n % 50 == 0:
            rate = n / (time.perf_counter() - started)
            print(f"{n}/{args.cases} cases, {rate:.2f} cases/s", flush=True)

    if args.runner == "fork":
        runner.run_fork(generate(), done)
    else:
        runner.run_spawn(generate(), done)
    seconds = time.perf_counter() - started
    counts = Counter(o.cls for o in outcomes)
    exit_codes = Counter(str(o.exit_code) for o in outcomes)
    summary = {
        "cases": len(outcomes),
        "seconds": round(seconds, 1),
        "cases_per_s": round(len(outcomes) / seconds, 3) if seconds else None,
        "classes": {c: counts.get(c, 0) for c in CLASSES},
        "exit_codes": dict(sorted(exit_codes.items())),
    }
    settings = {
        "seed": args.seed, "first": args.first, "cases": args.cases, "timeout_s": args.timeout,
        "scan_timeout_s": runner.scan_timeout, "jobs": args.jobs, "runner": args.runner,
        "scan_args": SCAN_ARGS, "python": sys.version.split()[0], "cpus": os.cpu_count(),
    }  # fmt: skip
    doc = {
        "settings": settings,
        "summary": summary,
        "cases": [asdict(o) for o in sorted(outcomes, key=lambda o: o.index)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(
        f"{summary['cases']} cases in {summary['seconds']} s ({summary['cases_per_s']} cases/s,"
        f" {args.runner}, {args.jobs} jobs): "
        + ", ".join(f"{c} {n}" for c, n in summary["classes"].items())
    )
    print(f"exit codes: {summary['exit_codes']}; results: {args.out}; reproducers: {repro}")
    return 0 if counts.get("ok", 0) == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
