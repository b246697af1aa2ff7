"""Models from other frameworks and of other shapes, end to end through the CLI with a verdict:
scikit-learn exports (with and without ZipMap), RGB 32x32, and 100 classes whose data covers 10."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests import onnx_builders
from tests.conftest import REPO, bdscan

FAST = ["--planes", "2", "--resolution", "10", "--quiet", "--no-cache"]
# A fixed colour for the RGB variant of the digits: a deterministic transform of real images.
TINT = np.array([1.0, 0.6, 0.3], np.float32)


def scan(model: Path, data: Path, report: Path, *extra: str) -> tuple[int, dict, str]:
    r = bdscan("scan", model, "--data", data, *FAST, "--json", report, *extra)
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, r.stderr
    return r.exit_code, (json.loads(report.read_text()) if report.exists() else {}), r.stderr


def _mlp(string_labels: bool = False):  # type: ignore[no-untyped-def]
    from sklearn.neural_network import MLPClassifier

    x, y = onnx_builders.digits()
    labels = np.array([f"digit-{v}" for v in y]) if string_labels else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 200 steps are plenty here
        return MLPClassifier((32,), max_iter=200, random_state=0).fit(
            x[:1500].reshape(1500, -1), labels[:1500]
        )


@pytest.mark.parametrize("zipmap", [True, False])
def test_scikit_learn_exports_scan_with_a_verdict(tmp_path: Path, zipmap: bool) -> None:
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    clf = _mlp()
    sample = onnx_builders.digits()[0][:1].reshape(1, -1)
    options = None if zipmap else {id(clf): {"zipmap": False}}
    model = to_onnx(clf, sample, target_opset=17, options=options)
    # skl2onnx's defaults: a flat float input, an int64 label and, with ZipMap, a sequence of maps.
    kinds = [o.type.WhichOneof("value") for o in model.graph.output]
    assert kinds == (["tensor_type", "sequence_type"] if zipmap else ["tensor_type"] * 2)
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model.SerializeToString())
    data = onnx_builders.save_npz(tmp_path / "digits.npz")
    code, report, err = scan(path, data, tmp_path / "r.json")
    assert code == 0, err
    assert report["xray"]["verdict"] in ("clean", "infected")
    assert report["model"]["outputs"]["kind"] == "label"
    assert report["model"]["input"]["layout"] == "flat"
    assert report["xray"]["evidence"]["clean_accuracy_on_data"] > 0.85


def test_a_string_label_export_with_only_zipmap_scores_is_one_clear_line(tmp_path: Path) -> None:
    """String labels and ZipMap probabilities: no label or score tensor the scan can read."""
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    model = to_onnx(_mlp(string_labels=True), onnx_builders.digits()[0][:1].reshape(1, -1))
    path = tmp_path / "strings.onnx"
    path.write_bytes(model.SerializeToString())
    data = onnx_builders.save_npz(tmp_path / "digits.npz")
    code, _, err = scan(path, data, tmp_path / "r.json")
    assert code == 2
    assert str(path) in err and "not a classifier" in err and "seq(map(" in err
    assert len(err.strip().splitlines()) == 1


def test_the_same_export_without_zipmap_reads_the_probabilities(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    clf = _mlp(string_labels=True)
    model = to_onnx(
        clf, onnx_builders.digits()[0][:1].reshape(1, -1), options={id(clf): {"zipmap": False}}
    )
    path = tmp_path / "strings.onnx"
    path.write_bytes(model.SerializeToString())
    data = onnx_builders.save_npz(tmp_path / "digits.npz")
    code, report, err = scan(path, data, tmp_path / "r.json")
    assert code == 0, err
    # The string label tensor is skipped; the class scores follow the sorted class names,
    # which for "digit-0".."digit-9" is the digits' own order.
    assert report["model"]["outputs"] == {
        "kind": "argmax",
        "labels_from": "probabilities",
        "scores": "probabilities",
    }
    assert report["xray"]["evidence"]["clean_accuracy_on_data"] > 0.85


def _linear_model(path: Path, w: np.ndarray, b: np.ndarray, dims: list) -> Path:  # type: ignore[type-arg]
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", w.shape[1]])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_an_rgb_32x32_model_scans_with_per_channel_normalisation(tmp_path: Path) -> None:
    """The digits regression carried exactly onto 32x32 RGB images (each pixel a 4x4 block in
    a fixed tint), so its answers on that data are the real model's."""
    w8, b = onnx_builders.weights()
    mean, std = np.array([0.1, 0.05, 0.03], np.float32), np.array([0.3, 0.2, 0.1], np.float32)
    # logits = sum over c, blocks of W[c, y, x] * (img - mean[c]) / std[c]; choose W so that
    # this equals the 8x8 model on the block means of the un-normalised image.
    per = w8.reshape(8, 8, 10).repeat(4, 0).repeat(4, 1)  # (32, 32, 10)
    share = TINT / float((TINT**2).sum()) / 16.0
    w = (per[None] * (share * std)[:, None, None, None]).reshape(3 * 32 * 32, 10)
    bias = b + sum(float(mean[c]) * per.sum(axis=(0, 1)) * float(share[c]) for c in range(3))
    model = _linear_model(
        tmp_path / "rgb32.onnx", w.astype(np.float32), bias.astype(np.float32), ["N", 3, 32, 32]
    )
    x, y = onnx_builders.digits()
    rgb = x[1500:1700].repeat(4, 1).repeat(4, 2)[..., None] * TINT
    data = tmp_path / "rgb32.npz"
    np.savez(data, x=np.round(rgb * 255).astype(np.uint8), y=y[1500:1700])
    code, report, err = scan(
        model, data, tmp_path / "r.json", "--mean", "0.1,0.05,0.03", "--std", "0.3,0.2,0.1"
    )
    assert code == 0, err
    assert report["model"]["input"]["channels"] == 3 and report["model"]["input"]["height"] == 32
    assert report["data"]["mean"] == pytest.approx([0.1, 0.05, 0.03])
    assert report["xray"]["evidence"]["clean_accuracy_on_data"] > 0.85  # normalisation applied


def test_a_100_class_model_with_data_of_10_classes(tmp_path: Path) -> None:
    """Digit k is class 10k of 100; the other 90 outputs are never the answer on clean data."""
    w8, b8 = onnx_builders.weights()
    w = np.zeros((64, 100), np.float32)
    b = np.full(100, -20.0, np.float32)
    w[:, ::10], b[::10] = w8, b8
    model = _linear_model(tmp_path / "c100.onnx", w, b, ["N", 1, 8, 8])
    x, y = onnx_builders.digits()
    data = tmp_path / "c100.npz"
    np.savez(data, x=np.round(x[1500:1700] * 255).astype(np.uint8), y=y[1500:1700] * 10)
    code, report, err = scan(model, data, tmp_path / "r.json")
    assert code == 0, err
    assert report["model"]["num_classes"] == 100
    assert report["data"]["classes_covered"] == list(range(0, 100, 10))
    assert report["xray"]["evidence"]["clean_accuracy_on_data"] > 0.85


def test_a_keras_export_scans_and_answers_as_keras_did(tmp_path: Path) -> None:
    """Keras 3's own ONNX export (NHWC input, an unnamed score output), made by
    tests/fixtures/make_keras_fixture.py in an environment with Keras."""
    from scanner.backends.onnxruntime import OnnxRuntimeBackend

    fixture = REPO / "tests" / "fixtures" / "models" / "keras_cnn_nhwc.onnx"
    expected = json.loads(fixture.with_suffix(".json").read_text())
    x, _ = onnx_builders.digits()
    with OnnxRuntimeBackend(fixture, image_hwc=(8, 8, 1)) as backend:
        assert backend.input_spec.layout == "NHWC"
        labels = backend.predict_labels(x[1500:1700, :, :, None])
    assert labels.tolist() == expected["labels_on_digits_1500_1700"]
    data = onnx_builders.save_npz(tmp_path / "digits.npz")
    code, report, err = scan(fixture, data, tmp_path / "r.json")
    assert code == 0, err
    assert report["xray"]["verdict"] in ("clean", "infected")
    assert report["xray"]["evidence"]["clean_accuracy_on_data"] > 0.85


@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "NHW", "flat"])
@pytest.mark.parametrize("channels", [1, 3])
def test_scan_and_remediation_arrange_inputs_identically(layout: str, channels: int) -> None:
    # The scanner's queries (`arrange`) and remediation's PyTorch wrapper (`ImageModel`) must
    # hand the graph the same tensor, 3-channel flat inputs included (C, H, W order).
    import torch

    from scanner.backends.base import arrange
    from scanner.bridge.convert import ImageModel

    if layout == "NHW" and channels == 3:
        pytest.skip("an NHW input has one channel")
    x = np.random.default_rng(0).random((2, 4, 5, channels)).astype(np.float32)
    wrapper = ImageModel(
        torch.nn.Identity(), layout=layout, uint8_input=False, mean=None, std=None,  # type: ignore[arg-type]
        score_kind="logits", batch=None,  # type: ignore[arg-type]
    )  # fmt: skip
    got = wrapper(torch.from_numpy(x)).numpy()
    assert np.array_equal(got, arrange(x, layout))  # type: ignore[arg-type]
