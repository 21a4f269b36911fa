"""Registry name ``command``: a user's training program, as an argv list, in its own process.

Placeholders in the arguments: ``{data}`` (training rows, Parquet), ``{parent}`` (the parent's
model.onnx), ``{parent_dir}`` (its bundle), ``{output_dir}`` (where ``model.onnx`` must appear),
``{label}``, ``{task}``, ``{seed}``. The program's stdout and stderr go to ``train.log``, kept with
the candidate. A non-zero exit, a run past ``timeout_s`` (the process group is killed) or no
``model.onnx`` is a training failure::

    candidates:
      generators:
        train:
          trainer:
            name: command
            argv: [python, train.py, --data, "{data}", --parent, "{parent}", --out, "{output_dir}"]
            timeout_s: 1800
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from mlbudget.trainers.base import LOG_FILE, Trainer, TrainerConfig, TrainingError, TrainingJob, _log_hint

PLACEHOLDERS = ("data", "parent", "parent_dir", "output_dir", "label", "task", "seed")


class CommandConfig(TrainerConfig):
    argv: list[str] = Field(..., min_length=1)
    """The program and its arguments (no shell); placeholders: {data}, {parent}, {parent_dir}, {output_dir},
    {label}, {task}, {seed}."""
    timeout_s: float = Field(3600.0, gt=0)
    """The run is killed (its whole process group) after this many seconds."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables (no credentials: the budget is versioned)."""
    cwd: str | None = None
    """Working directory (default: the output directory)."""

    @field_validator("argv")
    @classmethod
    def _known_placeholders(cls, argv: list[str]) -> list[str]:
        from string import Formatter

        for arg in argv:
            try:
                names = {field for _, field, _, _ in Formatter().parse(arg) if field is not None}
            except ValueError as exc:
                raise ValueError(f"argument {arg!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
            unknown = sorted(names - set(PLACEHOLDERS))
            if unknown:
                raise ValueError(
                    f"argument {arg!r}: unknown placeholder {{{unknown[0]}}} (known: {', '.join(PLACEHOLDERS)})"
                )
        return argv


class CommandTrainer(Trainer):
    """Runs ``argv`` with the placeholders filled in; it must write ``{output_dir}/model.onnx``."""

    name: ClassVar[str] = "command"
    config_model: ClassVar[type[TrainerConfig]] = CommandConfig

    def train(self, job: TrainingJob) -> None:
        config: CommandConfig = self.config  # type: ignore[assignment]
        values = {
            "data": job.data_path,
            "parent": job.parent_model,
            "parent_dir": job.parent_dir,
            "output_dir": job.output_dir,
            "label": job.label,
            "task": job.task,
            "seed": str(job.seed),
        }
        argv = [arg.format(**values) for arg in config.argv]
        log_path = Path(job.output_dir) / LOG_FILE
        with log_path.open("wb") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=config.cwd or job.output_dir,
                    env={**os.environ, **config.env},
                    start_new_session=True,
                )
            except OSError as exc:
                raise TrainingError(f"trainer command: cannot start {argv[0]!r} ({exc.strerror or exc})") from None
            try:
                code = proc.wait(timeout=config.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise TrainingError(
                    f"trainer command: {argv[0]} ran past its timeout of {config.timeout_s:g} s and was killed"
                    f"{_log_hint(job)}"
                ) from None
        if code != 0:
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            raise TrainingError(f"trainer command: {argv[0]} failed with {how}{_log_hint(job)}")
