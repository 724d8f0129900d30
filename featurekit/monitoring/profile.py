"""The reference profile (``profile.json``): fixed bins and calibrated thresholds.

At export, every raw input and the model's output get fixed bins from the reference
data: quantile edges with an underflow and an overflow bin for numbers, the observed
categories plus an "unseen" bucket for strings, and the missing rate. Thresholds for
each feature's effect size are calibrated by a parametric bootstrap at the default
window size, and stored beside the bins.

Data is then reduced to `Counts` over the same bins, offline (`Counts.from_frame`) or
live, row by row as the server scores (`Counts.observe`). Counts add up, so windows
merge across replicas. `evaluate` turns a profile and counts into per-feature verdicts
(see `featurekit.monitoring.stats` for the statistics).

Light core: numpy, pandas and scipy; no scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from featurekit.missing import is_missing
from featurekit.monitoring.joint import build_joint

__all__ = ["DEFAULTS", "OUTPUT_LABEL", "OUTPUT_SCORE", "build_profile"]

#: Defaults of the profile and the decision rule.
DEFAULTS: dict[str, Any] = {
    "bins": 32,  # quantile bins per numeric feature (fewer when values repeat)
    "window": 1000,  # rows per window; thresholds are calibrated up to this size
    "min_rows": 20,  # below this a window says "insufficient data"
    "alpha": 0.05,  # Benjamini–Hochberg level across all features and signals
    "quantile": 0.95,  # effect threshold: this quantile of the null effect
    "bootstrap": 2000,  # null replicates per feature (fewer leave noisy thresholds)
    "rate_floor": 0.01,  # missing and unseen rates: never alarm below 1 point
    "max_categories": 1000,  # categories kept per feature (the rest pool as unseen)
}
OUTPUT_LABEL, OUTPUT_SCORE = "output:label", "output:score"
#: Window sizes the thresholds are calibrated at (besides the profile's window).
SIZES = (20, 50, 100, 200, 500)


# -- building ---------------------------------------------------------------------------
def build_profile(
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, Any],
    outputs: Mapping[str, np.ndarray] | None = None,
    classes: list[Any] | None = None,
    *,
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """The reference profile, as a JSON-ready dict.

    Parameters
    ----------
    numeric : dict of str to ndarray
        float64 values per numeric input; NaN is missing.
    categorical : dict of str to array-like
        Values per categorical input; None, NaN and `MISSING` are missing.
    outputs : dict of str to ndarray, optional
        The model's answers on the same rows (``label`` + ``probabilities``, or
        ``prediction``).
    classes : list, optional
        Class labels, for classifiers.
    seed : int
        Seeds the bootstrap, so a profile is reproducible.
    **options
        Overrides of `DEFAULTS`.

    Examples
    --------
    >>> p = build_profile({"x": np.arange(1000.0)}, {"c": ["a", "b"] * 500})
    >>> p["features"]["x"]["kind"], p["features"]["c"]["categories"]
    ('numeric', ['a', 'b'])
    """
    settings = {**DEFAULTS, **options}
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(
            f"Unknown profile options {sorted(unknown)}; use {sorted(DEFAULTS)}."
        )
    rng = np.random.default_rng(seed)
    window = int(settings["window"])
    settings["sizes"] = sorted({n for n in SIZES if n < window} | {window})
    features: dict[str, Any] = {}
    for name, values in numeric.items():
        features[name] = _numeric_profile(np.asarray(values, np.float64), settings, rng)
    for name, values in categorical.items():
        features[name] = _categorical_profile(values, settings, rng)
    joint = build_joint(numeric, categorical, features, settings, rng)
    if outputs:
        if "probabilities" in outputs:
            proba = np.asarray(outputs["probabilities"], dtype=np.float64)
            labels = [str(c) for c in (classes or range(proba.shape[1]))]
            picked = np.asarray(outputs["label"]).astype(str)
            features[OUTPUT_LABEL] = _categorical_profile(
                picked, settings, rng, order=labels
            )
            # two classes: an edge at 0.5, so each score bin predicts one class
            split = 0.5 if proba.shape[1] == 2 else None
            features[OUTPUT_SCORE] = _numeric_profile(
                _score(proba), settings, rng, split
            )
            features[OUTPUT_SCORE]["confidence_mean"] = float(proba.max(axis=1).mean())
        else:
            features[OUTPUT_SCORE] = _numeric_profile(
                np.asarray(outputs["prediction"], np.float64), settings, rng
            )
    for f in features.values():
        f["output"] = False
    for key in (OUTPUT_LABEL, OUTPUT_SCORE):
        if key in features:
            features[key]["output"] = True
    profile = {"format": 1, "settings": settings, "features": features}
    if joint is not None:
        profile["joint"] = joint
    return profile


def _score(proba: np.ndarray) -> np.ndarray:
    """The score monitored: P(second class) for two classes, the top probability else."""
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


def _numeric_profile(
    values: np.ndarray,
    settings: dict[str, Any],
    rng: np.random.Generator,
    split: float | None = None,
) -> dict[str, Any]:
    missing = np.isnan(values)
    present = values[~missing]
    finite = present[np.isfinite(present)]
    if len(finite):
        # edges on observed values: integer columns get integer edges, no empty bins
        qs = np.quantile(
            finite, np.linspace(0.0, 1.0, settings["bins"] + 1), method="inverted_cdf"
        )
        edges = np.unique(qs if split is None else np.append(qs, split))
        if len(edges) == 1:  # a constant column: one closed bin [v, v] for it
            edges = np.repeat(edges, 2)
        # the top edge moves one ulp up, so the maximum itself falls inside, not over
        edges[-1] = np.nextafter(edges[-1], math.inf)
    else:
        edges = np.array([0.0])
    counts = np.bincount(
        np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
    )
    std = float(finite.std()) if len(finite) > 1 else 0.0
    profile: dict[str, Any] = {
        "kind": "numeric",
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "rows": len(values),
        "missing": int(missing.sum()),
        "mean": float(finite.mean()) if len(finite) else 0.0,
        "std": std,
        "scale": std if std > 0 else 1.0,
        "sum": float(finite.sum()),
        "sumsq": float(np.square(finite).sum()),
        "valid": len(finite),
    }
    _calibrate(
        profile,
        counts,
        settings,
        rng,
        lambda r, c, n: _w_rows(edges, r, c, profile["scale"]),
    )
    return profile


def _categorical_profile(
    values: Any,
    settings: dict[str, Any],
    rng: np.random.Generator,
    order: list[str] | None = None,
) -> dict[str, Any]:
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
    tally = series.value_counts(dropna=False)
    known: dict[str, int] = {}
    missing = 0
    for key, n in tally.items():
        if is_missing(key, sentinel=True):
            missing += int(n)
        else:
            known[str(key)] = known.get(str(key), 0) + int(n)
    if order is None:
        order = sorted(known, key=lambda k: (-known[k], k))[
            : settings["max_categories"]
        ]
    counts = [known.get(k, 0) for k in order]
    pooled = sum(known.values()) - sum(counts)  # beyond max_categories
    # a long tail keeps bringing categories the reference never saw: Good-Turing puts
    # their share at the share of categories seen once, which the unseen rate of a
    # window is then compared against (not against zero)
    singletons = sum(1 for n in counts if n == 1)
    profile: dict[str, Any] = {
        "kind": "categorical",
        "categories": list(order),
        "counts": counts,
        "rows": len(series),
        "missing": missing,
        "pooled": pooled,
        "unseen_expected": pooled + singletons,
    }
    cells = np.asarray([*counts, pooled], dtype=np.float64)
    _calibrate(
        profile, cells, settings, rng, lambda r, c, n: _js_rows(*_pool(cells, r, c, n))
    )
    profile["unseen_threshold"] = settings["rate_floor"]
    return profile


def _calibrate(
    profile: dict[str, Any],
    counts: np.ndarray,
    settings: dict[str, Any],
    rng: np.random.Generator,
    effect: Any,
) -> None:
    """Effect and missing-rate thresholds at every calibrated window size.

    ``thresholds[i]`` and ``missing_thresholds[i]`` hold at ``settings["sizes"][i]``
    rows, each from a bootstrap at that very size (a small window's null is not the
    large one's scaled up: its effects are skewed and lumpy); ``threshold`` and
    ``missing_threshold`` repeat the values at the profile's window. `effect` takes
    the reference rows, the window rows and the size (categories pool their rare
    cells by it, see `featurekit.monitoring.stats.pool_rare`).
    """
    q = settings["quantile"]
    thresholds, missing = [], []
    for n in settings["sizes"]:
        null = _null_effects(
            counts, settings, rng, lambda r, c, n=n: effect(r, c, n), n
        )
        thresholds.append(float(np.quantile(null, q)))
        missing.append(
            _rate_threshold(profile["missing"], profile["rows"], settings, rng, n)
        )
    profile["thresholds"], profile["missing_thresholds"] = thresholds, missing
    profile["threshold"], profile["missing_threshold"] = thresholds[-1], missing[-1]


def _null_effects(
    counts: np.ndarray,
    settings: dict[str, Any],
    rng: np.random.Generator,
    effect: Any,
    size: int,
) -> np.ndarray:
    """Effects between a resampled reference and a resampled window, under no drift."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return np.zeros(1)
    p = counts / total
    r = settings["bootstrap"]
    ref = rng.multinomial(int(total), p, size=r)
    cur = rng.multinomial(size, p, size=r)
    return np.asarray(effect(ref, cur))


def _w_rows(
    edges: np.ndarray, ref: np.ndarray, cur: np.ndarray, scale: float
) -> np.ndarray:
    f_ref = np.cumsum(ref / ref.sum(axis=1, keepdims=True), axis=1)[:, 1 : len(edges)]
    f_cur = np.cumsum(cur / cur.sum(axis=1, keepdims=True), axis=1)[:, 1 : len(edges)]
    return np.abs(f_ref - f_cur) @ np.diff(edges) / scale  # type: ignore[no-any-return]


def _pool(
    cells: np.ndarray, ref: np.ndarray, cur: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of both with the cells rare at `n` rows pooled, as `stats.pool_rare`."""
    total = cells.sum()
    rare = cells * n / total < 5 if total else np.zeros(len(cells), bool)
    if not rare.any():
        return ref, cur
    return (
        np.column_stack([ref[:, ~rare], ref[:, rare].sum(axis=1)]),
        np.column_stack([cur[:, ~rare], cur[:, rare].sum(axis=1)]),
    )


def _js_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    p = ref / ref.sum(axis=1, keepdims=True)
    q = cur / cur.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kq = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    return np.sqrt(np.maximum((kp + kq) / 2, 0.0))  # type: ignore[no-any-return]


def _rate_threshold(
    hits: int, rows: int, settings: dict[str, Any], rng: np.random.Generator, size: int
) -> float:
    if rows == 0:
        return float(settings["rate_floor"])
    rate = hits / rows
    ref = rng.binomial(rows, rate, settings["bootstrap"]) / rows
    cur = rng.binomial(size, rate, settings["bootstrap"]) / size
    q = float(np.quantile(np.abs(cur - ref), settings["quantile"]))
    return max(q, float(settings["rate_floor"]))
