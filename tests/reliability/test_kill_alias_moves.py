"""Alias moves survive a kill -9 between any two registry writes (real processes, real MLflow on SQLite).

Each case runs the move in a child process that SIGKILLs itself right after its Nth
registry write (``killer.py``; a move makes 3 or 4: ledger intent, one or two aliases,
ledger done), checks that ``champion`` still names a real version, then re-runs the
same operation and checks the move is complete, recorded once, and done. Each child
process costs an MLflow import (5-15 s on a loaded 2-core machine), so every write gap
of each operation is covered once, not every combination.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.reliability.conftest import MODEL, budget_yaml

pytestmark = pytest.mark.slow
KILLER = Path(__file__).with_name("killer.py")
REPO = Path(__file__).resolve().parents[2]


def _run_killed(uri: str, kill_after: int, *op: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    return subprocess.run(
        [sys.executable, str(KILLER), uri, str(kill_after), *op], capture_output=True, text=True, env=env, timeout=180
    )


def _aliases(registry) -> dict[str, str]:
    return {k: str(v) for k, v in registry.client.get_registered_model(MODEL).aliases.items()}


@pytest.mark.parametrize(
    ("op", "kill_after", "half_done"),
    [
        ("promote", 1, {"champion": "1"}),  # intent written, no alias moved
        ("promote", 2, {"champion": "1", "previous-champion": "1"}),  # previous-champion moved
        ("promote", 3, {"champion": "2", "previous-champion": "1"}),  # aliases moved, entry not marked done
        ("approve", 2, {"champion": "1", "previous-champion": "1"}),
    ],
)
def test_promotion_killed_between_writes_is_completed_by_a_rerun(store_copy, op, kill_after, half_done):
    uri, registry = store_copy
    killed = _run_killed(uri, kill_after, op, MODEL, "2", "p95 -30 %")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _aliases(registry) == half_done  # champion always names a real version
    assert [e["status"] for e in registry.ledger(MODEL)] == ["done", "pending"]

    if op == "promote":
        registry.promote(MODEL, "2", "p95 -30 %")
    else:
        registry.approve(MODEL, "2", "p95 -30 %", approver="alice")
    assert _aliases(registry) == {"champion": "2", "previous-champion": "1"}
    entries = registry.ledger(MODEL)
    assert [(e["action"], e["version"], e["status"]) for e in entries] == [("promote", "1", "done"), (op, "2", "done")]
    assert entries[-1]["actor"] == ("alice" if op == "approve" else entries[0]["actor"])


def test_next_cycle_completes_a_killed_promotion(store_copy):
    """A cycle reads the champion through ``champion()``, which completes a pending move first."""
    uri, registry = store_copy
    assert _run_killed(uri, 2, "promote", MODEL, "3", "retrained").returncode == -signal.SIGKILL
    assert _aliases(registry) == {"champion": "1", "previous-champion": "1"}
    completed = registry.recover_moves(MODEL)
    assert [(e["action"], e["version"], e["status"]) for e in completed] == [("promote", "3", "done")]
    assert _aliases(registry) == {"champion": "3", "previous-champion": "1"}
    assert registry.recover_moves(MODEL) == []


@pytest.mark.parametrize(("kill_after", "via_cli"), [(1, False), (2, True), (3, False)])
def test_rollback_killed_between_writes_is_completed_by_the_same_command(store_copy, tmp_path, kill_after, via_cli):
    uri, registry = store_copy
    registry.promote(MODEL, "2", "p95 -30 %")
    budget = tmp_path / "budget.yaml"
    budget.write_text(budget_yaml())
    if via_cli:  # the real `mlbudget rollback` command, killed
        killed = _run_killed(uri, kill_after, "rollback-cli", str(budget), "p99 regression")
    else:
        killed = _run_killed(uri, kill_after, "rollback", MODEL, "-", "p99 regression")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _aliases(registry)["champion"] in {"1", "2"}

    from mlbudget.cli.main import app

    again = CliRunner().invoke(
        app, ["rollback", "--budget", str(budget), "--tracking-uri", uri, "--reason", "p99 regression"]
    )
    assert again.exit_code == 0, again.output
    assert _aliases(registry) == {"champion": "1", "previous-champion": "2"}  # completed, not swapped back
    actions = [(e["action"], e["version"], e["status"]) for e in registry.ledger(MODEL)]
    assert actions == [("promote", "1", "done"), ("promote", "2", "done"), ("rollback", "1", "done")]


def test_rollback_to_a_named_version_killed_then_completed(store_copy, tmp_path):
    uri, registry = store_copy
    registry.promote(MODEL, "2", "p95 -30 %")
    registry.promote(MODEL, "3", "int8")
    assert _run_killed(uri, 2, "rollback", MODEL, "1", "back to 1").returncode == -signal.SIGKILL
    assert _aliases(registry) == {"champion": "3", "previous-champion": "3"}
    budget = tmp_path / "budget.yaml"
    budget.write_text(budget_yaml())
    from mlbudget.cli.main import app

    args = ["rollback", "--budget", str(budget), "--tracking-uri", uri, "--reason", "back to 1", "--to", "1", "--json"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"model": MODEL, "champion": "1", "previous": "3"}
    assert _aliases(registry) == {"champion": "1", "previous-champion": "3"}
