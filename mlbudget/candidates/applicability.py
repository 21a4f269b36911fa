"""What the demo-program generators need from a parent bundle (retrain, distill)."""

from __future__ import annotations

from mlbudget.models.bundle import ModelBundle


def needs_torch_program(parent: ModelBundle, generator: str) -> str | None:
    """Why ``generator`` cannot run on ``parent``: it needs the PyTorch program (``torch.pt``) and the
    encoded feature spec (``features.json``) that mlbudget's own trainer writes; an adopted ONNX
    model has neither. None when both are there."""
    if parent.torch_path is None:
        return f"{generator} needs the model's PyTorch program (torch.pt) and a trainer; this model has none"
    if not parent.has_feature_spec:
        return f"{generator} needs the encoded feature spec (features.json) of mlbudget's trainer; this model has none"
    return None
