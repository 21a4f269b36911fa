"""What changed between two cycles, from their report documents (``report.json``).

Any two cycles of one budget can be compared (``mlbudget report diff A B``);
each cycle's report compares itself with the cycle before it ("Since the last
cycle"). The comparison is data: the budget's changed fields (tightened or
loosened), the champion at the end of each cycle, the findings that are new,
resolved or still open (keyed by kind and metric), the features whose drift
statistic moved most (in units of their threshold), and the trend metrics side
by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.errors import InputError
from mlbudget.report.history import cycle_metrics

TOP_DRIFT_MOVES = 10
OPEN_STATUSES = ("violation", "warn")


class CycleRef(BaseModel):
    """Which cycle a side of the comparison is."""

    model_config = ConfigDict(extra="forbid")
    cycle_key: str | None = None
    run_id: str | None = None
    window: str | None = None
    budget_version: str | None = None
    budget_sha256: str | None = None


class ChampionRef(BaseModel):
    """The champion at the end of a cycle."""

    model_config = ConfigDict(extra="forbid")
    version: str | None = None
    sha256: str | None = None
    generator: str | None = None
    how: str = ""
    """``promoted <winner>`` when the cycle moved the alias, else ``kept``."""


class BudgetFieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    old: Any = None
    new: Any = None
    direction: str
    tightens: bool | None = None


class FindingChange(BaseModel):
    """One finding (kind + metric) on both sides."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    metric: str
    status_before: str | None = None
    status_after: str | None = None
    message_before: str | None = None
    message_after: str | None = None


class DriftMove(BaseModel):
    """One feature's drift statistic before and after, in units of its threshold."""

    model_config = ConfigDict(extra="forbid")
    feature: str
    method: str
    before: float | None
    after: float | None
    ratio_before: float | None
    """Statistic ÷ threshold (1 = at the threshold)."""
    ratio_after: float | None
    drifted_before: bool | None
    drifted_after: bool | None

    @property
    def moved(self) -> float:
        return abs((self.ratio_after or 0.0) - (self.ratio_before or 0.0))


class MetricChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    before: float | None = None
    after: float | None = None


class CycleDiff(BaseModel):
    """Cycle ``after`` compared with cycle ``before``."""

    model_config = ConfigDict(extra="forbid")
    before: CycleRef
    after: CycleRef
    budget_changes: list[BudgetFieldChange] = Field(default_factory=list)
    champion_before: ChampionRef
    champion_after: ChampionRef
    findings_new: list[FindingChange] = Field(default_factory=list)
    findings_resolved: list[FindingChange] = Field(default_factory=list)
    findings_open: list[FindingChange] = Field(default_factory=list)
    drift_moves: list[DriftMove] = Field(default_factory=list)
    """The features whose statistic ÷ threshold moved most, largest move first."""
    metrics: list[MetricChange] = Field(default_factory=list)

    @property
    def champion_changed(self) -> bool:
        return (self.champion_before.sha256 or "") != (self.champion_after.sha256 or "")

    def lines(self) -> list[str]:
        """The comparison in words, one line each (what the CLI prints)."""
        return _lines(self)


def diff_cycles(before: dict[str, Any], after: dict[str, Any]) -> CycleDiff:
    """Compare two report documents.

    Args:
        before: the earlier cycle's ``report.json`` (parsed).
        after: the later cycle's ``report.json`` (parsed).

    Raises:
        InputError: a document is not an mlbudget report.
    """
    for side, doc in (("first", before), ("second", after)):
        if not isinstance(doc, dict) or "budget" not in doc or "schema" not in doc:
            raise InputError(f"the {side} cycle's report is not an mlbudget report.json (no 'schema'/'budget')")
    new, resolved, still = _findings(before, after)
    mb, _ = cycle_metrics(before)
    ma, _ = cycle_metrics(after)
    return CycleDiff(
        before=_ref(before),
        after=_ref(after),
        budget_changes=_budget_changes(before, after),
        champion_before=champion_at_end(before),
        champion_after=champion_at_end(after),
        findings_new=new,
        findings_resolved=resolved,
        findings_open=still,
        drift_moves=_drift_moves(before, after),
        metrics=[MetricChange(name=k, before=mb.get(k), after=ma.get(k)) for k in sorted(set(mb) | set(ma))],
    )


def _extra(doc: dict[str, Any]) -> dict[str, Any]:
    extra = doc.get("extra")
    return extra if isinstance(extra, dict) else {}


def _ref(doc: dict[str, Any]) -> CycleRef:
    extra, budget = _extra(doc), doc.get("budget") or {}
    return CycleRef(
        cycle_key=extra.get("cycle_key"),
        run_id=extra.get("run_id"),
        window=extra.get("window"),
        budget_version=budget.get("version"),
        budget_sha256=budget.get("sha256"),
    )


def champion_at_end(doc: dict[str, Any]) -> ChampionRef:
    """The champion once the cycle was over: the promoted winner, or the champion it started with."""
    extra = _extra(doc)
    registry = extra.get("registry") or {}
    candidates = {c["name"]: c for c in doc.get("candidates") or [] if isinstance(c, dict) and "name" in c}
    champion = next((c for c in candidates.values() if c.get("is_champion")), None)
    if registry.get("promoted") and registry.get("winner") in candidates:
        winner = candidates[registry["winner"]]
        return ChampionRef(
            version=_str(registry.get("version")),
            sha256=winner.get("sha256"),
            generator=winner.get("generator"),
            how=f"promoted {winner['name']}",
        )
    version = extra.get("champion_version") or (champion or {}).get("lineage", {}).get("config", {}).get(
        "mlflow_version"
    )
    return ChampionRef(
        version=_str(version),
        sha256=(champion or {}).get("sha256"),
        generator=(champion or {}).get("lineage", {}).get("generator") or (champion or {}).get("generator"),
        how="kept",
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _budget_changes(before: dict[str, Any], after: dict[str, Any]) -> list[BudgetFieldChange]:
    from pydantic import ValidationError

    from mlbudget.budget.diff import diff_budgets
    from mlbudget.budget.model import Budget

    old, new = (d["budget"].get("document") or {} for d in (before, after))
    if old == new:
        return []
    try:
        changes = diff_budgets(Budget.model_validate(old), Budget.model_validate(new))
    except ValidationError:
        # A document written by another schema release: compare the stored JSON as it is.
        from mlbudget.budget.diff import _walk

        changes = []
        _walk(old, new, (), changes)
    return [
        BudgetFieldChange(field=c.field, old=c.old, new=c.new, direction=c.direction, tightens=c.tightens)
        for c in changes
    ]


def _open_findings(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    findings = ((doc.get("detection") or {}).get("findings")) or []
    return {(f["kind"], f["metric"]): f for f in findings if f.get("status") in OPEN_STATUSES}


def _findings(before, after) -> tuple[list[FindingChange], list[FindingChange], list[FindingChange]]:
    a, b = _open_findings(before), _open_findings(after)

    def change(key: tuple[str, str]) -> FindingChange:
        fa, fb = a.get(key, {}), b.get(key, {})
        return FindingChange(
            kind=key[0],
            metric=key[1],
            status_before=fa.get("status"),
            status_after=fb.get("status"),
            message_before=fa.get("message"),
            message_after=fb.get("message"),
        )

    return (
        [change(k) for k in b if k not in a],
        [change(k) for k in a if k not in b],
        [change(k) for k in b if k in a],
    )


def _drift_rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    drift = (doc.get("detection") or {}).get("drift") or {}
    return {r["feature"]: r for r in drift.get("rows") or []}


def _ratio(row: dict[str, Any] | None) -> float | None:
    if not row or not row.get("threshold"):
        return None
    return float(row["statistic"]) / float(row["threshold"])


def drift_ratios(doc: dict[str, Any]) -> dict[str, float]:
    """Feature -> drift statistic ÷ threshold in one report document."""
    return {f: r for f, row in _drift_rows(doc).items() if (r := _ratio(row)) is not None}


def _drift_moves(before: dict[str, Any], after: dict[str, Any]) -> list[DriftMove]:
    a, b = _drift_rows(before), _drift_rows(after)
    moves = []
    for feature in list(b) + [f for f in a if f not in b]:
        ra, rb = a.get(feature), b.get(feature)
        moves.append(
            DriftMove(
                feature=feature,
                method=(rb or ra)["method"],
                before=None if ra is None else float(ra["statistic"]),
                after=None if rb is None else float(rb["statistic"]),
                ratio_before=_ratio(ra),
                ratio_after=_ratio(rb),
                drifted_before=None if ra is None else bool(ra["drifted"]),
                drifted_after=None if rb is None else bool(rb["drifted"]),
            )
        )
    moves.sort(key=lambda m: m.moved, reverse=True)
    return [m for m in moves if m.moved > 0][:TOP_DRIFT_MOVES]


def _fmt(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _lines(d: CycleDiff) -> list[str]:
    out = [
        f"{label} cycle {ref.cycle_key or '?'} (window {ref.window or '?'}, budget {ref.budget_version})"
        for label, ref in (("before:", d.before), ("after: ", d.after))
    ]
    if d.budget_changes:
        for c in d.budget_changes:
            sense = {True: " (tightened)", False: " (loosened)"}.get(c.tightens, "")
            out.append(f"budget: {c.field}: {_fmt(c.old)} -> {_fmt(c.new)}{sense}")
    else:
        out.append("budget: unchanged")
    cb, ca = d.champion_before, d.champion_after
    if d.champion_changed:
        out.append(f"champion: v{cb.version} ({cb.generator}) -> v{ca.version} ({ca.generator}, {ca.how})")
    else:
        out.append(f"champion: v{ca.version} ({ca.generator}) unchanged")
    for label, items in (("new", d.findings_new), ("resolved", d.findings_resolved), ("open", d.findings_open)):
        for f in items:
            out.append(f"finding {label}: {f.message_after or f.message_before}")
    if not (d.findings_new or d.findings_resolved or d.findings_open):
        out.append("findings: none open on either side")
    for m in d.drift_moves:
        out.append(
            f"drift moved: {m.feature} ({m.method}) {_fmt(m.before)} -> {_fmt(m.after)} "
            f"({_fmt(m.ratio_before)}x -> {_fmt(m.ratio_after)}x threshold)"
        )
    for m in d.metrics:
        out.append(f"metric {m.name}: {_fmt(m.before)} -> {_fmt(m.after)}")
    return out


def load_report_document(ref: str, tracking_uri: str | None = None) -> dict[str, Any]:
    """A report document from a cycle directory, a report folder, a report.json file or an MLflow run id.

    Raises:
        InputError: nothing readable at ``ref``.
        DependencyError: MLflow failed while fetching a run's report.
    """
    path = Path(ref)
    for candidate in (path / "report" / "report.json", path / "report.json", path):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(f"{candidate}: not a readable report.json ({exc})") from exc
    if not path.exists() and len(ref) == 32 and all(ch in "0123456789abcdef" for ch in ref):
        if tracking_uri is None:
            raise InputError(f"{ref}: looks like an MLflow run id; pass --tracking-uri to fetch its report")
        from mlbudget.report.history import report_of_run

        return report_of_run(tracking_uri, ref)
    raise InputError(
        f"{ref}: no report found (expected a cycle directory, a report folder, a report.json or an MLflow run id)"
    )
