"""Verdicts: a profile and window counts in, one row per feature and signal out.

A signal (distribution, missing rate, unseen rate) fires when its effect exceeds the
calibrated threshold and its Benjamini–Hochberg-adjusted p-value is at most alpha.
"""

from __future__ import annotations

import math
from typing import Any

from featurekit.monitoring import stats
from featurekit.monitoring.counts import Counts, _Bins

__all__ = ["deciding", "evaluate"]


# -- deciding ----------------------------------------------------------------------------
def evaluate(profile: dict[str, Any], counts: Counts) -> list[dict[str, Any]]:
    """Per-feature statistics and verdicts of `counts` against `profile`.

    Each signal (the distribution, the missing rate, the unseen rate) fires when its
    effect exceeds its threshold and its p-value survives Benjamini–Hochberg across
    every signal of every feature. Thresholds were calibrated at the profile's window
    size; a smaller window raises them by the ratio of the null's spread.
    """
    s = profile["settings"]
    rows: list[dict[str, Any]] = []
    tests: list[tuple[int, str, float]] = []
    for name, f in profile["features"].items():
        b = counts.bins[name]
        row = _feature_row(name, f, b, s)
        for signal, p in row.pop("_tests"):
            tests.append((len(rows), signal, p))
        rows.append(row)
    adjusted = stats.benjamini_hochberg([t[2] for t in tests])
    for (k, signal, _), q in zip(tests, adjusted, strict=True):
        row = rows[k]
        row["p_adjusted" if signal == "distribution" else f"{signal}_p_adjusted"] = (
            float(q)
        )
        if q <= s["alpha"] and row["_effects"][signal]:
            row["signals"].append(signal)
    for row in rows:
        row.pop("_effects")
        if row["verdict"] != "insufficient data":
            row["verdict"] = "drift" if row["signals"] else "ok"
    return rows


def _scaled(threshold: float, n: int, reference: int, window: int) -> float:
    """The threshold at window size `n`: larger below the calibrated size, never lower."""
    if n >= window or n == 0:
        return threshold
    return threshold * math.sqrt(
        (1 / n + 1 / max(reference, 1)) / (1 / window + 1 / max(reference, 1))
    )


def _feature_row(
    name: str, f: dict[str, Any], b: _Bins, s: dict[str, Any]
) -> dict[str, Any]:
    ref_rows, window = f["rows"], s["window"]
    present = b.rows - b.missing
    row: dict[str, Any] = {
        "feature": name,
        "kind": "output" if f["output"] else f["kind"],
        "rows": b.rows,
        "verdict": "ok",
        "signals": [],
        "missing_reference": f["missing"] / ref_rows if ref_rows else 0.0,
        "missing_current": b.missing / b.rows if b.rows else 0.0,
        "unseen_rate": None,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "_tests": [],
        "_effects": {},
    }
    if b.rows < s["min_rows"]:
        row.update(
            verdict="insufficient data", statistic=None, effect=None, threshold=None
        )
        return row
    # missing rate
    _z_m, p_m = stats.two_proportions(f["missing"], ref_rows, b.missing, b.rows)
    m_thr = _scaled(f["missing_threshold"], b.rows, ref_rows, window)
    diff = abs(row["missing_current"] - row["missing_reference"])
    row.update(missing_p=p_m, missing_threshold=m_thr)
    row["_tests"].append(("missing", p_m))
    row["_effects"]["missing"] = diff > m_thr
    if f["kind"] == "numeric":
        ref_counts, cur_counts = f["counts"], list(b.counts)
        w = stats.wasserstein(f["edges"], ref_counts, cur_counts, f["scale"])
        d, p_ks = stats.ks_test(ref_counts, cur_counts)
        _, p_mean = stats.mean_test(
            f["valid"], f["sum"], f["sumsq"], b.valid, b.total, b.sumsq
        )
        p = min(1.0, 2 * min(p_ks, p_mean))  # Bonferroni over the two tests
        thr = _scaled(f["threshold"], present, f["rows"] - f["missing"], window)
        row.update(
            statistic="wasserstein",
            effect=w,
            threshold=thr,
            p_value=p,
            wasserstein=w,
            ks=d,
            ks_p=p_ks,
            mean_p=p_mean,
            psi=stats.psi(ref_counts, cur_counts),
            js=stats.js_distance(ref_counts, cur_counts),
            mean_reference=f["mean"],
            mean_current=b.total / b.valid if b.valid else None,
        )
    else:
        ref_counts = [*f["counts"], f.get("pooled", 0)]
        cur_counts = [*b.counts, 0]
        js = stats.js_distance(ref_counts, cur_counts)
        chi2, dof, p = stats.chi2_test(ref_counts, cur_counts)
        thr = _scaled(f["threshold"], present, f["rows"] - f["missing"], window)
        unseen = b.unseen / present if present else 0.0
        expected = f.get("unseen_expected", f.get("pooled", 0))
        ref_present = f["rows"] - f["missing"]
        _z_u, p_u = stats.two_proportions(expected, ref_present, b.unseen, present)
        row.update(
            statistic="jensen_shannon",
            effect=js,
            threshold=thr,
            p_value=p,
            js=js,
            psi=stats.psi(ref_counts, cur_counts),
            chi2=chi2,
            chi2_dof=dof,
            unseen_rate=unseen,
            unseen_p=p_u,
            unseen_threshold=f["unseen_threshold"],
        )
        row["_tests"].append(("unseen", p_u))
        baseline = expected / ref_present if ref_present else 0.0
        row["_effects"]["unseen"] = unseen - baseline > f["unseen_threshold"]
        if "confidence_mean" in f or (f["output"] and b.rows):
            row["confidence_current"] = b.total / b.rows if b.rows else None
    # the window has enough rows; its present values need only enough for the tests
    if present >= min(30, s["min_rows"]):
        row["_tests"].insert(0, ("distribution", row["p_value"]))
        row["_effects"]["distribution"] = row["effect"] > thr
    else:  # too few present values to test the distribution: say so, show no numbers
        row.update(effect=None, p_value=None, p_adjusted=None, distribution="untested")
    return row


def deciding(feature: dict[str, Any]) -> dict[str, Any]:
    """The numbers of the signal that decided a feature's row of `evaluate`.

    The distribution test's, unless only the missing or the unseen rate fired: then
    that rate's statistic, effect, threshold and p-values. Reports, the CLI and
    ``DriftReport.table`` all show these, so a row reads one way everywhere.

    Examples
    --------
    >>> row = {"signals": ["missing"], "statistic": "wasserstein", "effect": 0.05,
    ...        "threshold": 0.18, "p_value": 1.0, "p_adjusted": 1.0,
    ...        "missing_reference": 0.0, "missing_current": 0.128,
    ...        "missing_threshold": 0.029, "missing_p": 1e-9, "missing_p_adjusted": 1e-8}
    >>> d = deciding(row)
    >>> d["statistic"], round(d["effect"], 3), d["threshold"], d["p_adjusted"]
    ('missing rate', 0.128, 0.029, 1e-08)
    """
    signals = feature.get("signals") or []
    lead = next((s for s in signals if s != "distribution"), None)
    if lead is None or "distribution" in signals:
        return {
            "statistic": feature.get("statistic"),
            "effect": feature.get("effect"),
            "threshold": feature.get("threshold"),
            "p_value": feature.get("p_value"),
            "p_adjusted": feature.get("p_adjusted"),
        }
    if lead == "missing":
        ref, cur = feature.get("missing_reference"), feature.get("missing_current")
        effect = None if ref is None or cur is None else abs(cur - ref)
    else:
        effect = feature.get("unseen_rate")
    return {
        "statistic": f"{lead} rate",
        "effect": effect,
        "threshold": feature.get(f"{lead}_threshold"),
        "p_value": feature.get(f"{lead}_p"),
        "p_adjusted": feature.get(f"{lead}_p_adjusted"),
    }
