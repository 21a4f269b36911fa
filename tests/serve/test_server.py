"""The model server in-process on a free loopback port: predictions, 400s, /metrics, the request log."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlbudget.demo.data import make_features
from mlbudget.serve.http import ModelServer, PredictService
from mlbudget.serve.log_writer import FILE_PATTERN, RequestLogWriter
from mlbudget.serve.metrics import ServerMetrics, latency_buckets
from mlbudget.serve.predictor import Predictor
from mlbudget.sources.request_log import RequestLogSource
from mlbudget.validation.suite import required_columns

MODEL = "serve-test"


def start_server(bundle: Path, log_dir: Path | None, buckets: list[float] | None = None) -> ModelServer:
    predictor = Predictor(bundle)
    writer = None
    if log_dir is not None:
        categorical = [f.name for f in predictor.spec.categorical]
        writer = RequestLogWriter(log_dir, predictor.columns, categorical, flush_seconds=0.2)
    service = PredictService(predictor, ServerMetrics(MODEL, buckets), writer)
    return ModelServer(service, "127.0.0.1", 0).start()


@pytest.fixture
def server(demo_bundle, tmp_path):
    srv = start_server(demo_bundle, tmp_path / "log")
    try:
        yield srv
    finally:
        srv.stop()


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def rows_body(rows: list[dict]) -> bytes:
    return json.dumps({"rows": rows}).encode()


def metrics(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def expected_classes(bundle: Path, rows: list[dict]) -> list[int]:
    """Independently: FeatureSpec.transform on a pandas frame, then a plain ORT session."""
    predictor = Predictor(bundle)
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": predictor.spec.transform(pd.DataFrame(rows))})[0]
    return [int(c) for c in np.argmax(logits, axis=1)]


def test_predict_scores_every_row(server, demo_bundle):
    rows = make_features(7, seed=3).to_dict("records")
    code, body = post(server.url + "/predict", rows_body(rows))
    assert code == 200
    assert body == {"predictions": expected_classes(demo_bundle, rows)}
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["model"] == MODEL and len(health["sha256"]) == 64


def test_encoding_is_feature_spec_transform(demo_bundle):
    rows = make_features(6, seed=4).to_dict("records")
    rows[0]["f00"] = None  # null numeric: the reference mean
    rows[1]["region"] = "atlantis"  # unknown category: all zeros
    rows[2]["channel"] = None
    del rows[3]["f07"]  # missing in one row only
    rows[4]["f01"] = 3  # an int
    rows[5]["extra"] = "ignored"
    predictor = Predictor(demo_bundle)
    expected = predictor.spec.transform(pd.DataFrame(rows))
    np.testing.assert_array_equal(predictor.encode(rows), expected)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", r"^request body is not valid JSON \(.*\); expected \{\"rows\""),
        (b"[1, 2]", r"^request body is a JSON list; expected"),
        (b'{"rows": []}', r"^rows holds 0 rows \(expected 1 to 10000\)$"),
        (b'{"rows": [1]}', r"^rows\[0\] is a JSON int \(expected an object"),
        (rows_body([{"f00": 1.0}]), r"^rows lack feature columns f01, f02, .*, region, channel \(expected f00, "),
        (rows_body([{**make_features(1).to_dict("records")[0], "f03": "abc"}]), r"^feature f03: 'abc' is not a num"),
    ],
)
def test_bad_input_is_a_400_with_one_line(server, body, message):
    code, answer = post(server.url + "/predict", body)
    assert code == 400
    assert "\n" not in answer["error"]
    assert re.search(message, answer["error"]), answer["error"]
    counts = metrics(server.url)
    assert counts[("mlbudget_requests_total", (("model", MODEL), ("status", "error")))] == 1
    assert counts.get(("mlbudget_requests_total", (("model", MODEL), ("status", "ok")))) == 0


def test_metrics_have_the_histogram_counters_and_process_memory(server):
    good = rows_body(make_features(4, seed=1).to_dict("records"))
    for _ in range(5):
        assert post(server.url + "/predict", good)[0] == 200
    assert post(server.url + "/predict", b"{}")[0] == 400
    assert post(server.url + "/nowhere", good)[0] == 404  # not a predict request: not counted
    counts = metrics(server.url)
    by_model = (("model", MODEL),)
    assert counts[("mlbudget_requests_total", (*by_model, ("status", "ok")))] == 5
    assert counts[("mlbudget_requests_total", (*by_model, ("status", "error")))] == 1
    assert counts[("mlbudget_request_latency_seconds_count", by_model)] == 5  # ok requests only
    assert 0 < counts[("mlbudget_request_latency_seconds_sum", by_model)] < 5 * 1.0
    buckets = {dict(k[1])["le"]: v for k, v in counts.items() if k[0] == "mlbudget_request_latency_seconds_bucket"}
    assert buckets["+Inf"] == 5 and "0.001" in buckets and "0.0001" in buckets
    assert counts[("process_resident_memory_bytes", ())] > 10e6


def test_each_stage_has_its_own_histogram(server):
    good = rows_body(make_features(3, seed=2).to_dict("records"))
    for _ in range(4):
        assert post(server.url + "/predict", good)[0] == 200
    assert post(server.url + "/predict", b"{}")[0] == 400  # failed requests time no stages
    counts = metrics(server.url)
    by_model = (("model", MODEL),)
    whole = counts[("mlbudget_request_latency_seconds_sum", by_model)]
    stage_sums = []
    for stage in ("preprocess", "inference", "postprocess"):
        labels = (*by_model, ("stage", stage))
        assert counts[("mlbudget_stage_latency_seconds_count", labels)] == 4, stage
        stage_sums.append(counts[("mlbudget_stage_latency_seconds_sum", labels)])
    assert all(s > 0 for s in stage_sums) and sum(stage_sums) <= whole + 1e-9


def test_budget_limits_become_bucket_bounds():
    bounds = latency_buckets([0.8, 0.72, 1.0, 0.9, 2.0, 1.8, 0.0])
    assert {0.0008, 0.00072, 0.001, 0.0009, 0.002, 0.0018} <= set(bounds)
    assert bounds == sorted(set(bounds)) and 0.0 not in bounds and len(bounds) == len(latency_buckets()) + 2


def test_request_log_feeds_the_request_log_source(demo_bundle, tmp_path):
    from mlbudget.serve.loadgen import load_settings, run_load

    log_dir = tmp_path / "log"
    srv = start_server(demo_bundle, log_dir)
    try:
        settings = load_settings(url=srv.url + "/predict", rps=200, requests=40, batch_size=8, error_share=0.1)
        result = run_load(settings)
        post(srv.url + "/predict", b"{broken")
    finally:
        srv.stop()  # writes what is still buffered
    # An arrival that finds every sender busy is skipped, not sent late (a busy 2-core machine skips a few).
    assert result.sent + result.skipped == 40 and result.ok + result.error == result.sent > 20 and result.failed == 0
    assert 0 < result.p50_ms <= result.p95_ms
    assert sorted(p.name for p in log_dir.iterdir()) == sorted(p.name for p in log_dir.glob(FILE_PATTERN))
    now = datetime.now(UTC)
    source = RequestLogSource({"path": str(log_dir / FILE_PATTERN)})
    window = source.fetch(now - timedelta(hours=2), now + timedelta(minutes=1), tmp_path / "window")
    rows = pd.read_parquet(window.path)
    assert window.rows == len(rows) == result.ok * 8 + result.error + 1  # a failed request is one row
    assert set(required_columns(Predictor(demo_bundle).spec)) <= set(rows.columns)
    assert {"preprocess_ms", "inference_ms", "postprocess_ms", "label", "memory_mb"} <= set(rows.columns)
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == result.ok * 8 and ok["prediction"].notna().all() and ok["f00"].notna().all()
    assert (rows["status"] == "error").sum() == result.error + 1
    assert rows["prediction"].dtype == "Int64" and rows["label"].isna().all() and window.labelled_rows == 0
    stages = ok[["preprocess_ms", "inference_ms", "postprocess_ms"]].sum(axis=1)
    assert (stages <= ok["latency_ms"] + 1e-6).all() and (ok["latency_ms"] > 0).all()
    assert window.memory_mb and min(window.memory_mb) > 10
