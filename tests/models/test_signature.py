"""The ONNX signature: read from real graphs, compared by name, element type and rank."""

from __future__ import annotations

import pytest

from mlbudget.models.signature import GraphSignature, TensorSignature, read_signature, signature_mismatch


def _sig(inputs, outputs) -> GraphSignature:
    make = lambda items: [TensorSignature(name=n, elem_type=t, rank=r) for n, t, r in items]  # noqa: E731
    return GraphSignature(inputs=make(inputs), outputs=make(outputs))


BASE = _sig([("x", "double", 2), ("band", "string", 2)], [("label", "int64", 1), ("proba", "double", 2)])


def test_reads_names_types_and_ranks(tiny_onnx):
    sig = read_signature(tiny_onnx)
    assert [(i.name, i.elem_type, i.rank, i.shape) for i in sig.inputs] == [("input", "float", 2, ["batch", 8])]
    assert [(o.name, o.elem_type, o.rank) for o in sig.outputs] == [("logits", "float", 2)]


def test_same_signature_matches_and_shapes_do_not_count():
    other = BASE.model_copy(update={"inputs": [BASE.inputs[0].model_copy(update={"shape": [None, 1]}), BASE.inputs[1]]})
    assert signature_mismatch(BASE, other) is None


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        (
            _sig([("x", "float", 2), ("band", "string", 2)], [("label", "int64", 1), ("proba", "double", 2)]),
            "input 'x': double rank 2 became float rank 2",
        ),
        (
            _sig([("x", "double", 1), ("band", "string", 2)], [("label", "int64", 1), ("proba", "double", 2)]),
            "input 'x': double rank 2 became double rank 1",
        ),
        (_sig([("x", "double", 2)], [("label", "int64", 1), ("proba", "double", 2)]), "inputs: missing ['band']"),
        (
            _sig([("x", "double", 2), ("band", "string", 2)], [("label", "int64", 1), ("probs", "double", 2)]),
            "outputs: missing ['proba'], unexpected ['probs']",
        ),
    ],
)
def test_mismatch_names_what_changed(changed, message):
    assert signature_mismatch(BASE, changed).startswith(message)
