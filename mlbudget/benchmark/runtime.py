"""Runtimes that execute a model for benchmarking.

Registry name of the built-in runtime: ``onnxruntime``. A runtime is built
from a model path and the budget's hardware profile, e.g.::

    hardware:
      provider: CPUExecutionProvider
      intra_op_threads: 1
      inter_op_threads: 1
      graph_optimization: all

Building the runtime is the cold start (session creation); :meth:`Runtime.run`
is the only thing the load generator times.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlbudget.budget.model import HardwareProfile
from mlbudget.errors import DependencyError, InputError, ModelFileError
from mlbudget.plugin import Plugin

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


@dataclass(frozen=True)
class InputInfo:
    """One model input: its name, shape (None or a name for dynamic axes) and numpy dtype."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str


class Runtime(Plugin, ABC):
    """Executes one model on one hardware profile. Construction loads the model."""

    plugin_kind: ClassVar[str] = "runtime"

    def __init__(self, model_path: str | Path, hardware: HardwareProfile | None = None):
        self.model_path = Path(model_path)
        self.hardware = hardware or HardwareProfile()

    @classmethod
    def preload(cls) -> None:
        """Import the backend, so that timing the constructor measures model loading only."""

    @property
    @abstractmethod
    def inputs(self) -> list[InputInfo]:
        """The model's inputs."""

    @abstractmethod
    def run(self, feeds: dict[str, Any]) -> list[Any]:
        """Run one inference call and return the outputs."""

    def make_inputs(
        self,
        batch_size: int = 1,
        seed: int = 0,
        *,
        features: FeatureSpec | None = None,
        rows: pd.DataFrame | None = None,
    ) -> dict[str, np.ndarray]:
        """Inputs for one call of ``batch_size`` rows.

        Args:
            batch_size: rows per call (fills the first dynamic axis).
            seed: seed of the random generator.
            features: with ``rows``, encode real rows through this spec instead of random data.
            rows: raw feature rows; ``batch_size`` of them are drawn with replacement.

        Returns:
            A feed dict for :meth:`run`.

        Raises:
            InputError: ``rows`` is empty.
        """
        import numpy as np

        rng = np.random.default_rng(seed)
        if features is not None and rows is not None:
            if len(rows) == 0:
                raise InputError("cannot build benchmark inputs from an empty frame")
            picked = rows.iloc[rng.integers(0, len(rows), size=batch_size)]
            return {features.input_name: features.transform(picked)}
        return {i.name: _random_tensor(rng, i, batch_size) for i in self.inputs}


def _random_tensor(rng: np.random.Generator, info: InputInfo, batch_size: int) -> np.ndarray:
    """Random data of the input's type; the first dynamic axis is the batch, other dynamic axes 1."""
    shape = [
        (batch_size if axis == 0 else 1) if not isinstance(d, int) or d < 0 else d for axis, d in enumerate(info.shape)
    ]
    if info.dtype.startswith("float"):
        return rng.standard_normal(shape).astype(info.dtype)
    if info.dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.integers(0, 10, size=shape).astype(info.dtype)


class OrtRuntime(Runtime):
    """ONNX Runtime with one execution provider (plus CPU fallback for unsupported nodes)."""

    name: ClassVar[str] = "onnxruntime"

    @classmethod
    def preload(cls) -> None:
        import onnxruntime  # noqa: F401

    def __init__(self, model_path: str | Path, hardware: HardwareProfile | None = None):
        """Create the inference session.

        Raises:
            ModelFileError: the model is missing or ONNX Runtime cannot load it.
            DependencyError: the provider is not available in this ONNX Runtime build.
        """
        import onnxruntime as ort

        super().__init__(model_path, hardware)
        if not self.model_path.is_file():
            raise ModelFileError(f"{self.model_path}: no such file (expected an ONNX model)")
        providers = _provider_list(self.hardware.provider, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(
                str(self.model_path), sess_options=self._session_options(), providers=providers
            )
        except Exception as exc:  # ORT raises Fail, InvalidGraph, InvalidProtobuf ...
            raise ModelFileError(f"{self.model_path}: ONNX Runtime cannot load it ({exc})") from exc
        active = self.session.get_providers()
        if self.hardware.provider not in active:
            raise DependencyError(
                f"{self.hardware.provider} requested but the session runs on {', '.join(active)} "
                "(the provider failed to initialise; check its libraries)"
            )
        self._inputs = [
            InputInfo(i.name, tuple(i.shape), _ORT_DTYPES.get(i.type, "float32")) for i in self.session.get_inputs()
        ]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _session_options(self):
        import onnxruntime as ort

        levels = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.hardware.intra_op_threads
        so.inter_op_num_threads = self.hardware.inter_op_threads
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = levels[self.hardware.graph_optimization]
        so.log_severity_level = 3  # errors only: warnings would clutter the worker's stderr tail
        return so

    @property
    def inputs(self) -> list[InputInfo]:
        return list(self._inputs)

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        return self.session.run(None, feeds)


def _provider_list(provider: str, available: list[str]) -> list[str]:
    """``[provider, CPUExecutionProvider]`` or a DependencyError naming what is available."""
    if provider not in available:
        raise DependencyError(
            f"execution provider {provider!r} is not available in this onnxruntime build; "
            f"available: {', '.join(available)}"
        )
    cpu = "CPUExecutionProvider"
    return [provider] if provider == cpu or cpu not in available else [provider, cpu]
