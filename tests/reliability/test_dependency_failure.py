"""A dependency that fails fails fast and quietly: exit 3 (DependencyError), one line, no retry warnings.

- an unreachable Postgres tracking URI (closed port; a host that accepts and never answers): < 10 s;
- a real ``mlflow server`` killed mid-way, and an HTTP server that accepts and never answers: a
  registry call inside a cycle gives up in < 30 s (bounded retries), not after MLflow's 250 s.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlbudget.errors import DependencyError
from tests.reliability.conftest import MODEL, budget_yaml

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def black_hole():
    """A loopback port that accepts TCP connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _cli(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlbudget.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    return done, time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("where", ["closed port", "black hole"])
def test_unreachable_postgres_fails_within_10s_with_one_line(where, black_hole, tmp_path):
    port = black_hole if where == "black hole" else _closed_port()
    budget = tmp_path / "b.yaml"
    budget.write_text(budget_yaml())
    uri = f"postgresql://mlbudget:secret@127.0.0.1:{port}/test"
    done, elapsed = _cli("ledger", "--budget", str(budget), "--tracking-uri", uri)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: MLflow tracking server at postgresql+psycopg2://mlbudget:***@127.0.0.1:{port}")
    assert "secret" not in done.stderr and "Traceback" not in done.stderr
    # the process' own start (imports) is part of the figure
    assert elapsed < 10, f"{where}: {elapsed:.1f} s"


def _timed_promote(uri: str) -> tuple[float, str]:
    from mlbudget.registry.store import MlflowRegistry

    registry = MlflowRegistry(uri)
    assert registry.client is not None  # MLflow imported and the client built: the clock times the calls only
    started = time.perf_counter()
    with pytest.raises(DependencyError) as info:
        registry.promote(MODEL, "2", "p95 -30 %")
    return time.perf_counter() - started, str(info.value)


@pytest.mark.slow
def test_a_hung_tracking_server_fails_a_call_in_under_30s(black_hole, capfd, monkeypatch):
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    elapsed, message = _timed_promote(f"http://127.0.0.1:{black_hole}")
    with capfd.disabled():  # the figure in docs/reliability.md (shown with -s)
        print(f"hung server: promote failed after {elapsed:.1f} s")
    assert elapsed < 30, elapsed
    assert message.startswith(f"MLflow at http://127.0.0.1:{black_hole}: promoting kill-me version 2 to champion")
    assert "Retrying" not in capfd.readouterr().err


@pytest.mark.slow
@pytest.mark.e2e
def test_mlflow_server_killed_mid_cycle_fails_the_next_call_fast(three_versions, tmp_path, capfd, monkeypatch):
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    import shutil

    from mlbudget.registry.store import MlflowRegistry

    shutil.copyfile(three_versions, tmp_path / "mlflow.db")
    port = _closed_port()
    cmd = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(tmp_path / "server.log", "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        registry = MlflowRegistry(uri)
        deadline = time.monotonic() + 240  # a loaded 2-core machine starts mlflow server slowly
        while True:
            try:
                registry.check_reachable()
                break
            except DependencyError:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        assert [e["version"] for e in registry.ledger(MODEL)] == ["1"]  # the cycle has begun
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the server dies mid-cycle
        proc.wait(timeout=10)
    capfd.readouterr()
    elapsed, message = _timed_promote(uri)
    with capfd.disabled():  # the figure in docs/reliability.md (shown with -s)
        print(f"mlflow server killed: promote failed after {elapsed:.1f} s")
    assert elapsed < 30, elapsed
    assert "promoting kill-me version 2 to champion failed" in message
    assert "Retrying" not in capfd.readouterr().err
