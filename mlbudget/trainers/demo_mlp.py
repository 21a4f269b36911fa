"""Registry name ``demo_mlp``: mlbudget's own MLP (bundles with ``features.json`` and ``torch.pt``).

The parent's architecture and feature encoding are kept; training starts from its weights unless
``warm_start`` is false. Writes ``model.onnx`` and the new ``torch.pt``::

    candidates:
      generators:
        train:
          trainer: {name: demo_mlp, epochs: 3}
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mlbudget.trainers.base import Trainer, TrainerConfig, TrainingError, TrainingJob


class DemoMlpConfig(TrainerConfig):
    epochs: int = Field(3, ge=1)
    """Passes over the training rows."""
    warm_start: bool = True
    """Start from the parent's weights."""
    lr: float = Field(5e-4, gt=0)
    """Adam learning rate."""
    batch_size: int = Field(256, ge=1)
    """Rows per step."""


class DemoMlpTrainer(Trainer):
    """Trains the parent's MLP architecture on the job's rows."""

    name: ClassVar[str] = "demo_mlp"
    config_model: ClassVar[type[TrainerConfig]] = DemoMlpConfig

    def train(self, job: TrainingJob) -> None:
        import pandas as pd

        from mlbudget.models.bundle import ModelBundle
        from mlbudget.models.mlp import load_checkpoint, save_checkpoint
        from mlbudget.models.train import export_onnx, train_mlp

        config: DemoMlpConfig = self.config  # type: ignore[assignment]
        parent = ModelBundle(job.parent_dir)
        if parent.torch_path is None or not parent.has_feature_spec:
            raise TrainingError("trainer demo_mlp needs the parent's torch.pt and features.json (mlbudget's own MLP)")
        arch, module = load_checkpoint(parent.torch_path)
        spec = parent.features()
        trained = train_mlp(
            pd.read_parquet(job.data_path),
            spec,
            arch,
            epochs=config.epochs,
            seed=job.seed,
            lr=config.lr,
            batch_size=config.batch_size,
            init_module=module if config.warm_start else None,
        )
        out = Path(job.output_dir)
        export_onnx(trained, spec, out / "model.onnx")
        save_checkpoint(out / "torch.pt", arch, trained)
