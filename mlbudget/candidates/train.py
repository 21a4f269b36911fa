"""Retrain with the budget's trainer (any model). Registry name: ``train``.

The trainer (:mod:`mlbudget.trainers`) is declared in the generator's settings. It gets the
training rows as Parquet (the parent's reference rows and the window's fresh labelled rows,
feature columns and label), the parent's model.onnx and bundle, and an output directory where
it must write ``model.onnx``. The new model keeps the parent's contract and must keep its
signature (the cycle checks). The trainer's log (``train.log``) is kept in the candidate's
bundle; when training fails the generator failure is recorded with the log's path and last
line, and the cycle goes on.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        train:
          trainer:
            name: command
            argv: [python, train.py, --data, "{data}", --parent, "{parent}", --out, "{output_dir}"]
            timeout_s: 1800
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.errors import ConfigError
from mlbudget.models.bundle import CONTRACT_FILE, FEATURES_FILE, ModelBundle


class TrainConfig(GeneratorConfig):
    trainer: dict[str, Any] | None = None
    """The trainer: ``{name: command | demo_mlp | sklearn_pipeline | a plug-in's, **its settings}``."""
    fresh_weight: int = Field(1, ge=1)
    """Each fresh labelled row appears this many times in the training rows."""

    @field_validator("trainer")
    @classmethod
    def _known_trainer(cls, trainer: dict[str, Any] | None) -> dict[str, Any] | None:
        from mlbudget.trainers.base import trainer_problem

        if trainer is not None and (problem := trainer_problem(trainer)) is not None:
            raise ValueError(problem)
        return trainer


class TrainGenerator(CandidateGenerator):
    """A new FP32 model from the budget's trainer."""

    name: ClassVar[str] = "train"
    search_cost: ClassVar[int] = 70  # the user's full training run
    learns_from_fresh_data: ClassVar[bool] = True
    config_model: ClassVar[type[GeneratorConfig]] = TrainConfig
    makes_fp32: ClassVar[bool] = True

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        if isinstance(config, TrainConfig) and config.trainer is None:
            return (
                "train needs a trainer declared in the budget (candidates.generators.train.trainer); it declares none"
            )
        if not (parent.root / CONTRACT_FILE).is_file() and not (parent.root / FEATURES_FILE).is_file():
            return "train needs the model's contract (contract.json) or feature spec (features.json)"
        return None

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Write the training rows, run the trainer, bundle its model as ``out_dir/train@<parent>``.

        Raises:
            ConfigError: the budget declares no trainer.
            TrainingError: the trainer failed, timed out or wrote no model.onnx.
            InputError: no reference rows, or a data file is unreadable.
        """
        import pandas as pd

        from mlbudget.candidates.retrain import reference_rows
        from mlbudget.models import package
        from mlbudget.trainers.base import LOG_FILE, TrainingJob, build_trainer

        config: TrainConfig = self.config  # type: ignore[assignment]
        if config.trainer is None:
            raise ConfigError("train: no trainer declared (set candidates.generators.train.trainer in the budget)")
        source = ModelBundle(parent.bundle_dir)
        contract = source.contract()
        keep = [*contract.columns, contract.label]
        frames = [reference_rows(parent, data, self.name)]
        if data.fresh_labelled_path:
            fresh = package.read_rows(data.fresh_labelled_path, f"{self.name}: fresh labelled rows")
            frames += [fresh] * config.fresh_weight
        rows = pd.concat([f[[c for c in keep if c in f.columns]] for f in frames], ignore_index=True)
        rows = rows[rows[contract.label].notna()].reset_index(drop=True)
        name = package.candidate_name(self.name, parent)
        work = Path(out_dir) / f"{name}.work"
        output = work / "output"
        if work.exists():
            shutil.rmtree(work)
        output.mkdir(parents=True)
        rows.to_parquet(work / "train.parquet", index=False)
        job = TrainingJob(
            data_path=str(work / "train.parquet"),
            parent_model=str(source.onnx_path),
            parent_dir=str(source.root),
            output_dir=str(output),
            label=contract.label,
            task=contract.task,
            seed=data.seed,
        )
        model = build_trainer(config.trainer).run(job)
        lineage = package.child_lineage(parent, self.name, config, data) | {"seed": data.seed}
        lineage["config"] |= {"training_rows": len(rows)}
        candidate = package.write_child_bundle(
            Path(out_dir) / name, name=name, source=source, onnx_src=model, lineage=lineage, fp32=True
        )
        bundle = Path(candidate.bundle_dir)
        # The parent's PyTorch program is not this model's: keep the trainer's, if it wrote one.
        (bundle / "torch.pt").unlink(missing_ok=True)
        for extra in ("torch.pt", LOG_FILE):
            if (output / extra).is_file():
                shutil.copyfile(output / extra, bundle / extra)
        return [candidate]
