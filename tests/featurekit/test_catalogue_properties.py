"""Generated pipelines from the whole catalogue: what training computes, serving computes.

Hypothesis draws FeatureSets (derived expressions over numeric, categorical and
date-time columns, buckets, hashed, crossed and target-encoded categories, TF-IDF
text, a custom transformer), fits a small model (a scaled LogisticRegression or a
HistGradientBoostingClassifier), exports it, and feeds the scikit-learn pipeline and
`serving.Predictor` hundreds of raw records each, through the real input boundary:

1-2. the features matrix bit for bit, labels equal, probabilities within the
     certificate's tolerance;
3.   records as a list of dicts, a DataFrame or one dict at a time, date-times as ISO
     text, `datetime`, pandas `Timestamp` or `numpy.datetime64`, answered identically;
4.   the contract of date-time and text columns.

Exporting takes a second, so few FeatureSets meet many records each. The per-operator
parity tests live in test_expr.py, test_text.py and test_encoders.py; these check that
the pieces compose. The last two sections hold regressions these properties found, and
strict xfail tests for the discrepancies still open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import (
    HealthCheck,
    Phase,
    assume,
    event,
    given,
    note,
    reject,
    settings,
)
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import PolynomialFeatures

import featurekit as fk
import featurekit.exporting.exporter as exporter
from featurekit.contract.columns import Columns
from featurekit.exporting.pipeline import Inputs
from featurekit.expr.tree import Expr
from featurekit.runtime import Session
from serving import Predictor

c = fk.col

# -- the raw columns the generated FeatureSets draw from ------------------------------
#: x: declared float in [-BOUND, BOUND]; k: declared int in [0, 1000]; y: an implied
#: float (finite, unbounded); c: declared category; d: an implied category; t: naive
#: date-time; u: UTC date-time; txt: free text.
BOUND = 1e6
CATS = ["a", "b", "c", "d"]
DCATS = ["p", "q", "r"]
ODD_STRINGS = ["", " ", "zz-unseen", "É", "日本", "A", "a b", "a\x1fb", "\x00", "😀"]
WORDS = "great fast slow broken REFUND love hate ok späť naïve 好 ☃ İstanbul ß".split()
ODD_TEXT = [
    "",
    " ,.!? ",
    "HELLO hello Hello",
    "tab\tnew\nline\u2028sep\u00a0nbsp\ufeffbom",
    "a\u0301 e\u0301",
    "日本語テキスト",
    "emoji 😀👍🏽 and ZWJ 👩\u200d💻",
    "under_score-dash/slash",
    "nul\x00inside",
]
PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")
NUM_LITS = [0, 1, -1, 2, 0.5, 3, 100, 0.1, 1e-300, 1e6, -2.5, 1e300]
OFFSETS = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(dt.timedelta(hours=-8)),
    dt.timezone(dt.timedelta(hours=14)),
    dt.timezone(dt.timedelta(hours=-12)),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/St_Johns"),
]
#: Calendar edges: the epoch and the microsecond before it, leap days (and the
#: non-leap 1900), far past and far future, pandas' nanosecond limits.
NAIVE_DATES = [
    dt.datetime(1970, 1, 1),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1969, 12, 31, 23, 59, 59),
    dt.datetime(2000, 2, 29, 12, 0),
    dt.datetime(1904, 2, 29),
    dt.datetime(1900, 2, 28, 23, 59, 59),
    dt.datetime(1900, 3, 1),
    dt.datetime(1600, 2, 29, 6, 30),
    dt.datetime(2400, 2, 29, 23, 0),
    dt.datetime(2024, 12, 31, 23, 59, 59, 500000),
    dt.datetime(1677, 9, 21, 0, 12, 43),
    dt.datetime(2262, 4, 11, 23, 47, 16),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
]
AWARE_DATES = [
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(1970, 1, 1, 4, 59, 59, 999999, tzinfo=OFFSETS[1]),
    dt.datetime(2000, 2, 29, 23, 30, tzinfo=OFFSETS[2]),
    dt.datetime(2000, 3, 1, 0, 30, tzinfo=OFFSETS[3]),
    dt.datetime(1900, 2, 28, 20, 0, tzinfo=OFFSETS[4]),
    dt.datetime(2024, 3, 31, 2, 30, tzinfo=OFFSETS[5]),  # a DST gap in Berlin
    dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=OFFSETS[5]),  # the repeated hour
    dt.datetime(1955, 6, 1, 12, 0, tzinfo=OFFSETS[6]),
]
MISSING_VALUES = [None, math.nan, pd.NA]
MISSING_DATES = [None, math.nan, pd.NaT, np.datetime64("NaT")]
TOLERANCE = 1e-5  # export's default; the certificate records it too

# -- declarations ------------------------------------------------------------------


@dataclass(frozen=True)
class Columnset:
    """Which raw columns a FeatureSet may read, with the options that constrain values."""

    x_nullable: bool
    k_nullable: bool
    c_nullable: bool
    t_declared: bool
    t_nullable: bool
    u_nullable: bool


EXPONENTS = (2, 0.5, 3, -1, 1.5, 0, -2, 0.25)


def literal(draw: Any) -> float:
    v = draw(st.sampled_from(NUM_LITS))
    return -v if draw(st.booleans()) and v else v


@st.composite
def numbers(draw: Any, depth: int) -> Expr:
    """A numeric expression reading at least one column."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        leaf = draw(st.integers(0, 6))
        if leaf == 0:
            return c("x")
        if leaf == 1:
            return c("y")
        if leaf == 2:
            return c("k")
        if leaf in (3, 4):
            return getattr(
                c("t" if leaf == 3 else "u").dt, draw(st.sampled_from(PARTS))
            )
        if leaf == 5:
            a, b = draw(st.permutations(["t", "u"]))
            return fk.days_between(c(a), c(b))
        return fk.where(draw(conditions(depth - 1)), 1, 0)
    a = draw(numbers(depth - 1))
    op = draw(st.integers(0, 16))
    if op == 0:
        return -a
    if op == 1:
        return abs(a)
    if op in (2, 3, 4, 5):
        return getattr(a, ("log", "log1p", "exp", "sqrt")[op - 2])()
    if op == 6:
        lo, hi = sorted([literal(draw), literal(draw)])
        return a.clip(draw(st.sampled_from([lo, None])), hi if lo != hi else None)
    if op == 7:
        return a.fillna(literal(draw))
    if op == 8:
        return fk.where(draw(conditions(depth - 1)), a, draw(numbers(depth - 1)))
    if op == 9:
        return fk.minimum(a, draw(numbers(depth - 1)))
    if op == 10:
        return fk.maximum(a, literal(draw))
    if op == 11:
        return a ** draw(st.sampled_from(EXPONENTS))
    b: Any = draw(numbers(depth - 1)) if draw(st.booleans()) else literal(draw)
    if op == 16 and not isinstance(b, Expr) and b not in EXPONENTS:
        b = 3
    if draw(st.booleans()) and not isinstance(b, Expr):
        return [b + a, b - a, b * a, b / a, b**a][op - 12]
    return [a + b, a - b, a * b, a / b, a**b][op - 12]


@st.composite
def conditions(draw: Any, depth: int) -> Expr:
    kind = draw(st.integers(0, 7 if depth > 0 else 4))
    if kind == 0:
        return c("c") == draw(st.sampled_from([*CATS, "zz"]))
    if kind == 1:
        return c("d").isin(
            draw(st.lists(st.sampled_from(DCATS), min_size=1, max_size=2))
        )
    if kind == 2:
        # t may be undeclared: isnull() alone would imply a numeric column named t
        target = draw(st.sampled_from([c("x"), c("c"), c("u"), c("t").dt.year]))
        return target.isnull()
    if kind == 3:
        return c("c") != draw(st.sampled_from(CATS))
    if kind == 4:
        cmp = draw(st.sampled_from(["lt", "le", "gt", "ge", "eq", "ne"]))
        a = c(draw(st.sampled_from(["x", "y", "k"])))
        v = literal(draw)
        return {
            "lt": a < v,
            "le": a <= v,
            "gt": a > v,
            "ge": a >= v,
            "eq": a == v,
            "ne": a != v,
        }[cmp]
    if kind == 5:
        return draw(numbers(depth - 1)) > draw(numbers(depth - 1))
    a, b = draw(conditions(depth - 1)), draw(conditions(depth - 1))
    return ~a if kind == 6 and draw(st.booleans()) else (a & b if kind == 6 else a | b)


@st.composite
def categories(draw: Any, depth: int) -> Expr:
    """A categorical expression that is not a bare column."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return fk.cross(c("c"), c("d"))
    if kind == 1:
        return c("c").fillna("none")
    if kind == 2:
        # two bare columns would make a number: one branch must be a category
        other = draw(st.sampled_from([c("d").fillna("none"), "zz"]))
        return fk.where(draw(conditions(depth)), c("c"), other)
    inner = fk.where(draw(conditions(depth)), "yes", "no")
    return fk.cross(inner, c(draw(st.sampled_from(["c", "d"]))))


def numeric_options(draw: Any, model: str) -> dict[str, Any]:
    """Transforms for a numeric Derived feature; a linear model needs imputed, scaled ones."""
    opts: dict[str, Any] = {}
    if model == "logistic" or draw(st.booleans()):
        opts["impute"] = draw(st.sampled_from(["median", "mean", 0.0, -1.0]))
    scales = ["standard", "robust", "minmax"]
    opts["scale"] = draw(
        st.sampled_from(scales if model == "logistic" else [None, *scales])
    )
    clip = draw(st.sampled_from([None, (0, None), (-1e3, 1e3), (None, 10), (-0.5, 50)]))
    if clip is not None:
        opts["clip"] = clip
        if clip[0] is not None and clip[0] > -1 and draw(st.booleans()):
            opts["log1p"] = True
    return opts


def category_options(draw: Any) -> dict[str, Any]:
    encode = draw(st.sampled_from(["onehot", "ordinal", "hash", "target"]))
    opts: dict[str, Any] = {"encode": encode}
    if encode == "hash":
        opts["n_buckets"] = draw(st.sampled_from([2, 7, 64]))
    elif encode == "target":
        opts["unknown"] = "ignore"  # the target mean; "error" would refuse unseen ones
    else:
        opts["unknown"] = draw(st.sampled_from(["ignore", "other"]))
        if draw(st.booleans()):
            opts["min_frequency"] = draw(st.sampled_from([2, 0.1]))
    opts["impute"] = draw(st.sampled_from([None, "most_frequent", "missing"]))
    return opts


@st.composite
def feature_sets(draw: Any, model: str) -> tuple[fk.FeatureSet, Columnset]:
    cols = Columnset(
        x_nullable=draw(st.booleans()),
        k_nullable=draw(st.booleans()),
        c_nullable=draw(st.booleans()),
        t_declared=draw(st.booleans()),
        t_nullable=draw(st.booleans()),
        u_nullable=draw(st.booleans()),
    )
    feats: list[Any] = []
    if cols.t_declared:
        feats.append(fk.Datetime("t", nullable=cols.t_nullable))
    feats.append(fk.Datetime("u", timezone="UTC", nullable=cols.u_nullable))
    # x and k: seen by the model (imputed where nullable) or read by expressions only
    x_opts: dict[str, Any] = {"bounds": (-BOUND, BOUND), "nullable": cols.x_nullable}
    if draw(st.booleans()):
        x_opts["input_only"] = True
    else:
        if cols.x_nullable or draw(st.booleans()):
            x_opts["impute"] = draw(st.sampled_from(["median", "mean", 0.0]))
        if model == "logistic" or draw(st.booleans()):
            x_opts["scale"] = draw(st.sampled_from(["standard", "robust", "minmax"]))
        if draw(st.booleans()):
            x_opts.update(clip=(0, None), log1p=True)
    feats.append(fk.Numeric("x", **x_opts))
    k_opts: dict[str, Any] = {"dtype": "int", "bounds": (0, 1000)}
    if cols.k_nullable:
        k_opts["impute"] = "median"
    if model == "logistic":
        k_opts["scale"] = "minmax"
    feats.append(fk.Numeric("k", **k_opts))
    c_opts: dict[str, Any] = {"nullable": cols.c_nullable}
    if draw(st.booleans()):
        c_opts.update(category_options(draw))
    else:
        c_opts["input_only"] = True
    feats.append(fk.Categorical("c", **c_opts))
    if draw(st.booleans()):
        feats.append(
            fk.Text(
                "txt",
                ngram_range=draw(st.sampled_from([(1, 1), (1, 2), (2, 3)])),
                max_features=draw(st.sampled_from([None, 5, 40])),
                lowercase=draw(st.booleans()),
                binary=draw(st.booleans()),
                sublinear_tf=draw(st.booleans()),
                norm=draw(st.sampled_from(["l2", "l1", None])),
                min_df=draw(st.sampled_from([1, 2])),
                nullable=draw(st.booleans()),
            )
        )
    for i in range(draw(st.integers(1, 4))):
        expr = draw(numbers(2))
        if expr.op == "col":  # a bare column is declared, not derived
            expr = expr + 0
        feats.append(fk.Derived(f"n{i}", expr, **numeric_options(draw, model)))
    for i in range(draw(st.integers(0, 2))):
        feats.append(fk.Derived(f"g{i}", draw(categories(1)), **category_options(draw)))
    if draw(st.booleans()):
        source = draw(st.sampled_from(["x", "y", "k", None]))
        if source is None:
            source = draw(numbers(1))
            if "any" in source.columns().values():
                source = "x"  # isnull() in a bucket source: see the xfail test below
        if draw(st.booleans()):
            bucket: dict[str, Any] = {
                "edges": draw(st.sampled_from([[0], [-1, 0, 1], [1, 10, 100, 1e4]]))
            }
        else:
            bucket = {
                "bins": draw(st.integers(2, 6)),
                "strategy": draw(st.sampled_from(["quantile", "uniform"])),
            }
        encode = draw(st.sampled_from(["onehot", "ordinal"]))
        feats.append(fk.Bucketized("band", source, encode=encode, **bucket))
    if draw(st.integers(0, 4)) == 0 and not cols.k_nullable:
        feats.append(fk.Custom("poly", PolynomialFeatures(2), inputs=["k"]))
    return fk.FeatureSet("generated", feats), cols


# -- raw values -----------------------------------------------------------------------


def _random_naive(rng: np.random.Generator) -> dt.datetime:
    start = dt.datetime(1601, 1, 1)
    secs = int(rng.integers(0, 800 * 365 * 86400))
    return start + dt.timedelta(seconds=secs, microseconds=int(rng.integers(0, 10**6)))


def _random_aware(rng: np.random.Generator) -> dt.datetime:
    tz = OFFSETS[int(rng.integers(len(OFFSETS)))]
    return _random_naive(rng).replace(tzinfo=tz)


def canonical_value(f: Any, rng: np.random.Generator) -> Any:
    """A value `f` admits: special values half of the time, random ones otherwise."""
    missing = f.accepts_missing and rng.random() < 0.1
    special = rng.random() < 0.5
    if f.kind == "numeric":
        if missing:
            return None
        if f.dtype == "int":
            lo, hi = f.bounds
            if special:
                return [lo, hi, 1, 0][int(rng.integers(4))]
            return int(rng.integers(lo, hi + 1))
        if f.bounds is None:  # the implied, unbounded float
            if special:
                pool = [
                    0.0,
                    -0.0,
                    5e-324,
                    -5e-324,
                    1e-300,
                    1e308,
                    -1.7976931348623157e308,
                    1e15,
                    -1.0,
                    1.0,
                    0.5,
                    2.0**53,
                    7,
                ]
                return pool[int(rng.integers(len(pool)))]
            return float(rng.normal() * 10.0 ** rng.integers(-3, 12))
        lo, hi = f.bounds
        if special:
            pool = [
                0.0,
                -0.0,
                5e-324,
                -5e-324,
                1e-300,
                lo,
                hi,
                math.nextafter(hi, 0),
                -1.0,
                1.0,
                0.5,
                -0.999999,
                3,
            ]
            return pool[int(rng.integers(len(pool)))]
        return (
            float(rng.uniform(lo, hi))
            if rng.random() < 0.3
            else float(rng.normal() * 100)
        )
    if f.kind == "categorical":
        if missing:
            return None
        pool = CATS if f.name == "c" else DCATS
        if special:
            return ODD_STRINGS[int(rng.integers(len(ODD_STRINGS)))]
        return pool[int(rng.integers(len(pool)))]
    if f.kind == "text":
        if missing:
            return None
        if special:
            return ODD_TEXT[int(rng.integers(len(ODD_TEXT)))]
        n = int(rng.integers(0, 7))
        return " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), n))
    assert f.kind == "datetime"
    if missing:
        return None
    if f.timezone == "UTC":
        if special:
            return AWARE_DATES[int(rng.integers(len(AWARE_DATES)))]
        return _random_aware(rng)
    if special:
        return NAIVE_DATES[int(rng.integers(len(NAIVE_DATES)))]
    return _random_naive(rng)


def hypothesis_value(f: Any) -> st.SearchStrategy[Any]:
    """The same domain as `canonical_value`, for hypothesis to draw and shrink."""
    none = [st.none()] if f.accepts_missing else []
    if f.kind == "numeric":
        if f.dtype == "int":
            return st.one_of(*none, st.integers(*f.bounds))
        lo, hi = f.bounds if f.bounds is not None else (None, None)
        return st.one_of(
            *none,
            st.floats(lo, hi, allow_nan=False, allow_infinity=False),
            st.integers(-(10**6), 10**6),
        )
    if f.kind == "categorical":
        pool = CATS if f.name == "c" else DCATS
        return st.one_of(
            *none,
            st.sampled_from(pool + ODD_STRINGS),
            st.text(st.characters(codec="utf-8"), max_size=4),
        )
    if f.kind == "text":
        return st.one_of(
            *none,
            st.sampled_from(ODD_TEXT),
            st.text(st.characters(codec="utf-8"), max_size=30),
        )
    if f.timezone == "UTC":
        aware = st.builds(
            lambda d, tz: d.replace(tzinfo=tz),
            st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31)),
            st.sampled_from(OFFSETS),
        )
        return st.one_of(*none, st.sampled_from(AWARE_DATES), aware)
    return st.one_of(*none, st.sampled_from(NAIVE_DATES), st.datetimes())


#: How a date-time can travel: each form must read as the same instant.
FORMS = ("iso", "iso-space", "datetime", "timestamp", "datetime64", "date")


def render(value: Any, form: str, rng: np.random.Generator | None = None) -> Any:
    """`value` in the given form; other values pass unchanged, or as numpy scalars."""
    if value is None:
        return (
            None
            if rng is None
            else MISSING_DATES[int(rng.integers(len(MISSING_DATES)))]
        )
    if not isinstance(value, dt.datetime):
        return value
    aware = value.tzinfo is not None
    if form == "iso":
        text = value.isoformat()
        return text[:-6] + "Z" if aware and text.endswith("+00:00") else text
    if form == "iso-space":
        return value.isoformat(sep=" ")
    if form == "datetime":
        return value
    if form == "timestamp":
        return pd.Timestamp(value)
    if form == "datetime64" and not aware:
        return np.datetime64(value, "us")
    if form == "date" and not aware and value.time() == dt.time(0):
        return value.date()
    return value.isoformat()


def mixed(record: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A record as a JSON client or a Python caller may mix it: any form per value."""
    out = {}
    for name, v in record.items():
        if isinstance(v, dt.datetime) or (v is None and name in ("t", "u")):
            out[name] = render(v, FORMS[int(rng.integers(len(FORMS)))], rng)
        elif v is None:
            out[name] = MISSING_VALUES[int(rng.integers(len(MISSING_VALUES)))]
        elif isinstance(v, float) and rng.random() < 0.2:
            out[name] = np.float64(v)
        elif isinstance(v, int) and rng.random() < 0.2:
            out[name] = np.int64(v)
        else:
            out[name] = v
    return out


def training_frame(
    fs: fk.FeatureSet, cols: Columnset, n: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        "x": rng.normal(0, 50, n).round(3),
        "k": rng.integers(0, 30, n),
        "y": rng.lognormal(0, 2, n) * rng.choice([-1, 1, 1, 1], n),
        "c": rng.choice(CATS, n, p=[0.4, 0.3, 0.2, 0.1]).astype(object),
        "d": rng.choice(DCATS, n).astype(object),
        "t": pd.Timestamp("1950-01-01")
        + pd.to_timedelta(rng.integers(0, 80 * 365 * 86400, n), unit="s"),
        "u": [
            (dt.datetime(1990, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(s)))
            .astimezone(OFFSETS[int(o)])
            .isoformat()
            for s, o in zip(
                rng.integers(0, 40 * 365 * 86400, n), rng.integers(0, 5, n), strict=True
            )
        ],
        "txt": [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)],
    }
    data["x"][:3] = [0.0, -1.0, 0.5]
    frame = pd.DataFrame(data)
    hole = rng.random(n) < 0.08
    if cols.x_nullable:
        frame.loc[hole, "x"] = np.nan
    if cols.k_nullable:
        frame["k"] = frame["k"].astype(float)
        frame.loc[rng.random(n) < 0.08, "k"] = np.nan
    if cols.c_nullable:
        frame.loc[rng.random(n) < 0.08, "c"] = None
    if cols.t_declared and cols.t_nullable:
        frame.loc[rng.random(n) < 0.08, "t"] = pd.NaT
    if cols.u_nullable:
        frame.loc[rng.random(n) < 0.08, "u"] = None
    if "txt" in fs.columns and fs["txt"].nullable:
        frame.loc[rng.random(n) < 0.08, "txt"] = None
    frame = frame[fs.columns]
    score = (
        np.nan_to_num(data["x"]) / 50
        + (data["c"] == "a")
        + np.char.find(np.array(data["txt"], dtype=str), "REFUND").clip(-1, 0)
        + rng.normal(0, 0.7, n)
    )
    return frame, (score > np.median(score)).astype(int)


# -- harness ----------------------------------------------------------------------------


@dataclass
class Exported:
    pipe: Any
    predictor: Predictor
    columns: Columns
    features: Session  # the shipped graph plus its features tensor as an extra output
    tensor: str
    pushed: list[int]
    certificate: dict[str, Any]
    unfolded: Any  # the same graph without onnxruntime's NoopElimination


def with_outputs(model_bytes: bytes, *tensors: str) -> bytes:
    """The shipped graph, with inner (N, k) double tensors as extra outputs."""
    import onnx

    m = onnx.load_from_string(model_bytes)
    for tensor in dict.fromkeys(tensors):
        m.graph.output.append(
            onnx.helper.make_tensor_value_info(
                tensor, onnx.TensorProto.DOUBLE, ["N", None]
            )
        )
    return bytes(m.SerializeToString())


def unfolded_session(model: bytes) -> Any:
    """`model` in onnxruntime without NoopElimination, to tell its effects apart."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        model,
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["NoopElimination"],
    )


def make_model(model: str) -> Any:
    if model == "logistic":
        return LogisticRegression(max_iter=500)
    return HistGradientBoostingClassifier(max_iter=15, random_state=0)


def fit_and_export(
    fs: fk.FeatureSet, frame: pd.DataFrame, target: Any, model: Any, root: Path
) -> Exported:
    """Fit, export to `root`, and load the artifact the way serving does."""
    pipe = fk.make_pipeline(fs, model)
    with warnings.catch_warnings():
        # convergence is the model's business, not what these tests check
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(frame, target)
    built: list[tuple[Any, ...]] = []
    real_build = exporter._build

    def spy(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        built.append(real_build(*args, **kwargs))
        return built[-1]

    with mock.patch.object(exporter, "_build", spy):
        art = fk.export(pipe, root / "a", reference=frame)
    model_bytes, _, info = built[-1]  # the last plan built passed
    assert (root / "a" / "model.onnx").read_bytes() == model_bytes
    cert = art.certificate
    assert cert["passed"] is True and cert["label_agreement"] == 1.0, cert
    # drift monitoring is off: it does not touch the answers, and it warns on extreme
    # admitted values (see the xfail test below)
    predictor = Predictor.load(root / "a", monitor=False)
    with_features = with_outputs(model_bytes, info["features_tensor"])
    return Exported(
        pipe,
        predictor,
        Columns(predictor.contract),
        Session(with_features, threads=1),
        info["features_tensor"],
        list(info["pushed"]),
        cert,
        unfolded_session(with_features),
    )


def generated(
    fs: fk.FeatureSet, cols: Columnset, model: str, seed: int, root: Path
) -> Exported:
    frame, target = training_frame(fs, cols, 240, seed)
    # a derived number missing on every training row has nothing to learn from: an
    # imputer drops the column (see the xfail test below) and HistGradientBoosting
    # fails to bin it; one near the float64 limit overflows a scaler's variance. Such
    # training data is not what these tests are about (requests still carry both)
    seen = Inputs(fs).fit_transform(frame)
    for f in fs.features:
        if isinstance(f, fk.Derived) and not f.is_categorical:
            assume(seen[f.name].notna().any() and seen[f.name].abs().max() < 1e150)
    try:
        return fit_and_export(fs, frame, target, make_model(model), root / "shipped")
    except fk.ParityError:
        if NOOP_ELIMINATION_OFF:
            raise
        # refused only because onnxruntime drops an operation by a constant that is
        # 0 or 1 in float32? Then the same export passes without that optimizer
        with without_noop_elimination():
            fit_and_export(fs, frame, target, make_model(model), root / "unfolded")
        event("export refused because of NoopElimination")
        reject()


@contextlib.contextmanager
def without_noop_elimination() -> Iterator[None]:
    """Every onnxruntime session created inside runs without NoopElimination."""
    import onnxruntime as ort

    real = ort.InferenceSession

    def session(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("disabled_optimizers", ["NoopElimination"])
        return real(*args, **kwargs)

    with mock.patch.object(ort, "InferenceSession", session):
        yield


def sk(call: Any, rows: Any) -> np.ndarray:
    # a derived value near the float64 limit overflows inside scikit-learn's own
    # arithmetic; numpy merely warns about it, as certify() lets it
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(call(rows))


def sk_refused(pipe: Any, rows: list[dict[str, Any]]) -> set[int]:
    """The rows scikit-learn refuses to score: a NaN feature its model rejects."""
    try:
        sk(pipe.predict, rows)
        return set()
    except ValueError as exc:
        if "NaN" not in str(exc):
            raise
    out = set()
    for i, row in enumerate(rows):
        try:
            sk(pipe.predict, [row])
        except ValueError as exc:
            if "NaN" not in str(exc):
                raise
            out.add(i)
    return out


def bits_equal(e: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Per cell: equal bit for bit, except that any NaN equals any NaN."""
    e, g = e.astype(np.float64), g.astype(np.float64)
    return np.asarray(
        (e.view(np.int64) == g.view(np.int64)) | (np.isnan(e) & np.isnan(g))
    )


#: Whether serving's sessions run without onnxruntime's NoopElimination, which drops
#: ``Add``/``Sub``/``Mul``/``Div`` by a double constant that is 0 or 1 in float32; see
#: the xfail test below. Until then a feature cell may differ from training if, and
#: only if, the same graph without that optimizer computes it bit for bit.
NOOP_ELIMINATION_OFF = True


def assert_bits_equal(
    expected: np.ndarray,
    got: np.ndarray,
    rows: list[Any],
    names: list[str],
    unfolded: np.ndarray | None = None,
) -> None:
    """Equal bit for bit, except that any NaN equals any NaN; name the first bad cell."""
    assert expected.shape == got.shape, (expected.shape, got.shape)
    e, g = expected.astype(np.float64), got.astype(np.float64)
    same = bits_equal(e, g)
    if unfolded is not None and not NOOP_ELIMINATION_OFF and not same.all():
        folded = ~same & bits_equal(e, unfolded)
        if folded.any():
            event("NoopElimination moved a feature")
        same |= folded
    if not same.all():
        i, j = np.argwhere(~same)[0]
        bad = sorted({names[k] for k in np.flatnonzero(~same.all(axis=0))})
        raise AssertionError(
            f"features {bad} differ in {int((~same.all(axis=1)).sum())} of {len(e)} "
            f"rows; first row {i}, {names[j]}: training {e[i, j]!r}, serving "
            f"{g[i, j]!r}\nrecord: {rows[i]!r}"
        )


def assert_serves_like_training(ex: Exported, rows: list[dict[str, Any]]) -> None:
    """Features bit for bit, labels equal, probabilities within the certificate."""
    feeds, n = ex.columns.coerce(rows)
    graph = ex.features.run(feeds, n, [ex.tensor])[0]
    trained = sk(ex.pipe[:-1].transform, rows).astype(np.float64)
    names = [str(n) for n in ex.pipe[:-1].get_feature_names_out()]
    # columns pushed into the tree thresholds reach the graph before their log1p:
    # the predictions below cover them
    keep = [j for j in range(trained.shape[1]) if j not in ex.pushed]
    unfolded = ex.unfolded.run([ex.tensor], feeds)[0]
    assert_bits_equal(
        trained[:, keep],
        graph[:, keep],
        rows,
        [names[j] for j in keep],
        unfolded[:, keep],
    )
    refused = sk_refused(ex.pipe, rows)
    if refused:  # a derived value overflowed into NaN, which the model refuses
        event("rows scikit-learn refuses (NaN features)")
        got = ex.predictor.predict_proba(rows, on_error="split")
        assert {i for i, ok in enumerate(got.passed.tolist()) if not ok} == refused
        rows = [r for i, r in enumerate(rows) if i not in refused]
    labels = ex.predictor.predict(rows)
    proba = ex.predictor.predict_proba(rows)
    np.testing.assert_array_equal(labels, sk(ex.pipe.predict, rows))
    np.testing.assert_allclose(
        proba, sk(ex.pipe.predict_proba, rows), rtol=0, atol=ex.certificate["tolerance"]
    )


def records(fs: fk.FeatureSet, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` canonical records: every value one `fs` admits."""
    rng = np.random.default_rng(seed)
    return [{f.name: canonical_value(f, rng) for f in fs.inputs} for _ in range(n)]


PROPERTY = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Each example fits and exports a model (a second or more), so no shrinking: a failure
#: prints its FeatureSet, its seed and the first differing record instead.
PIPELINES = settings(
    PROPERTY,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)


# -- 1 and 2: generated pipelines agree with their export ------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Fit and predict on one OpenMP thread: on a busy shared machine, threads that
    spin-wait for each other make a HistGradientBoosting fit ten times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.mark.parametrize("model", ["logistic", "hgb"])
@settings(PIPELINES, max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_generated_pipelines_serve_what_training_computes(
    model: str, seed: int, data: Any
) -> None:
    fs, cols = data.draw(feature_sets(model), label="features")
    with tempfile.TemporaryDirectory() as tmp:
        ex = generated(fs, cols, model, seed, Path(tmp))
    drawn = data.draw(
        st.lists(
            st.fixed_dictionaries({f.name: hypothesis_value(f) for f in fs.inputs}),
            max_size=40,
        ),
        label="records",
    )
    rng = np.random.default_rng(seed)
    rows = [mixed(r, rng) for r in [*drawn, *records(fs, 400, seed)]]
    assert_serves_like_training(ex, rows)
    event(f"{model}: rows compared", str(len(rows)))


# -- 3: every input form reads the same ------------------------------------------------


def in_form(rows: list[dict[str, Any]], form: str) -> list[dict[str, Any]]:
    return [{k: render(v, form) for k, v in r.items()} for r in rows]


def assert_same_answers(
    ex: Exported, rows: Any, expected: dict[str, np.ndarray]
) -> None:
    """Serving and training answer `rows` exactly as they answered the reference form."""
    np.testing.assert_array_equal(ex.predictor.predict(rows), expected["labels"])
    got = ex.predictor.predict_proba(rows)
    assert got.tobytes() == expected["proba"].tobytes(), np.abs(got - expected["proba"])
    assert sk(ex.pipe.predict_proba, rows).tobytes() == expected["trained"].tobytes()
    assert sk(ex.pipe[:-1].transform, rows).tobytes() == expected["features"].tobytes()


@settings(PIPELINES, max_examples=4)
@given(
    model=st.sampled_from(["logistic", "hgb"]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_every_input_form_gives_identical_predictions(
    model: str, seed: int, data: Any
) -> None:
    fs, cols = data.draw(feature_sets(model), label="features")
    with tempfile.TemporaryDirectory() as tmp:
        ex = generated(fs, cols, model, seed, Path(tmp))
    canonical = records(fs, 150, seed)
    base = in_form(canonical, "iso")
    expected = {
        "labels": ex.predictor.predict(base),
        "proba": ex.predictor.predict_proba(base),
        "trained": sk(ex.pipe.predict_proba, base),
        "features": sk(ex.pipe[:-1].transform, base),
    }
    rng = np.random.default_rng(seed)
    batches = {
        **{form: in_form(canonical, form) for form in FORMS},
        "mixed": [mixed(r, rng) for r in canonical],
    }
    for form, rows in batches.items():
        note(f"form {form}")
        assert_same_answers(ex, rows, expected)
        assert_same_answers(ex, pd.DataFrame(rows, columns=fs.columns), expected)
    # one record at a time, as an HTTP client sends them
    for i, rec in enumerate(batches["mixed"][:40]):
        np.testing.assert_array_equal(
            ex.predictor.predict(rec), expected["labels"][i : i + 1]
        )
        one = ex.predictor.predict_proba(rec)
        if model == "hgb":
            # onnxruntime's Sigmoid rounds one row otherwise than a batch: see the
            # xfail test below; here the answers only agree to a few ulp
            np.testing.assert_allclose(
                one, expected["proba"][i : i + 1], rtol=0, atol=1e-15
            )
        else:
            assert one.tobytes() == expected["proba"][i : i + 1].tobytes()


def test_an_empty_batch_gives_empty_answers_in_every_form(tmp_path: Path) -> None:
    fs = fk.FeatureSet(
        "empty",
        [
            fk.Datetime("u", timezone="UTC"),
            fk.Numeric("x", bounds=(-BOUND, BOUND), impute="median", scale="standard"),
            fk.Numeric("k", dtype="int", bounds=(0, 1000), scale="minmax"),
            fk.Text("txt"),
            fk.Derived("n0", c("u").dt.hour, scale="minmax"),
            fk.Derived("g0", fk.cross(c("c"), c("d"))),
        ],
    )
    cols = Columnset(True, False, False, False, False, False)
    train, target = training_frame(fs, cols, 120, 0)
    ex = fit_and_export(fs, train, target, make_model("logistic"), tmp_path)
    frame = pd.DataFrame({name: [] for name in fs.columns})
    for empty in ([], frame, train.iloc[:0]):
        labels = ex.predictor.predict(empty)
        assert labels.shape == (0,) and labels.dtype == ex.predictor.classes_.dtype
        assert ex.predictor.predict_proba(empty).shape == (0, 2)
        read = ex.pipe.named_steps["inputs"].transform(empty)
        assert read.shape == (0, len(fs.columns) + 2)
        # scikit-learn's own estimators refuse zero rows; serving answers with none
        with pytest.raises(ValueError, match="0 sample"):
            ex.pipe.predict(empty)


# -- 4: the contract of the date-time and text inputs -----------------------------------


CONTRACT_FEATURES = fk.FeatureSet(
    "dates",
    [
        fk.Datetime("t"),
        fk.Datetime("u", timezone="UTC", nullable=True),
        fk.Text("txt", ngram_range=(1, 2)),
        fk.Text("title", nullable=False, max_features=20),
        fk.Numeric("x", scale="standard"),
        fk.Derived(
            "age", fk.days_between(c("t"), c("u")), impute=0.0, scale="standard"
        ),
        fk.Derived("hour", c("u").dt.hour, impute=0.0, scale="minmax"),
    ],
)


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame(
        {
            "t": pd.Timestamp("1960-01-01")
            + pd.to_timedelta(rng.integers(0, 60 * 365 * 86400, n), unit="s"),
            "u": [
                f"20{int(y):02d}-0{int(m)}-1{int(d)}T0{int(h)}:30:00+0{int(h)}:00"
                for y, m, d, h in zip(
                    rng.integers(0, 25, n),
                    rng.integers(1, 10, n),
                    rng.integers(0, 10, n),
                    rng.integers(0, 10, n),
                    strict=True,
                )
            ],
            "txt": [" ".join(rng.choice(WORDS, rng.integers(0, 6))) for _ in range(n)],
            "title": [" ".join(rng.choice(WORDS, 2)) for _ in range(n)],
            "x": rng.normal(size=n),
        }
    )
    frame.loc[::9, "u"] = None
    frame.loc[::7, "txt"] = None
    y = (frame["x"] + frame["txt"].fillna("").str.contains("REFUND") > 0.3).astype(int)
    root = tmp_path_factory.mktemp("dates")
    return fit_and_export(CONTRACT_FEATURES, frame, y, LogisticRegression(), root)


GOOD = {
    "t": "2001-02-03T04:05:06",
    "u": "2001-02-03T04:05:06+01:00",
    "txt": "great refund",
    "title": "ok",
    "x": 0.5,
}


def assert_refused(ex: Exported, column: str, value: Any, check: str) -> None:
    """Serving and training both refuse `value` in `column`, naming it in the table."""
    bad = {**GOOD, column: value}
    batch = [GOOD, bad, GOOD]
    for call in (ex.predictor.predict, ex.pipe.named_steps["inputs"].transform):
        for records_ in (bad, batch, pd.DataFrame(batch)):
            with pytest.raises(fk.ContractError, match=repr(column)) as err:
                call(records_)
            failures = err.value.failures
            assert failures["column"].tolist() == [column]
            assert failures["check"].tolist() == [check]
            assert failures["index"].tolist() == [
                0 if isinstance(records_, dict) else 1
            ]


aware_datetimes = st.datetimes(
    dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=st.sampled_from(OFFSETS)
)


@settings(PROPERTY, max_examples=60)
@given(
    when=aware_datetimes,
    form=st.sampled_from(["iso", "iso-space", "datetime", "timestamp"]),
)
def test_a_value_with_an_offset_is_refused_where_wall_clock_is_declared(
    dated: Exported, when: dt.datetime, form: str
) -> None:
    assert_refused(dated, "t", render(when, form), "timezone(None)")


@settings(PROPERTY, max_examples=60)
@given(
    when=st.datetimes(),
    form=st.sampled_from(["iso", "iso-space", "datetime", "timestamp", "datetime64"]),
)
def test_a_naive_value_is_refused_where_utc_is_declared(
    dated: Exported, when: dt.datetime, form: str
) -> None:
    assert_refused(dated, "u", render(when, form), "timezone(UTC)")


NOT_DATES = [
    "",
    " ",
    "not a date",
    "NaT",
    "nan",
    "None",
    "2019-02-29",  # not a leap year
    "1900-02-29",  # nor is 1900
    "2020-13-01",
    "2020-01-32",
    "2020-01-01T25:00:00",
    "31/12/2020",
    "2020/01/01",
    "12:00",
]


@settings(PROPERTY, max_examples=60)
@given(
    column=st.sampled_from(["t", "u"]),
    text=st.one_of(
        st.sampled_from(NOT_DATES),
        # no digits: nothing ISO-8601 could read
        st.text(st.characters(codec="utf-8", exclude_categories=["Nd"]), max_size=12),
    ),
)
def test_an_unreadable_string_is_refused_in_a_datetime_column(
    dated: Exported, column: str, text: str
) -> None:
    assert_refused(dated, column, text, "datetime(ISO-8601)")


@settings(PROPERTY, max_examples=60)
@given(
    column=st.sampled_from(["t", "u"]),
    number=st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False),
        st.booleans(),
        st.integers(-(2**31), 2**31).map(np.int64),
        st.floats(-1e12, 1e12).map(np.float64),
    ),
)
def test_a_number_is_refused_in_a_datetime_column(
    dated: Exported, column: str, number: Any
) -> None:
    bad = {**GOOD, column: number}
    for call in (dated.predictor.predict, dated.pipe.named_steps["inputs"].transform):
        for records_ in (bad, pd.DataFrame([bad])):
            with pytest.raises(fk.ContractError, match=repr(column)) as err:
                call(records_)
            assert err.value.failures["column"].tolist() == [column]
            assert err.value.failures["check"].tolist() == ["dtype('datetime64')"]


utf8_text = st.text(st.characters(codec="utf-8"), max_size=60)


@settings(PROPERTY, max_examples=60)
@given(
    texts=st.lists(
        st.tuples(
            st.one_of(st.none(), utf8_text, st.sampled_from(ODD_TEXT)), utf8_text
        ),
        min_size=1,
        max_size=20,
    )
)
def test_a_text_column_takes_any_string_and_missing_where_nullable(
    dated: Exported, texts: list[tuple[str | None, str]]
) -> None:
    rows = [{**GOOD, "txt": a, "title": b} for a, b in texts]
    assert_serves_like_training(dated, rows)
    with pytest.raises(fk.ContractError, match="'title'") as err:
        dated.predictor.predict([*rows, {**GOOD, "title": None}])
    assert err.value.failures["check"].tolist() == ["not_nullable"]
    assert err.value.failures["index"].tolist() == [len(rows)]


# -- regressions: last-bit differences these properties found, now fixed ------------


def _graph_and_training(ex: Exported, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    feeds, n = ex.columns.coerce(rows)
    graph = ex.features.run(feeds, n, [ex.tensor])[0]
    return sk(ex.pipe[:-1].transform, rows).astype(np.float64), graph


def test_the_log1p_transform_is_bit_exact(tmp_path: Path) -> None:
    # numpy's log(1 + x) and onnxruntime's Log differed in the last bit on ~4 % of
    # these values, 392842.1302059174 among them
    fs = fk.FeatureSet(
        "log1p", [fk.Numeric("x", clip=(0, None), log1p=True, bounds=(-BOUND, BOUND))]
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(0, 50, 200)})
    ex = fit_and_export(fs, frame, np.arange(200) % 2, LogisticRegression(), tmp_path)
    rows = [{"x": 392842.1302059174}, *({"x": v} for v in rng.uniform(0, BOUND, 500))]
    trained, graph = _graph_and_training(ex, rows)
    assert trained.tobytes() == graph.tobytes()


@pytest.mark.parametrize(
    ("exponent", "value"),
    [
        (2, 21971.88817955648),
        (0.5, 0.0027216965514043545),
        (-1, 0.0015935240705715402),
        (0.25, 67.32589268848704),
        (1.7, 3.0),
        (-3, 0.1),
    ],
)
def test_a_power_by_a_literal_is_bit_exact_in_any_batch(
    tmp_path: Path, exponent: float, value: float
) -> None:
    # numpy's power took square, sqrt and reciprocal shortcuts for a broadcast
    # exponent of 2, 0.5 or -1 on two rows or more, and with AVX-512 its SIMD pow
    # rounds otherwise than C's (** 0.25 on 67.3...): training differed from
    # serving, and from itself on one row. Now both runtimes use featurekit's kernels
    import featurekit.expr.evaluator as ev

    one = ev.evaluate(c("y") ** exponent, {"y": np.array([value])})
    two = ev.evaluate(c("y") ** exponent, {"y": np.array([value, 1.0])})
    fs = fk.FeatureSet(
        "power",
        [
            fk.Numeric("k", bounds=(0, 10)),
            fk.Derived("p", c("y") ** exponent, impute=0.0),
        ],
    )
    frame = pd.DataFrame({"k": np.arange(40.0) % 10, "y": np.linspace(0.5, 9, 40)})
    ex = fit_and_export(fs, frame, np.arange(40) % 2, LogisticRegression(), tmp_path)
    trained, graph = _graph_and_training(
        ex, [{"k": 1.0, "y": value}, {"k": 2.0, "y": 1.0}]
    )
    assert (one[0], trained.tobytes()) == (two[0], graph.tobytes())


def test_powers_of_bounded_columns_before_a_forest_export_and_serve_exactly(
    tmp_path: Path,
) -> None:
    # issue 12: with AVX-512 numpy's pow differed from onnxruntime's in the last bit,
    # the certificate (which wants bit-identical features before a tree model) blamed
    # the user, and fk.export refused this FeatureSet
    from sklearn.ensemble import RandomForestClassifier

    fs = fk.FeatureSet(
        "cars",
        [
            fk.Numeric("weight", bounds=(1000, 6000)),
            fk.Numeric("acceleration", bounds=(5, 30)),
            fk.Numeric("displacement", bounds=(50, 500)),
            fk.Derived("w_sqrt", c("weight") ** 0.5),
            fk.Derived("acc_inv", c("acceleration") ** -1),
            fk.Derived("disp_17", c("displacement") ** 1.7),
        ],
    )
    rng = np.random.default_rng(12)
    n = 400

    def cars(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "weight": rng.uniform(1500, 5200, n),
                "acceleration": rng.uniform(8, 25, n),
                "displacement": rng.uniform(68, 455, n),
            }
        )

    frame = cars(n)
    y = (frame["weight"] / 1000 + 10 / frame["acceleration"] > 4).astype(int)
    forest = RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0)
    built: list[tuple[Any, ...]] = []
    real_build = exporter._build

    def spy(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        built.append(real_build(*args, **kwargs))
        return built[-1]

    with mock.patch.object(exporter, "_build", spy):
        ex = fit_and_export(fs, frame, y, forest, tmp_path)
    assert ex.certificate["passed"] is True
    model_bytes, _, info = built[-1]
    # the float64 features before the trees' float32 rounding, bit for bit
    exact = Session(with_outputs(model_bytes, info["features_exact"]))
    rows = cars(2000).to_dict("records")
    feeds, n_rows = ex.columns.coerce(rows)
    graph = exact.run(feeds, n_rows, [info["features_exact"]])[0]
    trained = ex.pipe[:-1].transform(pd.DataFrame(rows)).astype(np.float64)
    assert trained.shape == graph.shape == (2000, 6)
    assert trained.tobytes() == graph.tobytes()
    served = ex.predictor.predict_proba(rows)
    expected = ex.pipe.predict_proba(pd.DataFrame(rows))
    assert served.tobytes() == expected.tobytes(), np.abs(served - expected).max()
    np.testing.assert_array_equal(ex.predictor.predict(rows), ex.pipe.predict(rows))


# -- known discrepancies: each fails today; its reason says what goes wrong ---------


def test_a_constant_impute_fills_a_feature_missing_on_every_training_row(
    tmp_path: Path,
) -> None:
    fs = fk.FeatureSet(
        "empty",
        [
            fk.Numeric("k", bounds=(0, 1000)),
            # log(1 + min(k, -1)) is the log of a number <= 0: always missing
            fk.Derived("n0", c("k").clip(None, -1).log1p(), impute=0.0),
        ],
    )
    frame = pd.DataFrame({"k": np.arange(20.0)})
    ex = fit_and_export(fs, frame, np.arange(20) % 2, LogisticRegression(), tmp_path)
    trained, graph = _graph_and_training(ex, [{"k": 3.0}])
    assert trained.tolist() == graph.tolist() == [[3.0, 0.0]]


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
)
def test_an_aware_datetime_at_the_calendar_ends_is_read_or_refused(
    dated: Exported, value: Any
) -> None:
    try:
        dated.predictor.predict({**GOOD, "u": value})
    except fk.ContractError as exc:
        assert exc.failures["column"].tolist() == ["u"]


@pytest.mark.parametrize("column", ["txt", "title"])
def test_a_string_that_is_not_utf8_is_refused_by_the_contract(
    dated: Exported, column: str
) -> None:
    with pytest.raises(fk.ContractError, match=repr(column)):
        dated.predictor.predict({**GOOD, column: "broken \ud800 text"})


@pytest.mark.xfail(
    strict=True,
    raises=RuntimeWarning,
    reason="serving's drift monitor sums admitted values with numpy (profile._many): a "
    "batch of values near 1e308, which a column without bounds admits, overflows "
    "(RuntimeWarning, an exception where warnings are errors) and leaves the "
    "window's sums inf",
)
def test_the_monitor_takes_extreme_admitted_values_quietly(tmp_path: Path) -> None:
    fs = fk.FeatureSet("big", [fk.Numeric("y", scale="standard")])
    frame = pd.DataFrame({"y": np.linspace(-5, 5, 40)})
    pipe = fk.make_pipeline(fs, LogisticRegression()).fit(frame, np.arange(40) % 2)
    fk.export(pipe, tmp_path / "a", reference=frame)
    p = Predictor.load(tmp_path / "a")  # monitoring on, as served by default
    rows = [{"y": 1e308}] * 1000
    with np.errstate(over="ignore", invalid="ignore"):
        expected = pipe.predict_proba(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        np.testing.assert_allclose(p.predict_proba(rows), expected, atol=TOLERANCE)


def test_a_bucket_source_may_test_any_declared_column_for_missing() -> None:
    source = fk.where(c("c").isnull(), 1, 0) + c("x")
    fs = fk.FeatureSet(
        "b",
        [
            fk.Categorical("c", impute="missing"),
            fk.Bucketized("band", source, edges=[0.5]),
        ],
    )
    assert fs.columns == ["c", "x"]


def test_a_date_without_offset_is_refused_where_utc_is_declared(
    dated: Exported,
) -> None:
    assert_refused(dated, "u", dt.date(2020, 1, 1), "timezone(UTC)")


@pytest.mark.xfail(
    strict=True,
    reason="a boosted classifier's graph ends in onnxruntime's Sigmoid, which rounds a "
    "batch of one row otherwise than the same row in a larger batch (the tree sums "
    "themselves agree bit for bit): one record over HTTP gets other probabilities "
    "than in a batch",
)
def test_a_single_record_is_scored_as_in_a_batch_by_a_boosted_model(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=300), "k": rng.integers(0, 100, 300).astype(float)}
    )
    y = (frame["x"] + frame["k"] / 50 + rng.normal(0, 0.5, 300) > 1).astype(int)
    fs = fk.FeatureSet("boosted", [fk.Numeric("x"), fk.Numeric("k")])
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0)
    ex = fit_and_export(fs, frame, y, model, tmp_path)
    rows = frame.to_dict("records")
    batch = ex.predictor.predict_proba(rows)
    single = np.vstack([ex.predictor.predict_proba(r) for r in rows])
    assert single.tobytes() == batch.tobytes()


@pytest.mark.parametrize(
    ("train", "value"),
    [
        (np.tile([-1.0, 1.0], 25) * (1 + 1e-9), 3.0),  # standard: scale_ = 1 + 1e-9
        (np.linspace(0.0, 1.0, 50), -0.0),  # minmax: min_ = 0, scale_ = 1
    ],
    ids=["standard", "minmax"],
)
def test_constants_near_zero_or_one_scale_as_in_training(
    tmp_path: Path, train: np.ndarray, value: float
) -> None:
    scale = "standard" if train.min() < 0 else "minmax"
    fs = fk.FeatureSet("noop", [fk.Numeric("x", scale=scale)])
    frame = pd.DataFrame({"x": train})
    ex = fit_and_export(fs, frame, np.arange(50) % 2, LogisticRegression(), tmp_path)
    trained, graph = _graph_and_training(ex, [{"x": value}])
    assert trained.tobytes() == graph.tobytes(), (trained.tolist(), graph.tolist())


def test_a_tree_model_over_prestandardised_data_exports(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=400)
    z = (z - z.mean()) / z.std() * (1 + 1e-9)
    frame = pd.DataFrame({"x": z})
    y = (z + rng.normal(0, 0.5, 400) > 0).astype(int)
    fs = fk.FeatureSet("prescaled", [fk.Numeric("x", scale="standard")])
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    ex = fit_and_export(fs, frame, y, model, tmp_path)
    rows = frame.to_dict("records")
    np.testing.assert_array_equal(ex.predictor.predict(rows), ex.pipe.predict(frame))
