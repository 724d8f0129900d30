"""Paired tests of two models on the same rows: McNemar (exact, mid-p), DeLong, bootstrap.

Every function here takes per-row arrays of the two models (champion first) and
returns plain numbers, so the comparison, its slices and the simulations in
``bench/compare_power.py`` all call the same code.

- `mcnemar`: the exact (binomial) McNemar test on the discordant pairs, as
  ``statsmodels.stats.contingency_tables.mcnemar(table, exact=True)``, and its
  one-sided mid-p values. The exact test's size is below alpha by up to half a
  binomial step (4.7 % at alpha = 0.05 and 1,600 discordant rows), which costs
  power; the mid-p test's size stays at alpha on average over the discordant count
  (Fagerland, Lydersen and Laake, BMC Med. Res. Methodol. 13:91, 2013), so the
  promotion decision reads the mid-p (bench/compare_power.py computes both exactly).
- `delong`: DeLong's test of two correlated ROC AUCs, from the structural components
  of `featurekit.outcomes.metrics.delong_components` (the midrank form of Sun and
  Xu, 2014: O(n log n) instead of the O(n²) Mann–Whitney kernel it equals).
- `bootstrap`: paired bootstrap replicates of a metric's difference (the same
  resampled rows for both models), for any metric.
- `holm`: Holm's step-down adjustment, for the slices.
- `detectable`: the smallest difference a one-sided test finds with 80 % power.

Light: numpy and scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from featurekit.outcomes.metrics import delong_components

__all__ = ["bootstrap", "delong", "detectable", "holm", "mcnemar"]

#: Resampled rows per chunk of bootstrap replicates (bounds the memory to ~80 MB).
CHUNK_CELLS = 10_000_000


def mcnemar(
    champion_right: np.ndarray, challenger_right: np.ndarray
) -> dict[str, float]:
    """Exact McNemar test on paired correct/incorrect outcomes.

    Parameters
    ----------
    champion_right, challenger_right : ndarray of bool
        Whether each model got each row right.

    Returns
    -------
    dict
        ``b`` (rows only the champion got right), ``c`` (only the challenger),
        ``statistic`` (min(b, c), as statsmodels reports it), ``p_value`` (two-sided,
        as statsmodels), ``p_greater`` (one-sided: the challenger is better) and
        ``p_less`` (one-sided: the challenger is worse), and their mid-p versions
        ``p_greater_mid`` and ``p_less_mid`` (half the probability of the observed
        count moved out of the tail: Lancaster's mid-p, which the decision reads).

    Examples
    --------
    >>> r = mcnemar(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 1, 1], bool))
    >>> r["b"], r["c"], round(r["p_value"], 4)
    (1, 2, 1.0)
    """
    from scipy.stats import binom

    a = np.asarray(champion_right, dtype=bool)
    z = np.asarray(challenger_right, dtype=bool)
    b = int(np.sum(a & ~z))
    c = int(np.sum(~a & z))
    n = b + c
    if n == 0:
        return {"b": b, "c": c, "statistic": 0.0, "p_value": 1.0,
                "p_greater": 1.0, "p_less": 1.0,
                "p_greater_mid": 1.0, "p_less_mid": 1.0}  # fmt: skip
    p_two = min(1.0, 2.0 * float(binom.cdf(min(b, c), n, 0.5)))
    p_greater = float(binom.sf(c - 1, n, 0.5))  # P(C >= c) when neither is better
    p_less = float(binom.cdf(c, n, 0.5))  # P(C <= c)
    half = 0.5 * float(binom.pmf(c, n, 0.5))  # half of P(C = c)
    return {"b": b, "c": c, "statistic": float(min(b, c)), "p_value": p_two,
            "p_greater": p_greater, "p_less": p_less,
            "p_greater_mid": p_greater - half, "p_less_mid": p_less - half}  # fmt: skip


def delong(
    positive: np.ndarray, champion: np.ndarray, challenger: np.ndarray
) -> dict[str, float]:
    """DeLong's test of the difference of two ROC AUCs on the same rows.

    Parameters
    ----------
    positive : ndarray of bool
        Whether each row's label is the positive class.
    champion, challenger : ndarray of float
        Each model's score for the positive class.

    Returns
    -------
    dict
        ``champion`` and ``challenger`` (the AUCs), ``difference`` (challenger minus
        champion), ``se`` (its standard error), ``statistic`` (z), ``p_value``
        (two-sided).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1], bool)
    >>> r = delong(y, np.array([0.1, 0.6, 0.4, 0.9]), np.array([0.1, 0.2, 0.8, 0.9]))
    >>> r["champion"], r["challenger"]
    (0.75, 1.0)
    """
    from scipy.stats import norm

    pos = np.asarray(positive, dtype=bool)
    m, n = int(pos.sum()), int((~pos).sum())
    if m == 0 or n == 0:
        raise ValueError(
            f"ROC AUC needs both classes among the rows; got {m} positive and {n} "
            "negative. Compare on rows with both classes, or use another metric."
        )
    comps = [
        delong_components(pos, np.asarray(s, dtype=np.float64))
        for s in (champion, challenger)
    ]
    v10 = [c[0] for c in comps]
    v01 = [c[1] for c in comps]
    aucs = [float(c[0].mean()) for c in comps]
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    contrast = np.array([-1.0, 1.0])
    var = float(contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n)
    diff = aucs[1] - aucs[0]
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        z, p = 0.0, 1.0 if diff == 0 else 0.0
    else:
        z = diff / se
        p = float(2 * norm.sf(abs(z)))
    return {"champion": aucs[0], "challenger": aucs[1], "difference": diff,
            "se": se, "statistic": z, "p_value": p}  # fmt: skip


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    replicates: int,
    seed: int,
) -> np.ndarray:
    """Paired bootstrap replicates: `statistic` on resampled row indices.

    Parameters
    ----------
    statistic : callable
        Takes an (r, n) array of row indices (each row one resample of the same
        rows for both models) and returns r values, e.g. the difference of a metric.
    n : int
        Rows.
    replicates : int
    seed : int

    Returns
    -------
    ndarray of shape (replicates,)

    Examples
    --------
    >>> d = np.array([0.0, 1.0, 1.0, 0.0])
    >>> reps = bootstrap(lambda idx: d[idx].mean(axis=1), 4, replicates=200, seed=0)
    >>> reps.shape, bool(0 <= reps.min() <= reps.max() <= 1)
    ((200,), True)
    """
    rng = np.random.default_rng(seed)
    out = np.empty(replicates, dtype=np.float64)
    step = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, replicates, step):
        r = min(step, replicates - start)
        out[start : start + r] = statistic(rng.integers(0, n, size=(r, n)))
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    k = len(p)
    if k == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
    out = np.empty(k)
    out[order] = np.minimum(stepped, 1.0)
    return out


def detectable(se: float, *, alpha: float, power: float = 0.8) -> float:
    """The smallest true difference a one-sided level-`alpha` test finds with `power`.

    ``(z(1 - alpha) + z(power)) * se``, with `se` the standard error of the
    difference at the rows at hand.

    Examples
    --------
    >>> round(detectable(0.01, alpha=0.05), 4)
    0.0249
    """
    from scipy.stats import norm

    return float((norm.ppf(1 - alpha) + norm.ppf(power)) * se)
