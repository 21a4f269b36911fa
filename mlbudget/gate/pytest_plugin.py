"""pytest plugin (entry point ``pytest11``): the budget gate inside a project's own test suite.

Two ways in:

- options: ``pytest --mlbudget-budget budget.yaml --mlbudget-model model.onnx [--mlbudget-reference ref.parquet]
  [--mlbudget-tracking-uri URI]`` adds one test, ``mlbudget-gate``, that fails when the model breaks the budget
  (or regresses against the registered champion beyond the noise);
- the ``mlbudget_gate`` fixture: ``mlbudget_gate.check(model=..., budget=..., reference=...)`` fails the calling
  test with the breaches; ``mlbudget_gate(...)`` returns the :class:`mlbudget.gate.GateResult` to assert on.
  Arguments left out come from the options.

Loading the plugin imports nothing heavy: the gate is imported when a test runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

_OPTIONS = {
    "budget": "Budget document (YAML) whose limits the model must fit.",
    "model": "The ONNX model to check.",
    "reference": "Labelled rows (Parquet or CSV) that feed the model and measure its quality.",
    "label": "Label column of the reference rows (default: label).",
    "tracking-uri": "MLflow tracking URI: also fail on a significant regression against the champion.",
    "rounds": "Interleaved benchmark rounds (default 5).",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlbudget", "performance budgets (mlbudget gate)")
    for name, text in _OPTIONS.items():
        group.addoption(f"--mlbudget-{name}", dest=f"mlbudget_{name.replace('-', '_')}", default=None, help=text)
    group.addoption(
        "--mlbudget-fast",
        dest="mlbudget_fast",
        action="store_true",
        default=False,
        help="Short measurement windows (smoke tests).",
    )


class Gate:
    """The ``mlbudget_gate`` fixture: run the gate with the command-line options as defaults."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def _option(self, name: str) -> Any:
        return self.config.getoption(f"mlbudget_{name}")

    def __call__(
        self,
        model: str | Path | None = None,
        budget: str | Path | Any | None = None,
        reference: str | Path | None = None,
        *,
        label: str | None = None,
        tracking_uri: str | None = None,
        rounds: int | None = None,
        fast: bool | None = None,
    ):
        """Run the gate and return its :class:`~mlbudget.gate.GateResult` (``budget`` may be a path or a Budget)."""
        from mlbudget.budget.loader import load_budget
        from mlbudget.budget.model import Budget
        from mlbudget.gate.core import run_gate

        budget = budget if budget is not None else self._option("budget")
        model = model if model is not None else self._option("model")
        if budget is None or model is None:
            pytest.fail("mlbudget_gate needs a budget and a model (arguments or --mlbudget-budget/--mlbudget-model)")
        spec = budget if isinstance(budget, Budget) else load_budget(budget)
        given_rounds = rounds if rounds is not None else self._option("rounds")
        return run_gate(
            spec,
            model,
            reference if reference is not None else self._option("reference"),
            label=label or self._option("label") or "label",
            tracking_uri=tracking_uri or self._option("tracking_uri"),
            rounds=int(given_rounds) if given_rounds is not None else None,
            fast=self._option("fast") if fast is None else fast,
        )

    def check(self, *args: Any, **kwargs: Any):
        """Run the gate and fail the calling test with every breach when the model does not fit."""
        result = self(*args, **kwargs)
        if not result.passed:
            pytest.fail(_failure_text(result), pytrace=False)
        return result


def _failure_text(result) -> str:
    lines = [f"{result.model} breaks budget {result.budget} {result.budget_version}:"]
    lines += [f"  {failure}" for failure in result.failures]
    return "\n".join(lines)


@pytest.fixture
def mlbudget_gate(request: pytest.FixtureRequest) -> Gate:
    """Run the mlbudget gate from a test (see :class:`Gate`)."""
    return Gate(request.config)


class GateItem(pytest.Item):
    """The test ``mlbudget-gate`` that ``--mlbudget-budget`` and ``--mlbudget-model`` add."""

    def runtest(self) -> None:
        from mlbudget.errors import MlbudgetError

        try:
            Gate(self.config).check()
        except MlbudgetError as exc:
            pytest.fail(f"mlbudget gate could not run: {exc}", pytrace=False)

    def reportinfo(self):
        return Path(str(self.config.getoption("mlbudget_model"))), None, "mlbudget-gate"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("mlbudget_budget") and config.getoption("mlbudget_model"):
        items.append(GateItem.from_parent(session, name="mlbudget-gate"))
