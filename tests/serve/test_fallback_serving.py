"""A server with a fallback on loopback: overload hands over to the fallback once, a calm load brings the
champion back, and metrics, /health and the request log say which model answered.

Real parts: two ONNX models with one signature (a champion of about 10 ms per 32-row call and a tiny
fallback), the in-process server, and `mlbudget loadgen` as its own process (open-loop Poisson arrivals).
This checks routing, not speed: the p95 with and without the fallback is measured by
benchmarks/fallback_load.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlbudget.budget.model import Budget
from mlbudget.serve.http import ModelServer, PredictService
from mlbudget.serve.log_writer import FILE_PATTERN, SERVED_BY, RequestLogWriter
from mlbudget.serve.metrics import ServerMetrics
from mlbudget.serve.predictor import Predictor
from mlbudget.serve.resolve import resolve_model
from mlbudget.serve.router import FallbackRouter, RouterSettings
from tests.serve.conftest import make_deep_mlp_bundle

pytestmark = pytest.mark.slow

MLBUDGET = Path(sys.executable).with_name("mlbudget")
BUDGET = {
    "name": "fb",
    "version": "1.0.0",
    "owner": "o",
    "warn_margin": 0.1,
    "limits": {"latency": {"p95_ms": 60.0}},
    "fallback": {"max_quality_drop": 0.5, "window_s": 1.0, "min_samples": 20, "min_dwell_s": 1.0},
}


def _load(url: str, rps: float, seconds: float) -> dict:
    done = subprocess.run(
        [str(MLBUDGET), "loadgen", "--url", url, "--rps", str(rps), "--duration", str(seconds), "--batch-size", "32",
         "--senders", "64", "--timeout", "30", "--json"],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _served(metrics_text: str) -> dict[str, float]:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "mlbudget_served":
            return {s.labels["served_by"]: s.value for s in family.samples if s.name.endswith("_total")}
    return {}


def test_overload_routes_to_the_fallback_once_and_a_calm_load_brings_the_champion_back(tmp_path):
    champion_dir = make_deep_mlp_bundle(tmp_path / "champion", hidden=2048, layers=6)
    fallback_dir = make_deep_mlp_bundle(tmp_path / "fallback", hidden=64, layers=0, seed=1)
    budget = Budget.model_validate(BUDGET)
    champion, fallback = Predictor(champion_dir), Predictor(fallback_dir)
    writer = RequestLogWriter(tmp_path / "log", champion.columns, ["region", "channel"], flush_seconds=0.5,
                              served_by=True)  # fmt: skip
    router = FallbackRouter(RouterSettings.from_budget(budget))
    service = PredictService(champion, ServerMetrics("fb"), writer, fallback, router)
    server = ModelServer(service, "127.0.0.1", 0).start()
    try:
        overload = _load(server.url + "/predict", 200, 6)
        assert overload["failed"] == 0 and overload["ok"] > 0
        health = json.loads(_get(server.url + "/health"))
        assert health["fallback"]["mode"] == "fallback" and health["fallback"]["switches"] == 1, health
        assert health["fallback"]["reason"].startswith("champion p95 ")
        metrics = _get(server.url + "/metrics").decode()
        served = _served(metrics)
        assert served["fallback"] > served["champion"] > 0, served
        assert 'mlbudget_fallback_active{model="fb"} 1.0' in metrics
        time.sleep(1.2)  # the overload's arrivals leave the router's 1 s window
        calm = _load(server.url + "/predict", 10, 3)
        assert calm["failed"] == 0
        health = json.loads(_get(server.url + "/health"))
        assert health["fallback"]["mode"] == "champion" and health["fallback"]["switches"] == 2, health
        assert "arrivals" in health["fallback"]["reason"]
    finally:
        server.stop()
    log = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "log").glob(FILE_PATTERN))])
    by = log.loc[log["status"] == "ok", SERVED_BY].value_counts().to_dict()
    assert set(by) == {"champion", "fallback"} and by["fallback"] > by["champion"], by
    last = log.sort_values("timestamp").tail(32 * 5)
    assert set(last[SERVED_BY]) == {"champion"}  # the calm load ended on the champion


def test_a_fallback_needs_the_budgets_fallback_section(tmp_path):
    from mlbudget.errors import ConfigError

    bundle = make_deep_mlp_bundle(tmp_path / "m", hidden=8, layers=0)
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: fb\nversion: 1.0.0\nowner: o\nlimits: {latency: {p95_ms: 30}}\n")
    with pytest.raises(ConfigError, match="--fallback-bundle needs --budget with a `fallback` section"):
        resolve_model(bundle, plain, fallback_bundle=bundle)
    import yaml

    with_fallback = tmp_path / "fb.yaml"
    with_fallback.write_text(yaml.safe_dump(BUDGET))
    served = resolve_model(bundle, with_fallback, fallback_bundle=bundle)
    assert served.fallback_dir == bundle and served.router.warn_ms == pytest.approx(54.0)
    assert resolve_model(bundle, with_fallback, fallback_bundle=bundle, use_fallback=False).fallback_dir is None
    assert resolve_model(bundle, with_fallback).fallback_dir is None  # a bundle by hand: no registry lookup
