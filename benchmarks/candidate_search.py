"""The candidate search on foreign models and on the demo model: what it finds, and what a time box costs.

For each model (the scikit-learn pipeline, the gradient-boosting regressor and the two-input PyTorch network of
``tests/adoption/foreign_models.py``, adopted with its torch.export program; and the demo MLP), in one run:

1. adopt it into a fresh MLflow (SQLite) and write a 24 h request log of held-back rows;
2. run a whole cycle forcing every generator (those that cannot apply are left out with their reason), with no
   time box, and time the search (generation, screening benchmarks, finals);
3. run the same cycle again in a fresh directory with a time box of ``--box-share`` of the time at which that
   search started its finals (so that the box cuts into generation and screening, not only the finals).

Prints per model and run: the winner, its p95 and size against the FP32 champion (the finals' medians where they
ran, else the screening benchmark), its quality change on the holdout, the search's wall time and what the time
box skipped. The figures depend on the machine: run it on a quiet one and report ``uptime`` with them.

    .venv/bin/python benchmarks/candidate_search.py [--models sk gbr torch demo] [--box-share 0.5] [--full] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.adoption.foreign_models builds the foreign models

WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
FORCED = [
    "float32",
    "ort_dynamic_int8",
    "ort_static_int8",
    "ort_static_int8_aware",
    "inc_static_int8",
    "distill_onnx",
    "retrain",
    "distill",
]


def _foreign(key: str, root: Path):
    from tests.adoption import foreign_models as fm

    build = {"sk": fm.build_sk_pipeline, "gbr": fm.build_gbr, "torch": fm.build_torch_two}[key]
    return build(root / f"model-{key}")


def _prepare(key: str, work: Path):
    """Adopt (or, for the demo, train and register) the model in a fresh MLflow; returns the cycle settings."""
    import yaml

    uri = f"sqlite:///{work / 'mlflow.db'}"
    if key == "demo":
        from mlbudget.demo.champion import ensure_demo_champion

        budget_path = REPO / "configs" / "budgets" / "demo.yaml"
        ensure_demo_champion(budget_path, uri, work)
        return {"budget_path": str(budget_path), "workdir": str(work), "tracking_uri": uri}
    from mlbudget.adoption import adopt_model
    from mlbudget.registry.store import MlflowRegistry
    from tests.adoption import foreign_models as fm

    foreign = _foreign(key, work)
    name = {"sk": "bc-pipeline", "gbr": "diabetes-gbr", "torch": "digits-torch"}[key]
    budget = fm.foreign_budget(name, foreign.accuracy)
    budget_path = work / f"{name}.yaml"
    budget_path.write_text(yaml.safe_dump(budget.model_dump(mode="json", exclude_none=True)))
    adopt_model(budget, foreign.onnx, foreign.reference, label=foreign.label, tracking_uri=uri, program=foreign.program)
    _, champion = MlflowRegistry(uri).champion(name, work / "champion")
    fm.request_log(foreign, champion, work / "logs", WINDOW_END)
    return {
        "budget_path": str(budget_path),
        "workdir": str(work),
        "tracking_uri": uri,
        "source": {"name": "request_log", "path": str(work / "logs" / "*.parquet")},
    }


def _figures(outcome) -> dict:
    """Winner against champion: p95 and size (finals' medians where they ran), quality, search time, skipped."""
    from mlbudget.cycle.state import open_cycle

    cycle = Path(outcome.cycle_dir)
    screening = {b["candidate"]: b for b in outcome.benchmarks}
    finals = json.loads((cycle / "finals.json").read_text()) if (cycle / "finals.json").exists() else {}
    search = json.loads((cycle / "search.json").read_text()) if (cycle / "search.json").exists() else {}
    concurrency = open_cycle(str(cycle)).budget.limits.latency.concurrency
    medians = {}  # the finals' merged report (medians of the stable rounds), at the budget's concurrency
    for finalist in finals.get("finalists") or []:
        levels = (finalist.get("report") or {}).get("results") or []
        medians[finalist["name"]] = next((lv["p95_ms"] for lv in levels if lv["concurrency"] == concurrency), None)

    def p95(name: str | None) -> float | None:
        if name is None:
            return None
        if medians.get(name) is not None:
            return medians[name]
        return (screening.get(name) or {}).get("p95_ms")

    winner = outcome.winner
    champ, best = screening.get("champion", {}), screening.get(winner or "", {})
    quality = None
    if winner and best.get("accuracy") is not None and champ.get("accuracy") is not None:
        quality = best["accuracy"] - champ["accuracy"]
    return {
        "status": outcome.status,
        "winner": winner,
        "candidates": len(screening),
        "champion_p95_ms": p95("champion"),
        "winner_p95_ms": p95(winner),
        "champion_size_mb": champ.get("size_mb"),
        "winner_size_mb": best.get("size_mb"),
        "metric": champ.get("accuracy_metric"),
        "quality_change": quality,
        "search_minutes": search.get("minutes"),
        "finals_started_min": dict(zip(search.get("done", []), search.get("started_min", []))).get("finals"),
        "max_minutes": search.get("max_minutes"),
        "skipped": search.get("skipped", []),
        "cycle_seconds": outcome.seconds,
        "generation_errors": outcome.generation_errors,
    }


def _run(key: str, root: Path, fast: bool, max_minutes: float | None) -> dict:
    from mlbudget.cycle.context import CycleContext
    from mlbudget.cycle.run import run_cycle

    work = root / f"{key}-{'box' if max_minutes else 'open'}"
    work.mkdir(parents=True)
    settings = _prepare(key, work)
    ctx = CycleContext(
        window_end=WINDOW_END, actions=FORCED, fast=fast, max_minutes=max_minutes, reason="benchmark", **settings
    )
    started = time.perf_counter()
    outcome = run_cycle(ctx, on_stage=lambda stage, detail: print(f"  {key}: {stage} {detail}", file=sys.stderr))
    figures = _figures(outcome)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def _fmt(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["sk", "gbr", "torch", "demo"], choices=["sk", "gbr", "torch", "demo"]
    )
    parser.add_argument(
        "--box-share", type=float, default=0.5, help="Time box as a share of the open search's time to its finals."
    )
    parser.add_argument("--full", action="store_true", help="Full benchmark settings (default: the fast profile).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="candidate-search-"))
    rows = []
    for key in args.models:
        print(f"{key}: open search", file=sys.stderr)
        open_run = _run(key, root, not args.full, None)
        reference = open_run["finals_started_min"] or open_run["search_minutes"] or 0.02
        box = max(0.01, round(reference * args.box_share, 3))
        print(f"{key}: time box {box} min", file=sys.stderr)
        boxed = _run(key, root, not args.full, box)
        rows += [{"model": key, "run": "open", **open_run}, {"model": key, "run": f"box {box:g} min", **boxed}]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    head = (
        f"{'model':6} {'run':14} {'made':>4} {'winner':34} {'p95 champ':>9} {'p95 win':>8} "
        f"{'MB champ':>8} {'MB win':>7} {'d quality':>9} {'search min':>10} {'wall s':>6}  skipped"
    )
    print(head)
    for r in rows:
        print(
            f"{r['model']:6} {r['run']:14} {r['candidates'] - 1:>4} {str(r['winner']):34} "
            f"{_fmt(r['champion_p95_ms']):>9} {_fmt(r['winner_p95_ms']):>8} "
            f"{_fmt(r['champion_size_mb']):>8} {_fmt(r['winner_size_mb']):>7} "
            f"{_fmt(r['quality_change'], '+.4f'):>9} {_fmt(r['search_minutes'], '.2f'):>10} {r['wall_s']:>6}  "
            f"{', '.join(r['skipped']) or '-'}"
        )
    errors = {f"{r['model']} {r['run']}": r["generation_errors"] for r in rows if r["generation_errors"]}
    if errors:
        print("\ngenerator failures:", json.dumps(errors, indent=2))


if __name__ == "__main__":
    main()
