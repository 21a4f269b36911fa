"""Candidate generators: plug-ins that turn a parent model into ONNX candidates.

Every generator subclasses :class:`CandidateGenerator`, sets ``name`` (its
registry name, used in budget policy rules) and ``config_model`` (a pydantic
model of what a user may write in YAML), and implements :meth:`generate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mlbudget.budget.docstrings import attribute_docstrings_schema
from mlbudget.budget.model import Budget
from mlbudget.models.bundle import Lineage, ModelBundle
from mlbudget.plugin import Plugin


class Candidate(BaseModel):
    """One model that competes in a cycle (the champion is one too)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    """Unique within the cycle, e.g. ``champion``, ``retrain``, ``ort_static_int8@retrain``."""
    bundle_dir: str
    """Directory holding the model bundle (see mlbudget.models.bundle)."""
    generator: str
    """Registry name of the generator, or ``champion``."""
    sha256: str
    """Content hash of model.onnx."""
    size_mb: float
    lineage: Lineage
    is_champion: bool = False
    fp32: bool = True
    """True when the graph is full precision (it can then be compressed further)."""


class GenerationData(BaseModel):
    """Data a generator may use; all paths are Parquet files of raw rows (features, label)."""

    model_config = ConfigDict(extra="forbid")
    reference_path: str | None = None
    """Rows the champion was trained on (features + label)."""
    fresh_labelled_path: str | None = None
    """Labelled rows from the production window set aside for training."""
    calibration_path: str | None = None
    """Unlabelled production rows for static quantization calibration."""
    holdout_path: str | None = None
    """Labelled rows for accuracy checks (never used for training)."""
    data_window: str | None = None
    """ISO interval of the production window."""
    seed: int = 0


class GeneratorConfig(BaseModel):
    """Base of generator configs: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=attribute_docstrings_schema)


class CandidateGenerator(Plugin, ABC):
    """Turns a parent candidate into zero or more new candidates."""

    plugin_kind: ClassVar[str] = "candidate generator"
    config_model: ClassVar[type[GeneratorConfig]] = GeneratorConfig
    needs_fp32_parent: ClassVar[bool] = True
    """Compressors need a full-precision parent; retraining starts from the FP32 ancestor anyway."""
    makes_fp32: ClassVar[bool] = False
    """True when outputs are FP32 models that compressors may take as parents (retrain, distill)."""

    search_cost: ClassVar[int] = 50
    """Rank in a time-boxed search (lower runs first): cheap, likely winners (ONNX Runtime dynamic INT8)
    before costly ones (distillation, retraining); see :mod:`mlbudget.cycle.search`."""
    learns_from_fresh_data: ClassVar[bool] = False
    """True when it fits a model to the window's labelled rows (retraining): the only kind that can mend quality
    that broke the budget, so a search then runs it first."""

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        """Why this generator cannot apply to ``parent`` (the plan then leaves it out with this reason), or None.

        Generators declare what they need (a PyTorch program, a trainer, float32 MatMul/Gemm/Conv)
        here, so that a model without it is never tried and failed late. ``config`` is the generator's
        settings from the budget (None when unknown), e.g. to see whether the budget declares a trainer.
        """
        return None

    def __init__(self, config: GeneratorConfig | dict[str, Any] | None = None):
        if config is None or isinstance(config, dict):
            config = self.config_model.model_validate(config or {})
        self.config = config

    @abstractmethod
    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Write new bundles under ``out_dir`` and return them as candidates.

        Raises:
            ModelFileError: the parent bundle lacks what this generator needs.
            MlbudgetError: the generation failed for a reason worth reporting.
        """


def inapplicable(
    generator: type[CandidateGenerator], parent: ModelBundle, config: GeneratorConfig | dict[str, Any] | None
) -> str | None:
    """``generator.not_applicable(parent, config)`` with ``config`` validated against the generator's config
    model; a plug-in whose ``not_applicable`` takes the parent only is asked about the parent only."""
    import inspect

    if isinstance(config, dict):
        config = generator.config_model.model_validate(config)
    if "config" in inspect.signature(generator.not_applicable).parameters:
        return generator.not_applicable(parent, config=config)
    return generator.not_applicable(parent)


def parent_below_bound(generator: str, rule, parent_quality: float) -> str | None:
    """Why compressing a parent is pointless: its quality already breaks the budget's floor (or ceiling), so no
    compressed model of it can fit; None when it does not. ``rule`` is the budget's ``limits.accuracy``."""
    if not rule.breaks_bound(parent_quality):
        return None
    side = "minimum" if rule.higher_is_better else "maximum"
    return (
        f"{generator}: the parent's {rule.metric} {parent_quality:.4g} already breaks the budget's {side} "
        f"{rule.bound:g} on the holdout; no compressed model of it can fit (a retrained parent may)"
    )
