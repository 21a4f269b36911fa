"""The demo champion: an MLP trained on synthetic reference data.

With the default hidden sizes (1024, 1024, 512) the FP32 ONNX graph is about
6.5 MB, big enough for INT8 quantization to show in size and latency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from mlbudget.candidates.base import Candidate

log = logging.getLogger(__name__)


def train_demo_champion(
    out_dir: str | Path,
    *,
    rows: int = 20000,
    seed: int = 0,
    hidden: Sequence[int] = (1024, 1024, 512),
    epochs: int = 4,
    holdout_share: float = 0.2,
    lr: float = 5e-4,
    name: str = "champion",
) -> Candidate:
    """Train the demo MLP on ``make_dataset(rows, seed)`` and write its bundle to ``out_dir``.

    A seeded ``holdout_share`` of the rows is held out; the rest are the
    reference rows (written, with labels, to reference.parquet). The holdout
    accuracy and the training settings go into the lineage config.

    Args:
        out_dir: bundle directory.
        rows: synthetic rows generated (training + holdout).
        seed: data and training seed.
        hidden: hidden layer widths.
        epochs: training passes.
        holdout_share: share of rows held out for the accuracy figure.
        lr: Adam learning rate.
        name: candidate name.

    Returns:
        The candidate (generator ``initial``, FP32, with torch.pt and reference.parquet).
    """
    from mlbudget.demo.data import CATEGORICAL, CLASSES, LABEL, NUMERIC_COLUMNS, make_dataset
    from mlbudget.models.mlp import MlpArch
    from mlbudget.models.package import write_bundle
    from mlbudget.models.train import evaluate, fit_feature_spec, train_mlp

    frame = make_dataset(rows, seed=seed)
    holdout = frame.sample(frac=holdout_share, random_state=seed)
    reference = frame.drop(index=holdout.index).reset_index(drop=True)
    spec = fit_feature_spec(reference, NUMERIC_COLUMNS, CATEGORICAL, LABEL, CLASSES)
    arch = MlpArch(input_width=spec.input_width, hidden=list(hidden), classes=len(CLASSES))
    started = time.perf_counter()
    module = train_mlp(reference, spec, arch, epochs=epochs, seed=seed, lr=lr)
    seconds = time.perf_counter() - started
    accuracy = evaluate(module, holdout, spec)
    log.info(
        "demo champion: %d rows, %d epochs, %.1f s, holdout accuracy %.4f", len(reference), epochs, seconds, accuracy
    )
    config = {
        "rows": rows,
        "hidden": list(hidden),
        "epochs": epochs,
        "lr": lr,
        "holdout_share": holdout_share,
        "holdout_rows": len(holdout),
        "holdout_accuracy": round(accuracy, 6),
    }
    return write_bundle(
        out_dir,
        name=name,
        spec=spec,
        module=module,
        arch=arch,
        reference=reference,
        lineage={"generator": "initial", "config": config, "seed": seed},
    )
