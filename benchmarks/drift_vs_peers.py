"""mlbudget drift side by side with Evidently and NannyML: whole processes, same Parquet files, interleaved.

    .venv/bin/python benchmarks/drift_vs_peers.py [--rows 1000000] [--reps 3] [--big-rows 10000000]
        [--evidently-python PY] [--nannyml-python PY] [--workdir DIR] [--json]

Data: ``benchmarks/drift_data.py`` (seeded; 40 numeric and 10 categorical features,
7 shifted), written once to ``--workdir`` in 1M-row pieces by a child process. Every command is one
process that reads its own files; each is timed from the outside (wall clock,
user + system CPU and peak RSS of the process from ``os.wait4``), the commands
interleaved in a rotated order in every repetition. Printed: medians, the
spread (min-max), CPU ratios against ``mlbudget drift`` (PSI), the load average,
and which features each tool flagged.

The peers run in their own virtual environments (``--evidently-python``,
``--nannyml-python``; the ``bench`` extra lists them), since their pins clash
with the project's. With ``--big-rows`` mlbudget alone also profiles and tests
a table of that many rows. Omit a peer's interpreter to leave it out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLBUDGET = str(Path(sys.executable).with_name("mlbudget"))
PIECE_ROWS = 1_000_000


def _drift_data():
    spec = importlib.util.spec_from_file_location("drift_data", HERE / "drift_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_table(path: Path, rows: int, seed: int, shifted: bool) -> Path:
    """Write ``rows`` generated rows in 1M-row pieces; reuse an existing file.

    The writing runs in a child process: Linux carries a parent's peak RSS into the
    ``ru_maxrss`` of the children it forks, so a large parent would inflate every
    measured command's peak RSS.
    """
    import pyarrow.parquet as pq

    if path.is_file() and pq.read_metadata(path).num_rows == rows:
        return path
    script = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import drift_vs_peers as bench; "
        f"bench._write({str(path)!r}, {rows}, {seed}, {shifted})"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    return path


def _write(path: str, rows: int, seed: int, shifted: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _drift_data()
    writer = None
    for piece, start in enumerate(range(0, rows, PIECE_ROWS)):
        frame = data.make_frame(min(PIECE_ROWS, rows - start), seed * 1000 + piece, shifted)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=256_000)
    writer.close()


def run(command: list[str]) -> dict:
    """One process: wall seconds, CPU seconds (user + system), peak RSS in MB, exit code."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")[-500:]
    code = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "exit": code,
        "load": load,
        "stderr": stderr if code not in (0, 1) else "",
    }


def commands(work: Path, ref: Path, cur: Path, args) -> dict[str, list[str]]:
    out = work / "out"
    out.mkdir(exist_ok=True)
    profile = work / f"{ref.stem}.profile.json"
    found = {
        "mlbudget drift (psi)": [MLBUDGET, "drift", "-r", str(ref), "-c", str(cur), "--json"],
        "mlbudget drift --method ks": [MLBUDGET, "drift", "-r", str(ref), "-c", str(cur), "--method", "ks", "--json"],
        "mlbudget profile (reference, once)": [MLBUDGET, "profile", str(ref), "-o", str(profile), "--json"],
        "mlbudget drift from the profile": [MLBUDGET, "drift", "-r", str(profile), "-c", str(cur), "--json"],
    }
    if args.evidently_python:
        script = str(HERE / "peers" / "evidently_drift.py")
        found["Evidently DataDriftPreset (psi)"] = [
            args.evidently_python,
            script,
            str(ref),
            str(cur),
            "psi",
            str(out / "evidently.json"),
        ]
    if args.nannyml_python:
        script = str(HERE / "peers" / "nannyml_drift.py")
        found["NannyML univariate (JS + chi2)"] = [
            args.nannyml_python,
            script,
            str(ref),
            str(cur),
            str(out / "nannyml.json"),
        ]
    return found


def verdicts(work: Path, ref: Path, cur: Path) -> dict[str, list[str]]:
    """Which features each tool flagged (mlbudget from one more run with its JSON kept)."""
    result = subprocess.run([MLBUDGET, "drift", "-r", str(ref), "-c", str(cur), "--json"], capture_output=True)
    rows = json.loads(result.stdout)["rows"]
    found = {"mlbudget": sorted(r["feature"] for r in rows if r["drifted"])}
    for name in ("evidently", "nannyml"):
        path = work / "out" / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())["drifted"]
    return found


def measure(named: dict[str, list[str]], reps: int, order_first: list[str]) -> dict[str, list[dict]]:
    """Every command ``reps`` times, interleaved, the order rotated each repetition (setup commands first)."""
    results: dict[str, list[dict]] = {name: [] for name in named}
    names = [n for n in named if n not in order_first]
    for rep in range(reps):
        rotated = names[rep % len(names) :] + names[: rep % len(names)]
        for name in [*order_first, *rotated]:
            outcome = run(named[name])
            results[name].append(outcome)
            print(
                f"rep {rep + 1} {name}: {outcome['wall_s']:.1f} s wall, {outcome['cpu_s']:.1f} s CPU, "
                f"{outcome['rss_mb']:.0f} MB, exit {outcome['exit']}, load {outcome['load']:.1f} {outcome['stderr']}",
                file=sys.stderr,
                flush=True,
            )
    return results


PROFILE_BASE = "mlbudget drift from the profile"


def summarise(results: dict[str, list[dict]], base: str) -> list[dict]:
    base_cpu = statistics.median(r["cpu_s"] for r in results[base])
    profile_cpu = statistics.median(r["cpu_s"] for r in results[PROFILE_BASE])
    rows = []
    for name, runs in results.items():
        wall = [r["wall_s"] for r in runs]
        cpu = [r["cpu_s"] for r in runs]
        rows.append(
            {
                "command": name,
                "reps": len(runs),
                "wall_s": statistics.median(wall),
                "wall_range": [min(wall), max(wall)],
                "cpu_s": statistics.median(cpu),
                "cpu_range": [min(cpu), max(cpu)],
                "rss_mb": statistics.median(r["rss_mb"] for r in runs),
                "cpu_ratio_vs_mlbudget": statistics.median(cpu) / base_cpu,
                "cpu_ratio_vs_mlbudget_profile": statistics.median(cpu) / profile_cpu,
                "load": statistics.median(r["load"] for r in runs),
                "exit": sorted({r["exit"] for r in runs}),
            }
        )
    return rows


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    print(
        "| command | wall s, median (min-max) | CPU s, median (min-max) | peak RSS MB "
        "| CPU / mlbudget drift (both files) | CPU / mlbudget drift (saved profile) | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['command']} | {r['wall_s']:.1f} ({r['wall_range'][0]:.1f}-{r['wall_range'][1]:.1f}) "
            f"| {r['cpu_s']:.1f} ({r['cpu_range'][0]:.1f}-{r['cpu_range'][1]:.1f}) | {r['rss_mb']:.0f} "
            f"| {r['cpu_ratio_vs_mlbudget']:.1f}x | {r['cpu_ratio_vs_mlbudget_profile']:.1f}x | {r['load']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--big-rows", type=int, default=0, help="Also run mlbudget alone on this many rows.")
    parser.add_argument("--evidently-python", help="Python of a venv with evidently (the bench extra).")
    parser.add_argument("--nannyml-python", help="Python of a venv with nannyml (the bench extra).")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mlbudget-drift-bench"))
    parser.add_argument("--json", action="store_true", help="Also print the results as JSON.")
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    ref = write_table(work / f"ref_{args.rows}.parquet", args.rows, seed=1, shifted=False)
    cur = write_table(work / f"cur_{args.rows}.parquet", args.rows, seed=2, shifted=True)
    named = commands(work, ref, cur, args)
    setup = ["mlbudget profile (reference, once)"]
    results = measure(named, args.reps, setup)
    report = {
        "rows": args.rows,
        "cpu_count": os.cpu_count(),
        "table": summarise(results, "mlbudget drift (psi)"),
        "verdicts": verdicts(work, ref, cur),
        "shifted": list(_drift_data().SHIFTED),
    }
    print_table(f"{args.rows:,} rows x 50 features, {args.reps} interleaved repetitions", report["table"])
    for tool, drifted in report["verdicts"].items():
        hits = len(set(drifted) & set(report["shifted"]))
        print(
            f"{tool}: {hits} of 7 shifted features flagged, {len(set(drifted) - set(report['shifted']))} false alarms"
        )
    if args.big_rows:
        big_ref = write_table(work / f"ref_{args.big_rows}.parquet", args.big_rows, seed=1, shifted=False)
        big_cur = write_table(work / f"cur_{args.big_rows}.parquet", args.big_rows, seed=2, shifted=True)
        big = {
            k: v
            for k, v in commands(
                work, big_ref, big_cur, argparse.Namespace(evidently_python=None, nannyml_python=None)
            ).items()
            if "ks" not in k
        }
        big_results = measure(big, args.reps, setup)
        report["big"] = {"rows": args.big_rows, "table": summarise(big_results, "mlbudget drift (psi)")}
        print_table(f"{args.big_rows:,} rows x 50 features, mlbudget alone", report["big"]["table"])
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
