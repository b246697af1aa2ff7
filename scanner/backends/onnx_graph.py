"""Reading an ONNX file as hostile input: parse, confine external data, check, and describe.

Nothing here runs the model. The graph rewrites a scan may need (a dynamic batch for a batch-1
export, a float entry point for a uint8 input) are also made here, on the parsed proto.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import TensorProto

from scanner.backends.graph_checks import GraphFacts, check_graph
from scanner.errors import ModelLoadError
from scanner.fileio import sha256_file

# Rewrites only pass through ops that move elements without looking at their type.
_LAYOUT_OPS = {"Transpose", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten"}
_FLOAT_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "float64",
}
_INPUT_TYPES: dict[int, str] = {**_FLOAT_TYPES, TensorProto.UINT8: "uint8"}
# A fixed batch is served as it is when it cannot be made dynamic, so one call holds that many
# images; past this many bytes per call (float32) the declared shape is refused, not allocated.
MAX_FIXED_BATCH_BYTES = 1 << 30
# One image; 4096 x 4096 x 3 is far past any classifier input and still fits in memory.
MAX_IMAGE_VALUES = 4096 * 4096 * 3


@dataclass(frozen=True)
class GraphInput:
    name: str
    dtype: str
    dims: tuple[int | None, ...]  # None: symbolic


@dataclass(frozen=True, eq=False)
class ParsedModel:
    path: Path
    proto: onnx.ModelProto  # external data loaded in
    sha256: str
    size_bytes: int
    opset: int | None
    operator_domains: tuple[str, ...]
    external_data: bool
    image_input: GraphInput
    facts: GraphFacts = field(default_factory=lambda: GraphFacts(nodes=0, control_flow=()))


def _all_tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Every tensor in the graph and its subgraphs (iterative: nesting cannot exhaust the stack)."""
    tensors: list[onnx.TensorProto] = []
    stack = [graph]
    while stack:
        g = stack.pop()
        tensors.extend(g.initializer)
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    tensors.append(attr.t)
                tensors.extend(attr.tensors)
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)
    return tensors


def external_data_paths(model: onnx.ModelProto, path: Path) -> dict[str, Path]:
    """The external data files the model references, as {location: resolved path}.

    Checked before anything opens them: every location must resolve (symlinks included) to a
    regular file inside the model's own folder. ModelLoadError otherwise, so that a hostile
    model cannot make bdscan read `../secret`, an absolute path, a device such as /dev/zero or
    a FIFO (which would block the reader forever).
    """
    base = path.parent.resolve()
    found: dict[str, Path] = {}
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        try:
            target = (base / location).resolve()
            confined = bool(location) and not Path(location).is_absolute()
            confined = confined and target.is_relative_to(base)
            exists, regular = (target.exists(), target.is_file()) if confined else (False, False)
        except (OSError, ValueError, RuntimeError) as exc:
            # NUL bytes, names too long for the file system, symlink loops: the location cannot
            # name a file bdscan would read, so it is refused like any other bad location.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ModelLoadError(
                f"{path}: external data location of tensor {tensor.name!r} is not a usable file"
                f" name ({reason}); refusing to follow it"
            ) from None
        if not confined:
            raise ModelLoadError(
                f"{path}: external data of tensor {tensor.name!r} points outside the model's"
                f" folder ({location!r}); refusing to follow it"
            )
        if not exists:
            raise ModelLoadError(
                f"{path}: external data file {location!r} of tensor {tensor.name!r} is missing"
            )
        if not regular:
            raise ModelLoadError(
                f"{path}: external data {location!r} of tensor {tensor.name!r} is not a regular"
                " file; refusing to read it"
            )
        found[location] = target
    return found


def _dims(value_info: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    shape = value_info.type.tensor_type.shape
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in shape.dim)


def parse_model(path: str | Path) -> ParsedModel:
    """Load and check an ONNX classifier without running it; ModelLoadError on anything off."""
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"{p}: no such file (expected an .onnx model)")
    if not p.is_file():
        raise ModelLoadError(f"{p}: not a regular file (expected an .onnx model)")
    size = p.stat().st_size
    if size == 0:
        raise ModelLoadError(f"{p}: empty file (expected an .onnx model)")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as e:  # the protobuf parser raises several unrelated types
        raise ModelLoadError(
            f"{p}: not a readable ONNX model (protobuf parse failed: {type(e).__name__})"
        ) from None
    if not model.graph.node:
        raise ModelLoadError(f"{p}: not an ONNX model (no graph nodes; wrong or truncated file?)")
    external = bool(external_data_paths(model, p))
    if external:
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(p.parent))
        except Exception as e:
            raise ModelLoadError(f"{p}: could not read external data ({e})") from None
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"{p}: the ONNX checker rejects the model: {first}") from None
    facts = check_graph(model, p)

    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelLoadError(
            f"{p}: expected an image classifier with one input, found {len(inputs)} inputs"
            f" ({', '.join(i.name for i in inputs) or 'none'})"
        )
    vi = inputs[0]
    if not vi.type.HasField("tensor_type"):
        raise ModelLoadError(f"{p}: expected a tensor input, got {vi.type.WhichOneof('value')}")
    elem = vi.type.tensor_type.elem_type
    if elem not in _INPUT_TYPES:
        raise ModelLoadError(
            f"{p}: expected a float or uint8 image input, got"
            f" {TensorProto.DataType.Name(elem).lower()}"
        )
    dims = _dims(vi)
    if len(dims) not in (2, 3, 4):
        raise ModelLoadError(
            f"{p}: expected an image input of rank 4 (NCHW/NHWC), 3 (NHW) or 2 (flat),"
            f" got rank {len(dims)}"
        )
    _check_input_size(p, dims)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    domains = sorted({n.domain or "ai.onnx" for n in model.graph.node})
    return ParsedModel(
        path=p,
        proto=model,
        sha256=sha256_file(p),
        size_bytes=size,
        opset=opset,
        operator_domains=tuple(domains),
        external_data=external,
        image_input=GraphInput(vi.name, _INPUT_TYPES[elem], dims),
        facts=facts,
    )


def _check_input_size(path: Path, dims: tuple[int | None, ...]) -> None:
    """Refuse declared shapes no scan could allocate, before anything allocates them."""
    image = 1
    for d in dims[1:]:
        image *= d if d else 1
    if image > MAX_IMAGE_VALUES:
        raise ModelLoadError(
            f"{path}: input shape {list(dims)} declares {image:,} values per image; bdscan"
            f" accepts at most {MAX_IMAGE_VALUES:,}"
        )
    batch = dims[0]
    if batch and batch * image * 4 > MAX_FIXED_BATCH_BYTES:
        raise ModelLoadError(
            f"{path}: input has a fixed batch of {batch:,} images ({batch * image * 4 / 2**30:,.1f}"
            f" GiB per call as float32); bdscan accepts a fixed batch of at most"
            f" {MAX_FIXED_BATCH_BYTES >> 20:,} MiB per call (export with a dynamic batch)"
        )


def with_dynamic_batch(model: onnx.ModelProto, fixed: int) -> onnx.ModelProto:
    """A copy whose input and batch-sized outputs take any batch size (checked by the caller)."""
    m = copy.deepcopy(model)
    initializers = {t.name for t in m.graph.initializer}
    for vi in list(m.graph.input) + list(m.graph.output):
        if vi.name in initializers:
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and dims[0].HasField("dim_value") and dims[0].dim_value == fixed:
            dims[0].dim_param = "bdscan_batch"
    # Inferred intermediate shapes would still say `fixed`.
    del m.graph.value_info[:]
    return m


def uint8_bypass(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str] | None:
    """Make a uint8 input float when it only feeds Cast-to-float (through layout ops).

    The graph's own Cast then becomes a float-to-float no-op, so the detector can query points
    between and beyond integer pixel values while the graph's normalisation stays in place.
    Returns (model, float dtype name), or None when the input is used any other way.
    """
    graph = model.graph
    input_name = next(
        i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}
    )
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    cast_to: set[int] = set()
    frontier = [input_name]
    seen: set[str] = set()
    while frontier:
        tensor = frontier.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        users = consumers.get(tensor, [])
        if not users or any(o.name == tensor for o in graph.output):
            return None
        for node in users:
            if node.op_type == "Cast":
                to = next((a.i for a in node.attribute if a.name == "to"), None)
                if to not in _FLOAT_TYPES:
                    return None
                cast_to.add(to)
            elif node.op_type in _LAYOUT_OPS and node.input[0] == tensor:
                frontier.extend(node.output)
            else:
                return None
    if len(cast_to) != 1:
        return None
    (to,) = cast_to
    m = copy.deepcopy(model)
    for vi in m.graph.input:
        if vi.name == input_name:
            vi.type.tensor_type.elem_type = to
    del m.graph.value_info[:]
    return m, _FLOAT_TYPES[to]
