"""ONNX Runtime dynamic INT8 quantization. Registry name: ``ort_dynamic_int8``.

Weights are stored as INT8; activations are quantized on the fly per batch
(MatMulInteger). ONNX Runtime's dynamic path does not quantize ``Gemm``, so
constant-weight Gemm nodes are first rewritten as MatMul + Add.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        ort_dynamic_int8:
          weight_type: QInt8
          per_channel: true
          reduce_range: null   # auto: true on CPUs without VNNI
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.errors import MlbudgetError
from mlbudget.models.bundle import ModelBundle


class OrtDynamicInt8Config(GeneratorConfig):
    weight_type: Literal["QInt8", "QUInt8"] = "QInt8"
    """Weight integer type."""
    per_channel: bool = False
    """One scale per output channel instead of per tensor."""
    reduce_range: bool | None = None
    """7-bit weights (avoids U8S8 saturation on CPUs without VNNI); null: decide from the CPU flags."""
    op_types: list[str] | None = None
    """Operator types to quantize (default: every type ONNX Runtime supports)."""


def cpu_has_vnni(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU flags list AVX-512 VNNI or AVX-VNNI (false when they cannot be read)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def resolve_reduce_range(reduce_range: bool | None) -> bool:
    """The configured value, or True on CPUs without VNNI (see docs/measuring.md)."""
    return (not cpu_has_vnni()) if reduce_range is None else reduce_range


class OrtDynamicInt8Generator(CandidateGenerator):
    """INT8 weights, dynamically quantized activations, with ONNX Runtime's ``quantize_dynamic``."""

    name = "ort_dynamic_int8"
    search_cost = 10  # seconds, no data: the cheapest likely winner
    config_model = OrtDynamicInt8Config

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        from mlbudget.models.graph import not_quantizable_reason

        return not_quantizable_reason(parent.onnx_path)

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Quantize the parent's model.onnx into ``out_dir/<candidate name>``.

        Raises:
            ModelFileError: the parent bundle is missing or unreadable.
            MlbudgetError: ONNX Runtime failed to quantize.
        """
        from onnxruntime.quantization import QuantType, quantize_dynamic

        from mlbudget.models import package

        source = ModelBundle(parent.bundle_dir)
        source.check()
        config = self.config.model_copy(update={"reduce_range": resolve_reduce_range(self.config.reduce_range)})
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            prepared = gemm_to_matmul(source.onnx_path, Path(tmp) / "matmul.onnx")
            quantized = Path(tmp) / "model.onnx"
            try:
                quantize_dynamic(
                    prepared,
                    quantized,
                    weight_type=QuantType[config.weight_type],
                    per_channel=config.per_channel,
                    reduce_range=config.reduce_range,
                    op_types_to_quantize=config.op_types,
                )
            except Exception as exc:  # ORT raises plain Exceptions and ValueErrors
                raise MlbudgetError(f"{self.name}: quantize_dynamic failed on {source.onnx_path} ({exc})") from exc
            return [
                package.write_child_bundle(
                    Path(out_dir) / name,
                    name=name,
                    source=source,
                    onnx_src=quantized,
                    fp32=False,
                    lineage=package.child_lineage(parent, self.name, config, data),
                )
            ]


def gemm_to_matmul(src: Path, dest: Path) -> Path:
    """Rewrite ``Gemm(A, W, C)`` with constant W, alpha = beta = 1 and no transA as MatMul + Add.

    Other Gemm nodes are left as they are.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)
        if node.op_type != "Gemm" or not plain or node.input[1] not in inits:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if attrs.get("transB", 0):
            weight = weight.T.copy()
        wname = f"{node.input[1]}_matmul"
        model.graph.initializer.append(numpy_helper.from_array(weight, wname))
        out = node.output[0]
        mm_out = f"{out}_matmul" if len(node.input) > 2 and node.input[2] else out
        base = node.name or out
        nodes.append(helper.make_node("MatMul", [node.input[0], wname], [mm_out], name=f"{base}_MatMul"))
        if mm_out != out:
            nodes.append(helper.make_node("Add", [mm_out, node.input[2]], [out], name=f"{base}_Add"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for n in model.graph.node for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    onnx.save(model, str(dest))
    return dest
