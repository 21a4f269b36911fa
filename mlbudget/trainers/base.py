"""The ``Trainer`` plug-in kind: rows + a parent model -> ``model.onnx`` in an output directory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mlbudget.budget.docstrings import attribute_docstrings_schema
from mlbudget.errors import MlbudgetError
from mlbudget.plugin import Plugin

MODEL_FILE = "model.onnx"
LOG_FILE = "train.log"
"""The trainer's log, kept in the candidate's bundle (and beside the output when training fails)."""


class TrainingError(MlbudgetError):
    """The trainer failed (exit status, timeout, no model written): the generator records it, the cycle goes on."""


class TrainerConfig(BaseModel):
    """Base of trainer configs: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=attribute_docstrings_schema)


class TrainingJob(BaseModel):
    """What a trainer gets."""

    model_config = ConfigDict(extra="forbid")
    data_path: str
    """Parquet of training rows: the feature columns and the label."""
    parent_model: str
    """The parent's model.onnx."""
    parent_dir: str
    """The parent's bundle directory (contract.json or features.json, reference rows, torch.pt if any)."""
    output_dir: str
    """Where the trainer writes ``model.onnx`` (and anything else); it exists and is empty."""
    label: str
    """The label column."""
    task: str
    """``classification`` or ``regression``."""
    seed: int = 0


class Trainer(Plugin, ABC):
    """Trains a model; :meth:`train` must leave ``model.onnx`` in ``job.output_dir``."""

    plugin_kind: ClassVar[str] = "trainer"
    config_model: ClassVar[type[TrainerConfig]] = TrainerConfig

    def __init__(self, config: TrainerConfig | dict[str, Any] | None = None):
        if config is None or isinstance(config, dict):
            config = self.config_model.model_validate(config or {})
        self.config = config

    @abstractmethod
    def train(self, job: TrainingJob) -> None:
        """Write ``model.onnx`` (and optionally ``train.log``) under ``job.output_dir``.

        Raises:
            TrainingError: the training failed.
        """

    def run(self, job: TrainingJob) -> Path:
        """:meth:`train`, then check that it wrote a model.

        Raises:
            TrainingError: the training failed or wrote no model.onnx.
        """
        self.train(job)
        model = Path(job.output_dir) / MODEL_FILE
        if not model.is_file() or model.stat().st_size == 0:
            raise TrainingError(f"trainer {self.name}: wrote no {MODEL_FILE} in {job.output_dir}{_log_hint(job)}")
        return model


def _log_hint(job: TrainingJob) -> str:
    log = Path(job.output_dir) / LOG_FILE
    if not log.is_file():
        return ""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return f" (log {log}" + (f"; last line: {lines[-1][:200]}" if lines else "; empty") + ")"


def trainer_problem(spec: object) -> str | None:
    """Why ``spec`` (``{name: ..., **config}``) is not a valid trainer declaration (one line), or None."""
    from pydantic import ValidationError

    from mlbudget.budget.loader import pydantic_problems

    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return "a trainer is a mapping with a `name` (command, demo_mlp, sklearn_pipeline, or a plug-in's)"
    import mlbudget.trainers  # noqa: F401 - registers the built-ins

    known = Trainer.registered()
    if spec["name"] not in known:
        return f"unknown trainer {spec['name']!r} (known: {', '.join(sorted(known))})"
    model = known[spec["name"]].config_model
    try:
        model.model_validate({k: v for k, v in spec.items() if k != "name"})
    except ValidationError as exc:
        return f"trainer {spec['name']}: " + "; ".join(pydantic_problems(exc, model))
    return None


def build_trainer(spec: dict[str, Any]) -> Trainer:
    """The trainer a declaration names, with its config.

    Raises:
        UnknownPluginError: no trainer has that name.
    """
    import mlbudget.trainers  # noqa: F401 - registers the built-ins

    return Trainer.lookup(spec["name"])({k: v for k, v in spec.items() if k != "name"})
