"""Performance estimated without labels (confidence-based, CBPE-style), per window.

Labels arrive late; the model's scores arrive with every row. If the model is
calibrated (among rows scored s, a share s is right), the window's scores alone give an
expected accuracy, and for two classes an expected ROC AUC. At export, with
``holdout_y``, the profile stores a calibration map on the bins of the monitored score
(``output:score``: P(second class) for two classes, the top probability otherwise;
for two classes an edge sits at 0.5, so each bin predicts one class): per bin, the
holdout's share of positives (two classes) or of right answers (more). The map is
*binned* (those shares) when 2-fold cross-fitting on the holdout shows it lowers the
Brier score of the model's own probabilities, and *identity* (the model's mean
probability in the bin) otherwise.

A window is then summarised by the counts the monitor already keeps: rows per score
bin. The estimate is the expectation under the map; its 95 % interval comes from a
parametric bootstrap that draws both the map (Beta posteriors from the holdout's bin
counts) and the window's outcomes (binomial per bin). It assumes what the map was
checked on: calibration on the holdout (its Brier score and expected calibration error
are shown) and rows like the reference's (the share of values outside the reference's
support is shown). A pure concept shift, where the same inputs now mean other labels,
is its blind spot: scores do not move, so neither does the estimate. Light core: numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["build_estimate", "estimate", "window_estimate"]

#: Bootstrap replicates of the interval.
REPLICATES = 2000
#: Prior counts added to each bin's hits and misses (Jeffreys).
PRIOR = 0.5


def build_estimate(
    edges: Sequence[float],
    probabilities: np.ndarray,
    y: np.ndarray,
    predicted: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The profile's ``estimate`` entry, from the holdout's answers and labels.

    Parameters
    ----------
    edges : list of float
        The ``output:score`` bins' edges.
    probabilities : ndarray (n, k)
        The graph's probabilities on the holdout rows.
    y, predicted : ndarray of int
        True and predicted class indices.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p1 = rng.random(2000)
    >>> y = (rng.random(2000) < p1).astype(int)
    >>> proba = np.column_stack([1 - p1, p1])
    >>> e = build_estimate([0.0, 0.25, 0.5, 0.75, 1.0], proba, y, (p1 > 0.5) * 1, rng)
    >>> e["kind"], e["map"], len(e["hits"])
    ('binary', 'identity', 6)
    """
    proba = np.asarray(probabilities, dtype=np.float64)
    binary = proba.shape[1] == 2
    score = proba[:, 1] if binary else proba.max(axis=1)
    target = (y == 1) if binary else (y == predicted)
    e = np.asarray(edges, dtype=np.float64)
    bins = np.searchsorted(e, score, side="right")
    size = len(e) + 1
    rows = np.bincount(bins, minlength=size).astype(np.float64)
    hits = np.bincount(bins, weights=target, minlength=size)
    mean_score = np.bincount(bins, weights=score, minlength=size) / np.maximum(rows, 1)
    # 2-fold cross-fitting: does the binned map beat the model's own probabilities?
    half = rng.permutation(len(score)) < len(score) // 2
    brier_binned = 0.0
    for fit in (half, ~half):
        r = np.bincount(bins[fit], minlength=size)
        h = np.bincount(bins[fit], weights=target[fit], minlength=size)
        c = (h + PRIOR) / (r + 2 * PRIOR)
        brier_binned += float(np.sum((c[bins[~fit]] - target[~fit]) ** 2))
    brier_binned /= len(score)
    brier_model = float(np.mean((score - target) ** 2))
    binned = brier_binned < brier_model
    calibrated = (hits + PRIOR) / (rows + 2 * PRIOR) if binned else mean_score
    present = rows > 0
    ece_model = float(np.sum(np.abs(hits - rows * mean_score)[present]) / len(score))
    return {
        "kind": "binary" if binary else "multiclass",
        "map": "binned" if binned else "identity",
        "calibrated": calibrated.tolist(),
        "hits": hits.tolist(),
        "rows": rows.tolist(),
        "holdout_rows": len(score),
        "holdout_accuracy": float(np.mean(y == predicted)),
        "brier_model": brier_model,
        "brier_binned": brier_binned,
        "ece_model": ece_model,
        # two classes: the bins at or above 0.5 predict the second class
        "predicts_positive": (np.concatenate([[-np.inf], e]) >= 0.5).tolist(),
    }


def estimate(
    entry: Mapping[str, Any], window: Sequence[int], *, seed: int = 0
) -> dict[str, Any]:
    """Estimated accuracy (and ROC AUC for two classes) of a window, with 95 % intervals.

    `window` holds the window's rows per ``output:score`` bin.

    Examples
    --------
    >>> entry = {"kind": "binary", "calibrated": [0.1, 0.9], "hits": [10, 90],
    ...          "rows": [100, 100], "predicts_positive": [False, True]}
    >>> est = estimate(entry, [500, 500])
    >>> round(est["accuracy"], 3), round(est["roc_auc"], 3)
    (0.9, 0.9)
    """
    n = np.asarray(window, dtype=np.float64)
    total = float(n.sum())
    c = np.asarray(entry["calibrated"], dtype=np.float64)
    out: dict[str, Any] = {"rows": int(total), "map": entry.get("map")}
    if total == 0:
        return {**out, "accuracy": None, "accuracy_ci95": None}
    binary = entry["kind"] == "binary"
    positive = np.asarray(entry.get("predicts_positive", []), dtype=bool)

    def accuracy(p: np.ndarray, k: np.ndarray | None) -> np.ndarray:
        """Accuracy from P(positive, or right) per bin, or from drawn counts `k`."""
        right = p * n if k is None else k
        if binary:  # a bin below 0.5 predicts the first class: its negatives are right
            right = np.where(positive, right, n - right)
        return np.asarray(right.sum(axis=-1) / total)

    out["accuracy"] = float(accuracy(c, None))
    # the bootstrap: the map drawn from its holdout counts, then the window's outcomes
    rng = np.random.default_rng(seed)
    hits = np.asarray(entry["hits"], dtype=np.float64)
    rows = np.asarray(entry["rows"], dtype=np.float64)
    shift = c - (hits + PRIOR) / (rows + 2 * PRIOR)  # identity: centre on its values
    drawn = np.clip(
        rng.beta(hits + PRIOR, rows - hits + PRIOR, (REPLICATES, len(c))) + shift,
        0.0,
        1.0,
    )
    k = rng.binomial(n.astype(np.int64), drawn).astype(np.float64)
    out["accuracy_ci95"] = _interval(accuracy(drawn, k))
    if binary:
        out["roc_auc"] = float(_auc(n * c, n * (1 - c)))
        out["roc_auc_ci95"] = _interval(_auc(k, n - k))
    return out


def _auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC AUC of binned scores from positives and negatives per bin (ties count half)."""
    pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
    below = np.cumsum(neg, axis=1) - neg  # negatives in lower bins
    won = (pos * (below + neg / 2)).sum(axis=1)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    return np.where(pairs > 0, won / np.where(pairs > 0, pairs, 1.0), np.nan).squeeze()


def _interval(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(finite, [0.025, 0.975])
    return [float(lo), float(hi)]


def window_estimate(profile: Mapping[str, Any], counts: Any) -> dict[str, Any] | None:
    """The estimate of a window's `counts` (`Counts`), with its assumptions' checks.

    None without an ``estimate`` in the profile or without the window's scores
    (outputs not monitored). Everything in it is an estimate, and says so.
    """
    entry = profile.get("estimate")
    bins = counts.bins.get("output:score")
    if entry is None or bins is None:
        return None
    out = {"label": "estimate", **estimate(entry, bins.counts)}
    out.update(
        holdout_accuracy=entry["holdout_accuracy"],
        calibration={
            "map": entry["map"],
            "brier_model": entry["brier_model"],
            "brier_binned": entry["brier_binned"],
            "ece_model": entry["ece_model"],
        },
        outside_support=_outside_support(profile, counts),
    )
    return out


def _outside_support(profile: Mapping[str, Any], counts: Any) -> dict[str, Any]:
    """The input with the largest share of values outside the reference's support.

    Numbers below the reference's minimum or above its maximum (the under- and
    overflow bins), categories the reference never had. Rows with any such value are
    at least this share; the estimate's map was never checked on them.
    """
    share, worst = 0.0, None
    for name, f in profile["features"].items():
        if f["output"]:
            continue
        b = counts.bins[name]
        present = b.rows - b.missing
        if present <= 0:
            continue
        c = b.counts
        out = c[0] + c[-1] if f["kind"] == "numeric" else b.unseen
        if out / present > share:
            share, worst = out / present, name
    return {"share": share, "feature": worst}
