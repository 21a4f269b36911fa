"""What does serving an adopted bundle through its input adapter cost, next to a bare ONNX Runtime call?

Builds the skl2onnx pipeline of the serving tests (breast cancer: five float64 columns and a string
column -> ColumnTransformer -> LogisticRegression, one named input per column), adopts it with the
adoption library, and times per batch, interleaved over several repetitions in one run:

- serve: ``Predictor.encode`` (JSON rows -> typed frame -> the ``columns`` adapter's feeds) plus
  ``Predictor.infer`` (``session.run`` and the contract's reading of the outputs), as ``POST /predict``
  does between parsing and the JSON answer;
- bare: ``session.run`` on feeds built beforehand (what a hand-written server's inference costs).

Usage::

    .venv/bin/python benchmarks/serve_adopted_overhead.py [--repetitions 5] [--calls 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(root: Path):
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlbudget.adoption.adopt import build_adopted_bundle
    from tests.adoption.conftest import SK_NUMERIC, _breast_cancer, foreign_budget

    frame = _breast_cancer().sample(frac=1.0, random_state=0).reset_index(drop=True)
    prep = ColumnTransformer(
        [("num", StandardScaler(), SK_NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), ["size_band"])]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(frame.drop(columns="label"), frame["label"])
    types = [(c, DoubleTensorType([None, 1])) for c in SK_NUMERIC] + [("size_band", StringTensorType([None, 1]))]
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    root.mkdir(parents=True)
    (root / "model.onnx").write_bytes(onx.SerializeToString())
    build_adopted_bundle(root, foreign_budget("bench", {"minimum": 0.5}), frame, "label", "bench")
    return frame.drop(columns="label"), pd


def per_call_us(fn, calls: int) -> float:
    for _ in range(20):
        fn()
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from mlbudget.serve.predictor import Predictor

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        frame, _ = build(tmp / "bundle")
        predictor = Predictor(tmp / "bundle")
        session = predictor.runtime.session
        results = {}
        for batch in (1, 32):
            rows = frame[predictor.columns].iloc[:batch].to_dict("records")
            feeds = predictor.encode(rows)
            samples = {"serve": [], "bare": []}
            for _ in range(args.repetitions):  # interleaved: a loaded machine weighs on both alike
                serve = lambda rows=rows: predictor.infer(predictor.encode(rows))  # noqa: E731
                bare = lambda feeds=feeds: session.run(None, feeds)  # noqa: E731
                samples["serve"].append(per_call_us(serve, args.calls))
                samples["bare"].append(per_call_us(bare, args.calls))
            results[batch] = {
                k: {"median_us": statistics.median(v), "min_us": min(v), "max_us": max(v)} for k, v in samples.items()
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for batch, kinds in results.items():
        for kind, s in kinds.items():
            spread = f"min {s['min_us']:.1f}, max {s['max_us']:.1f}"
            print(f"batch {batch:>2} {kind:>5}: median {s['median_us']:8.1f} us ({spread})")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
