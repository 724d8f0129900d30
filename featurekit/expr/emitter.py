"""Emit a derived-feature expression as ONNX nodes that compute what `evaluate` does.

Each node below mirrors one line of `featurekit.expr.evaluator`, so the two agree bit for
bit. ``log``, ``exp`` and ``**`` are built from exactly rounded operations (see
``docs/exactness.md``) rather than onnxruntime's ``Log``, ``Exp`` and ``Pow``, whose
results depend on the CPU, the library and, for ``Log``, a value's position in the
batch; ``Log`` only guesses an exponent, which is then checked exactly, and ``Pow`` only
makes powers of two, which every C library computes exactly. The module is long
because it repeats `featurekit.expr.evaluator`'s kernels node by node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from featurekit.errors import SpecError
from featurekit.expr.evaluator import (
    EXP_C1,
    EXP_C2,
    EXP_HI,
    EXP_LO,
    EXP_P,
    EXP_Q,
    LN2,
    LN2_HI,
    LN2_LO,
    LOG1P_POLY,
    LOG2E,
    LOG_P,
    LOG_Q,
    POW_CHAIN,
    POW_INDEX_SHIFT,
    POW_INVC,
    POW_LO_LIMIT,
    POW_LOGC_HI,
    POW_LOGC_LO,
    POW_STEPS,
    POW_Y_LIMIT,
    SPLIT,
    SQRTHF,
    chain_bits,
)
from featurekit.expr.tree import CROSS_SEPARATOR, DATETIME_LIMIT, Expr
from featurekit.missing import MISSING
from featurekit.onnx.graph import Graph

__all__ = ["emit_exp", "emit_expr", "emit_log"]

ML = "ai.onnx.ml"
_DOUBLE, _INT64, _BOOL = 11, 7, 9
_COMPARE = {
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
    "eq": "Equal",
}
_BINARY = {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "minimum": "Min",
    "maximum": "Max",
}
_UNARY = {"neg": "Neg", "abs": "Abs", "sqrt": "Sqrt"}

#: 2 * log2(e), shrunk by 2**-30 so that the guess ``j = floor(Log(sqrt(x)) * this)``
#: errs toward 0 (by at most 1e-6, far more than Log's own error of about 1e-13): it is
#: then in [-1074, 1023], where 2**j is a double, even for 5e-324 and 1.7e308.
_LOG2_GUESS = 2 * LOG2E * (1 - 2**-30)


def emit_expr(
    g: Graph,
    expr: Expr,
    tensors: Mapping[str, str],
    *,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """Add the nodes computing `expr`; return its (N, 1) tensor.

    Parameters
    ----------
    g : Graph
    expr : Expr
    tensors : mapping of str to str
        Each column `expr` uses -> its (N, 1) tensor: double for numbers and
        datetimes, string for categories.
    kinds : mapping of str to str, optional
        The declared kind of columns whose kind `expr` leaves open (``"any"`` in
        `Expr.columns`, e.g. ``col("c").isnull()``). Such columns are numbers unless
        said otherwise.

    Returns
    -------
    str
        A double tensor, or a string tensor for a category.
    """
    absent = [n for n in expr.columns() if n not in tensors]
    if not expr.columns() or absent:
        raise SpecError(
            f"{expr!r} needs tensors for columns {sorted(expr.columns())!r}; "
            f"missing {absent!r}."
        )
    need = {
        name: (kinds or {}).get(name, "number") if kind == "any" else kind
        for name, kind in expr.columns().items()
    }
    return _Emitter(g, tensors, need).emit(expr)


def emit_log(g: Graph, x: str) -> str:
    """The exact ``log`` of the (N, 1) double tensor `x` (NaN outside (0, inf)).

    The graph twin of `featurekit.expr.evaluator.log`, bit for bit; the ``log1p``
    transform uses it as ``emit_log(g, 1 + x)``.
    """
    return _Emitter(g, {}, {}).log(x)


def emit_exp(g: Graph, x: str, *, within: tuple[float, float] | None = None) -> str:
    """The exact ``exp`` of the (N, 1) double tensor `x`: inf where it overflows.

    The graph twin of `featurekit.expr.evaluator.exp`, bit for bit. With `within`
    (``lo >= WITHIN_LO``, ``hi <= WITHIN_HI``), `x` is clipped to ``[lo, hi]`` first:
    every result is then a normal number, the scaling by ``2 ** n`` one exact product,
    and the graph four nodes shorter; it is ``evaluator.exp(np.clip(x, lo, hi))``, bit
    for bit. A caller whose answer is the same beyond those bounds (the logistic
    function) gives them.
    """
    return _Emitter(g, {}, {}).exp(x, within=within)


#: The widest `emit_exp` ``within``: ``exp`` stays a normal number (above 2 ** -1010).
WITHIN_LO, WITHIN_HI = -700.0, 709.0


class _Emitter:
    def __init__(
        self, g: Graph, tensors: Mapping[str, str], kinds: Mapping[str, str]
    ) -> None:
        self.g, self.tensors, self.kinds = g, tensors, kinds
        self.memo: dict[tuple[Any, ...], str] = {}
        self.consts: dict[tuple[str, Any], str] = {}

    # -- small helpers -----------------------------------------------------------

    def c(self, value: float | str, dtype: str = "double") -> str:
        """A one-element (1, 1) constant, shared across the expression.

        (1, 1), not (1,): onnxruntime broadcasts an (N, 1) tensor against a rank-1
        constant element by element, about ten times slower.
        """
        key = (dtype, repr(value))
        if key not in self.consts:
            np_type = {"double": np.float64, "int64": np.int64, "string": object}[dtype]
            self.consts[key] = self.g.const(np.array([[value]], dtype=np_type), "k")
        return self.consts[key]

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        return self.g.op(op_type, list(inputs), "", **attrs)

    def finite(self, x: str) -> str:
        return self.op("Where", self.op("IsInf", x), self.c(np.nan), x)

    def as_double(self, x: str) -> str:
        return self.op("Cast", x, to=_DOUBLE)

    def is_category(self, e: Expr) -> bool:
        if e.op == "col":
            return self.kinds[e.params[0]] == "category"
        return e.kind == "category"

    def isnull(self, e: Expr, x: str) -> str:
        if self.is_category(e):
            return self.op("Equal", x, self.c(MISSING, "string"))
        return self.op("IsNaN", x)

    # -- nodes ---------------------------------------------------------------

    def emit(self, e: Expr) -> str:
        hit = self.memo.get(e._key)
        if hit is None:
            if e.op == "pow" and e.args[1].op == "lit":
                # a literal exponent becomes a constant only where the kernel needs one
                args = [self.emit(e.args[0]), ""]
            else:
                args = [self.emit(a) for a in e.args]
            hit = self.memo[e._key] = self.node(e, args)
        return hit

    def power(self, e: Expr, a: list[str]) -> str:
        """``x ** y`` as `featurekit.expr.evaluator` computes it (``power_by``, ``power``).

        Never onnxruntime's Pow, which squares or cubes for some exponent tensors and
        calls the C library's pow otherwise.
        """
        exponent = e.args[1]
        if exponent.op != "lit":
            return self.general_power(a[0], a[1])
        x, y = a[0], float(exponent.params[0])
        if y == int(y) and int(y) in POW_CHAIN:
            n = int(y)
            if n == 0:
                return self.op(
                    "Where", self.op("IsNaN", x), self.c(np.nan), self.c(1.0)
                )
            p = x
            for bit in chain_bits(n):
                p = self.op("Mul", p, p)
                if bit == "1":
                    p = self.op("Mul", p, x)
            return self.finite(self.op("Div", self.c(1.0), p) if n < 0 else p)
        if y in (0.5, -0.5):
            root = self.op("Sqrt", x)
            return self.finite(root if y > 0 else self.op("Div", self.c(1.0), root))
        return self.general_power(x, self.c(y), y)

    def general_power(self, x: str, y: str, literal: float | None = None) -> str:
        """`featurekit.expr.evaluator.power`, line by line.

        For a `literal` exponent the tests on ``y`` alone are decided here, in Python,
        with the values numpy computes at run time; rows where numpy's kernel gets
        ``y = 0`` instead of the literal are the ones whose result it discards.
        """
        ax = self.op("Abs", x)
        regular = self.op(
            "And",
            self.op("Greater", ax, self.c(0.0)),
            self.op("Less", ax, self.c(np.inf)),
        )
        if literal is None:
            regular = self.op(
                "And", regular, self.op("Less", self.op("Abs", y), self.c(np.inf))
            )
            safe_y = self.op("Where", regular, y, self.c(0.0))
        else:
            safe_y = y
        magnitude = self.pow_kernel(self.op("Where", regular, ax, self.c(1.0)), safe_y)
        side = self.op(
            "Sub",
            self.as_double(self.op("Greater", ax, self.c(1.0))),
            self.as_double(self.op("Less", ax, self.c(1.0))),
        )
        s = self.op("Mul", y, side)
        edge = self.op(
            "Where",
            self.op("Greater", s, self.c(0.0)),
            self.c(np.inf),
            self.op("Where", self.op("Less", s, self.c(0.0)), self.c(0.0), self.c(1.0)),
        )
        out = self.op("Where", regular, magnitude, edge)
        below = self.op("Less", x, self.c(0.0))
        whole: str | None = None
        odd: str | None = None
        if literal is None:
            whole = self.op("Equal", self.op("Floor", y), y)
            half = self.op("Mul", self.c(0.5), y)
            odd = self.op(
                "And",
                whole,
                self.op("Not", self.op("Equal", self.op("Floor", half), half)),
            )
        if literal is None or (literal % 2 == 1):
            negative = self.op(
                "Or",
                below,
                self.op("Less", self.op("Div", self.c(1.0), x), self.c(0.0)),
            )
            flip = negative if odd is None else self.op("And", negative, odd)
            sign = self.op(
                "Sub", self.c(1.0), self.op("Mul", self.c(2.0), self.as_double(flip))
            )
            out = self.op("Mul", out, sign)
        if literal is None or literal != math.floor(literal):
            domain = self.op("And", below, self.op("Greater", x, self.c(-np.inf)))
            if whole is not None:
                domain = self.op("And", domain, self.op("Not", whole))
            out = self.op("Where", domain, self.c(np.nan), out)
        missing = self.op("IsNaN", x)
        if literal is None:
            missing = self.op("Or", missing, self.op("IsNaN", y))
        return self.finite(self.op("Where", missing, self.c(np.nan), out))

    def zero(self, x: str) -> str:
        """-0.0 as +0.0: the runtimes pick different zeros from Min/Max of equal ones.

        A `Where`, since onnxruntime's optimiser removes an ``Add`` of zero.
        """
        is_zero = self.op("Equal", x, self.c(0.0))
        return self.op("Where", is_zero, self.c(0.0), x)

    def node(self, e: Expr, a: list[str]) -> str:
        op = e.op
        if op == "col":
            return self.tensors[e.params[0]]
        if op == "lit":
            value = e.params[0]
            return self.c(value, "string") if isinstance(value, str) else self.c(value)
        if op in _BINARY:
            out = self.op(_BINARY[op], *a)
            if op in ("minimum", "maximum"):
                out = self.zero(out)
            return self.finite(out)
        if op in _UNARY:
            return self.finite(self.op(_UNARY[op], a[0]))
        if op == "pow":
            return self.power(e, a)
        if op == "log":
            return self.log(a[0])
        if op == "log1p":
            return self.log(self.op("Add", self.c(1.0), a[0]))
        if op == "exp":
            return self.finite(self.exp(a[0]))
        if op == "clip":
            x = a[0]
            lo, hi = e.params
            if lo is not None:
                x = self.op("Max", x, self.c(float(lo)))
            if hi is not None:
                x = self.op("Min", x, self.c(float(hi)))
            return self.finite(self.zero(x))
        if op in _COMPARE or op == "ne":
            return self.compare(e, a)
        if op == "and":
            return self.op("Mul", *a)
        if op == "or":
            return self.op("Max", *a)
        if op == "not":
            return self.op("Sub", self.c(1.0), a[0])
        if op == "isnull":
            return self.as_double(self.isnull(e.args[0], a[0]))
        if op == "fillna":
            value = e.params[0]
            fill = (
                self.c(value, "string")
                if isinstance(value, str)
                else self.c(float(value))
            )
            return self.op("Where", self.isnull(e.args[0], a[0]), fill, a[0])
        if op == "isin":
            return self.isin(e, a[0])
        if op == "where":
            return self.op("Where", self.op("Cast", a[0], to=_BOOL), a[1], a[2])
        if op == "cross":
            sep = self.c(CROSS_SEPARATOR, "string")
            joined = self.op("StringConcat", self.op("StringConcat", a[0], sep), a[1])
            missing = self.op(
                "Or", self.isnull(e.args[0], a[0]), self.isnull(e.args[1], a[1])
            )
            return self.op("Where", missing, self.c(MISSING, "string"), joined)
        if op == "days_between":
            (d0, bad0), (d1, bad1) = self.days(a[0]), self.days(a[1])
            diff = self.as_double(self.op("Sub", d1, d0))
            return self.op("Where", self.op("Or", bad0, bad1), self.c(np.nan), diff)
        return self.date_part(a[0], op.removeprefix("dt."))

    def compare(self, e: Expr, a: list[str]) -> str:
        x, y = a
        if self.is_category(e.args[0]) or self.is_category(e.args[1]):
            missing = self.op(
                "Or", self.isnull(e.args[0], x), self.isnull(e.args[1], y)
            )
            hit = self.op("Equal", x, y)
            if e.op == "ne":
                hit = self.op("Not", hit)
            hit = self.op("And", hit, self.op("Not", missing))
        elif e.op == "ne":
            missing = self.op("Or", self.op("IsNaN", x), self.op("IsNaN", y))
            hit = self.op("Not", self.op("Or", self.op("Equal", x, y), missing))
        else:
            hit = self.op(_COMPARE[e.op], x, y)
        return self.as_double(hit)

    def isin(self, e: Expr, x: str) -> str:
        values = e.params[0]
        if isinstance(values[0], str):
            hit = self.g.op(
                "LabelEncoder",
                [x],
                "isin",
                domain=ML,
                keys_strings=list(values),
                values_int64s=[1] * len(values),
                default_int64=0,
            )
            return self.as_double(hit)
        hits = [self.op("Equal", x, self.c(float(v))) for v in values]
        hit = hits[0]
        for other in hits[1:]:
            hit = self.op("Or", hit, other)
        return self.as_double(hit)

    # -- log and exp ---------------------------------------------------------
    # Their constants have shape (1, 1): onnxruntime broadcasts an (N, 1) tensor
    # against a (1, 1) one in a fast path, but against (1,) element by element, about
    # 10x slower for 10k rows. Two polynomials are evaluated at once as the two halves
    # of a (2, N, 1) tensor, against (2, 1, 1) coefficients, which is as fast; the rest
    # of the kernel is then (1, N, 1) until its last node.

    def k(self, *values: float) -> str:
        """A double constant: (1, 1) for one value, (len(values), 1, 1) for several."""
        key = ("kernel", repr(values))
        if key not in self.consts:
            shape = (1, 1) if len(values) == 1 else (len(values), 1, 1)
            value = np.array(values, dtype=np.float64).reshape(shape)
            self.consts[key] = self.g.const(value, "k")
        return self.consts[key]

    def scalar(self, value: float) -> str:
        """A double constant of shape (), as Clip takes its bounds."""
        key = ("scalar", repr(value))
        if key not in self.consts:
            self.consts[key] = self.g.const(np.float64(value), "k")
        return self.consts[key]

    def halves(self, x: str) -> tuple[str, str]:
        """The two (1, N, 1) halves of a (2, N, 1) tensor."""
        self.g.op("Split", [x], "", n_out=2, axis=0, num_outputs=2)
        first, second = self.g.nodes[-1].output
        return first, second

    def squeeze(self, x: str) -> str:
        """(1, N, 1) -> (N, 1)."""
        key = ("axes", "[0]")
        if key not in self.consts:
            self.consts[key] = self.g.const(np.array([0], dtype=np.int64), "axes")
        return self.op("Squeeze", x, self.consts[key])

    def madd(self, a: str, b: str, c: str) -> str:
        return self.op("Add", self.op("Mul", a, b), c)

    def split(self, x: str) -> tuple[str, str]:
        """`featurekit.expr.evaluator.split`: ``x = m * 2**e``, ``m`` in [SQRTHF, 2 * SQRTHF).

        numpy finds ``m`` and ``e`` by frexp. Here Log of ``sqrt(x)`` (normal even where
        ``x`` is subnormal) guesses ``j``, which is ``e`` or ``e - 1``: ``x / 2**j`` is
        exact and within 1e-6 of [1, 2], and halving it where it is at least
        2 * SQRTHF gives ``m``. Log's last-bit errors move the guess only near powers
        of two, where the halving absorbs them. NaN outside (0, inf), which every step
        propagates.
        """
        guess = self.op("Mul", self.op("Log", self.op("Sqrt", x)), self.k(_LOG2_GUESS))
        j = self.op("Floor", guess)
        m = self.op("Div", x, self.op("Pow", self.k(2.0), j))
        big = self.op("GreaterOrEqual", m, self.k(2 * SQRTHF))
        half = self.op("Where", big, self.k(0.5), self.k(1.0))
        return self.op("Mul", m, half), self.op("Add", j, self.as_double(big))

    def log(self, x: str) -> str:
        """`featurekit.expr.evaluator.log`; NaN outside (0, inf)."""
        m, e = self.split(x)
        t = self.op("Sub", m, self.k(1.0))
        # featurekit.expr.evaluator.log_core, line by line, numerator and denominator at once
        x2 = self.op("Mul", t, t)
        x3 = self.op("Mul", x2, t)
        p, q = LOG_P, LOG_Q
        y = self.madd(
            self.madd(t, self.k(p[0], 1.0), self.k(p[1], q[0])), t, self.k(p[2], q[1])
        )
        y1 = self.madd(
            self.madd(t, self.k(p[3], q[2]), self.k(p[4], q[3])), t, self.k(p[5], q[4])
        )
        num, den = self.halves(self.madd(y, x3, y1))
        r = self.op("Div", self.op("Mul", num, x3), den)
        r = self.madd(self.k(-0.5), x2, r)
        return self.squeeze(self.madd(e, self.k(LN2), self.op("Add", t, r)))

    def exp(
        self, x: str, lo: str | None = None, within: tuple[float, float] | None = None
    ) -> str:
        """`featurekit.expr.evaluator.exp`, line by line; Clip, like np.clip, keeps NaN."""
        if within is not None and not (
            WITHIN_LO <= within[0] <= within[1] <= WITHIN_HI and lo is None
        ):
            raise ValueError(
                f"within={within!r}: exp's bounds must lie in [{WITHIN_LO}, "
                f"{WITHIN_HI}], without a low part."
            )
        bounds = within or (EXP_LO, EXP_HI)
        x = self.op("Clip", x, self.scalar(bounds[0]), self.scalar(bounds[1]))
        n = self.op("Floor", self.madd(self.k(LOG2E), x, self.k(0.5)))
        g = self.op(
            "Sub",
            self.op("Sub", x, self.op("Mul", n, self.k(EXP_C1))),
            self.op("Mul", n, self.k(EXP_C2)),
        )
        if lo is not None:
            bound = self.op(
                "Clip", lo, self.scalar(-POW_LO_LIMIT), self.scalar(POW_LO_LIMIT)
            )
            g = self.op("Add", g, bound)
        g2 = self.op("Mul", g, g)
        # px / g and qx at once; px / g has one coefficient fewer, so a leading 0
        p, q = EXP_P, EXP_Q
        pq = self.madd(g2, self.k(0.0, q[0]), self.k(p[0], q[1]))
        pq = self.madd(pq, g2, self.k(p[1], q[2]))
        pq = self.madd(pq, g2, self.k(p[2], q[3]))
        pg, qx = self.halves(pq)
        px = self.op("Mul", pg, g)
        r = self.madd(
            self.k(2.0), self.op("Div", px, self.op("Sub", qx, px)), self.k(1.0)
        )
        two = self.k(2.0)
        if within is not None:  # n in [-1010, 1023]: r * 2**n is normal, so exact
            return self.squeeze(self.op("Mul", r, self.op("Pow", two, n)))
        # ldexp(r, n) as r * 2**a * 2**(n - a): with a in [-1020, 1023] the first
        # product is a normal double, so exact, and the second rounds once, as
        # np.ldexp does (to a subnormal, or to inf)
        a = self.op("Clip", n, self.scalar(-1020.0), self.scalar(1023.0))
        out = self.op(
            "Mul",
            self.op("Mul", r, self.op("Pow", two, a)),
            self.op("Pow", two, self.op("Sub", n, a)),
        )
        return self.squeeze(out)

    # -- x ** y: exp(y * log(x)) in double-double ------------------------------

    def fast_two_sum(self, a: str, b: str) -> tuple[str, str]:
        s = self.op("Add", a, b)
        return s, self.op("Sub", b, self.op("Sub", s, a))

    def halves_of(self, a: str) -> tuple[str, str]:
        """`featurekit.expr.evaluator.split_halves` (Veltkamp)."""
        c = self.op("Mul", self.k(SPLIT), a)
        hi = self.op("Sub", c, self.op("Sub", c, a))
        return hi, self.op("Sub", a, hi)

    def two_product(self, a: str, b: str) -> tuple[str, str]:
        """`featurekit.expr.evaluator.two_product`."""
        p = self.op("Mul", a, b)
        ah, al = self.halves_of(a)
        bh, bl = self.halves_of(b)
        err = self.op("Sub", self.op("Mul", ah, bh), p)
        err = self.op("Add", err, self.op("Mul", ah, bl))
        err = self.op("Add", err, self.op("Mul", al, bh))
        return p, self.op("Add", err, self.op("Mul", al, bl))

    def table(self, name: str, values: np.ndarray) -> str:
        key = ("table", name)
        if key not in self.consts:
            self.consts[key] = self.g.const(values, name)
        return self.consts[key]

    def log_dd(self, x: str) -> tuple[str, str]:
        """`featurekit.expr.evaluator.log_dd`, line by line."""
        m, e = self.split(x)
        scaled = self.op("Mul", m, self.k(float(POW_STEPS)))
        i = self.op(
            "Cast",
            self.op("Floor", self.op("Sub", scaled, self.k(POW_INDEX_SHIFT))),
            to=_INT64,
        )
        invc, logc_hi, logc_lo = (
            self.op("Gather", self.table(name, values), i)
            for name, values in (
                ("pow_invc", POW_INVC),
                ("pow_logc_hi", POW_LOGC_HI),
                ("pow_logc_lo", POW_LOGC_LO),
            )
        )
        m_hi = self.op(
            "Mul",
            self.op("Floor", self.op("Mul", m, self.k(2.0**25))),
            self.k(2.0**-25),
        )
        m_lo = self.op("Sub", m, m_hi)
        r, rl = self.fast_two_sum(
            self.op("Sub", self.op("Mul", m_hi, invc), self.k(1.0)),
            self.op("Mul", m_lo, invc),
        )
        poly = self.madd(self.k(LOG1P_POLY[-1]), r, self.k(LOG1P_POLY[-2]))
        for coefficient in LOG1P_POLY[-3::-1]:
            poly = self.madd(poly, r, self.k(coefficient))
        poly = self.op("Mul", poly, self.op("Mul", r, r))
        s, s_err = self.fast_two_sum(self.op("Mul", e, self.k(LN2_HI)), logc_hi)
        h, h_err = self.fast_two_sum(s, r)
        lo = self.op("Add", self.op("Mul", e, self.k(LN2_LO)), logc_lo)
        for term in (rl, s_err, h_err, poly):
            lo = self.op("Add", lo, term)
        return self.fast_two_sum(h, lo)

    def pow_kernel(self, x: str, y: str) -> str:
        """`featurekit.expr.evaluator.pow_kernel`: finite ``x > 0``, finite ``y``."""
        hi, lo = self.log_dd(x)
        y = self.op("Clip", y, self.scalar(-POW_Y_LIMIT), self.scalar(POW_Y_LIMIT))
        z, z_err = self.two_product(y, hi)
        return self.exp(z, self.op("Add", z_err, self.op("Mul", y, lo)))

    # -- dates ---------------------------------------------------------------

    def i(self, value: int) -> str:
        return self.c(value, "int64")

    def floordiv(self, a: str, b: int) -> str:
        # Mod with fmod=0 takes the divisor's sign, so a - mod is an exact multiple
        return self.op(
            "Div", self.op("Sub", a, self.op("Mod", a, self.i(b))), self.i(b)
        )

    def whole_seconds(self, s: str) -> tuple[str, str]:
        bad = self.op(
            "Not", self.op("LessOrEqual", self.op("Abs", s), self.c(DATETIME_LIMIT))
        )
        s = self.op("Where", bad, self.c(0.0), s)
        return self.op("Cast", self.op("Floor", s), to=_INT64), bad

    def days(self, s: str) -> tuple[str, str]:
        whole, bad = self.whole_seconds(s)
        return self.floordiv(whole, 86400), bad

    def date_part(self, s: str, part: str) -> str:
        whole, bad = self.whole_seconds(s)
        days = self.floordiv(whole, 86400)
        if part == "hour":
            value = self.floordiv(self.op("Mod", whole, self.i(86400)), 3600)
        elif part == "day_of_week":
            value = self.op("Mod", self.op("Add", days, self.i(3)), self.i(7))
        else:
            value = self.civil(days, part)
        return self.op("Where", bad, self.c(np.nan), self.as_double(value))

    def civil(self, days: str, part: str) -> str:
        """`featurekit.expr.evaluator.civil` in int64 nodes; the values are >= 0 past `era`."""

        def add(a: str, b: str) -> str:
            return self.op("Add", a, b)

        def sub(a: str, b: str) -> str:
            return self.op("Sub", a, b)

        def mul(a: str, b: str) -> str:
            return self.op("Mul", a, b)

        def div(a: str, b: int) -> str:  # a >= 0, so truncation is floor
            return self.op("Div", a, self.i(b))

        z = add(days, self.i(719468))
        era = self.floordiv(z, 146097)
        doe = sub(z, mul(era, self.i(146097)))
        yoe = div(
            sub(add(sub(doe, div(doe, 1460)), div(doe, 36524)), div(doe, 146096)), 365
        )
        doy = sub(doe, sub(add(mul(self.i(365), yoe), div(yoe, 4)), div(yoe, 100)))
        mp = div(add(mul(self.i(5), doy), self.i(2)), 153)
        if part == "day":
            return add(
                sub(doy, div(add(mul(self.i(153), mp), self.i(2)), 5)), self.i(1)
            )
        is_early = self.op("GreaterOrEqual", mp, self.i(10))  # January or February
        month = self.op("Where", is_early, sub(mp, self.i(9)), add(mp, self.i(3)))
        if part == "month":
            return month
        year = add(
            add(yoe, mul(era, self.i(400))), self.op("Cast", is_early, to=_INT64)
        )
        if part == "year":
            return year

        def divides(k: int) -> str:
            return self.op("Equal", self.op("Mod", year, self.i(k)), self.i(0))

        leap = self.op(
            "Or",
            self.op("And", divides(4), self.op("Not", divides(100))),
            divides(400),
        )
        late = add(add(doy, self.i(60)), self.op("Cast", leap, to=_INT64))
        return self.op("Where", is_early, sub(doy, self.i(305)), late)
