"""The Grafana dashboard generated from a budget.

No Grafana server can run here (not in Debian's archive, not on PyPI or npm), so
the JSON is checked three ways: it round-trips unchanged through the
grafana-foundation-sdk models (generated from Grafana's schema: an unknown or
misspelled key would be dropped), its layout and thresholds are checked here,
and tests/e2e/test_prometheus_source_e2e.py runs every panel's query against a
real Prometheus scraping `mlbudget serve`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlbudget.budget.grafana import dashboard, default_dashboard_path, panel_queries, write_dashboard
from mlbudget.budget.loader import load_budget, load_budget_text
from mlbudget.cli.main import app

REPO = Path(__file__).resolve().parents[2]
BUDGETS = sorted((REPO / "configs" / "budgets").glob("*.yaml"))
BUDGET = """
name: tiny
version: 1.0.0
owner: o
warn_margin: 0.2
limits: {latency: {p95_ms: 5.0}, max_error_rate: 0.01}
"""


@pytest.mark.parametrize("path", BUDGETS, ids=lambda p: p.name)
def test_committed_dashboards_are_current(path):
    budget = load_budget(path)
    committed = REPO / default_dashboard_path(budget)
    assert committed.exists(), f"no dashboard for {path.name}; run: mlbudget budget dashboard {path.relative_to(REPO)}"
    assert json.loads(committed.read_text()) == dashboard(budget), (
        f"{committed.relative_to(REPO)} is stale; regenerate: mlbudget budget dashboard {path.relative_to(REPO)}"
    )


@pytest.mark.parametrize("path", BUDGETS, ids=lambda p: p.name)
def test_the_sdk_models_read_back_every_key(path):
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()  # so panels and Prometheus queries decode into their own types
    document = dashboard(load_budget(path))
    decoded = Dashboard.from_json(document)
    assert json.loads(JSONEncoder(sort_keys=True).encode(decoded)) == document


def _cells(panel: dict) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


def test_layout_ids_datasource_and_queries():
    document = dashboard(load_budget_text(BUDGET))
    panels = document["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    taken: set = set()
    for panel in panels:
        cells = _cells(panel)
        assert all(0 <= x < 24 for x, _ in cells) and not cells & taken, panel["title"]
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["type"] == "timeseries" and panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert [t["refId"] for t in panel["targets"]] == ["A"] and panel["targets"][0]["range"] is True
    variable = document["templating"]["list"][0]
    assert (variable["type"], variable["name"], variable["query"]) == ("datasource", "datasource", "prometheus")
    assert document["uid"] == "mlbudget-tiny" and document["tags"] == ["mlbudget", "tiny"]
    queries = panel_queries(load_budget_text(BUDGET))
    assert set(queries) == {
        "p50 latency",
        "p95 latency",
        "p99 latency",
        "error ratio",
        "resident memory",
        "throughput",
        "p95 latency per stage",
    }
    assert all('model="tiny"' in q for exprs in queries.values() for q in exprs)
    assert (
        "histogram_quantile(0.95, sum by (le) (rate(mlbudget_request_latency_seconds_bucket{"
        in (queries["p95 latency"][0])
    )
    assert "mlbudget_stage_latency_seconds_bucket" in queries["p95 latency per stage"][0]


def _thresholds(document: dict, title: str) -> list | None:
    panel = next(p for p in document["panels"] if p["title"] == title)
    defaults = panel["fieldConfig"]["defaults"]
    if "thresholds" not in defaults:
        return None
    assert defaults["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    return [(s["value"], s["color"]) for s in defaults["thresholds"]["steps"]]


def test_limits_and_warn_levels_are_dashed_lines():
    document = dashboard(load_budget_text(BUDGET))  # warn_margin 0.2
    assert _thresholds(document, "p95 latency") == [(None, "green"), (4.0, "orange"), (5.0, "red")]
    assert _thresholds(document, "error ratio") == [(None, "green"), (0.008, "orange"), (0.01, "red")]
    assert _thresholds(document, "p50 latency") is None  # no limit, no lines
    assert _thresholds(document, "resident memory") is None


def test_cli_writes_prints_and_refuses(tmp_path):
    (tmp_path / "b.yaml").write_text(BUDGET)
    runner = CliRunner()
    printed = runner.invoke(app, ["budget", "dashboard", str(tmp_path / "b.yaml"), "--stdout"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == dashboard(load_budget_text(BUDGET))
    out = tmp_path / "out" / "d.json"
    written = runner.invoke(app, ["budget", "dashboard", str(tmp_path / "b.yaml"), "-o", str(out)])
    assert written.exit_code == 0 and json.loads(out.read_text())["uid"] == "mlbudget-tiny"
    missing = runner.invoke(app, ["budget", "dashboard", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output


def test_write_dashboard_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_dashboard(load_budget_text(BUDGET))
    assert path == Path("configs/grafana/tiny.json") and json.loads(path.read_text())["title"] == "mlbudget · tiny"
