"""ONNX -> PyTorch: onnx2torch, the fixes this project needs, an exactness check.

`convert_model` returns the whole graph as a torch module (the original signature, pre- and
post-processing included, for re-export) and an `ImageModel` view of it that maps [0, 1] NHWC
images to float class scores (for attacks and fine-tuning). Both share one set of weights.

Fixes applied on top of onnx2torch 1.5.15, each for a failure seen on real exports:
- its import pulls in torchvision (only for NMS and RoiAlign), which does not load beside the CPU
  torch wheel: a stub stands in for torchvision during that one import;
- it has no converters for the opset >= 18 forms torch's exporters emit (ReduceMean with axes as
  an input, Reshape-19 with allowzero=1, and type-only revisions such as Cast-19): registered here
  through its own `add_converter` extension point;
- the legacy exporter deduplicates equal-valued weights into Identity nodes, which its Conv
  converter rejects: a graph pre-pass turns them back into separate initializers;
- weights that onnx2torch keeps as buffers (MatMul operands, biases and folded BatchNorm affine
  terms applied by Add/Mul) are promoted to nn.Parameters so that fine-tuning reaches them.
The converted model must reproduce onnxruntime's outputs on real inputs, or conversion stops.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from scanner.backends.base import Layout, arrange
from scanner.backends.onnx_graph import parse_model
from scanner.backends.onnxruntime import run_in_worker
from scanner.bridge.compare import output_mismatch
from scanner.data import normalise
from scanner.errors import DataError, ModelLoadError, ModelRuntimeError

ScoreKind = Literal["logits", "softmax_input", "log_probabilities", "probabilities"]

# The exactness bar before any training (issue 4): float outputs within this absolute tolerance.
DEFAULT_ATOL = 1e-4
# Weight ops whose float constant operands (beyond the data input) are learned parameters.
_WEIGHT_OPS = {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization",
    "InstanceNormalization", "LayerNormalization", "PRelu",
}  # fmt: skip
# Ops that only reshape or re-type a weight on its way to a weight op (e.g. Transpose(W)).
_WEIGHT_PASSTHROUGH = {"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity"}
# Affine ops after a learned layer: a float constant operand there is a bias or a folded BN term.
# Div is left out on purpose: a trainable divisor can cross zero.
_AFFINE_OPS = {"Add", "Sub", "Mul"}
_TYPE_NAMES: dict[int, str] = {
    TensorProto.FLOAT: "float32", TensorProto.UINT8: "uint8", TensorProto.INT64: "int64",
    TensorProto.INT32: "int32", TensorProto.DOUBLE: "float64", TensorProto.FLOAT16: "float16",
    TensorProto.BOOL: "bool", TensorProto.INT8: "int8",
}  # fmt: skip
_FLOAT_ELEMS = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16}


# --------------------------------------------------------------------------------------------
# Importing onnx2torch


def _torchvision_stub() -> types.ModuleType:
    """A stand-in exposing the names onnx2torch binds at import time (ops.nms, ops.roi_align...).

    Classifiers have no NMS or RoiAlign node, so the stubs only ever raise, naming the reason.
    """

    def _unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError(
            "torchvision ops (NMS, RoiAlign) are not available to bdscan's converter"
        )

    root = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    for name in ("nms", "roi_align", "box_convert", "batched_nms"):
        setattr(ops, name, _unavailable)
    root.ops = ops  # type: ignore[attr-defined]
    root.__bdscan_stub__ = True  # type: ignore[attr-defined]
    return root


@functools.cache
def onnx2torch_module() -> types.ModuleType:
    """Import onnx2torch once, without torchvision, and register this project's converters.

    PyPI's torchvision wheel fails to load beside the CPU torch wheel (its compiled ops do not
    match), and onnx2torch imports it at module level only for two detection ops. The stub lives
    in sys.modules just for the import, so nothing else in the process mistakes it for the real
    package (torch.onnx, for one, probes for torchvision).
    """
    installed: dict[str, types.ModuleType] = {}
    if "torchvision" not in sys.modules:
        stub = _torchvision_stub()
        installed = {"torchvision": stub, "torchvision.ops": stub.ops}
        sys.modules.update(installed)
    try:
        import onnx2torch
        import onnx2torch.node_converters
    except ImportError as e:
        raise ModelLoadError(
            f"remediation needs onnx2torch ({e}): pip install --no-deps onnx2torch==1.5.15"
        ) from None
    finally:
        for name, module in installed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    from scanner.bridge import _converters

    _converters.register()
    return onnx2torch


# --------------------------------------------------------------------------------------------
# Signature


@dataclass(frozen=True)
class TensorSig:
    """One graph input or output: name, ONNX element type and dims (int, symbol name or None)."""

    name: str
    elem_type: int
    dims: tuple[int | str | None, ...]

    @property
    def dtype(self) -> str:
        return _TYPE_NAMES.get(self.elem_type, TensorProto.DataType.Name(self.elem_type).lower())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}


@dataclass(frozen=True)
class GraphSignature:
    """What a deployment sees of a model: inputs and outputs, in order."""

    inputs: tuple[TensorSig, ...]
    outputs: tuple[TensorSig, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @property
    def batch(self) -> int | None:
        """The input's fixed batch size, or None for a dynamic (symbolic or unknown) batch dim."""
        first = self.inputs[0].dims[0] if self.inputs[0].dims else None
        return first if isinstance(first, int) and first > 0 else None


def _tensor_sig(vi: onnx.ValueInfoProto) -> TensorSig:
    tt = vi.type.tensor_type
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return TensorSig(vi.name, int(tt.elem_type), tuple(dims))


def graph_signature(model: onnx.ModelProto) -> GraphSignature:
    initializers = {t.name for t in model.graph.initializer}
    inputs = tuple(_tensor_sig(i) for i in model.graph.input if i.name not in initializers)
    return GraphSignature(inputs, tuple(_tensor_sig(o) for o in model.graph.output))


# --------------------------------------------------------------------------------------------
# Graph pre-pass


def _constant_to_array(node: onnx.NodeProto) -> np.ndarray | None:
    attr = node.attribute[0] if len(node.attribute) == 1 else None
    if attr is None:
        return None
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    scalars: dict[str, Callable[[onnx.AttributeProto], np.ndarray]] = {
        "value_float": lambda a: np.asarray(a.f, dtype=np.float32),
        "value_floats": lambda a: np.asarray(list(a.floats), dtype=np.float32),
        "value_int": lambda a: np.asarray(a.i, dtype=np.int64),
        "value_ints": lambda a: np.asarray(list(a.ints), dtype=np.int64),
    }
    fn = scalars.get(attr.name)
    return fn(attr) if fn else None


def prepare_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` that onnx2torch can convert, with the same function.

    - Constant nodes become initializers: onnx2torch's Conv/Gemm converters read weights from
      initializers only, and some exporters emit weights as Constant nodes.
    - Identity(initializer) becomes a copy of that initializer under the Identity's output name.
      The legacy exporter merges weights that happen to be equal (e.g. two layers that were
      initialised alike) into one initializer and Identity nodes; they were separate parameters
      in training, so they become separate parameters again rather than tied ones.
    - Reshape with allowzero=1 below opset 19 (where onnx2torch rejects it) loses the flag when
      its shape is a constant with no zero, the only case where the flag has an effect.
    """
    m = copy.deepcopy(model)
    g = m.graph
    outputs = {o.name for o in g.output}
    inits = {t.name: t for t in g.initializer}
    keep: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            arr = _constant_to_array(node)
            if arr is not None and node.output[0] not in outputs:
                t = numpy_helper.from_array(arr, name=node.output[0])
                g.initializer.append(t)
                inits[t.name] = t
                continue
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            t = copy.deepcopy(inits[node.input[0]])
            t.name = node.output[0]
            g.initializer.append(t)
            inits[t.name] = t
            continue
        keep.append(node)
    del g.node[:]
    g.node.extend(keep)

    opset = _default_opset(m)
    for node in g.node:
        if node.op_type != "Reshape" or opset >= 19 or len(node.input) < 2:
            continue
        for attr in node.attribute:
            if attr.name == "allowzero" and attr.i == 1 and node.input[1] in inits:
                shape = numpy_helper.to_array(inits[node.input[1]])
                if not (shape == 0).any():
                    attr.i = 0
    # Initializers listed as graph inputs (old exporters) are constants, not inputs.
    init_names = set(inits)
    real_inputs = [i for i in g.input if i.name not in init_names]
    del g.input[:]
    g.input.extend(real_inputs)
    return m


FOLD_PREFIX = "__bdscan_fold_"


def fold_run_time_reshapes(
    model: onnx.ModelProto, x_in: np.ndarray, where: str
) -> tuple[onnx.ModelProto, int]:
    """(model, how many Reshapes were folded): every Reshape whose target shape the graph
    computes at run time (Shape -> Slice -> Concat, as the legacy exporter writes for
    `flatten` and `unflatten` in attention blocks) gets that shape as a constant, read off the
    graph itself at batch 1 and 2 in the worker: unchanged at both, the shape as it is; moving
    with the batch in its first entry only (and the input's first dim the batch), a 0 there,
    which ONNX reads as "copy the input's first dim".

    Why: converted back to torch and exported again, such chains can reach the TorchScript
    exporter as a Shape of a tensor whose trace shape it believes static, and it bakes in the
    example's batch of 1; the repaired file then fails at any other batch. A constant with a
    0 keeps the batch dynamic. Reshapes whose shape varies any other way are left alone."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    targets = [
        (i, n)
        for i, n in enumerate(g.node)
        if n.op_type == "Reshape"
        and len(n.input) > 1
        and n.input[1] not in inits
        and not any(a.name == "allowzero" and a.i == 1 for a in n.attribute)
    ]
    if not targets:
        return model, 0
    probe = copy.deepcopy(model)
    del probe.graph.output[:]
    names = []
    for k, (_, node) in enumerate(targets):
        data_shape = f"{FOLD_PREFIX}in{k}"
        probe.graph.node.append(helper.make_node("Shape", [node.input[0]], [data_shape]))
        for name in (node.input[1], data_shape):
            probe.graph.output.append(
                helper.make_tensor_value_info(name, TensorProto.INT64, [None])
            )
            names.append(name)
    one = np.ascontiguousarray(x_in[:1])
    two = np.ascontiguousarray(np.concatenate([one, x_in[1:2] if len(x_in) > 1 else one]))
    try:
        at1 = run_in_worker(probe, one, source=where, per_sample=False)
        at2 = run_in_worker(probe, two, source=where, per_sample=False)
    except ModelRuntimeError:
        return model, 0  # the conversion check that follows reports what is wrong
    folded = copy.deepcopy(model)
    count = 0
    for k, (index, _) in enumerate(targets):
        s1, d1 = (np.asarray(v, dtype=np.int64) for v in at1[2 * k : 2 * k + 2])
        s2, d2 = (np.asarray(v, dtype=np.int64) for v in at2[2 * k : 2 * k + 2])
        if s1.shape != s2.shape or s1.ndim != 1 or not len(s1):
            continue
        if np.array_equal(s1, s2):
            shape = s1
        elif (
            np.array_equal(s1[1:], s2[1:])
            and (s1[0], s2[0]) == (1, 2)
            and len(d1)
            and (d1[0], d2[0]) == (1, 2)
        ):
            shape = np.concatenate([[0], s1[1:]]).astype(np.int64)
        else:
            continue
        const = f"{FOLD_PREFIX}shape{k}"
        folded.graph.initializer.append(numpy_helper.from_array(shape, name=const))
        folded.graph.node[index].input[1] = const
        count += 1
    return _drop_dead_nodes(folded), count


def _drop_dead_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove nodes no graph output depends on (the shape chains folding left unused)."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep: list[onnx.NodeProto] = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    if len(keep) == len(g.node):
        return model
    del g.node[:]
    g.node.extend(reversed(keep))
    used = needed
    kept_inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    return model


def layer_norm_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose LayerNormalization inputs have the value_info onnx2torch reads the
    normalized shape from. The legacy exporter writes no value_info; onnx2torch then builds
    nn.LayerNorm with an empty shape and fails. ONNX shape inference gives the shape where it
    can; else the scale initializer's dims (the normalized shape, by the ONNX spec) with
    symbolic leading dims. Only for onnx2torch: a made-up rank is no graph to run."""
    if not any(n.op_type == "LayerNormalization" for n in model.graph.node):
        return model
    try:
        m = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is a help here, never a requirement
        m = copy.deepcopy(model)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    known = {vi.name: vi for vi in [*g.value_info, *g.input, *g.output]}
    for node in g.node:
        if node.op_type != "LayerNormalization" or len(node.input) < 2:
            continue
        scale = inits.get(node.input[1])
        if scale is None:
            continue
        have = known.get(node.input[0])
        dims = list(have.type.tensor_type.shape.dim) if have is not None else []
        if dims and all(d.HasField("dim_value") for d in dims[-len(scale.dims) :]):
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        lead = axis if axis >= 0 else max(1, -axis - len(scale.dims) + 1)
        shape: list[int | str] = [f"ln_dim{k}" for k in range(lead)] + list(scale.dims)
        if have is not None and have in g.value_info:
            g.value_info.remove(have)
        vi = helper.make_tensor_value_info(node.input[0], scale.data_type, shape)
        g.value_info.append(vi)
        known[vi.name] = vi
    return m


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def trainable_initializers(model: onnx.ModelProto) -> set[str]:
    """Names of float initializers that are learned weights rather than fixed constants.

    A constant is a weight when it feeds a weight op (Conv, Gemm, MatMul, norms, PRelu) in a
    weight slot, or when it is added to / multiplied with an activation downstream of a learned
    layer (biases, BatchNorm folded into scale and shift). Constants applied before the first
    learned layer are the graph's preprocessing (mean, std, 1/255) and stay fixed, as do scalars.
    """
    g = model.graph
    inits = {t.name: t for t in g.initializer}

    def is_float_weight(name: str) -> bool:
        t = inits.get(name)
        return t is not None and t.data_type in _FLOAT_ELEMS and int(np.prod(t.dims)) > 1

    # Values that are a weight seen through reshapes: value -> its root initializers.
    roots: dict[str, set[str]] = {n: {n} for n in inits if is_float_weight(n)}
    trainable: set[str] = set()
    learned: set[str] = set()  # activations downstream of a learned layer
    for node in g.node:
        ins = [i for i in node.input if i]
        if (
            node.op_type in _WEIGHT_PASSTHROUGH
            and ins
            and ins[0] in roots
            and all(i in roots or i in inits for i in ins)
        ):
            for o in node.output:
                roots[o] = set(roots[ins[0]])
            continue
        found_weight = False
        if node.op_type in _WEIGHT_OPS:
            slots = list(node.input[1:])
            if node.op_type == "BatchNormalization":
                slots = slots[:2]  # scale and bias; running mean/var are statistics
            if node.op_type == "MatMul" and node.input[0] in roots:
                slots = [node.input[0]]  # W @ x
            for s in slots:
                if s in roots:
                    trainable |= roots[s]
                    found_weight = True
        elif node.op_type in _AFFINE_OPS and len(ins) == 2:
            a, b = ins
            for const, act in ((a, b), (b, a)):
                if const in roots and act in learned:
                    trainable |= roots[const]
        if found_weight or any(i in learned for i in ins):
            learned.update(node.output)
    return trainable


# --------------------------------------------------------------------------------------------
# Conversion result


@dataclass(frozen=True)
class ConversionCheck:
    """How closely the converted model reproduces onnxruntime before any training."""

    samples: int
    atol: float
    max_abs_diff: dict[str, float]
    batch_mode: Literal["native", "vmap"]
    score_output: str
    score_kind: ScoreKind
    layout: Layout
    trainable_tensors: int
    promoted_buffers: int
    folded_reshapes: int = 0  # run-time Reshape shapes made constants (fold_run_time_reshapes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class ConvertedModel:
    """A converted classifier.

    `full` maps the graph's own input (its dtype and layout) to all graph outputs as a tuple, in
    the original order: it is what gets exported. `image_model` maps float [0, 1] NHWC images to
    float class scores (logits, or log-probabilities when the graph only outputs probabilities)
    and shares `full`'s weights: it is what gets attacked and fine-tuned.
    """

    full: Any  # torch.nn.Module
    image_model: Any  # ImageModel
    signature: GraphSignature
    source: onnx.ModelProto
    check: ConversionCheck
    num_classes: int
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None


def infer_layout(dims: Sequence[int | str | None], hwc: tuple[int, int, int]) -> Layout:
    """Which layout an input of `dims` has for images of (H, W, C); DataError when none fits."""
    h, w, c = hwc

    def fits(actual: Sequence[int | str | None], want: Sequence[int]) -> bool:
        return len(actual) == len(want) and all(
            not isinstance(a, int) or a <= 0 or a == b for a, b in zip(actual, want, strict=True)
        )

    rest = tuple(dims[1:])
    if len(dims) == 4:
        if fits(rest, (c, h, w)) and isinstance(rest[0], int):
            return "NCHW"
        if fits(rest, (h, w, c)) and isinstance(rest[2], int):
            return "NHWC"
    elif len(dims) == 3 and c == 1 and fits(rest, (h, w)):
        return "NHW"
    elif len(dims) == 2 and fits(rest, (h * w * c,)):
        return "flat"
    raise DataError(
        f"images of shape {h}x{w}x{c} do not fit the model's input dims {list(dims)}"
        " (expected NCHW, NHWC, NHW or flat of the same size)"
    )


def _images_to_input(
    images: np.ndarray,
    layout: Layout,
    elem_type: int,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> np.ndarray:
    """[0, 1] NHWC images -> the graph's input array, as a deployment would prepare them."""
    if elem_type == TensorProto.UINT8:
        x: np.ndarray = np.round(images * 255.0).astype(np.uint8)
    else:
        x = normalise(images, mean, std)  # the scanner's own, so both prepare inputs alike
    return np.ascontiguousarray(arrange(x, layout))


def images_to_input(converted: ConvertedModel, images: np.ndarray) -> np.ndarray:
    """[0, 1] NHWC images -> arrays for the original graph's input (onnxruntime or `full`)."""
    return _images_to_input(
        images,
        converted.check.layout,
        converted.signature.inputs[0].elem_type,
        converted.mean,
        converted.std,
    )


def convert_model(
    model: str | Path | onnx.ModelProto,
    images: np.ndarray,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    atol: float = DEFAULT_ATOL,
) -> ConvertedModel:
    """Convert an ONNX classifier and check it against onnxruntime on `images`.

    `images`: a few real samples, float32 (N, H, W, C) in [0, 1]. `mean`/`std`: the preprocessing
    the deployment applies before a float input (the graph's own steps stay in the graph).
    Raises ModelLoadError naming the op or the mismatch when the model cannot be used.
    """
    o2t = onnx2torch_module()
    # A path goes through the scanner's hostile-input parser: checked, and external data
    # confined to the model's folder before anything reads it (onnx.load would follow any path).
    source = parse_model(model).proto if not isinstance(model, onnx.ModelProto) else model
    where = str(model) if not isinstance(model, onnx.ModelProto) else "model"
    sig = graph_signature(source)
    if len(sig.inputs) != 1:
        raise ModelLoadError(f"{where}: expected one image input, found {len(sig.inputs)}")
    inp = sig.inputs[0]
    if inp.elem_type not in (TensorProto.FLOAT, TensorProto.UINT8):
        raise ModelLoadError(f"{where}: expected a float32 or uint8 input, got {inp.dtype}")
    if inp.elem_type == TensorProto.UINT8 and (mean is not None or std is not None):
        raise DataError(
            f"{where}: --mean/--std apply to float inputs; this model takes uint8 pixels and"
            " normalises them in its graph"
        )
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise DataError(f"expected check images of shape (N, H, W, C), got {images.shape}")
    layout = infer_layout(inp.dims, images.shape[1:4])  # type: ignore[arg-type]

    prepared = prepare_graph(source)
    x_in = _images_to_input(images, layout, inp.elem_type, mean, std)
    folded = 0
    if sig.batch is None:
        prepared, folded = fold_run_time_reshapes(prepared, x_in, where)
    prepared = layer_norm_shapes(prepared)
    _check_converters(prepared, where, o2t)
    try:
        gm = o2t.convert(prepared, attach_onnx_mapping=True)
    except Exception as e:  # onnx2torch raises assorted types from inside its converters
        raise ModelLoadError(f"{where}: onnx2torch could not convert the graph: {e}") from None
    value_nodes = _normalise_outputs(gm, prepared, where)
    promoted = _promote_trainable(gm, trainable_initializers(prepared))
    gm.eval()

    try:
        # In the worker, under the scan's limits: the graph is as untrusted here as in a scan.
        ort_outs = run_in_worker(source, x_in, source=where, batch=sig.batch)
    except ModelRuntimeError as e:
        raise ModelLoadError(f"{where}: onnxruntime could not run the model: {e}") from None

    batch_mode = _batch_mode(gm, x_in, sig.batch)
    with torch.no_grad():
        torch_outs = _run_full(gm, x_in, sig.batch, batch_mode)
    diffs = _compare(sig, ort_outs, torch_outs, atol, where)

    score_name, score_kind, score_value = _pick_score_output(sig, prepared, ort_outs, where)
    scores_gm = _score_module(gm, value_nodes[score_value])
    num_classes = int(ort_outs[[o.name for o in sig.outputs].index(score_name)].shape[-1])
    image_model = ImageModel(
        scores_gm,
        layout=layout,
        uint8_input=inp.elem_type == TensorProto.UINT8,
        mean=mean,
        std=std,
        score_kind=score_kind,
        batch=sig.batch if batch_mode == "vmap" else None,
    )
    _check_scores(image_model, images, ort_outs[[o.name for o in sig.outputs].index(score_name)],
                  score_kind, atol, where)  # fmt: skip
    n_trainable = sum(1 for p in gm.parameters() if p.requires_grad)
    check = ConversionCheck(
        samples=len(images),
        atol=atol,
        max_abs_diff=diffs,
        batch_mode=batch_mode,
        score_output=score_name,
        score_kind=score_kind,
        layout=layout,
        trainable_tensors=n_trainable,
        promoted_buffers=promoted,
        folded_reshapes=folded,
    )
    return ConvertedModel(
        full=gm,
        image_model=image_model,
        signature=sig,
        source=source,
        check=check,
        num_classes=num_classes,
        mean=tuple(mean) if mean is not None else None,
        std=tuple(std) if std is not None else None,
    )


def _check_converters(model: onnx.ModelProto, where: str, o2t: types.ModuleType) -> None:
    """Fail before converting, naming the first op onnx2torch has no converter for."""
    from onnx2torch.node_converters import get_converter

    del o2t
    versions = {o.domain or "": o.version for o in model.opset_import}
    for node in model.graph.node:
        domain = node.domain or ""
        if domain == "ai.onnx":
            domain = ""
        try:
            get_converter(
                operation_type=node.op_type, version=versions.get(domain, 1), domain=domain
            )
        except NotImplementedError:
            raise ModelLoadError(
                f"{where}: no PyTorch converter for op {node.op_type} (domain"
                f" {domain or 'ai.onnx'}, opset {versions.get(domain, 1)}, node"
                f" {node.name or '<unnamed>'})"
            ) from None


def _normalise_outputs(gm: Any, model: onnx.ModelProto, where: str) -> dict[str, Any]:
    """Make `gm` return a tuple of all graph outputs in order; return value name -> fx node."""
    import operator

    graph = gm.graph
    value_nodes: dict[str, Any] = {}
    for node in list(graph.nodes):
        if node.op != "call_module":
            continue
        mapping = getattr(gm.get_submodule(node.target), "onnx_mapping", None)
        if mapping is None:
            continue
        if len(mapping.outputs) == 1:
            value_nodes[mapping.outputs[0]] = node
        else:
            for i, name in enumerate(mapping.outputs):
                if not name:
                    continue
                with graph.inserting_after(node):
                    value_nodes[name] = graph.call_function(operator.getitem, (node, i))
    outputs = []
    for o in model.graph.output:
        if o.name not in value_nodes:
            raise ModelLoadError(
                f"{where}: graph output {o.name!r} is not computed by a node (a constant or the"
                " input itself); such graphs are not supported"
            )
        outputs.append(value_nodes[o.name])
    old = next(n for n in graph.nodes if n.op == "output")
    graph.erase_node(old)
    graph.output(tuple(outputs))
    graph.eliminate_dead_code()
    graph.lint()
    gm.recompile()
    return value_nodes


def _promote_trainable(gm: Any, trainable: set[str]) -> int:
    """Turn buffers holding learned weights into nn.Parameters; return how many."""
    promoted = 0
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        mapping = getattr(module, "onnx_mapping", None)
        if mapping is None:
            continue
        params = list(inspect.signature(module.forward).parameters)
        pairs = list(zip(mapping.inputs, node.args, strict=False))
        for key, arg in node.kwargs.items():
            if key in params and params.index(key) < len(mapping.inputs):
                pairs.append((mapping.inputs[params.index(key)], arg))
        for onnx_name, arg in pairs:
            if getattr(arg, "op", None) != "get_attr" or onnx_name not in trainable:
                continue
            owner_path, _, attr = arg.target.rpartition(".")
            owner = gm.get_submodule(owner_path)
            value = getattr(owner, attr)
            if isinstance(value, torch.nn.Parameter) or not value.is_floating_point():
                continue
            delattr(owner, attr)
            owner.register_parameter(attr, torch.nn.Parameter(value.detach().clone()))
            promoted += 1
    return promoted


def _run_full(gm: Any, x: np.ndarray, batch: int | None, mode: str) -> list[np.ndarray]:
    t = torch.from_numpy(x)
    outs = gm(t) if mode == "native" else _vmapped(gm, t, batch or 1)
    return [o.detach().cpu().numpy() for o in outs]


def _vmapped(fn: Callable[[Any], Any], x: Any, batch: int) -> Any:
    """Run a fixed-batch graph on any number of samples: pad to whole chunks, vmap over chunks."""
    n = x.shape[0]
    pad = (-n) % batch
    if pad:
        x = torch.cat([x, x[-1:].expand(pad, *x.shape[1:])])
    chunks = x.reshape(-1, batch, *x.shape[1:])
    out = torch.func.vmap(fn)(chunks)
    if isinstance(out, tuple):
        return tuple(o.reshape(-1, *o.shape[2:])[:n] for o in out)
    return out.reshape(-1, *out.shape[2:])[:n]


def _batch_mode(gm: Any, x: np.ndarray, batch: int | None) -> Literal["native", "vmap"]:
    """A fixed-batch graph may still run on other batch sizes; if not, it is vmapped."""
    if batch is None:
        return "native"
    probe = torch.from_numpy(np.concatenate([x[:1]] * (batch + 1)))
    try:
        with torch.no_grad():
            outs = gm(probe)
        if all(o.shape[:1] == (batch + 1,) for o in outs if o.dim()):
            return "native"
    except Exception:  # a baked-in batch size shows up as a shape error of some kind
        pass
    return "vmap"


def _compare(
    sig: GraphSignature,
    ref: list[np.ndarray],
    got: list[np.ndarray],
    atol: float,
    where: str,
) -> dict[str, float]:
    diffs: dict[str, float] = {}
    for out, r, g in zip(sig.outputs, ref, got, strict=True):
        d, problem = output_mismatch(r, g, atol)
        if problem:
            raise ModelLoadError(
                f"{where}: the converted model's output {out.name!r} {problem} against"
                " onnxruntime; refusing to train on a model that is not the same"
            )
        diffs[out.name] = d
    return diffs


def _pick_score_output(
    sig: GraphSignature,
    model: onnx.ModelProto,
    ort_outs: list[np.ndarray],
    where: str,
) -> tuple[str, ScoreKind, str]:
    """Choose the float class-score output and what it holds; return (output, kind, value)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    candidates = []
    for out, arr in zip(sig.outputs, ort_outs, strict=True):
        if out.elem_type in _FLOAT_ELEMS and arr.ndim == 2 and arr.shape[1] >= 2:
            candidates.append((out, arr))
    if not candidates:
        described = ", ".join(f"{o.name} {o.dtype} {list(o.dims)}" for o in sig.outputs)
        raise ModelLoadError(
            f"{where}: no differentiable class-score output (expected a float output of shape"
            f" (batch, classes); outputs are {described})"
        )

    def kind_of(out: TensorSig, arr: np.ndarray) -> tuple[ScoreKind, str]:
        node = producers.get(out.name)
        if node is not None and node.op_type == "Softmax":
            axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
            if axis in (-1, 1):
                return "softmax_input", node.input[0]
        if node is not None and node.op_type == "LogSoftmax":
            return "log_probabilities", out.name
        rows = arr.sum(axis=1)
        if arr.min() >= 0.0 and arr.max() <= 1.0 and np.allclose(rows, 1.0, atol=1e-3):
            return "probabilities", out.name
        return "logits", out.name

    # Prefer raw scores when the graph offers both scores and probabilities.
    ranked = sorted(candidates, key=lambda c: kind_of(*c)[0] != "logits")
    out, arr = ranked[0]
    kind, value = kind_of(out, arr)
    return out.name, kind, value


def _score_module(gm: Any, score_node: Any) -> Any:
    """A GraphModule sharing `gm`'s weights that returns only the class-score tensor."""

    new_graph = torch.fx.Graph()
    val_map: dict[Any, Any] = {}
    new_graph.graph_copy(gm.graph, val_map)
    new_graph.output(val_map[score_node])
    scores = torch.fx.GraphModule(gm, new_graph)
    scores.graph.eliminate_dead_code()
    scores.recompile()
    return scores


def _check_scores(
    image_model: Any,
    images: np.ndarray,
    ref: np.ndarray,
    kind: ScoreKind,
    atol: float,
    where: str,
) -> None:
    """The training view (float input, scores) must agree with the graph and carry gradients."""
    images = images[: min(len(images), 64)]
    if image_model.uint8_input:  # onnxruntime saw whole pixel values
        images = np.round(images * 255.0).astype(np.float32) / 255.0
    x = torch.from_numpy(images).requires_grad_(True)
    training = image_model.training
    image_model.eval()
    try:
        scores = image_model(x)
    finally:
        image_model.train(training)
    s = scores.detach().double()
    if kind == "softmax_input":
        got = torch.softmax(s, dim=1).numpy()
    elif kind in ("log_probabilities", "probabilities"):
        got = torch.exp(s).numpy()
        ref = np.exp(ref) if kind == "log_probabilities" else ref
    else:
        got = s.numpy()
    d = float(np.max(np.abs(got - ref[: len(got)])))
    if not d <= atol:
        raise ModelLoadError(
            f"{where}: the float training view of the model differs from onnxruntime by {d:.3g}"
            f" (> {atol:g})"
        )
    target = scores[:, 0].sum() - scores[:, 1].sum()
    grad = None
    if target.requires_grad:
        (grad,) = torch.autograd.grad(target, x, allow_unused=True)
    if grad is None or not torch.isfinite(grad).all() or float(grad.abs().max()) == 0.0:
        raise ModelLoadError(
            f"{where}: the class scores carry no gradient to the input (a non-differentiable"
            " op such as a Cast to an integer type sits on the path)"
        )


class ImageModel(torch.nn.Module):
    """Float class scores for [0, 1] NHWC images: the deployment's preprocessing, then the graph.

    A uint8 input is fed the same pixel values as floats (x * 255): the graph's Cast to float is
    then a no-op, so gradients reach the pixels. A fixed-batch graph is vmapped over chunks of its
    batch size. Probability outputs become log-probabilities, so cross-entropy applies unchanged.
    """

    def __init__(
        self,
        scores: Any,
        *,
        layout: Layout,
        uint8_input: bool,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        score_kind: ScoreKind,
        batch: int | None,
    ) -> None:
        super().__init__()
        self.scores = scores
        self.layout = layout
        self.uint8_input = uint8_input
        self.score_kind = score_kind
        self.batch = batch
        self.register_buffer("mean", torch.tensor(mean if mean is not None else [0.0]))
        self.register_buffer("std", torch.tensor(std if std is not None else [1.0]))

    def forward(self, x: Any) -> Any:
        x = x * 255.0 if self.uint8_input else (x - self.mean) / self.std
        if self.layout == "NCHW":
            x = x.permute(0, 3, 1, 2)
        elif self.layout == "NHW":
            x = x[..., 0]
        elif self.layout == "flat":
            # (C, H, W) order, as the scanner arranges it (`scanner.backends.base.arrange`).
            x = x.permute(0, 3, 1, 2).reshape(x.shape[0], -1)
        out = self.scores(x) if self.batch is None else _vmapped(self.scores, x, self.batch)
        if self.score_kind == "probabilities":
            out = torch.log(out.clamp_min(1e-12))
        return out
