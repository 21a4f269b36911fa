"""Distilling a tree-ensemble teacher: p95, size and accuracy of the forest and its ``distill_onnx`` student.

A 300-tree random forest (fully grown on 2,400 synthetic rows; six float columns and a one-hot string
column; ZipMap probabilities) is adopted and distilled; both are benchmarked with mlbudget's worker
(1 thread, concurrency 1, the fast settings), interleaved ``--rounds`` times. Prints the median and
the interquartile range of p95 per model, the holdout accuracy and the file sizes.

    .venv/bin/python benchmarks/distill_tree_teacher.py --rounds 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlbudget.adoption.adopt import build_adopted_bundle
    from mlbudget.benchmark.runner import benchmark_model
    from mlbudget.budget.model import Budget
    from mlbudget.candidates import Candidate, CandidateGenerator, GenerationData
    from mlbudget.cycle.defaults import benchmark_settings
    from mlbudget.models.bundle import ModelBundle

    numeric = [f"x{i}" for i in range(6)]
    x, y = make_classification(
        n_samples=3000, n_features=7, n_informative=5, flip_y=0.02, class_sep=1.2, random_state=0
    )
    frame = pd.DataFrame(x[:, :6].astype("float32"), columns=numeric)
    frame["size_band"] = pd.cut(x[:, -1], [-np.inf, -0.5, 0.5, np.inf], labels=["small", "medium", "large"]).astype(str)
    frame["label"] = y.astype("int64")
    train, rest = frame.iloc[:2400].reset_index(drop=True), frame.iloc[2400:].reset_index(drop=True)
    pipe = Pipeline(
        [
            ("prep", ColumnTransformer([("num", "passthrough", numeric), ("cat", OneHotEncoder(), ["size_band"])])),
            ("rf", RandomForestClassifier(n_estimators=args.trees, random_state=0)),
        ]
    )
    pipe.fit(train.drop(columns="label"), train["label"])
    types = [(c, FloatTensorType([None, 1])) for c in numeric] + [("size_band", StringTensorType([None, 1]))]
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})
    root = Path(tempfile.mkdtemp(prefix="distill-bench-"))
    budget = Budget.model_validate(
        {
            "name": "forest",
            "version": "1.0.0",
            "owner": "bench",
            "limits": {"latency": {"p95_ms": 50.0}, "accuracy": {"minimum": 0.8, "max_drop": 0.03}},
        }
    )
    champ_dir = root / "champion"
    champ_dir.mkdir()
    (champ_dir / "model.onnx").write_bytes(onx.SerializeToString())
    build_adopted_bundle(champ_dir, budget, train, "label", "bench")
    bundle = ModelBundle(champ_dir)
    champion = Candidate(
        name="champion",
        bundle_dir=str(champ_dir),
        generator="champion",
        sha256=bundle.sha256(),
        size_mb=bundle.size_mb(),
        lineage=bundle.lineage(),
        is_champion=True,
    )
    rest.drop(columns="label").to_parquet(root / "window.parquet", index=False)
    rest.to_parquet(root / "holdout.parquet", index=False)
    started = time.perf_counter()
    data = GenerationData(calibration_path=str(root / "window.parquet"))
    [student] = CandidateGenerator.lookup("distill_onnx")().generate(champion, data, budget, root / "out")
    print(f"distillation {time.perf_counter() - started:.1f} s; search {student.lineage.config['search']}")
    p95: dict[str, list[float]] = {"forest": [], "student": []}
    last = {}
    for _ in range(args.rounds):
        for label, cand in (("forest", champion), ("student", student)):
            b = ModelBundle(cand.bundle_dir)
            report = benchmark_model(
                b.onnx_path,
                budget.hardware,
                budget.load,
                holdout_path=root / "holdout.parquet",
                features_path=b.root / "contract.json",
                settings=benchmark_settings(True),
            )
            p95[label].append(report.results[0].p95_ms)
            last[label] = report
    for label, values in p95.items():
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        r = last[label]
        print(
            f"{label:8s} p95 median {med:.4f} ms (IQR {q1:.4f}-{q3:.4f}, {len(values)} runs)  "
            f"accuracy {r.accuracy:.3f}  size {r.size_mb:.4f} MB"
        )


if __name__ == "__main__":
    main()
