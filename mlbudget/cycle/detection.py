"""Detection for a cycle: the window's findings plus the champion's own size."""

from __future__ import annotations

from mlbudget.budget.model import Budget
from mlbudget.cycle.layout import read_model
from mlbudget.cycle.state import OpenCycle
from mlbudget.detection.findings import DetectionReport, Finding
from mlbudget.errors import ModelFileError


def detect_window(cycle: OpenCycle) -> DetectionReport:
    """Run every detector on the cycle's window against the champion's reference data.

    Raises:
        ModelFileError: the champion bundle has no reference data to compare with.
    """
    import pandas as pd

    from mlbudget.detection.detect import detect
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.window import ProductionWindow

    window = read_model(cycle.layout.window, ProductionWindow)
    bundle = ModelBundle(cycle.layout.champion)
    if bundle.reference_path is None:
        raise ModelFileError(f"{bundle.root}: champion bundle has no reference.parquet to detect drift against")
    spec = bundle.features()
    reference = pd.read_parquet(bundle.reference_path)
    class_share = reference[spec.label].value_counts(normalize=True).to_dict() if spec.label in reference else None
    report = detect(
        pd.read_parquet(window.path),
        cycle.budget,
        reference,
        spec,
        memory_mb=window.memory_mb,
        reference_class_share=class_share,
    )
    report.findings.append(model_size_finding(bundle.size_mb(), cycle.budget))
    return report


def model_size_finding(size_mb: float, budget: Budget) -> Finding:
    """The champion's file size against ``limits.max_model_size_mb`` with the warn margin."""
    limit = budget.limits.max_model_size_mb
    if limit is None:
        return Finding(
            kind="model_size",
            status="info",
            metric="size_mb",
            actual=size_mb,
            message=f"model size {size_mb:.2f} MB (no limit set)",
        )
    if size_mb > limit:
        status, op = "violation", ">"
    elif size_mb > limit * (1 - budget.warn_margin):
        status, op = "warn", "<="
    else:
        status, op = "ok", "<="
    return Finding(
        kind="model_size",
        status=status,
        metric="size_mb",
        actual=size_mb,
        limit=limit,
        message=f"model size {size_mb:.2f} MB {op} {limit:.2f} MB",
    )
