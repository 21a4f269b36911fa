"""``mlbudget serve`` and ``mlbudget loadgen`` through a real Typer app: errors, exit codes, --json."""

from __future__ import annotations

import json
import socket

import pytest
import typer
from typer.testing import CliRunner

from mlbudget.cli.loadgen import loadgen_command
from mlbudget.cli.serve import serve_command
from tests.serve.test_server import start_server


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("loadgen")(loadgen_command)
    return app


def test_serve_needs_a_bundle_or_a_budget(app):
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: nothing to serve: give --bundle DIR (model.onnx + contract.json) or --budget FILE"
    )


def test_serve_names_a_broken_bundle(app, tmp_path):
    result = CliRunner().invoke(app, ["serve", "--bundle", str(tmp_path), "--port", "0"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'model.onnx'}: model file missing (expected an ONNX model)")


def test_loadgen_json_counts(app, demo_bundle):
    server = start_server(demo_bundle, None)
    try:
        args = ["loadgen", "--url", server.url + "/predict", "--rps", "200", "-n", "30", "--batch-size", "4", "--json"]
        result = CliRunner().invoke(app, args)
    finally:
        server.stop()
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sent"] + doc["skipped"] == 30 and doc["ok"] == doc["sent"] and doc["error"] == doc["failed"] == 0
    assert doc["rows"] == doc["ok"] * 4 and 0 < doc["p50_ms"] <= doc["p95_ms"] <= doc["p99_ms"]


def test_loadgen_exits_3_when_nothing_answers(app, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    url = f"http://127.0.0.1:{port}/predict"
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(app, ["loadgen", "--url", url, "-n", "3", "--rows", str(rows), "--json"])
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["failed"] == doc["sent"] == 3 and doc["p50_ms"] is None
    # Without --rows it asks the server for its features first, and says the server is down.
    result = CliRunner().invoke(app, ["loadgen", "--url", url, "-n", "3", "--json"])
    assert result.exit_code == 3
    assert f"127.0.0.1:{port}/features unreachable" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rps", "0"], "error: invalid load options: rps: Input should be greater than 0"),
        (["--url", "ftp://x/predict"], "error: invalid load options: options: url must be http://host:port/path"),
        (["--batch-size", "0"], "error: invalid load options: batch_size: Input should be greater than or equal to 1"),
    ],
)
def test_loadgen_refuses_bad_options(app, args, message):
    result = CliRunner().invoke(app, ["loadgen", "-n", "1", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr


def test_loadgen_rows_file_missing_is_exit_2_naming_it(app, tmp_path):
    missing = tmp_path / "holdout.parquet"
    result = CliRunner().invoke(app, ["loadgen", "-n", "1", "--rows", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: no such rows file" in result.stderr
