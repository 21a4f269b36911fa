"""Keep third-party chatter (Neural Compressor's tuning tables, torch exporter notices,
FutureWarnings) off the user's terminal while a generator runs; errors still show."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

NOISY_LOGGERS = ("neural_compressor", "torch.onnx", "torch.export", "torch._export", "onnxscript", "torchao")


@contextmanager
def quiet_backends(level: int = logging.ERROR) -> Iterator[None]:
    """Raise the level of noisy backend loggers and ignore their warnings for the duration."""
    _settle_neural_compressor_logger()
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, old in zip(loggers, before):
            lg.setLevel(old)


def _settle_neural_compressor_logger() -> None:
    # Neural Compressor sets its logger's level when its logger module is first imported;
    # import it first so the level set here is not overwritten mid-run.
    import importlib

    try:
        importlib.import_module("neural_compressor.common.utils.logger")
    except ImportError:
        pass
