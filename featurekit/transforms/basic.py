"""The few transformers scikit-learn lacks: `Clip`, `Log1p` and `CategoryFolder`.

Each one computes exactly what its ONNX converter in `featurekit.exporting.compile` emits.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.expr.emitter import emit_log
from featurekit.onnx.graph import ML, Graph
from featurekit.transforms.registry import emits, hint

__all__ = ["OTHER", "CategoryFolder", "Clip", "Log1p"]

#: The bucket rare (and, by policy, unseen) categories fold into.
OTHER = "\x00featurekit:other"


class Clip(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip values into ``[lo, hi]``; either end may be None. NaN passes through.

    Examples
    --------
    >>> import numpy as np
    >>> Clip(0, None).fit_transform(np.array([[-2.0], [3.0], [np.nan]])).ravel()
    array([ 0.,  3., nan])
    >>> Clip(0, 120)
    clip(0, 120)
    """

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo = lo
        self.hi = hi

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return f"clip({self.lo}, {self.hi})"

    def fit(self, X: Any, y: Any = None) -> Clip:
        validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        # maximum/minimum propagate NaN, and ONNX Max/Min do too
        if self.lo is not None:
            X = np.maximum(X, float(self.lo))
        if self.hi is not None:
            X = np.minimum(X, float(self.hi))
        return np.asarray(X, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags


class Log1p(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """``log(1 + x)`` with featurekit's exact log kernel, which the graph repeats bit for bit.

    numpy's ``log1p`` is more accurate near zero, but no ONNX operator matches it, and
    neither does onnxruntime's ``Log`` match ``np.log`` everywhere; matching is what
    matters here (`featurekit.expr.evaluator.log`). Values at or below -1 are rejected.

    Examples
    --------
    >>> import numpy as np
    >>> Log1p().fit_transform(np.array([[0.0], [np.e - 1]])).ravel()
    array([0., 1.])
    """

    def fit(self, X: Any, y: Any = None) -> Log1p:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        self._check_domain(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        self._check_domain(X)
        from featurekit.expr.evaluator import log

        return np.asarray(log(1.0 + X), dtype=np.float64)

    @staticmethod
    def _check_domain(X: np.ndarray) -> None:
        with np.errstate(invalid="ignore"):
            bad = X <= -1
        if bad.any():
            raise ValueError(
                f"Log1p got {int(bad.sum())} values <= -1 (e.g. {X[bad][0]!r}); "
                "clip or bound the column above -1 first."
            )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.positive_only = True
        tags.requires_fit = True
        return tags


_NAN = float("nan")


def _canonical(column: np.ndarray) -> list[Any]:
    """The column's values with every NaN replaced by one shared NaN object.

    NaN never equals itself, so each NaN would otherwise count as its own category;
    containers match the shared object by identity.
    """
    return [_NAN if isinstance(v, float) and v != v else v for v in column.tolist()]


class CategoryFolder(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fold rare categories, and optionally unseen ones, into the `OTHER` bucket.

    Parameters
    ----------
    min_frequency : int or float, optional
        Categories seen fewer times than this count (or fraction of rows) fold.
    max_categories : int, optional
        Keep the ``max_categories - 1`` most frequent categories (ties broken by
        sorted order); the "other" bucket takes the last slot.
    fold_unseen : bool
        Map categories not seen in fit to `OTHER` too.

    Attributes
    ----------
    categories_ : list of ndarray
        Per column, the categories kept as themselves, sorted.
    infrequent_categories_ : list of ndarray
        Per column, the categories folded at fit time.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([["a"], ["a"], ["b"], ["c"]], dtype=object)
    >>> f = CategoryFolder(min_frequency=2, fold_unseen=True).fit(X)
    >>> f.categories_[0].tolist(), f.infrequent_categories_[0].tolist()
    (['a'], ['b', 'c'])
    >>> (f.transform(np.array([["a"], ["z"]], dtype=object)) == OTHER).ravel().tolist()
    [False, True]
    """

    def __init__(
        self,
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
        fold_unseen: bool = False,
    ) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.fold_unseen = fold_unseen

    def fit(self, X: Any, y: Any = None) -> CategoryFolder:
        X = validate_data(self, X, dtype=None, ensure_all_finite=False)
        n = X.shape[0]
        if self.min_frequency is None:
            threshold = 0.0
        elif isinstance(self.min_frequency, float) and 0 < self.min_frequency < 1:
            threshold = self.min_frequency * n
        else:
            threshold = float(self.min_frequency)
        self.categories_ = []
        self.infrequent_categories_ = []
        for j in range(X.shape[1]):
            counts = Counter(_canonical(X[:, j]))
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
            kept = [c for c, k in ranked if k >= threshold]
            if self.max_categories is not None:
                kept = kept[: max(self.max_categories - 1, 1)]
            keep = set(kept)
            self.categories_.append(np.array(sorted(keep, key=str), dtype=object))
            self.infrequent_categories_.append(
                np.array(
                    sorted((c for c in counts if c not in keep), key=str), dtype=object
                )
            )
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "categories_")
        X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=False)
        out = np.array(X, dtype=object, copy=True)
        for j in range(X.shape[1]):
            out[:, j] = np.array([*_canonical(out[:, j]), None], dtype=object)[:-1]
            kept = set(_canonical(self.categories_[j]))
            if self.fold_unseen:
                fold = np.array([v not in kept for v in out[:, j]], dtype=bool)
            else:
                rare = set(_canonical(self.infrequent_categories_[j]))
                fold = np.array([v in rare for v in out[:, j]], dtype=bool)
            out[fold, j] = OTHER
        return out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []  # outputs category labels
        return tags


@emits(Clip)
def emit_clip(g: Graph, x: str, step: Clip, where: str) -> str:
    col = hint(where)
    if step.lo is not None:
        x = g.op(
            "Max", [x, g.const([float(step.lo)], f"{col}_lo")], f"{col}_clipped"
        )
    if step.hi is not None:
        x = g.op(
            "Min", [x, g.const([float(step.hi)], f"{col}_hi")], f"{col}_clipped"
        )
    return x


@emits(Log1p)
def emit_log1p(g: Graph, x: str, step: Log1p, where: str) -> str:
    col = hint(where)
    # featurekit's exact log, not onnxruntime's Log: that one rounds some values
    # differently by their place in the batch (see featurekit.expr.tree)
    return emit_log(g, g.op("Add", [g.const([[1.0]], "one"), x], f"{col}_1p"))


@emits(CategoryFolder)
def emit_category_folder(g: Graph, x: str, step: CategoryFolder, where: str) -> str:
    col = hint(where)
    kept = [str(c) for c in step.categories_[0]]
    if step.fold_unseen:
        members, when_in, when_out = kept, x, g.const([OTHER], "other")
    else:
        members = [str(c) for c in step.infrequent_categories_[0]]
        when_in, when_out = g.const([OTHER], "other"), x
    if not members:
        return x if not step.fold_unseen else g.op("Identity", [when_out])
    hit = _isin(g, x, members, col)
    return g.op("Where", [hit, when_in, when_out], f"{col}_folded")


def _isin(g: Graph, x: str, members: list[str], col: str) -> str:
    hit = g.op(
        "LabelEncoder",
        [x],
        f"{col}_member",
        domain=ML,
        keys_strings=members,
        values_int64s=[1] * len(members),
        default_int64=0,
    )
    return g.op("Cast", [hit], to=9)
