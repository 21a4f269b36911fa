"""The smallest shift the default drift settings flag, against the number of rows (both sides equal).

    .venv/bin/python benchmarks/drift_sensitivity.py

For each size the threshold is ``max(noise, smallest effect)`` and a feature is
flagged above ``threshold * (1 + borderline)``, as in ``detect_drift``. The
statistic of a shift is its population value (no sampling), computed from the
normal CDF on the default bins (quantiles 1, 5, 10, ..., 90, 95, 99 %) for
numeric columns and from the shares for a two-category column. Prints a
Markdown table (the one in mlbudget/detection/drift/README.md).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from mlbudget.budget.model import DriftSettings
from mlbudget.detection.drift.binning import PSI_QUANTILES
from mlbudget.detection.drift.ks import ks_coefficient
from mlbudget.detection.drift.psi import PsiDetector, psi_from_counts

SIZES = (1_000, 10_000, 100_000, 1_000_000)
EDGES = stats.norm.ppf(PSI_QUANTILES)


def psi_normal(location: float = 0.0, scale: float = 1.0) -> float:
    """Population PSI of N(location, scale) against N(0, 1) on the default numeric bins."""
    reference = np.diff(np.concatenate([[0.0], PSI_QUANTILES, [1.0]]))
    cdf = stats.norm.cdf(EDGES, loc=location, scale=scale)
    current = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    return psi_from_counts(reference, current)


def psi_share_move(points: float) -> float:
    """Population PSI of a 50/50 category split moved by ``points`` percentage points."""
    return psi_from_counts(np.array([0.5, 0.5]), np.array([0.5 + points / 100, 0.5 - points / 100]))


def flag_level(noise: float, effect: float, band: float) -> float:
    return max(noise, effect) * (1 + band)


def smallest(function, level: float, upper: float) -> float:
    """The smallest argument in (0, upper) where ``function`` reaches ``level``."""
    return optimize.brentq(lambda x: function(x) - level, 1e-9, upper)


def main() -> None:
    settings = DriftSettings()
    band = settings.borderline
    print("| rows (each side) | location shift (std) | scale up | scale down | 50/50 share move (points) | KS D |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in SIZES:
        chi2_numeric = stats.chi2.isf(settings.alpha, len(PSI_QUANTILES)) * (2 / n)
        chi2_categorical = stats.chi2.isf(settings.alpha, 1) * (2 / n)
        numeric = flag_level(chi2_numeric, PsiDetector.threshold_for("numeric"), band)
        categorical = flag_level(chi2_categorical, PsiDetector.threshold_for("categorical"), band)
        ks = flag_level(ks_coefficient(settings.alpha) * np.sqrt(2 / n), 0.05, band)
        location = smallest(lambda d: psi_normal(location=d), numeric, 5.0)
        up = smallest(lambda s: psi_normal(scale=1 + s), numeric, 5.0)
        down = smallest(lambda s: psi_normal(scale=1 - s), numeric, 0.99)
        move = smallest(psi_share_move, categorical, 49.0)
        print(f"| {n:,} | {location:.2f} | +{up:.0%} | -{down:.0%} | {move:.1f} | {ks:.3f} |")


if __name__ == "__main__":
    main()
