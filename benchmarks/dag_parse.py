"""How long Airflow takes to parse each DAG file: a DagBag of one file in a fresh interpreter.

    .venv/bin/python benchmarks/dag_parse.py [--reps 5] [--json]

Each repetition is a new interpreter that imports ``airflow.sdk`` first (every DAG file
pays that anyway), then times ``DagBag(dag_folder=FILE)``: mlbudget's imports, reading
and validating the budgets, and building the DAGs. The files are interleaved in every
repetition. Printed: median, min and max per file, and the load average. Also timed in
the same interpreter: a second parse (what a long-lived DAG processor pays) and, for
the first parse, how much of it is reading the budgets (``discover``). ``baseline.py``,
a one-task TaskFlow DAG, shows what Airflow's decorators cost any DAG file (the
``airflow.sdk.task`` import is lazy: ``import airflow.sdk`` does not pay it).

Each file is parsed on a ``fresh`` heap and on a ``frozen`` one: Airflow's DAG processor
calls ``gc.freeze()`` before it forks the process that parses a file, so that the
interpreter's ~200,000 objects from importing Airflow are not scanned again by a full
garbage collection (on a fresh heap one such collection, set off by whatever the DAG
file allocates, takes ~100 ms here).

The shipped budgets in ``configs/budgets`` are parsed unless ``MLBUDGET_CONFIG_DIR`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["mlbudget_recalibrate.py", "mlbudget_on_demand.py"]
BASELINE = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.sdk import dag, task


    @dag(schedule=None, start_date=datetime(2025, 1, 1))
    def baseline():
        @task
        def one() -> None:
            pass

        one()


    baseline()
    """
)
"""A one-task TaskFlow DAG: what any DAG file pays for Airflow's decorators, whatever it does."""

SCRIPT = textwrap.dedent(
    """
    import gc, json, sys, time
    import airflow.sdk  # what every DAG file pays anyway
    from airflow.dag_processing.dagbag import DagBag
    if sys.argv[3] == "frozen":
        gc.freeze()  # as the DAG processor does before it forks a parsing process
    t = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    first = time.perf_counter() - t
    assert not bag.import_errors, bag.import_errors
    t = time.perf_counter()
    DagBag(dag_folder=sys.argv[1])
    second = time.perf_counter() - t
    from mlbudget_airflow.budgets import config_dir, discover
    t = time.perf_counter()
    discover(config_dir(sys.argv[2]))
    budgets_again = time.perf_counter() - t
    print(json.dumps({"first": first, "second": second, "budgets_again": budgets_again, "dags": len(bag.dag_ids)}))
    """
)


def parse_once(dag_file: str, baseline_dir: Path, heap: str) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", tempfile.gettempdir() + "/mlbudget-dag-parse"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(_path(dag_file, baseline_dir)), str(ROOT / "dags"), heap],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{dag_file}: parse failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _path(dag_file: str, baseline_dir: Path) -> Path:
    return baseline_dir / dag_file if dag_file == "baseline.py" else ROOT / "dags" / dag_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="Also print the results as JSON.")
    args = parser.parse_args()
    files = [*FILES, "baseline.py"]
    runs = [(f, heap) for f in files for heap in ("fresh", "frozen")]
    results: dict[tuple[str, str], list[dict]] = {run: [] for run in runs}
    load = []
    with tempfile.TemporaryDirectory() as baseline_dir:
        (Path(baseline_dir) / "baseline.py").write_text(BASELINE)
        for rep in range(args.reps):
            for dag_file, heap in runs[rep % len(runs) :] + runs[: rep % len(runs)]:  # rotated order
                load.append(os.getloadavg()[0])
                results[dag_file, heap].append(parse_once(dag_file, Path(baseline_dir), heap))
    print(f"DAG file parse, {args.reps} fresh interpreters each (load average {statistics.median(load):.1f})\n")
    print(
        "| file | DAGs | heap | first parse ms, median (min-max) | second parse ms | budgets read again ms |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    summary = {}
    for (dag_file, heap), parses in results.items():
        first = [r["first"] * 1000 for r in parses]
        second = statistics.median(r["second"] * 1000 for r in parses)
        again = statistics.median(r["budgets_again"] * 1000 for r in parses)
        summary[f"{dag_file} {heap}"] = {"first_ms": first, "second_ms": second, "budgets_again_ms": again}
        print(
            f"| `{dag_file}` | {parses[0]['dags']} | {heap} | {statistics.median(first):.0f} "
            f"({min(first):.0f}-{max(first):.0f}) | {second:.0f} | {again:.0f} |"
        )
    if args.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
