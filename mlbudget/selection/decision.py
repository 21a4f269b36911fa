"""The selection verdict: which candidate wins, and why in words."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CandidateVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    fits: bool
    """True when the candidate breaks no limit of the budget."""
    breaches: list[str] = Field(default_factory=list)
    """One line per broken limit, e.g. ``p95 41.2 ms > 35.0 ms at concurrency 4``."""
    objective: float | None = None
    pareto: bool = False
    """On the Pareto front of (latency, size, memory, accuracy) among fitting candidates."""
    excluded: str | None = None
    """Why the candidate took no part in the decision although it fits (an unstable re-measurement)."""


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    winner: str | None
    """Name of the chosen candidate (``champion`` when the champion stays); None when nothing fits."""
    promote: bool
    """True when the winner replaces the champion."""
    rationale: str
    verdicts: list[CandidateVerdict]
    fallback: str | None = None
    """The candidate to register as alias ``fallback`` (a budget with a ``fallback`` section), or None."""
    fallback_reason: str = ""
    """Why it is the fallback, or why none could be."""
    skipped_for_time: list[str] = Field(default_factory=list)
    """Work a time-boxed search did not start because its time ran out (``generate kind@parent``,
    ``benchmark name``, ``finals``); empty when nothing was skipped."""
