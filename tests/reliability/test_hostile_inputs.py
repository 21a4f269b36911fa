"""Hostile budgets, source files and CLI values: each is one line on stderr and exit 2, never a traceback.

Every case here broke before (a traceback, a silent coercion, a validate that passed and a
cycle that then failed, or an alias bomb that ate memory).
"""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from mlbudget.cli.main import app

BASE = "name: m\nversion: 1.0.0\nowner: o\n"

BUDGETS = {
    # id: (document, the one line expected after "error: FILE: ")
    "inf": (BASE + "limits: {latency: {p95_ms: .inf}}\n", "'.inf' is not a finite number (expected a finite number)"),
    "nan": (BASE + "limits: {latency: {p95_ms: .nan}}\n", "'.nan' is not a finite number"),
    "1e400": (BASE + "limits: {latency: {p95_ms: 1e400}}\n", "limits.latency.p95_ms: must be a number (got '1e400')"),
    "1.0e400": (BASE + "limits: {latency: {p95_ms: 1.0e+400}}\n", "'1.0e+400' is not a finite number"),
    "5000 digits": (
        BASE + "limits: {latency: {p95_ms: " + "9" * 5000 + "}}\n",
        "integer with 5000 digits (at most 30)",
    ),
    "3000 levels": (BASE + "limits: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 32 levels"),
    "1000 block levels": (
        BASE + "limits:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1000)),
        "nested deeper than 32 levels",
    ),
    "huge window": (
        BASE + "limits: {}\nmonitoring: {window: 999999999999999h}\n",
        "monitoring.window: expected a duration such as '90s', '15m', '1h' or '7d', got '999999999999999h'",
    ),
    "11-year window": (BASE + "limits: {}\nmonitoring: {window: 4100d}\n", "duration must be at most 10 years"),
    "bucket 1e-7 s": (
        BASE + "limits: {}\nmonitoring: {latency_creep: {bucket: 0.0000001s}}\n",
        "latency_creep.bucket: must be >= 1s",
    ),
    "bucket 1 ms": (BASE + "limits: {}\nmonitoring: {latency_creep: {bucket: 0.001s}}\n", "must be >= 1s (got 0.001s)"),
    "too many buckets": (
        BASE + "limits: {}\nmonitoring: {latency_creep: {bucket: 2s}}\n",
        "window / bucket must be <= 10000 buckets (got 43200)",
    ),
    "bucket > window": (
        BASE + "limits: {}\nmonitoring: {window: 1h, latency_creep: {bucket: 2h, sustained_for: 1h, baseline: 1h}}\n",
        "latency_creep.bucket: must be <= window (7200s > 3600s)",
    ),
    "unknown action": (
        BASE + "limits: {}\npolicy: {rules: [{when: [drift], actions: [frobnicate]}]}\n",
        "policy.rules[0].actions: unknown candidate generator 'frobnicate' (known: distill, ",
    ),
    "bool as number": (
        BASE + "limits: {latency: {p95_ms: true}}\n",
        "limits.latency.p95_ms: must be a number (got True)",
    ),
    "numeric string": (
        BASE + "limits: {latency: {p95_ms: '5'}}\n",
        "limits.latency.p95_ms: must be a number (got '5')",
    ),
    "bool as int": (
        BASE + "limits: {}\nmonitoring: {min_rows: yes}\n",
        "monitoring.min_rows: must be an integer (got True)",
    ),
    "string as bool": (
        BASE + "limits: {}\npromotion: {auto_promote: 'true'}\n",
        "promotion.auto_promote: must be true",
    ),
    "alias bomb": (
        BASE + 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\nlimits: {}\n',
        "YAML anchors and aliases are not allowed",
    ),
    "python tag": (BASE + "limits: !!python/object/apply:os.system [id]\n", "could not determine a constructor"),
    "2 MB": (BASE + "limits: {}\ndescription: '" + "x" * 2_000_000 + "'\n", "document larger than 1000000 bytes"),
}


@pytest.mark.parametrize("case", list(BUDGETS))
def test_hostile_budget_is_one_line_and_exit_2(case, tmp_path):
    text, expected = BUDGETS[case]
    path = tmp_path / "b.yaml"
    path.write_text(text)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["budget", "validate", str(path)])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].removeprefix("error: ").startswith(f"{path}: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_the_shipped_budgets_still_validate():
    from pathlib import Path

    budgets = sorted(str(p) for p in (Path(__file__).parents[2] / "configs" / "budgets").glob("*.yaml"))
    result = CliRunner().invoke(app, ["budget", "validate", *budgets])
    assert result.exit_code == 0, result.output


SOURCE_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    + "name: request_log\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SOURCE_BOMB, "YAML anchors and aliases are not allowed (line 1)"),
        ("name: simulator\nrows: .inf\n", "'.inf' is not a finite number"),
        ("name: simulator\nrows: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 32 levels"),
        ("- name: simulator\n", "expected a mapping at the top level, got a list"),
    ],
)
def test_hostile_source_file_is_refused_before_anything_runs(text, expected, tmp_path):
    source = tmp_path / "source.yaml"
    source.write_text(text)
    budget = tmp_path / "b.yaml"
    budget.write_text(BASE + "limits: {}\n")
    started = time.perf_counter()
    result = CliRunner().invoke(
        app, ["check", "--budget", str(budget), "--source", str(source), "--workdir", str(tmp_path / "w")]
    )
    assert time.perf_counter() - started < 10
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {source}: {expected}" or expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--window-end", "0001-01-01"], "--window-end: must be between 1971-01-01 and 2200-01-01"),
        (["--window-end", "9999-12-31T23:59:59"], "--window-end: must be between"),
        (["--window-end", "yesterday"], "--window-end: expected an ISO 8601 timestamp"),
        (["--workdir", "/proc/x"], "--workdir: cannot create /proc/x"),
        (["--workdir", "/etc/passwd"], "--workdir: /etc/passwd is not a directory"),
    ],
)
def test_hostile_cli_values_for_run_and_check(args, expected, tmp_path):
    budget = tmp_path / "b.yaml"
    budget.write_text(BASE + "limits: {}\n")
    base = ["--budget", str(budget), "--source", str(tmp_path / "none.yaml")]
    if "--workdir" not in args:
        base += ["--workdir", str(tmp_path / "w")]
    for command in ("run", "check"):
        result = CliRunner().invoke(app, [command, *base, *args])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert expected in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["ledger", "rollback"])
def test_registry_commands_refuse_a_file_as_workdir(command, tmp_path):
    budget = tmp_path / "b.yaml"
    budget.write_text(BASE + "limits: {}\n")
    extra = ["--reason", "r"] if command == "rollback" else []
    result = CliRunner().invoke(app, [command, "--budget", str(budget), "--workdir", "/etc/passwd", *extra])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: --workdir: /etc/passwd is not a directory (expected a folder for mlbudget's state)"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1"])
def test_drift_threshold_must_be_a_positive_finite_number(value, tmp_path):
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(50, dtype=float)})
    frame.to_parquet(tmp_path / "a.parquet")
    result = CliRunner().invoke(
        app,
        [
            "drift",
            "--reference",
            str(tmp_path / "a.parquet"),
            "--current",
            str(tmp_path / "a.parquet"),
            "--threshold",
            value,
        ],
    )
    assert result.exit_code == 2, result.output
    assert "--threshold: must be" in result.stderr and "Traceback" not in result.output


def test_run_with_an_unknown_action_is_refused_before_any_mlflow_run(tmp_path):
    budget = tmp_path / "b.yaml"
    budget.write_text(BASE + "limits: {}\n")
    workdir = tmp_path / "w"
    result = CliRunner().invoke(
        app, ["run", "--budget", str(budget), "--workdir", str(workdir), "--action", "frobnicate", "--source", "x"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().startswith("error: unknown candidate generator 'frobnicate'; known: distill, ")
    assert not (workdir / "mlflow.db").exists()  # no run opened, none left RUNNING


def _drift(reference, current):
    return CliRunner().invoke(app, ["drift", "--reference", str(reference), "--current", str(current)])


def test_drift_inputs_with_duplicate_columns_or_cut_rows_are_bad_input(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.csv"
    good.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(30)))
    duplicate_csv = tmp_path / "dup.csv"
    duplicate_csv.write_text("a,a,b\n1,2,3\n4,5,6\n")
    duplicate_parquet = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["a", "a"]), duplicate_parquet)
    cut = tmp_path / "cut.csv"
    cut.write_text("a,b\n1,2\n3,4\n5")  # the last row cut in half
    for reference, current, message in (
        (duplicate_csv, good, "dup.csv: duplicate column 'a' (expected unique column names)"),
        (good, duplicate_parquet, "dup.parquet: duplicate column 'a' (expected unique column names)"),
        (good, cut, "cut.csv: not a readable csv table (ArrowInvalid: CSV parse error: Expected 2 columns, got 1"),
    ):
        result = _drift(reference, current)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_a_datetime_column_against_a_numeric_reference_is_bad_input_not_drift(tmp_path):
    import numpy as np
    import pandas as pd

    pd.DataFrame({"t": np.arange(100.0), "x": np.arange(100.0)}).to_parquet(tmp_path / "ref.parquet")
    current = pd.DataFrame({"t": pd.date_range("2026-01-01", periods=100, freq="h"), "x": np.arange(100.0)})
    current.to_parquet(tmp_path / "cur.parquet")
    result = _drift(tmp_path / "ref.parquet", tmp_path / "cur.parquet")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: column 't': expected numbers, got timestamp[us]"
