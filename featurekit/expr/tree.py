r"""Derived-feature expressions such as ``fk.col("debt") / fk.col("income")``.

An expression is a small typed tree. `featurekit.expr.evaluator.evaluate` computes it with numpy for training;
`featurekit.expr.emitter.emit_expr` writes the same computation into the ONNX graph, and
the two agree bit for bit (see "Exactness" below). The module is long (about 680
lines) because it holds the language's one definition: the typed tree with its
operators, the type rules, and the JSON and source-text forms that must round-trip.

Kinds
-----
Every expression has a ``kind``: ``"number"``, ``"condition"`` (a number that is 0 or
1), ``"category"``, ``"datetime"``, or ``"any"`` for a bare `col` whose kind its use
decides. `Expr.columns` tells which kind each raw column must have. Operations check
their operands' kinds when the expression is built and raise `SpecError` otherwise.

Values
------
Numbers, conditions and datetimes are float64 with NaN for missing; a datetime is a
whole number of seconds since 1970-01-01T00:00:00. Categories are Python strings, with
`featurekit.missing.MISSING` for missing.

Semantics
---------
- A derived number is finite or missing. Every arithmetic or function node (``+ - * /
  **``, unary minus, ``abs``, ``log``, ``log1p``, ``exp``, ``sqrt``, ``clip``,
  `minimum`, `maximum`, date parts, `days_between`) whose result is ±inf or NaN gives
  missing: ``x / 0``, ``0 / 0``, ``log(0)``, ``log(-1)``, ``sqrt(-1)``, an ``exp`` that
  overflows. A missing operand gives missing, even where IEEE says otherwise
  (``x ** 0`` is missing when ``x`` is). A bare ``col("x")`` passes its values unchanged,
  ±inf included.
- ``log1p(x)`` is ``log(1 + x)``: no ONNX operator matches numpy's ``log1p``.
- ``minimum``, ``maximum`` and ``clip`` propagate missing; either end of ``clip`` may be
  None.
- Conditions are 0 or 1, never missing. Any comparison with a missing operand is 0, for
  ``!=`` too, so ``col("c") != "a"`` is 0 where ``c`` is missing; use ``.isnull()`` to
  catch those rows. ``isin`` never matches missing.
- ``fillna(v)`` replaces missing by ``v``; ``where(cond, a, b)`` picks ``a`` where
  ``cond`` is 1. Branches that are categories (or strings) give a category. A -0.0
  taken from ``a`` becomes 0.0, as onnxruntime's ``Where`` makes it; the literal
  ``-0.0`` is 0.0.
- ``cross(a, b)`` is the category ``a + "\x1f" + b`` (the ASCII unit separator), or
  missing when either side is missing. Two pairs collide only if a value itself
  contains ``"\x1f"``.
- Date parts use the proleptic Gregorian calendar on ``floor(seconds / 86400)`` days
  (integer arithmetic, so dates before 1970 work): ``year``, ``month`` (1-12), ``day``
  (1-31), ``day_of_week`` (Monday=0, as pandas), ``day_of_year`` (1-366) and ``hour``
  (0-23). ``days_between(a, b)`` is the number of calendar days from the date of ``a``
  to the date of ``b``. Missing datetimes, and ones beyond ±2**53 seconds, give missing.

Exactness
---------
``log`` and ``exp`` are featurekit's own kernels (the Cephes rational approximations
that Eigen uses), built in both runtimes from operations IEEE 754 rounds exactly
(+ - * /, floor, comparisons, scaling by powers of two). onnxruntime's own ``Log``
rounds some values differently depending on where they sit in the batch, so the graph
uses it only to guess the binary exponent of ``x``, and an exact comparison corrects
the guess. ``**`` never uses a library's pow: a literal exponent from -4 to 4 is a
fixed chain of products (``x * x``, ``(x * x) * x``, ...; a negative one then ``1 /``),
0.5 is ``sqrt(x)`` and -0.5 ``1 / sqrt(x)``; any other exponent, and every column
exponent, is ``exp(y * log(x))`` in double-double with featurekit's kernels, within
2 ulp of C's ``pow``, whose special cases (negative bases, zeros, infinities) it
follows. ``docs/exactness.md`` has the rule and the measurements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from featurekit.errors import SpecError
from featurekit.missing import MISSING

__all__ = [
    "CROSS_SEPARATOR",
    "Expr",
    "col",
    "cross",
    "days_between",
    "from_dict",
    "maximum",
    "minimum",
    "where",
]

#: What `cross` puts between its two categories.
CROSS_SEPARATOR = "\x1f"
#: Datetimes beyond this many seconds from 1970 have no date parts (they are missing).
DATETIME_LIMIT = 2.0**53

_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_LOGIC = {"and": "&", "or": "|"}
_METHODS = ("abs", "log", "log1p", "exp", "sqrt")
_FUNCTIONS = ("minimum", "maximum", "cross", "days_between")
DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")
_PARAMS: dict[str, tuple[str, ...]] = {
    "col": ("name",),
    "lit": ("value",),
    "clip": ("lo", "hi"),
    "fillna": ("value",),
    "isin": ("values",),
}
_ARITY: dict[str, int] = {
    "col": 0,
    "lit": 0,
    **dict.fromkeys([*_ARITH, *_COMPARE, *_LOGIC, *_FUNCTIONS], 2),
    **dict.fromkeys(["neg", "not", *_METHODS, "clip", "isnull", "fillna", "isin"], 1),
    **dict.fromkeys([f"dt.{p}" for p in DATE_PARTS], 1),
    "where": 3,
}
#: Python's binding strength, used by repr to add only the parentheses it needs.
_PRECEDENCE = {
    **dict.fromkeys(_COMPARE, 40),
    "or": 45,
    "and": 50,
    "add": 60,
    "sub": 60,
    "mul": 70,
    "div": 70,
    "neg": 80,
    "not": 80,
    "pow": 90,
}
_ATOM = 100


def _literal(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool | np.bool_):
        raise SpecError(
            f"Got the bool {value!r} in an expression; expected a number, a string or "
            "an expression. Write 1 or 0, or a condition such as fk.col('x') > 0."
        )
    if isinstance(value, str):
        if value == MISSING:
            raise SpecError(
                "The missing-value sentinel cannot be a literal; use .isnull() or "
                ".fillna() to deal with missing values."
            )
        return Expr("lit", (), (value,))
    if isinstance(value, int | np.integer):
        if abs(int(value)) > 2**53:
            raise SpecError(
                f"The integer {value!r} is beyond 2**53, so float64 cannot hold it "
                "exactly; expected a smaller number. Write it as a float."
            )
        return Expr("lit", (), (int(value),))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise SpecError(
                f"Got the literal {value!r}; expected a finite number. Missing values "
                "come from columns: use .isnull() or .fillna() to handle them."
            )
        # +0.0: onnxruntime's Where would not keep the sign of a -0.0 fill value
        return Expr("lit", (), (float(value) + 0.0,))
    raise SpecError(
        f"Got {value!r} of type {type(value).__name__} in an expression; expected a "
        "number, a string or an expression such as fk.col('x')."
    )


_WANT_HINT = {
    "number": "a number",
    "condition": "a condition (a comparison, isin, isnull, or & | ~ of those)",
    "category": "a category",
    "datetime": "a datetime column",
}
_KIND_ADVICE = {
    ("condition", "number"): " Compare it first, e.g. `x == 1` or `x > 0`.",
    ("number", "category"): " Compare the category instead, e.g. `c == 'a'` or "
    "`c.isin([...])`.",
    ("category", "number"): " To turn a condition into a category, use "
    "fk.where(cond, 'yes', 'no').",
    ("number", "datetime"): " Take a date part first, e.g. `d.dt.year`, or use "
    "fk.days_between(a, b).",
    ("datetime", "number"): " Only raw datetime columns have .dt parts.",
}


def _need(e: Expr, want: str, what: str) -> dict[str, str]:
    """Check that `e` can be used as `want`; return its columns' required kinds."""
    ok = {
        "number": ("number", "condition", "any"),
        "condition": ("condition",),
        "category": ("category", "any"),
        "datetime": ("datetime", "any"),
    }[want]
    if e.kind not in ok:
        advice = _KIND_ADVICE.get((want, e.kind), "")
        raise SpecError(
            f"{what} needs {_WANT_HINT[want]}, but {e!r} is a {e.kind}.{advice}"
        )
    if e.op == "col":
        return {e.params[0]: want if want != "condition" else "number"}
    return dict(e._needs)


def _merge(what: str, *needs: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for need in needs:
        for name, kind in need.items():
            old = out.get(name, "any")
            if old == "any" or old == kind:
                out[name] = kind
            elif kind != "any":
                raise SpecError(
                    f"{what} uses column {name!r} both as a {old} and as a {kind}; "
                    "expected one kind per column. Use a separate raw column for "
                    "each kind."
                )
    return out


class Expr:
    """A derived-feature expression; build it with `col` and operators.

    Parameters
    ----------
    op : str
        The operation, e.g. ``"add"``, ``"col"`` or ``"dt.year"``.
    args : tuple of Expr
    params : tuple
        The operation's constants: a column name, a literal, clip bounds, ...

    Examples
    --------
    >>> import featurekit.expr.tree as fx
    >>> ratio = fx.col("debt") / fx.col("income")
    >>> ratio
    fk.col('debt') / fk.col('income')
    >>> ratio.kind, ratio.columns()
    ('number', {'debt': 'number', 'income': 'number'})
    >>> (fx.col("a") + 1).log()
    (fk.col('a') + 1).log()
    >>> fx.where(fx.col("amount") > 1000, 1, 0).kind
    'number'
    """

    __slots__ = ("_key", "_needs", "args", "kind", "op", "params")
    __hash__ = object.__hash__  # by identity: __eq__ builds an expression

    op: str
    args: tuple[Expr, ...]
    params: tuple[Any, ...]
    kind: str
    _needs: dict[str, str]
    _key: tuple[Any, ...]

    def __init__(
        self, op: str, args: tuple[Expr, ...] = (), params: tuple[Any, ...] = ()
    ) -> None:
        self.op, self.args, self.params = op, args, params
        self.kind, self._needs = _typecheck(op, args, params)
        self._key = (
            op,
            tuple((type(p).__name__, repr(p)) for p in params),
            *(a._key for a in args),
        )

    # -- structure ---------------------------------------------------------------

    def equals(self, other: object) -> bool:
        """Whether `other` is the same expression, structurally."""
        return isinstance(other, Expr) and self._key == other._key

    def columns(self) -> dict[str, str]:
        """The raw columns used, each with the kind it must have.

        ``"any"`` means the expression does not constrain the column's kind (a bare
        column, or one only used with ``isnull``).
        """
        if self.op == "col":
            return {self.params[0]: "any"}
        return dict(self._needs)

    def __bool__(self) -> bool:
        raise SpecError(
            f"{self!r} has no truth value: Python's and/or/not, `if` and chained "
            "comparisons cannot be used on expressions. Use & | ~ and fk.where."
        )

    # -- numbers -----------------------------------------------------------------

    def __add__(self, other: Any) -> Expr:
        return Expr("add", (self, _literal(other)))

    def __radd__(self, other: Any) -> Expr:
        return Expr("add", (_literal(other), self))

    def __sub__(self, other: Any) -> Expr:
        return Expr("sub", (self, _literal(other)))

    def __rsub__(self, other: Any) -> Expr:
        return Expr("sub", (_literal(other), self))

    def __mul__(self, other: Any) -> Expr:
        return Expr("mul", (self, _literal(other)))

    def __rmul__(self, other: Any) -> Expr:
        return Expr("mul", (_literal(other), self))

    def __truediv__(self, other: Any) -> Expr:
        return Expr("div", (self, _literal(other)))

    def __rtruediv__(self, other: Any) -> Expr:
        return Expr("div", (_literal(other), self))

    def __pow__(self, other: Any) -> Expr:
        return Expr("pow", (self, _literal(other)))

    def __rpow__(self, other: Any) -> Expr:
        return Expr("pow", (_literal(other), self))

    def __neg__(self) -> Expr:
        if self.op == "lit" and not isinstance(self.params[0], str):
            # -2 is the literal -2, as the source text reads back (expr_parse)
            return _literal(-self.params[0])
        return Expr("neg", (self,))

    def __abs__(self) -> Expr:
        return Expr("abs", (self,))

    def abs(self) -> Expr:
        """The absolute value."""
        return Expr("abs", (self,))

    def log(self) -> Expr:
        """The natural logarithm; missing at and below 0."""
        return Expr("log", (self,))

    def log1p(self) -> Expr:
        """``log(1 + x)``; missing at and below -1."""
        return Expr("log1p", (self,))

    def exp(self) -> Expr:
        """``e ** x``; missing where it overflows."""
        return Expr("exp", (self,))

    def sqrt(self) -> Expr:
        """The square root; missing below 0."""
        return Expr("sqrt", (self,))

    def clip(self, lo: float | None = None, hi: float | None = None) -> Expr:
        """Clip into ``[lo, hi]``; either end may be None. Missing stays missing."""
        return Expr("clip", (self,), (_bound(lo), _bound(hi)))

    # -- conditions --------------------------------------------------------------

    def __lt__(self, other: Any) -> Expr:
        return Expr("lt", (self, _literal(other)))

    def __le__(self, other: Any) -> Expr:
        return Expr("le", (self, _literal(other)))

    def __gt__(self, other: Any) -> Expr:
        return Expr("gt", (self, _literal(other)))

    def __ge__(self, other: Any) -> Expr:
        return Expr("ge", (self, _literal(other)))

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return Expr("eq", (self, _literal(other)))

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return Expr("ne", (self, _literal(other)))

    def __and__(self, other: Any) -> Expr:
        return Expr("and", (self, _literal(other)))

    def __rand__(self, other: Any) -> Expr:
        return Expr("and", (_literal(other), self))

    def __or__(self, other: Any) -> Expr:
        return Expr("or", (self, _literal(other)))

    def __ror__(self, other: Any) -> Expr:
        return Expr("or", (_literal(other), self))

    def __invert__(self) -> Expr:
        return Expr("not", (self,))

    def isnull(self) -> Expr:
        """1 where the value is missing, else 0."""
        return Expr("isnull", (self,))

    def fillna(self, value: float | str) -> Expr:
        """Replace missing by `value`: a number, or a string for a category."""
        lit = _literal(value)
        if lit.op != "lit":
            raise SpecError(
                f"fillna takes a number or a string, got the expression {value!r}; "
                "use fk.where(x.isnull(), other, x) to fill from an expression."
            )
        return Expr("fillna", (self,), (lit.params[0],))

    def isin(self, values: Iterable[float | str]) -> Expr:
        """1 where the value is one of `values` (all strings, or all numbers)."""
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise SpecError(
                f"isin takes a list of values, got {values!r}; write isin(['a', 'b'])."
            )
        return Expr("isin", (self,), (tuple(_literal(v).params[0] for v in values),))

    @property
    def dt(self) -> _DateParts:
        """Date parts of a datetime column: ``.dt.year``, ``.dt.hour``, ..."""
        _need(self, "datetime", ".dt")
        return _DateParts(self)

    # -- serialisation -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; `from_dict` rebuilds the expression."""
        out: dict[str, Any] = {"op": self.op}
        if self.args:
            out["args"] = [a.to_dict() for a in self.args]
        for name, value in zip(_PARAMS.get(self.op, ()), self.params, strict=True):
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @staticmethod
    def from_dict(data: Any) -> Expr:
        """Rebuild an expression from `to_dict` data, checking it strictly."""
        return from_dict(data)

    def __repr__(self) -> str:
        return _repr(self)[0]


class _DateParts:
    """The ``.dt`` accessor of a datetime expression."""

    __slots__ = ("_of",)

    def __init__(self, of: Expr) -> None:
        self._of = of

    def __getattr__(self, name: str) -> Expr:
        if name in DATE_PARTS:
            return Expr(f"dt.{name}", (self._of,))
        raise AttributeError(
            f".dt has no part {name!r}; expected one of {list(DATE_PARTS)}."
        )


def _bound(value: Any) -> float | int | None:
    if value is None:
        return None
    lit = _literal(value)
    if lit.kind != "number":
        raise SpecError(f"clip bounds must be numbers or None, got {value!r}.")
    return lit.params[0]  # type: ignore[no-any-return]


def col(name: str) -> Expr:
    """A raw input column; how it is used decides its kind.

    Examples
    --------
    >>> import featurekit.expr.tree as fx
    >>> fx.col("income").log1p()
    fk.col('income').log1p()
    >>> (fx.col("plan") == "pro").columns()
    {'plan': 'category'}
    >>> fx.col("signup").dt.year
    fk.col('signup').dt.year
    """
    if not isinstance(name, str) or not name:
        raise SpecError(f"col takes a column name, got {name!r}.")
    return Expr("col", (), (name,))


def minimum(a: Any, b: Any) -> Expr:
    """The smaller of two numbers; missing if either is missing."""
    return Expr("minimum", (_literal(a), _literal(b)))


def maximum(a: Any, b: Any) -> Expr:
    """The larger of two numbers; missing if either is missing."""
    return Expr("maximum", (_literal(a), _literal(b)))


def where(cond: Expr, a: Any, b: Any) -> Expr:
    """`a` where `cond` is 1, else `b`; both numbers, or both categories.

    Examples
    --------
    >>> import featurekit.expr.tree as fx
    >>> fx.where(fx.col("amount") > 1000, 1, 0)
    fk.where(fk.col('amount') > 1000, 1, 0)
    >>> fx.where(fx.col("c").isnull(), "none", fx.col("c")).kind
    'category'
    """
    return Expr("where", (_literal(cond), _literal(a), _literal(b)))


def cross(a: Any, b: Any) -> Expr:
    r"""The category pairing `a` and `b`: ``a + "\x1f" + b``; missing if either is."""
    return Expr("cross", (_literal(a), _literal(b)))


def days_between(a: Expr, b: Expr) -> Expr:
    """Calendar days from the date of datetime `a` to the date of `b`.

    Examples
    --------
    >>> import featurekit.expr.tree as fx
    >>> fx.days_between(fx.col("signup"), fx.col("now"))
    fk.days_between(fk.col('signup'), fk.col('now'))
    """
    return Expr("days_between", (_literal(a), _literal(b)))


# -- type checking ------------------------------------------------------------------


def _typecheck(
    op: str, args: tuple[Expr, ...], params: tuple[Any, ...]
) -> tuple[str, dict[str, str]]:
    what = _op_label(op)
    if op == "col":
        return "any", {params[0]: "any"}
    if op == "lit":
        return ("category" if isinstance(params[0], str) else "number"), {}
    if op in _ARITH or op in ("neg", "clip", "minimum", "maximum", *_METHODS):
        return "number", _merge(what, *(_need(a, "number", what) for a in args))
    if op in ("lt", "le", "gt", "ge"):
        return "condition", _merge(what, *(_need(a, "number", what) for a in args))
    if op in ("eq", "ne"):
        want = "category" if any(a.kind == "category" for a in args) else "number"
        return "condition", _merge(what, *(_need(a, want, what) for a in args))
    if op in _LOGIC or op == "not":
        return "condition", _merge(what, *(_need(a, "condition", what) for a in args))
    if op == "isnull":
        return "condition", _merge(what, args[0].columns())
    if op == "fillna":
        want = "category" if isinstance(params[0], str) else "number"
        kind = "condition" if args[0].kind == "condition" else want
        return kind, _need(args[0], want, what)
    if op == "isin":
        values = params[0]
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) != 1:
            raise SpecError(
                f"isin takes a non-empty list of all strings or all numbers, got "
                f"{list(values)!r}."
            )
        want = "category" if kinds == {True} else "number"
        return "condition", _need(args[0], want, what)
    if op == "where":
        cond = _need(args[0], "condition", what)
        want = "category" if any(a.kind == "category" for a in args[1:]) else "number"
        branches = [_need(a, want, what) for a in args[1:]]
        kind = "condition" if all(a.kind == "condition" for a in args[1:]) else want
        return kind, _merge(what, cond, *branches)
    if op == "cross":
        return "category", _merge(what, *(_need(a, "category", what) for a in args))
    if op == "days_between" or op.startswith("dt."):
        return "number", _merge(what, *(_need(a, "datetime", what) for a in args))
    raise SpecError(f"Unknown expression operation {op!r}.")  # pragma: no cover


def _op_label(op: str) -> str:
    if op in _ARITH or op in _COMPARE or op in _LOGIC:
        return f"The operator {({**_ARITH, **_COMPARE, **_LOGIC})[op]!r}"
    if op in ("neg", "not"):
        return f"The unary {'-' if op == 'neg' else '~'}"
    if op in _FUNCTIONS or op == "where":
        return f"fk.{op}"
    return f".{op}()" if not op.startswith("dt.") else f".{op}"


# -- JSON -----------------------------------------------------------------------------


def from_dict(data: Any) -> Expr:
    """Rebuild an expression from `Expr.to_dict` data; malformed data raises SpecError.

    Examples
    --------
    >>> import featurekit.expr.tree as fx
    >>> e = fx.col("x").clip(0, None)
    >>> fx.from_dict(e.to_dict()).equals(e)
    True
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"An expression must be a JSON object, got {data!r}.")
    op = data.get("op")
    if not isinstance(op, str) or op not in _ARITY:
        raise SpecError(
            f"Unknown expression operation {op!r}; expected one of {sorted(_ARITY)}."
        )
    names = _PARAMS.get(op, ())
    allowed = {"op", *names, *(["args"] if _ARITY[op] else [])}
    extra = sorted(set(data) - allowed)
    missing = sorted(allowed - set(data))
    if extra or missing:
        raise SpecError(
            f"Expression {op!r} has keys {sorted(data)!r}; expected {sorted(allowed)!r}"
            f" (unexpected {extra!r}, missing {missing!r})."
        )
    raw_args = data.get("args", [])
    if not isinstance(raw_args, list) or len(raw_args) != _ARITY[op]:
        raise SpecError(
            f"Expression {op!r} takes {_ARITY[op]} arguments, got {raw_args!r}."
        )
    args = tuple(from_dict(a) for a in raw_args)
    params = [data[n] for n in names]
    if op == "col":
        return col(params[0])
    if op == "lit":
        if not isinstance(params[0], int | float | str):
            raise SpecError(f"Bad literal {params[0]!r}; expected a number or string.")
        return _literal(params[0])
    if op == "clip":
        return args[0].clip(*params)
    if op == "fillna":
        return args[0].fillna(params[0])
    if op == "isin":
        if not isinstance(params[0], list):
            raise SpecError(f"isin values must be a list, got {params[0]!r}.")
        return args[0].isin(params[0])
    if op == "neg":
        return -args[0]
    return Expr(op, args)


# -- repr -----------------------------------------------------------------------------


def _repr(e: Expr) -> tuple[str, int]:
    """Source text for `e` and its precedence."""
    op = e.op
    if op == "col":
        return f"fk.col({e.params[0]!r})", _ATOM
    if op == "lit":
        value = e.params[0]
        negative = not isinstance(value, str) and math.copysign(1, value) < 0
        return repr(value), (_PRECEDENCE["neg"] if negative else _ATOM)
    if op in _PRECEDENCE and len(e.args) == 2:
        prec = _PRECEDENCE[op]
        symbol = {**_ARITH, **_COMPARE, **_LOGIC}[op]
        if op == "pow":  # right-associative; binds tighter than unary minus on its left
            left, right = _wrap(e.args[0], _ATOM), _wrap(e.args[1], _PRECEDENCE["neg"])
        elif prec == 40:  # comparisons chain in Python, so never nest them bare
            left, right = _wrap(e.args[0], prec + 1), _wrap(e.args[1], prec + 1)
        else:
            left, right = _wrap(e.args[0], prec), _wrap(e.args[1], prec + 1)
        return f"{left} {symbol} {right}", prec
    if op in ("neg", "not"):
        inner = _wrap(e.args[0], _PRECEDENCE[op])
        return f"{'-' if op == 'neg' else '~'}{inner}", _PRECEDENCE[op]
    if op in _FUNCTIONS or op == "where":
        inner = ", ".join(_repr(a)[0] for a in e.args)
        return f"fk.{op}({inner})", _ATOM
    receiver = _wrap(e.args[0], _ATOM)
    first = e.args[0]
    if first.op == "lit" and type(first.params[0]) is int and first.params[0] >= 0:
        receiver = f"({receiver})"  # `3.log()` is a syntax error; `(3).log()` is not
    if op.startswith("dt."):
        return f"{receiver}.{op}", _ATOM
    if op == "clip":
        return f"{receiver}.clip({e.params[0]!r}, {e.params[1]!r})", _ATOM
    if op == "fillna":
        return f"{receiver}.fillna({e.params[0]!r})", _ATOM
    if op == "isin":
        return f"{receiver}.isin({list(e.params[0])!r})", _ATOM
    return f"{receiver}.{op}()", _ATOM


def _wrap(e: Expr, at_least: int) -> str:
    text, prec = _repr(e)
    return text if prec >= at_least else f"({text})"
