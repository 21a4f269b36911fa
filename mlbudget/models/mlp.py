"""The demo model family: a plain multi-layer perceptron (Linear + ReLU).

The architecture is data (:class:`MlpArch`) so a checkpoint can rebuild its
module without pickled classes: ``torch.pt`` holds ``{"arch": {...},
"state_dict": {...}}`` and loads with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlbudget.errors import ModelFileError

if TYPE_CHECKING:
    import torch


class MlpArch(BaseModel):
    """Shape of an MLP: input width, hidden layer widths, number of classes."""

    model_config = ConfigDict(extra="forbid")
    input_width: int = Field(..., ge=1)
    """Width of the encoded input tensor (FeatureSpec.input_width)."""
    hidden: list[int] = Field(default_factory=list)
    """Hidden layer widths, input side first."""
    classes: int = Field(..., ge=2)
    """Number of output logits."""

    @property
    def parameter_count(self) -> int:
        """Number of weights and biases."""
        widths = [self.input_width, *self.hidden, self.classes]
        return sum(a * b + b for a, b in pairwise(widths))


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads, restoring the previous setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_mlp(arch: MlpArch) -> torch.nn.Sequential:
    """A fresh ``Sequential`` of ``Linear`` + ``ReLU`` blocks ending in a ``Linear`` to the logits.

    Args:
        arch: the layer widths.

    Returns:
        The module, in eval mode, with PyTorch's default initialisation.
    """
    import torch

    layers: list[torch.nn.Module] = []
    width = arch.input_width
    for h in arch.hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, arch.classes))
    return torch.nn.Sequential(*layers).eval()


def save_checkpoint(path: str | Path, arch: MlpArch, module: torch.nn.Module) -> Path:
    """Write ``{"arch": arch, "state_dict": module.state_dict()}`` to ``path``.

    Args:
        path: destination file (conventionally ``torch.pt``).
        arch: the module's architecture.
        module: the trained module.

    Returns:
        The path written.
    """
    import torch

    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    torch.save({"arch": arch.model_dump(), "state_dict": state}, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[MlpArch, torch.nn.Sequential]:
    """Rebuild the module saved by :func:`save_checkpoint`.

    Args:
        path: a ``torch.pt`` file.

    Returns:
        ``(arch, module)`` with the module in eval mode.

    Raises:
        ModelFileError: the file is missing, corrupt, or not an MLP checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file (expected a torch checkpoint)")
    try:
        payload: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike
        raise ModelFileError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or "arch" not in payload or "state_dict" not in payload:
        raise ModelFileError(f"{path}: expected a dict with 'arch' and 'state_dict'")
    try:
        arch = MlpArch.model_validate(payload["arch"])
        module = build_mlp(arch)
        module.load_state_dict(payload["state_dict"])
    except (ValidationError, RuntimeError, TypeError) as exc:
        raise ModelFileError(f"{path}: checkpoint does not match an MLP ({exc})") from exc
    return arch, module.eval()
