"""A benchmark worker that crashes is reported in one line (how it ended, its last stderr line), not 20."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlbudget.benchmark.runner import _read_result
from mlbudget.errors import MlbudgetError


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def f(n):\n    return f(n + 1) if n < 3 else 1 / 0\nf(0)", "(exit 1): ZeroDivisionError: division by zero"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "(killed by SIGKILL): (no output)"),
    ],
)
def test_a_crashed_worker_is_one_line(code, expected, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    tail = done.stderr.splitlines()
    with pytest.raises(MlbudgetError) as info:
        _read_result("model.onnx", done.returncode, tmp_path / "none.json", tail)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"benchmark worker for model.onnx failed {expected}"
