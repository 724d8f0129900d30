"""B-spline bases, exact in ONNX: `Splines` and the emitter of ``SplineTransformer``.

scikit-learn's `~sklearn.preprocessing.SplineTransformer` evaluates its B-splines with
scipy's compiled de Boor recursion. That recursion is plain IEEE arithmetic (one
division, two products and a sum per step), so the graph can repeat it: `de_boor`
does so in numpy, row by row and step by step in scipy's order, and
`emit_spline_transformer` emits the same operations, so the two agree bit for bit.

`Splines` is ``SplineTransformer`` (its parameters, knots and fitted ``bsplines_``)
whose ``transform`` runs `de_boor` instead of scipy: training then computes exactly
what the graph computes on any machine, while scipy's build might contract a product
and a sum into one fused operation on some CPUs. On x86-64 its output equals
scikit-learn's bit for bit (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import SplineTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph
from featurekit.transforms.kernels import where
from featurekit.transforms.registry import emits, hint

__all__ = ["Splines", "de_boor", "emit_spline_transformer"]


def _rows(spline: Any, periodic: bool) -> np.ndarray:
    """The output column of each coefficient row: periodic splines wrap the last ones."""
    n_splines = spline.c.shape[1]
    return (
        np.arange(spline.c.shape[0]) % n_splines if periodic else np.arange(n_splines)
    )


def de_boor(spline: Any, x: np.ndarray, periodic: bool = False) -> np.ndarray:
    """``spline(x)`` of a scipy BSpline with identity coefficients, as scipy computes it.

    The (n, n_splines) basis, NaN rows where ``x`` is outside the base interval
    (unless the spline extrapolates) or NaN. scipy finds ``ell`` with ``t[ell] <= x < t[ell + 1]`` (clamped to the base
    interval), runs de Boor's recursion into ``h[0..k]``, then sums ``c[ell - k + a] *
    h[a]`` over ``a`` from 0 in order, starting at 0.0.
    """
    t = np.asarray(spline.t, dtype=np.float64)
    k = int(spline.k)
    n = t.size - k - 1
    x = np.asarray(x, dtype=np.float64)
    ell = np.clip(np.searchsorted(t, x, side="right") - 1, k, n - 1)
    bad = np.isnan(x)
    if not spline.extrapolate:
        bad |= (x < t[k]) | (x > t[n])
    h = [np.ones_like(x)] + [np.zeros_like(x)] * k
    with np.errstate(all="ignore"):
        for j in range(1, k + 1):
            hh = h[:j]
            h[0] = np.zeros_like(x)
            for m in range(1, j + 1):
                xb, xa = t[ell + m], t[ell + m - j]
                same = xb == xa  # scipy skips the step: h[m] = 0
                w = hh[m - 1] / (xb - xa)
                h[m - 1] = where(same, h[m - 1], h[m - 1] + w * (xb - x))
                h[m] = where(same, 0.0, w * (x - xa))
        rows = _rows(spline, periodic)
        columns = np.arange(spline.c.shape[1])
        out = np.zeros((x.size, columns.size))
        for a in range(k + 1):
            hit = (rows[ell - k + a][:, None] == columns[None, :]).astype(np.float64)
            out = out + hit * h[a][:, None]
    return where(bad[:, None], np.nan, out)


class Splines(SplineTransformer):
    """scikit-learn's SplineTransformer, evaluated with featurekit's exact `de_boor`.

    Same parameters, knots and output as `~sklearn.preprocessing.SplineTransformer`
    (dense output only); only the arithmetic's home changes, so that training and the
    ONNX graph agree bit for bit on any CPU.

    Examples
    --------
    >>> import numpy as np
    >>> s = Splines(n_knots=3, degree=1).fit(np.array([[0.0], [1.0], [2.0]]))
    >>> s.transform(np.array([[0.5], [2.0]])).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    """

    def transform(self, X: Any) -> Any:
        if self.sparse_output:  # not exported: scipy's own arithmetic will do
            return super().transform(X)
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            ensure_2d=True,
            ensure_all_finite=(self.handle_missing != "zeros"),
            dtype=np.float64,
        )
        blocks, degree = [], self.degree
        for i in range(X.shape[1]):
            basis, degree = _block(self, X[:, i], i, degree)
            blocks.append(basis)
        out = np.hstack(blocks) if blocks else np.zeros((X.shape[0], 0))
        if self.extrapolation == "error" and np.isnan(out).any():
            raise ValueError("`X` contains values beyond the limits of the knots.")
        return out


def _block(
    est: SplineTransformer, x: np.ndarray, i: int, k: int
) -> tuple[np.ndarray, int]:
    """One input column's bases, in SplineTransformer.transform's steps.

    `k` is the degree that transform's loop holds for this column: its linear
    extrapolation raises a degree of 0 or 1 by one and keeps it for the following
    columns (scikit-learn 1.9), so their ends move; returned is the next column's.
    """
    spline = est.bsplines_[i]
    n_splines = spline.c.shape[1]
    missing = np.isnan(x)
    mode = est.extrapolation
    with np.errstate(all="ignore"):
        if mode in ("continue", "error", "periodic"):
            if mode == "periodic":
                x = _periodic(spline, x)
            basis = de_boor(spline, x, periodic=mode == "periodic")
            basis[missing] = 0.0
        else:
            lo, hi = spline.t[k], spline.t[-k - 1]
            inside = (lo <= x) & (x <= hi)
            basis = where(inside[:, None], de_boor(spline, x), 0.0)
            f_lo, f_hi = spline(lo), spline(hi)
            if mode == "constant":
                below, above = x < lo, x > hi
                if k:
                    basis[below, :k] = f_lo[:k]
                    basis[above, n_splines - k :] = f_hi[n_splines - k :]
            else:  # linear
                d_lo, d_hi = spline(lo, nu=1), spline(hi, nu=1)
                k = k + 1 if k <= 1 else k
                for j in range(k):
                    below, above = x < lo, x > hi
                    basis[below, j] = f_lo[j] + (x[below] - lo) * d_lo[j]
                    r = n_splines - 1 - j
                    basis[above, r] = f_hi[r] + (x[above] - hi) * d_hi[r]
    if not est.include_bias:
        basis = basis[:, :-1]
    return basis, k


def _periodic(spline: Any, x: np.ndarray) -> np.ndarray:
    """``t[k] + (x - t[k]) % period``, as SplineTransformer maps periodic inputs."""
    k = spline.k
    n = spline.t.size - k - 1
    period = spline.t[n] - spline.t[k]
    if not period > 0:
        return np.zeros_like(x)
    return np.asarray(spline.t[k] + (x - spline.t[k]) % period, dtype=np.float64)


# -- ONNX ---------------------------------------------------------------------------


def _i64(g: Graph, value: int) -> str:
    return g.const(np.int64(value), "i")


def _f64(g: Graph, value: float) -> str:
    return g.const(np.float64(value), "k")


def _emit_de_boor(g: Graph, x: str, spline: Any, periodic: bool, col: str) -> str:
    """`de_boor` for the (N, 1) tensor `x`: (N, n_splines), node for node."""
    t = np.asarray(spline.t, dtype=np.float64)
    k = int(spline.k)
    n = t.size - k - 1
    knots = g.const(t, f"{col}_knots")
    above = g.op("GreaterOrEqual", [x, g.const(t[None], f"{col}_knot_row")])
    count = g.op(
        "ReduceSum",
        [g.op("Cast", [above], to=7), g.const(np.array([1], dtype=np.int64))],
        keepdims=1,
    )
    ell = g.op("Clip", [g.op("Sub", [count, _i64(g, 1)]), _i64(g, k), _i64(g, n - 1)])
    bad = g.op("IsNaN", [x])
    if not spline.extrapolate:
        outside = g.op(
            "Or",
            [g.op("Less", [x, _f64(g, t[k])]), g.op("Greater", [x, _f64(g, t[n])])],
        )
        bad = g.op("Or", [bad, outside])
    h = [_f64(g, 1.0)] + [_f64(g, 0.0)] * k
    for j in range(1, k + 1):
        hh = h[:j]
        h[0] = _f64(g, 0.0)
        for m in range(1, j + 1):
            xb = g.op("Gather", [knots, g.op("Add", [ell, _i64(g, m)])])
            xa = g.op("Gather", [knots, g.op("Add", [ell, _i64(g, m - j)])])
            same = g.op("Equal", [xb, xa])
            w = g.op("Div", [hh[m - 1], g.op("Sub", [xb, xa])])
            step = g.op("Add", [h[m - 1], g.op("Mul", [w, g.op("Sub", [xb, x])])])
            h[m - 1] = g.op("Where", [same, h[m - 1], step])
            h[m] = g.op(
                "Where",
                [same, _f64(g, 0.0), g.op("Mul", [w, g.op("Sub", [x, xa])])],
            )
    rows = g.const(_rows(spline, periodic).astype(np.int64), f"{col}_rows")
    columns = g.const(np.arange(spline.c.shape[1], dtype=np.int64)[None], "columns")
    out = g.const(np.zeros((1, spline.c.shape[1])), "zeros")
    for a in range(k + 1):
        row = g.op("Gather", [rows, g.op("Add", [ell, _i64(g, a - k)])])
        hit = g.op("Cast", [g.op("Equal", [row, columns])], to=11)
        out = g.op("Add", [out, g.op("Mul", [hit, h[a]])])
    return g.op("Where", [bad, _f64(g, np.nan), out], f"{col}_basis")


def _emit_periodic(g: Graph, x: str, spline: Any) -> str:
    """`_periodic`: numpy's float remainder is fmod, plus the period below 0, +0.0 at 0."""
    k = spline.k
    n = spline.t.size - k - 1
    period = spline.t[n] - spline.t[k]
    if not period > 0:
        return g.op("Where", [g.op("IsNaN", [x]), _f64(g, 0.0), _f64(g, 0.0)])
    p = _f64(g, period)
    m = g.op("Mod", [g.op("Sub", [x, _f64(g, spline.t[k])]), p], fmod=1)
    m = g.op("Where", [g.op("Less", [m, _f64(g, 0.0)]), g.op("Add", [m, p]), m])
    m = g.op("Where", [g.op("Equal", [m, _f64(g, 0.0)]), _f64(g, 0.0), m])
    return g.op("Add", [_f64(g, spline.t[k]), m])


def _ends(
    values: np.ndarray, columns: range, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """A (1, width) row holding `values` at `columns`, and the mask of those columns."""
    row, mask = np.zeros((1, width)), np.zeros((1, width), dtype=bool)
    for c in columns:
        row[0, c], mask[0, c] = values[c], True
    return row, mask


def _emit_block(
    g: Graph, x: str, est: SplineTransformer, i: int, k: int, col: str
) -> tuple[str, int]:
    """`_block`, node for node."""
    spline = est.bsplines_[i]
    n_splines = spline.c.shape[1]
    mode = est.extrapolation
    if mode in ("continue", "periodic"):
        xs = _emit_periodic(g, x, spline) if mode == "periodic" else x
        basis = _emit_de_boor(g, xs, spline, mode == "periodic", col)
        basis = g.op("Where", [g.op("IsNaN", [x]), _f64(g, 0.0), basis])
    else:
        lo, hi = spline.t[k], spline.t[-k - 1]
        inside = g.op(
            "And",
            [
                g.op("GreaterOrEqual", [x, _f64(g, lo)]),
                g.op("LessOrEqual", [x, _f64(g, hi)]),
            ],
        )
        basis = _emit_de_boor(g, x, spline, False, col)
        basis = g.op("Where", [inside, basis, _f64(g, 0.0)])
        below = g.op("Less", [x, _f64(g, lo)])
        above = g.op("Greater", [x, _f64(g, hi)])
        f_lo, f_hi = spline(lo), spline(hi)
        if mode == "constant":
            if k:
                ends = (
                    (below, _ends(f_lo, range(k), n_splines)),
                    (above, _ends(f_hi, range(n_splines - k, n_splines), n_splines)),
                )
                for rows, (row, mask) in ends:
                    hit = g.op("And", [rows, g.const(mask, "ends")])
                    basis = g.op("Where", [hit, g.const(row, "end_values"), basis])
        else:  # linear
            d_lo, d_hi = spline(lo, nu=1), spline(hi, nu=1)
            k = k + 1 if k <= 1 else k
            # column by column, below then above, as transform assigns them: with
            # the raised degree of a later column, lo > hi and a row is both
            for j in range(k):
                for rows, at, f, d, c in (
                    (below, lo, f_lo, d_lo, j),
                    (above, hi, f_hi, d_hi, n_splines - 1 - j),
                ):
                    f_row, mask = _ends(f, range(c, c + 1), n_splines)
                    d_row, _ = _ends(d, range(c, c + 1), n_splines)
                    slope = g.op("Mul", [g.op("Sub", [x, _f64(g, at)]), g.const(d_row)])
                    line = g.op("Add", [g.const(f_row), slope])
                    hit = g.op("And", [rows, g.const(mask, "ends")])
                    basis = g.op("Where", [hit, line, basis])
    if not est.include_bias:
        basis = g.op(
            "Slice",
            [
                basis,
                g.const(np.array([0], dtype=np.int64)),
                g.const(np.array([n_splines - 1], dtype=np.int64)),
                g.const(np.array([1], dtype=np.int64)),
            ],
        )
    return basis, k


@emits(SplineTransformer)
def emit_spline_transformer(
    g: Graph, x: str, step: SplineTransformer, where_: str
) -> str:
    """SplineTransformer (and `Splines`) over any number of columns."""
    if step.sparse_output:
        raise ExportError(
            f"{where_}: SplineTransformer(sparse_output=True) is not supported; the "
            "graph computes dense features. Use sparse_output=False."
        )
    if step.extrapolation == "error":
        raise ExportError(
            f"{where_}: SplineTransformer(extrapolation='error') raises on values "
            "beyond its knots, which serving cannot do per row; use 'constant', "
            "'linear', 'continue' or 'periodic'."
        )
    col = hint(where_)
    blocks, k = [], step.degree
    for i in range(step.n_features_in_):
        xi = g.op("Gather", [x, g.const(np.array([i], dtype=np.int64))], axis=1)
        basis, k = _emit_block(g, xi, step, i, k, f"{col}_{i}")
        blocks.append(basis)
    if len(blocks) == 1:
        return blocks[0]
    return g.op("Concat", blocks, f"{col}_splines", axis=1)
