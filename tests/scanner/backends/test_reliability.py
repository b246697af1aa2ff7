"""Hostile files and hostile operators: workers that outlive the scanner, NaN answers, graphs
that would run for hours, contradictory declarations, and interrupted scans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from scanner.backends.graph_checks import MAX_LOOP_ITERATIONS, check_graph
from scanner.backends.onnx_graph import parse_model
from scanner.errors import ModelLoadError
from tests import onnx_builders
from tests.conftest import bdscan

FAST = ["--planes", "1", "--resolution", "8", "--quiet", "--no-cache"]


def run(*args: object) -> tuple[int, str]:
    r = bdscan(*args)
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, r.stderr
    return r.exit_code, r.stderr


def _rewire_logits(path: Path, out: Path, extra: list[onnx.NodeProto], inits=()) -> Path:
    """The digits model with `extra` nodes between its logits ("logits_in") and the output."""
    model = onnx.load(str(path))
    for node in model.graph.node:
        node.output[:] = ["logits_in" if o == "logits" else o for o in node.output]
    model.graph.node.extend(extra)
    model.graph.initializer.extend(list(inits))
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


@pytest.fixture()
def digits(tmp_path: Path) -> tuple[Path, Path]:
    return onnx_builders.build(tmp_path / "digits.onnx"), onnx_builders.save_npz(
        tmp_path / "digits.npz"
    )


# --- non-finite outputs: a finding (BDS205), never a verdict --------------------------------------


def test_a_model_answering_nan_is_a_finding_not_a_clean_verdict(
    tmp_path: Path, digits: tuple[Path, Path]
) -> None:
    model, data = digits
    nan = numpy_helper.from_array(np.array(np.nan, np.float32), "nan")
    bad = _rewire_logits(
        model,
        tmp_path / "nan.onnx",
        [helper.make_node("Mul", ["logits_in", "nan"], ["logits"])],
        [nan],
    )
    code, err = run(
        "scan",
        bad,
        "--data",
        data,
        *FAST,
        "--json",
        tmp_path / "r.json",
        "--sarif",
        tmp_path / "r.sarif",
        "--policy",
        "default",
    )
    assert code == 1
    assert "BDS205" in err and "NaN" in err and str(bad) in err
    report = json.loads((tmp_path / "r.json").read_text())
    entry = report["models"][0]
    assert entry["error"]["kind"] == "NonFiniteOutputError"
    assert [f["rule_id"] for f in entry["policy"]["violations"]] == ["BDS205"]
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["BDS205"]


def test_inf_on_some_inputs_only_still_stops_the_scan(
    tmp_path: Path, digits: tuple[Path, Path]
) -> None:
    """Inf only where an image has a saturated pixel: a hidden answer, not a clean model."""
    model, data = digits
    nodes = [
        helper.make_node("ReduceMax", ["image"], ["peak"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Greater", ["peak", "almost_one"], ["saturated"]),
        helper.make_node("Where", ["saturated", "inf", "zero"], ["shift"]),
        helper.make_node("Unsqueeze", ["shift", "axis1"], ["shift_col"]),
        helper.make_node("Add", ["logits_in", "shift_col"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.99, np.float32), "almost_one"),
        numpy_helper.from_array(np.array(np.inf, np.float32), "inf"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    bad = _rewire_logits(model, tmp_path / "inf.onnx", nodes, inits)
    # Without a policy the finding still fails the run.
    code, err = run("scan", bad, "--data", data, *FAST)
    assert code == 1 and "BDS205" in err and "Inf" in err


def test_a_label_output_beside_nan_scores_is_used_and_scans(tmp_path: Path) -> None:
    """Only the output that gives labels is read: NaN in an unused output is not a finding."""
    model = onnx.load(str(onnx_builders.build(tmp_path / "m.onnx", output="label_and_logits")))
    model.graph.node.append(helper.make_node("Mul", ["logits", "nan"], ["junk"]))
    model.graph.initializer.append(numpy_helper.from_array(np.array(np.nan, np.float32), "nan"))
    model.graph.output.append(helper.make_tensor_value_info("junk", TensorProto.FLOAT, ["N", 10]))
    onnx.save(model, str(tmp_path / "m2.onnx"))
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    code, err = run("scan", tmp_path / "m2.onnx", "--data", data, *FAST)
    assert code == 0 and "BDS205" not in err


# --- static refusal of time bombs and contradictory graphs ----------------------------------------


def _loop_body(inner_trips: int | None = None, p: str = "") -> onnx.GraphProto:
    """A Loop body that adds zero to its carried value; optionally through a nested Loop.
    `p` prefixes every name: names must be unique across nested scopes (SSA)."""
    nodes = [helper.make_node("Identity", [f"{p}cond_in"], [f"{p}cond_out"])]
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), f"{p}zero")]
    if inner_trips is None:
        nodes.append(helper.make_node("Add", [f"{p}acc_in", f"{p}zero"], [f"{p}acc_out"]))
    else:
        inits += [
            numpy_helper.from_array(np.array(inner_trips, np.int64), f"{p}inner_trips"),
            numpy_helper.from_array(np.array(True), f"{p}inner_go"),
        ]
        loop = helper.make_node(
            "Loop",
            [f"{p}inner_trips", f"{p}inner_go", f"{p}acc_in"],
            [f"{p}acc_out"],
            body=_loop_body(p=f"{p}inner_"),
        )
        nodes.append(loop)
    return helper.make_graph(
        nodes,
        f"{p}body",
        [
            helper.make_tensor_value_info(f"{p}i", TensorProto.INT64, []),
            helper.make_tensor_value_info(f"{p}cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{p}acc_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info(f"{p}cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{p}acc_out", TensorProto.FLOAT, None),
        ],
        initializer=inits,
    )


def _loop_model(
    tmp_path: Path, trip: int | None, *, computed: bool = False, inner_trips: int | None = None
) -> Path:
    """The digits model whose logits pass through a Loop that adds zero `trip` times."""
    inits = [numpy_helper.from_array(np.array(True), "go")]
    nodes = []
    trip_name = ""
    if trip is not None:
        inits.append(numpy_helper.from_array(np.array(trip, np.int64), "trips"))
        trip_name = "trips"
        if computed:
            nodes.append(helper.make_node("Abs", ["trips"], ["trips_abs"]))
            trip_name = "trips_abs"
    body = _loop_body(inner_trips)
    nodes.append(helper.make_node("Loop", [trip_name, "go", "logits_in"], ["logits"], body=body))
    base = onnx_builders.build(tmp_path / "base.onnx")
    name = f"loop-{trip}-{computed}-{inner_trips}.onnx"
    return _rewire_logits(base, tmp_path / name, nodes, inits)


def test_a_loop_bomb_is_refused_before_it_runs(tmp_path: Path) -> None:
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    bomb = _loop_model(tmp_path, 10**15)
    started = time.monotonic()
    code, err = run("scan", bomb, "--data", data, *FAST)
    assert code == 2 and "Loop" in err and "time bomb" in err and str(bomb) in err
    assert time.monotonic() - started < 10  # refused statically, not after a timeout


@pytest.mark.parametrize(
    ("trip", "computed", "says"),
    [(None, False, "no trip count"), (5, True, "computed value")],
)
def test_loops_that_cannot_be_bounded_are_refused(
    tmp_path: Path, trip: int | None, computed: bool, says: str
) -> None:
    with pytest.raises(ModelLoadError, match=says):
        parse_model(_loop_model(tmp_path, trip, computed=computed))


def test_a_small_constant_loop_is_reported_and_scanned(tmp_path: Path) -> None:
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    model = _loop_model(tmp_path, 3)
    assert parse_model(model).facts.control_flow == ("Loop x1",)
    code, err = run("scan", model, "--data", data, *FAST, "--json", tmp_path / "r.json")
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["model"]["control_flow"] == ["Loop x1"]


def test_nested_loops_are_bounded_by_their_product(tmp_path: Path) -> None:
    inner = MAX_LOOP_ITERATIONS // 10 + 1  # fine alone, over the limit ten times over
    check_graph(onnx.load(str(_loop_model(tmp_path, 1, inner_trips=inner))), tmp_path)
    with pytest.raises(ModelLoadError, match="iterations"):
        parse_model(_loop_model(tmp_path, 11, inner_trips=inner))


def test_an_output_listed_twice_with_two_types_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(onnx_builders.build(tmp_path / "m.onnx")))
    model.graph.output.append(helper.make_tensor_value_info("logits", TensorProto.INT64, ["N"]))
    onnx.save(model, str(tmp_path / "dup.onnx"))
    with pytest.raises(ModelLoadError, match="lists output 'logits' more than once"):
        parse_model(tmp_path / "dup.onnx")


def test_deeply_nested_subgraphs_give_one_line(tmp_path: Path) -> None:
    """If inside If, 29 deep (near protobuf's own nesting limit): the walks are iterative,
    so no RecursionError anywhere."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x_outer"], ["y0"])],
        "g0",
        [],
        [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)],
    )
    for depth in range(1, 30):
        leaf = helper.make_graph(
            [helper.make_node("Identity", ["x_outer"], [f"e{depth}"])],
            f"leaf{depth}",
            [],
            [helper.make_tensor_value_info(f"e{depth}", TensorProto.FLOAT, None)],
        )
        # Nested down one branch only: two copies per level would double the size each time.
        node = helper.make_node("If", ["cond"], [f"y{depth}"], then_branch=graph, else_branch=leaf)
        graph = helper.make_graph(
            [node],
            f"g{depth}",
            [],
            [helper.make_tensor_value_info(f"y{depth}", TensorProto.FLOAT, None)],
        )
    main_graph = helper.make_graph(
        list(graph.node),
        "main",
        [helper.make_tensor_value_info("x_outer", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y29", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.array(True), "cond")],
    )
    model = helper.make_model(main_graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "deep.onnx"
    onnx.save(model, str(path))
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    code, err = run("scan", path, "--data", data, *FAST)
    assert code == 2 and str(path) in err and len(err.strip().splitlines()) == 1


# --- the worker never outlives the scanner --------------------------------------------------------


def _children_workers(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (
            b"scanner.backends._worker" in cmd
            and f"BDSCAN_WORKER_PARENT={parent}\0".encode() in env
        ):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _start_long_scan(tmp_path: Path) -> subprocess.Popen[bytes]:
    model = onnx_builders.build(tmp_path / "m.onnx")
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    env = {**os.environ, "BDSCAN_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scanner",
            "scan",
            str(model),
            "--data",
            str(data),
            "--planes",
            "400",
            "--resolution",
            "60",
            "--quiet",
            "--no-cache",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_worker_survives_a_killed_scan(tmp_path: Path, sig: signal.Signals) -> None:
    scan = _start_long_scan(tmp_path)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers and time.monotonic() < deadline and scan.poll() is None:
            time.sleep(0.2)
            workers = _children_workers(scan.pid)
        assert workers, "the scan never started its worker"
        time.sleep(0.5)
        scan.send_signal(sig)
        code = scan.wait(timeout=30)
        if sig == signal.SIGTERM:
            assert code == 143, scan.stderr.read() if scan.stderr else ""  # type: ignore[union-attr]
            assert b"Traceback" not in scan.stderr.read()  # type: ignore[union-attr]
        time.sleep(5)
        assert not [w for w in workers if _alive(w)]
    finally:
        if scan.poll() is None:
            scan.kill()
        for w in _children_workers(scan.pid):
            os.kill(w, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_on_a_folder_scan_exits_130_and_keeps_finished_results(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    onnx_builders.build(folder / "a.onnx")
    onnx_builders.build(folder / "b.onnx", layout="NHWC")
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    cache = tmp_path / "cache"
    report = tmp_path / "out" / "r.json"
    report.parent.mkdir()
    env = {**os.environ, "BDSCAN_CACHE_DIR": str(cache)}
    # a.onnx is quick; b.onnx is still running when Ctrl-C arrives.
    scan = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from scanner.cli import main; sys.exit(main(sys.argv[1:]))",
            "scan",
            str(folder),
            "--data",
            str(data),
            "--quiet",
            "--json",
            str(report),
            "--planes",
            "300",
            "--resolution",
            "40",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A run started in the background (`make test &`) inherits SIGINT ignored, and Python
        # then installs no Ctrl-C handler: give the scan the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(cache.rglob("*.json")):
            assert scan.poll() is None, scan.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.2)
        workers = []
        while not workers and time.monotonic() < deadline:
            workers = _children_workers(scan.pid)
            time.sleep(0.1)
        scan.send_signal(signal.SIGINT)
        code = scan.wait(timeout=30)
        err = scan.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        if scan.poll() is None:
            scan.kill()
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert len(list(cache.rglob("*.json"))) == 1  # the finished model stays cached
    assert list(report.parent.iterdir()) == []  # no report, no temporary file
    time.sleep(2)
    assert not [w for w in workers if _alive(w)]


def _memory_hungry_model(path: Path) -> Path:
    """Scores from an 8x8 input through a Tile that needs 4 MB per sample (2 GB for 512)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((64, 10)).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1, 16384], np.int64), "reps"),
        numpy_helper.from_array(np.array([0, 64], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("Tile", ["flat", "reps"], ["big"]),
        helper.make_node("ReduceMax", ["big"], ["m"], keepdims=1, axes=[1]),
        helper.make_node("MatMul", ["flat", "w"], ["s0"]),
        helper.make_node("Add", ["s0", "m"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hungry",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_a_batch_that_does_not_fit_the_memory_limit_is_split_not_fatal(tmp_path: Path) -> None:
    """onnxruntime cannot allocate 512 samples' activations under a 1 GB limit: the backend
    halves its batches until they fit, with the labels a roomier worker gives."""
    from scanner.backends.onnxruntime import OnnxRuntimeBackend

    model = _memory_hungry_model(tmp_path / "hungry.onnx")
    x = np.random.default_rng(1).random((512, 8, 8, 1)).astype(np.float32)
    with OnnxRuntimeBackend(model, memory_mb=1024, device="cpu") as tight:
        labels = tight.predict_labels(x)
        assert tight._max_rows is not None and tight._max_rows < 512
    with OnnxRuntimeBackend(model, memory_mb=8192, device="cpu") as roomy:
        np.testing.assert_array_equal(labels, roomy.predict_labels(x))
        assert roomy._max_rows is None
