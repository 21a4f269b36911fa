"""Synthetic tabular data for the demo model: 24 numeric and 2 categorical features, 4 classes.

Labels come from a fixed random "teacher" network, so a student MLP can learn
them well but not perfectly. Knobs move the data the way production does:

- ``feature_shift``: shifts the mean of the first third of the numeric features
  by that many standard deviations and skews the categorical frequencies
  (covariate drift);
- ``concept_shift``: blends a second teacher into the labelling function
  (0 = the original concept, 1 = a different one), so a model trained on the
  reference loses accuracy and retraining on fresh labels helps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_NUMERIC = 24
CATEGORICAL = {"region": ["north", "south", "east", "west", "central"], "channel": ["web", "app", "store", "partner"]}
CLASSES = [0, 1, 2, 3]
NUMERIC_COLUMNS = [f"f{i:02d}" for i in range(N_NUMERIC)]
FEATURE_COLUMNS = NUMERIC_COLUMNS + list(CATEGORICAL)
LABEL = "label"

_TEACHER_SEED = 1234
_SECOND_TEACHER_SEED = 4321


def _teacher(seed: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 1.0 / np.sqrt(width), (width, 32))
    w2 = rng.normal(0, 1.0 / np.sqrt(32), (32, len(CLASSES)))
    return w1, w2


def _encode(frame: pd.DataFrame) -> np.ndarray:
    parts = [frame[NUMERIC_COLUMNS].to_numpy(dtype=np.float64) / 2.0]
    for name, cats in CATEGORICAL.items():
        codes = pd.Categorical(frame[name], categories=cats).codes
        parts.append(np.eye(len(cats))[codes])
    return np.hstack(parts)


def label_rows(frame: pd.DataFrame, concept_shift: float = 0.0, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """True classes for ``frame`` under the (possibly shifted) concept."""
    x = _encode(frame)
    w1a, w2a = _teacher(_TEACHER_SEED, x.shape[1])
    w1b, w2b = _teacher(_SECOND_TEACHER_SEED, x.shape[1])
    logits_a = np.tanh(x @ w1a) @ w2a
    logits_b = np.tanh(x @ w1b) @ w2b
    logits = (1 - concept_shift) * logits_a + concept_shift * logits_b
    rng = np.random.default_rng(seed + 7)
    logits = logits / logits.std() + rng.gumbel(0, noise, logits.shape)
    return logits.argmax(axis=1).astype(np.int64)


def make_features(n: int, seed: int = 0, feature_shift: float = 0.0) -> pd.DataFrame:
    """``n`` rows of raw features (no label)."""
    rng = np.random.default_rng(seed)
    base_means = np.linspace(-1.0, 1.0, N_NUMERIC)
    scales = np.linspace(0.5, 2.0, N_NUMERIC)
    means = base_means.copy()
    means[: N_NUMERIC // 3] += feature_shift * scales[: N_NUMERIC // 3]
    numeric = rng.normal(means, scales, (n, N_NUMERIC))
    frame = pd.DataFrame(numeric.astype(np.float64), columns=NUMERIC_COLUMNS)
    for i, (name, cats) in enumerate(CATEGORICAL.items()):
        p = np.linspace(1.0, 2.0, len(cats))
        if feature_shift:
            p = p * np.exp(feature_shift * np.linspace(1.0, -1.0, len(cats)) * (1 + i))
        frame[name] = pd.Series(rng.choice(cats, size=n, p=p / p.sum()), dtype="string")
    return frame


def make_dataset(
    n: int, seed: int = 0, feature_shift: float = 0.0, concept_shift: float = 0.0, noise: float = 0.3
) -> pd.DataFrame:
    """``n`` labelled rows: feature columns and ``label``."""
    frame = make_features(n, seed=seed, feature_shift=feature_shift)
    frame[LABEL] = label_rows(frame, concept_shift=concept_shift, noise=noise, seed=seed)
    return frame
