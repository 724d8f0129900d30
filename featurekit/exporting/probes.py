"""Certify that onnxruntime answers like scikit-learn, on reference rows and edge cases.

Edge cases are generated from the declarations and the fitted state:

- a missing value in every column that accepts one, and in all of them at once;
- every known category, an unseen one and the empty string, where the policy
  admits them;
- zero, signed zero, tiny and extreme magnitudes, and the ends of hard bounds;
- for tree models, values at and beside (``nextafter``, in float64 and float32)
  every split threshold, mapped back through the fitted scaler and log to raw input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.declare.columns import Categorical, Numeric
from featurekit.onnx.ensemble import distinct

__all__ = [
    "base_row",
    "edge_rows",
    "split_columns",
    "threshold_frame",
    "threshold_values",
]

_UNSEEN = "featurekit-unseen-category"
#: Calendar edges: the epoch and the second before it, leap days, centuries, far dates.
_DATES = (
    "1970-01-01T00:00:00",
    "1969-12-31T23:59:59",
    "2000-02-29T12:00:00",
    "1900-03-01T00:00:00",
    "2024-12-31T23:59:59",
    "1601-01-01T00:00:00",
    "2400-02-29T23:00:00",
)
#: Text edges: empty, separators only, case, accents, other scripts, emoji, long.
_TEXTS = (
    "",
    " ,.!? ",
    "HELLO hello Hello",
    "naïve café ÉCOLE straße İstanbul",
    "日本語 テキスト 中文",
    "emoji 😀 and tabs\tand\nnewlines",
    "word " * 400,
)


def _iso(seconds: int) -> str:
    import datetime as dt

    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).isoformat()


def base_row(columns: Columns, reference: pd.DataFrame) -> dict[str, Any]:
    row: dict[str, Any] = {}
    feeds, _ = columns.coerce(reference, check_categories=False)
    for f in columns.features.inputs:
        col = feeds[f.name][:, 0]
        if f.kind == "datetime":
            secs = col[~np.isnan(col)]
            v = float(np.median(secs)) if len(secs) else 0.0
            row[f.name] = _iso(math.floor(v)) + (
                "+00:00" if f.timezone == "UTC" else ""
            )
        elif isinstance(f, Numeric):
            vals = col.astype(np.float64)
            vals = vals[~np.isnan(vals)]
            v = float(np.median(vals)) if len(vals) else 0.0
            row[f.name] = round(v) if f.dtype == "int" else v
        else:
            from featurekit.missing import MISSING

            vals = pd.Series(col[col != MISSING])
            row[f.name] = str(vals.mode().iloc[0]) if len(vals) else _UNSEEN
    return row


def _admissible(f: Numeric, v: float, columns: Columns) -> bool:
    """Whether the contract accepts `v` in column `f` (edge cases must be admissible)."""
    for r in columns.contract.ranges(f.name):
        if (r.lo is not None and v < r.lo) or (r.hi is not None and v > r.hi):
            return False
    if not math.isfinite(v):
        return f.allow_inf and not math.isnan(v)
    if f.log1p:
        clo = f.clip[0] if f.clip and f.clip[0] is not None else None
        if (clo is None or clo <= -1) and v <= -1:
            return False
    if f.dtype == "int" and (v != math.floor(v) or not -(2.0**63) <= v < 2.0**63):
        return False
    return True


def _admissible_many(f: Numeric, v: np.ndarray, columns: Columns) -> np.ndarray:
    """`_admissible` for an array of values at once."""
    ok = np.ones(len(v), dtype=bool)
    with np.errstate(invalid="ignore"):
        for r in columns.contract.ranges(f.name):
            if r.lo is not None:
                ok &= ~(v < r.lo)
            if r.hi is not None:
                ok &= ~(v > r.hi)
        finite = np.isfinite(v)
        ok &= finite | (f.allow_inf & ~np.isnan(v))
        if f.log1p:
            clo = f.clip[0] if f.clip and f.clip[0] is not None else None
            if clo is None or clo <= -1:
                ok &= ~(finite & (v <= -1))
        if f.dtype == "int":
            ok &= finite & (v == np.floor(v)) & (v >= -(2.0**63)) & (v < 2.0**63)
    return ok


def _magnitudes(f: Numeric, reference: pd.DataFrame) -> list[float]:
    ref = reference[f.name] if f.name in reference.columns else pd.Series(dtype=float)
    nums = pd.to_numeric(ref, errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    nums = nums[np.isfinite(nums)]
    span = float(np.max(np.abs(nums))) if len(nums) else 1.0
    values = [0.0, -0.0, 1e-300, -1e-300, 1.0, -1.0]
    values += [span * 1e3, -span * 1e3, 1e15, -1e15, 1e300, -1e300, np.inf, -np.inf]
    if len(nums):
        values += [float(nums.min()), float(nums.max())]
    for interval in (f.bounds, f.clip):
        for end in interval or ():
            if end is not None:
                e = float(end)
                values += [
                    e,
                    float(np.nextafter(e, np.inf)),
                    float(np.nextafter(e, -np.inf)),
                ]
    return values


def edge_rows(
    columns: Columns,
    base: dict[str, Any],
    reference: pd.DataFrame,
    known: dict[str, list[str]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (reason, record) pairs the contract admits; split thresholds come aside."""
    yield "base row", dict(base)
    all_missing = dict(base)
    any_missing = False
    for f in columns.features.inputs:
        if f.accepts_missing:
            any_missing = True
            all_missing[f.name] = None
            for missing in (None, float("nan")):
                yield f"{f.name} missing ({missing!r})", {**base, f.name: missing}
        if f.kind == "datetime":
            for when in _DATES:
                value = when + ("+00:00" if f.timezone == "UTC" else "")
                yield f"{f.name} = {value!r}", {**base, f.name: value}
            continue
        if f.kind == "text":
            for text in _TEXTS:
                yield f"{f.name} = {text!r}", {**base, f.name: text}
            continue
        if isinstance(f, Categorical):
            for c in known.get(f.name, []):
                yield f"{f.name} = {c!r}", {**base, f.name: c}
            if not f.checks_categories:
                yield f"{f.name} unseen", {**base, f.name: _UNSEEN}
                yield f"{f.name} empty string", {**base, f.name: ""}
                yield f"{f.name} unicode", {**base, f.name: "naïve ☃"}
            continue
        for v in _magnitudes(f, reference):
            if _admissible(f, v, columns):
                number: float = int(v) if f.dtype == "int" else v
                yield f"{f.name} = {v!r}", {**base, f.name: number}
    if any_missing:
        yield "every nullable column missing", all_missing


def split_columns(
    columns: Columns, thresholds: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per numeric raw column, its distinct admissible values near a split, sorted."""
    out: dict[str, np.ndarray] = {}
    for f in columns.features.inputs:
        if not isinstance(f, Numeric) or f.name not in thresholds:
            continue
        v = distinct(thresholds[f.name])
        if f.dtype == "int":
            v = distinct(np.concatenate([np.floor(v), np.ceil(v)]))
        v = v[_admissible_many(f, v, columns)]
        if len(v):
            out[f.name] = v.astype(np.int64) if f.dtype == "int" else v
    return out


def threshold_frame(
    columns: Columns, base: dict[str, Any], thresholds: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The base row repeated once per raw value near a split, that column replaced."""
    blocks = []
    for name, v in split_columns(columns, thresholds).items():
        block = pd.DataFrame(
            {
                c: np.repeat(np.array([base[c]], dtype=object), len(v))
                for c in columns.features.columns
            }
        )
        block[name] = v
        blocks.append(block)
    if not blocks:
        return pd.DataFrame(columns=columns.features.columns)
    return pd.concat(blocks, ignore_index=True)


def _inverse(steps: list[tuple[str, Any]], t: np.ndarray) -> np.ndarray:
    """Map transformed values back to raw input through scalers and log1p."""
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    from featurekit.transforms.basic import Log1p

    x = np.asarray(t, dtype=np.float64)
    with np.errstate(all="ignore"):
        for _, step in reversed(steps):
            if isinstance(step, StandardScaler):
                if step.with_std:
                    x = x * step.scale_[0]
                if step.with_mean:
                    x = x + step.mean_[0]
            elif isinstance(step, RobustScaler):
                if step.with_scaling:
                    x = x * step.scale_[0]
                if step.with_centering:
                    x = x + step.center_[0]
            elif isinstance(step, MinMaxScaler):
                x = (x - step.min_[0]) / step.scale_[0]
            elif isinstance(step, Log1p):
                x = np.expm1(x)
    return x


def threshold_values(pipeline: Any) -> tuple[dict[str, np.ndarray], int]:
    """Raw input values at and beside every tree split on a numeric column.

    Returns the values per raw column (with repeats) and the number of distinct
    (feature, threshold) splits they come from.
    """
    from sklearn.pipeline import Pipeline

    model = pipeline.named_steps["model"]
    ct = pipeline.named_steps["features"]
    features = pipeline.named_steps["inputs"].features
    feature, threshold = _splits(model)
    if not len(feature):
        return {}, 0
    # map each output column of the ColumnTransformer back to its raw numeric column
    owners: list[tuple[str, list[tuple[str, Any]]] | None] = []
    for name, trans, cols in ct.transformers_:
        if trans == "drop" or len(cols) == 0:
            continue
        steps = trans.steps if isinstance(trans, Pipeline) else []
        block = ct.output_indices_[name]
        width = block.stop - block.start
        # only a raw numeric column's own block maps a threshold back to raw values;
        # derived, bucketized, text and custom blocks are proven by bit-identical
        # features instead (featurekit.exporting.certify)
        numeric = isinstance(features[name], Numeric) and not any(
            type(s).__name__ in ("OneHotEncoder", "OrdinalEncoder") for _, s in steps
        )
        owners.extend([(cols[0], steps) if numeric else None] * width)
    out: dict[str, list[np.ndarray]] = {}
    n_pairs = 0
    for f in distinct(feature).tolist():
        if not 0 <= f < len(owners) or owners[f] is None:
            continue
        col, steps = owners[f]
        t = distinct(threshold[feature == f])
        n_pairs += len(t)
        f32 = t.astype(np.float32)
        near = np.concatenate(
            [
                t,
                np.nextafter(t, np.inf),
                np.nextafter(t, -np.inf),
                f32.astype(np.float64),
                np.nextafter(f32, np.float32(np.inf)).astype(np.float64),
                np.nextafter(f32, np.float32(-np.inf)).astype(np.float64),
            ]
        )
        raw = _inverse(steps, distinct(near))
        raw = distinct(raw[np.isfinite(raw)])
        with np.errstate(over="ignore"):  # beside the largest double: inf, dropped
            beside = [raw, np.nextafter(raw, np.inf), np.nextafter(raw, -np.inf)]
        out.setdefault(col, []).append(np.concatenate(beside))
    return {col: np.concatenate(parts) for col, parts in out.items()}, n_pairs


def _splits(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """(feature, threshold) of every split of `model`'s trees, as two arrays."""
    from featurekit.onnx.boosting import boosting_splits
    from featurekit.onnx.nested import nested_splits

    pairs = boosting_splits(model)  # LightGBM and XGBoost; [] for other models
    if not hasattr(model, "tree_") and not hasattr(model, "_predictors"):
        # trees held by AdaBoost, Bagging, calibration, voting, stacking
        pairs = pairs + nested_splits(model)
        if len(pairs):
            return (
                np.array([f for f, _ in pairs], dtype=np.int64),
                np.array([t for _, t in pairs], dtype=np.float64),
            )
    features = [np.array([f for f, _ in pairs], dtype=np.int64)]
    thresholds = [np.array([t for _, t in pairs], dtype=np.float64)]
    trees: list[Any] = []
    if hasattr(model, "tree_"):
        trees = [model]
    elif hasattr(model, "estimators_"):
        est = model.estimators_
        trees = list(np.ravel(est)) if isinstance(est, np.ndarray) else list(est)
    for t in trees:
        tree = getattr(t, "tree_", None)
        if tree is None:
            continue
        inner = tree.children_left != -1
        features.append(tree.feature[inner].astype(np.int64))
        thresholds.append(tree.threshold[inner].astype(np.float64))
    for iteration in getattr(model, "_predictors", []) or []:
        for p in iteration:
            nodes = p.nodes[~p.nodes["is_leaf"].astype(bool)]
            features.append(nodes["feature_idx"].astype(np.int64))
            thresholds.append(nodes["num_threshold"].astype(np.float64))
    return np.concatenate(features), np.concatenate(thresholds)
