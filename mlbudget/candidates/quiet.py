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
