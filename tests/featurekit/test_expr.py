"""Derived-feature expressions: numpy against onnxruntime, semantics, JSON and repr."""

from __future__ import annotations

import datetime as dt
import json
import math
from fractions import Fraction

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import featurekit.expr.evaluator as ev
import featurekit.expr.tree as fx
from featurekit.errors import SpecError
from featurekit.expr.emitter import emit_expr
from featurekit.missing import MISSING
from featurekit.onnx.graph import Graph

a, b, c, k, d, e = (fx.col(n) for n in ("a", "b", "c", "k", "d", "e"))

# -- harness -------------------------------------------------------------------------

_SESSIONS: dict[str, tuple[ort.InferenceSession, dict[str, str]]] = {}


def _session(
    expr: fx.Expr, kinds: dict[str, str], threads: int = 1
) -> tuple[ort.InferenceSession, dict[str, str]]:
    key = json.dumps([expr.to_dict(), kinds, threads])
    if key not in _SESSIONS:
        g = Graph()
        tensors = {
            n: g.add_input(n, "string" if t == "category" else "double", ["N", 1])
            for n, t in kinds.items()
        }
        out = g.op("Identity", [emit_expr(g, expr, tensors, kinds=kinds)], "out")
        g.add_output(out, "string" if expr.kind == "category" else "double", ["N", 1])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(
            g.model().SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        _SESSIONS[key] = session, kinds
    return _SESSIONS[key]


def run_onnx(
    expr: fx.Expr, data: dict[str, np.ndarray], threads: int = 1
) -> np.ndarray:
    kinds = {
        n: ("category" if np.asarray(data[n]).dtype == object else "number")
        if t == "any"
        else t
        for n, t in expr.columns().items()
    }
    session, kinds = _session(expr, kinds, threads)
    feed = {
        n: np.asarray(data[n], dtype=object if t == "category" else np.float64).reshape(
            -1, 1
        )
        for n, t in kinds.items()
    }
    out = session.run(None, feed)[0]
    assert out.shape == (len(next(iter(feed.values()))), 1)
    return out.ravel()


def assert_bits_equal(x: np.ndarray, y: np.ndarray) -> None:
    """Equal bit for bit, except that any NaN equals any NaN."""
    assert x.shape == y.shape
    if x.dtype == object or y.dtype == object:
        np.testing.assert_array_equal(x.astype(object), y.astype(object))
        return
    x, y = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    keep = ~np.isnan(x)
    np.testing.assert_array_equal(x[keep].view(np.int64), y[keep].view(np.int64))


def assert_parity(
    expr: fx.Expr, data: dict[str, np.ndarray], threads: int = 1
) -> np.ndarray:
    expected = ev.evaluate(expr, data)
    assert_bits_equal(expected, run_onnx(expr, data, threads))
    return expected


SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308, math.nan, math.inf, -math.inf]
floats = st.one_of(
    st.sampled_from([*SPECIAL, 1.0, -1.0, 2.0, 0.5, -2.5, 1000.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1000, 1000),
)
strings = st.one_of(
    st.sampled_from(["a", "b", "", "é", "日本", MISSING, "a\x1fb"]), st.text(max_size=5)
)
whole_seconds = st.one_of(
    st.integers(-(2**40), 2**40).map(float),
    st.sampled_from([0.0, -1.0, 86399.0, -86400.0, 2.0**53, -(2.0**53), 2.0**53 + 2]),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.5, 1e300]),
)
_KIND_STRATEGY = {"number": floats, "category": strings, "datetime": whole_seconds}


def columns_data(expr: fx.Expr, max_size: int = 12) -> st.SearchStrategy[dict]:
    kinds = {n: "number" if t == "any" else t for n, t in expr.columns().items()}

    def build(n: int) -> st.SearchStrategy[dict]:
        return st.fixed_dictionaries(
            {
                name: st.lists(_KIND_STRATEGY[t], min_size=n, max_size=n).map(
                    lambda v, t=t: np.array(
                        v, dtype=object if t == "category" else float
                    )
                )
                for name, t in kinds.items()
            }
        )

    return st.integers(0, max_size).flatmap(build)


# -- every operator, numpy against onnxruntime ----------------------------------------

NUMBER_OPS = {
    "add": a + b,
    "sub": a - b,
    "mul": a * b,
    "div": a / b,
    "rdiv": 1 / a,
    "pow": a**b,
    "pow_literal": a**2,
    "pow_chain": a**-3,
    "pow_sqrt": a**0.5,
    "pow_general": a**1.7,
    "pow_odd": a**5,
    "rpow": 2**a,
    "rpow_negative": (-2.5) ** a,
    "neg": -a,
    "abs": abs(a),
    "abs_method": a.abs(),
    "log": a.log(),
    "log1p": a.log1p(),
    "exp": a.exp(),
    "sqrt": a.sqrt(),
    "clip": a.clip(-1.5, 2),
    "clip_lo": a.clip(0, None),
    "clip_hi": a.clip(None, 10),
    "minimum": fx.minimum(a, b),
    "maximum": fx.maximum(a, 0),
    "lt": a < b,
    "le": a <= b,
    "gt": a > 1000,
    "ge": a >= b,
    "eq": a == b,
    "ne": a != b,
    "and": (a > 0) & (b > 0),
    "or": (a > 0) | (b < 0),
    "not": ~(a > b),
    "isnull": a.isnull(),
    "fillna": a.fillna(-1),
    "isin": a.isin([0, 1.5, -2]),
    "where": fx.where(a > b, a, b),
    "where_literals": fx.where(a > 1000, 1, 0),
}
CATEGORY_OPS = {
    "eq_literal": c == "a",
    "ne_literal": c != "a",
    "eq_columns": c == k.fillna("a"),
    "ne_columns": c != k,
    "isin": c.isin(["a", "é", ""]),
    "isnull": c.isnull(),
    "fillna": c.fillna("none"),
    "cross": fx.cross(c, k),
    "where": fx.where(c == "a", "x", k),
    "where_isnull": fx.where(c.isnull(), "none", c),
}
DATE_OPS = {
    **{part: getattr(d.dt, part) for part in fx.DATE_PARTS},
    "days_between": fx.days_between(d, e),
}
ALL_OPS = {
    **{f"number_{n}": x for n, x in NUMBER_OPS.items()},
    **{f"category_{n}": x for n, x in CATEGORY_OPS.items()},
    **{f"date_{n}": x for n, x in DATE_OPS.items()},
}


@pytest.mark.parametrize("name", list(ALL_OPS))
def test_operator_numpy_matches_onnxruntime_bit_for_bit(name):
    expr = ALL_OPS[name]

    @settings(max_examples=40, deadline=None, database=None)
    @given(data=columns_data(expr))
    def check(data):
        assert_parity(expr, data)

    check()


@pytest.mark.parametrize("expr", [a.log(), a.log1p(), a.exp(), (-a).exp()], ids=repr)
def test_log_and_exp_match_onnxruntime_on_a_million_rows(expr):
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            np.exp(rng.uniform(-744, 709, 500_000)),
            rng.uniform(-750, 750, 500_000),
            [5e-324, 2.2250738585072014e-308, 1e-310, 709.782712893384, -745.2],
        ]
    )
    assert_parity(expr, {"a": x})


def test_log_and_exp_are_within_two_ulp_of_the_c_library():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-744, 709, 20_000)), [5e-324, 1e-310]])
    ulps = ev.log(x).view(np.int64) - np.array([math.log(v) for v in x]).view(np.int64)
    assert np.abs(ulps).max() <= 1
    y = rng.uniform(-700, 709, 20_000)
    ulps = ev.exp(y).view(np.int64) - np.array([math.exp(v) for v in y]).view(np.int64)
    assert np.abs(ulps).max() <= 2


def _log_edges() -> np.ndarray:
    """Every power of two from 5e-324 up, times 1, SQRTHF and 2 * SQRTHF, with both
    neighbours: where the graph corrects its guess of the exponent."""
    powers = np.ldexp(1.0, np.arange(-1074, 1024))
    x = np.concatenate([powers, powers * ev.SQRTHF, powers * (2 * ev.SQRTHF)])
    x = x[x > 0]
    return np.concatenate([x, np.nextafter(x, 0), np.nextafter(x, np.inf)])


def _exp_edges() -> np.ndarray:
    """Fine grids where exp underflows, turns subnormal or overflows."""
    return np.concatenate(
        [
            np.linspace(-746.5, -706, 40_001),
            np.linspace(708, 710.5, 10_001),
            [-745.1332191019412, -745.1332191019411, 709.782712893384],
        ]
    )


@pytest.mark.parametrize(
    ("expr", "x"),
    [
        (a.log(), _log_edges()),
        (a.log1p(), _log_edges() - 1.0),
        (a.exp(), _exp_edges()),
    ],
    ids=["log", "log1p", "exp"],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_log_and_exp_match_onnxruntime_at_their_edges(expr, x, threads):
    rng = np.random.default_rng(11)
    assert_parity(expr, {"a": x}, threads)
    # the same values elsewhere in a batch, which moves them between the vectorised
    # body and the tail of onnxruntime's Log, and between threads
    assert_parity(expr, {"a": np.concatenate([rng.permutation(x), x[:7]])}, threads)


@pytest.mark.parametrize(("expr", "bound"), [(a.log(), 35), (a.exp(), 30)], ids=repr)
def test_log_and_exp_stay_small_graphs(expr, bound):
    # a one-row request pays onnxruntime's overhead of about a microsecond per node;
    # log is 33 nodes, exp 28 and the two that make overflow missing
    g = Graph()
    emit_expr(g, expr, {"a": g.add_input("a", "double", ["N", 1])})
    assert len(g.nodes) <= bound


# -- x ** y ----------------------------------------------------------------------------
#: Every literal form (chains, sqrt and its reciprocal, the kernel) and a column.
POWERS = [
    a**b,
    *(a**n for n in (0, 1, 2, 3, 4, -1, -2, -3, -4, 0.5, -0.5)),
    *(a**y for y in (1.7, -1.3, 0.25, 5, -7, 1e6, 2.5e-3)),
    2**a,
    (-3) ** a,
]
POWER_SPECIALS = [
    *SPECIAL,
    1.0,
    -1.0,
    2.0,
    -2.0,
    0.5,
    -0.5,
    3.0,
    -3.0,
    1.5,
    2.0**53,
    2.0**53 + 2,
    2.0**53 - 1,
    1e-310,
    1 + 2**-52,
    1 - 2**-53,
    1075.0,
    -1075.0,
    2.0**70,
    1e300,
]


def _power_sample(n: int, seed: int) -> dict[str, np.ndarray]:
    """Bases over the whole double range (either sign), small and huge exponents."""
    rng = np.random.default_rng(seed)
    q = n // 4
    x = np.concatenate(
        [
            np.exp(rng.uniform(-744, 709, q)) * rng.choice([-1.0, 1.0], q),
            rng.uniform(-1e3, 1e3, q),
            1 + rng.uniform(-1e-3, 1e-3, q) * 10.0 ** rng.integers(-15, 1, q),
            rng.integers(-1000, 1000, n - 3 * q).astype(float),
        ]
    )
    y = np.concatenate(
        [
            rng.uniform(-5, 5, q),
            rng.integers(-60, 60, q).astype(float),
            rng.uniform(-800, 800, q) / np.maximum(np.abs(np.log(np.abs(x[:q]))), 1e-3),
            rng.uniform(-1e6, 1e6, n - 3 * q),
        ]
    )
    return {"a": x, "b": rng.permutation(y)}


@pytest.mark.parametrize("expr", POWERS, ids=repr)
def test_power_matches_onnxruntime_on_a_million_rows(expr):
    rows = _power_sample(1_000_000 if expr.args[1].op == "col" else 100_000, 5)
    assert_parity(expr, rows)


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("expr", [a**b, a**1.7, a**-3], ids=repr)
def test_power_matches_onnxruntime_at_its_edges(expr, threads):
    # every pair of special values, then the same rows inside a batch that
    # onnxruntime splits across threads
    x, y = (v.ravel() for v in np.meshgrid(POWER_SPECIALS, POWER_SPECIALS))
    assert_parity(expr, {"a": x, "b": y}, threads)
    big = _power_sample(200_000, 9)
    big = {"a": np.concatenate([big["a"], x]), "b": np.concatenate([big["b"], y])}
    assert_parity(expr, big, threads)


def test_power_matches_onnxruntime_in_featurekit_sessions():
    # runtime.Session scores batches over CHUNK_ROWS in chunks on a thread pool
    from featurekit.runtime import CHUNK_ROWS, Session

    g = Graph()
    tensors = {n: g.add_input(n, "double", ["N", 1]) for n in ("a", "b")}
    exprs = [a**b, a**1.7, a**0.5, a**-3]
    for i, expr in enumerate(exprs):
        g.add_output(
            g.op("Identity", [emit_expr(g, expr, tensors)], f"p{i}"), "double", ["N", 1]
        )
    rows = _power_sample(3 * CHUNK_ROWS + 5, 13)
    feeds = {n: v.reshape(-1, 1) for n, v in rows.items()}
    outs = Session(g.model().SerializeToString(), threads=4).run(feeds, len(rows["a"]))
    for expr, out in zip(exprs, outs, strict=True):
        assert_bits_equal(ev.evaluate(expr, rows), out.ravel())


def _ulps(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x.view(np.int64) - y.view(np.int64))


def _c_pow(x: float, y: float) -> float:
    """C's pow (math.pow), with featurekit's semantics: missing unless finite."""
    try:
        out = math.pow(x, y)
    except (ValueError, OverflowError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def test_power_is_within_two_ulp_of_the_c_library():
    rows = _power_sample(400_000, 3)
    x, y = np.abs(rows["a"]), rows["b"]
    expected = np.array([_c_pow(p, q) for p, q in zip(x, y, strict=True)])
    got = ev.power(x, y)
    assert_bits_equal(np.isnan(got), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert ok.sum() > 250_000
    ulps = _ulps(got[ok], expected[ok])
    assert ulps.max() <= 2
    assert (ulps == 0).mean() > 0.8


def test_power_follows_c_at_every_special_value():
    x, y = (v.ravel() for v in np.meshgrid(POWER_SPECIALS, POWER_SPECIALS))
    got = assert_parity(a**b, {"a": x, "b": y})
    for p, q, value in zip(x, y, got, strict=True):
        # C's pow(nan, 0) and pow(1, nan) are 1; a missing operand gives missing
        expected = math.nan if math.isnan(p) or math.isnan(q) else _c_pow(p, q)
        if math.isnan(expected) or expected == 0:
            # missing where C is, and a zero of C's sign
            assert _nan_list([value]) == _nan_list([expected]), (p, q, value)
            assert math.copysign(1, value) == math.copysign(1, expected), (p, q)
        else:
            assert abs(value - expected) <= 2 * math.ulp(expected), (p, q, value)


@pytest.mark.parametrize("n", [2, 3, 4, -1, -2, -3, -4])
def test_a_small_integer_power_is_a_chain_of_products(n):
    rows = _power_sample(100_000, 4)
    x = rows["a"]
    with np.errstate(all="ignore"):
        p = {1: x, 2: x * x, 3: x * x * x, 4: (x * x) * (x * x)}[abs(n)]
        expected = 1 / p if n < 0 else p
    expected = np.where(np.isfinite(expected), expected, np.nan)
    assert_bits_equal(assert_parity(a**n, rows), expected)
    # on whole numbers: exact, or one rounding of the exact value (a division)
    k = np.arange(-2000, 2001)
    exact = [math.nan if v == 0 and n < 0 else float(Fraction(int(v)) ** n) for v in k]
    assert_bits_equal(ev.evaluate(a**n, {"a": k.astype(float)}), np.array(exact))


@pytest.mark.parametrize("y", [0.5, -0.5])
def test_a_half_power_is_the_square_root(y):
    x = np.abs(_power_sample(100_000, 6)["a"])
    with np.errstate(divide="ignore"):
        expected = np.sqrt(x) if y > 0 else 1 / np.sqrt(x)
    expected = np.where(np.isfinite(expected), expected, np.nan)
    assert_bits_equal(assert_parity(a**y, {"a": x}), expected)


def test_power_graphs_take_no_pow_of_onnxruntime_but_powers_of_two():
    # onnxruntime's Pow calls the C library's pow; only its exact cases may remain:
    # 2 ** k, from the split of x into m * 2 ** e and from exp's final scaling
    g = Graph()
    emit_expr(g, a**b, {n: g.add_input(n, "double", ["N", 1]) for n in ("a", "b")})
    pows = [n for n in g.nodes if n.op_type == "Pow"]
    assert len(pows) == 3
    consts = {i.name: i for i in g.model().graph.initializer}
    import onnx.numpy_helper as nh

    assert all(nh.to_array(consts[n.input[0]]).tolist() == [[2.0]] for n in pows)


def test_power_table_is_exact():
    # c = 1 + j / 128 -> invc within 2**-20 of 1 / c, logc = -log(invc) to 2**-100
    from decimal import Decimal, localcontext

    j = np.arange(ev.POW_ROWS) - ev.POW_OFFSET
    assert np.all(np.abs(ev.POW_INVC * (1 + j / ev.POW_STEPS) - 1) < 2**-20)
    assert np.all(ev.POW_INVC * 2**20 == np.round(ev.POW_INVC * 2**20))
    with localcontext() as ctx:
        ctx.prec = 50
        for inv, hi, lo in zip(
            ev.POW_INVC, ev.POW_LOGC_HI, ev.POW_LOGC_LO, strict=True
        ):
            exact = -Decimal(inv).ln()
            assert abs(Decimal(hi) + Decimal(lo) - exact) < Decimal(2) ** -100
            assert hi == float(exact)
    assert (ev.POW_INVC[ev.POW_OFFSET], ev.POW_LOGC_HI[ev.POW_OFFSET]) == (1.0, 0.0)
    # ln 2 = LN2_HI + LN2_LO, and e * LN2_HI is exact for every binary exponent
    assert ev.LN2_HI + ev.LN2_LO == math.log(2)
    assert (ev.LN2_HI * 2**42).is_integer() and ev.LN2_HI * 2**42 < 2**42


# -- random expression trees ----------------------------------------------------------

_number_leaves = st.one_of(
    st.sampled_from([a, b, d.dt.hour, fx.days_between(d, e)]),
    st.sampled_from([0, 1, -2.5, 1e-3, 1e300]),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    expr = children.filter(lambda x: isinstance(x, fx.Expr))
    cond = st.one_of(
        st.tuples(expr, children).map(lambda p: p[0] < p[1]),
        st.tuples(expr, children).map(lambda p: p[0] != p[1]),
        expr.map(lambda x: x.isnull()),
        st.sampled_from([c == "a", c.isin(["b", "é"]), c.isnull()]),
    )
    return st.one_of(
        st.tuples(expr, children).map(lambda p: p[0] + p[1]),
        st.tuples(children, expr).map(lambda p: p[0] - p[1]),
        st.tuples(expr, children).map(lambda p: p[0] * p[1]),
        st.tuples(children, expr).map(lambda p: p[0] / p[1]),
        st.tuples(expr, st.sampled_from([0.5, 2, -1, -3, 1.7])).map(
            lambda p: p[0] ** p[1]
        ),
        st.tuples(expr, expr).map(lambda p: p[0] ** p[1]),
        expr.map(lambda x: -x),
        expr.map(lambda x: x.log1p()),
        expr.map(lambda x: x.exp()),
        expr.map(lambda x: x.sqrt()),
        expr.map(lambda x: x.clip(-5, 5)),
        expr.map(lambda x: x.fillna(0)),
        st.tuples(expr, children).map(lambda p: fx.maximum(*p)),
        st.tuples(cond, children, children).map(lambda p: fx.where(*p)),
        st.tuples(cond, cond).map(lambda p: p[0] & ~p[1]),
    )


number_trees = st.recursive(_number_leaves, _extend, max_leaves=8).filter(
    lambda x: isinstance(x, fx.Expr) and bool(x.columns())
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(expr=number_trees, data=st.data())
def test_random_expression_trees_match_onnxruntime(expr, data):
    sample = data.draw(columns_data(a + b + fx.days_between(d, e) + (c == "a")))
    assert_parity(expr, sample)


@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data())
def test_category_trees_match_onnxruntime(data):
    expr = fx.cross(fx.where((a > 0) | c.isnull(), "pos", c.fillna("?")), k)
    expr = fx.where(expr.isin(["pos\x1fa"]) | (expr == k), fx.cross(k, "z"), expr)
    assert_parity(expr, data.draw(columns_data(expr)))


def test_repeated_subexpressions_are_emitted_once():
    one = Graph()
    emit_expr(one, a.log(), {"a": one.add_input("a", "double", ["N", 1])})
    g = Graph()
    tensors = {"a": g.add_input("a", "double", ["N", 1])}
    emit_expr(g, (a.log() + a.log()) * a.log(), tensors)
    # one log, then + and *, each with its two nodes that make overflow missing
    assert len(g.nodes) == len(one.nodes) + 6


# -- semantics, against independent oracles --------------------------------------------


def _one(expr: fx.Expr, **columns: list) -> list:
    data = {
        n: np.array(v, dtype=object if isinstance(v[0], str) else float)
        for n, v in columns.items()
    }
    return assert_parity(expr, data).tolist()


def _nan_list(values: list) -> list:
    return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]


@pytest.mark.parametrize(
    ("expr", "x", "expected"),
    [
        (
            a / b,
            ([1.0, 0.0, -1.0, 6.0], [0.0, 0.0, 0.0, 3.0]),
            ["nan", "nan", "nan", 2.0],
        ),
        (a.log(), ([0.0, -1.0, 1.0, math.e], None), ["nan", "nan", 0.0, 1.0]),
        (a.sqrt(), ([-1.0, 4.0, math.inf, 0.0], None), ["nan", 2.0, "nan", 0.0]),
        (a.exp(), ([1000.0, 0.0, -math.inf, -1000.0], None), ["nan", 1.0, 0.0, 0.0]),
        (a.log1p(), ([-1.0, 0.0, -2.0, math.e - 1], None), ["nan", 0.0, "nan", 1.0]),
        (
            a**b,
            ([math.nan, 1.0, 2.0, -8.0], [0.0, math.nan, 3.0, 1 / 3]),
            ["nan", "nan", 8.0, "nan"],
        ),
        (
            a * b,
            ([1e308, math.inf, math.nan, 2.0], [10.0, 0.0, 1.0, 3.0]),
            ["nan", "nan", "nan", 6.0],
        ),
        (-a, ([math.inf, 2.0, math.nan, -0.0], None), ["nan", -2.0, "nan", 0.0]),
        (
            a,
            ([math.inf, -math.inf, math.nan, 1.0], None),
            [math.inf, -math.inf, "nan", 1.0],
        ),
        (
            a.clip(0, None),
            ([-2.0, 3.0, math.nan, math.inf], None),
            [0.0, 3.0, "nan", "nan"],
        ),
        (
            fx.minimum(a, b),
            ([1.0, math.nan, 3.0, 2.0], [2.0, 1.0, math.nan, -1.0]),
            [1.0, "nan", "nan", -1.0],
        ),
        (
            a.fillna(7),
            ([math.nan, 1.0, math.inf, -0.0], None),
            [7.0, 1.0, math.inf, 0.0],
        ),
    ],
)
def test_derived_numbers_are_finite_or_missing(expr, x, expected):
    columns = {"a": x[0]} if x[1] is None else {"a": x[0], "b": x[1]}
    assert _nan_list(_one(expr, **columns)) == expected


def test_comparisons_with_missing_are_zero_even_for_not_equal():
    nan = math.nan
    assert _one(a < b, a=[nan, 1.0, 1.0], b=[1.0, nan, 2.0]) == [0.0, 0.0, 1.0]
    assert _one(a != b, a=[nan, nan, 1.0], b=[1.0, nan, 2.0]) == [0.0, 0.0, 1.0]
    assert _one(a == b, a=[nan, -0.0, 1.0], b=[nan, 0.0, 2.0]) == [0.0, 1.0, 0.0]
    assert _one(c != "a", c=[MISSING, "a", "b"]) == [0.0, 0.0, 1.0]
    both = fx.cross(c, "") == fx.cross(k, "")
    assert _one(both, c=[MISSING, "a", "b"], k=[MISSING, "a", "c"]) == [0.0, 1.0, 0.0]
    assert _one(a.isin([1, 2]), a=[nan, 1.0, 3.0]) == [0.0, 1.0, 0.0]


def test_conditions_combine_and_isnull_flags_missing():
    x = [math.nan, 1.0, -1.0, 5.0]
    assert _one((a > 0) & ~a.isnull(), a=x) == [0.0, 1.0, 0.0, 1.0]
    assert _one((a > 2) | a.isnull(), a=x) == [1.0, 0.0, 0.0, 1.0]
    assert _nan_list(_one(fx.where(a > 0, a, -a), a=x)) == ["nan", 1.0, 1.0, 5.0]


def test_where_picks_branches_and_keeps_missing():
    out = _one(fx.where(a > 0, a, 0), a=[math.nan, 2.0, -3.0])
    assert out == [0.0, 2.0, 0.0]  # a comparison with missing is 0, so the else branch


def test_categories_cross_fill_and_where():
    cs, ks = ["a", MISSING, "日本", "b"], ["x", "y", "é", MISSING]
    assert _one(fx.cross(c, k), c=cs, k=ks) == ["a\x1fx", MISSING, "日本\x1fé", MISSING]
    assert _one(c.fillna("none"), c=cs) == ["a", "none", "日本", "b"]
    assert _one(fx.where(c == "a", "A", k), c=cs, k=ks) == ["A", "y", "é", MISSING]
    assert _one(c.isin(["b", "日本"]), c=cs) == [0.0, 0.0, 1.0, 1.0]
    assert _one(c.isnull(), c=cs) == [0.0, 1.0, 0.0, 0.0]


def _seconds(moment: dt.datetime) -> float:
    return float((moment - dt.datetime(1970, 1, 1)) // dt.timedelta(seconds=1))


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2000, 2, 29, 23, 59, 59),
        dt.datetime(1900, 3, 1),
        dt.datetime(1900, 2, 28, 1),
        dt.datetime(1969, 12, 31, 23, 59, 59),
        dt.datetime(1970, 1, 1),
        dt.datetime(1600, 2, 29, 12),
        dt.datetime(2024, 12, 31, 18),
        dt.datetime(2100, 3, 1, 5),
        dt.datetime(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59),
        dt.datetime(1677, 9, 22, 0, 12),
        dt.datetime(2262, 4, 11, 23),
    ],
    ids=str,
)
def test_date_parts_match_the_calendar(moment):
    data = {"d": np.array([_seconds(moment)])}
    parts = {p: assert_parity(getattr(d.dt, p), data)[0] for p in fx.DATE_PARTS}
    assert parts == {
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "day_of_week": moment.weekday(),
        "day_of_year": moment.timetuple().tm_yday,
        "hour": moment.hour,
    }
    if pd.Timestamp.min < moment < pd.Timestamp.max:
        stamp = pd.Timestamp(moment)
        assert (parts["day_of_week"], parts["day_of_year"]) == (
            stamp.day_of_week,
            stamp.day_of_year,
        )


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)),
        min_size=2,
        max_size=2,
    )
)
def test_date_parts_and_days_between_match_datetime(moments):
    first, second = moments
    data = {"d": np.array([_seconds(first)]), "e": np.array([_seconds(second)])}
    got = [ev.evaluate(getattr(d.dt, p), data)[0] for p in fx.DATE_PARTS]
    tt = first.timetuple()
    assert got == [
        tt.tm_year,
        tt.tm_mon,
        tt.tm_mday,
        tt.tm_wday,
        tt.tm_yday,
        tt.tm_hour,
    ]
    between = ev.evaluate(fx.days_between(d, e), data)[0]
    assert between == (second.date() - first.date()).days


def test_missing_and_out_of_range_datetimes_have_no_parts():
    x = [math.nan, math.inf, 2.0**53 + 2, 0.0]
    for part in fx.DATE_PARTS:
        assert _nan_list(_one(getattr(d.dt, part), d=x))[:3] == ["nan"] * 3


def test_empty_batches_give_empty_results():
    for expr in [a.log() + b, fx.cross(c, k), d.dt.year]:
        data = {
            n: np.array([], dtype=object if t == "category" else float)
            for n, t in expr.columns().items()
        }
        out = assert_parity(expr, data)
        assert out.shape == (0,)


# -- kinds and type errors ------------------------------------------------------------


def test_kinds_and_columns():
    assert a.kind == "any"
    assert (a + 1).kind == "number"
    assert (a > 1).kind == "condition"
    assert fx.cross(c, "x").kind == "category"
    assert fx.where(a > 0, c, "z").columns() == {"a": "number", "c": "category"}
    assert (d.dt.year + fx.days_between(d, e)).columns() == {
        "d": "datetime",
        "e": "datetime",
    }
    assert c.isnull().columns() == {"c": "any"}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: c.fillna("x").log(), r"\.log\(\) needs a number"),
        (lambda: fx.cross(a + 1, c), "fk.cross needs a category"),
        (lambda: (a + 1) & (b > 0), "needs a condition"),
        (lambda: a & (b > 0), "needs a condition"),
        (lambda: fx.where(a > 0, "x", 1), "needs a category"),
        (lambda: (a + 1).dt.year, r"\.dt needs a datetime"),
        (lambda: (c == "a") + (c > 1), "both as a category and as a number"),
        (lambda: d.dt.year + d, "both as a datetime and as a number"),
        (lambda: a.isin([]), "non-empty list"),
        (lambda: a.isin([1, "a"]), "all strings or all numbers"),
        (lambda: a.isin("ab"), "list of values"),
        (lambda: a + math.inf, "finite number"),
        (lambda: a + True, "bool"),
        (lambda: a + None, "NoneType"),
        (lambda: a == MISSING, "sentinel"),
        (lambda: a + 2**60, "2\\*\\*53"),
        (lambda: a.fillna(b), "fillna takes a number or a string"),
        (lambda: a.clip("x", None), "clip bounds"),
        (lambda: fx.col(""), "column name"),
        (lambda: bool(a > 1), "no truth value"),
        (lambda: 0 < a < 1, "no truth value"),
    ],
)
def test_type_errors_are_spec_errors(build, match):
    with pytest.raises(SpecError, match=match):
        build()


def test_unknown_date_part_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no part 'week'"):
        _ = d.dt.week


def test_evaluate_needs_its_columns():
    with pytest.raises(SpecError, match="lacks"):
        ev.evaluate(a + b, {"a": np.zeros(2)})


def test_expressions_hash_by_identity_and_compare_by_structure():
    assert (a + 1).equals(fx.col("a") + 1)
    assert not (a + 1).equals(a + 1.0)
    assert (a + 0.0).equals(a + -0.0)  # the literal -0.0 is 0.0
    assert len({a + 1, a + 1}) == 2


# -- JSON and repr ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL_OPS))
def test_json_round_trip(name):
    expr = ALL_OPS[name]
    again = fx.Expr.from_dict(json.loads(json.dumps(expr.to_dict())))
    assert again.equals(expr)
    assert repr(again) == repr(expr)


@pytest.mark.parametrize("name", list(ALL_OPS))
def test_repr_reads_back_as_the_same_expression(name):
    expr = ALL_OPS[name]
    # the repr is source code: evaluating it (our own text, in a test) rebuilds expr
    assert eval(repr(expr), {"fk": fx}).equals(expr)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (a / b, "fk.col('a') / fk.col('b')"),
        (fx.where(a > 1000, 1, 0), "fk.where(fk.col('a') > 1000, 1, 0)"),
        ((a + 1).log(), "(fk.col('a') + 1).log()"),
        (d.dt.year, "fk.col('d').dt.year"),
        (fx.days_between(d, e), "fk.days_between(fk.col('d'), fk.col('e'))"),
        (a - (b - 1), "fk.col('a') - (fk.col('b') - 1)"),
        (a - b - 1, "fk.col('a') - fk.col('b') - 1"),
        ((a + b) * 2, "(fk.col('a') + fk.col('b')) * 2"),
        (-(a**2), "-fk.col('a') ** 2"),
        ((-a) ** 2, "(-fk.col('a')) ** 2"),
        (a**-1, "fk.col('a') ** -1"),
        ((a > 1) & (b < 2), "(fk.col('a') > 1) & (fk.col('b') < 2)"),
        (~(c == "x") | c.isnull(), "~(fk.col('c') == 'x') | fk.col('c').isnull()"),
        (1 / a, "1 / fk.col('a')"),
        (a.clip(0, None), "fk.col('a').clip(0, None)"),
        (c.isin(["a", "b"]), "fk.col('c').isin(['a', 'b'])"),
        (fx.cross(c, "x"), "fk.cross(fk.col('c'), 'x')"),
    ],
)
def test_repr_reads_like_source(expr, text):
    assert repr(expr) == text


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "JSON object"),
        ({"op": "eval", "args": []}, "Unknown expression operation 'eval'"),
        ({"op": "add", "args": [{"op": "col", "name": "a"}]}, "takes 2 arguments"),
        ({"op": "col"}, "missing \\['name'\\]"),
        ({"op": "col", "name": "a", "extra": 1}, "unexpected \\['extra'\\]"),
        ({"op": "lit", "value": [1]}, "Bad literal"),
        ({"op": "lit", "value": True}, "bool"),
        ({"op": "lit", "value": None}, "Bad literal"),
        ({"op": "col", "name": 3}, "column name"),
        ({"op": "log", "args": {"op": "col", "name": "a"}}, "takes 1 arguments"),
        (
            {"op": "isin", "args": [{"op": "col", "name": "a"}], "values": "ab"},
            "must be a list",
        ),
        (
            {
                "op": "log",
                "args": [
                    {"op": "fillna", "args": [{"op": "col", "name": "c"}], "value": "x"}
                ],
            },
            "needs a number",
        ),
    ],
)
def test_malformed_json_raises_spec_error(data, match):
    with pytest.raises(SpecError, match=match):
        fx.from_dict(data)
