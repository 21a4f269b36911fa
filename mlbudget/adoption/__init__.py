"""Adoption: the one way a model enters mlbudget (``mlbudget adopt``; the demo uses it too).

:func:`adopt_model` takes an ONNX file or an MLflow model URI plus reference data,
works out the input adapter, the task and the outputs, builds a bundle
(``model.onnx``, ``contract.json``, ``lineage.json``, ``reference.parquet``,
``profile.json``) and registers it under the budget's name as ``champion``.
"""

from mlbudget.adoption.adopt import AdoptionResult, adopt_model, build_adopted_bundle

__all__ = ["AdoptionResult", "adopt_model", "build_adopted_bundle"]
