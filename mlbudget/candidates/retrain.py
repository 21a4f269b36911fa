"""Retrain the parent on reference plus fresh labelled rows. Registry name: ``retrain``.

Fresh production rows are upsampled (``fresh_weight``) so that recent data
matters against a large reference set. Training warm-starts from the parent's
FP32 checkpoint (torch.pt) with the same architecture and feature encoding.
The new bundle's reference.parquet is the new training set (a sample when
large) and its torch.pt is its own checkpoint, so compressors can follow.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        retrain:
          epochs: 3
          warm_start: true
          fresh_weight: 3.0
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.applicability import needs_torch_program
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.errors import InputError
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import pandas as pd

    from mlbudget.models.features import FeatureSpec


class RetrainConfig(GeneratorConfig):
    epochs: int = Field(3, ge=1)
    """Passes over reference + upsampled fresh rows."""
    warm_start: bool = True
    """Start from the parent's weights (false: fresh initialisation)."""
    fresh_weight: float = Field(3.0, ge=0)
    """Each fresh row counts this many times (rows are repeated; a fraction is sampled)."""
    seed: int | None = None
    """Training seed (default: the generation data's seed)."""
    refit_features: bool = False
    """Refit the feature standardisation on the new training set (changes the input encoding)."""
    lr: float = Field(5e-4, gt=0)
    """Adam learning rate."""
    batch_size: int = Field(256, ge=1)
    """Rows per step."""
    max_reference_rows: int = Field(50_000, ge=1)
    """The new bundle keeps a seeded sample of at most this many training rows as its reference."""


class RetrainGenerator(CandidateGenerator):
    """A new FP32 model trained on reference and fresh labelled rows."""

    name = "retrain"
    search_cost = 70  # a full training run
    learns_from_fresh_data = True
    config_model = RetrainConfig
    makes_fp32 = True

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        return needs_torch_program(parent, cls.name)

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Train and write ``out_dir/retrain@<parent>``.

        Raises:
            ModelFileError: the parent has no torch.pt.
            InputError: no reference or no fresh labelled rows.
        """
        from mlbudget.models import package
        from mlbudget.models.mlp import load_checkpoint
        from mlbudget.models.train import train_mlp

        config: RetrainConfig = self.config  # type: ignore[assignment]
        seed = data.seed if config.seed is None else config.seed
        arch, module = load_checkpoint(package.require_torch(parent, self.name))
        source = ModelBundle(parent.bundle_dir)
        spec = source.features()
        reference = _keep(reference_rows(parent, data, self.name), spec)
        fresh = fresh_labelled_rows(data, spec, self.name)
        if config.refit_features:
            spec = _refit(spec, reference, fresh)
        train = _concat(reference, upsample(fresh, config.fresh_weight, seed))
        trained = train_mlp(
            train,
            spec,
            arch,
            epochs=config.epochs,
            seed=seed,
            lr=config.lr,
            init_module=module if config.warm_start else None,
            batch_size=config.batch_size,
        )
        name = package.candidate_name(self.name, parent)
        lineage = package.child_lineage(parent, self.name, config, data) | {"seed": seed}
        return [
            package.write_bundle(
                Path(out_dir) / name,
                name=name,
                spec=spec,
                module=trained,
                arch=arch,
                reference=_concat(reference, fresh),
                max_reference_rows=config.max_reference_rows,
                lineage=lineage,
            )
        ]


def reference_rows(parent: Candidate, data: GenerationData, generator: str) -> pd.DataFrame:
    """``data.reference_path`` or, failing that, the parent bundle's reference.parquet.

    Raises:
        InputError: neither exists.
    """
    from mlbudget.models.package import read_rows

    path = data.reference_path or ModelBundle(parent.bundle_dir).reference_path
    if path is None:
        raise InputError(
            f"{generator} needs reference rows: data.reference_path is unset and parent "
            f"{parent.name!r} has no reference.parquet"
        )
    return read_rows(path, f"{generator}: reference rows")


def fresh_labelled_rows(data: GenerationData, spec: FeatureSpec, generator: str) -> pd.DataFrame:
    """Feature and label columns of ``data.fresh_labelled_path``.

    Raises:
        InputError: no file, or no labelled row in it.
    """
    from mlbudget.models.package import read_rows

    fresh = _keep(read_rows(data.fresh_labelled_path, f"{generator}: fresh labelled rows"), spec)
    if spec.label not in fresh.columns or fresh[spec.label].notna().sum() == 0:
        raise InputError(f"{data.fresh_labelled_path}: {generator} needs labelled fresh rows (column {spec.label!r})")
    return fresh


def upsample(frame: pd.DataFrame, weight: float, seed: int) -> pd.DataFrame:
    """``frame`` repeated ``int(weight)`` times plus a seeded sample of the fractional part."""
    whole, part = int(weight), weight - int(weight)
    pieces = [frame] * whole
    if part > 0:
        pieces.append(frame.sample(frac=part, random_state=seed))
    return _concat(*pieces) if pieces else frame.iloc[:0]


def _keep(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    return frame[[c for c in [*spec.columns, spec.label] if c in frame.columns]]


def _concat(*frames: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _refit(spec: FeatureSpec, reference: pd.DataFrame, fresh: pd.DataFrame) -> FeatureSpec:
    from mlbudget.models.train import fit_feature_spec

    refit = fit_feature_spec(
        _concat(reference, fresh),
        [f.name for f in spec.numeric],
        {c.name: c.categories for c in spec.categorical},
        spec.label,
        spec.classes,
    )
    return refit.model_copy(update={"input_name": spec.input_name, "output_name": spec.output_name})
