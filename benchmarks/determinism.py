"""Does the demo promote the same winner every time, on a busy machine?

Usage:
    .venv/bin/python benchmarks/determinism.py [--runs 10] [--no-hog] [--full] [--out FILE.json]

Runs ``mlbudget demo --fast --json`` (``--full``: without ``--fast``) in N
fresh directories, one after the other, while another CPU-heavy process (a
Python busy loop, started here and stopped at the end) competes for the
cores. Each run trains the demo champion, calibrates the demo budget to it,
and runs one cycle; the script prints each run's winner, status, exit code,
wall time and finalists, and exits 0 only when every run promoted the same
winner (the acceptance check of issue 7: 10 of 10).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mlbudget() -> str:
    exe = Path(sys.executable).with_name("mlbudget")
    return str(exe) if exe.exists() else "mlbudget"


def _hog() -> subprocess.Popen:
    """A CPU-heavy process: one Python busy loop (one core)."""
    return subprocess.Popen([sys.executable, "-c", "while True:\n    pass"])


def _finals(workdir: Path) -> list[dict]:
    found = sorted(workdir.glob(".mlbudget/cycles/*/*/finals.json"))
    if not found:
        return []
    data = json.loads(found[-1].read_text())
    return [
        {
            "name": f["name"],
            "median": f["median"],
            "interval": f["interval"],
            "unstable_rounds": f["unstable_rounds"],
            "excluded": bool(f["excluded"]),
        }
        for f in data["finalists"]
    ]


def run_once(k: int, fast: bool) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"mlbudget-determinism-{k}-"))
    cmd = [_mlbudget(), "demo", "--json", "--workdir", str(workdir / ".mlbudget")] + (["--fast"] if fast else [])
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    try:
        outcome = json.loads(proc.stdout)
    except ValueError:
        outcome = {}
    return {
        "run": k,
        "dir": str(workdir),
        "exit": proc.returncode,
        "status": outcome.get("status"),
        "winner": outcome.get("winner"),
        "champion_after": outcome.get("champion_after"),
        "wall_s": round(wall, 1),
        "finals": _finals(workdir),
        "stderr_tail": "" if outcome else proc.stderr[-800:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-hog", action="store_true", help="do not start the competing CPU-heavy process")
    parser.add_argument("--full", action="store_true", help="the full demo model instead of --fast")
    parser.add_argument("--out", type=Path, default=None, help="write every run's record as JSON here")
    args = parser.parse_args()

    hog = None if args.no_hog else _hog()
    results = []
    try:
        load = os.getloadavg()[0]
        for k in range(1, args.runs + 1):
            r = run_once(k, fast=not args.full)
            results.append(r)
            print(
                f"run {k:2d}: exit {r['exit']} {r['status'] or '-':9s} winner {r['winner']}  {r['wall_s']:.0f} s"
                f"  (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            if r["stderr_tail"]:
                print("   " + r["stderr_tail"].replace("\n", "\n   "), flush=True)
            if args.out:  # after every run, so that a series cut short keeps what it measured
                args.out.write_text(json.dumps({"runs": results}, indent=2))
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    winners = Counter(r["winner"] for r in results)
    top, count = winners.most_common(1)[0]
    walls = sorted(r["wall_s"] for r in results)
    summary = {
        "runs": len(results),
        "same_winner": count,
        "winner": top,
        "winners": dict(winners),
        "wall_s_median": walls[len(walls) // 2],
        "wall_s_range": [walls[0], walls[-1]],
        "load_at_start": round(load, 1),
        "cpu_hog": hog is not None,
        "profile": "full" if args.full else "fast",
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "runs": results}, indent=2))
    ok = count == len(results) and top is not None and all(r["exit"] == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
