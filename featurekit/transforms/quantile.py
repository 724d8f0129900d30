"""Quantile transforms, exact in ONNX: scikit-learn's ``QuantileTransformer`` and `Quantiles`.

`emit_quantile_transformer` repeats what ``QuantileTransformer.transform`` computes for
a uniform output, operation for operation: ``np.interp`` from the quantiles forward and
from the negated quantiles backward, averaged (``0.5 * (a - b)``), then 0 and 1 at the
ends. ``np.interp``'s arithmetic is plain IEEE (``slope * (x - xp[j]) + fp[j]``, with
its two fall-backs where that is NaN), so the graph is bit for bit scikit-learn's.

A normal output needs the inverse normal CDF; scipy's ``ndtri`` calls the C library's
``log``, which the graph cannot repeat. `Quantiles` (behind ``fk.Numeric(transform=
"quantile-normal")``) therefore takes scikit-learn's uniform output and applies
featurekit's exact `featurekit.transforms.kernels.ndtri`, in training and in the graph
(within 6 ulp of scikit-learn's normal output, tested).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph
from featurekit.transforms.kernels import emit_ndtri, ndtri, where
from featurekit.transforms.registry import emits, hint

__all__ = ["Quantiles", "emit_quantile_transformer", "emit_quantiles"]

#: QuantileTransformer's margin for the ends of a normal output
BOUNDS_THRESHOLD = 1e-7
_OUTPUTS = ("uniform", "normal")


def normal_clip() -> tuple[float, float]:
    """Where a normal output is clipped: ``ndtri`` of QuantileTransformer's margins."""
    margin = BOUNDS_THRESHOLD - np.spacing(1)
    lo, hi = ndtri(np.array([margin, 1 - margin]))
    return float(lo), float(hi)


class Quantiles(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Map each column to its quantile: uniform on [0, 1], or standard normal.

    The quantiles are scikit-learn's (`~sklearn.preprocessing.QuantileTransformer`,
    fitted with ``min(n_quantiles, n_samples)`` quantiles, so that a small sample needs
    no warning). A uniform output is scikit-learn's own, bit for bit. A normal output is
    featurekit's exact inverse normal CDF of it, which the graph repeats bit for bit;
    it differs from scikit-learn's ``output_distribution="normal"`` by a few ulp.
    NaN passes through.

    Parameters
    ----------
    n_quantiles : int
        The most quantiles to keep.
    output_distribution : {"uniform", "normal"}
    subsample : int
        The most rows the quantiles are computed from.
    random_state : int
        Seeds the subsample, so that refitting gives the same quantiles.

    Attributes
    ----------
    quantiles_ : ndarray of shape (n_quantiles, n_features)
    references_ : ndarray of shape (n_quantiles,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> q = Quantiles(n_quantiles=5).fit(np.arange(9.0).reshape(-1, 1))
    >>> q.transform(np.array([[-1.0], [2.0], [4.0], [100.0]])).ravel().tolist()
    [0.0, 0.25, 0.5, 1.0]
    >>> Quantiles(n_quantiles=50, output_distribution="normal")
    quantile(n_quantiles=50, output_distribution='normal')
    """

    def __init__(
        self,
        n_quantiles: int = 1000,
        output_distribution: str = "uniform",
        subsample: int = 10_000,
        random_state: int | None = 0,
    ) -> None:
        self.n_quantiles = n_quantiles
        self.output_distribution = output_distribution
        self.subsample = subsample
        self.random_state = random_state

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        args = [f"n_quantiles={self.n_quantiles!r}"]
        if self.output_distribution != "uniform":
            args.append(f"output_distribution={self.output_distribution!r}")
        return f"quantile({', '.join(args)})"

    def fit(self, X: Any, y: Any = None) -> Quantiles:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        if self.output_distribution not in _OUTPUTS:
            raise ValueError(
                f"output_distribution must be one of {_OUTPUTS}, got "
                f"{self.output_distribution!r}."
            )
        n = self.n_quantiles
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n_quantiles must be an int >= 1, got {n!r}.")
        self.quantiler_ = QuantileTransformer(
            n_quantiles=int(min(n, X.shape[0], self.subsample)),
            output_distribution="uniform",
            subsample=self.subsample,
            random_state=self.random_state,
        ).fit(X)
        self.quantiles_ = self.quantiler_.quantiles_
        self.references_ = self.quantiler_.references_
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "quantiles_")
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        with warnings.catch_warnings():
            # validated above: the inner estimator sees the same plain array
            warnings.simplefilter("ignore", UserWarning)
            u = np.asarray(self.quantiler_.transform(X), dtype=np.float64)
        if self.output_distribution == "uniform":
            return u
        # QuantileTransformer's normal ends: within BOUNDS_THRESHOLD of the extreme
        # quantiles (the upper end first, the lower one wins), then ndtri and a clip
        with np.errstate(invalid="ignore"):
            u = where(X + BOUNDS_THRESHOLD > self.quantiles_[-1], 1.0, u)
            u = where(X - BOUNDS_THRESHOLD < self.quantiles_[0], 0.0, u)
        lo, hi = normal_clip()
        with np.errstate(invalid="ignore"):
            return np.asarray(np.minimum(np.maximum(ndtri(u), lo), hi))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags


# -- ONNX ---------------------------------------------------------------------------


def _interp(g: Graph, x: str, xp: np.ndarray, fp: np.ndarray, col: str) -> str:
    """``np.interp(x[:, i], xp[:, i], fp[:, i])`` for every column i, bit for bit.

    ``j``, the last index with ``xp[j] <= x``, is a count of ``GreaterOrEqual``, which
    is what numpy's binary search finds, duplicates included; ``-1`` is left of
    ``xp[0]`` and ``L - 1`` at or right of ``xp[-1]``.
    """
    n_points, width = xp.shape
    first = g.const(fp[:1], f"{col}_first")
    if n_points == 1:  # np.interp gives fp[0] everywhere
        return g.op("Where", [g.op("IsNaN", [x]), first, first])
    last = g.const(fp[-1:], f"{col}_last")
    grid = g.op("Unsqueeze", [x, g.const(np.array([1], dtype=np.int64))])
    above = g.op("GreaterOrEqual", [grid, g.const(xp[None], f"{col}_xp")])
    count = g.op(
        "ReduceSum",
        [g.op("Cast", [above], to=7), g.const(np.array([1], dtype=np.int64))],
        keepdims=0,
    )
    j = g.op("Sub", [count, g.const(np.int64(1))])
    lo = g.op("Clip", [j, g.const(np.int64(0)), g.const(np.int64(n_points - 2))])
    offsets = g.const(np.arange(width, dtype=np.int64)[None], f"{col}_columns")
    at = g.op("Add", [g.op("Mul", [lo, g.const(np.int64(width))]), offsets])
    at1 = g.op("Add", [at, g.const(np.int64(width))])
    flat_x, flat_f = g.const(xp.ravel(), f"{col}_xp_flat"), g.const(fp.ravel(), "fp")
    xj, xj1 = (g.op("Gather", [flat_x, i]) for i in (at, at1))
    fj, fj1 = (g.op("Gather", [flat_f, i]) for i in (at, at1))
    slope = g.op("Div", [g.op("Sub", [fj1, fj]), g.op("Sub", [xj1, xj])])
    r = g.op("Add", [g.op("Mul", [slope, g.op("Sub", [x, xj])]), fj])
    again = g.op("Add", [g.op("Mul", [slope, g.op("Sub", [x, xj1])]), fj1])
    r = g.op("Where", [g.op("IsNaN", [r]), again, r])
    flat = g.op("And", [g.op("IsNaN", [r]), g.op("Equal", [fj, fj1])])
    r = g.op("Where", [flat, fj, r])
    r = g.op("Where", [g.op("Equal", [x, xj]), fj, r])
    r = g.op(
        "Where", [g.op("GreaterOrEqual", [j, g.const(np.int64(n_points - 1))]), last, r]
    )
    return g.op("Where", [g.op("Less", [j, g.const(np.int64(0))]), first, r])


def _uniform(
    g: Graph, x: str, quantiles: np.ndarray, references: np.ndarray, col: str
) -> str:
    """QuantileTransformer's uniform output, before its ends are set."""
    ref = np.repeat(
        np.asarray(references, dtype=np.float64)[:, None], quantiles.shape[1], 1
    )
    q = np.asarray(quantiles, dtype=np.float64)
    forward = _interp(g, x, q, ref, f"{col}_fwd")
    backward = _interp(g, g.op("Neg", [x]), -q[::-1], -ref[::-1], f"{col}_bwd")
    mean = g.op("Mul", [g.const(np.float64(0.5)), g.op("Sub", [forward, backward])])
    # sklearn interpolates the non-missing values only: NaN stays NaN
    return g.op("Where", [g.op("IsNaN", [x]), x, mean], f"{col}_uniform")


def _ends(g: Graph, x: str, u: str, quantiles: np.ndarray, margin: float) -> str:
    """1 at the top quantile, then 0 at the bottom one (within `margin`)."""
    top, bottom = g.const(quantiles[-1:]), g.const(quantiles[:1])
    if margin:
        x_up = g.op("Add", [x, g.const(np.float64(margin))])
        x_down = g.op("Sub", [x, g.const(np.float64(margin))])
        at_top, at_bottom = g.op("Greater", [x_up, top]), g.op("Less", [x_down, bottom])
    else:
        at_top, at_bottom = g.op("Equal", [x, top]), g.op("Equal", [x, bottom])
    u = g.op("Where", [at_top, g.const(np.float64(1.0)), u])
    return g.op("Where", [at_bottom, g.const(np.float64(0.0)), u])


@emits(QuantileTransformer)
def emit_quantile_transformer(
    g: Graph, x: str, step: QuantileTransformer, where_: str
) -> str:
    """scikit-learn's QuantileTransformer with a uniform output, any number of columns."""
    if step.output_distribution != "uniform":
        raise ExportError(
            f"{where_}: QuantileTransformer(output_distribution='normal') needs scipy's "
            "ndtri, which the graph cannot repeat bit for bit; declare the column "
            "fk.Numeric(..., transform='quantile-normal'), which computes it exactly."
        )
    col = hint(where_)
    q = np.asarray(step.quantiles_, dtype=np.float64)
    return _ends(g, x, _uniform(g, x, q, step.references_, col), q, 0.0)


@emits(Quantiles)
def emit_quantiles(g: Graph, x: str, step: Quantiles, where_: str) -> str:
    col = hint(where_)
    q = np.asarray(step.quantiles_, dtype=np.float64)
    u = _uniform(g, x, q, step.references_, col)
    if step.output_distribution == "uniform":
        return _ends(g, x, u, q, 0.0)
    # Quantiles.transform: scikit-learn's ends (exact), then the normal ones
    u = _ends(g, x, _ends(g, x, u, q, 0.0), q, BOUNDS_THRESHOLD)
    lo, hi = normal_clip()
    z = emit_ndtri(g, u)
    z = g.op("Max", [z, g.const(np.float64(lo))])
    return g.op("Min", [z, g.const(np.float64(hi))], f"{col}_normal")
