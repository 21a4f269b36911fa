"""MlpArch, build_mlp and checkpoints."""

from __future__ import annotations

import pytest
import torch

from mlbudget.errors import ModelFileError
from mlbudget.models.mlp import MlpArch, build_mlp, load_checkpoint, save_checkpoint

torch.set_num_threads(1)


def test_build_mlp_layers_and_parameter_count():
    arch = MlpArch(input_width=10, hidden=[8, 4], classes=3)
    module = build_mlp(arch)
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 8), (8, 4), (4, 3)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in module) == 2
    assert arch.parameter_count == sum(p.numel() for p in module.parameters()) == 10 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3


def test_checkpoint_round_trip(tmp_path):
    arch = MlpArch(input_width=5, hidden=[7], classes=2)
    torch.manual_seed(0)
    module = build_mlp(arch)
    save_checkpoint(tmp_path / "torch.pt", arch, module)
    arch2, module2 = load_checkpoint(tmp_path / "torch.pt")
    assert arch2 == arch
    x = torch.randn(4, 5)
    torch.testing.assert_close(module2(x), module(x))
    payload = torch.load(tmp_path / "torch.pt", weights_only=True)
    assert set(payload) == {"arch", "state_dict"} and payload["arch"] == arch.model_dump()


def test_corrupt_checkpoint_names_the_path(tmp_path):
    bad = tmp_path / "torch.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match=r"torch\.pt: not a readable torch checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(ModelFileError, match=r"missing\.pt: no such file"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_of_another_shape_is_rejected(tmp_path):
    torch.save({"arch": {"input_width": 3, "hidden": [2], "classes": 2}, "state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(ModelFileError, match=r"x\.pt: checkpoint does not match an MLP"):
        load_checkpoint(tmp_path / "x.pt")
