"""A synthetic cycle for the report tests: nothing of the demo model is assumed.

Feature names are arbitrary (spaces, units, markup), the quality metric is
``f1_macro``, latency limits sit at concurrency 4 of levels 1/4/16, and each
level keeps a latency distribution drawn from a lognormal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from mlbudget.benchmark.result import DISTRIBUTION_QUANTILES, BenchmarkReport, LatencyDistribution, LevelResult
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, Lineage
from mlbudget.detection.findings import DetectionReport, DriftReport, DriftRow, Finding
from mlbudget.report.history import LedgerEvent, Trend, TrendPoint
from mlbudget.selection.select import select_winner

HOSTILE_FEATURE = "</script><script>window.pwned=1</script>"
"""A feature name that would end the page's chart script if it were not escaped."""


def budget(p95: float = 35.0, version: str = "1.0.0", minimum: float = 0.8) -> Budget:
    return Budget.model_validate(
        {
            "name": "churn-scorer",
            "version": version,
            "owner": "risk-team",
            "load": {"concurrency": [1, 4, 16]},
            "limits": {
                "latency": {"concurrency": 4, "p50_ms": 20.0, "p95_ms": p95, "p99_ms": 60.0},
                "max_peak_rss_mb": 500.0,
                "max_model_size_mb": 10.0,
                "max_error_rate": 0.02,
                "accuracy": {"metric": "f1_macro", "minimum": minimum, "max_drop": 0.01},
            },
        }
    )


def level(c: int, median: float, seed: int, with_distribution: bool = True) -> LevelResult:
    rng = np.random.default_rng(seed)
    samples = rng.lognormal(np.log(median), 0.35, 4000)
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    dist = LatencyDistribution(
        quantiles=list(DISTRIBUTION_QUANTILES), ms=[float(v) for v in np.quantile(samples, DISTRIBUTION_QUANTILES)]
    )
    return LevelResult(
        concurrency=c,
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        mean_ms=float(samples.mean()),
        throughput_rps=1000.0 * c / median,
        samples=4000,
        p95_ci_ms=(float(p95) * 0.97, float(p95) * 1.03),
        distribution=dist if with_distribution else None,
    )


def bench(name: str, median: float, size: float, quality: float, seed: int, dist: bool = True) -> BenchmarkReport:
    return BenchmarkReport(
        model_path=f"/m/{name}.onnx",
        sha256=name * 2,
        results=[level(c, median * (1 + 0.3 * k), seed + c, dist) for k, c in enumerate((1, 4, 16))],
        peak_rss_mb=200.0,
        cold_start_ms=5.0,
        size_mb=size,
        accuracy=quality,
        accuracy_metric="f1_macro",
        accuracy_rows=2000,
        hardware={
            "cpu_model": "Test CPU",
            "cpu_flags": ["avx2"],
            "cores_physical": 2,
            "cores_logical": 2,
            "ort_version": "1.0",
            "provider": "CPUExecutionProvider",
            "intra_op_threads": 1,
            "inter_op_threads": 1,
            "graph_optimization": "all",
            "platform": "linux",
            "python": "3.11",
        },
    )


def candidate(name: str, champion: bool = False, version: str | None = None) -> Candidate:
    config = {"mlflow_version": version} if version else {}
    return Candidate(
        name=name,
        bundle_dir=f"/b/{name}",
        generator="champion" if champion else name.split("@")[0],
        sha256=name * 2,
        size_mb=1.0,
        lineage=Lineage(generator=name, sha256=name * 2, config=config),
        is_champion=champion,
    )


def detection(shift: float, n_features: int = 40, error_rate: float = 0.01) -> DetectionReport:
    names = [f"feature {i} (°C)" for i in range(n_features - 1)] + [HOSTILE_FEATURE]
    rows = [
        DriftRow(
            feature=f,
            kind="numeric" if i % 5 else "categorical",
            method="psi",
            statistic=shift * (i % 7) / 7 + 0.01,
            threshold=0.1,
            drifted=shift * (i % 7) / 7 + 0.01 > 0.1,
        )
        for i, f in enumerate(names)
    ]
    share = sum(r.drifted for r in rows) / len(rows)
    drift = DriftReport(
        rows=rows, drifted_share=share, dataset_drift=share > 0.3, reference_rows=5000, current_rows=4000
    )
    p95 = 30.0 + 20 * shift
    findings = [
        Finding(
            kind="latency",
            status="violation" if p95 > 35 else "ok",
            metric="p95_ms",
            actual=p95,
            limit=35.0,
            message=f"p95 {p95:.1f} ms vs 35.0 ms",
        ),
        Finding(
            kind="error_rate",
            status="ok",
            metric="error_rate",
            actual=error_rate,
            limit=0.02,
            message=f"error rate {error_rate:.2%}",
        ),
        Finding(kind="memory", status="ok", metric="peak_rss_mb", actual=310.0, limit=500.0, message="peak RSS 310 MB"),
        Finding(
            kind="accuracy",
            status="warn" if shift > 0.2 else "ok",
            metric="f1_macro",
            actual=0.86 - 0.1 * shift,
            limit=0.8,
            message=f"f1_macro {0.86 - 0.1 * shift:.3f}",
        ),
        Finding(
            kind="drift",
            status="violation" if drift.dataset_drift else "ok",
            metric="drifted_share",
            actual=share,
            limit=0.3,
            message=f"{share:.0%} of features drifted",
        ),
    ]
    return DetectionReport(findings=findings, drift=drift)


def cycle_inputs(shift: float = 0.5, *, with_distribution: bool = True, version: str = "3") -> dict[str, Any]:
    """Keyword arguments of ``write_report`` for one cycle with six candidates (two close together)."""
    b = budget()
    names = [
        ("champion", 28.0, 9.0, 0.86),
        ("ort_dynamic_int8@champion", 14.0, 2.4, 0.855),
        ("ort_static_int8@champion", 13.0, 2.4, 0.85),
        ("inc_static_int8@champion", 13.2, 2.45, 0.852),
        ("retrain@champion", 27.0, 9.0, 0.87),
        ("ort_static_int8@retrain@champion", 40.0, 2.4, 0.865),
    ]
    cands = [candidate(n, n == "champion", version if n == "champion" else None) for n, *_ in names]
    reports = {n: bench(n, m, s, q, seed=i, dist=with_distribution) for i, (n, m, s, q) in enumerate(names)}
    decision = select_winner(cands, reports, b)
    return {
        "budget": b,
        "budget_sha256": "ab" * 32,
        "validation": None,
        "detection": detection(shift),
        "plan": {"actions": [{"kind": "ort_static_int8", "reason": "p95 over its limit", "forced": False}]},
        "candidates": cands,
        "reports": reports,
        "decision": decision,
        "extra": {
            "cycle_key": f"key-{shift}",
            "run_id": "r" * 32,
            "champion_version": version,
            "window": "2026-11-01T00:00:00+00:00/2026-11-02T00:00:00+00:00",
            "registry": {"version": "4", "promoted": True, "status": "promoted", "winner": decision.winner},
        },
    }


def trend(n: int = 6) -> Trend:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    points = [
        TrendPoint(
            run_id=f"run{i}",
            started=start + timedelta(days=i),
            window_end=(start + timedelta(days=i)).isoformat(),
            budget_version="1.0.0" if i < 3 else "1.1.0",
            status="promoted" if i == 2 else "kept",
            quality_metric="f1_macro",
            metrics={
                "window.p95_ms": 25.0 + 3 * i,
                "limit.p95_ms": 35.0 if i < 3 else 30.0,
                "window.error_rate": 0.005 * (i % 3),
                "limit.error_rate": 0.02,
                "window.peak_rss_mb": 300.0 + 5 * i,
                "limit.peak_rss_mb": 500.0,
                "window.quality": 0.86 - 0.01 * i,
                "limit.quality": 0.8,
                "window.drifted_share": 0.05 * i,
                "limit.drifted_share": 0.3,
                "champion.p95_ms": 20.0 + i,
            },
        )
        for i in range(n)
    ]
    events = [
        LedgerEvent(at=start + timedelta(days=2, hours=1), action="promote", version="2", previous="1", reason="int8"),
        LedgerEvent(at=start + timedelta(days=4, hours=1), action="rollback", version="1", previous="2", reason="oops"),
    ]
    return Trend(budget="churn-scorer", points=points, events=events)
