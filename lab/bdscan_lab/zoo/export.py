"""ONNX export of zoo models in the input/output conventions real exported classifiers use.

A convention fixes the graph's input layout and dtype, where normalisation happens, the outputs and
the batch dimension, so that every backend code path of the scanner meets a real model. Both torch
exporters are supported ("legacy": TorchScript, `dynamo=False`; "dynamo": torch.export, opset 18).
Every export is checked against PyTorch with onnxruntime and fails loudly on a mismatch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

Exporter = Literal["legacy", "dynamo"]
EXPORTERS: tuple[str, ...] = ("legacy", "dynamo")
LEGACY_OPSET = 17
DYNAMO_OPSET = 18


class ExportError(RuntimeError):
    """An exported graph does not reproduce the PyTorch model."""


@dataclass(frozen=True)
class Convention:
    """How an exported graph takes images and returns its answer.

    `normalize_in_graph`: the graph maps pixels to the training distribution itself, so the
    scanner passes no --mean/--std (float input in [0, 1], or raw uint8 pixels). Otherwise the
    graph expects `(pixel/255 - mean)/std`, and the record stores mean/std for the scanner.
    `outputs` names the graph outputs in order: "logits", "probs" (softmax), "label" (int64 argmax).
    """

    name: str
    layout: Literal["NCHW", "NHWC"]
    dtype: Literal["float32", "uint8"]
    normalize_in_graph: bool
    outputs: tuple[str, ...]
    batch: int | None  # None: dynamic batch dimension
    description: str

    @property
    def input_name(self) -> str:
        return "image" if self.dtype == "uint8" else "input"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outputs"] = list(self.outputs)
        d["input_name"] = self.input_name
        return d


CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "nchw", "NCHW", "float32", False, ("logits",), None,
            "(a) NCHW float32, normalised outside the model, logits, dynamic batch",
        ),
        Convention(
            "nchw_norm", "NCHW", "float32", True, ("logits",), None,
            "NCHW float32 pixels in [0,1], normalisation inside the graph, logits",
        ),
        Convention(
            "nhwc", "NHWC", "float32", False, ("logits",), None,
            "(b) NHWC float32 (transpose inside the graph), normalised outside, logits",
        ),
        Convention(
            "uint8_nhwc", "NHWC", "uint8", True, ("logits",), None,
            "(c) uint8 NHWC raw pixels; Cast, /255 and normalisation inside the graph, logits",
        ),
        Convention(
            "probs", "NCHW", "float32", True, ("probs",), None,
            "(d) NCHW float32 in [0,1], normalisation and softmax inside the graph",
        ),
        Convention(
            "label", "NCHW", "float32", False, ("label", "scores"), None,
            "(e) int64 label (argmax in graph) first, then the logits as 'scores'",
        ),
        Convention(
            "label_only", "NCHW", "float32", False, ("label",), None,
            "an int64 label output only (argmax in graph), normalised outside",
        ),
        Convention(
            "batch1", "NCHW", "float32", False, ("logits",), 1,
            "(f) fixed batch size 1, NCHW float32 normalised outside, logits",
        ),
        Convention(
            "two_output", "NCHW", "float32", False, ("logits", "probs"), None,
            "two float outputs: logits, then softmax probabilities",
        ),
    )
}  # fmt: skip


def get_convention(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown convention {name!r}; expected one of {', '.join(CONVENTIONS)}"
        ) from None


def _output_name(kind: str) -> str:
    return {"logits": "logits", "probs": "probs", "label": "label", "scores": "scores"}[kind]


class ConventionWrapper(nn.Module):
    """The trained core (normalised NCHW float in, logits out) wrapped in a convention."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        core: nn.Module,
        convention: Convention,
        mean: tuple[float, ...],
        std: tuple[float, ...],
    ) -> None:
        super().__init__()
        self.core = core
        self.convention = convention
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """The graph's input to the core's input: layout, dtype, normalisation."""
        c = self.convention
        if c.layout == "NHWC":
            x = x.permute(0, 3, 1, 2)
        if c.dtype == "uint8":
            x = x.to(torch.float32) / 255.0
        if c.normalize_in_graph:
            x = (x - self.mean) / self.std
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        c = self.convention
        logits = self.core(self.preprocess(x))
        outs: list[torch.Tensor] = []
        for kind in c.outputs:
            if kind in ("logits", "scores"):
                outs.append(logits)
            elif kind == "probs":
                outs.append(torch.softmax(logits, dim=1))
            else:
                outs.append(torch.argmax(logits, dim=1))
        return outs[0] if len(outs) == 1 else tuple(outs)


def model_input(
    pixels: np.ndarray, convention: Convention, mean: tuple[float, ...], std: tuple[float, ...]
) -> np.ndarray:
    """What the graph takes for uint8 pixels (N, H, W[, C]): the preprocessing a user must do."""
    x = np.asarray(pixels)
    if x.ndim == 3:
        x = x[..., None]
    out: np.ndarray
    if convention.dtype == "uint8":
        out = x.astype(np.uint8)
    else:
        out = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
        if not convention.normalize_in_graph:
            m = np.asarray(mean, dtype=np.float32).reshape(1, 1, 1, -1)
            s = np.asarray(std, dtype=np.float32).reshape(1, 1, 1, -1)
            out = (out - m) / s
    if convention.layout == "NCHW":
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class ExportCheck:
    """How closely the ONNX graph reproduces PyTorch on the verification inputs."""

    n_inputs: int
    max_abs_diff: float
    label_agreement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _atomic_target(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _run_exporter(
    wrapper: ConventionWrapper, example: torch.Tensor, path: Path, exporter: str
) -> None:
    c = wrapper.convention
    output_names = [_output_name(k) for k in c.outputs]
    # Both exporters are chatty (deprecation notices, missing torchvision ops): the zoo prints
    # its own one-line summary instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(
                wrapper,
                (example,),
                str(path),
                dynamo=False,
                input_names=[c.input_name],
                output_names=output_names,
                opset_version=LEGACY_OPSET,
                dynamic_axes=None
                if c.batch is not None
                else {n: {0: "batch"} for n in [c.input_name, *output_names]},
            )
        elif exporter == "dynamo":
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            logging.getLogger("torch.export").setLevel(logging.ERROR)
            torch.onnx.export(
                wrapper,
                (example,),
                str(path),
                dynamo=True,
                input_names=[c.input_name],
                output_names=output_names,
                opset_version=DYNAMO_OPSET,
                dynamic_shapes=None
                if c.batch is not None
                else {"x": {0: torch.export.Dim("batch", min=1, max=1 << 20)}},
                external_data=False,
                verbose=False,
            )
        else:
            raise ValueError(f"unknown exporter {exporter!r}; expected one of {EXPORTERS}")


def verify_onnx(
    wrapper: ConventionWrapper,
    path: str | os.PathLike[str],
    inputs: np.ndarray,
    *,
    rtol: float = 1e-4,
) -> ExportCheck:
    """Run `inputs` (already in the graph's input form) through ONNX Runtime and PyTorch.

    Float outputs must agree to `rtol` relative to their scale; labels must agree everywhere except
    where PyTorch's top two logits are tied to within that tolerance. Raises ExportError otherwise.
    """
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(path), full_check=True)
    c = wrapper.convention
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = c.batch or 256
    got: list[list[np.ndarray]] = []
    for i in range(0, len(inputs), batch):
        chunk = inputs[i : i + batch]
        if c.batch is not None and len(chunk) != c.batch:
            break
        got.append(sess.run(None, {c.input_name: chunk}))
    n = sum(len(g[0]) for g in got)
    if n == 0:
        raise ExportError(f"{path}: no verification input fits batch size {c.batch}")
    onnx_outs = [np.concatenate([g[k] for g in got]) for k in range(len(c.outputs))]
    was_training = wrapper.training
    wrapper.eval()
    with torch.no_grad():
        ref = wrapper(torch.from_numpy(inputs[:n]))
        logits = wrapper.core(wrapper.preprocess(torch.from_numpy(inputs[:n]))).numpy()
    wrapper.train(was_training)
    refs = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    max_diff = 0.0
    top2 = np.sort(logits, axis=1)[:, -2:]
    tie = (top2[:, 1] - top2[:, 0]) <= rtol * max(1.0, float(np.abs(logits).max()))
    agreement = 1.0
    for kind, r, o in zip(c.outputs, refs, onnx_outs, strict=True):
        r = r.numpy()
        if o.shape != r.shape:
            raise ExportError(f"{path}: output {kind!r} has shape {o.shape}, PyTorch {r.shape}")
        if kind == "label":
            if o.dtype != np.int64:
                raise ExportError(f"{path}: label output is {o.dtype}, expected int64")
            agree = (o == r) | tie
        else:
            diff = float(np.abs(o - r).max())
            scale = max(1.0, float(np.abs(r).max()))
            if diff > rtol * scale:
                raise ExportError(
                    f"{path}: output {kind!r} differs from PyTorch by {diff:.3g} "
                    f"(tolerance {rtol * scale:.3g})"
                )
            max_diff = max(max_diff, diff)
            agree = (o.argmax(1) == logits.argmax(1)) | tie
        agreement = min(agreement, float(agree.mean()))
    if agreement < 1.0:
        raise ExportError(f"{path}: ONNX labels agree with PyTorch on only {agreement:.2%}")
    return ExportCheck(n, max_diff, agreement)


def verification_inputs(pixels: np.ndarray, seed: int = 0, n_far: int = 64) -> np.ndarray:
    """Real images plus points far off the data (float only: extrapolations along lines between
    images, as Model X-ray queries them), so the graph is checked where the scanner looks."""
    x = np.asarray(pixels).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), size=(2, n_far))
    t = rng.uniform(-5.0, 6.0, size=(n_far,) + (1,) * (x.ndim - 1)).astype(np.float32)
    return np.concatenate([x, x[i] + t * (x[j] - x[i])])


def export_model(
    core: nn.Module,
    path: str | os.PathLike[str],
    convention: str | Convention,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    exporter: str = "legacy",
    verify_pixels: np.ndarray,
    in_channels: int = 1,
) -> ExportCheck:
    """Export `core` (normalised NCHW in, logits out) in `convention` to `path`, verified on
    `verify_pixels` (uint8 (N, H, W[, C]) real images). The file appears only once verified."""
    conv = get_convention(convention) if isinstance(convention, str) else convention
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = core.training
    core.eval()
    wrapper = ConventionWrapper(core, conv, mean, std).eval()
    pixels = np.asarray(verify_pixels)
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if pixels.shape[-1] != in_channels:
        raise ValueError(f"expected {in_channels}-channel verification images, got {pixels.shape}")
    if conv.dtype == "uint8":
        inputs = model_input(pixels, conv, mean, std)
    else:
        # Off-data points are in pixel units [0,1] before the convention's own preprocessing.
        inputs = model_input(verification_inputs(pixels), conv, mean, std)
    example = torch.from_numpy(inputs[: conv.batch or 2])
    tmp = _atomic_target(path)
    try:
        _run_exporter(wrapper, example, tmp, exporter)
        check = verify_onnx(wrapper, tmp, inputs)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a model file is for everyone to read
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        core.train(was_training)
    return check
