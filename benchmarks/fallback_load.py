"""Graceful degradation under overload: `mlbudget serve` with and without its fallback model, side by side.

Two real ONNX models with the same signature over the demo columns: a champion
(33 -> 2048 -> 2048 x 6 -> 4, about 10 ms per 32-row call on one thread) and a fallback
(33 -> 64 -> 4). Each run starts `mlbudget serve` as its own process with the
budget below, either with `--fallback-bundle` or with `--no-fallback`, and
drives it with `mlbudget loadgen` (open loop, Poisson arrivals) at a rate above
the champion's capacity: first ``--warmup`` seconds (the overload sets in, the
router switches; their p95 is shown apart), then ``--duration`` seconds measured.
Runs are interleaved (with, without, without, with, ...) over the repetitions.
Per run: the client's p50/p95/p99, requests sent and answered, the server's
count per `served_by`, and the router's switches. The medians and spreads of the repetitions are printed last.

    .venv/bin/python benchmarks/fallback_load.py [--rps 200] [--duration 15] [--repetitions 3] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MLBUDGET = Path(sys.executable).with_name("mlbudget")

BUDGET = """
name: fallback-demo
version: 1.0.0
owner: bench@example.com
warn_margin: 0.1
limits:
  latency: {concurrency: 1, p95_ms: %(p95)s}
fallback: {max_quality_drop: 0.5, window_s: 1.0, min_samples: 20, min_dwell_s: 2.0, hysteresis: 0.2}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def start(champion: Path, fallback: Path | None, budget: Path, port: int) -> subprocess.Popen:
    cmd = [str(MLBUDGET), "serve", "--bundle", str(champion), "--budget", str(budget), "--port", str(port)]
    cmd += ["--fallback-bundle", str(fallback)] if fallback is not None else ["--no-fallback"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            if get(port, "/health")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not answer /health within 60 s")


def served_counts(port: int) -> dict[str, float]:
    text = get(port, "/metrics")[1].decode()
    found = re.findall(r'mlbudget_served_total\{[^}]*served_by="(\w+)"[^}]*\} ([0-9.e+]+)', text)
    return {k: float(v) for k, v in found}


def load(port: int, rps: float, duration: float, batch: int) -> dict:
    done = subprocess.run(
        [str(MLBUDGET), "loadgen", "--url", f"http://127.0.0.1:{port}/predict", "--rps", str(rps), "--duration",
         str(duration), "--batch-size", str(batch), "--senders", "64", "--timeout", "30", "--json"],
        capture_output=True, text=True, timeout=duration + 120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def one_run(
    champion: Path, fallback: Path | None, budget: Path, rps: float, duration: float, batch: int, warmup: float
) -> dict:
    port = free_port()
    proc = start(champion, fallback, budget, port)
    try:
        first = load(port, rps, warmup, batch) if warmup > 0 else None
        result = load(port, rps, duration, batch)
        health = json.loads(get(port, "/health")[1])
        counts = served_counts(port)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {
        "fallback": fallback is not None,
        "warmup_p95_ms": first["p95_ms"] if first else None,
        "p50_ms": result["p50_ms"],
        "p95_ms": result["p95_ms"],
        "p99_ms": result["p99_ms"],
        "sent": result["sent"],
        "ok": result["ok"],
        "served_champion": counts.get("champion", 0.0),
        "served_fallback": counts.get("fallback", 0.0),
        "switches": (health.get("fallback") or {}).get("switches", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, default=200.0, help="offered load, requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of the same load first, not measured (the overload sets in; the router switches)",
    )
    parser.add_argument("--p95-limit", type=float, default=30.0, help="the budget's p95 limit, ms")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--champion-layers", type=int, default=6, help="2048 x 2048 layers of the champion")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tests.serve.conftest import make_deep_mlp_bundle

    with tempfile.TemporaryDirectory(prefix="mlbudget-fallback-") as tmp:
        here = Path(tmp)
        champion = make_deep_mlp_bundle(here / "champion", hidden=2048, layers=args.champion_layers)
        fallback = make_deep_mlp_bundle(here / "fallback", hidden=64, layers=0, seed=1)
        budget = here / "budget.yaml"
        budget.write_text(BUDGET % {"p95": args.p95_limit})
        runs = []
        for rep in range(args.repetitions):
            order = [True, False] if rep % 2 == 0 else [False, True]
            for with_fallback in order:
                run = one_run(champion, fallback if with_fallback else None, budget, args.rps, args.duration,
                              args.batch_size, args.warmup)  # fmt: skip
                runs.append(run)
                print(json.dumps(run), file=sys.stderr)
    summary = {}
    for label, flag in (("with fallback", True), ("champion only", False)):
        mine = [r for r in runs if r["fallback"] is flag]
        summary[label] = {
            key: {"median": statistics.median(r[key] for r in mine), "min": min(r[key] for r in mine),
                  "max": max(r[key] for r in mine)}
            for key in ("p50_ms", "p95_ms", "p99_ms", "warmup_p95_ms", "ok", "served_fallback", "switches")
        }  # fmt: skip
    if args.json:
        print(json.dumps({"rps": args.rps, "duration_s": args.duration, "runs": runs, "summary": summary}, indent=2))
        return
    print(f"offered {args.rps:g} req/s x {args.duration:g} s, {args.batch_size} rows each, "
          f"p95 limit {args.p95_limit:g} ms, {args.repetitions} interleaved repetitions")  # fmt: skip
    for label, figures in summary.items():
        line = ", ".join(f"{k} {v['median']:.4g} [{v['min']:.4g}, {v['max']:.4g}]" for k, v in figures.items())
        print(f"{label}: {line}")


if __name__ == "__main__":
    main()
