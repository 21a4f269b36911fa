"""Distil the parent into a smaller MLP. Registry name: ``distill``.

The teacher is the parent's FP32 checkpoint (torch.pt). The student learns the
teacher's temperature-softened probabilities over reference, calibration and
fresh rows, plus the hard labels where rows have them.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        distill:
          hidden: [256, 128]
          temperature: 2.0
          epochs: 5
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.applicability import needs_torch_program
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.candidates.retrain import reference_rows
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec


class DistillConfig(GeneratorConfig):
    hidden: list[int] = Field(default_factory=lambda: [256, 128], min_length=1)
    """Student hidden layer widths."""
    temperature: float = Field(2.0, gt=0)
    """Softening temperature for teacher and student logits."""
    soft_weight: float = Field(0.7, ge=0, le=1)
    """Share of the soft-target loss on rows that also have labels."""
    epochs: int = Field(5, ge=1)
    """Training passes."""
    lr: float = Field(2e-3, gt=0)
    """Adam learning rate."""
    batch_size: int = Field(256, ge=1)
    """Rows per step."""
    seed: int | None = None
    """Training seed (default: the generation data's seed)."""
    use_calibration_rows: bool = True
    """Also learn the teacher on unlabelled calibration rows (production inputs)."""
    use_fresh_rows: bool = True
    """Also train on fresh labelled rows when given."""


class DistillGenerator(CandidateGenerator):
    """A smaller FP32 student trained on the parent's soft targets."""

    name = "distill"
    search_cost = 60  # trains a student
    config_model = DistillConfig
    makes_fp32 = True

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        return needs_torch_program(parent, cls.name)

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Train the student and write ``out_dir/distill@<parent>``.

        Raises:
            ModelFileError: the parent has no torch.pt.
            InputError: no reference rows, or a data file is unreadable.
        """
        from mlbudget.models import package
        from mlbudget.models.mlp import MlpArch, load_checkpoint
        from mlbudget.models.train import train_mlp

        config: DistillConfig = self.config  # type: ignore[assignment]
        seed = data.seed if config.seed is None else config.seed
        _, teacher = load_checkpoint(package.require_torch(parent, self.name))
        source = ModelBundle(parent.bundle_dir)
        spec = source.features()
        reference = reference_rows(parent, data, self.name)
        rows = self._rows(reference, data, spec)
        soft = soft_targets(teacher, spec.transform(rows), config.temperature)
        arch = MlpArch(input_width=spec.input_width, hidden=config.hidden, classes=len(spec.classes))
        student = train_mlp(
            rows,
            spec,
            arch,
            epochs=config.epochs,
            seed=seed,
            soft_targets=soft,
            temperature=config.temperature,
            soft_weight=config.soft_weight,
            lr=config.lr,
            batch_size=config.batch_size,
        )
        name = package.candidate_name(self.name, parent)
        lineage = package.child_lineage(parent, self.name, config, data) | {"seed": seed}
        return [
            package.write_bundle(
                Path(out_dir) / name,
                name=name,
                spec=spec,
                module=student,
                arch=arch,
                reference=source.reference_path or reference,
                lineage=lineage,
            )
        ]

    def _rows(self, reference: pd.DataFrame, data: GenerationData, spec: FeatureSpec) -> pd.DataFrame:
        import pandas as pd

        from mlbudget.models.package import read_rows

        keep = [*spec.columns, spec.label]
        frames = [reference]
        if self.config.use_calibration_rows and data.calibration_path:
            frames.append(read_rows(data.calibration_path, f"{self.name}: calibration rows"))
        if self.config.use_fresh_rows and data.fresh_labelled_path:
            frames.append(read_rows(data.fresh_labelled_path, f"{self.name}: fresh labelled rows"))
        frames = [f[[c for c in keep if c in f.columns]] for f in frames]
        return pd.concat(frames, ignore_index=True)


def soft_targets(teacher, x: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of the teacher's logits divided by ``temperature``, for encoded rows ``x``."""
    import numpy as np

    from mlbudget.models.train import predict_logits

    logits = predict_logits(teacher, x) / temperature
    soft = np.exp(logits - logits.max(axis=1, keepdims=True))
    return soft / soft.sum(axis=1, keepdims=True)
