"""The compose stack's Grafana: Prometheus as its data source, the budgets' dashboards provisioned."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def grafana() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]


def _mounts(service: dict) -> dict[str, str]:
    return {v.split(":")[1]: v.split(":")[0] for v in service["volumes"] if v.startswith(".")}


def test_grafana_reads_the_generated_dashboards(grafana):
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/mlbudget.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = _mounts(grafana)
    assert (
        mounts[path] == "./configs/grafana" and mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    )
    assert sorted((ROOT / "configs/grafana").glob("*.json")), "no dashboards in configs/grafana"


def test_its_data_source_is_the_stacks_prometheus(grafana):
    sources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert (
        source["url"] == "http://prometheus:9090"
        and grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    )


def test_the_image_is_the_grafana_release_the_sdk_types_target(grafana):
    release = version("grafana-foundation-sdk").split("!")[-1]  # "<epoch>!11.6.0": types for Grafana 11.6
    tag = grafana["image"].split(":")[1]
    assert tag.split(".")[:2] == release.split(".")[:2], (tag, release)


def test_airflow_reaches_prometheus_through_prometheus_default():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-worker-default"):
        assert services[name]["environment"]["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] == "prometheus://prometheus:9090"
