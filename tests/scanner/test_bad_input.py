"""Bad input never gets a traceback: one line naming the file, the documented exit code, and
nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests import onnx_builders
from tests.conftest import bdscan

FAST = ["--planes", "2", "--resolution", "12", "--quiet"]


def run(*args: object) -> tuple[int, str]:
    r = bdscan(*args)
    assert "Traceback" not in r.stdout + r.stderr
    return r.exit_code, r.stderr


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.onnx", None, "no such file"),
        ("empty.onnx", b"", "empty file"),
        ("text.onnx", b"this is not a model\n" * 10, "not a readable ONNX model"),
    ],
)
def test_unreadable_models(
    tmp_path: Path,
    digits_npz: Path,
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2
    line = one_line(err)
    assert str(path) in line and expected.lower() in line.lower()


def test_truncated_protobuf(tmp_path: Path, digits_model: Path, digits_npz: Path) -> None:
    raw = digits_model.read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(raw[: len(raw) // 2])
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2
    assert str(path) in one_line(err)


def test_model_that_is_not_a_classifier(tmp_path: Path, digits_npz: Path) -> None:
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])
    out = helper.make_tensor_value_info("same", TensorProto.FLOAT, ["N", 1, 8, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["image"], ["same"])], "g", [inp], [out])
    path = tmp_path / "identity.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.17+ reads
    onnx.save(model, str(path))
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2
    line = one_line(err)
    assert "not a classifier" in line and str(path) in line


def test_two_inputs_is_not_an_image_classifier(tmp_path: Path, digits_npz: Path) -> None:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 10])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 10])
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, ["N", 10])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["o"])], "g", [a, b], [o])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2 and "one input, found 2" in one_line(err)


def test_external_data_outside_the_model_folder_is_refused(
    tmp_path: Path, digits_npz: Path
) -> None:
    model = onnx.load(str(onnx_builders.build(tmp_path / "m.onnx")))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.zeros(640, np.float32).tobytes())
    inner = tmp_path / "models"
    inner.mkdir()
    w = next(t for t in model.graph.initializer if t.name == "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "2560")):
        w.external_data.add(key=key, value=value)
    path = inner / "escape.onnx"
    onnx.save(model, str(path))
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2
    assert "outside the model's folder" in one_line(err)


def test_external_data_inside_the_folder_is_allowed(tmp_path: Path, digits_npz: Path) -> None:
    model = onnx.load(str(onnx_builders.build(tmp_path / "m.onnx")))
    path = tmp_path / "ext" / "model.onnx"
    path.parent.mkdir()
    onnx.save(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (path.parent / "weights.bin").exists()
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 0, err


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x": np.zeros((20, 28, 28), np.uint8), "y": np.arange(20) % 10}, "8x8"),
        ({"x": np.zeros((20, 8, 8, 3), np.uint8), "y": np.arange(20) % 10}, "1-channel"),
        ({"x": np.zeros((20, 8, 8), np.uint8), "y": np.arange(20) % 12}, "10 classes"),
        ({"x": np.zeros((20, 8, 8), np.uint8), "y": np.arange(20) % 2}, "at least 3 classes"),
        ({"x": np.zeros((20, 8, 8), np.uint8)}, "expected arrays 'x' and 'y'"),
        ({"x": np.full((20, 8, 8), 3.0), "y": np.arange(20) % 10}, "float pixels in [0, 1]"),
        ({"x": np.zeros((20, 8, 8), np.uint8), "y": np.arange(19) % 10}, "one label per image"),
    ],
)
def test_data_that_does_not_fit(
    tmp_path: Path,
    digits_model: Path,
    arrays: dict,
    expected: str,
) -> None:
    data = _npz(tmp_path / "bad.npz", **arrays)
    code, err = run("scan", digits_model, "--data", data, *FAST)
    assert code == 2
    line = one_line(err)
    assert expected in line and "bad.npz" in line


def test_missing_and_non_npz_data(tmp_path: Path, digits_model: Path) -> None:
    code, err = run("scan", digits_model, "--data", tmp_path / "nope.npz", *FAST)
    assert code == 2 and "no such file" in one_line(err)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    code, err = run("scan", digits_model, "--data", junk, *FAST)
    assert code == 2 and "junk.npz" in one_line(err)


def test_pickled_object_arrays_are_not_loaded(tmp_path: Path, digits_model: Path) -> None:
    data = tmp_path / "pickled.npz"
    np.savez(data, x=np.array([object()] * 3, dtype=object), y=np.arange(3))
    code, err = run("scan", digits_model, "--data", data, *FAST)
    assert code == 2 and "pickled.npz" in one_line(err)


def test_unwritable_report_path_is_a_usage_error_before_scanning(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    out = tmp_path / "no" / "such" / "dir" / "r.json"
    code, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--json", out)
    assert code == 4
    assert "does not exist" in one_line(err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan"], "MODEL"),
        (["scan", "m.onnx"], "--data"),
        (["scan", "m.onnx", "--data", "d.npz", "--planes", "0"], "--planes"),
        (["scan", "m.onnx", "--data", "d.npz", "--grid", "sparse"], "--grid"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors_exit_4(args: list[str], expected: str) -> None:
    code, err = run(*args)
    assert code == 4
    assert expected in err


def test_bad_mean_std(digits_model: Path, digits_npz: Path) -> None:
    code, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--std", "0")
    assert code == 4 and "--std" in one_line(err)
    code, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--mean", "a,b")
    assert code == 4 and "--mean" in one_line(err)
    code, err = run("scan", digits_model, "--data", digits_npz, *FAST, "--mean", "0.1,0.2")
    assert code == 4 and "one value for this 1-channel model, got 2" in one_line(err)


def test_debug_shows_the_traceback(tmp_path: Path, digits_npz: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    assert "Traceback" in bdscan("scan", junk, "--data", digits_npz, "--debug").stderr


def test_user_model_is_never_modified(digits_model: Path, digits_npz: Path) -> None:
    before = digits_model.read_bytes()
    run("scan", digits_model, "--data", digits_npz, *FAST)
    assert digits_model.read_bytes() == before


def test_numpy_builders_make_valid_weights() -> None:
    w, _b = onnx_builders.weights()
    assert numpy_helper.from_array(w).dims == [64, 10]
    x, y = onnx_builders.digits()
    acc = (onnx_builders.reference_labels(x[1500:]) == y[1500:]).mean()
    assert acc > 0.9
