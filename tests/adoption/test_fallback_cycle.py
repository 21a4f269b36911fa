"""A foreign model's cycle with a ``fallback`` section: the INT8 candidate becomes alias ``fallback``, and
`mlbudget serve --budget` serves it beside the champion.

Real parts: a scikit-learn MLPRegressor (two 512-wide layers, so INT8 is clearly faster than its float
graph on 32-row calls) converted with skl2onnx, adoption, ONNX Runtime INT8, benchmark worker processes and finals,
MLflow on SQLite. ``auto_promote`` is off, so the champion stays and the fallback is the champion's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlbudget.adoption import adopt_model
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import read_json
from mlbudget.cycle.run import run_cycle
from mlbudget.registry.store import MlflowRegistry
from mlbudget.serve.resolve import resolve_model
from tests.adoption.foreign_models import Foreign, foreign_budget, request_log

pytestmark = pytest.mark.slow

WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)


def build_wide_mlp(out: Path) -> Foreign:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor

    data = load_diabetes(as_frame=True, scaled=True).frame.rename(columns={"target": "progression"})
    data = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    data = data.astype({c: "float32" for c in data.columns if c != "progression"})
    train, rest = data.iloc[:300], data.iloc[300:].reset_index(drop=True)
    features = [c for c in data.columns if c != "progression"]
    model = MLPRegressor(hidden_layer_sizes=(512, 512), max_iter=200, random_state=0)
    model.fit(train[features].to_numpy(np.float32), train["progression"])
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, len(features)]))], target_opset=17)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    train.to_parquet(out / "reference.parquet", index=False)
    return Foreign(out / "model.onnx", out / "reference.parquet", rest, "progression",
                   {"metric": "rmse", "maximum": 400.0, "max_rise": 5.0})  # fmt: skip


def test_the_int8_candidate_becomes_the_fallback_and_is_served_beside_the_champion(tmp_path):
    pytest.importorskip("skl2onnx")
    foreign = build_wide_mlp(tmp_path / "model")
    budget = foreign_budget(
        "wide-mlp",
        foreign.accuracy,
        promotion={"auto_promote": False},
        fallback={"max_quality_drop": 50.0},
        # Micro-batches of 32: one row per call (the default) costs ~50 us either way, all call overhead, and
        # INT8 was not faster beyond noise there; at 32 rows it is (p95 ~0.19 vs ~0.28 ms on the dev VM).
        load={"batch_size": 32},
    )
    budget_path = tmp_path / "wide-mlp.yaml"
    budget_path.write_text(yaml.safe_dump(budget.model_dump(mode="json", exclude_none=True)))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    adopted = adopt_model(budget, foreign.onnx, foreign.reference, label=foreign.label, tracking_uri=uri)
    registry = MlflowRegistry(uri)
    _, champion_dir = registry.champion("wide-mlp", tmp_path / "champion")
    request_log(foreign, champion_dir, tmp_path / "logs", WINDOW_END)
    ctx = CycleContext(
        budget_path=str(budget_path), workdir=str(tmp_path / "work"), tracking_uri=uri, window_end=WINDOW_END,
        source={"name": "request_log", "path": str(tmp_path / "logs" / "*.parquet")}, fast=True,
        actions=["ort_dynamic_int8"], reason="fallback test",
    )  # fmt: skip
    outcome = run_cycle(ctx)
    decision = read_json(Path(outcome.cycle_dir) / "decision.json")
    assert decision["fallback"] and decision["fallback"].startswith("ort_dynamic_int8"), decision["fallback_reason"]
    assert decision["fallback_reason"].startswith(f"{decision['fallback']} is the fallback of champion: p95 ")
    client = registry.client
    aliases = {k: str(v) for k, v in client.get_registered_model("wide-mlp").aliases.items()}
    assert aliases["champion"] == adopted.version and aliases["fallback"] != adopted.version
    assert read_json(Path(outcome.cycle_dir) / "registry.json")["fallback"] == aliases["fallback"]

    entries = [e for e in registry.ledger("wide-mlp") if e["action"] == "fallback"]
    assert len(entries) == 1 and entries[0]["version"] == aliases["fallback"] and entries[0]["previous"] is None
    assert entries[0]["reason"] == decision["fallback_reason"] and entries[0]["budget_sha256"]

    again = run_cycle(ctx)  # a re-run converges: the same cycle, the same version, no new one
    assert again.cycle_dir == outcome.cycle_dir
    assert {k: str(v) for k, v in client.get_registered_model("wide-mlp").aliases.items()} == aliases
    assert registry.set_fallback("wide-mlp", aliases["fallback"], "the same again") is False  # already there
    assert [e for e in registry.ledger("wide-mlp") if e["action"] == "fallback"] == entries  # no second entry

    served = resolve_model(None, budget_path, tracking_uri=uri, download_dir=tmp_path / "serve")
    assert served.version == adopted.version and served.fallback_version == aliases["fallback"]
    assert (served.fallback_dir / "model.onnx").is_file() and served.router.warn_ms == pytest.approx(45.0)
