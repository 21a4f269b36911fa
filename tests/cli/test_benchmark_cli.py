"""``mlbudget benchmark`` through a real Typer app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from mlbudget.cli.benchmark import benchmark_command

FAST = ["--duration", "0.05", "--warmup", "5", "--max-windows", "3", "--min-samples", "20"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)  # keep "benchmark" a sub-command, as in the real app
    app.command("benchmark")(benchmark_command)
    return app


def test_json_output_has_the_documented_keys(app, tiny_onnx):
    result = CliRunner().invoke(app, ["benchmark", str(tiny_onnx), "-c", "1,2", "--json", *FAST])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [r["concurrency"] for r in doc["results"]] == [1, 2]
    for r in doc["results"]:
        assert {"concurrency", "p50_ms", "p95_ms", "p99_ms", "throughput_rps", "samples"} <= set(r)
    assert doc["peak_rss_mb"] > 0 and doc["size_mb"] > 0 and doc["cold_start_ms"] > 0
    hw = doc["hardware"]
    assert {"cpu_model", "cpu_flags", "cores_physical", "cores_logical", "ort_version", "provider"} <= set(hw)
    assert (hw["intra_op_threads"], hw["inter_op_threads"]) == (1, 1)


def test_table_output(app, tiny_onnx):
    result = CliRunner().invoke(app, ["benchmark", str(tiny_onnx), "--threads", "2", *FAST])
    assert result.exit_code == 0, result.stderr
    assert "p95 CI" in result.stdout and "2 intra" in result.stdout


def test_corrupt_model_exits_2_with_one_line(app, tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"garbage, not protobuf")
    result = CliRunner().invoke(app, ["benchmark", str(bad), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt.onnx" in lines[0] and "Traceback" not in result.stderr


def test_bad_concurrency_exits_2(app, tiny_onnx):
    result = CliRunner().invoke(app, ["benchmark", str(tiny_onnx), "-c", "1,x"])
    assert result.exit_code == 2
    assert "comma list of integers" in result.stderr
