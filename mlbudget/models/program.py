"""A model's PyTorch program beside its ONNX graph: ``model.pt2``, written by ``torch.export.save``.

An exported program loads without unpickling code (``torch.export.load`` reads a
serialized graph and its weights), so a bundle may carry one from any team.
Generators that work on PyTorch (Intel Neural Compressor's accuracy-aware INT8)
use it; the ONNX graph stays what is served. The program must take the ONNX
model's inputs in the same order (same element types, the batch on axis 0, which
must be dynamic) and return its outputs in the same order, as a program that was
exported to ONNX does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.errors import ModelFileError
from mlbudget.models.bundle import PROGRAM_FILE

if TYPE_CHECKING:
    import torch

__all__ = ["PROGRAM_FILE", "check_program", "load_program", "save_program"]


def _read(path: Path):
    import torch

    if not path.is_file():
        raise ModelFileError(f"{path}: no PyTorch program (expected a torch.export.save file, {PROGRAM_FILE})")
    try:
        return torch.export.load(str(path))
    except Exception as exc:  # torch raises several types for a file that is not an exported program
        raise ModelFileError(f"{path}: not a torch.export program ({type(exc).__name__}: {exc})") from exc


def _user_inputs(program) -> list[str]:
    return [s.arg.name for s in program.graph_signature.input_specs if s.kind.name == "USER_INPUT"]


def load_program(path: str | Path, onnx_path: str | Path | None = None):
    """The program's module (a GraphModule) and the names of its inputs, in order; checked against the ONNX
    model at ``onnx_path`` when given (:func:`check_program`).

    Raises:
        ModelFileError: the file is missing or is not a ``torch.export`` program, or it does not match the graph.
    """
    program = _read(Path(path))
    if onnx_path is not None:
        _check(program, Path(path), onnx_path)
    return program.module(), _user_inputs(program)


def check_program(path: str | Path, onnx_path: str | Path) -> list[str]:
    """Check that the program at ``path`` can stand for the ONNX model at ``onnx_path``: as many inputs and as
    many outputs; returns the program's input names.

    Raises:
        ModelFileError: the program does not load, or its inputs or outputs do not match the graph's.
    """
    path = Path(path)
    return _check(_read(path), path, onnx_path)


def _check(program, path: Path, onnx_path: str | Path) -> list[str]:
    from mlbudget.models.signature import read_signature

    inputs = _user_inputs(program)
    signature = read_signature(onnx_path)
    outputs = [s for s in program.graph_signature.output_specs if s.kind.name == "USER_OUTPUT"]
    if len(inputs) != len(signature.inputs):
        raise ModelFileError(
            f"{path}: the program takes {len(inputs)} inputs ({', '.join(inputs)}) but {onnx_path} takes "
            f"{len(signature.inputs)} ({', '.join(i.name for i in signature.inputs)}); they must match in order"
        )
    if len(outputs) != len(signature.outputs):
        raise ModelFileError(
            f"{path}: the program returns {len(outputs)} outputs but {onnx_path} has {len(signature.outputs)}"
        )
    return inputs


def save_program(module: torch.nn.Module, example: tuple, path: str | Path) -> Path:
    """Export ``module`` with a dynamic batch on axis 0 of every input and save it as ``path``.

    Raises:
        ModelFileError: torch.export failed.
    """
    import torch

    batch = torch.export.Dim("batch")
    try:
        program = torch.export.export(module.eval(), example, dynamic_shapes=tuple({0: batch} for _ in example))
        torch.export.save(program, str(path))
    except Exception as exc:  # torch.export raises many types
        raise ModelFileError(f"{path}: torch.export failed ({type(exc).__name__}: {exc})") from exc
    return Path(path)
