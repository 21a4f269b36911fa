"""The CI gate: does one ONNX model fit a budget (and not regress against the registered champion)?"""

from mlbudget.gate.core import ChampionComparison, GateResult, run_gate

__all__ = ["ChampionComparison", "GateResult", "run_gate"]
