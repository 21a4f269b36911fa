"""Detection for a cycle: the window's findings plus the champion's own size."""

from __future__ import annotations

from mlbudget.cycle.layout import read_model
from mlbudget.cycle.state import OpenCycle
from mlbudget.detection.findings import DetectionReport
from mlbudget.errors import ModelFileError


def detect_window(cycle: OpenCycle) -> DetectionReport:
    """Run every detector on the cycle's window against the champion's reference data.

    Raises:
        ModelFileError: the champion bundle has no reference data to compare with.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from mlbudget.detection.budget_checks import check_model_size
    from mlbudget.detection.detect import detect, window_columns_but_features
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.metrics_summary import read_metrics
    from mlbudget.sources.window import ProductionWindow

    window = read_model(cycle.layout.window, ProductionWindow)
    bundle = ModelBundle(cycle.layout.champion)
    if bundle.reference_path is None:
        raise ModelFileError(f"{bundle.root}: champion bundle has no reference.parquet to detect drift against")
    spec = bundle.contract()
    reference = drift_reference(bundle, spec)
    has_label = spec.label in pq.read_schema(bundle.reference_path).names
    classifier = spec.task == "classification" and has_label
    # A regressor's values are no classes: its prediction drift is reported as not checked.
    labels = pd.read_parquet(bundle.reference_path, columns=[spec.label])[spec.label] if classifier else None
    class_share = labels.value_counts(normalize=True).to_dict() if classifier else {}
    # Bounded memory: the window's feature columns are read in record batches (drift) or as a
    # seeded sample (label-free estimation), never whole; the other detectors get the other columns.
    frame = window_columns_but_features(window.path, spec)
    report = detect(
        frame,
        cycle.budget,
        reference,
        spec,
        memory_mb=window.memory_mb,
        reference_class_share=class_share,
        metrics=read_metrics(window.metrics_path) if window.metrics_path else None,
        champion_level=_champion_level(cycle),
        drift_rows=window.path,
        span=(window.start, window.end),
        creep_baseline=_creep_baseline(window),
    )
    report.findings.append(check_model_size(bundle.size_mb(), cycle.budget))
    rule = cycle.budget.limits.accuracy
    judged = any(f.kind == "accuracy" and f.status != "info" for f in report.findings)
    if rule is not None and judged and _champion_level(cycle) is None:
        from mlbudget.detection.accuracy import level_unknown

        report.findings.append(level_unknown(rule.metric))
    from mlbudget.detection.label_free import estimated_accuracy_findings

    report.findings += estimated_accuracy_findings(
        bundle.root, frame, cycle.budget, _champion_level(cycle), window_path=window.path
    )
    return report


def _creep_baseline(window):
    """The rows pulled for a seasonal creep baseline (the three columns it reads), or None."""
    if not window.creep_baseline_path:
        return None
    import pandas as pd

    from mlbudget.sources.window import LATENCY, STATUS, TIMESTAMP

    return pd.read_parquet(window.creep_baseline_path, columns=[TIMESTAMP, LATENCY, STATUS])


def _champion_level(cycle: OpenCycle):
    """The champion's quality on its reference holdout, as stored in its bundle (None when not stored)."""
    from mlbudget.models.quality import read_reference_quality

    rule = cycle.budget.limits.accuracy
    return None if rule is None else read_reference_quality(cycle.layout.champion, rule.metric)


def drift_reference(bundle, spec):
    """The champion's stored drift profile (``profile.json``, built once at adoption), else its reference rows.

    The profile is used when it covers every feature with the kind the contract gives
    it; a profile of an older format or of other columns is ignored and the rows are
    profiled again, as before profiles were stored.
    """
    import pandas as pd

    from mlbudget.detection.drift.profile import ReferenceProfile
    from mlbudget.errors import InputError

    if bundle.profile_path is not None:
        try:
            profile = ReferenceProfile.load(bundle.profile_path)
        except InputError:
            profile = None
        kinds = {f.name: "numeric" for f in spec.numeric} | {f.name: "categorical" for f in spec.categorical}
        if profile is not None and all(
            name in profile.columns and profile.columns[name].kind == kind for name, kind in kinds.items()
        ):
            return profile
    return pd.read_parquet(bundle.reference_path)
