"""A hosted model behind the Open Inference Protocol (KServe v2 REST), as a hard-label backend.

`GET /v2/models/NAME[/versions/V]` gives the input spec; `POST .../infer` answers named tensors
(a label tensor, or scores whose argmax is taken here: only the label is used). The endpoint is
as hostile as a model file: every answer is parsed and checked, never trusted for its shape.

What a paid, rate-limited API needs:
- a rate limit (`rate`, requests per second) and a timeout per request;
- retries with exponential backoff and jitter for transient faults (429 honouring Retry-After,
  502/503/504, dropped connections, timeouts); permanent ones (400, 401, 403, 404, 422, a shape
  the endpoint refuses) are one clear line;
- a query journal on disk (SQLite), keyed by the endpoint and each sample's bytes, so a scan
  interrupted after 50,000 paid queries resumes without paying for them again;
- a bearer token from BDSCAN_API_TOKEN, never printed, logged or written to a report.
Counts: `sent` is what the server answered, `from_journal` what the journal did.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
import socket
import sqlite3
import ssl
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scanner.backends.base import InputSpec, Layout
from scanner.backends.onnxruntime import OutputChoice, choose_output, resolve_layout, to_model_input
from scanner.errors import ModelLoadError, ModelRuntimeError, NonFiniteOutputError, UsageError

TOKEN_ENV = "BDSCAN_API_TOKEN"
# Hand-set defaults; each is a flag.
DEFAULT_API_TIMEOUT_S = 30.0
DEFAULT_API_BATCH = 256  # samples per request: JSON bodies of 28x28 floats stay near 2 MB
MAX_RETRIES = 8
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 30.0
MAX_RESPONSE_BYTES = 256 << 20

_ENDPOINT = re.compile(
    r"^(?P<scheme>https?)://(?P<netloc>[^/?#]+)"
    r"/v2/models/(?P<model>[^/?#]+)(?:/versions/(?P<version>[^/?#]+))?/?$"
)
_DTYPES: dict[str, str] = {
    "FP32": "float32",
    "FP16": "float16",
    "FP64": "float64",
    "UINT8": "uint8",
}
_TRANSIENT_STATUS = {429, 502, 503, 504}


def is_endpoint(target: str | Path) -> bool:
    """Whether a MODEL argument names an endpoint rather than a file."""
    return str(target).startswith(("http://", "https://"))


@dataclass(frozen=True)
class Endpoint:
    url: str
    scheme: Literal["http", "https"]
    netloc: str
    model: str
    version: str | None

    @property
    def path(self) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"/v2/models/{self.model}{version}"


def parse_endpoint(url: str) -> Endpoint:
    """`http(s)://HOST[:PORT]/v2/models/NAME[/versions/V]`; UsageError otherwise."""
    m = _ENDPOINT.match(url)
    if m is None:
        raise UsageError(
            f"{url}: expected an Open Inference Protocol endpoint,"
            " http(s)://HOST[:PORT]/v2/models/NAME[/versions/V]"
        )
    if "@" in m["netloc"]:
        # A credential in the URL would end up in reports and logs.
        raise UsageError(
            "the model URL carries credentials; put a bearer token in BDSCAN_API_TOKEN instead"
        )
    return Endpoint(url, m["scheme"], m["netloc"], m["model"], m["version"])  # type: ignore[arg-type]


@dataclass(frozen=True)
class ApiConfig:
    rate: float | None = None  # requests per second; None: as fast as the server answers
    timeout: float = DEFAULT_API_TIMEOUT_S
    batch: int = DEFAULT_API_BATCH
    max_retries: int = MAX_RETRIES
    resume: bool = True  # read and write the query journal
    journal_dir: Path | None = None  # default: beside the result cache
    insecure: bool = False  # only for tests against a self-signed server; never the default


class _Transient(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


@dataclass
class _Counters:
    requests: int = 0  # answered requests
    retries: int = 0
    sent: int = 0  # samples the server answered
    from_journal: int = 0
    faults: dict[str, int] = field(default_factory=dict)


class HttpClient:
    """JSON over one persistent HTTP(S) connection, with retries, backoff and a rate limit."""

    def __init__(self, endpoint: Endpoint, config: ApiConfig) -> None:
        self.endpoint = endpoint
        self.config = config
        self.counters = _Counters()
        self._conn: http.client.HTTPConnection | None = None
        self._last_request = 0.0
        token = os.environ.get(TOKEN_ENV, "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._rng = random.Random()

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.endpoint.scheme == "https":
                ctx = ssl.create_default_context()
                if self.config.insecure:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                self._conn = http.client.HTTPSConnection(
                    self.endpoint.netloc, timeout=self.config.timeout, context=ctx
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self.endpoint.netloc, timeout=self.config.timeout
                )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _pace(self) -> None:
        if self.config.rate:
            wait = self._last_request + 1.0 / self.config.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()

    def _once(self, method: str, path: str, body: bytes | None) -> Any:
        conn = self._connect()
        self._pace()
        try:
            conn.request(method, path, body=body, headers=self._headers)
            resp = conn.getresponse()
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
        except TimeoutError as e:
            self.close()
            raise _Transient("timed out") from e
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            self.close()
            if isinstance(e, ssl.SSLCertVerificationError):
                raise ModelLoadError(
                    f"{self.endpoint.url}: TLS certificate not trusted ({e.reason})"
                ) from None
            if self.counters.requests == 0 and isinstance(
                e, ConnectionRefusedError | socket.gaierror
            ):
                # Never reached at all: a wrong host or port, not a server restarting.
                raise ModelLoadError(
                    f"{self.endpoint.url}: cannot connect ({type(e).__name__}); is the server"
                    " running at this address?"
                ) from None
            raise _Transient(type(e).__name__) from e
        if resp.status in _TRANSIENT_STATUS:
            retry_after = _retry_after(resp.getheader("Retry-After"))
            raise _Transient(f"HTTP {resp.status}", retry_after)
        if resp.status >= 400:
            raise ModelRuntimeError(
                f"{self.endpoint.url}: the endpoint answered HTTP {resp.status}"
                f" ({_reason(resp.status)}){_detail(raw)}"
            )
        if len(raw) > MAX_RESPONSE_BYTES:
            raise ModelRuntimeError(f"{self.endpoint.url}: answer larger than allowed")
        try:
            return json.loads(raw)
        except ValueError:
            raise ModelRuntimeError(f"{self.endpoint.url}: the answer is not JSON") from None

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        for attempt in range(self.config.max_retries + 1):
            try:
                answer = self._once(method, path, body)
            except _Transient as t:
                self.counters.faults[str(t)] = self.counters.faults.get(str(t), 0) + 1
                if attempt == self.config.max_retries:
                    raise ModelRuntimeError(
                        f"{self.endpoint.url}: gave up after {attempt + 1} attempts ({t})"
                    ) from None
                self.counters.retries += 1
                backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
                delay = backoff * (0.5 + self._rng.random() / 2)  # jitter
                if t.retry_after is not None:
                    delay = max(delay, min(t.retry_after, BACKOFF_CAP_S))
                time.sleep(delay)
                continue
            self.counters.requests += 1
            return answer
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff applies


def _reason(status: int) -> str:
    return {
        400: "bad request: the endpoint refused the input's shape or type",
        401: "unauthorised: set BDSCAN_API_TOKEN",
        403: "forbidden: the token is not allowed to call this model",
        404: "not found: check the model name and version",
        422: "unprocessable: the endpoint refused the input",
    }.get(status, "refused")


def _detail(raw: bytes) -> str:
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {' '.join(str(error).split())[:200]}" if error else ""


class QueryJournal:
    """Answers already paid for, by sample bytes: `{sha256(input bytes): label}` in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path))
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key BLOB PRIMARY KEY, label INT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS facts (name TEXT PRIMARY KEY, value TEXT)")

    def fact(self, name: str) -> Any:
        row = self._db.execute("SELECT value FROM facts WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_fact(self, name: str, value: Any) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO facts VALUES (?, ?)", (name, json.dumps(value))
            )

    def get(self, keys: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, label FROM answers WHERE key IN ({marks})",
                part,
            )
            found.update((bytes(k), int(v)) for k, v in rows)
        return found

    def put(self, items: list[tuple[bytes, int]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?)", items)

    def close(self) -> None:
        self._db.close()


def journal_path(root: Path, endpoint: Endpoint, metadata: dict[str, Any]) -> Path:
    # The metadata is part of the key: a new version behind the same URL starts afresh.
    ident = json.dumps({"url": endpoint.url, "metadata": metadata}, sort_keys=True)
    return root / "journal" / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.sqlite"


def _tensor(d: Any, where: str) -> tuple[str, np.ndarray]:
    """One output tensor of an infer answer, checked: name, datatype, shape and data agree."""
    try:
        name, datatype, shape, data = str(d["name"]), str(d["datatype"]), d["shape"], d["data"]
        shape = [int(v) for v in shape]
        dtype = {
            "FP32": np.float32,
            "FP64": np.float64,
            "FP16": np.float16,
            "INT64": np.int64,
            "INT32": np.int32,
            "INT16": np.int16,
            "INT8": np.int8,
            "UINT8": np.uint8,
        }[datatype]
        arr = np.asarray(data, dtype=dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelRuntimeError(f"{where}: malformed output tensor in the answer ({e})") from None
    return name, arr


class OipBackend:
    """Hard labels from an Open Inference Protocol endpoint. Close it to end the journal."""

    def __init__(
        self,
        url: str,
        *,
        image_hwc: tuple[int, int, int],
        classes_hint: int | None = None,
        config: ApiConfig | None = None,
        journal_root: Path | None = None,
    ) -> None:
        self.endpoint = parse_endpoint(url)
        self.config = config or ApiConfig()
        self.client = HttpClient(self.endpoint, self.config)
        self.journal: QueryJournal | None = None
        try:
            self.metadata = self._metadata()
            inputs = self.metadata.get("inputs") or []
            if len(inputs) != 1:
                raise ModelLoadError(
                    f"{url}: expected an image classifier with one input, the metadata lists"
                    f" {len(inputs)}"
                )
            spec = inputs[0]
            dtype = _DTYPES.get(str(spec.get("datatype")))
            if dtype is None:
                raise ModelLoadError(
                    f"{url}: expected a FP32, FP16, FP64 or UINT8 image input, got"
                    f" {spec.get('datatype')!r}"
                )
            dims = tuple(None if int(v) < 0 else int(v) for v in spec.get("shape", []))
            if len(dims) not in (2, 3, 4):
                raise ModelLoadError(f"{url}: expected an image input of rank 2 to 4, got {dims}")
            layout, h, w, c = resolve_layout(dims, image_hwc, url)
            if (h, w) != image_hwc[:2]:
                raise ModelLoadError(
                    f"{url}: the endpoint takes {h}x{w} images, the data has"
                    f" {image_hwc[0]}x{image_hwc[1]}"
                )
            self._layout: Layout = layout
            self._dtype = dtype
            self._input_name = str(spec.get("name", "input"))
            self._datatype = str(spec["datatype"])
            # An API takes images: a uint8 endpoint gets clipped, rounded pixels.
            self.input_spec = InputSpec(
                name=self._input_name,
                layout=layout,
                height=h,
                width=w,
                channels=c,
                dtype=dtype,
                batch=None,
                uint8_mode="clip" if dtype == "uint8" else "none",
            )
            self.provider = f"oip-v2 {self.endpoint.netloc}"
            if self.config.resume:
                root = journal_root or self.config.journal_dir or Path(".")
                self.journal = QueryJournal(journal_path(root, self.endpoint, self.metadata))
            known = self.journal.fact("outputs") if self.journal is not None else None
            if known is not None:
                # Chosen on an earlier run against the same endpoint and metadata.
                self.outputs: OutputChoice = OutputChoice(**known)
            else:
                probe = np.random.default_rng(0).random((2, h, w, c)).astype(np.float32)
                if dtype == "uint8":
                    probe *= 255.0
                names, outs = self._infer(self._to_wire(probe), None)
                self.outputs = choose_output(names, outs, 2, url, classes_hint)
                self._check_finite(outs[names.index(self.outputs.labels_from)].reshape(2, -1))
                if self.journal is not None:
                    self.journal.set_fact("outputs", asdict(self.outputs))
            self.num_classes = int(self.outputs.num_classes or 0)
        except BaseException:
            self.close()
            raise

    @property
    def counters(self) -> _Counters:
        return self.client.counters

    def describe(self) -> dict[str, Any]:
        """What the report says about the endpoint (never the token)."""
        return {
            "url": self.endpoint.url,
            "model": self.endpoint.model,
            "version": self.endpoint.version,
            "metadata": self.metadata,
            "requests": self.counters.requests,
            "retries": self.counters.retries,
            "faults": dict(self.counters.faults),
            "queries_sent": self.counters.sent,
            "queries_from_journal": self.counters.from_journal,
            "journal": None if self.journal is None else str(self.journal.path),
        }

    def _metadata(self) -> dict[str, Any]:
        meta = self.client.call("GET", self.endpoint.path)
        if not isinstance(meta, dict):
            raise ModelLoadError(f"{self.endpoint.url}: the metadata is not a JSON object")
        keep = ("name", "versions", "platform", "inputs", "outputs")
        return {k: meta[k] for k in keep if k in meta}

    def _to_wire(self, points: np.ndarray) -> np.ndarray:
        return to_model_input(points, self._layout, self._dtype, clip=self._dtype == "uint8")

    def _infer(self, x: np.ndarray, output: str | None) -> tuple[list[str], list[np.ndarray]]:
        payload: dict[str, Any] = {
            "inputs": [
                {
                    "name": self._input_name,
                    "shape": list(x.shape),
                    "datatype": self._datatype,
                    "data": x.reshape(-1).tolist(),
                }
            ]
        }
        if output is not None:
            payload["outputs"] = [{"name": output}]
        answer = self.client.call("POST", f"{self.endpoint.path}/infer", payload)
        outs = answer.get("outputs") if isinstance(answer, dict) else None
        if not isinstance(outs, list) or not outs:
            raise ModelRuntimeError(f"{self.endpoint.url}: the answer has no outputs")
        tensors = [_tensor(o, self.endpoint.url) for o in outs]
        for _, arr in tensors:
            if arr.ndim == 0 or arr.shape[0] != len(x):
                raise ModelRuntimeError(
                    f"{self.endpoint.url}: asked about {len(x)} samples, the answer has"
                    f" shape {list(arr.shape)}"
                )
        self.counters.sent += len(x)
        return [n for n, _ in tensors], [a for _, a in tensors]

    def _check_finite(self, scores: np.ndarray) -> None:
        if np.issubdtype(scores.dtype, np.floating) and not np.isfinite(scores).all():
            bad = int((~np.isfinite(scores).all(axis=1)).sum())
            raise NonFiniteOutputError(
                f"{self.endpoint.url}: output {self.outputs.labels_from!r} held NaN/Inf for"
                f" {bad} of {len(scores)} queries; no verdict can rest on such scores"
            )

    def _labels(self, x: np.ndarray) -> np.ndarray:
        names, outs = self._infer(x, self.outputs.labels_from)
        if self.outputs.labels_from not in names:
            raise ModelRuntimeError(
                f"{self.endpoint.url}: the answer lacks output {self.outputs.labels_from!r}"
            )
        out = outs[names.index(self.outputs.labels_from)].reshape(len(x), -1)
        if self.outputs.kind == "label":
            return out[:, 0].astype(np.int64)
        self._check_finite(out)
        return out.argmax(axis=1).astype(np.int64)

    def predict_labels(self, batch: np.ndarray) -> np.ndarray:
        wire = self._to_wire(batch)
        labels = np.empty(len(batch), dtype=np.int64)
        keys = [hashlib.sha256(row.tobytes()).digest() for row in wire]
        known = self.journal.get(keys) if self.journal is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in known]
        for i, k in enumerate(keys):
            if k in known:
                labels[i] = known[k]
        self.counters.from_journal += len(batch) - len(todo)
        step = max(1, self.config.batch)
        for start in range(0, len(todo), step):
            idx = todo[start : start + step]
            got = self._labels(np.ascontiguousarray(wire[idx]))
            labels[idx] = got
            if self.journal is not None:
                # Written as each answer arrives: an interrupted scan keeps what it paid for.
                self.journal.put([(keys[i], int(v)) for i, v in zip(idx, got, strict=True)])
        return labels

    def close(self) -> None:
        self.client.close()
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def __enter__(self) -> OipBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
