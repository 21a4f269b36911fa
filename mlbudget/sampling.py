"""Seeded row samples of a file read in record batches: only the sample is ever held.

The positions are drawn up front from the row count in the Parquet footer; each batch then
gives up the sampled rows it holds. The validation gate and label-free estimation share it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def seeded_positions(total: int, n: int, seed: int = 0) -> np.ndarray:
    """``min(n, total)`` distinct row positions out of ``total``, sorted, drawn with ``seed``."""
    if total == 0:
        return np.array([], dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))


def sampled_in_batch(batch: Any, positions: np.ndarray, offset: int) -> Any | None:
    """The rows of ``batch`` (file rows ``offset`` onwards) at the sorted ``positions``; None when none are."""
    import pyarrow as pa

    lo, hi = np.searchsorted(positions, [offset, offset + batch.num_rows])
    return batch.take(pa.array(positions[lo:hi] - offset)) if hi > lo else None
