"""Bin numbers, hash strings and look up target encodings, identically in ONNX.

`Bucketizer` and `HashEncoder` are the estimators behind ``fk.Bucketized`` and
``Categorical(encode="hash")``; ``Categorical(encode="target")`` uses scikit-learn's own
`~sklearn.preprocessing.TargetEncoder`. Each has an emitter here that writes ONNX
nodes computing the very same doubles:

- `emit_bucketizer` counts the edges at or below ``x`` (``GreaterOrEqual`` against a
  row of edges, then ``ReduceSum``), exactly as ``np.searchsorted(edges, x, "right")``.
- `emit_hash_encoder` runs onnxruntime's ``com.microsoft.MurmurHash3`` on the UTF-8
  bytes, the hash `~sklearn.feature_extraction.FeatureHasher` uses, and reproduces
  its bucket and sign rules.
- `emit_target_encoder` looks each category up in the fitted encodings table; unseen
  categories get the target mean, as ``TargetEncoder.transform`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import TensorProto
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import TargetEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.errors import ExportError
from featurekit.onnx.graph import ML, Graph
from featurekit.transforms.registry import emits, hint

__all__ = [
    "Bucketizer",
    "HashEncoder",
    "emit_bucketizer",
    "emit_hash_encoder",
    "emit_target_encoder",
]

MS = "com.microsoft"
_STRATEGIES = ("quantile", "uniform")
_ENCODES = ("onehot", "ordinal")
_INT32_MAX = 2**31 - 1


def _names_in(estimator: Any, input_features: Any) -> list[str]:
    """The input feature names, checked the way scikit-learn checks them."""
    names_in = getattr(estimator, "feature_names_in_", None)
    if input_features is None:
        if names_in is not None:
            return [str(n) for n in names_in]
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    names = [str(n) for n in input_features]
    if names_in is not None and names != [str(n) for n in names_in]:
        raise ValueError("input_features is not equal to feature_names_in_")
    if len(names) != estimator.n_features_in_:
        raise ValueError(
            "input_features should have length equal to number of features "
            f"({estimator.n_features_in_}), got {len(names)}"
        )
    return names


def _number(v: float) -> str:
    """The shortest text that reads back as `v`: ``30`` for 30.0, else ``repr``."""
    if math.isfinite(v) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def _interior_edges(column: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """The strictly increasing interior edges learnt from one column's finite values."""
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    lo, hi = float(finite.min()), float(finite.max())
    with np.errstate(over="ignore", invalid="ignore"):
        if strategy == "quantile":
            # np.percentile on a 0..100 grid, as KBinsDiscretizer(quantile_method=
            # "linear") does, so that both put the edges at the same doubles
            full = np.percentile(finite, np.linspace(0, 100, n_bins + 1))
        elif math.isfinite(hi - lo):
            full = np.linspace(lo, hi, n_bins + 1)
        else:  # the range overflows a double; a convex combination cannot
            t = np.linspace(0.0, 1.0, n_bins + 1)
            full = lo * (1.0 - t) + hi * t
    full = np.asarray(full, dtype=np.float64)
    # an edge equal to the minimum or maximum would leave a bin empty in training
    # (KBinsDiscretizer drops those too); duplicates of skewed quantiles merge
    keep = np.isfinite(full) & (full > lo) & (full < hi)
    return np.unique(full[keep])


class Bucketizer(TransformerMixin, BaseEstimator):
    """Cut numbers into bins; missing values get a bin of their own.

    With interior edges ``e_1 < ... < e_k``, bin 0 holds ``x < e_1``, bin ``i`` holds
    ``e_i <= x < e_{i+1}`` and bin ``k`` holds ``x >= e_k``: a value exactly on an edge
    goes to the bin above it, -inf to the first bin and +inf to the last. NaN goes to
    the extra bin ``k + 1`` (``n_bins_``), which always exists, so that the output
    width does not depend on whether training saw a missing value.

    Parameters
    ----------
    n_bins : int
        The number of bins for "quantile" and "uniform". Ignored when `edges` is
        given.
    strategy : {"quantile", "uniform"} or None
        "quantile": edges at the quantiles of the finite training values (linear
        interpolation, as ``np.percentile``); duplicate edges of skewed data merge, so
        fewer bins may result. "uniform": equal widths between the finite minimum and
        maximum. Ignored when `edges` is given, and may then be None.
    edges : list of float, optional
        Explicit interior edges: finite and strictly increasing. ``[18, 65]`` makes
        the bins ``x < 18``, ``18 <= x < 65`` and ``x >= 65``.
    encode : {"onehot", "ordinal"}
        "onehot": one 0/1 column per bin, then one for the missing bin. "ordinal":
        one column holding the bin number (the missing bin's is ``n_bins_``).

    Attributes
    ----------
    bin_edges_ : list of ndarray
        Per column, the interior edges actually used (strictly increasing, maybe
        empty).
    n_bins_ : ndarray of int
        Per column, the number of bins for non-missing values:
        ``len(bin_edges_[j]) + 1``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fit on a frame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> b = Bucketizer(edges=[18, 65], encode="ordinal").fit(np.zeros((1, 1)))
    >>> b.transform(np.array([[17.9], [18.0], [64.0], [65.0], [np.nan]])).ravel()
    array([0., 1., 1., 2., 3.])
    >>> b.set_params(encode="onehot").fit(np.zeros((1, 1))).get_feature_names_out(
    ...     ["age"]
    ... ).tolist()
    ['age[-inf, 18)', 'age[18, 65)', 'age[65, inf]', 'age=missing']
    >>> Bucketizer(edges=[18, 65])
    bucketize(edges=[18, 65])
    """

    def __init__(
        self,
        n_bins: int = 5,
        strategy: str | None = "quantile",
        edges: Sequence[float] | None = None,
        encode: str = "onehot",
    ) -> None:
        self.n_bins = n_bins
        self.strategy = strategy
        self.edges = edges
        self.encode = encode

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        if self.edges is not None:
            args = [f"edges=[{', '.join(_number(float(e)) for e in self.edges)}]"]
        else:
            args = [f"n_bins={self.n_bins!r}", f"strategy={self.strategy!r}"]
        if self.encode != "onehot":
            args.append(f"encode={self.encode!r}")
        return f"bucketize({', '.join(args)})"

    def _check_params(self) -> np.ndarray | None:
        if self.encode not in _ENCODES:
            raise ValueError(
                f"Bucketizer: encode must be one of {_ENCODES}, got {self.encode!r}."
            )
        if self.edges is None:
            n = self.n_bins
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise ValueError(
                    f"Bucketizer: n_bins must be an int >= 1, got {n!r}; "
                    "or give explicit edges."
                )
            if self.strategy not in _STRATEGIES:
                raise ValueError(
                    f"Bucketizer: strategy must be one of {_STRATEGIES}, got "
                    f"{self.strategy!r}; or give explicit edges."
                )
            return None
        try:
            edges = np.asarray(self.edges, dtype=np.float64)
        except (TypeError, ValueError):
            edges = np.array([np.nan])
        if (
            edges.ndim != 1
            or edges.size == 0
            or not np.isfinite(edges).all()
            or (np.diff(edges) <= 0).any()
        ):
            raise ValueError(
                "Bucketizer: edges must be a non-empty list of finite, strictly "
                f"increasing numbers, got {self.edges!r}; sort them and drop "
                "duplicates."
            )
        return edges

    def fit(self, X: Any, y: Any = None) -> Bucketizer:
        edges = self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        if edges is not None:
            self.bin_edges_ = [edges.copy() for _ in range(X.shape[1])]
        else:
            self.bin_edges_ = [
                _interior_edges(X[:, j], int(self.n_bins), str(self.strategy))
                for j in range(X.shape[1])
            ]
        self.n_bins_ = np.array([e.size + 1 for e in self.bin_edges_], dtype=np.int64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "bin_edges_")
        X = validate_data(
            self,
            X,
            dtype=np.float64,
            ensure_all_finite=False,
            ensure_min_samples=0,
            reset=False,
        )
        parts = []
        for j, edges in enumerate(self.bin_edges_):
            x = X[:, j]
            # side="right" counts the edges <= x: a value on an edge goes up a bin
            index = np.searchsorted(edges, x, side="right")
            index[np.isnan(x)] = edges.size + 1
            if self.encode == "ordinal":
                parts.append(index.astype(np.float64)[:, None])
            else:
                hot = np.zeros((x.shape[0], edges.size + 2), dtype=np.float64)
                hot[np.arange(x.shape[0]), index] = 1.0
                parts.append(hot)
        return np.hstack(parts) if parts else np.empty((X.shape[0], 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "bin_edges_")
        names = _names_in(self, input_features)
        if self.encode == "ordinal":
            return np.asarray(names, dtype=object)
        out: list[str] = []
        for name, edges in zip(names, self.bin_edges_, strict=True):
            bounds = ["-inf", *(_number(float(e)) for e in edges), "inf"]
            for i in range(len(bounds) - 1):
                close = "]" if i == len(bounds) - 2 else ")"
                out.append(f"{name}[{bounds[i]}, {bounds[i + 1]}{close}")
            out.append(f"{name}=missing")
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags


class HashEncoder(TransformerMixin, BaseEstimator):
    """Hash each string into one of `n_buckets` columns, as scikit-learn's FeatureHasher.

    The output is exactly
    ``FeatureHasher(n_buckets, input_type="string", alternate_sign=...)`` applied to
    the strings of each row, made dense: the column is
    ``abs(murmurhash3_32(s)) % n_buckets`` of the UTF-8 bytes (a hash of -2**31
    counts as 2**31) and, with `alternate_sign`, the value is -1 for a negative hash
    and +1 otherwise. No string is unknown, so there is nothing to fit beyond the
    input's width; the missing sentinel hashes like any other string.

    Parameters
    ----------
    n_buckets : int
        The number of output columns, 1 to 2**31 - 1.
    alternate_sign : bool
        Give each string a sign drawn from its hash, so that colliding strings tend
        to cancel instead of adding up (FeatureHasher's default).

    Attributes
    ----------
    n_features_in_ : int
        Strings of all columns of a row hash into the same buckets.
    feature_names_in_ : ndarray of str
        Only when fit on a frame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([["cat"], ["dog"], ["cat"]], dtype=object)
    >>> out = HashEncoder(n_buckets=4).fit_transform(X)
    >>> out.shape, bool((out[0] == out[2]).all()), np.abs(out).sum(axis=1).tolist()
    ((3, 4), True, [1.0, 1.0, 1.0])
    >>> HashEncoder(n_buckets=4)
    hash(n_buckets=4)
    """

    def __init__(self, n_buckets: int = 32, alternate_sign: bool = True) -> None:
        self.n_buckets = n_buckets
        self.alternate_sign = alternate_sign

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        sign = "" if self.alternate_sign else ", alternate_sign=False"
        return f"hash(n_buckets={self.n_buckets!r}{sign})"

    def _check_strings(self, X: np.ndarray) -> None:
        bad = [v for v in X.ravel().tolist() if not isinstance(v, str)]
        if bad:
            raise ValueError(
                f"HashEncoder hashes strings, but got {len(bad)} other values "
                f"(e.g. {bad[0]!r} of type {type(bad[0]).__name__}); pass categories "
                "as str and impute missing values (featurekit's inputs turn them "
                "into the MISSING sentinel)."
            )

    def fit(self, X: Any, y: Any = None) -> HashEncoder:
        n = self.n_buckets
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise ValueError(f"HashEncoder: n_buckets must be an int, got {n!r}.")
        if not 1 <= n <= _INT32_MAX:
            raise ValueError(
                f"HashEncoder: n_buckets must be between 1 and 2**31 - 1, got {n!r}."
            )
        X = validate_data(self, X, dtype=None, ensure_all_finite=False)
        self._check_strings(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        from sklearn.feature_extraction import FeatureHasher

        check_is_fitted(self, "n_features_in_")
        X = validate_data(
            self,
            X,
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=0,
            reset=False,
        )
        self._check_strings(X)
        if X.shape[0] == 0:  # FeatureHasher refuses an empty batch
            return np.zeros((0, int(self.n_buckets)), dtype=np.float64)
        hasher = FeatureHasher(
            n_features=int(self.n_buckets),
            input_type="string",
            alternate_sign=bool(self.alternate_sign),
            dtype=np.float64,
        )
        return np.asarray(hasher.transform(X.tolist()).toarray(), dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        prefix = "+".join(_names_in(self, input_features))
        return np.asarray(
            [f"{prefix}#{i}" for i in range(int(self.n_buckets))], dtype=object
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.requires_fit = True
        return tags


def _one_column(step: Any, where: str) -> None:
    if getattr(step, "n_features_in_", None) != 1:
        raise ExportError(
            f"{where}: {type(step).__name__} was fit on "
            f"{getattr(step, 'n_features_in_', '?')} columns; the exporter emits one "
            "column per step, so fit one per column."
        )


@emits(Bucketizer)
def emit_bucketizer(g: Graph, x: str, step: Bucketizer, where: str) -> str:
    """The (N, k) double tensor `step` computes from the (N, 1) double `x`.

    The edge count is ``ReduceSum(GreaterOrEqual(x, edges))``; both sides compare
    doubles exactly, so a value on an edge lands in the same bin in both runtimes.
    """
    check_is_fitted(step, "bin_edges_")
    _one_column(step, where)
    h = hint(where)
    edges = step.bin_edges_[0]
    n_bins = edges.size + 1
    isnan = g.op("IsNaN", [x], f"{h}_isnan")
    if edges.size:
        above = g.op("GreaterOrEqual", [x, g.const(edges[None, :], f"{h}_edges")])
        count = g.op(
            "ReduceSum",
            [
                g.op("Cast", [above], to=TensorProto.INT64),
                g.const(np.array([1], dtype=np.int64), "axis1"),
            ],
            f"{h}_count",
            keepdims=1,
        )
    else:
        count = g.const(np.array([0], dtype=np.int64), f"{h}_zero")
    nan_bin = g.const(np.array([n_bins], dtype=np.int64), f"{h}_nan_bin")
    index = g.op("Where", [isnan, nan_bin, count], f"{h}_bin")
    if step.encode == "ordinal":
        return g.op("Cast", [index], f"{h}_ordinal", to=TensorProto.DOUBLE)
    bins = g.const(np.arange(n_bins + 1, dtype=np.int64)[None, :], f"{h}_bins")
    hot = g.op("Equal", [index, bins])
    return g.op("Cast", [hot], f"{h}_onehot", to=TensorProto.DOUBLE)


@emits(HashEncoder)
def emit_hash_encoder(g: Graph, x: str, step: HashEncoder, where: str) -> str:
    """The (N, n_buckets) double tensor `step` computes from the (N, 1) string `x`.

    FeatureHasher's rule, in int64 so that ``abs(-2**31)`` is 2**31 as its special
    case makes it: bucket ``abs(h) % n``, value ``+1`` when ``h >= 0`` else ``-1``.
    """
    check_is_fitted(step, "n_features_in_")
    _one_column(step, where)
    h = hint(where)
    n = int(step.n_buckets)
    signed = g.op("MurmurHash3", [x], f"{h}_murmur", domain=MS, seed=0, positive=0)
    wide = g.op("Cast", [signed], f"{h}_hash", to=TensorProto.INT64)
    bucket = g.op(
        "Mod",
        [g.op("Abs", [wide]), g.const(np.array([n], dtype=np.int64), f"{h}_n")],
        f"{h}_bucket",
    )
    hot = g.op(
        "Equal", [bucket, g.const(np.arange(n, dtype=np.int64)[None, :], f"{h}_ids")]
    )
    if not step.alternate_sign:
        return g.op("Cast", [hot], f"{h}_hashed", to=TensorProto.DOUBLE)
    negative = g.op("Less", [wide, g.const(np.array([0], dtype=np.int64), "zero64")])
    sign = g.op(
        "Where", [negative, g.const([-1.0], "minus_one"), g.const([1.0], "plus_one")]
    )
    # Where, not Mul: 0 * -1 would give -0.0 where FeatureHasher has +0.0
    return g.op("Where", [hot, sign, g.const([0.0], "zero")], f"{h}_hashed")


@emits(TargetEncoder)
def emit_target_encoder(g: Graph, x: str, step: Any, where: str) -> str:
    """The (N, k) double tensor a fitted one-column `TargetEncoder` transforms to.

    ``TargetEncoder.transform`` (not ``fit_transform``, whose cross-fitted values
    exist only for the training rows) maps category ``c`` to ``encodings_[c]`` and an
    unseen one to ``target_mean_``. Here a ``LabelEncoder`` turns the string into a
    row number (unseen: the last row) and ``Gather`` picks that row of a table of the
    same doubles: k is 1, or the number of classes for a multiclass target.
    """
    from sklearn.preprocessing import TargetEncoder

    if not isinstance(step, TargetEncoder):
        raise ExportError(f"{where}: expected a TargetEncoder, got {step!r}.")
    check_is_fitted(step, "encodings_")
    _one_column(step, where)
    h = hint(where)
    categories = list(step.categories_[0])
    odd = [c for c in categories if not isinstance(c, str)]
    if odd:
        raise ExportError(
            f"{where}: TargetEncoder learnt {len(odd)} non-string categories (e.g. "
            f"{odd[0]!r}), which a string input can never match; fit it on strings, "
            "with missing values as featurekit's MISSING sentinel."
        )
    if step.target_type_ == "multiclass":
        k = len(step.classes_)
        columns = [np.asarray(e, dtype=np.float64) for e in step.encodings_[:k]]
        means = np.asarray(step.target_mean_, dtype=np.float64)
    else:
        columns = [np.asarray(step.encodings_[0], dtype=np.float64)]
        means = np.asarray([step.target_mean_], dtype=np.float64)
    table = np.vstack([np.column_stack(columns), means[None, :]])
    rows = g.op(
        "LabelEncoder",
        [x],
        f"{h}_row",
        domain=ML,
        keys_strings=categories,
        values_int64s=list(range(len(categories))),
        default_int64=len(categories),
    )
    flat = g.op("Squeeze", [rows, g.const(np.array([1], dtype=np.int64), "axis1")])
    return g.op(
        "Gather", [g.const(table, f"{h}_encodings"), flat], f"{h}_target", axis=0
    )
