"""Foreign models built with public converters, trained here on data that ships with scikit-learn.

Plain functions: the adoption fixtures call them, and so does ``benchmarks/candidate_search.py``.

- ``sk_pipeline``: breast cancer, a ColumnTransformer (StandardScaler on five float64 columns,
  OneHotEncoder on a string column) + LogisticRegression, through skl2onnx: one named input per
  column, ``double`` and ``string`` inputs, a label output and ZipMap probabilities.
- ``gbr``: diabetes, a GradientBoostingRegressor through skl2onnx: one 2-D float input, a tree ensemble.
- ``torch_two``: digits, a PyTorch MLP with two inputs (top and bottom half of the image) exported with
  ``torch.onnx.export``: logits over 10 classes; its ``torch.export`` program is saved too (model.pt2).

Each fixture gives the ONNX file and reference rows (features + label) as Parquet; built once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd


class Foreign(NamedTuple):
    """One foreign model: its ONNX file, reference rows, held-back rows, label, and a budget for it."""

    onnx: Path
    reference: Path
    rows: pd.DataFrame
    """Rows not in the reference (for production windows)."""
    label: str
    accuracy: dict
    program: Path | None = None
    """The model's torch.export program (model.pt2), for a PyTorch model."""


SK_NUMERIC = ["mean_radius", "mean_texture", "mean_smoothness", "worst_concavity", "worst_symmetry"]


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data.columns = [c.replace(" ", "_") for c in data.columns]
    frame = data[SK_NUMERIC].astype("float64").copy()
    frame["size_band"] = pd.cut(data["mean_area"], [0, 450, 800, np.inf], labels=["small", "medium", "large"]).astype(
        str
    )
    frame["label"] = data["target"].astype("int64")
    return frame


def build_sk_pipeline(out: Path) -> Foreign:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _breast_cancer().sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, rest = frame.iloc[:350], frame.iloc[350:].reset_index(drop=True)
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), SK_NUMERIC),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["size_band"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    pipe.fit(train.drop(columns="label"), train["label"])
    types = [(c, DoubleTensorType([None, 1])) for c in SK_NUMERIC] + [("size_band", StringTensorType([None, 1]))]
    # ZipMap takes float32 only: a float64 pipeline gives its probabilities as a plain tensor.
    onx = convert_sklearn(pipe, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    train.to_parquet(out / "reference.parquet", index=False)
    return Foreign(out / "model.onnx", out / "reference.parquet", rest, "label", {"minimum": 0.8, "max_drop": 0.05})


def build_gbr(out: Path) -> Foreign:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    data = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    data = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, rest = data.iloc[:300], data.iloc[300:].reset_index(drop=True)
    features = [c for c in data.columns if c != "progression"]
    model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0)
    model.fit(train[features].to_numpy(np.float32), train["progression"])
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, len(features)]))], target_opset=17)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    train.to_parquet(out / "reference.parquet", index=False)
    return Foreign(
        out / "model.onnx",
        out / "reference.parquet",
        rest,
        "progression",
        {"metric": "rmse", "maximum": 80.0, "max_rise": 5.0},
    )


def build_torch_two(out: Path) -> Foreign:
    import torch
    from sklearn.datasets import load_digits

    from mlbudget.models.program import save_program

    digits = load_digits(as_frame=True).frame
    digits.columns = [c.replace("pixel_", "px") for c in digits.columns]
    digits = digits.astype({c: "float32" for c in digits.columns if c != "target"})
    digits = digits.rename(columns={"target": "digit"}).sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, rest = digits.iloc[:1200], digits.iloc[1200:].reset_index(drop=True)
    x = torch.from_numpy(train.drop(columns="digit").to_numpy(np.float32) / 16.0)
    y = torch.from_numpy(train["digit"].to_numpy(np.int64))

    class TwoHalves(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.top = torch.nn.Linear(32, 32)
            self.bottom = torch.nn.Linear(32, 32)
            self.head = torch.nn.Sequential(
                torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
            )

        def forward(self, top, bottom):
            return self.head(torch.cat([self.top(top / 16.0), self.bottom(bottom / 16.0)], dim=1))

    torch.manual_seed(0)
    net = TwoHalves()
    optim = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(150):
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x[:, :32] * 16.0, x[:, 32:] * 16.0), y)
        loss.backward()
        optim.step()
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    example = (torch.zeros(2, 32), torch.zeros(2, 32))
    torch.onnx.export(
        net,
        example,
        str(out / "model.onnx"),
        input_names=["top", "bottom"],
        output_names=["logits"],
        dynamic_axes={"top": {0: "batch"}, "bottom": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    train.to_parquet(out / "reference.parquet", index=False)
    save_program(net, example, out / "model.pt2")
    return Foreign(
        out / "model.onnx",
        out / "reference.parquet",
        rest,
        "digit",
        {"metric": "f1_macro", "minimum": 0.8, "max_drop": 0.03},
        out / "model.pt2",
    )


def foreign_budget(name: str, accuracy: dict, **extra):
    """A small budget for a foreign model (fast benchmarks follow from the cycle's ``fast`` flag)."""
    from mlbudget.budget.model import Budget

    return Budget.model_validate(
        {
            "name": name,
            "version": "1.0.0",
            "owner": "tests",
            "limits": {"latency": {"p95_ms": 50.0}, "accuracy": accuracy},
            "monitoring": {"min_rows": 100, "min_labelled_rows": 50, "window": "24h"},
            **extra,
        }
    )


WINDOW_HOURS = 24


def request_log(foreign: Foreign, bundle_dir: Path, log_dir: Path, window_end) -> Path:
    """Request-log Parquet for ``foreign``'s held-back rows: one row per request over the 24 h before
    ``window_end``, the champion's own predictions, every label arrived, latencies around 1 ms."""
    import onnxruntime as ort

    from mlbudget.models.bundle import ModelBundle

    bundle = ModelBundle(bundle_dir)
    contract = bundle.contract()
    session = ort.InferenceSession(str(bundle.onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rows = foreign.rows.reset_index(drop=True)
    predictions, _ = contract.predict(
        lambda feeds: session.run(None, feeds), names, rows, contract.build_adapter(bundle.root), None
    )
    rng = np.random.default_rng(0)
    n = len(rows)
    start = pd.Timestamp(window_end) - pd.Timedelta(hours=WINDOW_HOURS)
    log = rows[contract.columns].copy()
    log.insert(0, "timestamp", start + pd.to_timedelta(np.sort(rng.uniform(0, WINDOW_HOURS * 3600 - 1, n)), unit="s"))
    log["latency_ms"] = rng.gamma(4.0, 0.25, n)
    log["status"] = "ok"
    log["prediction"] = predictions
    log["label"] = rows[foreign.label].to_numpy()
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "requests-0.parquet"
    log.to_parquet(path, index=False)
    return path
