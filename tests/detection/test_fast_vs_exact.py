"""The profile path against scipy and plain numpy when the bins come from a sample, counted in one pass or two."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlbudget.detection.drift import build_profile, counting
from mlbudget.detection.drift.chi_square import ChiSquareDetector, cramers_v
from mlbudget.detection.drift.counting import LAYOUT_SAMPLE_ROWS
from mlbudget.detection.drift.jensen_shannon import JensenShannonDetector
from mlbudget.detection.drift.ks import KsDetector
from mlbudget.detection.drift.psi import PsiDetector
from mlbudget.detection.drift.reading import BATCH_ROWS, TableSource
from mlbudget.detection.drift.wasserstein import WassersteinDetector


def plain_psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p / p.sum(), 1e-4), np.maximum(q / q.sum(), 1e-4)
    return float(sum((b - a) * np.log(b / a) for a, b in zip(p, q)))


@pytest.mark.slow
@pytest.mark.parametrize("passes", [1, 2])
def test_ks_and_wasserstein_within_0002_of_scipy_psi_js_v_equal_plain_numpy(tmp_path, monkeypatch, passes):
    rng = np.random.default_rng(8)
    rows = 400_000
    assert rows > LAYOUT_SAMPLE_ROWS  # bins from a sample
    if passes == 2:  # a column beyond its share of the in-memory cap: a second pass counts every row
        monkeypatch.setattr(counting, "IN_MEMORY_BYTES", rows * 8 - 1)
    reads: list[str] = []
    column_batches = TableSource.column_batches

    def counted(self, name, numeric, batch_rows=BATCH_ROWS):
        reads.append(name)
        yield from column_batches(self, name, numeric, batch_rows)

    monkeypatch.setattr(TableSource, "column_batches", counted)
    reference = pd.DataFrame({"x": rng.normal(0, 1, rows), "y": rng.lognormal(0, 0.75, rows)})
    current = pd.DataFrame({"x": rng.normal(0.05, 1.1, 300_000), "y": rng.lognormal(0.02, 0.9, 300_000)})
    reference.to_parquet(tmp_path / "ref.parquet")
    profile = build_profile(tmp_path / "ref.parquet")
    assert sorted(reads) == sorted(["x", "y"] * passes)
    window = build_profile(current, like=profile)
    for name in ("x", "y"):
        ref, cur = profile.columns[name], window.columns[name]
        exact_ks = stats.ks_2samp(reference[name], current[name]).statistic
        assert abs(KsDetector().compare(ref, cur)[0] - exact_ks) <= 0.002
        exact_w = stats.wasserstein_distance(reference[name], current[name]) / reference[name].std(ddof=0)
        assert abs(WassersteinDetector().compare(ref, cur)[0] - exact_w) <= 0.002
        # Counts on the profile's bins, straight from numpy.
        edges = np.asarray(ref.bin_edges)
        p = np.bincount(np.searchsorted(edges, reference[name], side="left"), minlength=len(edges) + 1)
        q = np.bincount(np.searchsorted(edges, current[name], side="left"), minlength=len(edges) + 1)
        assert ref.bin_counts == p.tolist() and cur.bin_counts == q.tolist()
        assert PsiDetector().compare(ref, cur)[0] == pytest.approx(plain_psi(p, q), rel=1e-12)
        assert JensenShannonDetector().compare(ref, cur)[0] == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)
        assert ChiSquareDetector().compare(ref, cur)[0] == pytest.approx(cramers_v(p, q), rel=1e-12)
