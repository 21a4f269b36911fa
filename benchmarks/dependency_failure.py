"""How long a dead dependency takes to fail, and what it prints (stderr lines).

- `mlbudget ledger` against a Postgres tracking URI on a closed port and on a black hole (a port that
  accepts and never answers): wall time of the whole command (imports included), exit code, stderr lines;
- a registry call (`promote`) against an HTTP tracking server that is a black hole, in-process.

    .venv/bin/python benchmarks/dependency_failure.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_ledger(uri: str, budget: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlbudget.cli.main", "ledger", "--budget", str(budget), "--tracking-uri", uri],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    return {"seconds": round(time.perf_counter() - started, 2), "exit": done.returncode,
            "stderr_lines": len(done.stderr.strip().splitlines())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    with tempfile.TemporaryDirectory() as tmp:
        budget = Path(tmp) / "b.yaml"
        budget.write_text("name: m\nversion: 1.0.0\nowner: o\nlimits: {}\n")
        for _ in range(args.repeat):
            for name, port in (("postgres closed port", closed_port()), ("postgres black hole", hole.getsockname()[1])):
                result = cli_ledger(f"postgresql://u:pw@127.0.0.1:{port}/test", budget)
                print(json.dumps({"case": name, **result}), flush=True)
    from mlbudget.errors import DependencyError
    from mlbudget.registry.store import MlflowRegistry

    for _ in range(args.repeat):
        started = time.perf_counter()
        try:
            MlflowRegistry(f"http://127.0.0.1:{hole.getsockname()[1]}").promote("m", "2", "r")
        except DependencyError:
            pass
        print(json.dumps({"case": "http black hole, promote", "seconds": round(time.perf_counter() - started, 2)}))
    print(json.dumps({"load_avg": os.getloadavg()}))


if __name__ == "__main__":
    main()
