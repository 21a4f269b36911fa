"""Candidate generators: plug-ins that turn a parent model into ONNX candidates.

Importing this package registers the built-in generators; their modules import
torch, onnxruntime and neural_compressor only inside methods, so this stays light.

Built-ins: ``ort_dynamic_int8``, ``ort_static_int8``, ``ort_static_int8_aware`` (static INT8 that keeps
the most sensitive nodes in float until the quality budget holds), ``inc_static_int8``,
``retrain``, ``distill``, ``distill_onnx`` (an MLP student of any ONNX teacher), ``float32``
(the float32 variant of a float64 graph), ``train`` (the budget's trainer: a command, the demo MLP,
a scikit-learn pipeline, or a plug-in; see :mod:`mlbudget.trainers`).
"""

from mlbudget.candidates import (  # noqa: F401
    distill,
    distill_onnx,
    float32,
    inc_static,
    ort_dynamic,
    ort_static,
    ort_static_aware,
    retrain,
    train,
)
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig

__all__ = ["Candidate", "CandidateGenerator", "GenerationData", "GeneratorConfig"]
