"""Input adapters: production rows -> ONNX graph inputs (see :mod:`mlbudget.adapters.base`)."""

from mlbudget.adapters import columns, feature_spec, matrix  # noqa: F401  (registers)
from mlbudget.adapters.base import InputAdapter, build_adapter, choose_adapter

__all__ = ["InputAdapter", "build_adapter", "choose_adapter"]
