"""Seeded synthetic drift data: 40 numeric and 10 categorical features, 7 of them shifted.

Used by ``benchmarks/drift_vs_peers.py`` (1M and 10M rows) and, smaller, by
``tests/detection/test_synthetic_drift.py``. The reference and the current table
come from the same generator with different seeds; only the features in
``SHIFTED`` change in the current table:

| feature | shape | planted change |
| --- | --- | --- |
| ``n00_normal`` | normal | location +0.2 std |
| ``n01_lognormal`` | lognormal, sigma 0.748 | spread: sigma 0.9 (std +46 %, p99 5.7 -> 8.1) |
| ``n02_normal`` | normal | scale x 0.89 (std -11 %) |
| ``n03_zero_inflated`` | 40 % zeros, gamma otherwise | zero share 40 % -> 30 % |
| ``n04_student`` | Student t, 30 df | tails: t with 4 df at the same std |
| ``c00_cat`` | 3 categories 50/30/20 | 10-point move: 40/35/25 |
| ``c01_cat`` | 8 categories | a new category takes 5 % |

The other 33 numeric columns cycle through normal, lognormal, uniform, Poisson
counts, zero-inflated, integer ages, exponential and Student t shapes; the
other 8 categorical ones have 3 to 50 categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_NUMERIC = 40
N_CATEGORICAL = 10
SHIFTED = ("n00_normal", "n01_lognormal", "n02_normal", "n03_zero_inflated", "n04_student", "c00_cat", "c01_cat")
SHAPES = ("normal", "lognormal", "uniform", "counts", "zero_inflated", "ages", "exponential", "student")


def _numeric(rng: np.random.Generator, shape: str, rows: int) -> np.ndarray:
    if shape == "normal":
        return rng.normal(50.0, 10.0, rows)
    if shape == "lognormal":
        return rng.lognormal(0.0, 0.748, rows)
    if shape == "uniform":
        return rng.uniform(0.0, 1.0, rows)
    if shape == "counts":
        return rng.poisson(2.0, rows).astype(np.float64)
    if shape == "zero_inflated":
        return np.where(rng.random(rows) < 0.4, 0.0, rng.gamma(2.0, 30.0, rows))
    if shape == "ages":
        return rng.integers(18, 91, rows).astype(np.float64)
    if shape == "exponential":
        return rng.exponential(3.0, rows)
    return rng.standard_t(30, rows)


def _shifted(rng: np.random.Generator, name: str, rows: int) -> np.ndarray:
    if name == "n00_normal":
        return rng.normal(52.0, 10.0, rows)
    if name == "n01_lognormal":
        return rng.lognormal(0.0, 0.9, rows)
    if name == "n02_normal":
        return rng.normal(50.0, 8.9, rows)
    if name == "n03_zero_inflated":
        return np.where(rng.random(rows) < 0.3, 0.0, rng.gamma(2.0, 30.0, rows))
    # Same std as t(30): t(4) has variance 2, t(30) 30/28.
    return rng.standard_t(4, rows) * np.sqrt((30 / 28) / 2)


def _categories(i: int) -> tuple[list[str], np.ndarray]:
    if i == 0:
        return ["a", "b", "c"], np.array([0.5, 0.3, 0.2])
    if i == 1:
        return [f"k{j}" for j in range(8)], np.full(8, 1 / 8)
    size = (3, 5, 10, 20, 50, 4, 7, 12)[(i - 2) % 8]
    weights = 1.0 / np.arange(1, size + 1)
    return [f"v{j}" for j in range(size)], weights / weights.sum()


def _categorical(rng: np.random.Generator, i: int, rows: int, shifted: bool) -> pd.Categorical:
    labels, shares = _categories(i)
    if shifted and i == 0:
        shares = np.array([0.4, 0.35, 0.25])
    if shifted and i == 1:
        labels, shares = [*labels, "new"], np.append(shares * 0.95, 0.05)
    codes = rng.choice(len(labels), rows, p=shares)
    return pd.Categorical.from_codes(codes, labels)


def numeric_names() -> list[str]:
    """The 40 numeric feature names."""
    names = list(SHIFTED[:5])
    names += [f"n{i:02d}_{SHAPES[i % len(SHAPES)]}" for i in range(5, N_NUMERIC)]
    return names


def make_frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """One table: the reference (``shifted=False``) or the current window (``True``)."""
    rng = np.random.default_rng(seed)
    data = {}
    for i, name in enumerate(numeric_names()):
        if shifted and name in SHIFTED:
            data[name] = _shifted(rng, name, rows)
        elif i < 5:
            data[name] = _numeric(
                rng, {0: "normal", 1: "lognormal", 2: "normal", 3: "zero_inflated"}.get(i, "student"), rows
            )
        else:
            data[name] = _numeric(rng, SHAPES[i % len(SHAPES)], rows)
    for i in range(N_CATEGORICAL):
        data[f"c{i:02d}_cat"] = _categorical(rng, i, rows, shifted)
    return pd.DataFrame(data)
