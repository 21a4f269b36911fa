"""Facts about an ONNX graph that decide which generators apply to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm", "Conv"})
"""Operators ONNX Runtime's INT8 paths speed up; a graph without any (a tree ensemble) gains nothing."""


@dataclass(frozen=True)
class GraphFacts:
    """What a generator needs to know about a graph before it tries it."""

    ops: frozenset[str]
    """Operator types (``domain:op`` outside the default domain, e.g. ``ai.onnx.ml:TreeEnsembleRegressor``)."""
    float64: bool
    """True when the graph computes in float64: a double initializer, or a double graph input that feeds
    anything but a Cast (a float32 variant casts its double inputs on entry and computes in float32)."""

    @property
    def quantizable(self) -> bool:
        return bool(self.ops & QUANTIZABLE_OPS)


def graph_facts(path: str | Path) -> GraphFacts:
    """Operator types and float64 use of the graph at ``path`` (weights not decoded).

    Raises:
        ModelFileError: not a readable ONNX file.
    """
    import onnx
    from onnx import TensorProto

    from mlbudget.errors import ModelFileError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError ...
        raise ModelFileError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    graph = model.graph
    ops = frozenset(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}" for n in graph.node)
    double = TensorProto.DOUBLE
    double_inputs = {
        v.name for v in graph.input if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type == double
    }
    computes_on_inputs = any(n.op_type != "Cast" and double_inputs & set(n.input) for n in graph.node)
    float64 = computes_on_inputs or any(t.data_type == double for t in graph.initializer)
    return GraphFacts(ops=ops, float64=float64)


def not_quantizable_reason(path: str | Path) -> str | None:
    """Why ONNX Runtime INT8 cannot apply to this graph (float32 MatMul/Gemm/Conv needed), or None."""
    facts = graph_facts(path)
    if not facts.quantizable:
        kinds = sorted(o.split(":")[-1] for o in facts.ops if "Tree" in o) or ["no MatMul, Gemm or Conv"]
        return f"the graph has no MatMul, Gemm or Conv to quantize ({', '.join(kinds[:3])})"
    if facts.float64:
        return "the graph is float64: INT8 applies to its float32 variant"
    return None
