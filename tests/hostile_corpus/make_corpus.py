"""Write the hostile-model corpus: small malformed or hostile ONNX files and what bdscan must do.

    .venv/bin/python tests/hostile_corpus/make_corpus.py          # rewrites cases/ + expected.json

Every case is built from one tiny real classifier (a nearest-centroid rule on 7x7-pooled
Fashion-MNIST images, fitted from `examples/data/fmnist_clean.npz`), broken in one named way.
`expected.json` lists, per case: its path, category, a one-line description, the exit codes
that count as handled, and a substring the one-line message must hold (or a rule id).

Deterministic: no clocks, no unseeded randomness, zip entries with a fixed date, protobufs
serialised deterministically, so a rerun rewrites the same bytes.

What cannot be committed (FIFOs, symlinks, an empty folder, files too big for "a few KB") is
made by `materialize(root)` in a copy of the corpus at test time; those cases list it under
"runtime". Nothing here runs a model.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FMNIST = REPO / "examples" / "data" / "fmnist_clean.npz"
DATA_NAME = "fmnist30.npz"
# A file outside every case folder: external data that reaches it has escaped.
SENTINEL_NAME = "outside.bin"
SENTINEL_BYTES = b"BDSCAN-CORPUS-SENTINEL: reading this file means a model escaped its folder\n"
CLASSES = (0, 1, 2)  # T-shirt, trouser, pullover
SCAN_PER_CLASS = 10  # 30 scan samples in all
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
INT64_MAX = 2**63 - 1
F = TensorProto.FLOAT

# exit codes that count as "the scan completed" for a valid model
SCANS = [0, 1]


# --- the data and the base classifier ---------------------------------------------------------


def _fmnist() -> tuple[np.ndarray, np.ndarray]:
    with np.load(FMNIST, allow_pickle=False) as d:
        return d["x"], d["y"]


def scan_data() -> tuple[np.ndarray, np.ndarray]:
    """The first 10 test images of each of classes 0-2: what every case is scanned against."""
    x, y = _fmnist()
    idx = np.concatenate([np.flatnonzero(y == c)[:SCAN_PER_CLASS] for c in CLASSES])
    return x[idx], y[idx].astype(np.int64)


def _pooled(x: np.ndarray) -> np.ndarray:
    """What the graph's AveragePool(7x7, stride 7) and Flatten compute, on [0, 1] pixels."""
    f = x.astype(np.float64) / 255.0
    return f.reshape(len(f), 4, 7, 4, 7).mean(axis=(2, 4)).reshape(len(f), 16)


def weights() -> tuple[np.ndarray, np.ndarray]:
    """Nearest-centroid weights from the images not used for scanning, rounded so that the
    bytes do not depend on the last bit of a sum: W (16, 3), B (3,)."""
    x, y = _fmnist()
    feats = _pooled(x)
    w = np.zeros((16, len(CLASSES)))
    b = np.zeros(len(CLASSES))
    for j, c in enumerate(CLASSES):
        mu = feats[np.flatnonzero(y == c)[SCAN_PER_CLASS:]].mean(axis=0)
        w[:, j] = mu
        b[j] = -0.5 * float(mu @ mu)
    return np.round(w, 4).astype(np.float32), np.round(b, 4).astype(np.float32)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz that is byte-identical on every run and machine: numpy's own savez stamps the
    time, and deflate output may differ between zlib builds, so entries are stored with a fixed
    date."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arr), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE), npy.getvalue())
    return buf.getvalue()


def vi(name: str, elem: int, shape: list[Any] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def const(name: str, value: Any, dtype: Any = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def classifier_nodes(
    src: str = "input", out: str = "logits"
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """[N, 1, 28, 28] pixels in [0, 1] -> [N, 3] logits, through 'feat' [N, 16]."""
    w, b = weights()
    nodes = [
        helper.make_node("AveragePool", [src], ["pooled"], kernel_shape=[7, 7], strides=[7, 7]),
        helper.make_node("Flatten", ["pooled"], ["feat"], axis=1),
        helper.make_node("MatMul", ["feat", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], [out]),
    ]
    return nodes, [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]


def image_input(elem: int = F, shape: list[Any] | None = None) -> onnx.ValueInfoProto:
    return vi("input", elem, shape if shape is not None else ["N", 1, 28, 28])


def make(
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    *,
    inputs: list[onnx.ValueInfoProto] | None = None,
    outputs: list[onnx.ValueInfoProto] | None = None,
    opset: int = 17,
    ir: int = 8,
    extra_opsets: dict[str, int] | None = None,
    functions: list[onnx.FunctionProto] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "corpus",
        inputs if inputs is not None else [image_input()],
        outputs if outputs is not None else [vi("logits", F, ["N", 3])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets, functions=functions or [])
    model.ir_version = ir
    model.producer_name = "bdscan-hostile-corpus"
    return model


def base(**kw: Any) -> onnx.ModelProto:
    """The valid classifier every case starts from."""
    nodes, inits = classifier_nodes()
    return make(nodes, inits, **kw)


def with_tail(
    tail: list[onnx.NodeProto],
    extra_inits: list[onnx.TensorProto],
    outputs: list[onnx.ValueInfoProto],
    **kw: Any,
) -> onnx.ModelProto:
    """The classifier with more nodes after its 'logits' (which then is no graph output)."""
    nodes, inits = classifier_nodes()
    return make(nodes + tail, inits + extra_inits, outputs=outputs, **kw)


def to_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)


def pb_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def pb_len(num: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand: the protobuf library itself refuses to
    build messages nested past its depth limit, and some cases need exactly that."""
    return pb_varint((num << 3) | 2) + pb_varint(len(payload)) + payload


def pb_int(num: int, value: int) -> bytes:
    return pb_varint(num << 3) + pb_varint(value)


def graph_attr(name: str, graph: bytes) -> bytes:
    """AttributeProto bytes: name (1), g (6), type (20) = GRAPH."""
    return pb_len(1, name.encode()) + pb_len(6, graph) + pb_int(20, onnx.AttributeProto.GRAPH)


def with_node_bytes(model: onnx.ModelProto, node: bytes) -> bytes:
    """The model's bytes plus one more node at the end of its graph (protobuf merges a repeated
    message field, so appending a second `graph` field appends to graph.node)."""
    return to_bytes(model) + pb_len(7, pb_len(1, node))


def externalize(model: onnx.ModelProto, name: str, location: str, **info: str) -> bytes:
    """Move initializer `name`'s bytes out of the model; returns those bytes. `info` overrides
    offset/length."""
    t = next(t for t in model.graph.initializer if t.name == name)
    raw = numpy_helper.to_array(t).tobytes()
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": "0", "length": str(len(raw)), **info}
    for key, value in entries.items():
        t.external_data.add(key=key, value=value)
    return raw


# --- cases -----------------------------------------------------------------------------------


Files = dict[str, bytes]  # relative path inside the case (folder) -> bytes


@dataclass
class Case:
    name: str
    category: str
    description: str
    exit_codes: list[int]
    build: Callable[[], Files] | None  # None: made only at test time (`runtime`)
    message: str | None = None  # substring of the one-line message (case-insensitive)
    rule: str | None = None  # a rule id the output must name (e.g. BDS205)
    folder: bool = False  # the case is a folder holding model.onnx (+ its external data)
    runtime: list[str] = field(default_factory=list)  # made by materialize() at test time
    # Expected outcome that relies on checks being added now (issue 25); informational.
    new: bool = False

    @property
    def path(self) -> str:
        if self.name == "folder_named_onnx":  # the case is the (empty) folder itself
            return f"cases/{self.name}.onnx"
        return f"cases/{self.name}/model.onnx" if self.folder else f"cases/{self.name}.onnx"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "category": self.category,
            "description": self.description,
            "exit_codes": self.exit_codes,
            "message": self.message,
            "rule": self.rule,
        }
        if self.runtime:
            d["runtime"] = self.runtime
        if self.new:
            d["new"] = True
        return d


CASES: list[Case] = []


Builder = Callable[[], "Files | bytes | onnx.ModelProto"]


def add_case(
    name: str,
    category: str,
    description: str,
    exit_codes: list[int] | int,
    fn: Builder | None,
    message: str | None = None,
    **kw: Any,
) -> None:
    """Register a case; `fn` returns a model, bytes, or {relative path: bytes}, and None means
    the case is made only at test time (`materialize`)."""

    def build() -> Files:
        assert fn is not None
        out = fn()
        if isinstance(out, onnx.ModelProto):
            out = to_bytes(out)
        return out if isinstance(out, dict) else {"model.onnx": out}

    codes = [exit_codes] if isinstance(exit_codes, int) else exit_codes
    CASES.append(Case(name, category, description, codes, build if fn else None, message, **kw))


def case(
    category: str, exit_codes: list[int] | int, message: str | None = None, **kw: Any
) -> Callable[[Builder], Builder]:
    """Register the decorated builder as a case: its name is the case's name and its docstring
    the description."""

    def register(fn: Builder) -> Builder:
        description = " ".join((fn.__doc__ or "").split())
        add_case(fn.__name__, category, description, exit_codes, fn, message, **kw)
        return fn

    return register


def clean_bytes() -> bytes:
    return to_bytes(base())


CHECKER = "checker rejects"  # onnx.checker refused it (bdscan's wording around the checker's)
ORT_LOAD = "onnxruntime failed while loading"  # onnxruntime refused it in the worker
EXT_READ = "could not read external data"
READABLE = "ONNX model"  # "not a readable ONNX model" / "not an ONNX model (no graph nodes..."

# ---- protobuf: truncated, garbage, empty ----


@case("protobuf", 2, "empty file")
def empty() -> bytes:
    """a zero-byte file"""
    return b""


@case("protobuf", 2, READABLE)
def truncated_half() -> bytes:
    """the clean model cut at half its length"""
    raw = clean_bytes()
    return raw[: len(raw) // 2]


@case("protobuf", 2, READABLE)
def truncated_last_byte() -> bytes:
    """the clean model without its last byte"""
    return clean_bytes()[:-1]


@case("protobuf", 2, READABLE)
def truncated_10_bytes() -> bytes:
    """only the first 10 bytes of the clean model"""
    return clean_bytes()[:10]


@case("protobuf", 2, READABLE)
def truncated_in_initializer() -> bytes:
    """cut in the middle of the weight initializer's raw bytes"""
    raw = clean_bytes()
    w = numpy_helper.to_array(base().graph.initializer[0]).tobytes()
    return raw[: raw.index(w) + len(w) // 2]


@case("protobuf", 2, READABLE)
def garbage_random() -> bytes:
    """512 bytes from a seeded random generator"""
    return np.random.default_rng(20250).integers(0, 256, 512, dtype=np.uint8).tobytes()


@case("protobuf", 2, READABLE)
def garbage_zeros() -> bytes:
    """1 KiB of zero bytes (field number 0 is invalid)"""
    return bytes(1024)


@case("protobuf", 2, READABLE)
def garbage_ff() -> bytes:
    """1 KiB of 0xff bytes (an endless varint)"""
    return b"\xff" * 1024


@case("protobuf", 2, "no graph nodes")
def model_without_graph() -> onnx.ModelProto:
    """a valid ModelProto with opsets but no graph"""
    m = onnx.ModelProto(ir_version=8, producer_name="bdscan-hostile-corpus")
    m.opset_import.add(domain="", version=17)
    return m


@case("protobuf", 2, "no graph nodes")
def graph_without_nodes() -> onnx.ModelProto:
    """a graph with an input and an output but no nodes"""
    return make([], [], outputs=[vi("input", F, ["N", 1, 28, 28])])


@case("protobuf", 2, READABLE)
def length_prefix_overflow() -> bytes:
    """the graph field claims 2^60 bytes, the file has a few"""
    return pb_int(1, 8) + pb_varint((7 << 3) | 2) + pb_varint(2**60) + b"\x0a\x00"


@case("protobuf", 2, READABLE)
def protobuf_nesting_bomb() -> bytes:
    """graph -> node -> attribute -> graph ... nested 600 levels deep in raw protobuf"""
    inner = b""
    for _i in range(600):
        node = pb_len(4, b"If") + pb_len(5, graph_attr("g", inner))  # op_type, attribute
        inner = pb_len(1, node)  # GraphProto.node
    return pb_int(1, 8) + pb_len(7, inner)  # ir_version 8, graph


@case("protobuf", 2, CHECKER)
def model_twice() -> bytes:
    """the clean model's bytes twice in a row (protobuf merges them: every node, input and
    initializer appears twice)"""
    return clean_bytes() * 2


# ---- file types renamed .onnx ----


def _png() -> bytes:
    """A Fashion-MNIST sample as a greyscale PNG, written by hand with stored (level 0) deflate
    blocks so that the bytes do not depend on the zlib build."""
    x, _y = scan_data()
    raw = b"".join(b"\x00" + row.tobytes() for row in x[0])  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


# Fixed text rather than onnx.printer's output, which may change between onnx releases.
ONNX_TEXT = """<ir_version: 8, opset_import: ["" : 17]>
corpus (float[N, 1, 28, 28] input) => (float[N, 3] logits) {
    pooled = AveragePool <kernel_shape: ints = [7, 7], strides: ints = [7, 7]> (input)
    feat = Flatten <axis: int = 1> (pooled)
    logits = MatMul (feat, W)
}
"""

# A pickle that would run `echo` if anything unpickled it; bdscan never does.
EVIL_PICKLE = b"cposix\nsystem\n(S'echo bdscan-corpus-pickle-ran'\ntR."


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries.items():
            z.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data)
    return buf.getvalue()


FILE_TYPES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("filetype_png", "a PNG image (a Fashion-MNIST sample) renamed .onnx", _png),
    ("filetype_pickle", "a pickle whose REDUCE would call os.system", lambda: EVIL_PICKLE),
    (
        "filetype_torch_zip",
        "a PyTorch-style zip (archive/data.pkl holding a malicious pickle)",
        lambda: _zip({"archive/data.pkl": EVIL_PICKLE, "archive/version": b"3\n"}),
    ),
    (
        "filetype_npz",
        "a NumPy .npz (zip) of the scan data renamed .onnx",
        lambda: npz_bytes(dict(zip("xy", (a[::10] for a in scan_data()), strict=True))),
    ),
    (
        "filetype_gzip",
        "the clean model gzip-compressed",
        lambda: gzip.compress(clean_bytes(), compresslevel=0, mtime=0),
    ),
    ("filetype_elf", "an ELF header followed by zeros", lambda: b"\x7fELF\x02\x01\x01" + bytes(57)),
    ("filetype_hdf5", "an HDF5 (Keras .h5) signature", lambda: b"\x89HDF\r\n\x1a\n" + bytes(56)),
    (
        "filetype_tflite",
        "a TFLite flatbuffer identifier",
        lambda: b"\x1c\x00\x00\x00TFL3" + bytes(56),
    ),
    (
        "filetype_safetensors",
        "a safetensors header and one tensor",
        lambda: (
            struct.pack("<Q", 58)
            + b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   '
            + bytes(8)
        ),
    ),
    ("filetype_json", "a JSON document", lambda: b'{"model": "not onnx", "weights": [1, 2, 3]}\n'),
    ("filetype_html", "an HTML page", lambda: b"<!doctype html><html><body>model</body></html>\n"),
    ("filetype_shell", "a shell script", lambda: b"#!/bin/sh\necho bdscan-corpus\n"),
    (
        "filetype_onnx_text",
        "a model in ONNX's textual syntax (what onnx.printer writes), not binary",
        lambda: ONNX_TEXT.encode(),
    ),
    (
        "filetype_utf16",
        "UTF-16 text with a byte-order mark",
        lambda: "model weights\n".encode("utf-16"),
    ),
    (
        "filetype_tensorproto",
        "a serialised TensorProto (valid protobuf, another message)",
        lambda: base().graph.initializer[0].SerializeToString(deterministic=True),
    ),
    (
        "filetype_graphproto",
        "a serialised GraphProto without its ModelProto wrapper",
        lambda: base().graph.SerializeToString(deterministic=True),
    ),
]


for _name, _desc, _fn in FILE_TYPES:
    add_case(_name, "file-type", _desc, 2, _fn, READABLE)

add_case(
    "folder_named_onnx",
    "file-type",
    "an empty folder whose name ends in .onnx",
    3,
    None,
    "no .onnx models",
    runtime=["an empty folder"],
)
add_case(
    "model_is_fifo",
    "file-type",
    "the model path is a FIFO (opening it for reading blocks until a writer comes)",
    2,
    None,
    "not a regular file",
    runtime=["a FIFO"],
)
add_case(
    "model_symlink_dev_zero",
    "file-type",
    "the model path is a symlink to /dev/zero (an endless stream of zero bytes)",
    2,
    None,
    "not a regular file",
    runtime=["a symlink to /dev/zero"],
)

# ---- versions: opset and IR ----


@case("version", 2, "opset")
def opset_future() -> onnx.ModelProto:
    """default-domain opset 999"""
    return base(opset=999)


@case("version", 2, CHECKER)
def opset_zero() -> onnx.ModelProto:
    """default-domain opset 0"""
    return base(opset=0)


@case("version", 2, CHECKER)
def opset_negative() -> onnx.ModelProto:
    """default-domain opset -5"""
    return base(opset=-5)


@case("version", 2, ORT_LOAD)
def opset_1() -> onnx.ModelProto:
    """opset 1: older than any runtime supports"""
    return base(opset=1)


@case("version", 2, "opset")
def opset_missing() -> onnx.ModelProto:
    """no opset_import at all"""
    m = base()
    del m.opset_import[:]
    return m


@case("declarations", 2, "opset", new=True)
def opset_duplicate_domain() -> onnx.ModelProto:
    """the default domain imported twice, at opsets 17 and 7"""
    m = base()
    m.opset_import.add(domain="", version=7)
    return m


@case("version", 2, "ir_version")
def ir_version_zero() -> onnx.ModelProto:
    """ir_version 0 (unset)"""
    return base(ir=0)


@case("version", 2, "ir_version")
def ir_version_future() -> onnx.ModelProto:
    """ir_version 99"""
    return base(ir=99)


@case("version", 2, "ir_version")
def ir_version_huge() -> onnx.ModelProto:
    """ir_version 2^62"""
    return base(ir=2**62)


@case("version", 2, CHECKER)
def ir_version_2_with_opset_17() -> onnx.ModelProto:
    """ir_version 2 (before opset imports existed) with opset 17"""
    return base(ir=2)


@case("control", SCANS)
def ir_version_10_opset_21() -> onnx.ModelProto:
    """valid: a newer ir_version (10) and opset (21)"""
    return base(ir=10, opset=21)


# ---- operators: unknown ops and custom domains ----


def _swap_op(op_type: str, domain: str = "", **kw: Any) -> onnx.ModelProto:
    m = base(**kw)
    node = m.graph.node[1]  # Flatten
    node.op_type = op_type
    node.domain = domain
    return m


@case("operators", 2, "FrobnicateTensor")
def unknown_op() -> onnx.ModelProto:
    """an op 'FrobnicateTensor' in the default domain"""
    return _swap_op("FrobnicateTensor")


@case("operators", 2, CHECKER)
def empty_op_type() -> onnx.ModelProto:
    """a node with an empty op_type"""
    return _swap_op("")


@case("operators", 2, "Exec")
def custom_domain_declared() -> onnx.ModelProto:
    """op 'Exec' in a custom domain 'com.evil' that the model imports: no runtime has it"""
    return _swap_op("Exec", "com.evil", extra_opsets={"com.evil": 1})


@case("operators", 2, CHECKER)
def custom_domain_undeclared() -> onnx.ModelProto:
    """op 'Exec' in domain 'com.evil' that the model does not import"""
    return _swap_op("Exec", "com.evil")


@case("operators", 2, "NoSuchContribOp")
def custom_domain_unknown_op_known_domain() -> onnx.ModelProto:
    """an op that does not exist in the com.microsoft contrib domain"""
    return _swap_op("NoSuchContribOp", "com.microsoft", extra_opsets={"com.microsoft": 1})


@case("operators", 2, CHECKER)
def ml_domain_wrong_op() -> onnx.ModelProto:
    """'Flatten' asked of the ai.onnx.ml domain, which has no such op"""
    return _swap_op("Flatten", "ai.onnx.ml", extra_opsets={"ai.onnx.ml": 3})


@case("operators", 2, "kernel_shape")
def missing_required_attribute() -> onnx.ModelProto:
    """AveragePool without its required kernel_shape"""
    m = base()
    pool = m.graph.node[0]
    keep = [a for a in pool.attribute if a.name != "kernel_shape"]
    del pool.attribute[:]
    pool.attribute.extend(keep)
    return m


@case("operators", 2, "axis")
def attribute_wrong_type() -> onnx.ModelProto:
    """Flatten's integer 'axis' given as a string"""
    m = base()
    flat = m.graph.node[1]
    del flat.attribute[:]
    flat.attribute.append(helper.make_attribute("axis", "one"))
    return m


@case("operators", 2, "exfiltrate")
def attribute_unknown() -> onnx.ModelProto:
    """MatMul given an attribute it does not define"""
    m = base()
    m.graph.node[2].attribute.append(helper.make_attribute("exfiltrate", "/etc/passwd"))
    return m


@case("operators", 2, CHECKER)
def wrong_input_count() -> onnx.ModelProto:
    """MatMul given one input instead of two"""
    m = base()
    del m.graph.node[2].input[1:]
    return m


@case("operators", 2, "ghost_tensor")
def dangling_node_input() -> onnx.ModelProto:
    """a node reads a tensor that nothing produces"""
    m = base()
    m.graph.node[3].input[1] = "ghost_tensor"
    return m


@case("operators", 2, CHECKER)
def nodes_out_of_order() -> onnx.ModelProto:
    """the nodes listed in reverse (not topologically sorted)"""
    m = base()
    nodes = list(m.graph.node)[::-1]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


@case("operators", 2, CHECKER)
def cycle() -> onnx.ModelProto:
    """two nodes that feed each other"""
    m = base()
    m.graph.node[2].input[0] = "logits"  # MatMul reads the Add's output, the Add reads MatMul's
    return m


@case("control", SCANS)
def local_function_contrib_shadow() -> onnx.ModelProto:
    """valid: a model-local function 'Linear' in its own domain does the MatMul + Add"""
    fn = helper.make_function(
        "local.fns",
        "Linear",
        ["x", "w", "b"],
        ["y"],
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        [helper.make_opsetid("", 17)],
    )
    nodes, inits = classifier_nodes()
    call = helper.make_node("Linear", ["feat", "W", "B"], ["logits"], domain="local.fns")
    return make([*nodes[:2], call], inits, extra_opsets={"local.fns": 1}, functions=[fn])


def _recursive_functions(names: list[str]) -> onnx.ModelProto:
    fns = []
    for i, name in enumerate(names):
        callee = names[(i + 1) % len(names)]
        fns.append(
            helper.make_function(
                "local.fns",
                name,
                ["x"],
                ["y"],
                [helper.make_node(callee, ["x"], ["y"], domain="local.fns")],
                [helper.make_opsetid("", 17), helper.make_opsetid("local.fns", 1)],
            )
        )
    nodes, inits = classifier_nodes(out="pre")
    nodes.append(helper.make_node(names[0], ["pre"], ["logits"], domain="local.fns"))
    return make(nodes, inits, extra_opsets={"local.fns": 1}, functions=fns)


@case("nesting", 2, CHECKER)
def function_recursive() -> onnx.ModelProto:
    """a model-local function that calls itself (endless inlining)"""
    return _recursive_functions(["Again"])


@case("nesting", 2, CHECKER)
def function_mutually_recursive() -> onnx.ModelProto:
    """two model-local functions that call each other"""
    return _recursive_functions(["Ping", "Pong"])


# ---- external data ----


def ext_case(location: str, *, tensor: str = "W", extra: Files | None = None, **info: str) -> Files:
    m = base()
    raw = externalize(m, tensor, location, **info)
    files = {"model.onnx": to_bytes(m)}
    for rel, data in (extra or {}).items():
        files[rel] = raw if data == b"<weights>" else data
    return files


OUTSIDE = "outside the model's folder"


@case("external-data", 2, OUTSIDE, folder=True)
def ext_parent_dir() -> Files:
    """weights at '../../outside.bin' (the sentinel)"""
    return ext_case(f"../../{SENTINEL_NAME}")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_sibling_case() -> Files:
    """weights at '../ext_valid_inside/weights.bin': real, well-sized, but another folder's"""
    return ext_case("../ext_valid_inside/weights.bin")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_absolute_passwd() -> Files:
    """weights at '/etc/passwd'"""
    return ext_case("/etc/passwd")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_absolute_dev_zero() -> Files:
    """weights at '/dev/zero'"""
    return ext_case("/dev/zero")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_proc_self() -> Files:
    """weights at '/proc/self/environ'"""
    return ext_case("/proc/self/environ")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_dotdot_deep() -> Files:
    """weights at 'a/../../../../../../etc/hostname' (climbs out through a subfolder)"""
    return ext_case("a/../../../../../../etc/hostname", extra={"a/.keep": b""})


@case("external-data", 2, OUTSIDE, folder=True)
def ext_empty_location() -> Files:
    """an external tensor with location ''"""
    return ext_case("")


@case("external-data", 2, "missing", folder=True)
def ext_missing_file() -> Files:
    """weights at 'weights.bin', which is not there"""
    return ext_case("weights.bin")


@case("external-data", 2, "not a regular file", folder=True)
def ext_location_is_folder() -> Files:
    """weights at 'sub', a folder"""
    return ext_case("sub", extra={"sub/.keep": b""})


@case("external-data", 2, EXT_READ, folder=True)
def ext_offset_past_end() -> Files:
    """the weights file is real but the offset is past its end"""
    return ext_case("weights.bin", extra={"weights.bin": b"<weights>"}, offset="1000000")


@case("external-data", 2, EXT_READ, folder=True)
def ext_length_too_long() -> Files:
    """the declared length is 1 TB, the file 192 bytes"""
    return ext_case("weights.bin", extra={"weights.bin": b"<weights>"}, length=str(10**12))


@case("external-data", 2, EXT_READ, folder=True)
def ext_offset_negative() -> Files:
    """offset -64"""
    return ext_case("weights.bin", extra={"weights.bin": b"<weights>"}, offset="-64")


@case("external-data", 2, EXT_READ, folder=True)
def ext_offset_not_a_number() -> Files:
    """offset 'zero'"""
    return ext_case("weights.bin", extra={"weights.bin": b"<weights>"}, offset="zero")


@case("external-data", 2, EXT_READ, folder=True)
def ext_short_file() -> Files:
    """the weights file holds half the bytes the tensor needs"""
    files = ext_case("weights.bin", extra={"weights.bin": b"<weights>"})
    files["weights.bin"] = files["weights.bin"][:96]
    return files


@case("external-data", 2, "external data", folder=True)
def ext_nul_in_location() -> Files:
    """a location with a NUL byte ('weights.bin\0../../x')"""
    return ext_case("weights.bin\x00../../x", extra={"weights.bin": b"<weights>"})


@case("external-data", 2, "external data", folder=True)
def ext_long_location() -> Files:
    """a 5,000-character location"""
    return ext_case("a" * 5000)


@case("external-data", 2, "missing", folder=True)
def ext_file_url() -> Files:
    """location 'file:///etc/passwd'"""
    return ext_case("file:///etc/passwd")


@case("external-data", 2, OUTSIDE, folder=True)
def ext_in_if_branch() -> Files:
    """a Constant inside an If branch whose tensor lives at '../../outside.bin'"""
    t = const("hidden", np.zeros(3))
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", f"../../{SENTINEL_NAME}"), ("offset", "0"), ("length", "12")):
        t.external_data.add(key=k, value=v)
    branch = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c"], value=t),
            helper.make_node("Add", ["pre", "c"], ["o"]),
        ],
        "then",
        [],
        [vi("o", F, ["N", 3])],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["pre"], ["o2"])], "else", [], [vi("o2", F, ["N", 3])]
    )
    nodes, inits = classifier_nodes(out="pre")
    nodes += [helper.make_node("If", ["cond"], ["logits"], then_branch=branch, else_branch=other)]
    inits.append(const("cond", True, np.bool_))
    return {"model.onnx": to_bytes(make(nodes, inits))}


@case("external-data", 2, "outside", folder=True)
def ext_sparse_initializer() -> Files:
    """a sparse initializer whose values live at '../../outside.bin'"""
    m = base()
    values = const("S_values", np.zeros(1))
    values.ClearField("raw_data")
    values.data_location = TensorProto.EXTERNAL
    for k, v in (("location", f"../../{SENTINEL_NAME}"), ("offset", "0"), ("length", "4")):
        values.external_data.add(key=k, value=v)
    indices = const("S_indices", [0], np.int64)
    sparse = helper.make_sparse_tensor(values, indices, [3])
    sparse.values.name = "S"
    m.graph.sparse_initializer.append(sparse)
    m.graph.node[3].input[1] = "S"  # logits = mm + S
    m.graph.initializer.pop()  # B is unused now
    return {"model.onnx": to_bytes(m)}


@case("control", SCANS, folder=True)
def ext_valid_inside() -> Files:
    """valid: the weights in 'weights.bin' beside the model"""
    return ext_case("weights.bin", extra={"weights.bin": b"<weights>"})


@case("control", SCANS, folder=True)
def ext_valid_subfolder() -> Files:
    """valid: weights at 'data/../data/w.bin' (climbs but stays inside)"""
    return ext_case("data/../data/w.bin", extra={"data/w.bin": b"<weights>"})


EXT_RUNTIME: list[tuple[str, str, str | None, str]] = [
    (
        "ext_symlink_outside",
        "weights.bin is a symlink to ../../outside.bin",
        OUTSIDE,
        "a relative symlink",
    ),
    (
        "ext_symlink_absolute",
        "weights.bin is a symlink to the sentinel's absolute path",
        OUTSIDE,
        "an absolute symlink",
    ),
    (
        "ext_symlink_dev_zero",
        "weights.bin is a symlink to /dev/zero",
        OUTSIDE,
        "a symlink to /dev/zero",
    ),
    (
        "ext_symlink_loop",
        "weights.bin -> loop.bin -> weights.bin",
        "external data",
        "two looping symlinks",
    ),
    (
        "ext_fifo",
        "weights.bin is a FIFO (opening it blocks until a writer comes)",
        "not a regular file",
        "a FIFO",
    ),
]


def _ext_weights_bin() -> onnx.ModelProto:
    m = base()
    externalize(m, "W", "weights.bin")
    return m


for _name, _desc, _msg, _made in EXT_RUNTIME:
    # The model is committed; what weights.bin is gets made at test time.
    add_case(_name, "external-data", _desc, 2, _ext_weights_bin, _msg, folder=True, runtime=[_made])


# ---- huge declared dims ----


def _gap_model(dims: list[Any], **kw: Any) -> onnx.ModelProto:
    """The classifier on a global average of the input: any declared size is a valid graph."""
    w, b = weights()
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "W1"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["logits"]),
    ]
    inits = [const("W1", w[:1] * 16), numpy_helper.from_array(b, "B")]
    return make(nodes, inits, inputs=[image_input(shape=dims)], **kw)


@case("dims", 2, "1,600,000,000 values per image")
def input_40000x40000() -> onnx.ModelProto:
    """the input declares 40000x40000 images"""
    return _gap_model(["N", 1, 40000, 40000])


@case("dims", 2, "values per image")
def input_2e62() -> onnx.ModelProto:
    """the input declares 2^62 x 2^62 images"""
    return _gap_model(["N", 1, 2**62, 2**62])


@case("dims", 2, "expected images of -28x-28")
def input_dim_negative() -> onnx.ModelProto:
    """the input declares -28 x -28 images"""
    return _gap_model(["N", 1, -28, -28])


@case("dims", 2, "expected images of 0x0")
def input_dim_zero() -> onnx.ModelProto:
    """the input declares 0x0 images"""
    return _gap_model(["N", 1, 0, 0])


@case("dims", 2, "1000")
def input_channels_1000() -> onnx.ModelProto:
    """the input declares 1000 channels of 28x28"""
    return _gap_model(["N", 1000, 28, 28])


@case("dims", 2, "batch")
def input_batch_huge() -> onnx.ModelProto:
    """the input declares a fixed batch of 2^40 images"""
    return base(inputs=[image_input(shape=[2**40, 1, 28, 28])])


@case("dims", 2, "batch")
def input_batch_int64_max() -> onnx.ModelProto:
    """the input declares a fixed batch of 2^63-1 images (past numpy's largest dimension)"""
    return base(inputs=[image_input(shape=[INT64_MAX, 1, 28, 28])])


@case("dims", 2, CHECKER)
def initializer_dims_lie() -> onnx.ModelProto:
    """W declares 10^9 x 3 floats and holds 48"""
    m = base()
    w = m.graph.initializer[0]
    del w.dims[:]
    w.dims.extend([10**9, 3])
    return m


@case("dims", 2, "ConstantOfShape")
def constant_of_shape_huge() -> onnx.ModelProto:
    """ConstantOfShape of [10^6, 10^6, 3] added to the logits (12 TB)"""
    tail = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"]),
        helper.make_node("Add", ["logits", "big"], ["out"]),
        helper.make_node("ReduceMean", ["out"], ["logits2"], axes=[0], keepdims=0),
    ]
    return with_tail(
        tail, [const("shape", [10**6, 10**6, 3], np.int64)], [vi("logits2", F, ["N", 3])]
    )


@case("dims", 2, "Expand")
def expand_huge() -> onnx.ModelProto:
    """Expand of the logits to [10^5, 10^5, N, 3] before a mean"""
    tail = [
        helper.make_node("Expand", ["logits", "shape"], ["big"]),
        helper.make_node("ReduceMean", ["big"], ["out"], axes=[0, 1], keepdims=0),
    ]
    return with_tail(
        tail, [const("shape", [10**5, 10**5, 1, 3], np.int64)], [vi("out", F, ["N", 3])]
    )


@case("dims", 2, ORT_LOAD)
def pad_huge() -> onnx.ModelProto:
    """Pad of the input by 10^6 pixels on every side"""
    nodes, inits = classifier_nodes(src="padded")
    pads = const("pads", [0, 0, 10**6, 10**6, 0, 0, 10**6, 10**6], np.int64)
    nodes.insert(0, helper.make_node("Pad", ["input", "pads"], ["padded"]))
    return make(nodes, [*inits, pads])


# ---- inputs and outputs ----


@case("io", 2, "rank")
def input_rank_1() -> onnx.ModelProto:
    """the image input has rank 1"""
    return _gap_model(["N"])


@case("io", 2, "rank")
def input_rank_5() -> onnx.ModelProto:
    """the image input has rank 5"""
    return _gap_model(["N", 1, 28, 28, 1])


@case("io", 2, "rank")
def input_scalar() -> onnx.ModelProto:
    """the image input is a scalar"""
    return _gap_model([])


@case("io", 2, CHECKER)
def input_no_shape() -> onnx.ModelProto:
    """the image input has a type but no shape"""
    m = _gap_model(["N", 1, 28, 28])
    m.graph.input[0].type.tensor_type.ClearField("shape")
    return m


@case("io", 2, "float or uint8")
def input_int32() -> onnx.ModelProto:
    """the image input is int32"""
    nodes, inits = classifier_nodes(src="as_float")
    nodes.insert(0, helper.make_node("Cast", ["input"], ["as_float"], to=F))
    return make(nodes, inits, inputs=[image_input(TensorProto.INT32)])


@case("io", 2, "float or uint8")
def input_string() -> onnx.ModelProto:
    """the image input is a string tensor"""
    nodes, inits = classifier_nodes(src="as_float")
    nodes.insert(0, helper.make_node("Cast", ["input"], ["as_float"], to=F))
    return make(nodes, inits, inputs=[image_input(TensorProto.STRING)])


@case("io", 2, "float or uint8")
def input_bool() -> onnx.ModelProto:
    """the image input is bool"""
    nodes, inits = classifier_nodes(src="as_float")
    nodes.insert(0, helper.make_node("Cast", ["input"], ["as_float"], to=F))
    return make(nodes, inits, inputs=[image_input(TensorProto.BOOL)])


@case("io", 2, "undefined")
def input_undefined_type() -> onnx.ModelProto:
    """the image input's elem_type is 0 (UNDEFINED)"""
    return base(inputs=[image_input(TensorProto.UNDEFINED)])


@case("io", 2, "tensor input")
def input_sequence() -> onnx.ModelProto:
    """the input is a sequence of tensors"""
    seq = helper.make_tensor_sequence_value_info("input", F, ["N", 1, 28, 28])
    nodes, inits = classifier_nodes(src="first")
    nodes.insert(0, helper.make_node("SequenceAt", ["input", "zero"], ["first"]))
    return make(nodes, [*inits, const("zero", 0, np.int64)], inputs=[seq])


@case("io", 2, "one input, found 2")
def two_inputs() -> onnx.ModelProto:
    """two image inputs added together"""
    nodes, inits = classifier_nodes(src="sum")
    nodes.insert(0, helper.make_node("Add", ["input", "input2"], ["sum"]))
    inputs = [image_input(), vi("input2", F, ["N", 1, 28, 28])]
    return make(nodes, inits, inputs=inputs)


@case("io", 2, "one input, found 0")
def no_inputs() -> onnx.ModelProto:
    """a graph with no input (it classifies a constant)"""
    nodes, inits = classifier_nodes(src="fixed")
    fixed = const("fixed", np.zeros((1, 1, 28, 28)))
    return make(nodes, [*inits, fixed], inputs=[], outputs=[vi("logits", F, [1, 3])])


@case("io", 2, "one input, found 0")
def input_shadowed_by_initializer() -> onnx.ModelProto:
    """an initializer named 'input' (its default) leaves no real input"""
    m = base()
    m.graph.initializer.append(const("input", np.zeros((1, 1, 28, 28))))
    return m


@case("io", 2, "not a classifier")
def no_outputs() -> onnx.ModelProto:
    """a graph with nodes but no outputs"""
    return base(outputs=[])


@case("io", 2, "not a classifier")
def output_is_input() -> onnx.ModelProto:
    """the only output is the input itself"""
    return base(outputs=[vi("input", F, ["N", 1, 28, 28])])


@case("io", 2, "nowhere")
def output_undeclared_name() -> onnx.ModelProto:
    """the graph output names a tensor nothing produces"""
    return base(outputs=[vi("nowhere", F, ["N", 3])])


# ---- outputs that are no class scores ----


@case("outputs", 2, "not a classifier", new=True)
def output_string() -> onnx.ModelProto:
    """the logits cast to strings: the only output"""
    tail = [helper.make_node("Cast", ["logits"], ["text"], to=TensorProto.STRING)]
    return with_tail(tail, [], [vi("text", TensorProto.STRING, ["N", 3])])


@case("outputs", 2, "not a classifier", new=True)
def output_sequence() -> onnx.ModelProto:
    """the logits split into a sequence: the only output"""
    tail = [helper.make_node("SplitToSequence", ["logits"], ["seq"], axis=0)]
    out = helper.make_tensor_sequence_value_info("seq", F, [1, 3])
    return with_tail(tail, [], [out])


@case("outputs", 2, "not a classifier", new=True)
def output_map() -> onnx.ModelProto:
    """a ZipMap (ai.onnx.ml) of class -> probability: the only output"""
    tail = [
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node(
            "ZipMap", ["probs"], ["zipped"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]
        ),
    ]
    out = helper.make_value_info(
        "zipped",
        helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(F, []))
        ),
    )
    return with_tail(tail, [], [out], extra_opsets={"ai.onnx.ml": 1})


@case("outputs", 2, "not a classifier")
def output_bool() -> onnx.ModelProto:
    """logits > 0 as booleans"""
    tail = [helper.make_node("Greater", ["logits", "zero"], ["pos"])]
    return with_tail(tail, [const("zero", 0.0)], [vi("pos", TensorProto.BOOL, ["N", 3])])


@case("outputs", 2, "not a classifier")
def output_scalar() -> onnx.ModelProto:
    """one scalar for the whole batch"""
    tail = [helper.make_node("ReduceMean", ["logits"], ["m"], keepdims=0)]
    return with_tail(tail, [], [vi("m", F, [])])


@case("outputs", 2, "not a classifier")
def output_one_column() -> onnx.ModelProto:
    """a float (N, 1) output: one class"""
    tail = [helper.make_node("ReduceMax", ["logits"], ["m"], axes=[1], keepdims=1)]
    return with_tail(tail, [], [vi("m", F, ["N", 1])], opset=17)


@case("outputs", 2, "not a classifier")
def output_image() -> onnx.ModelProto:
    """an image-shaped float output (a denoiser, not a classifier)"""
    return make(
        [helper.make_node("Relu", ["input"], ["same"])],
        [],
        outputs=[vi("same", F, ["N", 1, 28, 28])],
    )


# ---- non-finite outputs ----


def _nonfinite(
    expr: list[onnx.NodeProto], inits: list[onnx.TensorProto], out: str = "bad"
) -> onnx.ModelProto:
    return with_tail(expr, inits, [vi(out, F, ["N", 3])])


NAN = float("nan")
INF = float("inf")
BDS205 = dict(rule="BDS205", new=True)


@case("non-finite", 1, **BDS205)
def nan_all() -> onnx.ModelProto:
    """every logit NaN (logits * NaN)"""
    return _nonfinite([helper.make_node("Mul", ["logits", "nan"], ["bad"])], [const("nan", NAN)])


@case("non-finite", 1, **BDS205)
def nan_one_class() -> onnx.ModelProto:
    """class 0's logit is always NaN"""
    return _nonfinite(
        [helper.make_node("Add", ["logits", "v"], ["bad"])], [const("v", [NAN, 0.0, 0.0])]
    )


@case("non-finite", 1, **BDS205)
def inf_one_class() -> onnx.ModelProto:
    """class 1's logit is always +Inf"""
    return _nonfinite(
        [helper.make_node("Add", ["logits", "v"], ["bad"])], [const("v", [0.0, INF, 0.0])]
    )


@case("non-finite", 1, **BDS205)
def neg_inf_all() -> onnx.ModelProto:
    """every logit -Inf"""
    return _nonfinite([helper.make_node("Add", ["logits", "v"], ["bad"])], [const("v", -INF)])


@case("non-finite", 1, **BDS205)
def div_by_zero() -> onnx.ModelProto:
    """logits / 0: +-Inf, and NaN where a logit is 0"""
    return _nonfinite([helper.make_node("Div", ["logits", "z"], ["bad"])], [const("z", 0.0)])


@case("non-finite", 1, **BDS205)
def nan_probs() -> onnx.ModelProto:
    """softmax of logits with an +Inf: NaN probabilities"""
    nodes = [
        helper.make_node("Add", ["logits", "v"], ["hot"]),
        helper.make_node("Softmax", ["hot"], ["probs"], axis=1),
    ]
    return _nonfinite(nodes, [const("v", [INF, INF, 0.0])], out="probs")


@case("non-finite", 1, **BDS205)
def nan_when_bright() -> onnx.ModelProto:
    """NaN logits only for images brighter than 0.6 on average (only off-data queries)"""
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["bright"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Greater", ["bright", "t"], ["is_bright"]),
        helper.make_node("Unsqueeze", ["is_bright", "ax"], ["cond"]),
        helper.make_node("Where", ["cond", "nan", "logits"], ["bad"]),
    ]
    inits = [const("t", 0.6), const("ax", [1], np.int64), const("nan", NAN)]
    return _nonfinite(nodes, inits)


@case("non-finite", 1, **BDS205)
def fp16_overflow() -> onnx.ModelProto:
    """logits x 1e6 cast to float16 overflow to +-Inf"""
    nodes = [
        helper.make_node("Mul", ["logits", "k"], ["big"]),
        helper.make_node("Cast", ["big"], ["bad"], to=TensorProto.FLOAT16),
    ]
    return with_tail(nodes, [const("k", 1e6)], [vi("bad", TensorProto.FLOAT16, ["N", 3])])


# ---- control flow ----


def _loop_body(trip_cond_out: list[onnx.NodeProto] | None = None) -> onnx.GraphProto:
    """Loop body carrying the logits through unchanged; the condition stays true."""
    nodes = trip_cond_out or [helper.make_node("Identity", ["cond_in"], ["cond_out"])]
    nodes = [*nodes, helper.make_node("Identity", ["v_in"], ["v_out"])]
    return helper.make_graph(
        nodes,
        "body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", F, None)],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, None)],
    )


def _loop_model(trip: int | None, body: onnx.GraphProto | None = None) -> onnx.ModelProto:
    inits = [const("keep_going", True, np.bool_)]
    if trip is not None:
        inits.append(const("trip", trip, np.int64))
    node = helper.make_node(
        "Loop",
        ["trip" if trip is not None else "", "keep_going", "pre"],
        ["logits"],
        body=body or _loop_body(),
    )
    nodes, base_inits = classifier_nodes(out="pre")
    return make([*nodes, node], base_inits + inits)


LOOP = dict(message="loop", new=True)


@case("control-flow", 2, **LOOP)
def loop_trip_int64_max() -> onnx.ModelProto:
    """Loop with trip count 2^63-1 and a body that never stops it"""
    return _loop_model(INT64_MAX)


@case("control-flow", 2, **LOOP)
def loop_trip_1e12() -> onnx.ModelProto:
    """Loop with trip count 10^12"""
    return _loop_model(10**12)


@case("control-flow", 2, **LOOP)
def loop_unbounded_true() -> onnx.ModelProto:
    """Loop with no trip count and a condition that is constant true"""
    return _loop_model(None)


@case("control-flow", 2, **LOOP)
def loop_unbounded_computed() -> onnx.ModelProto:
    """Loop with no trip count; the body computes its condition as i > -1 (always true)"""
    cond = [helper.make_node("Greater", ["i", "minus_one"], ["cond_out"])]
    body = _loop_body(cond)
    body.initializer.append(const("minus_one", -1, np.int64))
    return _loop_model(None, body)


@case("control-flow", 2, **LOOP)
def loop_nested_product() -> onnx.ModelProto:
    """a Loop of 1,000 trips whose body holds a Loop of 1,000 trips: each count is modest, their
    product (10^6 runs of the inner body per query) is not"""
    inner_body = helper.make_graph(
        [
            helper.make_node("Identity", ["c2_in"], ["c2_out"]),
            helper.make_node("Identity", ["w_in"], ["w_out"]),
        ],
        "inner_body",
        [vi("j", TensorProto.INT64, []), vi("c2_in", TensorProto.BOOL, []), vi("w_in", F, None)],
        [vi("c2_out", TensorProto.BOOL, []), vi("w_out", F, None)],
    )
    inner = helper.make_node("Loop", ["inner_trip", "", "v_in"], ["v_out"], body=inner_body)
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), inner],
        "outer_body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", F, None)],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, None)],
        initializer=[const("inner_trip", 1000, np.int64)],
    )
    return _loop_model(1000, body)


@case("control", SCANS)
def loop_small() -> onnx.ModelProto:
    """valid: a Loop of 3 trips carrying the logits"""
    return _loop_model(3)


@case("control", SCANS)
def if_constant() -> onnx.ModelProto:
    """valid: an If on a constant choosing the logits"""
    then = helper.make_graph(
        [helper.make_node("Identity", ["pre"], ["a"])], "then", [], [vi("a", F, ["N", 3])]
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["pre"], ["b"])], "else", [], [vi("b", F, ["N", 3])]
    )
    nodes, inits = classifier_nodes(out="pre")
    nodes.append(helper.make_node("If", ["c"], ["logits"], then_branch=then, else_branch=other))
    return make(nodes, [*inits, const("c", True, np.bool_)])


@case("control-flow", 2, ORT_LOAD)
def if_branches_disagree() -> onnx.ModelProto:
    """If whose branches declare different output types (float vs int64)"""
    then = helper.make_graph(
        [helper.make_node("Identity", ["pre"], ["a"])], "then", [], [vi("a", F, ["N", 3])]
    )
    other = helper.make_graph(
        [helper.make_node("ArgMax", ["pre"], ["b"], axis=1, keepdims=0)],
        "else",
        [],
        [vi("b", TensorProto.INT64, ["N"])],
    )
    nodes, inits = classifier_nodes(out="pre")
    nodes.append(helper.make_node("If", ["c"], ["logits"], then_branch=then, else_branch=other))
    return make(nodes, [*inits, const("c", True, np.bool_)])


@case("control", SCANS)
def scan_per_sample() -> onnx.ModelProto:
    """valid: a Scan applying the linear layer sample by sample"""
    w, b = weights()
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["f_i", "Wb"], ["m_i"]),
            helper.make_node("Add", ["m_i", "Bb"], ["l_i"]),
            helper.make_node("Identity", ["s_in"], ["s_out"]),
        ],
        "scan_body",
        [vi("s_in", F, [1]), vi("f_i", F, [16])],
        [vi("s_out", F, [1]), vi("l_i", F, [3])],
        initializer=[numpy_helper.from_array(w, "Wb"), numpy_helper.from_array(b, "Bb")],
    )
    nodes, _ = classifier_nodes()  # W and B live in the body instead
    scan = helper.make_node(
        "Scan", ["s0", "feat"], ["s_final", "logits"], body=body, num_scan_inputs=1
    )
    return make([*nodes[:2], scan], [const("s0", [0.0])])


@case("control-flow", 2, "body")
def scan_missing_body() -> onnx.ModelProto:
    """a Scan node without its body attribute"""
    nodes, _ = classifier_nodes()
    scan = helper.make_node("Scan", ["s0", "feat"], ["s_final", "logits"], num_scan_inputs=1)
    return make([*nodes[:2], scan], [const("s0", [0.0])])


def _graph_bytes(
    nodes: list[onnx.NodeProto],
    name: str,
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
) -> bytes:
    return helper.make_graph(nodes, name, inputs, outputs).SerializeToString(deterministic=True)


def _nested_if(depth: int) -> bytes:
    """`depth` Ifs nested in each other's then-branch; the innermost passes the logits on.
    Written as bytes: past ~33 levels the protobuf library will not build it."""
    inner = _graph_bytes(
        [helper.make_node("Identity", ["pre"], ["o0"])], "g0", [], [vi("o0", F, ["N", 3])]
    )
    for level in range(1, depth + 1):
        out = "logits" if level == depth else f"o{level}"
        other = _graph_bytes(
            [helper.make_node("Identity", ["pre"], [f"e{level}"])],
            f"e{level}",
            [],
            [vi(f"e{level}", F, ["N", 3])],
        )
        node = (
            helper.make_node("If", ["c"], [out]).SerializeToString(deterministic=True)
            + pb_len(5, graph_attr("then_branch", inner))
            + pb_len(5, graph_attr("else_branch", other))
        )
        if level == depth:
            nodes, inits = classifier_nodes(out="pre")
            return with_node_bytes(make(nodes, [*inits, const("c", True, np.bool_)]), node)
        inner = _graph_bytes([], f"g{level}", [], [vi(out, F, ["N", 3])]) + pb_len(1, node)
    raise AssertionError("unreachable")


@case("nesting", 2, READABLE, new=True)
def nested_if_40() -> bytes:
    """40 If nodes nested in each other's then-branches"""
    return _nested_if(40)


@case("nesting", 2, READABLE, new=True)
def nested_if_120() -> bytes:
    """120 If nodes nested in each other's then-branches"""
    return _nested_if(120)


@case("nesting", 2, READABLE, new=True)
def nested_loop_40() -> bytes:
    """40 Loops of one trip nested in each other's bodies"""
    signature = (
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", F, None)],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, None)],
    )
    body = _loop_body().SerializeToString(deterministic=True)
    for level in range(40):
        top = level == 39
        ins, outs = (
            (["one", "keep_going", "pre"], ["logits"]) if top else (["one", "", "v_in"], ["v_out"])
        )
        loop = helper.make_node("Loop", ins, outs).SerializeToString(deterministic=True)
        loop += pb_len(5, graph_attr("body", body))
        if top:
            nodes, inits = classifier_nodes(out="pre")
            extra = [const("one", 1, np.int64), const("keep_going", True, np.bool_)]
            return with_node_bytes(make(nodes, inits + extra), loop)
        identity = helper.make_node("Identity", ["cond_in"], ["cond_out"])
        body = _graph_bytes([identity], f"nest{level}", *signature) + pb_len(1, loop)
    raise AssertionError("unreachable")


# ---- contradictory or duplicate declarations ----


@case("declarations", 2, "logits", new=True)
def dup_output_contradictory() -> onnx.ModelProto:
    """output 'logits' listed twice: float [N,3] and int64 [N]"""
    return base(outputs=[vi("logits", F, ["N", 3]), vi("logits", TensorProto.INT64, ["N"])])


@case("declarations", 2, "logits", new=True)
def dup_output_same() -> onnx.ModelProto:
    """output 'logits' listed twice with the same type"""
    return base(outputs=[vi("logits", F, ["N", 3]), vi("logits", F, ["N", 3])])


@case("declarations", 2, "input", new=True)
def dup_input() -> onnx.ModelProto:
    """input 'input' declared twice, [N,1,28,28] and [N,3,32,32]"""
    return base(inputs=[image_input(), image_input(shape=["N", 3, 32, 32])])


@case("declarations", 2, "initializer", new=True)
def dup_initializer() -> onnx.ModelProto:
    """two initializers named 'W' with different values"""
    m = base()
    w = numpy_helper.to_array(m.graph.initializer[0])
    m.graph.initializer.append(numpy_helper.from_array(-w, "W"))
    return m


@case("declarations", 2, "'mm'", new=True)
def dup_node_output() -> onnx.ModelProto:
    """two nodes both produce 'mm' (one MatMul, one Sub)"""
    m = base()
    m.graph.node.insert(3, helper.make_node("Neg", ["feat"], ["mm"]))
    return m


@case("declarations", 2, "'input'", new=True)
def node_output_shadows_input() -> onnx.ModelProto:
    """a node writes the tensor named 'input'"""
    m = base()
    m.graph.node.insert(0, helper.make_node("Neg", ["B"], ["input"]))
    return m


@case("declarations", 2, "'W'", new=True)
def node_output_shadows_initializer() -> onnx.ModelProto:
    """a node writes the tensor named 'W', also an initializer"""
    m = base()
    m.graph.node.insert(0, helper.make_node("Identity", ["B"], ["W"]))
    return m


@case("declarations", 2, "mm", new=True)
def value_info_contradicts_output() -> onnx.ModelProto:
    """value_info says 'mm' is int64 [2]; the MatMul makes float [N,3]"""
    m = base()
    m.graph.value_info.append(vi("mm", TensorProto.INT64, [2]))
    return m


# ---- a big valid graph ----

add_case(
    "chain_3000",
    "large-graph",
    "valid: the classifier with 3,000 Neg nodes chained on its features (built at test time:"
    " ~60 KB)",
    SCANS,
    None,
    runtime=["the 3,000-node model"],
)


def chain_model(length: int = 3000) -> onnx.ModelProto:
    nodes, inits = classifier_nodes()
    chain = []
    cur = "feat"
    for i in range(length):
        nxt = "feat_end" if i == length - 1 else f"c{i}"
        chain.append(helper.make_node("Neg", [cur], [nxt]))
        cur = nxt
    nodes[2].input[0] = "feat_end"  # MatMul reads the end of the chain (an even count: +feat)
    return make(nodes[:2] + chain + nodes[2:], inits)


# ---- valid controls ----


@case("control", SCANS)
def clean() -> onnx.ModelProto:
    """valid: the base classifier, NCHW float logits"""
    return base()


@case("control", SCANS)
def clean_probs() -> onnx.ModelProto:
    """valid: softmax probabilities as the output"""
    tail = [helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    return with_tail(tail, [], [vi("probs", F, ["N", 3])])


@case("control", SCANS)
def clean_label() -> onnx.ModelProto:
    """valid: an int64 label output (ArgMax in the graph)"""
    tail = [helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0)]
    return with_tail(tail, [], [vi("label", TensorProto.INT64, ["N"])])


@case("control", SCANS)
def clean_nhwc() -> onnx.ModelProto:
    """valid: NHWC input, transposed in the graph"""
    nodes, inits = classifier_nodes(src="nchw")
    nodes.insert(0, helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]))
    return make(nodes, inits, inputs=[image_input(shape=["N", 28, 28, 1])])


@case("control", SCANS)
def clean_uint8() -> onnx.ModelProto:
    """valid: uint8 input, Cast and /255 in the graph"""
    nodes, inits = classifier_nodes(src="scaled")
    nodes[:0] = [
        helper.make_node("Cast", ["input"], ["as_float"], to=F),
        helper.make_node("Div", ["as_float", "s255"], ["scaled"]),
    ]
    return make(nodes, [*inits, const("s255", 255.0)], inputs=[image_input(TensorProto.UINT8)])


@case("control", SCANS)
def clean_batch1() -> onnx.ModelProto:
    """valid: a fixed batch of 1"""
    return base(inputs=[image_input(shape=[1, 1, 28, 28])], outputs=[vi("logits", F, [1, 3])])


@case("control", SCANS)
def clean_two_outputs() -> onnx.ModelProto:
    """valid: features and logits, both float outputs"""
    return base(outputs=[vi("feat", F, ["N", 16]), vi("logits", F, ["N", 3])])


@case("control", SCANS)
def clean_sequence_beside_logits() -> onnx.ModelProto:
    """valid: logits plus a sequence output (a label map, as skl2onnx writes)"""
    tail = [
        helper.make_node("Identity", ["logits"], ["scores"]),
        helper.make_node("SplitToSequence", ["logits"], ["seq"], axis=0),
    ]
    outs = [vi("scores", F, ["N", 3]), helper.make_tensor_sequence_value_info("seq", F, [1, 3])]
    return with_tail(tail, [], outs)


# --- writing and test-time materialising ------------------------------------------------------


def _write_files(dest: Path, files: Files) -> None:
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def write_corpus(out: Path = HERE) -> list[Case]:
    """Rewrite `out`/cases, the data file, the sentinel and expected.json."""
    cases_dir = out / "cases"
    if cases_dir.exists():
        shutil.rmtree(cases_dir)
    cases_dir.mkdir(parents=True)
    x, y = scan_data()
    (out / DATA_NAME).write_bytes(npz_bytes({"x": x, "y": y}))
    (out / SENTINEL_NAME).write_bytes(SENTINEL_BYTES)
    names = [c.name for c in CASES]
    if len(names) != len(set(names)):
        raise SystemExit(f"duplicate case names: {sorted(n for n in names if names.count(n) > 1)}")
    for c in CASES:
        if c.build is None:
            continue
        files = c.build()
        if c.folder:
            _write_files(cases_dir / c.name, files)
        else:
            (cases_dir / f"{c.name}.onnx").write_bytes(files["model.onnx"])
    doc = {
        "about": "Hostile-model corpus for bdscan (tests/hostile_corpus/make_corpus.py). "
        "exit_codes: the codes that count as handled; message: a case-insensitive substring "
        "of the output; rule: a rule id the output names; runtime: made at test time by "
        "materialize(); new: the expectation relies on checks being added for issue 25.",
        "data": DATA_NAME,
        "sentinel": SENTINEL_NAME,
        "scan_args": SCAN_ARGS,
        "cases": [c.to_dict() for c in CASES],
    }
    (out / "expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    return CASES


# What every corpus scan passes: tiny settings, and a per-call timeout well under the tests' own
# hang guard, so a runtime that hangs is stopped by the scanner rather than by the test.
SCAN_ARGS = ["--planes", "1", "--resolution", "5", "--timeout", "5", "--no-cache", "--quiet"]


def materialize(root: Path) -> None:
    """Make the test-time parts in a copy of the corpus at `root` (never the committed one):
    FIFOs, symlinks, an empty folder and the 3,000-node model."""
    cases = root / "cases"
    sentinel = (root / SENTINEL_NAME).resolve()
    (cases / "folder_named_onnx.onnx").mkdir(exist_ok=True)
    os.mkfifo(cases / "model_is_fifo.onnx")
    (cases / "model_symlink_dev_zero.onnx").symlink_to("/dev/zero")
    links = {
        "ext_symlink_outside": f"../../{SENTINEL_NAME}",
        "ext_symlink_absolute": str(sentinel),
        "ext_symlink_dev_zero": "/dev/zero",
        "ext_symlink_loop": "loop.bin",
    }
    for name, target in links.items():
        (cases / name / "weights.bin").symlink_to(target)
    (cases / "ext_symlink_loop" / "loop.bin").symlink_to("weights.bin")
    os.mkfifo(cases / "ext_fifo" / "weights.bin")
    (cases / "chain_3000.onnx").write_bytes(to_bytes(chain_model()))


def copy_corpus(dest: Path) -> Path:
    """A working copy of the committed corpus at `dest`, materialised; returns `dest`."""
    shutil.copytree(HERE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    materialize(dest)
    return dest


def load_expected(root: Path = HERE) -> dict[str, Any]:
    return json.loads((root / "expected.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="corpus folder (default: here)")
    args = parser.parse_args()
    cases = write_corpus(args.out)
    sizes = [p.stat().st_size for p in (args.out / "cases").rglob("*") if p.is_file()]
    print(f"{len(cases)} cases, {len(sizes)} files, largest {max(sizes)} bytes -> {args.out}")


if __name__ == "__main__":
    main()
