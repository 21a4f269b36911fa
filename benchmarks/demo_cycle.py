"""Time one full demo cycle and compare the winner with the FP32 champion.

Usage:
    .venv/bin/python benchmarks/demo_cycle.py [--workdir DIR] [--fast] [--json]

Runs the same cycle as `make demo` in a fresh work directory (so the champion is
bootstrapped first), then prints the wall time of the whole cycle and of each
stage, and the winner's p95 latency, size and accuracy next to the champion's,
all measured on the budget's hardware profile in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="work directory (default: a fresh temp dir)")
    parser.add_argument("--fast", action="store_true", help="tiny model and short benchmarks")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    from mlbudget.cycle.context import CycleContext
    from mlbudget.cycle.run import run_cycle
    from mlbudget.demo.budget import demo_budget_path

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlbudget-demo-"))
    stages: list[tuple[str, float]] = []

    def hook(stage: str, detail: str) -> None:
        stages.append((f"{stage} {detail}", time.perf_counter()))
        print(f"  {stage} {detail}", file=sys.stderr)

    ctx = CycleContext(
        budget_path=str(demo_budget_path()),
        workdir=str(workdir),
        fast=args.fast,
        window_end=datetime(2026, 11, 1, tzinfo=UTC),
        reason="benchmarks/demo_cycle.py",
    )
    from mlbudget.demo.champion import ensure_demo_champion

    # As `mlbudget demo` does: the demo champion first (not timed as part of the cycle).
    ensure_demo_champion(ctx.budget_path, ctx.resolved_tracking_uri(), workdir, fast=args.fast)
    started = time.perf_counter()
    outcome = run_cycle(ctx, on_stage=hook)
    total = time.perf_counter() - started
    ends = [t for _, t in stages[1:]] + [started + total]
    per_stage = {name: round(end - t, 2) for (name, t), end in zip(stages, ends)}
    by_name = {b["candidate"]: b for b in outcome.benchmarks}
    result = {
        "status": outcome.status,
        "wall_s": round(total, 1),
        "stages_s": per_stage,
        "champion": by_name.get("champion"),
        "winner": by_name.get(outcome.winner) if outcome.winner else None,
        "rationale": outcome.rationale,
        "workdir": str(workdir),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"demo cycle: {outcome.status} in {total:.1f} s (workdir {workdir})")
    for name, seconds in per_stage.items():
        print(f"  {seconds:8.2f} s  {name}")
    for label in ("champion", "winner"):
        row = result[label]
        if row and "error" not in row:
            print(
                f"{label:>9}: {row['candidate']:<40} p95 {row['p95_ms']:.3f} ms  size {row['size_mb']:.2f} MB  "
                f"accuracy {row['accuracy']:.4f}"
            )
    print(f"why: {outcome.rationale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
