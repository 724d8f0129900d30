"""The reference profile (``profile.json``) and the counters that drift is computed from.

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
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurekit.missing import MISSING
from featurekit.monitoring import stats

__all__ = ["DEFAULTS", "Counts", "build_profile", "evaluate"]

#: Defaults of the profile and the decision rule.
DEFAULTS: dict[str, Any] = {
    "bins": 32,  # quantile bins per numeric feature (fewer when values repeat)
    "window": 1000,  # rows per window; thresholds are calibrated at this size
    "min_rows": 100,  # below this a window says "insufficient data"
    "alpha": 0.05,  # Benjamini–Hochberg level across all features and signals
    "quantile": 0.95,  # effect threshold: this quantile of the null effect
    "bootstrap": 2000,  # null replicates per feature (fewer leave noisy thresholds)
    "rate_floor": 0.01,  # missing and unseen rates: never alarm below 1 point
    "max_categories": 1000,  # categories kept per feature (the rest pool as unseen)
}
OUTPUT_LABEL, OUTPUT_SCORE = "output:label", "output:score"


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
    features: dict[str, Any] = {}
    for name, values in numeric.items():
        features[name] = _numeric_profile(np.asarray(values, np.float64), settings, rng)
    for name, values in categorical.items():
        features[name] = _categorical_profile(values, settings, rng)
    if outputs:
        if "probabilities" in outputs:
            proba = np.asarray(outputs["probabilities"], dtype=np.float64)
            labels = [str(c) for c in (classes or range(proba.shape[1]))]
            picked = np.asarray(outputs["label"]).astype(str)
            features[OUTPUT_LABEL] = _categorical_profile(
                picked, settings, rng, order=labels
            )
            features[OUTPUT_SCORE] = _numeric_profile(_score(proba), settings, rng)
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
    return {"format": 1, "settings": settings, "features": features}


def _score(proba: np.ndarray) -> np.ndarray:
    """The score monitored: P(second class) for two classes, the top probability else."""
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


def _numeric_profile(
    values: np.ndarray, settings: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    missing = np.isnan(values)
    present = values[~missing]
    finite = present[np.isfinite(present)]
    if len(finite):
        # edges on observed values: integer columns get integer edges, no empty bins
        qs = np.quantile(
            finite, np.linspace(0.0, 1.0, settings["bins"] + 1), method="inverted_cdf"
        )
        edges = np.unique(qs)
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
    null = _null_effects(
        counts, settings, rng, lambda r, c: _w_rows(edges, r, c, profile["scale"])
    )
    profile["threshold"] = float(np.quantile(null, settings["quantile"]))
    profile["missing_threshold"] = _rate_threshold(
        profile["missing"], len(values), settings, rng
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
        if _missing(key):
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
    null = _null_effects(cells, settings, rng, _js_rows)
    profile["threshold"] = float(np.quantile(null, settings["quantile"]))
    profile["missing_threshold"] = _rate_threshold(missing, len(series), settings, rng)
    profile["unseen_threshold"] = settings["rate_floor"]
    return profile


def _missing(value: Any) -> bool:
    if value is None or value is MISSING or value == MISSING:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raises
    except TypeError:
        return True


def _null_effects(
    counts: np.ndarray, settings: dict[str, Any], rng: np.random.Generator, effect: Any
) -> np.ndarray:
    """Effects between a resampled reference and a resampled window, under no drift."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return np.zeros(1)
    p = counts / total
    r = settings["bootstrap"]
    ref = rng.multinomial(int(total), p, size=r)
    cur = rng.multinomial(settings["window"], p, size=r)
    return np.asarray(effect(ref, cur))


def _w_rows(
    edges: np.ndarray, ref: np.ndarray, cur: np.ndarray, scale: float
) -> np.ndarray:
    f_ref = np.cumsum(ref / ref.sum(axis=1, keepdims=True), axis=1)[:, 1 : len(edges)]
    f_cur = np.cumsum(cur / cur.sum(axis=1, keepdims=True), axis=1)[:, 1 : len(edges)]
    return np.abs(f_ref - f_cur) @ np.diff(edges) / scale  # type: ignore[no-any-return]


def _js_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    p = ref / ref.sum(axis=1, keepdims=True)
    q = cur / cur.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kq = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    return np.sqrt(np.maximum((kp + kq) / 2, 0.0))  # type: ignore[no-any-return]


def _rate_threshold(
    hits: int, rows: int, settings: dict[str, Any], rng: np.random.Generator
) -> float:
    if rows == 0:
        return float(settings["rate_floor"])
    rate = hits / rows
    ref = rng.binomial(rows, rate, settings["bootstrap"]) / rows
    cur = (
        rng.binomial(settings["window"], rate, settings["bootstrap"])
        / settings["window"]
    )
    q = float(np.quantile(np.abs(cur - ref), settings["quantile"]))
    return max(q, float(settings["rate_floor"]))


# -- counting ----------------------------------------------------------------------------
@dataclass
class _Bins:
    """Counters of one feature.

    Single rows increment a list (a third of the cost of a numpy element); batches add
    into a numpy array; `counts` folds them together.
    """

    singles: list[int]  # one per bin (numeric) or per known category
    missing: int = 0
    rows: int = 0
    total: float = 0.0  # sum of finite values (numeric) or of confidence (output label)
    sumsq: float = 0.0
    valid: int = 0
    unseen: int = 0
    batches: np.ndarray | None = None

    @property
    def counts(self) -> list[int]:
        if self.batches is not None:
            self.singles = (np.asarray(self.singles) + self.batches).tolist()
            self.batches = None
        return self.singles

    @counts.setter
    def counts(self, value: list[int]) -> None:
        self.singles, self.batches = list(value), None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts), **{k: getattr(self, k) for k in _FIELDS}}


_FIELDS = ("missing", "rows", "total", "sumsq", "valid", "unseen")


@dataclass
class Counts:
    """Counters over a profile's bins; they add up, so windows merge across replicas.

    Examples
    --------
    >>> p = build_profile({"x": np.arange(100.0)}, {})
    >>> c = Counts.empty(p)
    >>> c.observe({"x": np.array([[5.0], [np.nan]])})
    >>> c.rows, c.bins["x"].missing
    (2, 1)
    """

    profile: dict[str, Any] = field(repr=False)
    bins: dict[str, _Bins] = field(default_factory=dict)
    rows: int = 0

    @classmethod
    def empty(cls, profile: dict[str, Any]) -> Counts:
        out = cls(profile)
        for name, f in profile["features"].items():
            size = (
                len(f["edges"]) + 1 if f["kind"] == "numeric" else len(f["categories"])
            )
            out.bins[name] = _Bins([0] * size)
        return out

    def _plan(self) -> list[tuple[str, _Bins, Any, Any, Any]]:
        """Per input feature: name, bins, edges (list, array) or category index."""
        plan: list[tuple[str, _Bins, Any, Any, Any]] = []
        for name, f in self.profile["features"].items():
            if f["output"]:
                continue
            if f["kind"] == "numeric":
                edges = f["edges"]
                plan.append((name, self.bins[name], edges, np.asarray(edges), None))
            else:
                index = {c: i for i, c in enumerate(f["categories"])}
                plan.append((name, self.bins[name], None, None, index))
        return plan

    # the live path: feeds as the graph sees them, outputs as it answers
    def observe(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Count scored rows: `feeds` are the graph inputs, `outputs` its answers."""
        n = next(iter(feeds.values())).shape[0] if feeds else 0
        if n == 0:
            return
        self.rows += n
        plan = self.__dict__.get("_compiled")
        if plan is None:
            plan = self.__dict__["_compiled"] = self._plan()
        if n == 1:  # a single row: plain Python is several times faster than numpy
            for name, b, edges, _, index in plan:
                arr = feeds.get(name)
                if arr is not None:
                    _one(b, arr[0, 0], edges, index)
        else:
            for name, b, _, edges, index in plan:
                arr = feeds.get(name)
                if arr is not None:
                    _many(b, arr[:, 0], edges, index)
        if outputs:
            self._outputs(outputs, n)

    def _outputs(self, outputs: Mapping[str, np.ndarray], n: int) -> None:
        score_bins = self.bins.get(OUTPUT_SCORE)
        edges = self.profile["features"][OUTPUT_SCORE]["edges"] if score_bins else None
        if "probabilities" in outputs:
            proba = outputs["probabilities"]
            label = self.bins.get(OUTPUT_LABEL)
            if n == 1:
                row = proba[0].tolist()
                top = max(row)
                if label is not None:
                    label.singles[row.index(top)] += 1
                    label.rows += 1
                    label.total += top
                if score_bins is not None:
                    _one(score_bins, row[1] if len(row) == 2 else top, edges, None)
                return
            top = proba.max(axis=1)
            if label is not None:
                _add(
                    label,
                    np.bincount(np.argmax(proba, axis=1), minlength=len(label.singles)),
                )
                label.rows += n
                label.total += float(top.sum())
            score = proba[:, 1] if proba.shape[1] == 2 else top
        else:
            score = outputs["prediction"]
        if score_bins is not None:
            if n == 1:
                _one(score_bins, float(score[0]), edges, None)
            else:
                _many(
                    score_bins, np.asarray(score, np.float64), np.asarray(edges), None
                )

    # offline: a whole DataFrame at once
    @classmethod
    def from_frame(cls, profile: dict[str, Any], frame: Any) -> Counts:
        """Count a DataFrame's columns over the profile's bins (outputs excluded)."""
        out = cls.empty(profile)
        out.rows = len(frame)
        for name, b, _, edges, index in out._plan():
            if name not in frame.columns:
                b.rows = b.missing = len(frame)
            elif edges is not None:
                _many(b, numeric_values(frame[name]), edges, None)
            else:
                b.rows += len(frame)
                _count_series(b, frame[name], index)
        return out

    def merge(self, other: Counts) -> Counts:
        """Counts of both (same profile): what replicas add up to."""
        out = Counts.empty(self.profile)
        out.rows = self.rows + other.rows
        for name, b in out.bins.items():
            x, y = self.bins[name], other.bins[name]
            b.counts = [i + j for i, j in zip(x.counts, y.counts, strict=True)]
            for attr in _FIELDS:
                setattr(b, attr, getattr(x, attr) + getattr(y, attr))
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (without the profile)."""
        return {
            "rows": self.rows,
            "bins": {n: b.to_dict() for n, b in self.bins.items()},
        }

    @classmethod
    def from_dict(cls, profile: dict[str, Any], data: Mapping[str, Any]) -> Counts:
        """The inverse of `to_dict`, checked against `profile`'s bins."""
        out = cls.empty(profile)
        out.rows = int(data["rows"])
        if set(data["bins"]) != set(out.bins):
            raise ValueError("The snapshot's features do not match the profile's.")
        for name, b in data["bins"].items():
            counts = [int(c) for c in b["counts"]]
            if len(counts) != len(out.bins[name].counts):
                raise ValueError(
                    f"The snapshot's bins for {name!r} do not match the profile."
                )
            out.bins[name] = _Bins(counts, **{k: b[k] for k in _FIELDS})
        return out


def _add(b: _Bins, found: np.ndarray) -> None:
    if b.batches is None:
        b.batches = found.astype(np.int64)
    else:
        b.batches += found


def _count_series(b: _Bins, series: Any, index: dict[str, int]) -> None:
    """Count a column's values with pandas' value counts (rows are the caller's)."""
    for v, k in series.value_counts(dropna=False).items():
        i = index.get(v) if isinstance(v, str) else None
        if i is not None:
            b.counts[i] += int(k)
        elif _missing(v):
            b.missing += int(k)
        else:
            b.unseen += int(k)


def _one(
    b: _Bins, v: Any, edges: list[float] | None, index: dict[str, int] | None
) -> None:
    b.rows += 1
    if edges is not None:
        v = float(v)
        if v != v:
            b.missing += 1
            return
        b.singles[bisect_right(edges, v)] += 1
        if v - v == 0:  # finite
            b.total += v
            b.sumsq += v * v
            b.valid += 1
        return
    assert index is not None
    i = index.get(v)
    if i is not None:
        b.singles[i] += 1
    elif _missing(v):
        b.missing += 1
    else:
        b.unseen += 1


def _many(b: _Bins, col: np.ndarray, edges: Any, index: dict[str, int] | None) -> None:
    b.rows += len(col)
    if edges is not None:
        x = col.astype(np.float64, copy=False)
        total = float(x.sum())
        if total - total != 0:  # NaN or inf somewhere: take the careful path
            nan = np.isnan(x)
            b.missing += int(nan.sum())
            x = x[~nan]
            finite = x[np.isfinite(x)]
            total = float(finite.sum())
        else:
            finite = x
        _add(
            b,
            np.bincount(edges.searchsorted(x, side="right"), minlength=len(b.singles)),
        )
        b.total += total
        b.sumsq += float(finite @ finite)
        b.valid += len(finite)
        return
    assert index is not None
    if len(col) <= 512:
        # small batches: one dict lookup per value; unknown values are rare
        codes = [index.get(v, -1) for v in col.tolist()]
        found = np.bincount(
            np.asarray(codes, dtype=np.int64) + 1, minlength=len(b.singles) + 1
        )
        _add(b, found[1:])
        if found[0]:
            for v in col.tolist():
                if v not in index:
                    if _missing(v):
                        b.missing += 1
                    else:
                        b.unseen += 1
        return
    import pandas as pd

    _count_series(b, pd.Series(col, dtype=object), index)


def numeric_values(series: Any) -> np.ndarray:
    """float64 values of a column; anything not a number (or a bool) counts as missing."""
    import pandas as pd

    dtype = series.dtype
    if getattr(dtype, "kind", "O") in "iuf":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # type: ignore[no-any-return]
    values = series.to_numpy(dtype=object)
    out = np.array(
        pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64),
        dtype=np.float64,
    )  # a writable copy: pandas may hand back a read-only view
    bools = np.fromiter(
        (isinstance(v, bool | np.bool_) or isinstance(v, str) for v in values),
        bool,
        len(values),
    )
    out[bools] = np.nan
    return out


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
