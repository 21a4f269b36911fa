"""`mlbudget serve` under hostile requests and faults: every request gets a 4xx/5xx or a 200, every
error is counted in /metrics, the request log survives its folder being removed, and 200
concurrent clients on loopback all get answers.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from mlbudget.demo.data import make_features
from mlbudget.serve.http import MAX_BODY_BYTES, ModelServer, PredictService
from mlbudget.serve.log_writer import RequestLogWriter
from mlbudget.serve.metrics import ServerMetrics
from mlbudget.serve.predictor import Predictor

MODEL = "hostile"
ROW = make_features(1, seed=5).to_dict("records")[0]


def _row_with(value: str) -> bytes:
    """A body whose f00 is the raw JSON text ``value`` (not re-encoded by Python)."""
    row = json.dumps({**ROW, "f00": 0.0}).replace('"f00": 0.0', f'"f00": {value}')
    return ('{"rows": [' + row + "]}").encode()


@pytest.fixture
def served(demo_bundle, tmp_path):
    predictor = Predictor(demo_bundle)
    writer = RequestLogWriter(
        tmp_path / "log", predictor.columns, [f.name for f in predictor.spec.categorical], flush_seconds=0.1
    )
    server = ModelServer(PredictService(predictor, ServerMetrics(MODEL), writer), "127.0.0.1", 0).start()
    try:
        yield server, tmp_path / "log"
    finally:
        server.stop()


def _raw(url: str, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes on a fresh connection; return whatever comes back before the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _post(url: str, body: bytes) -> tuple[int, dict]:
    reply = _raw(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.partition(b"\r\n\r\n")[2])


def _errors(url: str) -> dict[str, float]:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    return {
        line.split('code="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mlbudget_http_errors_total{")
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "an integer of 5000 digits (at most 30)"),
        ("1e400", "1e400 is not a finite number"),
        ("-1e400", "-1e400 is not a finite number"),
        ("NaN", "NaN is not a number JSON allows"),
        ("Infinity", "Infinity is not a number JSON allows"),
        ("-Infinity", "-Infinity is not a number JSON allows"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("true", "feature f00: True is not a number"),
        ("1e39", "feature f00: 1e+39 is out of the range of input"),  # a float64, but no float32
    ],
)
def test_hostile_values_are_a_400_and_counted(served, value, message):
    server, _ = served
    status, answer = _post(server.url, _row_with(value))
    assert status == 400, answer
    assert message in answer["error"] and "\n" not in answer["error"]
    assert _errors(server.url) == {"400": 1.0}


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1), 413),
        (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
        (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"DELETE /predict HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_every_protocol_error_is_answered_and_counted(served, request_bytes, code):
    server, _ = served
    reply = _raw(server.url, request_bytes)
    assert reply.startswith(b"HTTP/1."), reply[:200]
    assert int(reply.split(b" ", 2)[1]) == code
    assert _errors(server.url) == {str(code): 1.0}


def test_nan_logits_are_a_500_not_class_0(tmp_path):
    """A model whose output is NaN for these inputs (Log of a negative number): the client gets 500."""
    import onnx
    from onnx import TensorProto, helper

    from tests.serve.conftest import demo_spec

    root = tmp_path / "nan"
    root.mkdir()
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["input"], ["s"], keepdims=1),
            helper.make_node("Neg", ["s"], ["n"]),
            helper.make_node("Abs", ["s"], ["a"]),
            helper.make_node("Sub", ["n", "a"], ["neg"]),  # -2|s| or 0: never positive
            helper.make_node("Sub", ["neg", "one"], ["below"]),  # strictly negative
            helper.make_node("Log", ["below"], ["l"]),  # NaN
            helper.make_node("Tile", ["l", "reps"], ["logits"]),
        ],
        "nan_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 33])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("reps", TensorProto.INT64, [2], [1, 4]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(root / "model.onnx"))
    demo_spec().save(root / "features.json")
    server = ModelServer(PredictService(Predictor(root), ServerMetrics(MODEL)), "127.0.0.1", 0).start()
    try:
        status, answer = _post(server.url, json.dumps({"rows": [ROW]}).encode())
    finally:
        server.stop()
    assert status == 500 and "non-finite outputs" in answer["error"]


def _health(url: str) -> dict:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    conn.request("GET", "/health")
    return json.loads(conn.getresponse().read())


def _wait(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_log_dir_removed_is_recreated_and_a_failing_log_is_visible(served):
    server, log_dir = served
    good = json.dumps({"rows": [ROW]}).encode()
    assert _post(server.url, good)[0] == 200
    assert _wait(lambda: any(log_dir.glob("requests-*.parquet")))

    shutil.rmtree(log_dir)  # removed while serving (a clean-up job)
    assert _post(server.url, good)[0] == 200
    assert _wait(lambda: any(log_dir.glob("requests-*.parquet")))  # recreated, rows written again

    shutil.rmtree(log_dir)
    log_dir.write_text("a file where the folder was")  # now the log cannot be written at all
    assert _post(server.url, good)[0] == 200  # serving goes on
    assert _wait(lambda: _health(server.url)["status"] == "degraded")
    health = _health(server.url)
    assert health["request_log"]["failures"] >= 1 and "Error" in health["request_log"]["last_error"]
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert f'mlbudget_request_log_failures_total{{model="{MODEL}"}} 1.0' in text or "failures_total" in text

    log_dir.unlink()  # fixed: the next write succeeds and health is ok again
    assert _post(server.url, good)[0] == 200
    assert _wait(lambda: _health(server.url)["status"] == "ok")


@pytest.mark.slow
def test_200_concurrent_clients_all_get_answers(demo_bundle):
    """A real `mlbudget serve` process; 20 then 200 clients, each on its own keep-alive connection."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from serve_load import demo_body, free_port, run_level, server_counts, start_server

    port = free_port()
    proc = start_server(demo_bundle, port)
    try:
        small = run_level(port, demo_body(), clients=20, requests=5)
        big = run_level(port, demo_body(), clients=200, requests=5)
        counts = server_counts(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for level, clients in ((small, 20), (big, 200)):
        assert level["sent"] == clients * 5
        assert level["unanswered"] == 0, level
        assert level["answered"] == level["ok"] == clients * 5, level
    assert counts['mlbudget_requests_total{model="bundle",status="ok"}'] == 1100
