"""retrain and distill on a small real MLP."""

from __future__ import annotations

import pandas as pd
import pytest

from mlbudget.candidates import CandidateGenerator, GenerationData
from mlbudget.candidates.retrain import upsample
from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.bundle import TORCH_FILE, ModelBundle
from mlbudget.models.mlp import load_checkpoint


def test_retrain_on_shifted_rows_beats_the_parent_there(parent, data_files, budget, tmp_path, accuracy, check_child):
    (child,) = CandidateGenerator.lookup("retrain")({"epochs": 3}).generate(parent, data_files, budget, tmp_path)

    check_child(child, parent, "retrain", fp32=True)
    shifted = str(data_files.fresh_labelled_path).replace("fresh", "shifted_holdout")
    assert accuracy(child.bundle_dir, shifted) > accuracy(parent.bundle_dir, shifted) + 0.03
    bundle = ModelBundle(child.bundle_dir)
    assert load_checkpoint(bundle.torch_path)[0] == load_checkpoint(ModelBundle(parent.bundle_dir).torch_path)[0]
    reference = pd.read_parquet(bundle.reference_path)
    assert len(reference) == len(pd.read_parquet(ModelBundle(parent.bundle_dir).reference_path)) + 3000
    assert bundle.features() == ModelBundle(parent.bundle_dir).features()
    assert CandidateGenerator.lookup("retrain").makes_fp32


def test_retrain_needs_fresh_labelled_rows(parent, budget, tmp_path):
    with pytest.raises(InputError, match="retrain: fresh labelled rows: no file given"):
        CandidateGenerator.lookup("retrain")().generate(parent, GenerationData(), budget, tmp_path)


def test_upsample_counts_rows():
    frame = pd.DataFrame({"a": range(10)})
    assert len(upsample(frame, 2.5, seed=0)) == 25
    assert len(upsample(frame, 0.0, seed=0)) == 0


def test_distill_makes_a_smaller_student(parent, data_files, budget, tmp_path, accuracy, check_child):
    config = {"hidden": [32], "epochs": 4, "temperature": 2.0}
    (child,) = CandidateGenerator.lookup("distill")(config).generate(parent, data_files, budget, tmp_path)

    check_child(child, parent, "distill", fp32=True)
    assert child.size_mb < 0.5 * parent.size_mb
    assert load_checkpoint(ModelBundle(child.bundle_dir).torch_path)[0].hidden == [32]
    assert (
        accuracy(child.bundle_dir, data_files.holdout_path)
        > accuracy(parent.bundle_dir, data_files.holdout_path) - 0.08
    )


@pytest.mark.parametrize("generator", ["retrain", "distill"])
def test_missing_torch_checkpoint_is_a_clear_error(generator, parent, data_files, budget, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(parent.bundle_dir, bare)
    (bare / TORCH_FILE).unlink()
    orphan = parent.model_copy(update={"bundle_dir": str(bare)})
    with pytest.raises(ModelFileError, match=rf"torch\.pt: {generator} needs the parent's FP32 torch checkpoint"):
        CandidateGenerator.lookup(generator)().generate(orphan, data_files, budget, tmp_path / "out")
