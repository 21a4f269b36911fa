"""``mlbudget_on_demand`` (dry run, ``dag.test()``) for a budget whose source is request logs + a real Prometheus.

The stack of tests/e2e/test_prometheus_e2e.py (`mlbudget serve` scraped by the
real Prometheus on loopback) gets a few seconds of load; the budget's
``source.metrics`` names Prometheus without a URL, which the tasks take from the
``prometheus_default`` Airflow connection (set through its environment
variable), so the hook's path is the one exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlbudget.serve.log_writer import FILE_PATTERN
from tests.e2e.test_prometheus_e2e import (
    BUDGET_YAML,
    MLBUDGET,
    MODEL,
    _wait_for,
    stack,  # noqa: F401  (the fixture: server and Prometheus on loopback)
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BUDGET_FILE = "prometheus-e2e"


def _budget(stack) -> dict:  # noqa: F811
    doc = yaml.safe_load(BUDGET_YAML)
    doc["monitoring"] = {"window": "1h", "min_rows": 100, "latency_creep": {"baseline": "30m", "bucket": "5m"}}
    doc["source"] = {
        "rows": {"name": "request_log", "path": str(stack["log"] / FILE_PATTERN)},
        "metrics": {"name": "prometheus"},  # the URL comes from prometheus_default
    }
    return doc


def test_on_demand_dry_run_reads_prometheus_through_the_connection(  # noqa: F811
    airflow_db,
    stack,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    from airflow.dag_processing.dagbag import DagBag

    from mlbudget.demo.champion import register_demo_champion
    from mlbudget.demo.data import make_features

    load = subprocess.run(
        [str(MLBUDGET), "loadgen", "--url", stack["server"] + "/predict", "--rps", "40", "--duration", "5",
         "--batch-size", "4", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    rows = json.loads(load.stdout)["ok"] * 4
    logged = lambda: sum(len(pd.read_parquet(p)) for p in stack["log"].glob(FILE_PATTERN)) == rows  # noqa: E731
    _wait_for(f"{rows} logged rows", logged, 20)

    budget_path = Path(os.environ["MLBUDGET_CONFIG_DIR"]) / f"{BUDGET_FILE}.yaml"
    budget_path.write_text(yaml.safe_dump(_budget(stack)))
    try:
        champion = Path(shutil.copytree(tmp_path / "bundle", tmp_path / "champion"))  # the bundle being served
        reference = make_features(2000, seed=5)
        reference["label"] = np.random.default_rng(0).integers(0, 4, len(reference))
        reference.to_parquet(champion / "reference.parquet")
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        register_demo_champion(champion, budget_path, uri)

        mlflow_conn = {"conn_type": "mlflow", "extra": {"tracking_uri": uri}}
        monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(mlflow_conn))
        monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", stack["prom"].replace("http://", "prometheus://"))
        # A stale URL in the environment: the connection's, exported before each task, must win (and the
        # monkeypatch removes what the tasks exported when the test ends).
        monkeypatch.setenv("MLBUDGET_PROMETHEUS_URL", "http://127.0.0.1:9/not-this-one")
        end = datetime.now(UTC).replace(microsecond=0)
        bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "mlbudget_on_demand.py"))
        conf = {"budget": BUDGET_FILE, "dry_run": True, "window_end": end.isoformat(), "reason": "pytest: prometheus"}
        dag_run = bag.dags["mlbudget_on_demand"].test(run_conf=conf, logical_date=end)
    finally:
        budget_path.unlink()
    assert dag_run.state == "success"

    (cycle,) = (Path(os.environ["MLBUDGET_WORKDIR"]) / "cycles" / MODEL).glob(f"{end:%Y%m%dT%H%M}-*")
    window = json.loads((cycle / "window" / "window.json").read_text())
    assert window["rows"] == rows and window["metrics_path"].endswith("window-metrics.json")
    metrics = json.loads(Path(window["metrics_path"]).read_text())
    assert metrics["url"] == stack["prom"] and metrics["selector"] == f'{{model="{MODEL}"}}'
    findings = json.loads((cycle / "detection.json").read_text())["findings"]
    latency = [f for f in findings if f["kind"] == "latency"]
    assert len(latency) == 3 and all(f["details"]["source"] == "prometheus" for f in latency)
    assert os.environ["MLBUDGET_PROMETHEUS_URL"] == stack["prom"]  # exported by run_stage from the connection
