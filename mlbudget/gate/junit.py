"""The gate's verdict as JUnit XML, which CI servers (GitLab, Jenkins, GitHub test reporters) show per test case.

One test suite ``mlbudget gate``; a test case per budget limit the gate checks
(failed with the selection's words when broken) and one for the champion comparison.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from mlbudget.budget.model import Budget
from mlbudget.gate.core import GateResult


def limit_names(budget: Budget, quality_checked: bool) -> list[tuple[str, tuple[str, ...]]]:
    """The limits the gate checks: (test case name, the words that open its breach messages)."""
    limits = budget.limits
    out: list[tuple[str, tuple[str, ...]]] = [
        (f"latency {p} at concurrency {limits.latency.concurrency}", (f"{p} ", "latency not measured"))
        for p, _ in limits.latency.items()
    ]
    if limits.min_throughput_rps is not None:
        out.append(("throughput", ("throughput",)))
    if limits.max_peak_rss_mb is not None:
        out.append(("peak RSS", ("peak RSS",)))
    if limits.max_model_size_mb is not None:
        out.append(("model size", ("size ",)))
    if limits.max_energy_mj_per_inference is not None:
        out.append(("energy per inference", ("energy",)))
    if limits.accuracy is not None and quality_checked:
        out.append((limits.accuracy.metric, (limits.accuracy.metric,)))
    return out


def junit_xml(result: GateResult, budget: Budget, seconds: float = 0.0) -> str:
    """The JUnit XML document of ``result``."""
    cases: list[ET.Element] = []
    claimed: set[str] = set()
    for name, prefixes in limit_names(budget, result.quality_checked):
        case = ET.Element("testcase", classname=f"mlbudget.gate.{budget.name}", name=name)
        broken = [b for b in result.breaches if b.startswith(prefixes) and b not in claimed]
        claimed.update(broken)
        if broken:
            ET.SubElement(case, "failure", message="; ".join(broken), type="BudgetBreach").text = "\n".join(broken)
        cases.append(case)
    other = [b for b in result.breaches if b not in claimed]
    if other:
        case = ET.Element("testcase", classname=f"mlbudget.gate.{budget.name}", name="other limits")
        ET.SubElement(case, "failure", message="; ".join(other), type="BudgetBreach").text = "\n".join(other)
        cases.append(case)
    if result.champion is not None:
        name = f"no regression vs champion ({result.champion.objective})"
        case = ET.Element("testcase", classname=f"mlbudget.gate.{budget.name}", name=name)
        if result.champion.regression:
            ET.SubElement(case, "failure", message=result.champion.text, type="Regression").text = result.champion.text
        else:
            ET.SubElement(case, "system-out").text = result.champion.text
        cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suite = ET.Element(
        "testsuite",
        name="mlbudget gate",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("model", result.model),
        ("budget", f"{result.budget} {result.budget_version}"),
        ("rounds", str(result.rounds)),
        ("stable", str(result.stable).lower()),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    suite.extend(cases)
    if result.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(result.notes)
    root = ET.Element("testsuites", tests=suite.get("tests"), failures=suite.get("failures"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | Path, result: GateResult, budget: Budget, seconds: float = 0.0) -> Path:
    """Write :func:`junit_xml` to ``path`` (its folder is made)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(result, budget, seconds), encoding="utf-8")
    return target
