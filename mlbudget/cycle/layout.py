"""Where a cycle keeps each stage's output, and atomic JSON I/O for them.

<cycle_dir>/
  context.json  state.json  budget.yaml
  champion/                 the champion bundle as downloaded
  window/window.parquet  window.json
  validation.json  detection.json  plan.json
  data/calibration.parquet  fresh.parquet  holdout.parquet
  candidates/<name>/        one bundle per candidate, plus candidate.json
  benchmarks/<name>.json
  finals.json               the finalists re-measured over several rounds
  decision.json  registry.json
  report/report.html  report/report.json
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from mlbudget.errors import InputError

M = TypeVar("M", bound=BaseModel)


class CycleLayout:
    """Paths inside one cycle directory."""

    def __init__(self, cycle_dir: str | Path):
        self.root = Path(cycle_dir)

    context = property(lambda self: self.root / "context.json")
    state = property(lambda self: self.root / "state.json")
    budget = property(lambda self: self.root / "budget.yaml")
    champion = property(lambda self: self.root / "champion")
    window_dir = property(lambda self: self.root / "window")
    window = property(lambda self: self.root / "window" / "window.json")
    validation = property(lambda self: self.root / "validation.json")
    detection = property(lambda self: self.root / "detection.json")
    plan = property(lambda self: self.root / "plan.json")
    data = property(lambda self: self.root / "data")
    candidates = property(lambda self: self.root / "candidates")
    benchmarks = property(lambda self: self.root / "benchmarks")
    finals = property(lambda self: self.root / "finals.json")
    decision = property(lambda self: self.root / "decision.json")
    registry = property(lambda self: self.root / "registry.json")
    report_dir = property(lambda self: self.root / "report")

    def candidate_dir(self, name: str) -> Path:
        return self.candidates / name

    def benchmark(self, name: str) -> Path:
        return self.benchmarks / f"{name}.json"


def write_json(path: Path, payload: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Write strict JSON atomically (temp file + rename), so a crash never leaves half a file.

    Raises:
        InputError: the payload holds NaN or +/-inf (JSON has no such numbers; pydantic would write
            ``null``, which then fails validation when the next stage reads it back).
    """
    if isinstance(payload, BaseModel):
        _refuse_non_finite(payload.model_dump(), path)
        text = payload.model_dump_json(indent=2)
    else:
        _refuse_non_finite(payload, path)
        text = json.dumps(payload, indent=2, default=str, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _refuse_non_finite(node: Any, path: Path, where: str = "") -> None:
    import math

    if isinstance(node, float) and not math.isfinite(node):
        raise InputError(f"{path}: {where or 'value'} is {node} (refused: the cycle's JSON holds finite numbers only)")
    if isinstance(node, dict):
        for key, value in node.items():
            _refuse_non_finite(value, path, f"{where}.{key}" if where else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _refuse_non_finite(value, path, f"{where}[{i}]")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: missing (has the stage that writes it run?)") from exc
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc


def read_model(path: Path, model: type[M]) -> M:
    return model.model_validate(read_json(path))
