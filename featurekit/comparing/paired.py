"""One paired comparison: both models' metric on the same rows, its test and interval.

The *improvement* is the challenger's metric minus the champion's, signed so that a
positive improvement is better (for losses, the champion's minus the challenger's).
With a non-inferiority margin ``m`` (in the metric's units, 0 by default):

- ``p_better`` tests H0: improvement <= -m against H1: improvement > -m. With
  ``m = 0`` that is superiority: for accuracy the one-sided McNemar mid-p test,
  for ROC AUC DeLong's z, for every other metric the paired bootstrap.
- ``p_worse`` tests H0: improvement >= -m against H1: improvement < -m; the slices
  use it to find where the challenger is worse by more than the margin.
- ``ci`` is the two-sided ``1 - 2 alpha`` interval of the improvement, so its lower
  bound is the one-sided level-``alpha`` bound the decision reads.
- ``detectable`` is the smallest improvement a one-sided test at this many rows
  finds with 80 % power.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from featurekit.comparing import stats
from featurekit.comparing.metrics import Metric, Outputs

__all__ = ["paired"]


def paired(
    metric: Metric,
    y: np.ndarray,
    champion: Outputs,
    challenger: Outputs,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    replicates: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two models' outputs on the same labelled rows.

    Parameters
    ----------
    metric : Metric
    y : ndarray
        Class indices (classifiers) or numbers (regressors).
    champion, challenger : dict of str to ndarray
        Each model's outputs on the same rows (``label``, ``probabilities`` or
        ``prediction``).
    margin : float
        How much worse the challenger may be and still pass, in metric units.
    alpha : float
        One-sided level of the tests.
    replicates, seed : int
        Of the paired bootstrap.

    Returns
    -------
    dict
        ``rows``, ``champion``, ``challenger``, ``improvement``, ``ci_low``,
        ``ci_high``, ``se``, ``test``, ``statistic``, ``p_value`` (two-sided, no
        difference), ``p_better``, ``p_worse``, ``detectable``.

    Examples
    --------
    >>> from featurekit.comparing.metrics import metric_named
    >>> y = np.array([0, 1] * 50)
    >>> r = paired(metric_named("accuracy"), y, {"label": 1 - y}, {"label": y})
    >>> r["improvement"], r["p_better"] < 1e-20
    (1.0, True)
    """
    n = len(y)
    a, b = metric.value(y, champion), metric.value(y, challenger)
    sign = 1.0 if metric.higher_is_better else -1.0
    improvement = sign * (b - a)
    out: dict[str, Any] = {
        "rows": n,
        "champion": a,
        "challenger": b,
        "improvement": improvement,
    }
    if metric.test == "delong":
        pos = np.asarray(y) == 1
        d = stats.delong(pos, champion["probabilities"][:, 1],
                         challenger["probabilities"][:, 1])  # fmt: skip
        se = d["se"]
        z = _z(improvement + margin, se)
        half = _normal_quantile(1 - alpha) * se
        out.update(
            test="DeLong",
            statistic=d["statistic"],
            p_value=d["p_value"],
            ci_low=improvement - half,
            ci_high=improvement + half,
            **_normal_tails(z),
        )
    else:
        reps = _replicates(metric, y, champion, challenger, replicates, seed) * sign
        se = float(reps.std(ddof=1)) if len(reps) > 1 else 0.0
        out.update(
            ci_low=float(np.quantile(reps, alpha)),
            ci_high=float(np.quantile(reps, 1 - alpha)),
        )
        if metric.test == "mcnemar":
            assert metric.per_row is not None  # accuracy is a mean of per-row hits
            right_a = metric.per_row(y, champion) > 0
            right_b = metric.per_row(y, challenger) > 0
            m = stats.mcnemar(right_a, right_b)
            # the analytic standard error of a paired difference of proportions
            disc = (m["b"] + m["c"]) / n
            se = math.sqrt(max(disc - improvement**2, 0.0) / n)
            out.update(test="McNemar mid-p", statistic=m["statistic"],
                       p_value=m["p_value"], b=m["b"], c=m["c"],
                       p_better_exact=m["p_greater"])  # fmt: skip
            if margin == 0.0:
                out.update(p_better=m["p_greater_mid"], p_worse=m["p_less_mid"])
            else:
                out.update(_normal_tails(_z(improvement + margin, se)))
        else:
            # the percentile bootstrap test: the share of replicates beyond -margin
            k = len(reps)
            below = int(np.sum(reps <= -margin))
            above = int(np.sum(reps >= -margin))
            two = min(
                1.0, 2 * (1 + min(np.sum(reps <= 0), np.sum(reps >= 0))) / (k + 1)
            )
            out.update(
                test="paired bootstrap",
                statistic=improvement / se if se > 0 else 0.0,
                p_value=float(two),
                p_better=(1 + below) / (k + 1),
                p_worse=(1 + above) / (k + 1),
            )
    out["se"] = se
    out["detectable"] = stats.detectable(se, alpha=alpha)
    return out


def _replicates(
    metric: Metric,
    y: np.ndarray,
    champion: Outputs,
    challenger: Outputs,
    replicates: int,
    seed: int,
) -> np.ndarray:
    """Bootstrap replicates of challenger minus champion (the raw metric difference)."""
    assert metric.per_row is not None  # only DeLong's metric has no per-row form
    ra = metric.per_row(y, champion)
    rb = metric.per_row(y, challenger)
    finish = metric.finish
    if finish is None:
        d = rb - ra

        def statistic(idx: np.ndarray) -> np.ndarray:
            return np.asarray(d[idx].mean(axis=1))
    else:

        def statistic(idx: np.ndarray) -> np.ndarray:
            return np.asarray(
                finish(rb[idx].mean(axis=1)) - finish(ra[idx].mean(axis=1))
            )

    return stats.bootstrap(statistic, len(y), replicates=replicates, seed=seed)


def _z(shifted: float, se: float) -> float:
    if se > 0:
        return shifted / se
    return math.copysign(math.inf, shifted) if shifted else 0.0


def _normal_quantile(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


def _normal_tails(z: float) -> dict[str, float]:
    """One-sided p-values of z: H1 improvement > -margin, and < -margin."""
    from scipy.stats import norm

    return {"p_better": float(norm.sf(z)), "p_worse": float(norm.cdf(z))}
