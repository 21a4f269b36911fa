"""Leave out of a plan the generators that cannot apply to the champion, each with why.

A generator declares what it needs (:meth:`CandidateGenerator.not_applicable`): a
PyTorch program and a trainer (retrain, distill, INC), float32 MatMul/Gemm/Conv
(ONNX Runtime INT8). A model without it is not tried: the plan says why instead of a
late failure. INT8 planned for a float64 graph that has MatMul/Gemm/Conv brings in
the ``float32`` variant first; the INT8 generators then quantize that variant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.policy.plan import PlannedAction

INT8_KINDS = ("ort_dynamic_int8", "ort_static_int8")
"""ONNX Runtime INT8 generators: they quantize a float64 graph through its float32 variant."""
FLOAT32 = "float32"


def leave_out_inapplicable(
    actions: dict[str, PlannedAction], champion: ModelBundle, budget: Budget | None = None
) -> list[PlannedAction]:
    """Drop from ``actions`` (in place) the kinds that cannot apply to the champion (with the budget's
    settings of each generator, ``candidates.generators``, when ``budget`` is given: ``train`` without a
    declared trainer cannot apply).

    Returns:
        The dropped actions, their ``reason`` replaced by why they cannot apply.
    """
    from mlbudget.candidates import CandidateGenerator
    from mlbudget.candidates.base import inapplicable
    from mlbudget.models.graph import graph_facts

    facts = graph_facts(champion.onnx_path)
    skipped = []
    for kind, action in list(actions.items()):
        if kind in INT8_KINDS and facts.quantizable and facts.float64:
            if FLOAT32 not in actions:
                reason = f"{kind} on a float64 graph: its float32 variant is made first, then quantized"
                actions[FLOAT32] = action.model_copy(update={"kind": FLOAT32, "reason": reason})
            continue
        config = budget.candidates.generators.get(kind, {}) if budget is not None else None
        why = inapplicable(CandidateGenerator.lookup(kind), champion, config)
        if why is not None:
            skipped.append(action.model_copy(update={"reason": why}))
            del actions[kind]
    return skipped
