"""Power transforms (Yeo-Johnson, Box-Cox) with exact kernels: `Power` and its emitter.

scikit-learn's `~sklearn.preprocessing.PowerTransformer` transforms with scipy, that is
with the C library's ``log1p``, ``expm1``, ``log`` and ``exp``, whose last bit depends
on the CPU; the graph cannot repeat them. `Power` keeps scikit-learn's fitted lambdas
and its formulas, operation for operation, but computes them with featurekit's exact
kernels (`featurekit.transforms.kernels`), so that training and the graph agree bit
for bit. Its output is within a few ulp of scikit-learn's (``tests/featurekit/
test_power.py`` states the bound). Standardising is a separate step
(``scale="standard"``): ``PowerTransformer()`` is ``Power()`` then ``StandardScaler()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import PowerTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from featurekit.expr.emitter import emit_exp, emit_log
from featurekit.expr.evaluator import exp, log
from featurekit.onnx.graph import Graph
from featurekit.transforms.kernels import (
    emit_expm1,
    emit_log1p,
    expm1,
    log1p,
    where,
)
from featurekit.transforms.registry import emits, hint

__all__ = ["Power", "emit_power", "emit_power_transformer"]

_METHODS = ("yeo-johnson", "box-cox")
#: scipy's thresholds: Yeo-Johnson treats abs(lambda) < eps as 0 (and abs(lambda - 2)
#: < eps as 2); Box-Cox treats abs(lambda) < 1e-19 as 0 and switches to its overflow-
#: safe form where lambda * log(x) >= 709.78
_EPS = float(np.finfo(np.float64).eps)
_BOXCOX_ZERO = 1e-19
_BOXCOX_BIG = 709.78


class Power(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Yeo-Johnson or Box-Cox, with scikit-learn's lambdas and featurekit's exact kernels.

    Yeo-Johnson, as scipy writes it: ``expm1(lam * log1p(x)) / lam`` for ``x >= 0``
    (``log1p(x)`` when ``lam`` is 0), ``-expm1((2 - lam) * log1p(-x)) / (2 - lam)``
    below 0 (``-log1p(-x)`` when ``lam`` is 2). Box-Cox: ``expm1(lam * log(x)) / lam``
    (``log(x)`` when ``lam`` is 0), for ``x > 0``; NaN at or below 0. NaN passes
    through, and is ignored when fitting.

    Parameters
    ----------
    method : {"yeo-johnson", "box-cox"}

    Attributes
    ----------
    lambdas_ : ndarray of shape (n_features,)
        scikit-learn's maximum-likelihood lambdas (``PowerTransformer.lambdas_``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> p = Power().fit(np.array([[1.0], [2.0], [4.0], [9.0]]))
    >>> bool(abs(p.lambdas_[0]) < 1)
    True
    >>> Power("box-cox")
    power(method='box-cox')
    """

    def __init__(self, method: str = "yeo-johnson") -> None:
        self.method = method

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return f"power(method={self.method!r})"

    def fit(self, X: Any, y: Any = None) -> Power:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}.")
        sk = PowerTransformer(method=self.method, standardize=False).fit(X)
        self.lambdas_ = np.asarray(sk.lambdas_, dtype=np.float64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "lambdas_")
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        c = _constants(self.method, self.lambdas_)
        with np.errstate(all="ignore"):
            if self.method == "yeo-johnson":
                up = log1p(X)
                down = log1p(-X)
                pos = where(c["zero"], up, expm1(c["lam"] * up) / c["lam_safe"])
                neg = where(c["two"], -down, -expm1(c["m"] * down) / c["m_safe"])
                return where(X >= 0.0, pos, neg)
            logx = log(X)
            p = c["lam"] * logx
            small = expm1(p) / c["lam_safe"]
            big = c["sign"] * exp(p - c["log_lam"]) - c["inv_lam"]
            return where(c["zero"], logx, where(p < _BOXCOX_BIG, small, big))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.positive_only = self.method == "box-cox"
        tags.requires_fit = True
        return tags


def _constants(method: str, lambdas: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column constants, as (1, n_features) rows: the same doubles in both runtimes."""
    lam = np.asarray(lambdas, dtype=np.float64)[None, :]
    if method == "yeo-johnson":
        zero = np.abs(lam) < _EPS
        two = np.abs(lam - 2) <= _EPS
        m = 2 - lam
        return {
            "lam": lam,
            "zero": zero,
            "lam_safe": np.where(zero, 1.0, lam),
            "two": two,
            "m": m,
            "m_safe": np.where(two, 1.0, m),
        }
    zero = np.abs(lam) < _BOXCOX_ZERO
    safe = np.where(zero, 1.0, lam)
    return {
        "lam": lam,
        "zero": zero,
        "lam_safe": safe,
        "sign": np.copysign(1.0, safe),
        "log_lam": log(np.abs(safe)),
        "inv_lam": 1 / safe,
    }


@emits(Power)
def emit_power(g: Graph, x: str, step: Power, where_: str) -> str:
    col = hint(where_)
    c = {
        k: g.const(v, f"{col}_{k}")
        for k, v in _constants(step.method, step.lambdas_).items()
    }
    if step.method == "yeo-johnson":
        up = emit_log1p(g, x)
        down = emit_log1p(g, g.op("Neg", [x]))
        scaled = emit_expm1(g, g.op("Mul", [c["lam"], up]))
        pos = g.op("Where", [c["zero"], up, g.op("Div", [scaled, c["lam_safe"]])])
        scaled = emit_expm1(g, g.op("Mul", [c["m"], down]))
        neg = g.op(
            "Where",
            [
                c["two"],
                g.op("Neg", [down]),
                g.op("Div", [g.op("Neg", [scaled]), c["m_safe"]]),
            ],
        )
        nonneg = g.op("GreaterOrEqual", [x, g.const(np.float64(0.0))])
        return g.op("Where", [nonneg, pos, neg], f"{col}_yeo_johnson")
    logx = emit_log(g, x)
    p = g.op("Mul", [c["lam"], logx])
    small = g.op("Div", [emit_expm1(g, p), c["lam_safe"]])
    big = emit_exp(g, g.op("Sub", [p, c["log_lam"]]))
    big = g.op("Sub", [g.op("Mul", [c["sign"], big]), c["inv_lam"]])
    fits = g.op("Less", [p, g.const(np.float64(_BOXCOX_BIG))])
    out = g.op("Where", [fits, small, big])
    return g.op("Where", [c["zero"], logx, out], f"{col}_box_cox")


@emits(PowerTransformer)
def emit_power_transformer(
    g: Graph, x: str, step: PowerTransformer, where_: str
) -> str:
    """scikit-learn's PowerTransformer, with featurekit's kernels: within a few ulp.

    scikit-learn transforms with the C library's kernels, which no graph repeats bit
    for bit; this is `Power`'s arithmetic on its lambdas, then its standardising
    (``(x - mean_) / scale_``, as StandardScaler computes it).
    """
    own = Power(method=step.method)
    own.lambdas_ = np.asarray(step.lambdas_, dtype=np.float64)
    own.n_features_in_ = step.n_features_in_
    x = emit_power(g, x, own, where_)
    if not step.standardize:
        return x
    scaler = getattr(step, "_scaler", None)
    if scaler is None:  # pragma: no cover - scikit-learn's private layout changed
        from featurekit.errors import ExportError

        raise ExportError(
            f"{where_}: this scikit-learn's PowerTransformer keeps its scaler where "
            "featurekit does not look; declare fk.Numeric(..., transform="
            f"{step.method!r}, scale='standard') instead."
        )
    col = hint(where_)
    x = g.op("Sub", [x, g.const(scaler.mean_, f"{col}_mean")])
    return g.op("Div", [x, g.const(scaler.scale_, f"{col}_scale")], f"{col}_scaled")
