"""What every CLI command shares: exit codes, error handling, JSON output, progress.

stdout carries only the command's result (its JSON document with ``--json``);
progress, logs and errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from mlbudget.errors import MlbudgetError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_DEPENDENCY = 3


_CONSOLES: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``err_console`` and ``out_console``: rich consoles built when a command first imports them.

    Importing rich costs ~0.15 s, which commands that never print a table (``--help``,
    ``budget validate``) do not pay.
    """
    if name not in {"err_console", "out_console"}:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _CONSOLES:
        from rich.console import Console

        _CONSOLES[name] = Console(stderr=name == "err_console")
    return _CONSOLES[name]


def single_threaded_blas() -> None:
    """Start OpenBLAS with one thread, when numpy is not imported yet and no thread count is set.

    For the commands that count with numpy alone (``drift``, ``profile``): OpenBLAS starts
    a thread per core at numpy's import, ~0.1 s of CPU on 2 cores that nothing uses, and a
    BLAS call from several counting threads would spin them all.
    """
    import os

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout (progress and logs go to stderr).")


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn MlbudgetError into one line on stderr and its exit code; no traceback."""
    try:
        yield
    except MlbudgetError as exc:
        from rich.text import Text

        for line in str(exc).splitlines() or [type(exc).__name__]:
            # The message may hold user text (file names, YAML values): never read it as markup.
            __getattr__("err_console").print(Text.assemble(("error: ", "red"), line), highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def emit_json(payload: Any) -> None:
    """Write ``payload`` (a pydantic model, or JSON-able data) as the only thing on stdout, as strict JSON."""
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump(mode="json")
    text = json.dumps(_finite_or_null(payload), indent=2, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _finite_or_null(node: Any) -> Any:
    """Strict JSON: NaN and +/-inf become null (``json.dumps`` would write ``NaN``/``Infinity``, which is not JSON)."""
    import math

    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, dict):
        return {k: _finite_or_null(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_finite_or_null(v) for v in node]
    return node


def progress():
    """A rich progress bar on stderr (transient; silent when stderr is not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=__getattr__("err_console"),
        transient=True,
    )
