"""Static checks on a parsed ONNX graph, before anything runs it.

What `onnx.checker` leaves open and a hostile file can use: control flow that never ends (a Loop
with a huge or unbounded trip count runs for hours inside onnxruntime, where no Python timeout
can interrupt it cleanly), and declarations that contradict each other (one output name listed
twice with two types: which one a consumer reads depends on the runtime). Every walk here is
iterative and linear in the node count, so a deep or long graph cannot exhaust the stack or
make the checks themselves slow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, numpy_helper

from scanner.errors import ModelLoadError

# Hand-set: an image classifier has no reason to loop; a few thousand iterations cover the
# recurrent heads exporters emit, and the product over nested Loops is what bounds run time.
MAX_LOOP_ITERATIONS = 10_000
CONTROL_FLOW_OPS = ("If", "Loop", "Scan")


@dataclass(frozen=True)
class GraphFacts:
    """What the static checks learned: reported, never a reason to refuse by itself."""

    nodes: int  # in every graph and subgraph
    control_flow: tuple[str, ...]  # e.g. ("If x2", "Loop x1"), empty for a plain feed-forward net


def _constant_scalar(
    name: str, constants: dict[str, onnx.TensorProto], produced_by_constant: dict[str, int | None]
) -> int | None:
    """The integer value of `name` when it is a constant scalar visible in scope, else None."""
    if name in produced_by_constant:
        return produced_by_constant[name]
    tensor = constants.get(name)
    if tensor is None or tensor.data_type not in (TensorProto.INT64, TensorProto.INT32):
        return None
    try:
        value = numpy_helper.to_array(tensor)
    except Exception:
        return None
    return int(value.reshape(-1)[0]) if value.size == 1 else None


def _constant_node_value(node: onnx.NodeProto) -> int | None:
    for attr in node.attribute:
        if attr.name == "value" and attr.HasField("t"):
            t = attr.t
            if t.data_type in (TensorProto.INT64, TensorProto.INT32):
                try:
                    value = numpy_helper.to_array(t)
                except Exception:
                    return None
                return int(value.reshape(-1)[0]) if value.size == 1 else None
        if attr.name == "value_int":
            return int(attr.i)
    return None


def _check_declarations(graph: onnx.GraphProto, where: str) -> None:
    repeated = [n for n, k in Counter(o.name for o in graph.output).items() if k > 1]
    if repeated:
        raise ModelLoadError(
            f"{where}: graph {graph.name or '(main)'!r} lists output {repeated[0]!r} more than"
            " once; refusing a graph whose declarations contradict each other"
        )
    declared: dict[str, int] = {}
    for vi in (*graph.input, *graph.output):
        if vi.type.HasField("tensor_type"):
            declared[vi.name] = vi.type.tensor_type.elem_type
    seen_info: set[str] = set()
    for vi in graph.value_info:
        if vi.name in seen_info:
            raise ModelLoadError(
                f"{where}: value {vi.name!r} is declared more than once in value_info; refusing"
                " a graph whose declarations contradict each other"
            )
        seen_info.add(vi.name)
        elem = vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0
        if vi.name in declared and elem and declared[vi.name] and elem != declared[vi.name]:
            raise ModelLoadError(
                f"{where}: value {vi.name!r} is declared as two different types; refusing a"
                " graph whose declarations contradict each other"
            )


def _check_opset_imports(model: onnx.ModelProto, where: str) -> None:
    """One version per operator domain: with two, which operator semantics run is up to the
    runtime (onnx.checker lets it pass)."""
    seen: dict[str, int] = {}
    for entry in model.opset_import:
        domain = entry.domain if entry.domain not in ("", "ai.onnx") else "ai.onnx"
        if domain in seen and seen[domain] != entry.version:
            raise ModelLoadError(
                f"{where}: operator domain {domain!r} is imported twice, at opsets"
                f" {seen[domain]} and {entry.version}; refusing a model whose operator"
                " versions are ambiguous"
            )
        seen[domain] = entry.version


def check_graph(model: onnx.ModelProto, path: Path) -> GraphFacts:
    """Refuse unbounded or huge Loops and contradictory declarations; ModelLoadError names why.

    A Loop's bound is its trip count when that is a constant in scope, times the bounds of the
    Loops around it; a trip count that is computed, or absent (a loop that ends only when its
    condition says so), cannot be bounded without running the graph, and is refused.
    """
    where = str(path)
    _check_opset_imports(model, where)
    counts: Counter[str] = Counter()
    nodes = 0
    # (graph, constants visible in it, Constant-node values visible in it, enclosing bound)
    stack: list[tuple[onnx.GraphProto, dict[str, onnx.TensorProto], dict[str, int | None], int]]
    stack = [(model.graph, {}, {}, 1)]
    while stack:
        graph, outer_consts, outer_nodes, bound = stack.pop()
        _check_declarations(graph, where)
        consts = {**outer_consts, **{t.name: t for t in graph.initializer}}
        from_nodes = dict(outer_nodes)
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                for out in node.output:
                    from_nodes[out] = _constant_node_value(node)
        for node in graph.node:
            nodes += 1
            inner_bound = bound
            if node.domain in ("", "ai.onnx") and node.op_type in CONTROL_FLOW_OPS:
                counts[node.op_type] += 1
            if node.op_type == "Loop" and node.domain in ("", "ai.onnx"):
                label = node.name or (node.output[0] if node.output else "(unnamed)")
                trip_name = node.input[0] if len(node.input) > 0 else ""
                if not trip_name:
                    raise ModelLoadError(
                        f"{where}: Loop node {label!r} has no trip count (it ends only when its"
                        " own condition says so); refusing a loop that cannot be bounded before"
                        " it runs"
                    )
                trips = _constant_scalar(trip_name, consts, from_nodes)
                if trips is None:
                    raise ModelLoadError(
                        f"{where}: Loop node {label!r} takes its trip count from a computed"
                        f" value ({trip_name!r}); refusing a loop that cannot be bounded before"
                        " it runs"
                    )
                inner_bound = bound * max(trips, 0)
                if inner_bound > MAX_LOOP_ITERATIONS:
                    raise ModelLoadError(
                        f"{where}: Loop node {label!r} runs up to {inner_bound:,} iterations"
                        f" (limit {MAX_LOOP_ITERATIONS:,}); refusing a possible time bomb"
                    )
            for attr in node.attribute:
                subgraphs = [attr.g] if attr.HasField("g") else []
                subgraphs.extend(attr.graphs)
                for sub in subgraphs:
                    stack.append((sub, consts, from_nodes, inner_bound))
    control = tuple(f"{op} x{counts[op]}" for op in CONTROL_FLOW_OPS if counts[op])
    return GraphFacts(nodes=nodes, control_flow=control)
