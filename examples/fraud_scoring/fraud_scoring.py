"""A card-fraud scorer that mlbudget did not make: a scikit-learn pipeline, converted with skl2onnx.

Two steps stand in for what a team already has; mlbudget's own commands do the rest
(see README.md beside this file):

    python fraud_scoring.py train --out DIR
        synthetic card transactions (amount, hour, card age, distance, merchant category; about
        1 % fraud), a Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder),
        LogisticRegression(class_weight="balanced")) trained on them, converted with skl2onnx
        (one named input per column: float64 and string) to DIR/model.onnx, and the training
        rows (features + label) as DIR/reference.parquet.

    python fraud_scoring.py logs --model DIR/model.onnx --out LOGDIR [--window-end TS] [--rows-per-hour N]
        a week of production requests scored by the ONNX model with ONNX Runtime, written as
        hourly hive partitions LOGDIR/date=YYYY-MM-DD/hour=HH/part-0.parquet in the request-log
        form (timestamp, latency_ms, status, the features, prediction, label, memory_mb).
        The last three days drift (bigger amounts, more electronics: a sales season), latency
        creeps up over the last day, and chargeback labels arrive only for requests older
        than two days.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = ["amount", "transaction_hour", "card_age_days", "distance_km"]
CATEGORICAL = ["merchant_category"]
CATEGORIES = ["grocery", "fuel", "travel", "electronics", "gaming"]
RISK = {"grocery": -0.8, "fuel": -0.5, "travel": 0.4, "electronics": 0.9, "gaming": 1.1}
LABEL = "label"


def transactions(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """``n`` card transactions with a fraud label; ``shift`` in [0, 1] moves amounts up and the mix to electronics."""
    rng = np.random.default_rng(seed)
    weights = np.array([0.35, 0.2, 0.15, 0.2, 0.1]) * (1 - shift) + np.array([0.2, 0.1, 0.1, 0.5, 0.1]) * shift
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.6 + 0.6 * shift, 0.9, n),
            "transaction_hour": rng.integers(0, 24, n).astype("float64"),
            "card_age_days": rng.gamma(2.0, 300.0, n),
            "distance_km": rng.lognormal(2.0, 1.1, n),
            "merchant_category": rng.choice(CATEGORIES, n, p=weights / weights.sum()),
        }
    )
    night = ((frame["transaction_hour"] < 6) | (frame["transaction_hour"] >= 23)).astype(float)
    logit = -11.0 + 3.0 * (
        1.3 * np.log(frame["amount"] / 40.0)
        + 0.9 * np.log1p(frame["distance_km"] / 10.0)
        - 0.0025 * frame["card_age_days"]
        + 1.2 * night
        + frame["merchant_category"].map(RISK).to_numpy()
    )
    frame[LABEL] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def train(out: Path, rows: int, seed: int) -> None:
    """Train the pipeline, convert it with skl2onnx, write model.onnx and reference.parquet."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = transactions(rows, seed)
    holdout = frame.sample(frac=0.2, random_state=seed)
    reference = frame.drop(index=holdout.index).reset_index(drop=True)
    prep = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(class_weight="balanced", max_iter=1000))])
    pipe.fit(reference[NUMERIC + CATEGORICAL], reference[LABEL])
    score = balanced_accuracy_score(holdout[LABEL], pipe.predict(holdout[NUMERIC + CATEGORICAL]))
    types = [(c, DoubleTensorType([None, 1])) for c in NUMERIC] + [
        (c, StringTensorType([None, 1])) for c in CATEGORICAL
    ]
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    reference.to_parquet(out / "reference.parquet", index=False)
    print(
        f"trained on {len(reference):,} rows ({reference[LABEL].mean():.1%} fraud), balanced accuracy "
        f"{score:.3f} on {len(holdout):,} held-out rows; wrote {out / 'model.onnx'} and {out / 'reference.parquet'}"
    )


def write_logs(model: Path, out: Path, window_end: datetime, rows_per_hour: int, days: int, seed: int) -> None:
    """A week of scored requests as hourly hive partitions (see the module docstring)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed + 1)
    start = window_end - timedelta(days=days)
    total = 0
    for hour in range(days * 24):
        moment = start + timedelta(hours=hour)
        progress = hour / (days * 24)
        shift = max(0.0, (progress - 4 / 7) / (3 / 7))  # the last three days drift, more and more
        frame = transactions(rows_per_hour, seed + 1000 + hour, shift=shift).drop(columns=[LABEL])
        truth = transactions(rows_per_hour, seed + 1000 + hour, shift=shift)[LABEL]
        feeds = {c: frame[[c]].to_numpy(np.float64) for c in NUMERIC}
        feeds.update({c: frame[[c]].to_numpy(str).astype(object) for c in CATEGORICAL})
        started = time.perf_counter()
        predicted = session.run(None, feeds)[0]
        inference_ms = (time.perf_counter() - started) * 1000 / rows_per_hour
        creep = 1.0 + 1.2 * max(0.0, (progress - 6 / 7) * 7)  # the last day: up to 2.2x
        latency = rng.lognormal(np.log(3.0), 0.5, rows_per_hour) * creep + inference_ms
        offsets = np.sort(rng.uniform(0, 3600, rows_per_hour))
        frame.insert(0, "timestamp", pd.Timestamp(moment) + pd.to_timedelta(offsets, unit="s"))
        frame.insert(1, "latency_ms", latency)
        frame.insert(2, "status", np.where(rng.uniform(size=rows_per_hour) < 0.0005, "error", "ok"))
        frame["inference_ms"] = inference_ms
        frame["prediction"] = pd.array(predicted.astype("int64"), dtype="Int64")
        arrived = moment < window_end - timedelta(days=2)  # chargebacks take two days
        frame[LABEL] = pd.array(truth.to_numpy() if arrived else [None] * rows_per_hour, dtype="Int64")
        frame["memory_mb"] = 310.0 + rng.normal(0, 2.0, rows_per_hour)
        folder = out / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / "part-0.parquet", index=False)
        total += rows_per_hour
    print(f"wrote {total:,} requests from {start.isoformat()} to {window_end.isoformat()} under {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train, convert with skl2onnx, write model.onnx and reference.parquet")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--rows", type=int, default=20000)
    t.add_argument("--seed", type=int, default=0)
    g = commands.add_parser("logs", help="write a week of request logs scored by the model")
    g.add_argument("--model", type=Path, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--window-end", default="2026-11-01T00:00:00+00:00")
    g.add_argument(
        "--rows-per-hour", type=int, default=320, help="320 gives 53,760 rows a week (the budget wants 50,000)"
    )
    g.add_argument("--days", type=int, default=7)
    g.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "train":
        train(args.out, args.rows, args.seed)
    else:
        end = datetime.fromisoformat(args.window_end)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        write_logs(args.model, args.out, end, args.rows_per_hour, args.days, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
