"""Performance figures with confidence intervals, from labels and the model's answers.

One definition serves three places: the holdout figures `fk.export` stores, the online
figures the server keeps as labels arrive, and the windows of `fk.evaluate`. numpy only.

Every figure comes with a 95 % interval:

- accuracy: Wilson's score interval;
- balanced accuracy, log loss, Brier score, MAE: a normal interval on per-row terms
  (balanced accuracy by the delta method over per-class recalls);
- RMSE: the delta method on the mean squared error;
- R²: the delta method on MSE over the label variance (approximate);
- ROC AUC (two classes): DeLong's variance.

Examples
--------
>>> import numpy as np
>>> m = classification([0, 1, 1, 0], np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]), [0, 1])
>>> round(m["accuracy"]["value"], 2), round(m["roc_auc"]["value"], 2)
(0.75, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "CLASSIFIER_METRICS",
    "DEFAULT_MARGINS",
    "HIGHER_IS_BETTER",
    "REGRESSOR_METRICS",
    "brier_terms",
    "class_index",
    "classification",
    "decay_line",
    "delong",
    "delong_components",
    "from_indices",
    "ipw_accuracy",
    "log_loss_terms",
    "regression",
    "wilson",
]

CLASSIFIER_METRICS = ("accuracy", "balanced_accuracy", "log_loss", "brier", "roc_auc")
REGRESSOR_METRICS = ("mae", "rmse", "r2")
#: Whether a larger value is better, per metric (decay is a move the other way).
HIGHER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "log_loss": False,
    "brier": False,
    "roc_auc": True,
    "mae": False,
    "rmse": False,
    "r2": True,
}
#: How much worse than the holdout a metric may be before it counts as decay.
DEFAULT_MARGINS: dict[str, float | str] = {
    "accuracy": 0.02,
    "balanced_accuracy": 0.02,
    "roc_auc": 0.02,
    "log_loss": 0.05,
    "brier": 0.02,
    "mae": "10%",
    "rmse": "10%",
    "r2": 0.05,
}
_Z = 1.959963984540054  # the normal 97.5 % quantile: two-sided 95 % intervals
_EPS = 1e-15  # log loss clips probabilities as scikit-learn does


def _figure(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"value": float(value), "low": float(low), "high": float(high), "n": int(n)}


def _mean_interval(terms: np.ndarray) -> dict[str, Any]:
    n = terms.size
    mean = float(terms.mean())
    half = _Z * float(terms.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    return _figure(mean, mean - half, mean + half, n)


def wilson(successes: int, n: int) -> dict[str, Any]:
    """A proportion with Wilson's 95 % score interval.

    >>> w = wilson(8, 10)
    >>> round(w["low"], 3), round(w["high"], 3)
    (0.49, 0.943)
    """
    if n == 0:
        return _figure(math.nan, 0.0, 1.0, 0)
    p = successes / n
    z2 = _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return _figure(p, max(0.0, centre - half), min(1.0, centre + half), n)


def class_index(
    labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]
) -> np.ndarray:
    """Each label's column in `classes` (compared as text, as the log stores them); -1 if none."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    return np.fromiter(
        (lookup.get(str(v), -1) for v in labels), dtype=np.int64, count=len(labels)
    )


def delong(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's variance of it, for 0/1 labels `y` and scores.

    The fast form (Sun and Xu, 2014): midranks of the positives and negatives among
    themselves and together.

    >>> auc, var = delong(np.array([0, 0, 1, 1]), np.array([.1, .4, .35, .8]))
    >>> auc
    0.75
    """
    v10, v01 = delong_components(y, score)
    m, n = v10.size, v01.size
    if m == 0 or n == 0:
        return math.nan, math.nan
    auc = float(v10.mean())
    s10 = float(v10.var(ddof=1)) if m > 1 else 0.0
    s01 = float(v01.var(ddof=1)) if n > 1 else 0.0
    return auc, s10 / m + s01 / n


def delong_components(
    y: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components of the ROC AUC of `score` for 0/1 labels `y`.

    Per positive, the share of negatives scored below it; per negative, the share of
    positives scored above it (ties count half). Their means are the AUC; their
    (co)variances give DeLong's variance of one AUC, or of the difference of two
    models' AUCs on the same rows (`featurekit.comparing`).

    >>> v10, v01 = delong_components(np.array([0, 1, 1]), np.array([.2, .1, .9]))
    >>> v10.tolist(), v01.tolist()
    ([0.0, 1.0], [0.5])
    """
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    pos, neg = score[y], score[~y]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        return np.empty(m), np.empty(n)
    # one sort: the positives' and the negatives' own orders are its subsequences
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="mergesort")
    ordered = both[order]
    is_pos = order < m
    all_ranks = np.empty(m + n)
    all_ranks[order] = _sorted_midranks(ordered)
    pos_ranks, neg_ranks = np.empty(m), np.empty(n)
    pos_ranks[order[is_pos]] = _sorted_midranks(ordered[is_pos])
    neg_ranks[order[~is_pos] - m] = _sorted_midranks(ordered[~is_pos])
    v10 = (all_ranks[:m] - pos_ranks) / n  # per positive: share of negatives below
    v01 = (
        1.0 - (all_ranks[m:] - neg_ranks) / m
    )  # per negative: share of positives above
    return v10, v01


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = _sorted_midranks(x[order])
    return ranks


def _sorted_midranks(ordered: np.ndarray) -> np.ndarray:
    """`_midranks` of values already in ascending order."""
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    return np.repeat((starts + ends + 1) / 2.0, ends - starts)


def log_loss_terms(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per row, minus the log of the probability of its class (`y`: class indices).

    >>> log_loss_terms(np.array([1]), np.array([[0.5, 0.5]])).round(4).tolist()
    [0.6931]
    """
    p_true = np.clip(np.asarray(proba, np.float64)[np.arange(len(y)), y], _EPS, 1.0)
    return -np.log(p_true)  # type: ignore[no-any-return]


def brier_terms(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per row, the Brier score (`y`: class indices).

    scikit-learn's binary Brier score (the positive class) for two classes, the
    multi-class sum over classes otherwise.

    >>> brier_terms(np.array([1]), np.array([[0.25, 0.75]])).tolist()
    [0.0625]
    """
    proba = np.asarray(proba, dtype=np.float64)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    if proba.shape[1] == 2:
        return (proba[:, 1] - onehot[:, 1]) ** 2  # type: ignore[no-any-return]
    return ((proba - onehot) ** 2).sum(axis=1)  # type: ignore[no-any-return]


def classification(
    labels: Sequence[Any] | np.ndarray,
    probabilities: np.ndarray | None,
    classes: Sequence[Any],
    *,
    predicted: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Accuracy, balanced accuracy, log loss, Brier score and ROC AUC, with intervals.

    Parameters
    ----------
    labels : array-like
        True labels, matched to `classes` as text; labels of no class raise.
    probabilities : ndarray (n, k) or None
        Columns in `classes` order. Without them only the label-based figures.
    classes : list
    predicted : array-like, optional
        The served labels; default: the argmax of `probabilities`.
    """
    y = class_index(labels, classes)
    if (y < 0).any():
        bad = [labels[i] for i in np.flatnonzero(y < 0)[:5]]
        raise ValueError(f"Labels {bad!r} are none of the classes {list(classes)!r}.")
    if predicted is not None:
        yhat = class_index(predicted, classes)
    elif probabilities is not None:
        yhat = np.asarray(probabilities).argmax(axis=1)
    else:
        raise ValueError(
            "classification needs the probabilities or the predicted labels."
        )
    return from_indices(y, yhat, probabilities)


def from_indices(
    y: np.ndarray, yhat: np.ndarray, probabilities: np.ndarray | None
) -> dict[str, dict[str, Any]]:
    """`classification` on class indices (columns of `probabilities`) already found."""
    n = y.size
    out: dict[str, dict[str, Any]] = {}
    if n == 0:
        return out
    correct = yhat == y
    out["accuracy"] = wilson(int(correct.sum()), n)
    recalls, variances = [], []
    for k in np.unique(y):
        hits = correct[y == k]
        r = float(hits.mean())
        recalls.append(r)
        variances.append(r * (1 - r) / hits.size)
    ba = float(np.mean(recalls))
    half = _Z * math.sqrt(sum(variances)) / len(recalls)
    out["balanced_accuracy"] = _figure(ba, ba - half, ba + half, n)
    if probabilities is not None:
        proba = np.asarray(probabilities, dtype=np.float64)
        rows = np.arange(n)
        p_true = np.clip(proba[rows, y], _EPS, 1.0)
        out["log_loss"] = _mean_interval(-np.log(p_true))
        # the binary Brier score of scikit-learn (positive class) for two classes,
        # the multi-class sum over classes otherwise
        if proba.shape[1] == 2:
            brier = (proba[:, 1] - (y == 1)) ** 2
        else:
            onehot = np.zeros_like(proba)
            onehot[rows, y] = 1.0
            brier = ((proba - onehot) ** 2).sum(axis=1)
        out["brier"] = _mean_interval(brier)
        if proba.shape[1] == 2:
            auc, var = delong(y == 1, proba[:, 1])
            if not math.isnan(auc):
                half = _Z * math.sqrt(var)
                out["roc_auc"] = _figure(
                    auc, max(0.0, auc - half), min(1.0, auc + half), n
                )
    return out


#: Inverse-propensity weights are clipped here (a propensity below 1/20 counts as 1/20).
IPW_CLIP = 20.0


def ipw_accuracy(propensity: np.ndarray, hit: np.ndarray) -> dict[str, Any] | None:
    """The model's accuracy over all served rows, from labels of the rows acted on.

    Self-normalised inverse-propensity weighting: each labelled row weighs 1 / the
    probability its decision was served with (clipped at `IPW_CLIP`), so rows whose
    decision was rarely served (explored) stand for the many that went unlabelled.
    Rows without a propensity (NaN: no exploration) are left out; None if none has one.

    >>> f = ipw_accuracy(np.array([0.9, 0.9, 0.1]), np.array([True, True, False]))
    >>> round(f["value"], 3)
    0.182
    """
    known = ~np.isnan(propensity)
    if not known.any():
        return None
    w = np.minimum(1.0 / propensity[known], IPW_CLIP)
    h = hit[known].astype(np.float64)
    est = float((w * h).sum() / w.sum())
    half = _Z * float(np.sqrt((w**2 * (h - est) ** 2).sum())) / w.sum()
    return _figure(est, max(0.0, est - half), min(1.0, est + half), int(known.sum()))


def regression(
    labels: Sequence[float] | np.ndarray, predictions: Sequence[float] | np.ndarray
) -> dict[str, dict[str, Any]]:
    """MAE, RMSE and R², with intervals.

    >>> m = regression([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    >>> m["mae"]["value"], round(m["rmse"]["value"], 4)
    (0.25, 0.3536)
    """
    y = np.asarray(labels, dtype=np.float64)
    yhat = np.asarray(predictions, dtype=np.float64)
    n = y.size
    if n == 0:
        return {}
    err = yhat - y
    out = {"mae": _mean_interval(np.abs(err))}
    sq = err * err
    mse = _mean_interval(sq)
    rmse = math.sqrt(mse["value"])
    # delta method: d sqrt(m) = dm / (2 sqrt(m))
    half = (mse["high"] - mse["value"]) / (2 * rmse) if rmse > 0 else 0.0
    out["rmse"] = _figure(rmse, max(0.0, rmse - half), rmse + half, n)
    var_y = float(y.var())
    if n > 1 and var_y > 0:
        r2 = 1.0 - mse["value"] / var_y
        half = (mse["high"] - mse["value"]) / var_y
        out["r2"] = _figure(r2, r2 - half, r2 + half, n)
    return out


def _margin(metric: str, holdout: float, margin: float | str | None) -> float:
    m = DEFAULT_MARGINS[metric] if margin is None else margin
    try:
        if isinstance(m, str) and m.endswith("%"):
            value = abs(holdout) * float(m[:-1]) / 100
        else:
            value = float(m)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"margin must be a number >= 0 or a percentage like '10%', got {m!r}."
        )
    return value


def decay_line(metric: str, holdout: float, margin: float | str | None = None) -> float:
    """The holdout's `metric` moved by its margin towards worse: where decay begins.

    A window whose whole 95 % interval lies beyond this line is *worse*
    (`DEFAULT_MARGINS` unless `margin` is given; "N%" is relative to the holdout).

    Examples
    --------
    >>> decay_line("accuracy", 0.84), decay_line("mae", 20.0)
    (0.82, 22.0)
    """
    delta = _margin(metric, holdout, margin)
    return holdout - delta if HIGHER_IS_BETTER[metric] else holdout + delta
