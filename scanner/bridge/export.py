"""Write a repaired PyTorch model back to ONNX as a drop-in replacement for the original.

The exported graph keeps the original's signature exactly (input and output names, element types,
layout and batch behaviour), passes `onnx.checker`, and must reproduce the PyTorch model on real
inputs under onnxruntime before it is moved into place. The file is written to a temporary name
beside the target and renamed, so an interrupted run never leaves a half-written model, and the
input model is never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from scanner.backends.onnxruntime import run_in_worker
from scanner.bridge.compare import output_mismatch
from scanner.errors import ModelRuntimeError, OutputError

MIN_OPSET = 17
# The TorchScript exporter is used because onnx2torch's modules carry their ONNX symbolics for it;
# it writes opsets up to 20.
MAX_OPSET = 20
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class ExportResult:
    """Where the model went and how it was checked."""

    path: str
    opset: int
    sha256: str
    size_bytes: int
    samples: int
    batch_sizes: tuple[int, ...]
    max_abs_diff: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _dims(vi: onnx.ValueInfoProto) -> list[int | str | None]:
    out: list[int | str | None] = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else d.dim_param or None)
    return out


def _fixed_batch(source: onnx.ModelProto) -> int | None:
    inits = {t.name for t in source.graph.initializer}
    first = next(i for i in source.graph.input if i.name not in inits)
    dims = _dims(first)
    return dims[0] if dims and isinstance(dims[0], int) and dims[0] > 0 else None


def _export_bytes(
    full: Any,
    example: Any,
    source: onnx.ModelProto,
    opset: int,
    dynamic_batch: bool,
    fold_constants: bool = True,
) -> bytes:
    import torch

    inits = {t.name for t in source.graph.initializer}
    in_names = [i.name for i in source.graph.input if i.name not in inits]
    out_names = [o.name for o in source.graph.output]
    dynamic_axes = None
    if dynamic_batch:
        # Mark the batch dim dynamic wherever the original has a symbolic first dim.
        dynamic_axes = {}
        for vi in list(source.graph.input) + list(source.graph.output):
            dims = _dims(vi)
            if vi.name in in_names + out_names and dims and not isinstance(dims[0], int):
                dynamic_axes[vi.name] = {0: str(dims[0] or "batch")}
            elif vi.name in in_names + out_names and dims and dims[0] == 0:
                dynamic_axes[vi.name] = {0: "batch"}
    buf = io.BytesIO()
    training = full.training
    full.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                full,
                (example,),
                buf,  # type: ignore[arg-type]  # the TorchScript exporter takes file objects
                dynamo=False,
                opset_version=opset,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=dynamic_axes,
                do_constant_folding=fold_constants,
            )
    finally:
        full.train(training)
    return buf.getvalue()


def _restore_signature(exported: onnx.ModelProto, source: onnx.ModelProto) -> None:
    """Give the exported graph the original's input/output types (names, dtypes, dims)."""
    inits = {t.name for t in source.graph.initializer}
    src_in = [i for i in source.graph.input if i.name not in inits]
    exp_inits = {t.name for t in exported.graph.initializer}
    exp_in = [i for i in exported.graph.input if i.name not in exp_inits]
    if [i.name for i in exp_in] != [i.name for i in src_in]:
        raise OutputError(
            f"exported inputs {[i.name for i in exp_in]} differ from the original's"
            f" {[i.name for i in src_in]}"
        )
    if [o.name for o in exported.graph.output] != [o.name for o in source.graph.output]:
        raise OutputError(
            f"exported outputs {[o.name for o in exported.graph.output]} differ from the"
            f" original's {[o.name for o in source.graph.output]}"
        )
    for new, old in zip(
        exp_in + list(exported.graph.output), src_in + list(source.graph.output), strict=True
    ):
        if new.type.tensor_type.elem_type != old.type.tensor_type.elem_type:
            raise OutputError(
                f"exported {new.name!r} has element type {new.type.tensor_type.elem_type},"
                f" the original {old.type.tensor_type.elem_type}"
            )
        new.type.CopyFrom(old.type)
    # Intermediate shapes inferred at export time could contradict the restored symbols.
    del exported.graph.value_info[:]


def _run_torch(full: Any, x: np.ndarray) -> list[np.ndarray]:
    import torch

    training = full.training
    full.eval()
    try:
        with torch.no_grad():
            outs = full(torch.from_numpy(x))
    finally:
        full.train(training)
    outs = outs if isinstance(outs, tuple | list) else (outs,)
    return [o.detach().cpu().numpy() for o in outs]


def _batches(n: int, fixed: int | None) -> list[tuple[int, int]]:
    """Slices to check: the whole set and a single sample (dynamic), or whole chunks (fixed)."""
    if fixed is not None:
        return [(i, i + fixed) for i in range(0, n - fixed + 1, fixed)]
    return [(0, n), (0, 1)] if n > 1 else [(0, 1)]


def check_export(
    full: Any,
    model_bytes: bytes,
    source: onnx.ModelProto,
    check_inputs: np.ndarray,
    atol: float = DEFAULT_ATOL,
) -> tuple[dict[str, float], tuple[int, ...]]:
    """Run the exported model and `full` on the same inputs; raise OutputError on a mismatch."""
    fixed = _fixed_batch(source)
    slices = _batches(len(check_inputs), fixed)
    if not slices:
        raise OutputError(f"need at least {fixed} check inputs for a batch-{fixed} model")
    diffs: dict[str, float] = {o.name: 0.0 for o in source.graph.output}
    for lo, hi in slices:
        x = check_inputs[lo:hi]
        ref = _run_torch(full, x)
        try:
            got = run_in_worker(model_bytes, x, source="the exported model")
        except ModelRuntimeError as e:
            raise OutputError(f"the exported model does not run: {e}") from None
        for vi, r, g in zip(source.graph.output, ref, got, strict=True):
            want = _dims(vi)
            if len(want) != g.ndim or any(
                isinstance(w, int) and w > 0 and w != s for w, s in zip(want, g.shape, strict=True)
            ):
                raise OutputError(
                    f"exported output {vi.name!r} has shape {list(g.shape)}, the original declares"
                    f" {want}"
                )
            d, problem = output_mismatch(r, g, atol)
            if problem:
                raise OutputError(f"exported output {vi.name!r} {problem} against PyTorch")
            diffs[vi.name] = max(diffs[vi.name], d)
    return diffs, tuple(sorted({hi - lo for lo, hi in slices}))


def export_onnx_model(
    full: Any,
    source: onnx.ModelProto,
    out_path: str | Path,
    *,
    check_inputs: np.ndarray,
    source_path: str | Path | None = None,
    opset: int | None = None,
    atol: float = DEFAULT_ATOL,
    metadata: Mapping[str, str] | None = None,
) -> ExportResult:
    """Export `full` (graph input -> tuple of all graph outputs) with `source`'s signature.

    `check_inputs`: real inputs in the graph's own format (dtype and layout of its input).
    Raises OutputError (nothing written) when the target is the input model, when the export
    fails, or when the exported file does not reproduce `full`.
    """
    import torch

    out = Path(out_path)
    if source_path is not None and _same_file(out, Path(source_path)):
        raise OutputError(f"{out}: refusing to overwrite the input model; choose another -o path")
    if out.exists() and not out.is_file():
        raise OutputError(f"{out}: exists and is not a regular file")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent}: no such directory for the output model")
    src_opset = next((o.version for o in source.opset_import if o.domain in ("", "ai.onnx")), 17)
    opset = opset or min(max(src_opset, MIN_OPSET), MAX_OPSET)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OutputError(f"opset {opset}: expected {MIN_OPSET}..{MAX_OPSET}")

    fixed = _fixed_batch(source)
    n_example = fixed or 1
    if len(check_inputs) < n_example:
        raise OutputError(f"need at least {n_example} check inputs, got {len(check_inputs)}")
    example = torch.from_numpy(np.ascontiguousarray(check_inputs[:n_example]))
    try:
        data, diffs, batch_sizes = _export_checked(
            full, example, source, opset, fixed, check_inputs, atol, metadata, fold_constants=True
        )
    except OutputError:
        if fixed is not None:
            raise
        # The TorchScript exporter's constant folding can bake the example's batch of 1 into a
        # shape computation (a legacy-exported ViT's attention reshapes): the file then fails at
        # batch > 1. Exporting without folding keeps those shapes computed at run time.
        data, diffs, batch_sizes = _export_checked(
            full, example, source, opset, fixed, check_inputs, atol, metadata, fold_constants=False
        )
    return _write_model(out, data, source_path, opset, check_inputs, batch_sizes, diffs)


def _export_checked(
    full: Any,
    example: Any,
    source: onnx.ModelProto,
    opset: int,
    fixed: int | None,
    check_inputs: np.ndarray,
    atol: float,
    metadata: Mapping[str, str] | None,
    *,
    fold_constants: bool,
) -> tuple[bytes, dict[str, float], tuple[int, ...]]:
    """Export, restore the signature, check the file; (bytes, max differences, batch sizes)."""
    try:
        raw = _export_bytes(
            full, example, source, opset, dynamic_batch=fixed is None, fold_constants=fold_constants
        )
    except Exception as e:  # the exporter raises many unrelated types
        raise OutputError(f"torch.onnx.export failed: {type(e).__name__}: {e}") from None
    model = onnx.load_from_string(raw)
    _restore_signature(model, source)
    model.producer_name = "bdscan"
    model.doc_string = source.doc_string
    props = {p.key: p.value for p in source.metadata_props}
    props.update(metadata or {})
    del model.metadata_props[:]
    for k, v in sorted(props.items()):
        model.metadata_props.add(key=k, value=v)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OutputError(f"the exported model fails onnx.checker: {first}") from None
    data = model.SerializeToString()
    diffs, batch_sizes = check_export(full, data, source, check_inputs, atol)
    return data, diffs, batch_sizes


def _write_model(
    out: Path,
    data: bytes,
    source_path: str | os.PathLike[str] | None,
    opset: int,
    check_inputs: np.ndarray,
    batch_sizes: tuple[int, ...],
    diffs: dict[str, float],
) -> ExportResult:
    """Write `data` to `out` through a temporary file, never over the source model."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # Re-check right before the rename: the input could have been linked to `out` meanwhile.
        if source_path is not None and _same_file(out, Path(source_path)):
            raise OutputError(f"{out}: refusing to overwrite the input model")
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return ExportResult(
        path=str(out),
        opset=opset,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        samples=len(check_inputs),
        batch_sizes=batch_sizes,
        max_abs_diff=diffs,
    )
