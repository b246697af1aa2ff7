"""ONNX -> PyTorch -> ONNX round trips on tiny torch-exported classifiers in every convention.

Models are built here with both torch exporters (legacy TorchScript and dynamo), NCHW and NHWC,
float and uint8 inputs (Cast and normalisation in the graph), logits or probabilities, an extra
int64 argmax output, dynamic or fixed batch 1. Real inputs: scikit-learn's 8x8 digits.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")
if importlib.util.find_spec("onnx2torch") is None:  # importing it needs our torchvision stub
    pytest.skip("onnx2torch is not installed", allow_module_level=True)

from scanner.bridge.convert import (  # noqa: E402
    convert_model,
    graph_signature,
    images_to_input,
)
from scanner.bridge.export import export_onnx_model  # noqa: E402
from scanner.errors import DataError, ModelLoadError, OutputError  # noqa: E402
from tests import onnx_builders  # noqa: E402


@dataclass(frozen=True)
class Convention:
    exporter: str  # legacy | dynamo
    layout: str  # NCHW | NHWC
    dtype: str  # float32 | uint8
    output: str  # logits | probs
    argmax: bool
    batch: str  # dynamic | fixed1
    opset: int = 20
    shared_weights: bool = False  # equal-valued layers: legacy exporter emits Identity nodes
    matmul_weight: bool = False  # x @ W + b with W a bare parameter: MatMul + Add initializers

    @property
    def id(self) -> str:
        extra = "-shared" if self.shared_weights else ""
        extra += "-matmul" if self.matmul_weight else ""
        return (
            f"{self.exporter}-{self.layout}-{self.dtype}-{self.output}"
            f"{'-argmax' if self.argmax else ''}-{self.batch}-op{self.opset}{extra}"
        )


CONVENTIONS = [
    Convention("legacy", "NCHW", "float32", "logits", False, "dynamic"),
    Convention("legacy", "NHWC", "uint8", "probs", True, "dynamic"),
    Convention("legacy", "NCHW", "uint8", "logits", True, "fixed1"),
    Convention("legacy", "NHWC", "float32", "probs", False, "fixed1"),
    Convention("legacy", "NCHW", "float32", "logits", False, "dynamic", shared_weights=True),
    Convention("dynamo", "NCHW", "float32", "logits", False, "dynamic"),
    Convention("dynamo", "NHWC", "uint8", "probs", True, "dynamic"),
    Convention("dynamo", "NCHW", "uint8", "probs", False, "fixed1"),
    Convention("dynamo", "NHWC", "float32", "logits", True, "fixed1"),
    Convention("dynamo", "NCHW", "float32", "logits", True, "dynamic", opset=18),
    Convention("dynamo", "NCHW", "float32", "logits", False, "dynamic", matmul_weight=True),
]


class TinyNet(torch.nn.Module):
    """Conv + BatchNorm + pooling + a mean (ReduceMean) and a flatten (Reshape) + linear head."""

    def __init__(self, conv: Convention) -> None:
        super().__init__()
        self.conv = conv
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = torch.nn.Conv2d(4, 4, 3, padding=1)
        if conv.shared_weights:
            self.c3.load_state_dict(self.c2.state_dict())
        if conv.matmul_weight:
            self.w = torch.nn.Parameter(torch.randn(4 * 4 * 4 + 4, 10) * 0.2)
            self.b = torch.nn.Parameter(torch.randn(10) * 0.1)
        else:
            self.fc = torch.nn.Linear(4 * 4 * 4 + 4, 10)
        with torch.no_grad():  # non-trivial BN statistics so folding is exercised
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 1.5)
            self.bn.weight.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor):  # type: ignore[no-untyped-def]
        if self.conv.dtype == "uint8":
            x = x.float() / 255.0
        if self.conv.layout == "NHWC":
            x = x.permute(0, 3, 1, 2)
        x = (x - 0.5) / 0.25
        x = torch.relu(self.bn(self.c1(x)))
        x = torch.relu(self.c3(torch.relu(self.c2(x))))
        x = torch.nn.functional.max_pool2d(x, 2)
        feats = torch.cat([x.reshape(x.shape[0], -1), x.mean(dim=(2, 3))], dim=1)
        z = feats @ self.w + self.b if self.conv.matmul_weight else self.fc(feats)
        out = torch.softmax(z, dim=1) if self.conv.output == "probs" else z
        return (out, z.argmax(dim=1)) if self.conv.argmax else out


def export_tiny(conv: Convention, path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = TinyNet(conv).eval()
    shape = (1, 8, 8, 1) if conv.layout == "NHWC" else (1, 1, 8, 8)
    x = (
        torch.randint(0, 256, shape, dtype=torch.uint8)
        if conv.dtype == "uint8"
        else torch.rand(shape)
    )
    outs = ["scores", "label"] if conv.argmax else ["scores"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if conv.exporter == "legacy":
            dyn = None
            if conv.batch == "dynamic":
                dyn = {n: {0: "batch"} for n in ["image", *outs]}
            torch.onnx.export(
                net, (x,), str(path), dynamo=False, opset_version=conv.opset,
                input_names=["image"], output_names=outs, dynamic_axes=dyn,
            )  # fmt: skip
        else:
            shapes = ({0: torch.export.Dim("batch")},) if conv.batch == "dynamic" else None
            torch.onnx.export(
                net, (x,), str(path), dynamo=True, opset_version=conv.opset,
                input_names=["image"], output_names=outs, dynamic_shapes=shapes, verbose=False,
            )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    x, _ = onnx_builders.digits()
    return x[:48, :, :, None]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert_models")


def _model(model_dir: Path, conv: Convention) -> Path:
    path = model_dir / f"{conv.id}.onnx"
    if not path.exists():
        export_tiny(conv, path)
    return path


@pytest.mark.parametrize("conv", CONVENTIONS, ids=lambda c: c.id)
def test_round_trip(conv: Convention, model_dir: Path, images: np.ndarray, tmp_path: Path) -> None:
    path = _model(model_dir, conv)
    source = onnx.load(str(path))
    ops = {n.op_type for n in source.graph.node}
    if conv.shared_weights:
        assert "Identity" in ops  # the legacy exporter's deduplication this test is about
    if conv.exporter == "dynamo":
        assert any(
            n.op_type == "Reshape" and any(a.name == "allowzero" and a.i == 1 for a in n.attribute)
            for n in source.graph.node
        )

    c = convert_model(path, images)
    assert c.check.layout == conv.layout
    assert c.num_classes == 10
    assert max(c.check.max_abs_diff.values()) <= 1e-4
    assert c.check.score_kind == ("softmax_input" if conv.output == "probs" else "logits")
    assert c.check.batch_mode in ("native", "vmap")
    if conv.matmul_weight:
        assert c.check.promoted_buffers >= 2  # W (MatMul) and b (Add) now train

    # Every learned weight of the torch model is a trainable parameter again (BatchNorm's own
    # affine terms only where the exporter did not fold them into the convolution).
    torch.manual_seed(0)
    n_expected = sum(p.numel() for p in TinyNet(conv).parameters())
    if "BatchNormalization" not in ops:
        n_expected -= 8
    n_params = sum(p.numel() for p in c.full.parameters() if p.requires_grad)
    assert n_params == n_expected

    # The training view is differentiable and agrees with the full graph's score output.
    x = torch.from_numpy(images[:5]).requires_grad_(True)
    scores = c.image_model(x)
    assert scores.shape == (5, 10)
    scores.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0

    # Simulate training, then export: the file must carry the new weights and the old signature.
    with torch.no_grad():
        for p in c.full.parameters():
            p.add_(0.01 * torch.randn_like(p))
    out = tmp_path / "repaired.onnx"
    res = export_onnx_model(
        c.full, c.source, out, check_inputs=images_to_input(c, images), source_path=path
    )
    assert res.opset >= 17
    exported = onnx.load(str(out))
    onnx.checker.check_model(exported, full_check=True)
    assert graph_signature(exported) == graph_signature(source)
    if conv.batch == "dynamic":
        assert res.batch_sizes == (1, len(images))
    else:
        assert res.batch_sizes == (1,)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_torchvision_stub_does_not_leak() -> None:
    import sys

    from scanner.bridge.convert import onnx2torch_module

    onnx2torch_module()
    assert "torchvision" not in sys.modules or not getattr(
        sys.modules["torchvision"], "__bdscan_stub__", False
    )


def _graph_model(nodes, inits, out_vi, opset: int = 17) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    g = helper.make_graph(nodes, "g", [inp], out_vi, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(m)
    return m


def _linear_nodes() -> tuple[list, list]:  # type: ignore[type-arg]
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(64, 10)).astype(np.float32), "W")
    shape = numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["logits"]),
    ]
    return nodes, [w, shape]


def test_unconvertible_op_is_named(tmp_path: Path, images: np.ndarray) -> None:
    nodes, inits = _linear_nodes()
    nodes.append(helper.make_node("Hardmax", ["logits"], ["y"], axis=1))
    m = _graph_model(
        nodes, inits, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])]
    )
    path = tmp_path / "hardmax.onnx"
    onnx.save(m, str(path))
    with pytest.raises(ModelLoadError, match="no PyTorch converter for op Hardmax"):
        convert_model(path, images)


def test_label_only_model_has_no_class_output(tmp_path: Path, images: np.ndarray) -> None:
    nodes, inits = _linear_nodes()
    nodes.append(helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0))
    out = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])]
    path = tmp_path / "label.onnx"
    onnx.save(_graph_model(nodes, inits, out), str(path))
    with pytest.raises(ModelLoadError, match=r"no differentiable class-score output.*label int64"):
        convert_model(path, images)


def test_integer_cast_on_score_path_is_not_differentiable(
    tmp_path: Path, images: np.ndarray
) -> None:
    nodes, inits = _linear_nodes()
    nodes += [
        helper.make_node("Cast", ["logits"], ["ints"], to=TensorProto.INT32),
        helper.make_node("Cast", ["ints"], ["y"], to=TensorProto.FLOAT),
    ]
    out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])]
    path = tmp_path / "cast.onnx"
    onnx.save(_graph_model(nodes, inits, out), str(path))
    with pytest.raises(ModelLoadError, match="no gradient"):
        convert_model(path, images)


def test_mismatch_against_onnxruntime_stops(model_dir: Path, images: np.ndarray) -> None:
    path = _model(model_dir, CONVENTIONS[0])
    # A negative tolerance makes any difference a mismatch: the path that refuses to train.
    with pytest.raises(ModelLoadError, match=r"output 'scores' differs by .* against onnxruntime"):
        convert_model(path, images, atol=-1.0)


def test_images_that_do_not_fit(model_dir: Path, images: np.ndarray) -> None:
    path = _model(model_dir, CONVENTIONS[0])
    with pytest.raises(DataError, match=r"images of shape 9x9x1 do not fit.*\[.batch., 1, 8, 8\]"):
        convert_model(path, np.zeros((4, 9, 9, 1), np.float32))


def test_mean_std_rejected_for_uint8_input(model_dir: Path, images: np.ndarray) -> None:
    path = _model(model_dir, CONVENTIONS[1])
    with pytest.raises(DataError, match="uint8 pixels"):
        convert_model(path, images, mean=(0.5,), std=(0.5,))


def test_export_refuses_to_overwrite_input(
    model_dir: Path, images: np.ndarray, tmp_path: Path
) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(_model(model_dir, CONVENTIONS[0]).read_bytes())
    before = src.read_bytes()
    c = convert_model(src, images)
    x = images_to_input(c, images)
    with pytest.raises(OutputError, match="refusing to overwrite the input model"):
        export_onnx_model(c.full, c.source, src, check_inputs=x, source_path=src)
    link = tmp_path / "link.onnx"
    os.link(src, link)
    with pytest.raises(OutputError, match="refusing to overwrite the input model"):
        export_onnx_model(c.full, c.source, link, check_inputs=x, source_path=src)
    assert src.read_bytes() == before


def test_failed_export_check_leaves_no_file(
    model_dir: Path, images: np.ndarray, tmp_path: Path
) -> None:
    path = _model(model_dir, CONVENTIONS[0])
    c = convert_model(path, images)
    out = tmp_path / "out.onnx"
    with pytest.raises(OutputError, match=r"output .scores. differs by .* against PyTorch"):
        export_onnx_model(c.full, c.source, out, check_inputs=images_to_input(c, images), atol=-1.0)
    assert os.listdir(tmp_path) == []


# Every zoo architecture that issue 19 added, through both exporters: BURN converts the file,
# trains the torch graph and writes it back. LayerNorm from the legacy exporter (no value_info)
# and depthwise convolutions are the cases onnx2torch alone got wrong.
# Both exporters for the two graphs that differ most between them;
# tests/lab/test_zoo_architectures.py checks every architecture's export under both.
@pytest.mark.parametrize(
    ("arch", "exporter"),
    [
        *[(a, "legacy") for a in ("mobilenet", "vgg_bn", "resnet14w", "senet", "gn_resnet", "vit")],
        ("mobilenet", "dynamo"),
        ("vit", "dynamo"),
    ],
)
def test_zoo_architectures_convert_train_and_export(
    arch: str, exporter: str, images: np.ndarray, tmp_path: Path
) -> None:
    from bdscan_lab.zoo.architectures import make_model
    from bdscan_lab.zoo.export import export_model

    pixels = (images[:16, :, :, 0] * 255).astype(np.uint8)
    pixels = np.pad(pixels, ((0, 0), (10, 10), (10, 10)))  # the 8x8 digits on a 28x28 canvas
    torch.manual_seed(0)
    path = tmp_path / f"{arch}.onnx"
    export_model(
        make_model(arch), path, "nchw", mean=(0.3,), std=(0.3,), verify_pixels=pixels,
        exporter=exporter,
    )  # fmt: skip
    x = pixels[..., None].astype(np.float32) / 255
    c = convert_model(path, x)
    assert max(c.check.max_abs_diff.values()) <= 1e-4
    assert sum(p.numel() for p in c.full.parameters() if p.requires_grad) > 0
    scores = c.image_model(torch.from_numpy(x[:4]))
    loss = torch.nn.functional.cross_entropy(scores, torch.arange(4))
    loss.backward()
    with torch.no_grad():
        for p in c.full.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    out = tmp_path / "repaired.onnx"
    res = export_onnx_model(
        c.full, c.source, out, check_inputs=images_to_input(c, x), source_path=path
    )
    assert res.batch_sizes == (1, len(x))
    assert graph_signature(onnx.load(str(out))) == graph_signature(c.source)
    if arch == "vit" and exporter == "legacy":
        # Its attention's flatten/unflatten shapes are computed at run time: folded to constants.
        assert c.check.folded_reshapes >= 4
