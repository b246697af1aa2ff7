"""Scanning a model behind an Open Inference Protocol endpoint: a real MLServer on 127.0.0.1
serving the digits model, behind a proxy that injects 429s (with Retry-After), 503s and
dropped connections. MLServer lives in its own environment (`make oip-server`, run by `make
test`); where it could not be installed these tests are skipped and say so."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.backends.remote import parse_endpoint
from scanner.errors import UsageError
from tests import onnx_builders
from tests.conftest import REPO, bdscan

ROOT = REPO
MLSERVER = Path(os.environ.get("BDSCAN_TEST_MLSERVER", ROOT / ".venv-oip" / "bin" / "mlserver"))
FAST = ["--planes", "2", "--resolution", "10", "--quiet", "--no-cache", "--api-batch", "1024"]

needs_server = pytest.mark.skipif(
    not MLSERVER.exists(),
    reason=f"MLServer is not installed at {MLSERVER} (make oip-server could not install it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlserver exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/models/digits/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("mlserver did not become ready")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """(port, answered-counter file, data) of an MLServer serving the digits model."""
    if not MLSERVER.exists():
        pytest.skip(f"MLServer is not installed at {MLSERVER}")
    root = tmp_path_factory.mktemp("oip")
    model_dir = root / "digits"
    model_dir.mkdir()
    onnx_builders.build(model_dir / "model.onnx")
    shutil.copy(REPO / "tests" / "oip" / "onnx_runtime.py", model_dir / "onnx_runtime.py")
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "digits",
                "implementation": "onnx_runtime.OnnxClassifier",
                "parameters": {"uri": str(model_dir / "model.onnx")},
                "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 1, 8, 8]}],
                "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
            }
        )
    )
    port = _free_port()
    (root / "settings.json").write_text(
        json.dumps(
            {
                "http_port": port,
                "grpc_port": _free_port(),
                "metrics_port": _free_port(),
                "host": "127.0.0.1",
                "parallel_workers": 0,
                "metrics_endpoint": None,
            }
        )
    )
    log = (root / "mlserver.log").open("wb")
    proc = subprocess.Popen(
        [str(MLSERVER), "start", str(root)], stdout=log, stderr=subprocess.STDOUT, cwd=root
    )
    try:
        _wait_ready(port, proc)
        yield port, model_dir / "answered.txt", onnx_builders.save_npz(root / "digits.npz")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class FaultProxy:
    """Forwards to the server, except that request k (counted from 1) gets a 429 with
    Retry-After when k % 7 == 3, a 503 when k % 7 == 5, and a dropped connection when
    k % 11 == 4. Faults are answered before forwarding, so the server answers each sample the
    scanner counts exactly once. With `faults=False` it forwards faithfully; `cut_after` (set
    at any time) refuses every inference request after that many, as a server taken down would.
    """

    def __init__(self, upstream: int, *, faults: bool = True) -> None:
        self.requests = 0
        self.inferences = 0
        self.cut_after: int | None = None
        self.faults = {"429": 0, "503": 0, "drop": 0}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.requests += 1
                k = proxy.requests if faults else 0
                if self.path.endswith("/infer"):
                    proxy.inferences += 1
                    cut = proxy.cut_after
                    if cut is not None and proxy.inferences > cut:
                        self.send_response(400)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                if self.path.endswith("/infer") and k % 11 == 4:
                    proxy.faults["drop"] += 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if self.path.endswith("/infer") and k % 7 in (3, 5):
                    status = 429 if k % 7 == 3 else 503
                    proxy.faults[str(status)] += 1
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0.05")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                headers = {"Content-Type": "application/json"}
                if "Authorization" in self.headers:
                    headers["Authorization"] = self.headers["Authorization"]
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = _handle

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a dropped connection is the point, not an error to print

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _answered(counter: Path) -> int:
    return int(counter.read_text()) if counter.exists() else 0


def _scan(*args: object) -> tuple[int, str]:
    r = bdscan(*args)
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, r.stderr
    return r.exit_code, r.stderr


@needs_server
def test_an_endpoint_scan_matches_the_file_scan_through_faults(
    tmp_path: Path, server: tuple[int, Path, Path]
) -> None:
    port, counter, data = server
    model = tmp_path / "digits.onnx"
    onnx_builders.build(model)  # the same bytes the server serves
    code_file, _ = _scan("scan", model, "--data", data, *FAST, "--json", tmp_path / "f.json")
    proxy = FaultProxy(port)
    try:
        url = f"http://127.0.0.1:{proxy.port}/v2/models/digits"
        before = _answered(counter)
        os.environ["BDSCAN_API_TOKEN"] = "s3cret-token-never-printed"
        try:
            code, err = _scan(
                "scan",
                url,
                "--data",
                data,
                *FAST,
                "--json",
                tmp_path / "e.json",
                "--cache-dir",
                tmp_path / "cache",
                "--no-resume",
            )
        finally:
            del os.environ["BDSCAN_API_TOKEN"]
    finally:
        proxy.close()
    assert code == code_file, err
    file_report = json.loads((tmp_path / "f.json").read_text())["xray"]
    text = (tmp_path / "e.json").read_text()
    assert "s3cret" not in text and "s3cret" not in err
    report = json.loads(text)
    xray, endpoint = report["xray"], report["model"]["endpoint"]
    assert (xray["verdict"], xray["target_label"]) == (
        file_report["verdict"],
        file_report["target_label"],
    )
    assert xray["score"] == pytest.approx(file_report["score"])
    assert min(proxy.faults.values()) > 0  # every kind of fault happened and was survived
    assert endpoint["retries"] == sum(proxy.faults.values())
    # What the server answered is what the report says was sent: nothing lost, nothing twice.
    assert _answered(counter) - before == endpoint["queries_sent"]
    assert endpoint["queries_from_journal"] == 0
    assert report["model"]["path"] == url and report["model"]["provider"].startswith("oip-v2")


@needs_server
def test_a_resumed_scan_sends_no_query_twice(
    tmp_path: Path, server: tuple[int, Path, Path]
) -> None:
    port, counter, data = server
    proxy = FaultProxy(port, faults=False)
    try:
        url = f"http://127.0.0.1:{proxy.port}/v2/models/digits"
        cache = tmp_path / "cache"
        before = _answered(counter)
        # Interrupted: the server goes away part-way, after some queries were paid for.
        proxy.cut_after = 3
        code, err = _scan("scan", url, "--data", data, *FAST, "--cache-dir", cache)
        assert code == 2 and "400" in err, err
        proxy.cut_after = None
        paid_first = _answered(counter) - before
        assert paid_first > 0

        def rescan(name: str) -> tuple[int, str]:
            out = tmp_path / name
            return _scan("scan", url, "--data", data, *FAST, "--cache-dir", cache, "--json", out)

        code, err = rescan("r.json")
        assert code == 0, err
        endpoint = json.loads((tmp_path / "r.json").read_text())["model"]["endpoint"]
        paid_second = _answered(counter) - before - paid_first
        assert endpoint["queries_sent"] == paid_second
        assert endpoint["queries_from_journal"] >= paid_first  # replayed, not paid again
        unique = endpoint["queries_sent"] + endpoint["queries_from_journal"]
        # A third run pays for nothing at all.
        rescan("s.json")
        again = json.loads((tmp_path / "s.json").read_text())["model"]["endpoint"]
        assert again["queries_sent"] == 0 and again["queries_from_journal"] >= unique - 5
    finally:
        proxy.close()


@needs_server
def test_permanent_refusals_are_one_line(tmp_path: Path, server: tuple[int, Path, Path]) -> None:
    port, _, data = server
    code, err = _scan(
        "scan",
        f"http://127.0.0.1:{port}/v2/models/nosuchmodel",
        "--data",
        data,
        *FAST,
        "--cache-dir",
        tmp_path,
    )
    assert code == 2 and "HTTP 404" in err and len(err.strip().splitlines()) == 1


def test_endpoint_urls_are_checked_before_anything_runs(tmp_path: Path) -> None:
    assert parse_endpoint("https://h:8080/v2/models/m/versions/3").path == "/v2/models/m/versions/3"
    with pytest.raises(UsageError, match="credentials"):
        parse_endpoint("https://user:pw@h/v2/models/m")
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    code, err = _scan("scan", "https://h/v1/models/m", "--data", data, *FAST)
    assert code == 4 and "Open Inference Protocol" in err


def test_an_endpoint_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    data = onnx_builders.save_npz(tmp_path / "d.npz")
    url = f"http://127.0.0.1:{_free_port()}/v2/models/m"
    code, err = _scan(
        "scan", url, "--data", data, *FAST, "--api-timeout", "1", "--cache-dir", tmp_path
    )
    assert code == 2 and "cannot connect" in err and url in err
    assert len(err.strip().splitlines()) == 1


@needs_server
def test_a_hosted_model_scanned_within_a_budget_is_never_asked_more(
    tmp_path: Path, server: tuple[int, Path, Path]
) -> None:
    # Counted by the server itself: what a hosted model would bill.
    port, counter, data = server
    url = f"http://127.0.0.1:{port}/v2/models/digits"
    before = _answered(counter)
    out = tmp_path / "r.json"
    code, err = _scan(
        "scan", url, "--data", data, "--quiet", "--no-cache", "--no-resume",
        "--api-batch", "1024", "--max-queries", "12000", "--json", out,
    )  # fmt: skip
    assert code == 0, err
    paid = _answered(counter) - before
    report = json.loads(out.read_text())
    assert 0 < paid <= 12_000
    assert report["model"]["endpoint"]["queries_sent"] == paid
    assert report["xray"]["evidence"]["plan"]["budget"] == 12_000
