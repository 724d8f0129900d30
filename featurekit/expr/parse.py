"""Read a derived-feature expression from source text, without running it.

YAML and JSON specs hold an expression as the text its repr prints. `parse` reads that
text with `ast` and builds the `featurekit.expr.tree.Expr` from a strict whitelist of
syntax; nothing is evaluated, so ``parse(repr(e)).equals(e)`` for every expression.

Grammar (``fk.`` before a function name is optional)::

    expr := expr (+ - * / ** & |) expr  |  - expr  |  ~ expr
          | expr (< <= > >= == !=) expr        one comparison; chains are refused
          | col('name') | abs(expr) | where(expr, expr, expr)
          | minimum(e, e) | maximum(e, e) | cross(e, e) | days_between(e, e)
          | expr.abs() .log() .log1p() .exp() .sqrt() .isnull()
          | expr.clip(lo, hi)                  numbers or None; also lo=, hi=
          | expr.fillna(literal) | expr.isin([literal, ...])
          | expr.dt.year .month .day .day_of_week .day_of_year .hour
          | number | -number | 'string'

Examples
--------
>>> from featurekit.expr.parse import parse
>>> parse("col('debt') / col('income')")
fk.col('debt') / fk.col('income')
>>> parse("fk.where(col('amount') > 1000, 1, 0)").kind
'number'
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from featurekit.errors import SpecError
from featurekit.expr import tree as fx
from featurekit.expr.tree import Expr

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "parse"]

#: The longest text `parse` reads, in characters.
MAX_LENGTH = 10_000
#: The deepest nesting of operations `parse` builds.
MAX_DEPTH = 100

_Op = Callable[[Expr, Expr], Expr]
_BINARY: dict[type[ast.AST], tuple[str, _Op]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
    ast.BitAnd: ("&", operator.and_),
    ast.BitOr: ("|", operator.or_),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_FUNCTIONS: dict[str, tuple[int, Callable[..., Expr]]] = {
    "col": (1, fx.col),
    "abs": (1, Expr.abs),
    "where": (3, fx.where),
    "minimum": (2, fx.minimum),
    "maximum": (2, fx.maximum),
    "cross": (2, fx.cross),
    "days_between": (2, fx.days_between),
}
_PLAIN: dict[str, Callable[[Expr], Expr]] = {
    m: getattr(Expr, m) for m in ("abs", "log", "log1p", "exp", "sqrt", "isnull")
}
_METHODS = (*_PLAIN, "clip", "fillna", "isin")
_OPERATORS = "one of + - * / ** & | < <= > >= == !="
_GRAMMAR = (
    "col('name'), abs, where, minimum, maximum, cross, days_between (also as "
    "fk.col, ...), + - * / ** & | - ~ < <= > >= == !=, "
    f"{' '.join(f'.{m}()' for m in _METHODS)}, .dt.<part>, and number or string "
    "literals"
)
_SYNTAX = {
    "IfExp": ("A conditional expression", "use fk.where(cond, a, b)"),
    "BoolOp": ("Python's and/or", "use & and | between parenthesised conditions"),
    "Not": ("Python's `not`", "use ~ on a condition"),
    "In": ("The operator 'in'", "use .isin([...])"),
    "NotIn": ("The operator 'not in'", "use ~x.isin([...])"),
    "Is": ("The operator 'is'", "use .isnull() or =="),
    "IsNot": ("The operator 'is not'", "use ~x.isnull() or !="),
    "Lambda": ("A lambda", ""),
    "ListComp": ("A comprehension", ""),
    "GeneratorExp": ("A comprehension", ""),
    "List": ("A list", "use a list only in .isin([...])"),
    "JoinedStr": ("An f-string", "write a plain string"),
    "Subscript": ("Indexing", ""),
    "NamedExpr": ("The walrus :=", ""),
    "UAdd": ("The unary +", "drop it"),
    "Mod": ("The operator %", ""),
    "FloorDiv": ("The operator //", ""),
    "MatMult": ("The operator @", ""),
    "LShift": ("The operator <<", ""),
    "RShift": ("The operator >>", ""),
    "BitXor": ("The operator ^", "use | or & between conditions"),
}


def parse(text: str) -> Expr:
    """Build the expression that `text` writes, e.g. ``"col('a') / col('b')"``.

    Parameters
    ----------
    text : str
        Source as `Expr`'s repr prints it; the module docstring has the grammar.

    Returns
    -------
    Expr

    Raises
    ------
    SpecError
        The text is not valid syntax, or uses anything outside the grammar.

    Examples
    --------
    >>> parse("(col('a') + 1).log()")
    (fk.col('a') + 1).log()
    >>> parse("col('signup').dt.year").columns()
    {'signup': 'datetime'}
    """
    if not isinstance(text, str):
        raise SpecError(f"An expression must be source text, got {text!r}.")
    if len(text) > MAX_LENGTH:
        raise SpecError(
            f"The expression is {len(text)} characters long; expected at most "
            f"{MAX_LENGTH}. Split it into several derived features."
        )
    source = text.strip()
    if "\x00" in source:
        raise SpecError("The expression holds a null byte; expected text. Remove it.")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        where = f"line {error.lineno}, column {error.offset}" if error.offset else "end"
        raise SpecError(
            f"Cannot read the expression {_short(source)!r}: {error.msg} at {where}. "
            "Expected Python-like source such as col('debt') / col('income')."
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise SpecError(
            f"Cannot read the expression {_short(source)!r}: it nests too deeply. "
            f"Expected at most {MAX_DEPTH} levels; split the expression."
        ) from None
    return _Reader(source).expr(tree.body, 0)


def _short(text: str | None, limit: int = 60) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Reader:
    """Walks one parsed text; holds the source to quote the offending piece."""

    def __init__(self, source: str) -> None:
        self.source = source

    def refuse(
        self, node: ast.AST, problem: str, todo: str = "", expected: str = _GRAMMAR
    ) -> SpecError:
        piece = _short(ast.get_source_segment(self.source, node))
        line, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        where = f"column {column}" if line == 1 else f"line {line}, column {column}"
        todo = f" Instead, {todo}." if todo else ""
        return SpecError(f"{problem}: {piece!r} at {where}; expected {expected}.{todo}")

    def expr(self, node: ast.expr, depth: int) -> Expr:
        if depth >= MAX_DEPTH:
            problem, todo = f"Nesting deeper than {MAX_DEPTH}", "split the expression"
            raise self.refuse(node, problem, todo, f"at most {MAX_DEPTH} levels")
        depth += 1
        if isinstance(node, ast.Constant) or _negative(node) is not None:
            return fx.from_dict({"op": "lit", "value": self.literal(node)})
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.expr(node.operand, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return ~self.expr(node.operand, depth)
        if isinstance(node, ast.BinOp | ast.Compare):
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Attribute):
            inner, parts = node.value, f"one of .dt.{', .dt.'.join(fx.DATE_PARTS)}"
            if isinstance(inner, ast.Attribute) and inner.attr == "dt":
                if node.attr in fx.DATE_PARTS:
                    part: Expr = getattr(self.expr(inner.value, depth).dt, node.attr)
                    return part
                problem = f"The date part .dt.{node.attr} is unknown"
                raise self.refuse(node, problem, expected=parts)
            if node.attr == "dt":
                raise self.refuse(node, ".dt needs a date part", expected=parts)
            todo = "call a method such as .log(), or take a part such as .dt.year"
            raise self.refuse(node, f"The attribute .{node.attr} is unknown", todo)
        if isinstance(node, ast.Name) and node.id in (*_FUNCTIONS, "fk"):
            problem = f"{node.id!r} is a function, not a value"
            raise self.refuse(node, problem, "call it, e.g. col('x')")
        if isinstance(node, ast.Name):
            todo = f"to use the column {node.id!r}, write col({node.id!r})"
            raise self.refuse(node, f"The name {node.id!r} is unknown", todo)
        kind = type(node.op if isinstance(node, ast.UnaryOp) else node).__name__
        problem, todo = _SYNTAX.get(kind, (f"Python's {kind}", ""))
        raise self.refuse(node, f"{problem} is not allowed", todo)

    def binary(self, node: ast.BinOp | ast.Compare, depth: int) -> Expr:
        if isinstance(node, ast.BinOp):
            ops: list[ast.AST] = [node.op]
            operands = [node.left, node.right]
        else:
            ops, operands = [*node.ops], [node.left, *node.comparators]
        if len(ops) > 1:
            text = [ast.get_source_segment(self.source, x) for x in operands]
            symbols = [_BINARY.get(type(op), ("?",))[0] for op in ops]
            pairs = zip(text, symbols, text[1:], strict=False)
            todo = "write " + " & ".join(f"({a} {s} {b})" for a, s, b in pairs)
            raise self.refuse(node, "A chained comparison is not allowed", todo)
        if type(ops[0]) not in _BINARY:
            kind = type(ops[0]).__name__
            problem, todo = _SYNTAX.get(kind, (f"The operator {kind}", ""))
            raise self.refuse(node, f"{problem} is not allowed", todo, _OPERATORS)
        left, right = (self.expr(x, depth) for x in operands)
        return _BINARY[type(ops[0])][1](left, right)

    def literal(self, node: ast.expr, none: bool = False) -> Any:
        """A number, a string, a negative number, or None where `none` allows it."""
        value = node.value if isinstance(node, ast.Constant) else _negative(node)
        if value is None and not isinstance(node, ast.Constant):
            value = ...  # neither a constant nor a negative number
        if type(value) in (int, float, str) or (value is None and none):
            return value
        todo = "write 1 or 0" if isinstance(value, bool) else ""
        expected = "a number or None" if none else "a number or a string"
        raise self.refuse(node, "This value is not allowed here", todo, expected)

    def call(self, node: ast.Call, depth: int) -> Expr:
        func, args, keywords = node.func, node.args, node.keywords
        if any(isinstance(a, ast.Starred) for a in args) or any(
            k.arg is None for k in keywords
        ):
            todo = "pass the arguments one by one"
            raise self.refuse(node, "Starred arguments are not allowed", todo)
        if isinstance(func, ast.Attribute) and func.attr in _METHODS:
            if not (isinstance(func.value, ast.Name) and func.value.id == "fk"):
                return self.method(node, func.attr, self.expr(func.value, depth))
        name = func.id if isinstance(func, ast.Name) else ""
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name = func.attr if func.value.id == "fk" and func.attr != "abs" else ""
        if name not in _FUNCTIONS:
            problem = f"Calling {_short(ast.get_source_segment(self.source, func))!r}"
            raise self.refuse(node, f"{problem} is not allowed")
        arity, build = _FUNCTIONS[name]
        if len(args) != arity or keywords:
            expected = f"{name}({', '.join('abc'[:arity])})"
            problem = f"{name} takes {arity} positional arguments"
            raise self.refuse(node, problem, expected=expected)
        if name == "col":
            return fx.col(self.literal(args[0]))
        return build(*(self.expr(a, depth) for a in args))

    def method(self, node: ast.Call, name: str, receiver: Expr) -> Expr:
        args, keywords = node.args, node.keywords
        if name == "clip":
            bounds = dict(zip(("lo", "hi"), args, strict=False))
            if len(args) > 2 or any(
                k.arg not in {"lo", "hi"} - bounds.keys() for k in keywords
            ):
                expected = (
                    ".clip(lo, hi) or .clip(lo=..., hi=...), each a number or None"
                )
                raise self.refuse(node, ".clip has bad arguments", expected=expected)
            bounds |= {str(k.arg): k.value for k in keywords}
            ends = {k: self.literal(v, none=True) for k, v in bounds.items()}
            return receiver.clip(**ends)
        arity = 0 if name in _PLAIN else 1
        if len(args) != arity or keywords:
            problem = f".{name} takes {arity} positional arguments"
            raise self.refuse(node, problem, expected=f".{name}({'value' * arity})")
        if name == "fillna":
            return receiver.fillna(self.literal(args[0]))
        if name == "isin":
            if not isinstance(args[0], ast.List):
                problem, expected = ".isin needs a list", "a list such as ['a', 'b']"
                raise self.refuse(args[0], problem, expected=expected)
            return receiver.isin([self.literal(v) for v in args[0].elts])
        return _PLAIN[name](receiver)


def _negative(node: ast.expr) -> int | float | None:
    """The value of a negative number literal such as ``-2.5``, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        value = inner.value if isinstance(inner, ast.Constant) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    return None
