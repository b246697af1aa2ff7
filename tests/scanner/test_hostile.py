"""Hostile and malformed input found by an audit: each case once made bdscan read a file it
should not, hang, allocate gigabytes, print an internal error, or leave an output behind."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result
from onnx import TensorProto, helper, numpy_helper

from scanner import batch
from scanner.cli import cli
from scanner.errors import OutputError
from tests import onnx_builders
from tests.conftest import EXAMPLES, bdscan

FAST = ["--planes", "2", "--resolution", "12", "--quiet"]


def run(*args: object) -> tuple[int, str]:
    r = bdscan(*args)
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, r.stderr
    return r.exit_code, r.stderr


def with_external_weight(tmp_path: Path, folder: str, location: str) -> Path:
    """The digits model with its weight W moved to external data at `location`."""
    model = onnx.load(str(onnx_builders.build(tmp_path / f"{folder}-src.onnx")))
    w = next(t for t in model.graph.initializer if t.name == "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "2560")):
        w.external_data.add(key=key, value=value)
    path = tmp_path / folder / "model.onnx"
    path.parent.mkdir()
    onnx.save(model, str(path))
    return path


def test_the_cache_key_never_opens_external_data_outside_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret.bin").write_bytes(bytes(2560))
    path = with_external_weight(tmp_path, "m", "../secret.bin")
    opened: list[Path] = []
    real = batch.sha256_file
    monkeypatch.setattr(batch, "sha256_file", lambda p: opened.append(Path(p)) or real(p))
    batch.model_fingerprint(path)
    assert opened == [path]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_special_files_as_external_data_are_refused_without_reading(
    tmp_path: Path, digits_npz: Path, kind: str
) -> None:
    if kind == "fifo":
        path = with_external_weight(tmp_path, "m", "weights.bin")
        os.mkfifo(path.parent / "weights.bin")  # opening it for reading would block forever
    else:
        path = with_external_weight(tmp_path, "m", "zero.bin")
        (path.parent / "zero.bin").symlink_to("/dev/zero")
    # The fingerprint runs first; a regression would block on the file, so it runs in a thread.
    done = threading.Event()
    worker = threading.Thread(target=lambda: (batch.model_fingerprint(path), done.set()))
    worker.daemon = True
    worker.start()
    assert done.wait(20), "the cache key read a special file"
    code, err = run("scan", path, "--data", digits_npz, *FAST)
    assert code == 2
    assert ("not a regular file" in err) or ("outside the model's folder" in err)


def gap_classifier(path: Path, size: int) -> Path:
    """A valid classifier whose input declares size x size pixels: global average pool, then
    one weight per class."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    w = numpy_helper.from_array(np.linspace(-1, 1, 10, dtype=np.float32)[None], "W")
    shape = numpy_helper.from_array(np.array([-1, 1], np.int64), "S")
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"]),
        helper.make_node("Reshape", ["g", "S"], ["f"]),
        helper.make_node("MatMul", ["f", "W"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "gap", [x], [y], [w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def test_a_huge_declared_input_is_refused_before_anything_is_allocated(
    tmp_path: Path, digits_npz: Path
) -> None:
    # 40000x40000 once made the scanner try to allocate 107 GiB of probe points.
    model = gap_classifier(tmp_path / "huge.onnx", 40000)
    code, err = run("scan", model, "--data", digits_npz, *FAST)
    assert code == 2
    # Refused from the graph alone, before the data set is even read.
    assert "huge.onnx" in err and "values per image" in err
    assert "1,600,000,000" in err and err.count("\n") == 1


def _npy_header(shape: tuple[int, ...], descr: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _bad_npz(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    if kind == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros((3, 8, 8), np.uint8))
    elif kind == "text":
        path.write_text("x,y\n1,2\n")
    elif kind == "liar":  # a few hundred bytes whose header claims 730 GiB
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("x.npy", _npy_header((10**9, 28, 28), "|u1"))
            z.writestr("y.npy", _npy_header((3,), "<i8") + np.arange(3).tobytes())
    elif kind == "identical":  # one image under every label: no plane through three of them
        np.savez(path, x=np.full((30, 8, 8), 7, np.uint8), y=np.arange(30) % 10)
    return path


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("npy", "not an .npz archive"),
        ("text", "not an .npz archive"),
        ("liar", "over the 4096 MB limit"),
        ("identical", "expected distinct images"),
    ],
)
def test_malformed_data_files_get_one_clear_line(
    tmp_path: Path,
    digits_model: Path,
    kind: str,
    expected: str,
) -> None:
    data = _bad_npz(tmp_path, kind)
    code, err = run("scan", digits_model, "--data", data, *FAST)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0] and data.name in lines[0], err
    # A bare .npy is not unpickled or loaded either: only zip archives are opened.
    assert "allow_pickle" not in err


@pytest.mark.parametrize("target", ["folder", "fifo"])
def test_outputs_that_cannot_be_files_are_usage_errors_before_scanning(
    tmp_path: Path,
    digits_model: Path,
    digits_npz: Path,
    target: str,
) -> None:
    out = tmp_path / "out"
    if target == "folder":
        out.mkdir()
    else:
        os.mkfifo(out)  # renaming a report over it would replace it (as root: /dev/null too)
    for option in ("--json", "--sarif", "--html"):
        code, err = run("scan", digits_model, "--data", digits_npz, *FAST, option, out)
        assert code == 4 and str(out) in err, err
    assert out.is_dir() if target == "folder" else out.is_fifo()


def test_calibrate_refuses_non_finite_statistics_and_folder_outputs(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    report = tmp_path / "r.json"
    code, _ = run("scan", digits_model, "--data", digits_npz, *FAST, "--json", report)
    assert code == 0
    doc = json.loads(report.read_text())
    doc["xray"]["evidence"]["universality"] = float("inf")  # json writes it as Infinity
    bad = tmp_path / "inf.json"
    bad.write_text(json.dumps(doc))
    code, err = run("calibrate", bad, "-o", tmp_path / "rule.json")
    assert code == 4 and "inf.json" in err and not (tmp_path / "rule.json").exists()
    (tmp_path / "dir").mkdir()
    code, err = run("calibrate", report, "-o", tmp_path / "dir")
    assert code == 4 and "folder" in err
    # The good report calibrates every threshold a verdict test uses, the spread test's too.
    code, _ = run("calibrate", report, "-o", tmp_path / "rule.json")
    rule = json.loads((tmp_path / "rule.json").read_text())["rule"]
    assert code == 0 and rule["spread_consistency_min"] >= 0.8


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # "Billion laughs": 364 bytes once cost 55 s, 2.5 GB and 2 GB of messages.
        (
            "laughs.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                for i in range(8)
            ),
            "aliases",
        ),
        ("deep.yaml", "[" * 100_000, "nested too deeply"),
        ("big.yaml", "# padding\n" * 200_000, "larger than a policy file can be"),
    ],
)
def test_hostile_policy_files_are_usage_errors(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, err = run("policy", "lint", path)
    assert code == 4 and expected in err and len(err) < 2000, err[:500]


def remediate(out: Path, json_path: Path, *extra: str) -> Result:
    """The example model repaired from the example clean data, through the CLI."""
    model, data = EXAMPLES / "models" / "badnets_cnn.onnx", EXAMPLES / "data" / "fmnist_clean.npz"
    args = ["remediate", str(model), "--clean-data", str(data), "-o", str(out)]
    return CliRunner().invoke(cli, [*args, "--json", str(json_path), *extra])


@contextlib.contextmanager
def _failing_write(path: str | Path) -> Iterator[io.StringIO]:
    raise OutputError(f"{path}: cannot write there: simulated")
    yield io.StringIO()  # pragma: no cover


def test_a_remediation_that_fails_after_the_repair_leaves_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import exporters.atomic

    monkeypatch.setattr(exporters.atomic, "atomic_write", _failing_write)
    out = tmp_path / "repaired.onnx"
    result = remediate(out, tmp_path / "rem.json", "--method", "finetune", "--no-rescan")
    assert result.exit_code == 2 and "simulated" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "the model or a staged file was left"


def test_remediate_refuses_a_folder_as_json_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "rem").mkdir()
    result = remediate(tmp_path / "out.onnx", tmp_path / "rem")
    assert result.exit_code == 4 and "is a folder" in result.stderr
    assert not (tmp_path / "out.onnx").exists()
