"""`ColumnImputer`: each column imputed and clipped as its declaration says, in one step.

``fk.Custom``, ``fk.Splines`` and ``fk.Polynomial`` read several declared columns at
once, after each one's declared ``impute`` (and ``clip``), the way a reader of the
declarations expects. `ColumnImputer` does that in front of their transformer: each
column's statistic is fitted by the very `~sklearn.impute.SimpleImputer` that the
column's own feature uses, so a median is the same double in both places, and
`emit_column_imputer` fills and clips with comparisons and ``Where`` on the same
doubles.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.missing import MISSING
from featurekit.onnx.graph import Graph
from featurekit.transforms.kernels import where
from featurekit.transforms.registry import emits, hint

__all__ = ["ColumnImputer", "emit_column_imputer", "imputer_for"]

_STRATEGIES = ("mean", "median", "most_frequent")


def imputer_for(impute: Any, *, strings: bool) -> SimpleImputer:
    """The SimpleImputer a declared ``impute`` stands for (the one home of that rule)."""
    if strings:
        if impute == "most_frequent":
            return SimpleImputer(missing_values=MISSING, strategy="most_frequent")
        return SimpleImputer(
            missing_values=MISSING, strategy="constant", fill_value=impute
        )
    if isinstance(impute, str):
        return SimpleImputer(strategy=impute)
    # keep_empty_features: a declared constant fills even a column that never had a
    # value in training (a derived feature may be so)
    return SimpleImputer(
        strategy="constant", fill_value=impute, keep_empty_features=True
    )


def _per_column(name: str, value: Any, width: int) -> list[Any]:
    if value is None:
        return [None] * width
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(
            f"{name} must be a list with one entry per column, got {value!r}."
        )
    if len(value) != width:
        raise ValueError(f"{name} has {len(value)} entries, but X has {width} columns.")
    return list(value)


class ColumnImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute, then clip, each column by its own rule; numbers or strings.

    Parameters
    ----------
    impute : list, optional
        Per column: None (leave missing values), ``"mean"``, ``"median"`` or a number
        for numeric data; ``"most_frequent"`` or a constant string for string data
        (where `featurekit.missing.MISSING` is missing). None: no column is imputed.
    clip : list, optional
        Per column: None or ``(lo, hi)``, either end None. Numeric data only.

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,)
        The fill value per column: NaN (numbers) or MISSING (strings) where none.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, np.nan], [np.nan, 5.0], [3.0, 9.0]])
    >>> ColumnImputer(impute=["median", None], clip=[None, (None, 6)]).fit_transform(X)
    array([[ 1., nan],
           [ 2.,  5.],
           [ 3.,  6.]])
    """

    def __init__(
        self, impute: Sequence[Any] | None = None, clip: Sequence[Any] | None = None
    ) -> None:
        self.impute = impute
        self.clip = clip

    def fit(self, X: Any, y: Any = None) -> ColumnImputer:
        X = self._validate(X, reset=True)
        strings = X.dtype == object
        imputes = _per_column("impute", self.impute, X.shape[1])
        clips = _per_column("clip", self.clip, X.shape[1])
        if strings and any(c is not None for c in clips):
            raise ValueError("clip applies to numbers; X holds strings.")
        stats: list[Any] = []
        for j, rule in enumerate(imputes):
            if rule is None:
                stats.append(MISSING if strings else math.nan)
                continue
            if not strings and isinstance(rule, str) and rule not in _STRATEGIES[:2]:
                raise ValueError(
                    f"impute for numbers is 'mean', 'median' or a number, got {rule!r}."
                )
            with warnings.catch_warnings():
                # a column never seen keeps NaN here; the transformer after it decides
                warnings.filterwarnings("ignore", "Skipping features without any")
                fitted = imputer_for(rule, strings=strings).fit(X[:, [j]])
            stats.append(fitted.statistics_[0])
        self.statistics_ = np.array(stats, dtype=object if strings else np.float64)
        lo = [
            -math.inf if c is None or c[0] is None else float(c[0]) + 0.0 for c in clips
        ]
        hi = [
            math.inf if c is None or c[1] is None else float(c[1]) + 0.0 for c in clips
        ]
        self.lower_ = np.array(lo, dtype=np.float64)
        self.upper_ = np.array(hi, dtype=np.float64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "statistics_")
        X = self._validate(X, reset=False)
        if self.statistics_.dtype == object:
            out = np.array(X, dtype=object, copy=True)
            gaps = np.equal(out, MISSING)
            return np.where(gaps, self.statistics_[None, :], out)
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            X = where(np.isnan(X), self.statistics_[None, :], X)
            # comparisons, not np.maximum: numpy's SIMD loops and onnxruntime's Max
            # pick different zeros for max(-0.0, 0.0); a comparison decides alike
            if np.isfinite(self.lower_).any():
                X = where(X < self.lower_[None, :], self.lower_[None, :], X)
            if np.isfinite(self.upper_).any():
                X = where(X > self.upper_[None, :], self.upper_[None, :], X)
        return np.asarray(X, dtype=np.float64)

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
        if X.dtype.kind in "biuf":
            return np.asarray(X, dtype=np.float64)
        return np.asarray(X, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


@emits(ColumnImputer)
def emit_column_imputer(g: Graph, x: str, step: ColumnImputer, where_: str) -> str:
    col = hint(where_)
    if step.statistics_.dtype == object:
        fills = g.const(
            np.array([[str(v) for v in step.statistics_]], dtype=object), f"{col}_fill"
        )
        gaps = g.op("Equal", [x, g.const(np.array([[MISSING]], dtype=object))])
        return g.op("Where", [gaps, fills, x], f"{col}_imputed")
    fills = g.const(step.statistics_[None, :], f"{col}_fill")
    x = g.op("Where", [g.op("IsNaN", [x]), fills, x], f"{col}_imputed")
    for bounds, beyond in ((step.lower_, "Less"), (step.upper_, "Greater")):
        if np.isfinite(bounds).any():
            end = g.const(bounds[None, :], f"{col}_end")
            x = g.op("Where", [g.op(beyond, [x, end]), end, x], f"{col}_clipped")
    return x
