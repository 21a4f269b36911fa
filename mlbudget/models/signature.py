"""The ONNX signature: the contract between a model and the code that serves it.

Input and output names, element types and ranks. Every candidate must keep the
champion's signature so that serving code never changes when mlbudget promotes
a model (:func:`signature_mismatch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.errors import ModelFileError


class TensorSignature(BaseModel):
    """One graph input or output."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    elem_type: str
    """``float``, ``double``, ``int64``, ``string`` ... for tensors; ``seq(map(int64,tensor(float)))`` and
    the like for non-tensor values (skl2onnx's ZipMap output)."""
    rank: int | None = None
    """Number of axes of a tensor (None for non-tensor values)."""
    shape: list[int | str | None] = Field(default_factory=list)
    """Dimensions: an int for a fixed axis, a name or None for a dynamic one (informative, not compared)."""

    @property
    def is_tensor(self) -> bool:
        return self.rank is not None

    @property
    def numpy_dtype(self) -> str:
        """The numpy dtype that feeds this input (``object`` for strings)."""
        return _NUMPY.get(self.elem_type, "float32")

    def describe(self) -> str:
        return f"{self.name}: {self.elem_type}" + ("" if self.rank is None else f" rank {self.rank}")


class GraphSignature(BaseModel):
    """All inputs and outputs of one ONNX graph, in graph order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    inputs: list[TensorSignature]
    outputs: list[TensorSignature]

    def input(self, name: str) -> TensorSignature:
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(name)

    def output(self, name: str) -> TensorSignature:
        for item in self.outputs:
            if item.name == name:
                return item
        raise KeyError(name)


_ELEM = {
    1: "float",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "double",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",
}
_NUMPY = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
    "string": "object",
}
NUMERIC_ELEM_TYPES = frozenset(_NUMPY) - {"string", "bool"}
"""Element types a numeric feature column can feed."""


def _type_text(type_proto: Any) -> tuple[str, int | None, list[int | str | None]]:
    which = type_proto.WhichOneof("value")
    if which == "tensor_type":
        tensor = type_proto.tensor_type
        elem = _ELEM.get(tensor.elem_type, f"elem{tensor.elem_type}")
        if not tensor.HasField("shape"):
            return elem, None, []
        dims: list[int | str | None] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
        ]
        return elem, len(dims), dims
    if which == "sequence_type":
        inner, _, _ = _type_text(type_proto.sequence_type.elem_type)
        return f"seq({inner})", None, []
    if which == "map_type":
        key = _ELEM.get(type_proto.map_type.key_type, "?")
        inner, _, _ = _type_text(type_proto.map_type.value_type)
        return f"map({key},{inner})", None, []
    if which == "optional_type":
        inner, _, _ = _type_text(type_proto.optional_type.elem_type)
        return f"optional({inner})", None, []
    return str(which), None, []


def signature_of(model: Any) -> GraphSignature:
    """The signature of an ``onnx.ModelProto`` (initializers that are also listed as inputs are left out)."""
    initializers = {i.name for i in model.graph.initializer}

    def item(value: Any) -> TensorSignature:
        elem, rank, shape = _type_text(value.type)
        return TensorSignature(name=value.name, elem_type=elem, rank=rank, shape=shape)

    return GraphSignature(
        inputs=[item(v) for v in model.graph.input if v.name not in initializers],
        outputs=[item(v) for v in model.graph.output],
    )


def read_signature(path: str | Path) -> GraphSignature:
    """The signature of the ONNX file at ``path`` (weights not loaded).

    Raises:
        ModelFileError: the file is missing or not an ONNX model.
    """
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError ...
        raise ModelFileError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    return signature_of(model)


def signature_mismatch(expected: GraphSignature, actual: GraphSignature) -> str | None:
    """Why ``actual`` does not keep ``expected`` (names, element types, ranks), or None when it does.

    Returns:
        One line, e.g. ``input 'x': double rank 2 became float rank 2``.
    """
    for side in ("inputs", "outputs"):
        want = {t.name: t for t in getattr(expected, side)}
        got = {t.name: t for t in getattr(actual, side)}
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        if missing or extra:
            parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
            return f"{side}: {', '.join(p for p in parts if p)} (expected {sorted(want)})"
        for name, w in want.items():
            g = got[name]
            if (w.elem_type, w.rank) != (g.elem_type, g.rank):
                return f"{side[:-1]} {name!r}: {_text(w)} became {_text(g)}"
    return None


def _text(t: TensorSignature) -> str:
    return t.elem_type if t.rank is None else f"{t.elem_type} rank {t.rank}"
