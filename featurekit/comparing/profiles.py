"""Drift between two artifacts' reference profiles: was the challenger fed other data.

The challenger's reference histograms are counted over the champion's bins and then
judged by the monitoring decision rule (`featurekit.monitoring.verdicts.evaluate`),
exactly as a window of live traffic would be: an effect size above the champion's
calibrated threshold and a significant test after Benjamini–Hochberg.

Categories map by name (the challenger's categories the champion never saw count as
unseen). Numeric histograms whose edges differ are re-binned: each challenger bin's
rows are spread evenly over its width, so the counts over the champion's edges are
an approximation (``rebinned`` says so); the missing counts and the sums behind the
mean test are exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featurekit.monitoring.counts import Counts
from featurekit.monitoring.verdicts import evaluate

__all__ = ["profile_drift", "rebin"]


def profile_drift(
    champion: dict[str, Any] | None, challenger: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Per feature both profiles share: the challenger's reference against the champion's.

    Parameters
    ----------
    champion, challenger : dict or None
        The artifacts' ``profile.json`` (None: exported without one; nothing to
        compare, an empty list).

    Returns
    -------
    list of dict
        The rows of `evaluate` (feature, kind, verdict, signals, effect, threshold,
        p-values, missing rates...), each with ``rebinned``.

    Examples
    --------
    >>> from featurekit.monitoring.profile import build_profile
    >>> a = build_profile({"x": np.arange(2000.0)}, {})
    >>> b = build_profile({"x": np.arange(2000.0) + 1500}, {})
    >>> [(r["feature"], r["verdict"]) for r in profile_drift(a, b)]
    [('x', 'drift')]
    """
    if champion is None or challenger is None:
        return []
    shared = {
        name: f
        for name, f in champion["features"].items()
        if name in challenger["features"]
        and challenger["features"][name]["kind"] == f["kind"]
    }
    profile = {**champion, "features": shared}
    counts = Counts.empty(profile)
    rebinned: dict[str, bool] = {}
    for name, f in shared.items():
        other = challenger["features"][name]
        b = counts.bins[name]
        b.rows, b.missing = int(other["rows"]), int(other["missing"])
        if f["kind"] == "numeric":
            rebinned[name] = list(other["edges"]) != list(f["edges"])
            b.counts = rebin(other["edges"], other["counts"], f["edges"])
            b.valid = int(other["valid"])
            b.total, b.sumsq = float(other["sum"]), float(other["sumsq"])
        else:
            rebinned[name] = False
            theirs = dict(zip(other["categories"], other["counts"], strict=True))
            b.counts = [int(theirs.pop(c, 0)) for c in f["categories"]]
            b.unseen = int(sum(theirs.values()) + other.get("pooled", 0))
            if "confidence_mean" in other:
                b.total = float(other["confidence_mean"]) * b.rows
    rows = evaluate(profile, counts)
    for row in rows:
        row["rebinned"] = rebinned.get(row["feature"], False)
    return rows


def rebin(edges: list[float], counts: list[int], onto: list[float]) -> list[int]:
    """Counts over `edges` (with under- and overflow bins) moved onto the edges `onto`.

    Rows spread evenly inside each finite bin; the under- and overflow bins stay at
    their ends. Whole rows, summing to the same total (largest remainders).

    Examples
    --------
    >>> rebin([0.0, 1.0, 2.0], [0, 10, 10, 0], [0.0, 0.5, 2.0])
    [0, 5, 15, 0]
    """
    e = np.asarray(edges, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    lo, hi, inner = e[:-1], e[1:], c[1:-1]
    width = hi - lo

    def below(x: float) -> float:  # rows strictly below x
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(width > 0, (x - lo) / width, (x > lo).astype(float))
        return float(c[0] + np.sum(inner * np.clip(share, 0.0, 1.0)))

    cdf = np.array([below(x) for x in onto])
    total = float(c.sum())
    cells = np.diff(np.concatenate([[0.0], cdf, [total]]))
    cells = np.maximum(cells, 0.0)
    whole = np.floor(cells).astype(np.int64)
    short = round(total) - int(whole.sum())
    if short > 0:  # hand the rounded-off rows to the largest remainders
        whole[np.argsort(-(cells - whole), kind="stable")[:short]] += 1
    return [int(v) for v in whole]
