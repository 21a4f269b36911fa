"""The model server: ``POST /predict``, ``GET /metrics``, ``/health`` and ``/features``, on ``ThreadingHTTPServer``.

One thread per connection (HTTP/1.1 keep-alive); ONNX Runtime releases the GIL
while it runs, so concurrent requests overlap on the session's own threads (the
budget's ``intra_op_threads``). A request's latency runs from the moment its
handler starts to the moment the response body is ready; it is split into
``preprocess_ms`` (JSON, rows, the input adapter), ``inference_ms`` (``session.run``
and reading the outputs) and ``postprocess_ms`` (JSON). Successful requests go into the latency
histogram; every request is counted by status and logged.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mlbudget.errors import InputError
from mlbudget.serve.log_writer import LoggedRequest, RequestLogWriter
from mlbudget.serve.metrics import ServerMetrics
from mlbudget.serve.predictor import BadRequest, Predictor
from mlbudget.serve.router import CHAMPION, FALLBACK, FallbackRouter

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Larger bodies get 413 unread (10,000 rows of a few dozen features fit well inside)."""
IDLE_TIMEOUT_S = 60.0
"""Idle keep-alive connections are closed after this long, so their threads end."""
LISTEN_BACKLOG = 1024
"""Pending connections the kernel queues before refusing: at least the concurrency the server is run at
(``ThreadingHTTPServer``'s default of 5 reset 12-17 % of connections at 200 concurrent clients)."""


class PredictService:
    """What ``POST /predict`` does, without HTTP: score, time, count, log.

    Args:
        predictor: the loaded model (the champion).
        metrics: where requests are counted and timed.
        log_writer: where rows are logged; None logs nothing.
        fallback: a lighter model with the same signature, answered from while ``router`` says so
            (see :mod:`mlbudget.serve.router`).
        router: picks champion or fallback per request.
    """

    def __init__(
        self,
        predictor: Predictor,
        metrics: ServerMetrics,
        log_writer: RequestLogWriter | None = None,
        fallback: Predictor | None = None,
        router: FallbackRouter | None = None,
    ):
        import psutil

        if (fallback is None) != (router is None):
            raise ValueError("a fallback model needs a router, and a router a fallback model")
        self.fallback = fallback
        self.router = router
        self.predictor = predictor
        self.metrics = metrics
        self.log_writer = log_writer
        if log_writer is not None:
            log_writer.on_failure = metrics.log_failure
        self._process = psutil.Process()
        self._memory = (0.0, 0.0)  # (monotonic time read, MB)

    def predict(self, body: bytes, started_ns: int, stamp: datetime) -> tuple[int, bytes]:
        """Score one request body.

        Args:
            body: the raw request body.
            started_ns: ``time.perf_counter_ns()`` when the request arrived.
            stamp: wall-clock arrival time (UTC), logged as the row timestamp.

        Returns:
            (HTTP status, JSON body): 200 with predictions (classes as their own type, or regression
            values), 400 for bad input, 500 if the model fails.
        """
        served_by = self.router.choose() if self.router is not None else CHAMPION
        predictor = self.fallback if served_by == FALLBACK else self.predictor
        try:
            return self._predict(predictor, served_by, body, started_ns, stamp)
        finally:
            if self.router is not None:
                self.router.done(served_by, (time.perf_counter_ns() - started_ns) / 1e6)

    def _predict(self, predictor: Predictor, served_by: str, body: bytes, started_ns: int, stamp: datetime):
        try:
            rows = predictor.parse(body)
            x = predictor.encode(rows)
        except (BadRequest, InputError) as exc:
            return self._failed(400, str(exc), started_ns, stamp)
        encoded_ns = time.perf_counter_ns()
        try:
            predictions = predictor.infer(x)
        except Exception as exc:  # noqa: BLE001  ORT raises many kinds; the client gets a 500, the server lives
            return self._failed(
                500, f"model {self.metrics.model} failed: {type(exc).__name__}: {exc}", started_ns, stamp
            )
        inferred_ns = time.perf_counter_ns()
        payload = json.dumps({"predictions": predictions.tolist()}).encode()
        done_ns = time.perf_counter_ns()
        stages = ((encoded_ns - started_ns) / 1e6, (inferred_ns - encoded_ns) / 1e6, (done_ns - inferred_ns) / 1e6)
        self._record(True, done_ns - started_ns, stamp, stages, rows, predictions, served_by)
        return 200, payload

    def _failed(self, code: int, message: str, started_ns: int, stamp: datetime) -> tuple[int, bytes]:
        message = " ".join(message.split())
        elapsed = time.perf_counter_ns() - started_ns
        self._record(False, elapsed, stamp, (elapsed / 1e6, 0.0, 0.0), None, None)
        return code, json.dumps({"error": message}).encode()

    def _record(
        self, ok: bool, elapsed_ns: int, stamp: datetime, stages, rows: list | None, predictions, served_by=None
    ) -> None:
        self.metrics.observe(ok, elapsed_ns / 1e9, [ms / 1e3 for ms in stages])
        if ok and self.router is not None:
            self.metrics.served(served_by, self.router.mode == FALLBACK)
        if self.log_writer is not None:
            status = "ok" if ok else "error"
            by = served_by if self.router is not None else None
            request = LoggedRequest(stamp, elapsed_ns / 1e6, status, stages, self._memory_mb(), rows, predictions, by)
            self.log_writer.append(request)

    def features(self) -> dict:
        """``/features``: the feature columns the model takes, with the reference statistics of its contract.

        ``{"numeric": [{"name", "mean", "std", "min", "max"}], "categorical": [{"name", "categories"}]}``;
        ``loadgen`` makes rows from it when it is given none.
        """
        contract = self.predictor.contract
        return {
            "numeric": [f.model_dump(mode="json") for f in contract.numeric],
            "categorical": [f.model_dump(mode="json") for f in contract.categorical],
        }

    def health(self) -> dict:
        """``/health``: ``ok``, or ``degraded`` while the request log fails to write (with the last error)."""
        health = {"status": "ok", "model": self.metrics.model, "sha256": self.predictor.sha256}
        if self.router is not None:
            health["fallback"] = {"sha256": self.fallback.sha256, **self.router.state()}
        writer = self.log_writer
        if writer is not None:
            health["request_log"] = {"failures": writer.failures, "last_error": writer.last_error}
            if writer.failing:
                health["status"] = "degraded"
        return health

    def _memory_mb(self) -> float:
        """Resident memory in MB, read at most once a second (it is logged on every row)."""
        read_at, mb = self._memory
        now = time.monotonic()
        if now - read_at >= 1.0:
            mb = self._process.memory_info().rss / 1e6
            self._memory = (now, mb)
        return mb


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line (not HTTP/0.9's bare body)
    timeout = IDLE_TIMEOUT_S
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def handle_one_request(self) -> None:
        """The stdlib's, with a last resort: whatever escapes a handler is answered 500 and counted."""
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001  the client gets an answer, the server lives
            self.close_connection = True
            if not getattr(self, "_answered", True):
                try:
                    self._send(500, _error(f"internal error: {type(exc).__name__}"))
                except OSError:
                    pass

    def do_GET(self) -> None:  # noqa: N802  (the stdlib's naming)
        self._answered = False
        path = self.path.split("?", 1)[0]
        service = self.server.service
        if path == "/metrics":
            body, content_type = service.metrics.exposition(self.headers.get("Accept"))
            self._send(200, body, content_type)
        elif path in ("/health", "/healthz"):
            self._send(200, json.dumps(service.health()).encode())
        elif path == "/features":
            self._send(200, json.dumps(service.features()).encode())
        else:
            self._send(404, _error(f"no such path {path} (expected POST /predict, GET /metrics, /health or /features)"))

    def do_POST(self) -> None:  # noqa: N802
        self._answered = False
        started_ns, stamp = time.perf_counter_ns(), datetime.now(UTC)
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        if path != "/predict":
            self._send(404, _error(f"no such path {path} (expected POST /predict)"))
            return
        code, payload = self.server.service.predict(body, started_ns, stamp)
        self._send(code, payload)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/413 (and closing) when it cannot be read."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send(400, _error("Content-Length header missing or not a number (chunked bodies are not read)"))
            return None
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, _error(f"body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes"))
            return None
        return self.rfile.read(int(length))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, headers too long, unknown method): JSON, counted."""
        self.close_connection = True
        self._send(code, _error(message or self.responses.get(code, ("error",))[0]))

    def do_PUT(self) -> None:  # noqa: N802
        self.close_connection = True
        self._send(405, _error(f"method {self.command} not allowed (expected POST /predict or GET)"))

    do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_PUT  # noqa: N815

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self._answered = True
        if code >= 400:
            self.server.service.metrics.http_error(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        """No access log on stderr: requests are counted in /metrics and logged as rows."""


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    service: PredictService


class ModelServer:
    """The HTTP server around a :class:`PredictService`, run on a background thread.

    Args:
        service: what ``POST /predict`` does.
        host: address to bind (``127.0.0.1``; ``0.0.0.0`` in a container).
        port: port to bind; 0 picks a free one (see :attr:`url`).

    Raises:
        InputError: the address cannot be bound.
    """

    def __init__(self, service: PredictService, host: str = "127.0.0.1", port: int = 8000):
        try:
            self._httpd = _Server((host, port), _Handler)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port} ({exc}); expected a free port") from exc
        self._httpd.service = service
        self.service = service
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` actually bound."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ModelServer:
        """Serve on a background thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="model-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting requests, close the socket, and write the request log's last rows."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()
        if self.service.log_writer is not None:
            self.service.log_writer.close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
