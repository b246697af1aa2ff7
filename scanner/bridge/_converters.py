"""Converters that onnx2torch 1.5.15 lacks, registered through its `add_converter` extension point.

Torch's exporters (both the legacy TorchScript one and the dynamo one) write opset 18-20 by
default. onnx2torch stops at opset 17 for several ops, so such graphs fail to convert. Three kinds:
- Reduce* at opset 18/20, where `axes` moved from an attribute to an input;
- Reshape at opset 19/21 and Reshape with allowzero=1 (dynamo emits it), exact semantics;
- revisions that only widened the accepted element types (float8, int4, bfloat16, strings): the
  previous version's converter is correct for the float and integer tensors of a classifier.
Registration is idempotent and yields to converters onnx2torch itself ships for a slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from onnx import defs
from torch import nn

# (op, opset version introducing a type-only revision) -> the version whose converter applies.
_TYPE_ONLY: dict[tuple[str, int], int] = {
    **{("Cast", v): 13 for v in (19, 21, 23, 24, 25)},
    **{("Constant", v): 13 for v in (19, 21, 23, 24, 25)},
    **{("Identity", v): 16 for v in (19, 21, 23, 24, 25)},
    **{("Shape", v): 15 for v in (19, 21, 23, 24, 25)},
    **{("Transpose", v): 13 for v in (21, 23, 24, 25)},
    **{("Flatten", v): 13 for v in (21, 23, 24, 25)},
    **{("Unsqueeze", v): 13 for v in (21, 23, 24, 25)},
    **{("Squeeze", v): 21 for v in (23, 24, 25)},
    **{("ConstantOfShape", v): 9 for v in (20, 21, 23, 24, 25)},
    ("Equal", 19): 13,
    ("Conv", 22): 11,
    ("ConvTranspose", 22): 11,
    ("MaxPool", 22): 12,
    ("GlobalAveragePool", 22): 1,
    ("InstanceNormalization", 22): 6,
    ("Dropout", 22): 13,
    ("Elu", 22): 6,
    ("Selu", 22): 6,
    ("HardSigmoid", 22): 6,
    ("HardSwish", 22): 14,
    ("Softplus", 22): 1,
    ("Softsign", 22): 1,
    ("Round", 22): 11,
}
_REDUCE_OPS = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
)  # fmt: skip


def _reduce(op: str, x: torch.Tensor, dims: list[int], keepdim: bool) -> torch.Tensor:
    if op == "ReduceMean":
        return torch.mean(x, dim=dims, keepdim=keepdim)
    if op == "ReduceSum":
        return torch.sum(x, dim=dims, keepdim=keepdim)
    if op == "ReduceMax":
        return torch.amax(x, dim=dims, keepdim=keepdim)
    if op == "ReduceMin":
        return torch.amin(x, dim=dims, keepdim=keepdim)
    if op == "ReduceProd":
        out = x
        for d in sorted(dims, reverse=True):
            out = torch.prod(out, dim=d, keepdim=keepdim)
        return out
    if op == "ReduceL1":
        return torch.sum(torch.abs(x), dim=dims, keepdim=keepdim)
    if op == "ReduceL2":
        return torch.sqrt(torch.sum(x * x, dim=dims, keepdim=keepdim))
    if op == "ReduceLogSum":
        return torch.log(torch.sum(x, dim=dims, keepdim=keepdim))
    if op == "ReduceLogSumExp":
        return torch.logsumexp(x, dim=dims, keepdim=keepdim)
    if op == "ReduceSumSquare":
        return torch.sum(x * x, dim=dims, keepdim=keepdim)
    raise NotImplementedError(op)


class ReduceConstAxes(nn.Module):
    """Reduce-18/20 with its `axes` input a constant (what exporters emit)."""

    def __init__(self, op: str, axes: list[int] | None, keepdims: bool, noop_empty: bool) -> None:
        super().__init__()
        self.op = op
        self.axes = axes
        self.keepdims = keepdims
        self.noop_empty = noop_empty

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.axes:
            if self.noop_empty:
                return x
            dims = list(range(x.dim()))
        else:
            dims = [a % x.dim() for a in self.axes]
        return _reduce(self.op, x, dims, self.keepdims)


class ReshapeExact(nn.Module):
    """ONNX Reshape with either allowzero value; exported back as one Reshape node.

    allowzero=0: a 0 in `shape` copies the input's dimension; allowzero=1: a 0 is a real 0.
    """

    def __init__(self, allowzero: int) -> None:
        super().__init__()
        self.allowzero = allowzero

    def _forward(self, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        dims = [int(d) for d in shape.tolist()]
        if not self.allowzero:
            dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        return torch.reshape(x, dims)

    def forward(self, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            # Keep the shape a graph value (a dynamic batch stays dynamic), as onnx2torch does.
            from onnx2torch.utils.custom_export_to_onnx import DefaultExportToOnnx

            return DefaultExportToOnnx.export(
                lambda: self._forward(x, shape),
                "Reshape",
                x,
                shape,
                {"allowzero_i": self.allowzero},
            )
        return self._forward(x, shape)


def _const_axes(node: Any, graph: Any) -> list[int] | None:
    from onnx2torch.utils.common import get_const_value

    if len(node.input_values) < 2 or not node.input_values[1]:
        return node.attributes.get("axes", None)
    try:
        value = get_const_value(node.input_values[1], graph)
    except KeyError:
        raise NotImplementedError(
            f"{node.operation_type} with axes computed at run time is not supported"
        ) from None
    return [int(a) for a in torch.as_tensor(value).reshape(-1).tolist()]


def _reduce_converter(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    module = ReduceConstAxes(
        node.operation_type,
        _const_axes(node, graph),
        keepdims=bool(node.attributes.get("keepdims", 1)),
        noop_empty=bool(node.attributes.get("noop_with_empty_axes", 0)),
    )
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values),
    )


def _reshape_converter(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    del graph
    return OperationConverterResult(
        torch_module=ReshapeExact(int(node.attributes.get("allowzero", 0))),
        onnx_mapping=onnx_mapping_from_node(node),
    )


def _alias(op: str, version: int) -> Callable[[Any, Any], Any]:
    def convert(node: Any, graph: Any) -> Any:
        from onnx2torch.node_converters import get_converter

        return get_converter(operation_type=op, version=version)(node, graph)

    return convert


def _guarded_alias(op: str, version: int, problem: Callable[[Any], str | None]) -> Any:
    inner = _alias(op, version)

    def convert(node: Any, graph: Any) -> Any:
        reason = problem(node)
        if reason:
            raise NotImplementedError(f"{op}: {reason} is not supported")
        return inner(node, graph)

    return convert


def _pad_problem(node: Any) -> str | None:
    if len([i for i in node.input_values if i]) > 3:
        return "the axes input"
    if node.attributes.get("mode", "constant") == "wrap":
        return "mode=wrap"
    return None


def _avgpool_problem(node: Any) -> str | None:
    dil = node.attributes.get("dilations")
    return "dilations other than 1" if dil and any(d != 1 for d in dil) else None


def _split_problem(node: Any) -> str | None:
    return "the num_outputs attribute" if "num_outputs" in node.attributes else None


def _known_versions(op: str) -> set[int]:
    out: set[int] = set()
    v = 10_000
    while True:
        try:
            schema = defs.get_schema(op, max_inclusive_version=v)
        except Exception:  # SchemaError when none is left
            return out
        out.add(schema.since_version)
        v = schema.since_version - 1


def _try_register(op: str, version: int, fn: Callable[[Any, Any], Any]) -> None:
    from onnx2torch.node_converters.registry import add_converter

    if version not in _known_versions(op):
        return  # this onnx release does not define that revision
    # ValueError: already registered (by onnx2torch itself or an earlier call).
    with contextlib.suppress(ValueError):
        add_converter(operation_type=op, version=version)(fn)


def register() -> None:
    """Register the missing converters; safe to call more than once."""
    for op in _REDUCE_OPS:
        for v in (18, 20):
            _try_register(op, v, _reduce_converter)
    for v in (19, 21, 23, 24, 25):
        _try_register("Reshape", v, _reshape_converter)
    for (op, v), old in _TYPE_ONLY.items():
        _try_register(op, v, _alias(op, old))
    guarded = {
        **{("Pad", v): (13, _pad_problem) for v in (18, 19, 21, 23, 24, 25)},
        **{("AveragePool", v): (11, _avgpool_problem) for v in (19, 22)},
        ("Split", 18): (13, _split_problem),
    }
    for (op, v), (old, problem) in guarded.items():
        _try_register(op, v, _guarded_alias(op, old, problem))
