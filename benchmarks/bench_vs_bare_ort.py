"""Does `mlbudget benchmark` report what a bare ONNX Runtime loop measures?

Builds a real ONNX MLP (33 -> 1024 -> 1024 -> 512 -> 4, Gemm + Relu, random
weights) and measures its p50 at concurrency 1 two ways, interleaved over
several repetitions in one run:

- mlbudget: ``benchmark_model`` (a fresh worker process, warm-up, windows);
- bare: ``session.run`` back to back in this process, same model, same
  threads, same warm-up count, timed with ``perf_counter_ns``.

Usage::

    .venv/bin/python benchmarks/bench_vs_bare_ort.py [--threads 1] [--repetitions 3] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYERS = (33, 1024, 1024, 512, 4)


def build_mlp(path: Path, layers: tuple[int, ...] = LAYERS, seed: int = 0) -> Path:
    """A Gemm + Relu MLP with input ``input`` [N, layers[0]] and output ``logits``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "input"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
        w = rng.normal(0, (2.0 / n_in) ** 0.5, (n_in, n_out)).astype(np.float32)
        b = rng.normal(0, 0.01, n_out).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(layers) - 2
        out = "logits" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [out]))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        prev = out
    graph = helper.make_graph(
        nodes,
        "bench_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", layers[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", layers[-1]])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def bare_p50(path: Path, threads: int, warmup: int, seconds: float, batch: int) -> tuple[float, float, int]:
    """p50, p95 (ms) and the sample count of a bare ``session.run`` loop."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = {"input": np.random.default_rng(0).standard_normal((batch, LAYERS[0])).astype(np.float32)}
    for _ in range(warmup):
        sess.run(None, feeds)
    clock, lats = time.perf_counter_ns, []
    end = clock() + int(seconds * 1e9)
    while True:
        t = clock()
        sess.run(None, feeds)
        e = clock()
        lats.append(e - t)
        if e >= end:
            break
    p50, p95 = np.percentile(np.asarray(lats) / 1e6, [50, 95])
    return float(p50), float(p95), len(lats)


def mlbudget_p50(path: Path, threads: int, warmup: int, window: float, batch: int) -> tuple[float, float, int, bool]:
    """p50, p95 (ms), samples and stability from ``benchmark_model`` at concurrency 1."""
    from mlbudget.benchmark.runner import BenchmarkSettings, benchmark_model
    from mlbudget.budget.model import HardwareProfile, LoadProfile

    report = benchmark_model(
        path,
        HardwareProfile(intra_op_threads=threads, inter_op_threads=1),
        LoadProfile(concurrency=[1], batch_size=batch),
        settings=BenchmarkSettings(warmup_calls=warmup, warmup_seconds=0.0, window_seconds=window),
    )
    level = report.results[0]
    return level.p50_ms, level.p95_ms, level.samples, level.stable


def spread(values: list[float]) -> dict[str, float]:
    mid = statistics.median(values)
    return {"median": mid, "min": min(values), "max": max(values), "spread": (max(values) - min(values)) / mid}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--window", type=float, default=0.5, help="mlbudget window seconds (bare loop: 3 windows)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = build_mlp(Path(tmp) / "mlp.onnx")
        for rep in range(args.repetitions):
            order = ("bare", "mlbudget") if rep % 2 == 0 else ("mlbudget", "bare")
            row: dict[str, object] = {"repetition": rep + 1, "order": list(order)}
            for kind in order:
                if kind == "bare":
                    p50, p95, n = bare_p50(path, args.threads, args.warmup, 3 * args.window, args.batch_size)
                    row.update(bare_p50_ms=p50, bare_p95_ms=p95, bare_samples=n)
                else:
                    p50, p95, n, stable = mlbudget_p50(path, args.threads, args.warmup, args.window, args.batch_size)
                    row.update(mlbudget_p50_ms=p50, mlbudget_p95_ms=p95, mlbudget_samples=n, stable=stable)
            row["ratio_p50"] = row["mlbudget_p50_ms"] / row["bare_p50_ms"]
            rows.append(row)
            print(f"repetition {rep + 1}: {json.dumps(row)}", file=sys.stderr)
    summary = {
        "model": "MLP " + " -> ".join(map(str, LAYERS)) + " (Gemm + Relu, FP32)",
        "threads": args.threads,
        "batch_size": args.batch_size,
        "repetitions": rows,
        "bare_p50_ms": spread([r["bare_p50_ms"] for r in rows]),
        "mlbudget_p50_ms": spread([r["mlbudget_p50_ms"] for r in rows]),
        "ratio_p50": spread([r["ratio_p50"] for r in rows]),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for key in ("bare_p50_ms", "mlbudget_p50_ms", "ratio_p50"):
        s = summary[key]
        print(f"{key:16s} median {s['median']:.4f}  range {s['min']:.4f}-{s['max']:.4f}  spread {s['spread']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
