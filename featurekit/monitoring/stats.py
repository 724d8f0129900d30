"""Drift statistics on fixed bins: effect sizes, two-sample tests and Benjamini–Hochberg.

Everything here works on counts, never on raw rows, so the same functions serve the
offline report (counts of a DataFrame) and the live windows of the server (counters
updated as rows are scored). Light core: numpy and ``scipy.special``.

Effect sizes
    `psi`, `js_distance`, `wasserstein` (normalised by the reference's standard
    deviation) and the KS statistic from `ks_test`.
Tests (p-values)
    `ks_test` (two-sample Kolmogorov–Smirnov on the binned CDFs; binning only makes it
    conservative), `mean_test` (two-sample z-test of means, from sums and sums of
    squares), `chi2_test` (two-sample chi-square on the contingency table, sparse cells
    pooled), `two_proportions` (z-test of two rates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "benjamini_hochberg",
    "chi2_test",
    "js_distance",
    "ks_test",
    "mean_test",
    "pool_rare",
    "psi",
    "two_proportions",
    "wasserstein",
]

#: Added to empty bins before logarithms (PSI), as a fraction of one row.
PSI_EPS = 1e-4


def _fractions(counts: Sequence[float] | np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins.

    Examples
    --------
    >>> round(psi([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi([50, 50], [25, 75]), 4)
    0.2747
    """
    p = np.maximum(_fractions(reference), PSI_EPS)
    q = np.maximum(_fractions(current), PSI_EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) of two histograms.

    Examples
    --------
    >>> js_distance([1, 0], [0, 1])
    1.0
    """
    p, q = _fractions(reference), _fractions(current)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    value = (kl(p) + kl(q)) / 2
    return float(math.sqrt(max(value, 0.0)))


def wasserstein(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    scale: float = 1.0,
) -> float:
    """Earth mover's distance between two histograms, divided by `scale`.

    The histograms have ``len(edges) + 1`` bins: below ``edges[0]``, between each pair
    of edges, and from ``edges[-1]`` up. Each bin's mass sits at its lower edge (the
    first at ``edges[0]``), the same for both histograms, so the distance is exact
    for data on the edges and a close lower bound otherwise.

    Examples
    --------
    >>> wasserstein([0.0, 1.0, 2.0], [0, 1, 1, 0], [0, 0, 1, 1])
    1.0
    """
    e = np.asarray(edges, dtype=np.float64)
    f_ref = np.cumsum(_fractions(reference))[:-1]
    f_cur = np.cumsum(_fractions(current))[:-1]
    # F is constant between consecutive edges: integrate |F_ref - F_cur| over them
    gaps = np.diff(e)
    value = float(np.sum(np.abs(f_ref[1:] - f_cur[1:])[: len(gaps)] * gaps))
    return value / scale if scale > 0 else value


def ks_test(
    reference: Sequence[float], current: Sequence[float]
) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov on binned data: (statistic, asymptotic p-value).

    The statistic is the largest CDF gap at a bin edge, which is the exact KS
    statistic of the binned samples; ties make the asymptotic p-value conservative.

    Examples
    --------
    >>> d, p = ks_test([100, 100], [100, 100])
    >>> d, p
    (0.0, 1.0)
    """
    from scipy.special import kolmogorov

    n, m = float(np.sum(reference)), float(np.sum(current))
    if n == 0 or m == 0:
        return 0.0, 1.0
    d = float(
        np.max(
            np.abs(np.cumsum(_fractions(reference)) - np.cumsum(_fractions(current)))
        )
    )
    # Smirnov's limiting distribution at the effective size (as R's ks.test for large
    # samples): microseconds, where scipy's finite-n kstwo costs milliseconds, and a
    # hair more conservative
    p = float(kolmogorov(math.sqrt(n * m / (n + m)) * d)) if d > 0 else 1.0
    return d, min(max(p, 0.0), 1.0)


def mean_test(
    n1: float, sum1: float, sumsq1: float, n2: float, sum2: float, sumsq2: float
) -> tuple[float, float]:
    """Two-sample z-test of means from counts, sums and sums of squares: (z, p).

    Examples
    --------
    >>> z, p = mean_test(100, 0.0, 100.0, 100, 0.0, 100.0)
    >>> z, p
    (0.0, 1.0)
    """
    from scipy.special import ndtr

    if n1 < 2 or n2 < 2:
        return 0.0, 1.0
    m1, m2 = sum1 / n1, sum2 / n2
    v1 = max(sumsq1 / n1 - m1 * m1, 0.0) * n1 / (n1 - 1)
    v2 = max(sumsq2 / n2 - m2 * m2, 0.0) * n2 / (n2 - 1)
    se = math.sqrt(v1 / n1 + v2 / n2)
    if se == 0:
        return 0.0, 1.0 if m1 == m2 else 0.0
    z = (m2 - m1) / se
    return z, float(2 * ndtr(-abs(z)))


def chi2_test(
    reference: Sequence[float], current: Sequence[float], min_expected: float = 5.0
) -> tuple[float, int, float]:
    """Two-sample chi-square test of homogeneity: (statistic, dof, p-value).

    Both samples are random: this is the test on the 2 x k contingency table, not a
    goodness-of-fit test against reference frequencies taken as exact. Cells whose
    expected count is below `min_expected` in either row are pooled into one cell
    (and that pool too, if it is still too sparse, into its neighbour).

    Examples
    --------
    >>> stat, dof, p = chi2_test([30, 30, 40], [30, 30, 40])
    >>> stat, dof, p
    (0.0, 2, 1.0)
    """
    from scipy.special import chdtrc

    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    n, m = a.sum(), b.sum()
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    if n == 0 or m == 0 or len(a) < 2:
        return 0.0, 0, 1.0
    share = min(n, m) / (n + m)  # the smaller row's expected share of a column
    sparse = (a + b) * share < min_expected
    if sparse.any():
        pooled_a, pooled_b = a[sparse].sum(), b[sparse].sum()
        a, b = a[~sparse], b[~sparse]
        if (pooled_a + pooled_b) * share >= min_expected or not len(a):
            a, b = np.append(a, pooled_a), np.append(b, pooled_b)
        else:  # the pool is still too sparse: merge it into the smallest cell
            k = int(np.argmin(a + b))
            a[k] += pooled_a
            b[k] += pooled_b
    if len(a) < 2:
        return 0.0, 0, 1.0
    total = a + b
    ea, eb = total * n / (n + m), total * m / (n + m)
    stat = float(np.sum((a - ea) ** 2 / ea) + np.sum((b - eb) ** 2 / eb))
    dof = len(a) - 1
    return stat, dof, float(chdtrc(dof, stat))


def pool_rare(
    reference: Sequence[float], current: Sequence[float], n: float
) -> tuple[list[float], list[float]]:
    """Both histograms with every cell a window of `n` rows expects < 5 times pooled.

    The rare cells are chosen from the reference and `n` alone, never from the
    current counts, so a test on the pooled table keeps its level.

    Examples
    --------
    >>> pool_rare([900, 60, 40], [45, 3, 2], 50)
    ([900, 100], [45, 5])
    """
    total = float(sum(reference))
    rare = [total > 0 and c * n / total < 5 for c in reference]
    ref = [c for c, r in zip(reference, rare, strict=True) if not r]
    cur = [c for c, r in zip(current, rare, strict=True) if not r]
    if any(rare):
        ref.append(sum(c for c, r in zip(reference, rare, strict=True) if r))
        cur.append(sum(c for c, r in zip(current, rare, strict=True) if r))
    return ref, cur


def two_proportions(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """Two-sided z-test that two rates are equal: (z, p-value).

    Examples
    --------
    >>> z, p = two_proportions(0, 1000, 0, 1000)
    >>> z, p
    (0.0, 1.0)
    """
    from scipy.special import ndtr

    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, float(2 * ndtr(-abs(z)))


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (reject where adjusted <= alpha).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if not len(p):
        return p
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out
