"""Which drift statistic catches which change: each statistic over its own noise, on planted changes.

    .venv/bin/python benchmarks/drift_methods.py

For 5,000 and 50,000 rows a side: PSI on deciles, PSI on deciles plus the 1/5/95/99 %
tails, the JS distance on both, KS D and W1 / std, each divided by its critical value
at alpha 0.001 (W1's: the 0.99 quantile of 30 same-distribution pairs). Above 1 is
beyond the noise; PSI grows with the square of a shift, the others linearly. The table
in mlbudget/detection/drift/README.md ("Why PSI on deciles plus tails is the default")
comes from this script.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

ALPHA = 1e-3
DECILES = np.arange(1, 10) / 10
WITH_TAILS = np.array([0.01, 0.05, *DECILES, 0.95, 0.99])
rng = np.random.default_rng(0)


def psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p / p.sum(), 1e-4), np.maximum(q / q.sum(), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, "left"), minlength=len(edges) + 1)


def ratios(n: int, reference_fn, current_fn) -> dict[str, float]:
    reference, current = reference_fn(n), current_fn(n)
    out = {}
    for label, probs in (("psi_deciles", DECILES), ("psi_tails", WITH_TAILS)):
        edges = np.quantile(reference, probs)
        chi2 = stats.chi2.isf(ALPHA, len(edges)) * (2 / n)
        p, q = counts(reference, edges), counts(current, edges)
        out[label] = psi(p, q) / chi2
        out["js" + label[3:]] = jensenshannon(p, q, base=2) / np.sqrt(chi2 / (8 * np.log(2)))
    out["ks"] = stats.ks_2samp(reference, current).statistic / (np.sqrt(-np.log(ALPHA / 2) / 2) * np.sqrt(2 / n))
    scale = reference.std()
    nulls = [stats.wasserstein_distance(reference_fn(n), reference_fn(n)) / scale for _ in range(30)]
    out["w1"] = stats.wasserstein_distance(reference, current) / scale / np.quantile(nulls, 0.99)
    return out


def normal(location: float = 0.0, spread: float = 1.0):
    return lambda n: rng.normal(location, spread, n)


def lognormal(sigma: float):
    return lambda n: np.exp(rng.normal(0.0, sigma, n))


def contaminated(n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.02, rng.normal(0, 4, n), rng.normal(0, 1, n))


def student(n: int) -> np.ndarray:
    return stats.t.rvs(5, size=n, random_state=rng) / np.sqrt(5 / 3)


CHANGES = {
    "nothing (noise)": (normal(), normal()),
    "location +0.1 std": (normal(), normal(0.1)),
    "scale x 1.1": (normal(), normal(0.0, 1.1)),
    "scale x 0.89": (normal(), normal(0.0, 0.89)),
    "lognormal sigma 0.5 -> 0.6": (lognormal(0.5), lognormal(0.6)),
    "2 % from a 4x wider normal": (normal(), contaminated),
    "t(5) at the same std": (normal(), student),
}


def main() -> None:
    for n in (5_000, 50_000):
        print(f"\n{n:,} rows a side\n")
        print("| change | PSI deciles | PSI deciles + tails | JS deciles | JS + tails | KS D | W1 / std |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, (reference_fn, current_fn) in CHANGES.items():
            r = ratios(n, reference_fn, current_fn)
            cells = [r["psi_deciles"], r["psi_tails"], r["js_deciles"], r["js_tails"], r["ks"], r["w1"]]
            print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
