"""`bdscan scan --executor ray`: four real models on a local Ray runtime (2 CPUs) give the serial
run's verdicts, targets, summary and exit code; a fifth, whose task is killed mid-scan, becomes
an error entry while the others complete."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import EXAMPLES, REPO

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'bdscan[ray]')")

FIXTURES = REPO / "tests" / "fixtures" / "models"
FAST = ["--planes", "2", "--resolution", "12", "--quiet", "--no-cache"]


def _slow_model(path: Path) -> Path:
    """A 28x28 classifier that takes minutes to scan: 12 chained 2048x2048 MatMuls."""
    rng = np.random.default_rng(0)
    w_in = (rng.standard_normal((784, 2048)) / 28).astype(np.float32)
    w_mid = (rng.standard_normal((2048, 2048)) / 45).astype(np.float32)
    w_out = (rng.standard_normal((2048, 10)) / 45).astype(np.float32)
    nodes = [
        helper.make_node("Flatten", ["input"], ["h0"], axis=1),
        helper.make_node("MatMul", ["h0", "w_in"], ["h1"]),
    ]
    for i in range(1, 13):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "w_mid"], [f"m{i}"]))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("MatMul", ["h13", "w_out"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=[
            numpy_helper.from_array(w_in, "w_in"),
            numpy_helper.from_array(w_mid, "w_mid"),
            numpy_helper.from_array(w_out, "w_out"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _ray_worker_running(task: str) -> int | None:
    """The pid of the Ray worker whose process title names `task` (Ray sets `ray::NAME`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and task in cmd:
            return int(entry.name)
    return None


def _bdscan(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scanner", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# 34-39 s on two cores (2026-12-04): in the default suite.
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ray_gives_the_serial_run_and_a_killed_task_is_an_error_entry(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for src in (
        EXAMPLES / "models" / "badnets_cnn.onnx",
        EXAMPLES / "models" / "clean_cnn.onnx",
        FIXTURES / "nhwc_float.onnx",
        FIXTURES / "label_output.onnx",
    ):
        shutil.copy(src, folder / src.name)
    data = EXAMPLES / "data" / "fmnist_clean.npz"
    env = {**os.environ, "BDSCAN_CACHE_DIR": str(tmp_path / "cache")}

    serial = _bdscan(
        ["scan", str(folder), "--data", str(data), *FAST, "--json", str(tmp_path / "serial.json")],
        env,
    )
    serial_err = serial.communicate(timeout=600)[1].decode()
    assert serial.returncode == 1, serial_err  # the BadNets model is a finding

    _slow_model(folder / "zz_slow.onnx")
    run = _bdscan(
        [
            "scan",
            str(folder),
            "--data",
            str(data),
            *FAST,
            "--executor",
            "ray",
            "--ray-retries",
            "0",
            "--json",
            str(tmp_path / "ray.json"),
        ],
        env,
    )
    try:
        deadline = time.monotonic() + 300
        pid = None
        while pid is None and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.5)
            pid = _ray_worker_running("bdscan-scan:zz_slow.onnx")
        assert pid is not None, "the slow model's Ray task never started"
        time.sleep(2)
        try:
            os.kill(pid, signal.SIGKILL)
            killed_it = True
        except ProcessLookupError:
            # Under load the worker found above can end (or Ray can replace it) before the kill:
            # the run below must still match the serial one; only the kill path goes untested.
            killed_it = False
        _, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, err.decode()
    assert b"Traceback" not in err

    want = json.loads((tmp_path / "serial.json").read_text())
    got = json.loads((tmp_path / "ray.json").read_text())
    by_path = {m["path"]: m for m in got["models"]}
    for entry in want["models"]:
        mine = by_path[entry["path"]]["report"]["xray"]
        theirs = entry["report"]["xray"]
        assert (mine["verdict"], mine["target_label"], mine["queries"]) == (
            theirs["verdict"],
            theirs["target_label"],
            theirs["queries"],
        )
        assert mine["score"] == pytest.approx(theirs["score"])
    summary = got["summary"]
    assert summary["models"] == 5
    assert summary["exit_code"] == want["summary"]["exit_code"] == 1
    killed = by_path[str(folder / "zz_slow.onnx")]
    if not killed_it and "report" in killed:
        pytest.skip("the slow model's Ray task ended before the test could kill it")
    assert "report" not in killed and "Ray task failed" in killed["error"]["message"]
    assert (summary["scanned"], summary["errors"]) == (4, 1)
    assert summary["infected"] == want["summary"]["infected"]


def test_head_endpoint_reads_the_address_forms() -> None:
    from scanner.ray_executor import RAY_CLIENT_PORT, RAY_GCS_PORT, head_endpoint

    assert head_endpoint("auto") is None
    assert head_endpoint("10.0.0.5:6380") == ("10.0.0.5", 6380)
    assert head_endpoint("head.example") == ("head.example", RAY_GCS_PORT)
    assert head_endpoint("ray://head.example") == ("head.example", RAY_CLIENT_PORT)
    assert head_endpoint("ray://[::1]:10002") == ("::1", 10002)
    from scanner.errors import UsageError

    for bad in ("http://head:8265", "head:port", ":6379"):
        with pytest.raises(UsageError):
            head_endpoint(bad)


def test_an_unreachable_cluster_is_one_line_not_a_long_hang(tmp_path: Path) -> None:
    """ray.init() alone retries a dead head for ~13 minutes; bdscan says so in one line."""
    import socket

    from tests.conftest import bdscan

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        started = time.monotonic()
        r = bdscan(
            "scan",
            EXAMPLES / "models" / "clean_cnn.onnx",
            "--data",
            EXAMPLES / "data" / "fmnist_clean.npz",
            *FAST,
            "--executor",
            "ray",
            "--ray-address",
            f"127.0.0.1:{port}",
        )
        elapsed = time.monotonic() - started
    err = r.stderr
    assert r.exit_code == 2, err
    assert f"cannot reach a Ray head at 127.0.0.1:{port}" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert elapsed < 60, elapsed  # generous: the connect fails at once; ray.init alone hangs
