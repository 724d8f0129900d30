"""Evaluate expressions with numpy: the training-side twin of `featurekit.expr.emitter`.

`evaluate` runs an `Expr` over columns; ``log``, ``exp`` and the calendar functions are
featurekit's own kernels, built from exactly rounded operations so that the graph can
repeat them step for step (see "Exactness" in `featurekit.expr.tree`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from featurekit.errors import SpecError
from featurekit.expr.tree import CROSS_SEPARATOR, DATETIME_LIMIT, Expr
from featurekit.missing import MISSING

# -- numpy evaluation -------------------------------------------------------------


def evaluate(expr: Expr, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Compute `expr` over columns of equal length.

    Parameters
    ----------
    expr : Expr
    data : mapping of str to numpy.ndarray
        Each column `expr` uses: float64 for numbers and datetimes (NaN is missing),
        object arrays of str for categories (`featurekit.contract.columns.MISSING` is missing).

    Returns
    -------
    numpy.ndarray
        1-D: float64, or object for a category.

    Examples
    --------
    >>> import numpy as np
    >>> import featurekit.expr.tree as fx
    >>> evaluate(fx.col("a") / fx.col("b"), {"a": np.array([1.0, 1.0]),
    ...                                      "b": np.array([4.0, 0.0])})
    array([0.25,  nan])
    """
    names = list(expr.columns())
    if not names:
        raise SpecError(f"{expr!r} uses no column; expected at least one.")
    absent = [n for n in names if n not in data]
    if absent:
        raise SpecError(f"{expr!r} needs columns {absent!r}, which the data lacks.")
    n = len(data[names[0]])
    memo: dict[tuple[Any, ...], np.ndarray] = {}
    with np.errstate(all="ignore"):
        out = _eval(expr, data, memo)
    out = np.broadcast_to(out, (n,))
    return out.astype(object if out.dtype == object else np.float64)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, np.nan)


def _eval(
    e: Expr, data: Mapping[str, np.ndarray], memo: dict[tuple[Any, ...], np.ndarray]
) -> np.ndarray:
    hit = memo.get(e._key)
    if hit is not None:
        return hit
    out: np.ndarray = _eval_node(e, [_eval(a, data, memo) for a in e.args], data)
    memo[e._key] = out
    return out


_NUMPY_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "minimum": np.minimum,
    "maximum": np.maximum,
}
_NUMPY_COMPARE = {
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
}


def _plus_zero(x: np.ndarray) -> np.ndarray:
    """-0.0 as +0.0: numpy and onnxruntime pick different zeros from min/max of equal ones."""
    return np.where(x == 0, 0.0, x)


def _eval_node(e: Expr, a: list[np.ndarray], data: Mapping[str, np.ndarray]) -> Any:
    op = e.op
    if op == "col":
        return np.asarray(data[e.params[0]])
    if op == "lit":
        value = e.params[0]
        return np.array([value], dtype=object if isinstance(value, str) else float)
    if op in _NUMPY_BINARY:
        out = _NUMPY_BINARY[op](a[0].astype(float), a[1].astype(float))
        if op in ("minimum", "maximum"):
            out = _plus_zero(out)
        return _finite(out)
    if op == "pow":
        # what the graph computes (onnx_expr's power): products for a literal 2 or 3,
        # C's pow otherwise. Full-shape operands keep numpy off its own shortcuts
        # (x * x, sqrt, 1 / x for a scalar exponent), which differ in the last bit.
        x, y = np.broadcast_arrays(a[0].astype(float), a[1].astype(float))
        missing = np.isnan(x) | np.isnan(y)
        exponent = e.args[1]
        if exponent.op == "lit" and exponent.params[0] in (2, 3):
            power = x * x if exponent.params[0] == 2 else x * x * x
        else:
            power = np.power(x, np.array(y))
        return _finite(np.where(missing, np.nan, power))
    if op == "neg":
        return _finite(-a[0])
    if op == "abs":
        return _finite(np.abs(a[0]))
    if op == "sqrt":
        return _finite(np.sqrt(a[0]))
    if op == "log":
        return log(a[0])
    if op == "log1p":
        return log(1.0 + a[0])
    if op == "exp":
        return _finite(exp(a[0]))
    if op == "clip":
        x = a[0]
        lo, hi = e.params
        if lo is not None:
            x = np.maximum(x, float(lo))
        if hi is not None:
            x = np.minimum(x, float(hi))
        return _finite(_plus_zero(x))
    if op in _NUMPY_COMPARE or op == "ne":
        x, y = a
        if x.dtype == object or y.dtype == object:
            x, y = np.asarray(x, dtype=object), np.asarray(y, dtype=object)
            known = (x != MISSING) & (y != MISSING)
        else:
            known = ~(np.isnan(x) | np.isnan(y))
        hit = (x != y if op == "ne" else _NUMPY_COMPARE[op](x, y)) & known
        return np.asarray(hit, dtype=bool).astype(float)
    if op == "and":
        return a[0] * a[1]
    if op == "or":
        return np.maximum(a[0], a[1])
    if op == "not":
        return 1.0 - a[0]
    if op == "isnull":
        return _isnull(a[0]).astype(float)
    if op == "fillna":
        value = e.params[0]
        if isinstance(value, str):
            return np.where(_isnull(a[0]), np.array([value], dtype=object), a[0])
        return np.where(np.isnan(a[0]), float(value), a[0])
    if op == "isin":
        x = a[0]
        hit = np.zeros(x.shape, dtype=bool)
        for v in e.params[0]:
            hit |= np.asarray(x == (v if isinstance(v, str) else float(v)), bool)
        return hit.astype(float)
    if op == "where":
        if a[1].dtype == object:
            return np.where(a[0] != 0, a[1], a[2])
        # onnxruntime's Where gives 0.0 for a -0.0 taken from its first branch
        return np.where(a[0] != 0, a[1] + 0.0, a[2])
    if op == "cross":
        x, y = np.broadcast_arrays(a[0], a[1])
        return np.array(
            [
                MISSING if p == MISSING or q == MISSING else p + CROSS_SEPARATOR + q
                for p, q in zip(x.tolist(), y.tolist(), strict=True)
            ],
            dtype=object,
        ).reshape(x.shape)
    if op == "days_between":
        (d0, bad0), (d1, bad1) = _days(a[0]), _days(a[1])
        return np.where(bad0 | bad1, np.nan, (d1 - d0).astype(float))
    part = op.removeprefix("dt.")
    return date_part(a[0], part)


def _isnull(x: np.ndarray) -> np.ndarray:
    if x.dtype == object:
        return np.asarray(x == MISSING, dtype=bool)
    return np.asarray(np.isnan(x))


# -- kernels shared in spirit with onnx_expr ---------------------------------------

#: Cephes coefficients for log(1+x) = x - x**2/2 + x**3 P(x)/Q(x) on [sqrt(1/2), sqrt(2))
LOG_P = (
    1.01875663804580931796e-4,
    4.97494994976747001425e-1,
    4.70579119878881725854e0,
    1.44989225341610930846e1,
    1.79368678507819816313e1,
    7.70838733755885391666e0,
)
LOG_Q = (
    1.12873587189167450590e1,
    4.52279145837532221105e1,
    8.29875266912776603211e1,
    7.11544750618563894466e1,
    2.31251620126765340583e1,
)
SQRTHF = 0.70710678118654752440
LN2 = 0.693147180559945309417232121458
#: Cephes coefficients for exp(g) = 1 + 2g P(g²) / (Q(g²) - g P(g²)) on |g| <= ln(2)/2
EXP_P = (
    1.26177193074810590878e-4,
    3.02994407707441961300e-2,
    9.99999999999999999910e-1,
)
EXP_Q = (
    3.00198505138664455042e-6,
    2.52448340349684104192e-3,
    2.27265548208155028766e-1,
    2.00000000000000000009e0,
)
LOG2E = 1.4426950408889634073599
EXP_C1, EXP_C2 = 0.693145751953125, 1.42860682030941723212e-6
EXP_LO, EXP_HI = -746.0, 710.0


def log_core(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``log((1 + t) * 2**e)`` for ``1 + t`` in [SQRTHF, 2 * SQRTHF).

    Each line is one IEEE operation per element, in the order `featurekit.expr.emitter`
    emits them (it computes the numerator and the denominator at once, as the two
    slices of one tensor).
    """
    x2 = t * t
    x3 = x2 * t
    y = (LOG_P[0] * t + LOG_P[1]) * t + LOG_P[2]
    y1 = (LOG_P[3] * t + LOG_P[4]) * t + LOG_P[5]
    num = y * x3 + y1
    y = (t + LOG_Q[0]) * t + LOG_Q[1]  # the denominator is monic: 1.0 * t is t
    y1 = (LOG_Q[2] * t + LOG_Q[3]) * t + LOG_Q[4]
    den = y * x3 + y1
    r = (num * x3) / den
    r = -0.5 * x2 + r
    out: np.ndarray = e * LN2 + (t + r)
    return out


def log(x: np.ndarray) -> np.ndarray:
    """Natural log, NaN outside (0, inf); see `log_core`.

    ``x = m * 2**e`` with ``m`` in [SQRTHF, 2 * SQRTHF) has one solution, which frexp
    gives here and `featurekit.expr.emitter` finds from a corrected guess; both are exact.
    """
    x = np.asarray(x, dtype=np.float64)
    ok = (x > 0) & (x < np.inf)
    m, e = np.frexp(np.where(ok, x, np.nan))  # NaN flows through to the result
    small = m < SQRTHF
    t = np.where(small, m + m, m) - 1.0
    return log_core(t, (e - small).astype(np.float64))


def exp(x: np.ndarray) -> np.ndarray:
    """``e ** x``: inf where it overflows, NaN for NaN."""
    x = np.clip(np.asarray(x, dtype=np.float64), EXP_LO, EXP_HI)  # NaN stays NaN
    n = np.floor(LOG2E * x + 0.5)
    g = (x - n * EXP_C1) - n * EXP_C2
    g2 = g * g
    px = ((EXP_P[0] * g2 + EXP_P[1]) * g2 + EXP_P[2]) * g
    qx = ((EXP_Q[0] * g2 + EXP_Q[1]) * g2 + EXP_Q[2]) * g2 + EXP_Q[3]
    r = 2.0 * (px / (qx - px)) + 1.0
    with np.errstate(invalid="ignore"):  # n is NaN where r is: any exponent will do
        return np.ldexp(r, n.astype(np.int64))


def _days(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole days since 1970 (int64) and the mask of unusable datetimes."""
    s = np.asarray(seconds, dtype=np.float64)
    bad = ~(np.abs(s) <= DATETIME_LIMIT)
    whole = np.floor(np.where(bad, 0.0, s)).astype(np.int64)
    return whole // 86400, bad


def civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day and the March-based day of year, from days since 1970.

    Howard Hinnant's ``civil_from_days``, in int64 with floor division.
    """
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day, doy


def date_part(seconds: np.ndarray, part: str) -> np.ndarray:
    """One of `DATE_PARTS` of datetimes in seconds since 1970, NaN where missing."""
    days, bad = _days(seconds)
    if part == "hour":
        whole = np.floor(np.where(bad, 0.0, seconds)).astype(np.int64)
        value = (whole % 86400) // 3600
    elif part == "day_of_week":
        value = (days + 3) % 7
    else:
        year, month, day, doy = civil(days)
        if part == "year":
            value = year
        elif part == "month":
            value = month
        elif part == "day":
            value = day
        else:
            leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
            value = np.where(month <= 2, doy - 305, doy + 60 + leap)
    return np.where(bad, np.nan, value.astype(np.float64))
