"""Label-free accuracy estimation (ATC): against true accuracy on simulated windows with known shifts
(benchmarks/label_free_quality.py, a real scikit-learn model), and as a detection finding from a real ONNX
champion bundle (skl2onnx graph, adopted contract, ONNX Runtime) on a window whose labels have not arrived."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.label_free import confidence_scores, estimate_accuracy, estimated_accuracy_findings, fit_atc
from mlbudget.models.quality import ReferenceQuality

ROOT = Path(__file__).resolve().parents[2]


def _simulation():
    spec = importlib.util.spec_from_file_location("label_free_quality", ROOT / "benchmarks" / "label_free_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_threshold_reproduces_the_reference_accuracy():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([2.0, 1.0, 1.0], size=2000)
    correct = rng.random(2000) < probs.max(axis=1)
    for score in ("max", "entropy"):
        model = fit_atc(probs, correct, score)
        share = np.mean(confidence_scores(probs, score) > model.threshold)
        assert share == pytest.approx(correct.mean(), abs=1e-3)
        est = estimate_accuracy(model, probs, reference_probs=probs, reference_correct=correct)
        assert est.interval[0] <= est.estimate <= est.interval[1] and est.interval[1] - est.interval[0] < 0.09


@pytest.mark.slow
def test_estimates_against_true_accuracy_on_known_shifts():
    """Mean absolute error over 10 windows with covariate or label shifts (seed 0); a concept shift
    (p(y|x) changed) is invisible to any label-free estimate, and the test shows that too."""
    sim = _simulation()
    records = {r["shift"]: r for r in sim.simulate("max", rows=5000, seed=0)}
    errors = [r["error"] for r in records.values()]
    mae = float(np.mean(errors))
    print(f"ATC mean absolute error {mae:.4f} over {len(errors)} windows")
    assert mae < 0.03 and max(errors) < 0.08
    # the interval carries sampling noise only, not ATC's own bias: it covers the truth in some windows only
    print(f"interval covered the true accuracy in {sum(r['covered'] for r in records.values())}/{len(records)}")
    closer = records["covariate: classes closer x0.5"]
    assert closer["true"] < records["none"]["true"] - 0.04  # a real drop ...
    assert closer["estimate"] < records["none"]["estimate"] - 0.05 and closer["error"] < 0.08  # ... followed
    (concept,) = sim.simulate("max", rows=5000, seed=0, concept=True)
    assert concept["true"] < 0.8 and concept["estimate"] > 0.9  # unseen without labels


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A skl2onnx logistic regression on the simulation's source, adopted into a bundle (contract, reference
    rows) the way ``mlbudget adopt`` does it."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from mlbudget.adoption.adopt import build_adopted_bundle

    sim = _simulation()
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.0, (sim.CLASSES, sim.DIM))
    direction = np.ones(sim.DIM) / np.sqrt(sim.DIM)

    def rows(n: int, **shift) -> pd.DataFrame:
        x, y = sim.draw(rng, n, centres, direction, **shift)
        frame = pd.DataFrame(x.astype(np.float32), columns=[f"x{i}" for i in range(sim.DIM)])
        frame["label"] = y.astype("int64")
        return frame

    train = rows(4000)
    features = [c for c in train.columns if c != "label"]
    model = LogisticRegression(max_iter=1000).fit(train[features], train["label"])
    types = [("input", FloatTensorType([None, sim.DIM]))]
    onx = convert_sklearn(model, initial_types=types, options={"zipmap": False})
    folder = tmp_path_factory.mktemp("atc-champion")
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    build_adopted_bundle(folder, _budget("act"), rows(3000), "label", "test")
    return folder, model, features, rows


def _budget(mode: str) -> Budget:
    return Budget.model_validate(
        {
            "name": "atc",
            "version": "1.0.0",
            "owner": "tests",
            "limits": {"latency": {"p95_ms": 50.0}, "accuracy": {"minimum": 0.9, "max_drop": 0.05}},
            "monitoring": {"min_labelled_rows": 200, "quality_estimate": mode},
        }
    )


def _window(frame: pd.DataFrame, labelled: int) -> pd.DataFrame:
    out = frame.copy()
    out["label"] = out["label"].astype("float64")
    out.loc[labelled:, "label"] = np.nan  # labels of the later rows have not arrived
    return out


def _truth(model, features, frame) -> float:
    return float(np.mean(model.predict(frame[features]) == frame["label"]))


@pytest.mark.slow
def test_an_estimated_drop_is_a_violation_marked_estimated(champion):
    folder, model, features, rows = champion
    shifted = rows(4000, closer=0.4)  # inputs pulled towards the class boundaries
    level = ReferenceQuality(metric="accuracy", value=0.93, measured_on="test holdout")
    (finding,) = estimated_accuracy_findings(folder, _window(shifted, 40), _budget("act"), level)
    assert finding.status == "violation" and finding.kind == "accuracy", finding.message
    assert finding.metric == "accuracy_estimated" and finding.details["estimated"] is True
    assert finding.message.startswith("estimated accuracy ")
    assert "(ATC, label-free; 40 of 4,000 rows labelled, 1.0%)" in finding.message
    assert finding.details["interval"][1] < 0.9 and finding.details["labelled_share"] == pytest.approx(0.01)
    assert abs(finding.actual - _truth(model, features, shifted)) < 0.08  # as in the simulation


@pytest.mark.slow
def test_features_read_from_the_window_file_give_the_same_estimate(champion, tmp_path):
    """The cycle hands over the window without its feature columns and the file they are read from."""
    folder, model, features, rows = champion
    window = _window(rows(4000, closer=0.4), 40)
    path = tmp_path / "window.parquet"
    window.to_parquet(path, index=False)
    level = ReferenceQuality(metric="accuracy", value=0.93, measured_on="test holdout")
    (whole,) = estimated_accuracy_findings(folder, window, _budget("act"), level)
    others = window.drop(columns=features)
    (read,) = estimated_accuracy_findings(folder, others, _budget("act"), level, window_path=path)
    assert read.model_dump() == whole.model_dump()  # 4,000 rows: under MAX_ROWS, every row in both
    (skipped,) = estimated_accuracy_findings(folder, others, _budget("act"), level)
    assert "lacks feature columns" in skipped.message


@pytest.mark.slow
def test_an_unshifted_window_is_ok_and_report_mode_only_informs(champion):
    folder, model, features, rows = champion
    same = rows(4000)
    (ok,) = estimated_accuracy_findings(folder, _window(same, 10), _budget("act"))
    assert ok.status == "ok" and abs(ok.actual - _truth(model, features, same)) < 0.03
    (info,) = estimated_accuracy_findings(folder, _window(rows(4000, closer=0.4), 10), _budget("report"))
    assert info.status == "info" and info.details["estimated"] is True
    assert estimated_accuracy_findings(folder, _window(same, 10), _budget("off")) == []
    assert estimated_accuracy_findings(folder, _window(same, 300), _budget("act")) == []


def test_the_ledger_names_estimated_findings(tmp_path):
    """What publish puts in the promotion's ledger entry: the estimated violations/warnings of the window."""
    from mlbudget.cycle.publish import estimated_findings
    from mlbudget.detection.findings import DetectionReport, Finding

    path = tmp_path / "detection.json"
    assert estimated_findings(path) == []
    findings = [
        Finding(
            kind="accuracy",
            status="violation",
            metric="accuracy_estimated",
            message="estimated accuracy 0.8",
            details={"estimated": True},
        ),
        Finding(
            kind="accuracy",
            status="info",
            metric="accuracy_estimated",
            message="estimated, info",
            details={"estimated": True},
        ),
        Finding(kind="latency", status="violation", metric="p95_ms", message="p95 41 ms > 35 ms"),
    ]
    path.write_text(DetectionReport(findings=findings).model_dump_json())
    assert estimated_findings(path) == ["estimated accuracy 0.8"]
