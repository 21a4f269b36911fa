"""Per-stage budgets: ``limits.stages`` judged from the request log's ``<stage>_ms`` columns and from the
server's per-stage histograms, routed by policy per stage, and the inference caps applied to candidates."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlbudget.budget.model import Budget
from mlbudget.detection.budget_checks import check_budget, check_stages
from mlbudget.detection.findings import DetectionReport, DriftReport
from mlbudget.detection.metrics_checks import check_metrics
from mlbudget.errors import InputError
from mlbudget.policy import make_plan
from mlbudget.serve.resolve import limit_bounds_ms
from mlbudget.sources.metrics_summary import LatencyHistogram, StageHistogram, WindowMetrics
from tests.detection.summaries import summary

END = datetime(2026, 5, 2, tzinfo=UTC)


def budget(stages: dict, **extra) -> Budget:
    return Budget.model_validate(
        {
            "name": "m",
            "version": "1.0.0",
            "owner": "team",
            "limits": {"latency": {"p95_ms": 50.0}, "stages": stages},
            "warn_margin": 0.1,
            **extra,
        }
    )


def window(n: int = 2000, seed: int = 0, preprocess_scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.uniform(0.5, 1.5, n) * preprocess_scale
    inf = rng.uniform(2.0, 4.0, n)
    post = rng.uniform(0.1, 0.3, n)
    status = np.where(rng.random(n) < 0.02, "error", "ok")
    return pd.DataFrame(
        {
            "latency_ms": pre + inf + post,
            "status": status,
            "preprocess_ms": pre,
            "inference_ms": inf,
            "postprocess_ms": post,
        }
    )


def test_each_stage_is_judged_on_its_own_column_of_the_ok_rows():
    frame = window()
    findings = check_stages(frame, budget({"preprocess": {"p95_ms": 1.0}, "inference": {"p50_ms": 5.0}}))
    by_metric = {f.metric: f for f in findings}
    assert set(by_metric) == {"preprocess:p95_ms", "inference:p50_ms"}
    pre, inf = by_metric["preprocess:p95_ms"], by_metric["inference:p50_ms"]
    ok = frame[frame["status"] == "ok"]
    assert pre.kind == "preprocess_latency" and pre.status == "violation"
    assert pre.actual == pytest.approx(np.percentile(ok["preprocess_ms"], 95))
    assert pre.message.startswith("preprocess p95 1.4") and "> 1.0 ms" in pre.message
    assert pre.details["stage"] == "preprocess" and pre.details["samples"] == len(ok)
    assert inf.kind == "inference_latency" and inf.status == "ok"
    assert inf.actual == pytest.approx(np.percentile(ok["inference_ms"], 50))


def test_a_stage_cap_inside_the_percentiles_interval_is_a_warning_not_a_violation():
    frame = window(n=300)
    p95 = float(np.percentile(frame.loc[frame["status"] == "ok", "inference_ms"], 95))
    finding = check_stages(frame, budget({"inference": {"p95_ms": p95 * 0.999}}))[0]
    assert finding.status == "warn" and finding.message.endswith("the interval straddles the limit")


def test_a_log_without_a_stage_column_says_so_and_without_status_is_a_fault():
    frame = window().drop(columns=["postprocess_ms"])
    finding = check_stages(frame, budget({"postprocess": {"p99_ms": 1.0}}))[0]
    assert finding.status == "info" and finding.kind == "postprocess_latency"
    assert "no postprocess_ms column" in finding.message
    with pytest.raises(InputError, match="status"):
        check_stages(frame.drop(columns=["status"]), budget({"postprocess": {"p99_ms": 1.0}}))
    assert check_stages(frame, budget({})) == []


def test_check_budget_includes_the_stage_findings():
    kinds = {f.kind for f in check_budget(window(), budget({"inference": {"p95_ms": 3.0}}))}
    assert {"latency", "inference_latency"} <= kinds


def test_stage_caps_are_ordered_and_stage_names_are_checked():
    with pytest.raises(ValidationError, match=r"p50_ms \(5\) must be <= p95_ms \(2\)"):
        budget({"inference": {"p50_ms": 5.0, "p95_ms": 2.0}})
    with pytest.raises(ValidationError, match="feature_extraction"):
        budget({"feature_extraction": {"p95_ms": 2.0}})


def _histogram(values: np.ndarray, bounds: list[float]) -> LatencyHistogram:
    cumulative = [float(np.sum(values <= b)) for b in bounds] + [float(len(values))]
    return LatencyHistogram(bounds_ms=bounds, cumulative=cumulative)


def _summary(stages: dict[str, StageHistogram]) -> WindowMetrics:
    return summary(stages=stages)


def test_stage_histograms_are_judged_honestly_about_their_buckets():
    inference = _histogram(np.linspace(2.0, 4.0, 1000), [1.0, 2.0, 3.0, 4.0, 5.0])
    summary = _summary({"inference": StageHistogram(latency=inference, percentiles={"p95": 3.9, "p99": 3.98})})
    staged = budget({"inference": {"p95_ms": 3.5, "p99_ms": 4.0}, "preprocess": {"p95_ms": 1.0}})
    by_metric = {f.metric: f for f in check_metrics(summary, staged)}
    p95, p99 = by_metric["inference:p95_ms"], by_metric["inference:p99_ms"]
    assert p95.kind == "inference_latency" and p95.status == "violation"
    assert p95.details["bucket_ms"] == [3.0, 4.0] and p95.details["limit_between_buckets"] is True
    assert "falls between bucket bounds" in p95.message and p95.message.startswith("inference p95 3.9 ms > 3.5 ms")
    assert p99.status == "warn" and p99.details["limit_between_buckets"] is False  # 4.0 is a bound
    missing = by_metric["preprocess:latency_ms"]
    assert missing.status == "info" and "no preprocess stage histogram" in missing.message


def _plan(findings, policy_budget: Budget | None = None):
    drift = DriftReport(rows=[], dataset_drift=False, drifted_share=0.0, reference_rows=1, current_rows=1)
    return make_plan(DetectionReport(findings=findings, drift=drift), policy_budget or budget({}))


def test_default_policy_compresses_on_an_inference_breach_and_only_alerts_on_a_preprocess_breach():
    staged = budget({"preprocess": {"p95_ms": 1.0}, "inference": {"p95_ms": 2.5}})
    findings = check_stages(window(), staged)
    assert {f.kind for f in findings if f.status == "violation"} == {"preprocess_latency", "inference_latency"}
    inference_only = _plan([f for f in findings if f.kind == "inference_latency"])
    assert {a.kind for a in inference_only.actions} == {"ort_dynamic_int8", "ort_static_int8", "inc_static_int8"}
    assert inference_only.alerts == []
    preprocess_only = _plan([f for f in findings if f.kind == "preprocess_latency"])
    assert preprocess_only.actions == []
    assert [a.kind for a in preprocess_only.alerts] == ["preprocess_latency"]
    assert "no model candidate fixes this" in preprocess_only.alerts[0].reason


def test_a_policy_rule_can_route_a_stage_finding():
    routed = budget(
        {"preprocess": {"p95_ms": 1.0}},
        policy={"rules": [{"when": ["preprocess_latency"], "actions": ["retrain"]}]},
    )
    plan = _plan(check_stages(window(), routed), routed)
    assert [a.kind for a in plan.actions] == ["retrain"] and plan.alerts == []


def test_the_server_gets_a_histogram_bound_at_every_stage_cap():
    staged = budget({"inference": {"p95_ms": 2.5}})
    assert {2.5, 2.25, 50.0, 45.0} == set(limit_bounds_ms(staged))


def test_inference_stage_caps_bound_the_candidates_benchmark():
    from mlbudget.benchmark.result import BenchmarkReport, LevelResult
    from mlbudget.selection.limits import check_limits
    from tests.selection.test_select import HW

    level = LevelResult(
        concurrency=1, p50_ms=1.0, p95_ms=3.0, p99_ms=4.0, mean_ms=1.2, throughput_rps=500.0, samples=1000
    )
    report = BenchmarkReport(
        model_path="/m.onnx",
        sha256="a",
        results=[level],
        peak_rss_mb=100.0,
        cold_start_ms=5.0,
        size_mb=1.0,
        hardware=HW,
    )
    assert check_limits(report, budget({"inference": {"p95_ms": 3.0}})) == []
    assert check_limits(report, budget({"inference": {"p95_ms": 2.5}})) == [
        "inference stage p95 3.0 ms > 2.5 ms at concurrency 1"
    ]
    assert check_limits(report, budget({"preprocess": {"p95_ms": 0.1}})) == []  # not a model call
