"""The outcome of the Great Expectations gate on a production window."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ExpectationOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expectation: str
    """GX expectation type, e.g. expect_column_values_to_not_be_null."""
    column: str | None = None
    success: bool
    message: str
    """One line: what was expected and what was observed."""
    observed: Any = None


class ValidationResult(BaseModel):
    """Verdict of the gate: ``success`` False stops the cycle before any candidate."""

    model_config = ConfigDict(extra="forbid")
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome] = Field(default_factory=list)
    sample_rows: int | None = None
    """Rows Great Expectations validated when the window had more (a seeded uniform sample); row count,
    nulls and ranges (non-finite values included) were then counted exactly over every row in a streaming
    pass. None: GX validated every row."""
    method: str = "all rows"
    """How the window was validated, in words (for reports)."""

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        how = "" if self.sample_rows is None else f" ({self.method})"
        if self.success:
            return f"window valid: {len(self.outcomes)} expectations met on {self.rows} rows{how}"
        return f"window invalid: {len(self.failed)} of {len(self.outcomes)} expectations failed{how}: " + "; ".join(
            o.message for o in self.failed
        )
