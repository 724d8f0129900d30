"""Permutation tests on binned counts: p-values that hold at any window size.

Asymptotic p-values (chi-square, Smirnov's limit) fail on small windows: with 20 rows
and 10 categories most expected counts are below one. Here, the window's counts are
compared with what random splits of the pooled counts give: conditionally on the pooled
histogram, the window's counts follow a multivariate hypergeometric law, so drawing
from it is an exact permutation test of the binned data (Monte Carlo over `DRAWS`
splits, p-value ``(1 + exceedances) / (1 + draws)``, never below its resolution).
Draws are seeded by the counts, so the same counts always get the same p-value.

Statistics, vectorised over rows of counts (one row per split):
`anderson_darling` (two-sample Anderson–Darling with ties, Scholz & Stephens 1987,
the midrank version; stronger than KS on shifts in location and tails) and
`chi_square` (homogeneity of the 2 x k table). Light core: numpy only.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

__all__ = ["DRAWS", "STAGES", "anderson_darling", "chi_square", "permutation_test"]

#: Random splits per test: p-values resolve to 1/2001, finer than any BH cut-off
#: of a few dozen features at alpha = 0.05 needs.
DRAWS = 2000

#: Where the test may stop early: after this many splits, if the p-value so far is
#: above the cut-off. A stop only ever accepts: the test continues past 50 splits only
#: when p <= 0.1, past 500 only when p <= 0.02, so a p-value at most alpha (any alpha
#: up to 0.1) is always that of a complete Monte Carlo test of 500 or 2,000 splits,
#: and the test stays valid at every level up to 0.1. A window without drift
#: costs about 125 splits on average instead of 2,000.
STAGES = ((50, 0.1), (500, 0.02))

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def anderson_darling(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Two-sample Anderson–Darling statistic on binned data, one per row of counts.

    Bins are the ordered distinct values; ties are handled with midranks
    (Scholz & Stephens' :math:`A^2_{akN}`).

    Examples
    --------
    >>> ref = np.array([[10, 20, 30, 40]])
    >>> float(anderson_darling(ref, ref)[0]) < 1e-12
    True
    >>> bool(anderson_darling(ref, np.array([[40, 30, 20, 10]]))[0] > 10)
    True
    """
    a = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    b = np.atleast_2d(np.asarray(current, dtype=np.float64))
    pooled = a + b
    n_a = a.sum(axis=1, keepdims=True)
    n_b = b.sum(axis=1, keepdims=True)
    total = n_a + n_b
    cum = np.cumsum(pooled, axis=1) - pooled / 2  # midrank cumulative pooled count
    denom = cum * (total - cum) - total * pooled / 4
    ok = (denom > 0) & (pooled > 0)
    safe = np.where(ok, denom, 1.0)
    value = np.zeros(len(pooled))
    for x, n in ((a, n_a), (b, n_b)):
        m = np.cumsum(x, axis=1) - x / 2
        term = pooled * (total * m - n * cum) ** 2 / safe
        value += np.where(ok, term, 0.0).sum(axis=1) / np.maximum(n[:, 0], 1.0)
    return value * (total[:, 0] - 1) / np.maximum(total[:, 0], 1.0) ** 2  # type: ignore[no-any-return]


def chi_square(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Pearson's chi-square of homogeneity of the 2 x k table, one per row of counts.

    Examples
    --------
    >>> chi_square(np.array([[30, 30, 40]]), np.array([[30, 30, 40]])).tolist()
    [0.0]
    """
    a = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    b = np.atleast_2d(np.asarray(current, dtype=np.float64))
    pooled = a + b
    n_a = a.sum(axis=1, keepdims=True)
    n_b = b.sum(axis=1, keepdims=True)
    total = np.maximum(n_a + n_b, 1.0)
    out = np.zeros(len(pooled))
    for x, n in ((a, n_a), (b, n_b)):
        expected = pooled * n / total
        cells = np.where(
            expected > 0,
            (x - expected) ** 2 / np.where(expected > 0, expected, 1.0),
            0.0,
        )
        out += cells.sum(axis=1)
    return out


def permutation_test(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    statistic: Statistic,
    *,
    draws: int = DRAWS,
    seed: int | None = None,
) -> tuple[float, float]:
    """(statistic, p-value) of `current` against `reference` by random splits.

    Each split draws a window of the same size from the pooled counts without
    replacement; the p-value is the share of splits at least as extreme, counting the
    observed split itself, so it is valid (never below ``alpha`` more often than
    ``alpha``) at any window size.

    Examples
    --------
    >>> stat, p = permutation_test([500, 500], [10, 10], chi_square)
    >>> stat, p
    (0.0, 1.0)
    >>> _, p = permutation_test([500, 500], [20, 0], chi_square)
    >>> p < 0.001
    True
    """
    ref = np.asarray(reference, dtype=np.int64)
    cur = np.asarray(current, dtype=np.int64)
    observed = float(statistic(ref[None, :], cur[None, :])[0])
    n = int(cur.sum())
    if n == 0 or int(ref.sum()) == 0:
        return observed, 1.0
    pooled = ref + cur
    keep = pooled > 0
    pooled, ref, cur = pooled[keep], ref[keep], cur[keep]
    if len(pooled) < 2:
        return observed, 1.0
    # seeded by the counts themselves: one answer per window, and windows do not all
    # share one set of splits (whose Monte Carlo error would then never average out)
    rng = np.random.default_rng(
        zlib.crc32(pooled.tobytes() + cur.tobytes()) if seed is None else seed
    )
    # drawing one row at a time costs O(window); one category at a time O(categories)
    method: Literal["count", "marginals"] = (
        "count" if n < 300 and pooled.sum() < 10**9 else "marginals"
    )
    # equal statistics count as extreme: a relative tolerance absorbs rounding
    bar = observed * (1 - 1e-9) - 1e-12
    done, extreme = 0, 0
    for stop_at, above in (*STAGES, (draws, None)):
        size = min(stop_at, draws) - done
        if size <= 0:
            continue
        split = rng.multivariate_hypergeometric(pooled, n, size=size, method=method)
        null = statistic(pooled[None, :] - split, split)
        done += size
        extreme += int(np.count_nonzero(null >= bar))
        if above is not None and (1 + extreme) / (1 + done) > above:
            break  # more splits would not bring p under the cut-off that matters
    return observed, (1 + extreme) / (1 + done)
