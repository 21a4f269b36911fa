"""``mlbudget drift``: exit codes 0/1/2, --json on stdout only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from mlbudget.cli.drift import drift_command

app = typer.Typer()
app.command("drift")(drift_command)


@app.command("other")
def _other() -> None:
    """A second command so that typer keeps the ``drift`` subcommand name."""


def run(reference, current, *args):
    return CliRunner().invoke(app, ["drift", "--reference", str(reference), "--current", str(current), *map(str, args)])


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")

    def frame(shift: float, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        n = 5000
        return pd.DataFrame(
            {
                "age": rng.normal(40 + shift * 10, 10, n),
                "income": rng.lognormal(10, 0.5, n),
                "region": rng.choice(["n", "s", "e"], n, p=[0.5, 0.3, 0.2]),
                "timestamp": pd.date_range("2026-11-01", periods=n, freq="s", tz="UTC"),
                "latency_ms": rng.gamma(2, 10 + 10 * shift, n),
                "status": "ok",
                "prediction": rng.integers(0, 2, n),
            }
        )

    paths = {"ref": folder / "ref.parquet", "same": folder / "same.csv", "shifted": folder / "shifted.parquet"}
    frame(0.0, 1).to_parquet(paths["ref"])
    frame(0.0, 2).to_csv(paths["same"], index=False)
    frame(0.5, 3).to_parquet(paths["shifted"])
    (folder / "broken.parquet").write_bytes(b"not parquet")
    paths["broken"] = folder / "broken.parquet"
    return paths


def test_no_drift_exit_0_table(tables):
    result = run(tables["ref"], tables["same"])
    assert result.exit_code == 0, result.output
    assert "age" in result.stdout and "latency_ms" not in result.stdout and "no dataset drift" in result.stdout


def test_drift_exit_1_json_on_stdout_only(tables):
    result = run(tables["ref"], tables["shifted"], "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    rows = {r["feature"]: r for r in document["rows"]}
    assert set(rows) == {"age", "income", "region"}  # request-log columns skipped
    assert rows["age"]["drifted"] and rows["age"]["method"] == "psi" and rows["age"]["min_effect"] == 0.02
    assert rows["age"]["status"] == "drifted" and rows["age"]["threshold"] == max(0.02, rows["age"]["noise"])
    assert not rows["income"]["drifted"]
    assert set(rows["age"]) == {
        "feature",
        "kind",
        "method",
        "statistic",
        "p_value",
        "threshold",
        "noise",
        "min_effect",
        "status",
        "drifted",
    }
    assert document["drifted_share"] == pytest.approx(1 / 3) and document["dataset_drift"] is True
    assert document["exact"] is False


def test_method_threshold_columns_and_exact(tables):
    result = run(tables["ref"], tables["shifted"], "--method", "ks", "--columns", "age,latency_ms", "--exact", "--json")
    assert result.exit_code == 1
    rows = {r["feature"]: r for r in json.loads(result.stdout)["rows"]}
    assert set(rows) == {"age", "latency_ms"}  # named columns are tested even if request-log
    assert rows["age"]["method"] == "ks" and rows["age"]["p_value"] < 1e-6
    result = run(tables["ref"], tables["shifted"], "--threshold", "5", "--json")
    assert result.exit_code == 0 and {r["min_effect"] for r in json.loads(result.stdout)["rows"]} == {5.0}


def test_profile_as_reference(tables, tmp_path):
    from mlbudget.detection.drift import profile_reference

    profile = profile_reference(pd.read_parquet(tables["ref"]), ["age", "income"], ["region"])
    profile.save(tmp_path / "profile.json")
    assert run(tmp_path / "profile.json", tables["shifted"]).exit_code == 1


def test_profile_command_then_drift_from_it(tables, tmp_path):
    from mlbudget.cli.profile import profile_command

    profile_app = typer.Typer()
    profile_app.command("profile")(profile_command)
    profile_app.command("other")(_other)
    out = tmp_path / "ref.json"
    result = CliRunner().invoke(profile_app, ["profile", str(tables["ref"]), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 5000 and set(summary["columns"]) == {"age", "income", "region"}
    assert summary["columns"]["age"]["binning"] == "quantiles" and summary["bytes"] == out.stat().st_size
    from_profile = json.loads(run(out, tables["shifted"], "--json").stdout)
    from_rows = json.loads(run(tables["ref"], tables["shifted"], "--json").stdout)
    assert from_profile["rows"] == from_rows["rows"]
    bad = CliRunner().invoke(profile_app, ["profile", str(tables["ref"]), "-o", str(out), "--columns", "nope"])
    assert bad.exit_code == 2 and "lacks columns: nope" in bad.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.parquet", "SAME"], "missing.parquet: no such file"),
        (["BROKEN", "SAME"], "broken.parquet: not a readable parquet table"),
        (["REF", "SAME", "--method", "nope"], "unknown drift detector 'nope'; known: chi_square"),
        (["REF", "SAME", "--columns", "zzz"], "reference data lacks columns: zzz"),
        (["REF", "SAME", "--threshold", "0"], "--threshold: must be > 0"),
    ],
)
def test_bad_input_exit_2_one_line(tables, args, message):
    names = {"SAME": tables["same"], "BROKEN": tables["broken"], "REF": tables["ref"]}
    result = run(*[names.get(a, a) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_no_common_columns_exit_2(tables, tmp_path):
    pd.DataFrame({"other": [1.0, 2.0]}).to_csv(tmp_path / "other.csv", index=False)
    result = run(tables["ref"], tmp_path / "other.csv")
    assert result.exit_code == 2 and "no feature columns in common" in result.stderr


@pytest.mark.parametrize("preset", [None, "2"])
def test_drift_starts_openblas_with_one_thread_unless_told(tables, preset):
    """Counting uses no BLAS: OpenBLAS's per-core threads only cost CPU at numpy's import (a fresh process,
    since this one has imported numpy already). An explicit OPENBLAS_NUM_THREADS is kept."""
    import os
    import subprocess
    import sys

    script = (
        "import sys; from mlbudget.cli.main import app\n"
        f"sys.argv = ['mlbudget', 'drift', '-r', {str(tables['ref'])!r}, '-c', {str(tables['same'])!r}, '--json']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "import threadpoolctl\n"
        "print([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'],"
        " 'rich' in sys.modules, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset:
        env["OPENBLAS_NUM_THREADS"] = preset
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    threads, rich_imported = result.stderr.strip().splitlines()[-1].rsplit(" ", 1)
    assert threads == f"[{preset or 1}]"
    assert rich_imported == "False"  # --json prints no table
    assert json.loads(result.stdout)["dataset_drift"] is False
