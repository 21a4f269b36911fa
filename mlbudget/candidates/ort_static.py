"""ONNX Runtime static INT8 quantization (QDQ format). Registry name: ``ort_static_int8``.

Activation ranges are calibrated on production rows (``data.calibration_path``,
fed through the model's input adapter: the demo's FeatureSpec encoding, one input
per column, or 2-D matrices). QDQ around ``Gemm`` fuses into QGemm in
ONNX Runtime, which is why the demo model is exported with Gemm nodes.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        ort_static_int8:
          calibrate_method: minmax     # minmax | entropy | percentile
          per_channel: true
          max_calibration_rows: 2000
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.candidates.ort_dynamic import resolve_reduce_range
from mlbudget.errors import MlbudgetError, ModelFileError
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


log = logging.getLogger(__name__)


class OrtStaticInt8Config(GeneratorConfig):
    calibrate_method: Literal["minmax", "entropy", "percentile"] = "minmax"
    """How activation ranges are chosen from the calibration rows."""
    per_channel: bool = True
    """One weight scale per output channel."""
    activation_type: Literal["QUInt8", "QInt8"] = "QUInt8"
    """Activation integer type."""
    weight_type: Literal["QInt8", "QUInt8"] = "QInt8"
    """Weight integer type."""
    reduce_range: bool | None = None
    """7-bit weights (avoids U8S8 saturation on CPUs without VNNI); null: decide from the CPU flags."""
    op_types: list[str] | None = None
    """Operator types to quantize (default: every type ONNX Runtime supports)."""
    max_calibration_rows: int = Field(2000, ge=1)
    """Calibrate on at most this many rows (a seeded sample)."""
    batch_size: int = Field(256, ge=1)
    """Rows per calibration batch (rows beyond the last full batch are not used)."""
    pre_process: bool = True
    """Run ONNX Runtime's quant_pre_process (shape inference, graph optimisation) first."""


class OrtStaticInt8Generator(CandidateGenerator):
    """INT8 weights and activations, QDQ format, with ONNX Runtime's ``quantize_static``."""

    name = "ort_static_int8"
    search_cost = 20  # a calibration pass
    config_model = OrtStaticInt8Config

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        from mlbudget.models.graph import not_quantizable_reason

        return not_quantizable_reason(parent.onnx_path)

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Calibrate on ``data.calibration_path`` and quantize the parent into ``out_dir/<candidate name>``.

        Raises:
            ModelFileError: the parent bundle is unreadable, or there are no calibration rows.
            MlbudgetError: ONNX Runtime failed to quantize.
        """
        from mlbudget.models import package

        source = ModelBundle(parent.bundle_dir)
        source.check()
        config = self.config.model_copy(update={"reduce_range": resolve_reduce_range(self.config.reduce_range)})
        frame = calibration_rows(data, config.max_calibration_rows, self.name)
        adapter = source.contract().build_adapter(source.root)
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            prepared = self._pre_process(source.onnx_path, Path(tmp) / "prepared.onnx")
            quantized = Path(tmp) / "model.onnx"
            try:
                self._quantize(prepared, quantized, adapter, frame, config)
            except MlbudgetError as exc:
                if prepared == source.onnx_path:
                    raise
                # ORT's QDQ bias-scale check can fail on some pre-processed graphs (seen on skl2onnx
                # linear models): the graph as exported is then quantized instead.
                log.warning(
                    "%s: quantizing the pre-processed graph failed (%s); quantizing it as exported", self.name, exc
                )
                self._quantize(source.onnx_path, quantized, adapter, frame, config)
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

    def _pre_process(self, src: Path, dest: Path) -> Path:
        if not self.config.pre_process:
            return src
        from onnxruntime.quantization.shape_inference import quant_pre_process

        try:
            quant_pre_process(str(src), str(dest), skip_symbolic_shape=True)
        except Exception as exc:  # noqa: BLE001  (pre-processing is an optimisation: quantize the original)
            log.warning("%s: quant_pre_process failed on %s, quantizing it as is (%s)", self.name, src, exc)
            return src
        return dest

    def _quantize(
        self, src: Path, dest: Path, adapter, rows: pd.DataFrame, config: OrtStaticInt8Config, **nodes: Any
    ) -> None:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        method = {
            "minmax": CalibrationMethod.MinMax,
            "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile,
        }[config.calibrate_method]
        reader = _reader(adapter, rows, config.batch_size)
        try:
            quantize_static(
                str(src),
                str(dest),
                reader,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=config.op_types,
                per_channel=config.per_channel,
                reduce_range=config.reduce_range,
                activation_type=QuantType[config.activation_type],
                weight_type=QuantType[config.weight_type],
                calibrate_method=method,
                **nodes,  # nodes_to_exclude / nodes_to_quantize, for the accuracy-aware variant
            )
        except Exception as exc:  # ORT raises plain Exceptions and ValueErrors
            raise MlbudgetError(f"{self.name}: quantize_static failed on {src} ({exc})") from exc


def calibration_rows(data: GenerationData, max_rows: int, generator: str) -> pd.DataFrame:
    """Raw calibration rows: a seeded sample of at most ``max_rows`` from ``data.calibration_path``.

    Raises:
        ModelFileError: no calibration file, or it has no rows.
    """
    from mlbudget.errors import InputError
    from mlbudget.models.package import read_rows

    if not data.calibration_path:
        raise ModelFileError(f"{generator} needs calibration rows (data.calibration_path) and none were given")
    try:
        frame = read_rows(data.calibration_path, "calibration rows")
    except InputError as exc:
        raise ModelFileError(f"{generator}: {exc}") from exc
    if frame.empty:
        raise ModelFileError(f"{data.calibration_path}: no calibration rows for {generator}")
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=data.seed)
    return frame.reset_index(drop=True)


def calibration_matrix(data: GenerationData, spec, max_rows: int, generator: str) -> np.ndarray:
    """Calibration rows encoded with a FeatureSpec (the demo's encoding)."""
    return spec.transform(calibration_rows(data, max_rows, generator))


def _reader(adapter, rows: pd.DataFrame, batch_size: int):
    """Calibration batches: raw rows fed through the model's input adapter."""
    from onnxruntime.quantization import CalibrationDataReader

    # Equal batches only: ORT's histogram collector (entropy, percentile) stacks the
    # batches with np.asarray and fails on a shorter last batch.
    batch_size = min(batch_size, len(rows))
    rows = rows.iloc[: len(rows) - len(rows) % batch_size]
    batches = [adapter.feeds(rows.iloc[start : start + batch_size]) for start in range(0, len(rows), batch_size)]

    class _Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

        def rewind(self) -> None:
            self._it = iter(batches)

    return _Batches()
