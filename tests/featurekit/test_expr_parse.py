from __future__ import annotations

import ast
import builtins
import contextlib
import json
import operator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import featurekit.expr.tree as fx
from featurekit.errors import SpecError
from featurekit.expr.parse import MAX_DEPTH, MAX_LENGTH, parse
from featurekit.missing import MISSING

a, b, c, d, e = (fx.col(n) for n in "abcde")


def lit(value: object) -> fx.Expr:
    return fx.from_dict({"op": "lit", "value": value})


# -- random expression trees of every kind -------------------------------------------

numbers = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, -2.5, 1e300, 5e-324, 2**53]),
)
# quotes, escapes and non-ASCII that repr must write so Python reads them back
AWKWARD = ["", "a", "it's", 'say "hi"', "back\\slash", "tab\t", "\x1f", "é", "日本"]
strings = st.one_of(
    st.sampled_from(AWKWARD), st.text(max_size=3).filter(lambda s: s != MISSING)
)
bounds = st.one_of(st.none(), numbers)


def names(prefix: str) -> st.SearchStrategy[str]:
    # one prefix per kind keeps a column from being used as two kinds
    return st.sampled_from(AWKWARD).map(lambda s: prefix + s)


def receivers(x: st.SearchStrategy[fx.Expr]) -> st.SearchStrategy[fx.Expr]:
    # repr writes a method on an int literal as `3.log()`, which Python cannot read;
    # see test_methods_on_an_integer_literal_read_back
    return x.map(lambda r: lit(float(r.params[0])) if _int_literal(r) else r)


def _int_literal(x: fx.Expr) -> bool:
    return x.op == "lit" and isinstance(x.params[0], int)


def negate(x: fx.Expr) -> fx.Expr:
    # -(2) reads back as the literal -2; see test_negated_literal_reads_back
    return x if x.op == "lit" else -x


# the first of each list is the one hypothesis favours, so the trickiest leads
ARITH = [operator.pow, operator.sub, operator.truediv, operator.add, operator.mul]
UNARY = [negate, fx.Expr.log, abs, fx.Expr.sqrt, fx.Expr.exp, fx.Expr.log1p]
ORDER = [operator.ne, operator.eq, operator.lt, operator.le, operator.gt, operator.ge]


def apply(functions: list, *operands: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.sampled_from(functions), *operands).map(lambda p: p[0](*p[1:]))


def trees(depth: int) -> dict[str, st.SearchStrategy[fx.Expr]]:
    """Strategies for expressions of each kind, nested at most `depth` deep."""
    leaves = {
        "number": st.one_of(names("n").map(fx.col), numbers.map(lit)),
        "category": st.one_of(names("c").map(fx.col), strings.map(lit)),
        "datetime": names("d").map(fx.col),
    }
    if depth == 0:
        x = leaves["number"]
        return {**leaves, "condition": apply(ORDER[2:], x, x)}
    sub = trees(depth - 1)
    num, cond, cat, date = (
        sub[n] for n in ("number", "condition", "category", "datetime")
    )
    # where(q, col('c'), col('c')) and col('c') == col('c') take bare columns as numbers
    strict = cat.map(lambda x: x if x.kind == "category" else x.fillna("?"))
    number = st.one_of(
        leaves["number"],
        apply(ARITH, num, num),
        apply(UNARY, receivers(num)),
        apply([fx.Expr.clip], receivers(num), bounds, bounds),
        apply([fx.Expr.fillna], receivers(num), numbers),
        apply([fx.minimum, fx.maximum], num, num),
        apply([fx.where], cond, num, num),
        apply([fx.days_between], date, date),
        apply(
            [lambda x, part: getattr(x.dt, part)], date, st.sampled_from(fx.DATE_PARTS)
        ),
        cond,
    )
    condition = st.one_of(
        apply(ORDER, num, num),
        apply(ORDER[:2], strict, cat),
        apply([operator.and_, operator.or_], cond, cond),
        apply([operator.invert], cond),
        apply([fx.Expr.isnull], receivers(st.one_of(num, cat, date))),
        apply(
            [fx.Expr.isin], receivers(num), st.lists(numbers, min_size=1, max_size=3)
        ),
        apply(
            [fx.Expr.isin], receivers(cat), st.lists(strings, min_size=1, max_size=3)
        ),
        apply([fx.where], cond, cond, cond),
    )
    category = st.one_of(
        leaves["category"],
        apply([fx.Expr.fillna], receivers(cat), strings),
        apply([fx.cross], cat, cat),
        apply([fx.where], cond, strict, cat),
    )
    return {
        "number": number,
        "condition": condition,
        "category": category,
        "datetime": date,
    }


KINDS = trees(2)
# arithmetic alone, deeper: the precedence rules repr and parse must agree on
ARITHMETIC = st.recursive(
    trees(0)["number"],
    lambda x: apply(ARITH, x, x) | apply(UNARY, receivers(x)),
    max_leaves=10,
)
SETTINGS = settings(
    deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@settings(SETTINGS, max_examples=1500)
@given(expr=st.one_of(KINDS["number"], KINDS["condition"], KINDS["category"]))
def test_repr_parses_back_to_the_same_expression(expr):
    again = parse(repr(expr))
    assert again.equals(expr)
    assert repr(again) == repr(expr)


@settings(SETTINGS, max_examples=700)
@given(expr=ARITHMETIC)
def test_arithmetic_parses_back_with_the_same_grouping(expr):
    assert parse(repr(expr)).equals(expr)


# -- hand-written examples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("col('debt') / col('income')", fx.col("debt") / fx.col("income")),
        ("fk.col('debt') / fk.col('income')", fx.col("debt") / fx.col("income")),
        ("(col('a') + 1).log()", (a + 1).log()),
        ("fk.where(col('a') > 1000, 1, 0)", fx.where(a > 1000, 1, 0)),
        ("where(col('a') > 1000, 1, 0)", fx.where(a > 1000, 1, 0)),
        ("col('d').dt.year", d.dt.year),
        ("col('d').dt.day_of_week", d.dt.day_of_week),
        ("days_between(col('d'), fk.col('e'))", fx.days_between(d, e)),
        (
            "minimum(col('a'), 0) + maximum(col('b'), -1.5)",
            fx.minimum(a, 0) + fx.maximum(b, -1.5),
        ),
        ("cross(col('c'), 'x')", fx.cross(c, "x")),
        ("abs(col('a'))", a.abs()),
        ("-col('a') ** 2", -(a**2)),
        ("(-col('a')) ** 2", (-a) ** 2),
        ("col('a') ** -1", a**-1),
        ("2 ** col('a')", 2**a),
        ("1 / col('a')", 1 / a),
        ("col('a') - col('b') - 1", a - b - 1),
        ("col('a') - (col('b') - 1)", a - (b - 1)),
        ("(col('a') > 0) & (col('a') < 1)", (a > 0) & (a < 1)),
        ("~(col('c') == 'x') | col('c').isnull()", ~(c == "x") | c.isnull()),
        ("col('a') != col('b')", a != b),
        ("col('a') <= 1e300", a <= 1e300),
        ("col('a').clip(0, None)", a.clip(0, None)),
        ("col('a').clip(lo=-1)", a.clip(-1, None)),
        ("col('a').clip(hi=2.5)", a.clip(None, 2.5)),
        ("col('a').clip(-1, hi=2)", a.clip(-1, 2)),
        ("col('a').fillna(-1)", a.fillna(-1)),
        ("col('c').fillna('none')", c.fillna("none")),
        ("col('a').isin([0, 1.5, -2])", a.isin([0, 1.5, -2])),
        ("col('c').isin(['a', 'é'])", c.isin(["a", "é"])),
        ("col('a').sqrt().exp().log1p()", a.sqrt().exp().log1p()),
        ("  col('a')\n", a),
        ("(col('a')\n + col('b'))", a + b),
        ("col('tab\\tname')", fx.col("tab\tname")),
        ("col('a') + -0.0", a + 0.0),
        ("(3).log()", lit(3).log()),
        ("3", lit(3)),
    ],
)
def test_source_text_builds_the_expression(text, expected):
    assert parse(text).equals(expected)


def test_literals_keep_their_type():
    assert not parse("col('a') + 1").equals(a + 1.0)
    assert parse("col('a') + 1.0").equals(a + 1.0)


def test_literal_arithmetic_is_not_computed():
    # 10 ** 10 ** 10 would take forever in Python; here it is just a tree
    expr = parse("col('a') + 10 ** 10 ** 10")
    assert expr.equals(a + lit(10) ** (lit(10) ** lit(10)))


def test_parse_agrees_with_the_json_form():
    expr = parse("fk.where(col('a') > 1000, col('b').log(), 0)")
    again = fx.from_dict(json.loads(json.dumps(expr.to_dict())))
    assert again.equals(expr)


def test_type_errors_come_from_the_expression():
    with pytest.raises(SpecError, match=r"\.log\(\) needs a number"):
        parse("col('c').fillna('x').log()")


def test_methods_on_an_integer_literal_read_back():
    expr = lit(3).log()
    assert parse(repr(expr)).equals(expr)


def test_negated_literal_reads_back():
    expr = -lit(2)
    assert parse(repr(expr)).equals(expr)


# -- hostile and malformed input ---------------------------------------------------------

HOSTILE = [
    "__import__('os').system('x')",
    "col.__class__",
    "fk.col('a').__class__.__mro__",
    "fk.__dict__",
    "fk.col('a').log.__globals__",
    "().__class__.__bases__[0].__subclasses__()",
    "col('a').dt.__class__",
    "open('f')",
    "fk.open('f')",
    "eval('1')",
    "exec('1')",
    "compile('1', '', 'eval')",
    "getattr(col('a'), 'log')()",
    "globals()",
    "breakpoint()",
    "print(1)",
    "(lambda: 1)()",
    "lambda: 1",
    "[x for x in y]",
    "(x for x in y)",
    "{x: 1 for x in y}",
    "col('a')[0]",
    "col('a')[0:2]",
    "f'{x}'",
    "1 if x else 2",
    "(x := 1)",
    "fk.where(*args)",
    "fk.minimum(**kw)",
    "col(*['a'])",
    "col('a') and col('b')",
    "not col('a')",
    "col('a') in [1]",
    "col('a') is None",
    "col('a') % 2",
    "col('a') // 2",
    "col('a') @ col('b')",
    "col('a') ^ col('b')",
    "col('a') << 1",
    "+col('a')",
    "x",
    "col",
    "fk",
    "fk.col",
    "fk.expr.col('a')",
    "featurekit.col('a')",
    "fk.abs(col('a'))",
    "fk.log(col('a'))",
    "col(name='a')",
    "col(col('a'))",
    "col(None)",
    "col('a') + None",
    "col('a') + True",
    "col('a') + b'x'",
    "col('a') + 1j",
    "col('a') + ...",
    "col('a') + 1e999",
    "col('a') + 18014398509481985",
    "col('a').log(1)",
    "col('a').log(base=2)",
    "col('a').clip(lo=1, high=2)",
    "col('a').clip(1, lo=2)",
    "col('a').clip(1, 2, 3)",
    "col('a').clip('x')",
    "col('a').clip(col('b'))",
    "col('a').fillna(col('b'))",
    "col('a').fillna()",
    "col('a').isin(col('b'))",
    "col('a').isin((1, 2))",
    "col('a').isin([col('b')])",
    "col('a').isin([])",
    "col('d').dt",
    "col('d').dt.week",
    "col('a').dt.year()",
    "where(col('a') > 0, 1)",
    "col()",
    "0 < col('x') < 1",
    "{'a': 1}",
    "{1}",
    "(1, 2)",
    "[1]",
    "col('a') +",
    "col('a');import os",
    "col('a')\nimport os",
    "import os",
    "await x",
    "yield 1",
    "col('a')\x00",
    "",
    "   ",
    "1" * 5000,
    "(" * 300 + "col('a')" + ")" * 300,
    "-" * 9000 + "col('a')",
    "+".join(["col('a')"] * 1100),
    "col('a')" + ".abs()" * (MAX_DEPTH + 1),
    "col('a') + " + "0 + " * 2400 + "1",
    "col('a') + " + "1" * (MAX_LENGTH + 1),
]


RUNNERS = ("eval", "exec", "open", "__import__", "breakpoint", "print", "compile")


@contextlib.contextmanager
def nothing_runs():
    """Make any attempt to run code, import or open a file fail loudly."""
    saved = {name: getattr(builtins, name) for name in RUNNERS}

    def forbidden(*args, **kwargs):
        raise AssertionError("parse tried to run code")

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse compiles to a tree and no further; anything else would be a bug
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("parse compiled code")
        return saved["compile"](source, filename, mode, flags, *args, **kwargs)

    for name in RUNNERS:
        setattr(builtins, name, ast_only if name == "compile" else forbidden)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(builtins, name, value)


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:40]))
def test_hostile_or_malformed_text_is_refused_without_running_it(text):
    with pytest.raises(SpecError), nothing_runs():
        parse(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 < col('x') < 1", r"write \(0 < col\('x'\)\) & \(col\('x'\) < 1\)"),
        ("__import__('os').system('x')", r"Calling \"__import__\('os'\)\.system\""),
        ("open('f')", r"Calling 'open' is not allowed: \"open\('f'\)\" at column 1"),
        ("col.__class__", r"attribute \.__class__ is unknown.*expected col\('name'\)"),
        ("col('a') + x", r"name 'x' is unknown.* at column 12.*write col\('x'\)"),
        ("col('a')[0]", r"Indexing is not allowed"),
        ("f'{x}'", r"f-string is not allowed"),
        ("(lambda: 1)()", r"Calling 'lambda: 1' is not allowed"),
        ("[x for x in y]", r"comprehension is not allowed"),
        ("1 if x else 2", r"Instead, use fk\.where\(cond, a, b\)"),
        ("col('a') and col('b')", r"and/or is not allowed.*use & and \|"),
        ("not col('a')", r"Instead, use ~ on a condition"),
        ("col('a') in [1]", r"Instead, use \.isin"),
        ("col('a') % 2", r"The operator % is not allowed.*expected one of \+ -"),
        ("fk.where(*args)", r"Starred arguments are not allowed"),
        ("col('a').clip(lo=1, high=2)", r"\.clip has bad arguments"),
        (
            "where(col('a') > 0, 1)",
            r"where takes 3 positional arguments.*where\(a, b, c\)",
        ),
        ("col('a').log(1)", r"\.log takes 0 positional arguments"),
        ("col('a').isin(col('b'))", r"\.isin needs a list.*at column 15"),
        (
            "col('a') + True",
            r"not allowed here: 'True'.*number or a string.*write 1 or 0",
        ),
        ("col('a').clip('x')", r"clip bounds must be numbers"),
        ("col('d').dt.week", r"date part \.dt\.week is unknown.*\.dt\.year"),
        ("col('d').dt", r"\.dt needs a date part"),
        ("col", r"'col' is a function, not a value"),
        ("col('a') +", r"invalid syntax at end"),
        ("col('a') + )", r"unmatched '\)' at line 1, column 12"),
        ("(col('a')\n + x)", r"name 'x' is unknown.* at line 2, column 4"),
        ("col('a')" + ".abs()" * (MAX_DEPTH + 1), r"Nesting deeper than 100.*split"),
        ("col('a')\x00", r"null byte"),
        ("-" * 9000 + "col('a')", r"nests too deeply"),
        ("1" * (MAX_LENGTH + 1), r"10001 characters long; expected at most 10000"),
    ],
)
def test_refusals_say_what_was_wrong_and_what_to_do(text, match):
    with pytest.raises(SpecError, match=match):
        parse(text)


def test_nesting_up_to_the_limit_is_accepted():
    expr = parse("col('a')" + ".abs()" * (MAX_DEPTH - 1))
    assert expr.columns() == {"a": "number"}


@pytest.mark.parametrize("value", [None, 3, b"col('a')", ["col('a')"]])
def test_only_strings_are_parsed(value):
    with pytest.raises(SpecError, match="must be source text"):
        parse(value)


@pytest.mark.parametrize(
    "run",
    [
        lambda: eval("1"),
        lambda: __import__("os"),
        lambda: open("f"),
        lambda: compile("1", "<x>", "eval"),
    ],
)
def test_the_guard_catches_code_that_runs(run):
    with pytest.raises(AssertionError, match="parse"), nothing_runs():
        run()
