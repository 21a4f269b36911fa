"""A float32 variant of a float64 graph. Registry name: ``float32``.

scikit-learn pipelines converted with double inputs compute in float64, which
ONNX Runtime's INT8 paths cannot quantize. This generator rewrites the graph to
compute in float32 while keeping its signature: float64 inputs are cast to
float32 on entry and float64 outputs cast back on exit, so serving code does not
change. The variant is a candidate of its own (gated by the quality budget like
any other) and a full-precision parent that the INT8 generators then quantize.
The plan adds it by itself when INT8 is planned for a float64 graph.

YAML example (budget policy)::

    policy:
      rules:
        - when: [latency]
          actions: [float32, ort_dynamic_int8]
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.models.bundle import ModelBundle


class Float32VariantGenerator(CandidateGenerator):
    """float64 -> float32 inside the graph, float64 at its inputs and outputs."""

    name: ClassVar[str] = "float32"
    search_cost: ClassVar[int] = 0  # a cast: needed before INT8 on a float64 graph
    makes_fp32: ClassVar[bool] = True

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        from mlbudget.models.graph import graph_facts

        return None if graph_facts(parent.onnx_path).float64 else "the graph is float32 already"

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Write the float32 variant of the parent into ``out_dir/<candidate name>``.

        Raises:
            ModelFileError: the parent bundle is unreadable, or the rewritten graph does not load.
        """
        import tempfile

        from mlbudget.models import package

        source = ModelBundle(parent.bundle_dir)
        source.check()
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            variant = to_float32(source.onnx_path, Path(tmp) / "model.onnx")
            return [
                package.write_child_bundle(
                    Path(out_dir) / name,
                    name=name,
                    source=source,
                    onnx_src=variant,
                    fp32=True,
                    lineage=package.child_lineage(parent, self.name, self.config, data),
                )
            ]


def to_float32(src: Path, dest: Path) -> Path:
    """Rewrite a graph's float64 computation as float32, keeping float64 graph inputs and outputs.

    Initializers, Constant and ConstantOfShape values, Cast targets and value_info of type double
    become float; a Cast to float follows every double input and a Cast to double precedes every
    double output.

    Raises:
        ModelFileError: the result is not a valid model ONNX Runtime can load.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mlbudget.errors import ModelFileError

    double, single = TensorProto.DOUBLE, TensorProto.FLOAT
    model = onnx.load(str(src))
    graph = model.graph
    for i, init in enumerate(graph.initializer):
        if init.data_type == double:
            graph.initializer[i].CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name)
            )
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type in ("Cast", "CastLike") and attr.name == "to" and attr.i == double:
                attr.i = single
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == double:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float32), attr.t.name))
    for info in graph.value_info:
        if info.type.tensor_type.elem_type == double:
            info.type.tensor_type.elem_type = single
    head, tail = [], []
    for inp in graph.input:
        if inp.type.tensor_type.elem_type == double:
            inner = f"{inp.name}__f32"
            _rename_uses(graph, inp.name, inner)
            head.append(helper.make_node("Cast", [inp.name], [inner], to=single, name=f"{inp.name}__to_f32"))
    for out in graph.output:
        if out.type.tensor_type.elem_type == double:
            inner = f"{out.name}__f32"
            _rename_uses(graph, out.name, inner)
            for node in graph.node:
                node.output[:] = [inner if o == out.name else o for o in node.output]
            tail.append(helper.make_node("Cast", [inner], [out.name], to=double, name=f"{out.name}__to_f64"))
    nodes = [*head, *graph.node, *tail]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(dest))
    try:
        onnx.checker.check_model(str(dest))
        import onnxruntime as ort

        ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnx and ORT raise many types
        raise ModelFileError(f"float32 variant of {src} does not load ({type(exc).__name__}: {exc})") from exc
    return dest


def _rename_uses(graph, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
