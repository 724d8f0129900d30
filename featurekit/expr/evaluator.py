"""Evaluate expressions with numpy: the training-side twin of `featurekit.expr.emitter`.

`evaluate` runs an `Expr` over columns; ``log``, ``exp``, ``**`` and the calendar
functions are featurekit's own kernels, built from exactly rounded operations so that
the graph can repeat them step for step (see "Exactness" in `featurekit.expr.tree` and
``docs/exactness.md``). No feature goes through numpy's ``power``, ``exp`` or ``log``,
whose SIMD kernels round differently on different CPUs, nor through the C library.
The module is long because each kernel is written out one IEEE operation per line, in
the order the emitter repeats it, beside the constants and tables both sides share.
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
        object arrays of str for categories (`featurekit.missing.MISSING` is missing).

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
        exponent = e.args[1]
        if exponent.op == "lit":
            return power_by(a[0].astype(float), float(exponent.params[0]))
        x, y = np.broadcast_arrays(a[0].astype(float), a[1].astype(float))
        return power(x, y)
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


def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(m, e)`` with ``x = m * 2**e`` and ``m`` in [SQRTHF, 2 * SQRTHF), for finite ``x > 0``.

    The split is unique and exact: frexp gives it here, and `featurekit.expr.emitter`
    finds it from a corrected guess.
    """
    m, e = np.frexp(x)
    small = m < SQRTHF
    return np.where(small, m + m, m), (e - small).astype(np.float64)


def log(x: np.ndarray) -> np.ndarray:
    """Natural log, NaN outside (0, inf); see `log_core` and `split`."""
    x = np.asarray(x, dtype=np.float64)
    ok = (x > 0) & (x < np.inf)
    m, e = split(np.where(ok, x, np.nan))  # NaN flows through to the result
    return log_core(m - 1.0, e)


def exp(x: np.ndarray, lo: np.ndarray | None = None) -> np.ndarray:
    """``e ** (x + lo)``: inf where it overflows, NaN for NaN.

    `lo`, when given, is the low part of a double-double argument (`pow_kernel`), at
    most `POW_LO_LIMIT` in size where ``x`` is in [EXP_LO, EXP_HI]; it joins the
    reduced argument.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), EXP_LO, EXP_HI)  # NaN stays NaN
    n = np.floor(LOG2E * x + 0.5)
    g = (x - n * EXP_C1) - n * EXP_C2
    if lo is not None:
        g = g + np.clip(lo, -POW_LO_LIMIT, POW_LO_LIMIT)
    g2 = g * g
    px = ((EXP_P[0] * g2 + EXP_P[1]) * g2 + EXP_P[2]) * g
    qx = ((EXP_Q[0] * g2 + EXP_Q[1]) * g2 + EXP_Q[2]) * g2 + EXP_Q[3]
    r = 2.0 * (px / (qx - px)) + 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        # n is NaN where r is: any exponent will do
        return np.ldexp(r, n.astype(np.int64))


# -- x ** y --------------------------------------------------------------------
# A literal exponent in POW_CHAIN (-4 ... 4) is a fixed chain of products, 0.5 is
# sqrt(x) and -0.5 is 1 / sqrt(x): each operation rounds exactly, and the result is
# exact wherever it is representable and the chain's products are. Every other
# exponent, and every column exponent, goes through `pow_kernel`: exp(y * log(x))
# with log(x) and the product in double-double, within 2 ulp of C's pow.

#: Integer literal exponents computed by `chain_bits`' products.
POW_CHAIN = range(-4, 5)


def chain_bits(n: int) -> str:
    """The products computing ``x ** abs(n)``, the one chain both runtimes follow.

    Left-to-right binary powering: start from ``x``; for each character, square,
    then multiply by ``x`` if it is ``"1"``. ``x ** 3`` is ``(x * x) * x``, ``x ** 4``
    is ``(x * x) * (x * x)``. A negative `n` then takes ``1 / x ** abs(n)``.

    Examples
    --------
    >>> chain_bits(2), chain_bits(3), chain_bits(-4)
    ('0', '1', '00')
    """
    return bin(abs(n))[3:]


def power_by(x: np.ndarray, y: float) -> np.ndarray:
    """``x ** y`` for a literal ``y``; NaN where ``x`` is, or the result is not finite."""
    x = np.asarray(x, dtype=np.float64)
    if y == int(y) and int(y) in POW_CHAIN:  # (a literal is finite)
        n = int(y)
        if n == 0:
            return np.where(np.isnan(x), np.nan, 1.0)
        p = x
        with np.errstate(all="ignore"):
            for bit in chain_bits(n):
                p = p * p
                if bit == "1":
                    p = p * x
            return _finite(1.0 / p if n < 0 else p)
    if y in (0.5, -0.5):
        with np.errstate(all="ignore"):
            root = np.sqrt(x)
            return _finite(root if y > 0 else 1.0 / root)
    return power(x, np.full_like(x, y))


def power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x ** y`` element by element, as C's pow defines it, within 2 ulp of its value.

    NaN where either is NaN, where ``x`` is finite and negative and ``y`` is not a
    whole number (C's domain error), and where the result overflows or is infinite. Otherwise
    ``abs(x) ** y`` from `pow_kernel`, negated for a negative ``x`` (or -0.0) and an
    odd ``y``. Where ``abs(x)`` is 0 or inf, or ``y`` is ±inf, the result is 0, 1 or
    inf, by the sign of ``y * log(abs(x))``; ``y == 0`` gives 1.
    """
    with np.errstate(all="ignore"):
        return _power(np.asarray(x, np.float64), np.asarray(y, np.float64))


def _power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    regular = (ax > 0) & (ax < np.inf) & (np.abs(y) < np.inf)
    # onnxruntime's Where makes a -0.0 from its first branch 0.0 (either gives 1)
    magnitude = pow_kernel(np.where(regular, ax, 1.0), np.where(regular, y + 0.0, 0.0))
    side = (ax > 1).astype(np.float64) - (ax < 1)  # the sign of log(abs(x))
    s = y * side  # NaN for abs(x) == 1 and an infinite y: 1
    edge = np.where(s > 0, np.inf, np.where(s < 0, 0.0, 1.0))
    magnitude = np.where(regular, magnitude, edge)
    whole = np.floor(y) == y  # ±inf counts as even
    half = 0.5 * y
    odd = whole & (np.floor(half) != half)
    negative = (x < 0) | (1.0 / x < 0)  # -0.0 too
    # a product, not a Where, so that -0.0 survives onnxruntime's Where
    out = magnitude * (1.0 - 2.0 * (negative & odd))
    out = np.where((x < 0) & (x > -np.inf) & ~whole, np.nan, out)
    out = np.where(np.isnan(x) | np.isnan(y), np.nan, out)
    return _finite(out)


def _pow_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`POW_INVC`, `POW_LOGC_HI`, `POW_LOGC_LO` from exact arithmetic.

    Row ``i`` is for ``c = 1 + (i - POW_OFFSET) / POW_STEPS``: ``invc`` is ``1 / c``
    rounded to a multiple of 2**-20 (so that its products with the halves of ``m`` are
    exact), ``logc`` is ``-log(invc)`` to 60 digits (`decimal`, correctly rounded),
    split into a double and the double nearest its remainder. The row for ``c = 1`` is
    exactly (1, 0, 0).
    """
    import decimal
    from fractions import Fraction

    context = decimal.Context(prec=60)
    invc, hi, lo = [], [], []
    for i in range(POW_ROWS):
        c = 1 + Fraction(i - POW_OFFSET, POW_STEPS)
        inv = round(Fraction(2**20) / c) / 2**20  # exact: an integer over 2**20
        logc = context.minus(context.ln(decimal.Decimal(inv)))
        head = float(logc)
        invc.append(inv)
        hi.append(head)
        lo.append(float(context.subtract(logc, decimal.Decimal(head))))
    return (
        np.array(invc, dtype=np.float64),
        np.array(hi, dtype=np.float64),
        np.array(lo, dtype=np.float64),
    )


#: `pow_kernel`'s table: rows for c = 1 + j / POW_STEPS, j from -POW_OFFSET, covering
#: [SQRTHF, 2 * SQRTHF) so that ``abs(m * invc - 1) < 2**-7.4``.
POW_STEPS = 128
POW_OFFSET = 37
POW_ROWS = 91
#: The row of m is floor(m * POW_STEPS - POW_INDEX_SHIFT), the nearest c; both
#: operations are exact (the product scales by a power of two, the difference is
#: within a factor of two of its operands).
POW_INDEX_SHIFT = POW_STEPS - POW_OFFSET - 0.5
POW_INVC, POW_LOGC_HI, POW_LOGC_LO = _pow_table()
#: ln(2) = LN2_HI + LN2_LO, LN2_HI with 42 significant bits, so e * LN2_HI is exact.
LN2_HI = float.fromhex("0x1.62e42fefa3800p-1")
LN2_LO = float.fromhex("0x1.ef35793c76730p-45")
#: Veltkamp's splitting constant 2**27 + 1: a = hi + lo with 26 bits in each half.
SPLIT = 134217729.0
#: log(1 + r) - r = r**2 * (LOG1P_POLY[0] + r * (LOG1P_POLY[1] + ...)), Taylor's
#: -1/2, 1/3, ..., 1/7, -1/8: the first term left out is below 2**-63 * abs(r).
LOG1P_POLY = tuple((-1.0) ** (k + 1) / k for k in range(2, 9))
#: Exponents beyond ±POW_Y_LIMIT are clipped to it: the product still overflows or
#: underflows (abs(log(x)) > 2**-54 for x != 1), and Veltkamp's split cannot overflow.
POW_Y_LIMIT = 2.0**70
#: The largest low part `exp` takes; it is below 2**-40 wherever the result is finite.
POW_LO_LIMIT = 2.0**-30


def two_sum_fast(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a + b`` and its rounding error, exactly, when ``abs(a) >= abs(b)`` or ``a == 0``."""
    s = a + b
    return s, b - (s - a)


def split_halves(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp: ``a = hi + lo``, each with at most 26 significant bits."""
    c = SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def two_product(
    a: np.ndarray, b: np.ndarray, b_halves: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` and its rounding error (Dekker), without a fused multiply-add."""
    p = a * b
    ah, al = split_halves(a)
    bh, bl = b_halves
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def log_dd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(x)`` as ``hi + lo``, about 2**-66 relative, for finite ``x > 0``.

    ``x = m * 2**e`` (`split`); ``c`` is the table's point nearest ``m``, so that
    ``r = m * invc - 1`` is below 2**-7.4 and exact as ``r + rl`` (``m``'s halves times
    ``invc`` are exact); then ``log(x) = e * ln2 + logc + r + rl + (log1p(r) - r)``,
    summed with error-free additions. Each line is one IEEE operation per element, in
    the order `featurekit.expr.emitter` emits them.
    """
    m, e = split(x)
    i = np.floor(m * POW_STEPS - POW_INDEX_SHIFT).astype(np.int64)
    invc, logc_hi, logc_lo = POW_INVC[i], POW_LOGC_HI[i], POW_LOGC_LO[i]
    m_hi = np.floor(m * 2.0**25) * 2.0**-25
    m_lo = m - m_hi
    r, rl = two_sum_fast(m_hi * invc - 1.0, m_lo * invc)
    poly = LOG1P_POLY[-1] * r + LOG1P_POLY[-2]
    for coefficient in LOG1P_POLY[-3::-1]:
        poly = poly * r + coefficient
    poly = poly * (r * r)
    # |e * LN2_HI| >= 0.69 > |logc| unless e == 0, and |e ln2 + logc| >= 0.0077 >
    # |r| unless both are 0: these sums are error-free
    s, s_err = two_sum_fast(e * LN2_HI, logc_hi)
    h, h_err = two_sum_fast(s, r)
    lo = ((((e * LN2_LO + logc_lo) + rl) + s_err) + h_err) + poly
    return two_sum_fast(h, lo)


def pow_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``exp(y * log(x))`` for finite ``x > 0`` and finite ``y``; inf where it overflows.

    ``log(x)`` (`log_dd`) and ``y * log(x)`` (`two_product`) are double-double, and
    `exp` takes the product's low part into its reduced argument: the error is the
    exp kernel's, within 2 ulp of C's pow (``docs/exactness.md``).
    """
    hi, lo = log_dd(x)
    y = np.clip(y, -POW_Y_LIMIT, POW_Y_LIMIT)
    z, z_err = two_product(y, hi, split_halves(hi))
    return exp(z, z_err + y * lo)


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
