"""The compiled contract checks agree with pandera: same verdict, same failure table.

`featurekit.contract.reference.validate` is the reference: it reads raw records with `Columns.read` and runs
pandera's ``schema.validate(typed, lazy=True)``. `Columns.coerce` (numpy checks, and the
single-row `one_row` path for a dict) must accept and reject exactly the same inputs with
the same failures, compared as multisets of (column, check, failure_case, index) rows.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import featurekit as fk
from featurekit.contract import reference
from featurekit.contract.columns import Columns
from featurekit.contract.failures import Tally
from featurekit.contract.schema import Contract
from featurekit.missing import MISSING

# -- the contracts ----------------------------------------------------------------------

# a few small contracts rather than one wide one: pandera's cost grows with every
# column and every failing check, and thousands of examples must run in seconds
NUMBERS = Contract(
    fk.FeatureSet(
        "numbers",
        [
            fk.Numeric("x", bounds=(0, 10), impute="median"),  # closed ends, nullable
            fk.Numeric("lo", bounds=(-1.5, None), allow_inf=True),  # open upper end
            fk.Numeric(  # open lower end, hard observed range
                "hi", bounds=(None, 100), nullable=True, observed_range="error"
            ),
        ],
    ),
    observed={"hi": (0.0, 50.0), "lo": (0.0, 1.0)},
)
INTS = Contract(
    fk.FeatureSet(
        "ints",
        [
            fk.Numeric("d"),  # model domain only; its observed range is only counted
            fk.Numeric("i", dtype="int", bounds=(-5, 5)),  # an int64 graph input
            fk.Numeric("j", dtype="int", impute=0),  # nullable int, half-open domain
        ],
    ),
    domains={"d": (-1000.0, 1000.0), "j": (-math.inf, 1e6)},
    observed={"d": (-10.0, 10.0)},
)
STRINGS = Contract(
    fk.FeatureSet(
        "strings",
        [
            fk.Categorical("c", unknown="error"),
            fk.Categorical("n", unknown="error", nullable=True),
            fk.Categorical("u", unknown="ignore", impute="missing"),
            fk.Categorical("v", unknown="ignore"),
        ],
    ),
    categories={"c": ["a", "b", ""], "n": ["x", "y"], "u": ["p", "q"], "v": ["p"]},
)
STRICT = Contract(
    fk.FeatureSet(
        "strict",
        [
            fk.Numeric("f", bounds=(0, 1)),
            fk.Numeric("k", dtype="int", nullable=True, bounds=(0, None)),
            fk.Categorical("s", unknown="error"),
        ],
        strict=True,
    ),
    categories={"s": ["a", "b"]},
)
CONTRACTS = {c.features.name: c for c in (NUMBERS, INTS, STRINGS, STRICT)}

# -- values -----------------------------------------------------------------------------


def _beside(v: float) -> list[float]:
    return [v, float(np.nextafter(v, -math.inf)), float(np.nextafter(v, math.inf))]


ENDS = [0, 10, -1.5, 100, 50, -1000, 1000, -10, -5, 5, 1e6, 1]
BOUNDARY = sorted(
    {x for e in ENDS for x in _beside(float(e))}
    | {-0.0, 0.5, -5.5, 5.5, 2.0**53, 2.0**63, -(2.0**63), 1e300, -1e300, 5e-324}
)
BIG_INTS = [2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64]
NUMPY_SCALARS = [
    np.float64(2.5),
    np.float32(1.5),
    np.float32(0.1),
    np.int64(3),
    np.int8(-5),
    np.uint64(2**63),
    np.float64(np.nan),
]
MISSINGS = [None, math.nan, pd.NA, pd.NaT]
INFINITIES = [math.inf, -math.inf]
WORDS = ["a", "b", "", "x", "y", "p", "q", "zz", "A", " a", "a ", "3.5", "1", "nan"]
WORDS += ["inf", "None", "naïve ☃", MISSING]  # MISSING: the sentinel, sent as a string

missing = st.sampled_from(MISSINGS)
infinity = st.sampled_from(INFINITIES)
floats = st.one_of(
    st.sampled_from(BOUNDARY),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-20, 120),
    infinity,
)
ints = st.one_of(
    st.sampled_from([int(e) for e in ENDS] + [-6, 6, 0]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-20, 120),
)
numbers = st.one_of(floats, ints, st.sampled_from(BIG_INTS + NUMPY_SCALARS))
bools = st.sampled_from([True, False, np.True_, np.False_])
words = st.one_of(st.sampled_from(WORDS), st.text(max_size=3))
anything = st.one_of(missing, numbers, bools, words)

# values each column accepts, so that whole frames often pass and the values get checked
_x = st.one_of(st.floats(0, 10), st.integers(0, 10), st.sampled_from([0.0, 10.0, -0.0]))
VALID: dict[str, st.SearchStrategy[Any]] = {
    "x": st.one_of(_x, missing),
    "lo": st.one_of(st.floats(min_value=-1.5), st.just(math.inf), st.integers(-1, 99)),
    "hi": st.one_of(st.floats(0, 50), st.integers(0, 50), missing),
    "d": st.one_of(st.floats(-1000, 1000), st.integers(-1000, 1000)),
    "i": st.one_of(st.integers(-5, 5), st.sampled_from([-5.0, 5.0, 0.0, np.int8(2)])),
    "j": st.one_of(st.integers(-(10**6), 10**6), st.sampled_from([1e6, -3.0]), missing),
    "c": st.sampled_from(["a", "b", ""]),
    "n": st.one_of(st.sampled_from(["x", "y"]), missing),
    "u": st.one_of(words, missing),
    "v": words,
    "f": st.floats(0, 1),
    "k": st.one_of(st.integers(0, 2**62), missing),
    "s": st.sampled_from(["a", "b"]),
}


def _dirty(name: str) -> st.SearchStrategy[Any]:
    """Valid values, sprinkled with anything at all and the ends of ranges."""
    return st.one_of(VALID[name], anything, st.sampled_from(BOUNDARY))


# -- input shapes -----------------------------------------------------------------------

# weighted by repetition: a wrong dtype rejects the whole column, and every rejection
# costs pandera tens of milliseconds
NUMERIC_DTYPES = ["float64", "int64", "object", "Int64", "Float64"] * 3
NUMERIC_DTYPES += ["str", "bool", "category"]
STRING_DTYPES = ["str", "object", "category"] * 3 + ["float64", "int64"]
EXTRA = ["extra", "zz"]


def _series(values: list[Any], dtype: str, index: pd.Index) -> pd.Series:
    """`values` as a column of `dtype`, or of object dtype when they do not fit it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            if dtype in ("float64", "int64", "bool", "Int64", "Float64"):
                if any(v is pd.NaT for v in values):
                    raise TypeError("NaT in a numeric column")
            series = pd.Series(values, dtype=dtype, index=index)
            if dtype in ("int64", "Int64", "bool") and any(
                not (pd.isna(a) and pd.isna(b)) and a != b
                for a, b in zip(series.astype(object), values, strict=True)
            ):
                raise ValueError("the cast changed a value")
            event(f"dtype {dtype}")
            return series
        except (TypeError, ValueError, OverflowError, Warning):
            event(f"dtype {dtype} did not fit: object")
            return pd.Series(values, dtype=object, index=index)


@st.composite
def frames(draw: st.DrawFn, contract: Contract) -> pd.DataFrame:
    """A DataFrame of mixed dtypes, with missing and extra columns, 0 to ~80 rows."""
    n = draw(st.integers(0, 6))
    long = n and draw(st.integers(0, 4)) == 0  # > 64 rows: the vectorised string path
    reps = 65 // n + 1 if long else 1
    labels = draw(
        st.sampled_from(["range", "offset", "shuffled", "strings", "repeated"])
        if n
        else st.just("range")
    )
    size = n * reps
    index = {
        "range": pd.RangeIndex(size),
        "offset": pd.RangeIndex(100, 100 + size),
        "shuffled": pd.Index(
            draw(st.permutations(list(range(size)))) if size else [], dtype="int64"
        ),
        "strings": pd.Index([f"r{k}" for k in range(size)], dtype=object),
        "repeated": pd.Index([k % 2 for k in range(size)], dtype="int64"),
    }[labels]
    columns: dict[str, pd.Series] = {}
    for f in contract.features.features:
        if draw(st.integers(0, 19)) == 0:
            continue  # a missing column
        clean = draw(st.integers(0, 8)) > 0
        values = draw(
            st.lists(
                VALID[f.name] if clean else _dirty(f.name),
                min_size=n,
                max_size=n,
            )
        )
        kinds = STRING_DTYPES if isinstance(f, fk.Categorical) else NUMERIC_DTYPES
        columns[f.name] = _series(values * reps, draw(st.sampled_from(kinds)), index)
    for name in draw(st.lists(st.sampled_from(EXTRA), max_size=2, unique=True)):
        values = draw(st.lists(anything, min_size=n, max_size=n))
        columns[name] = pd.Series(values * reps, dtype=object, index=index)
    event(f"{len(index)} rows" if len(index) in (0, 1) else "2+ rows")
    return pd.DataFrame(columns, index=index)


@st.composite
def record_lists(
    draw: st.DrawFn,
    contract: Contract,
    rows: tuple[int, int] = (0, 5),
) -> list[dict[str, Any]]:
    """A list of dicts: keys absent from some records or all, extra keys."""
    n = draw(st.integers(*rows))
    dropped = {f for f in contract.features.columns if draw(st.integers(0, 19)) == 0}
    dirty = {f for f in contract.features.columns if draw(st.integers(0, 6)) == 0}
    records = []
    for _ in range(n):
        rec: dict[str, Any] = {}
        for f in contract.features.columns:
            if f in dropped or draw(st.integers(0, 29)) == 0:
                continue
            rec[f] = draw(_dirty(f) if f in dirty else VALID[f])
        if draw(st.integers(0, 5)) == 0:
            rec[draw(st.sampled_from(EXTRA))] = draw(anything)
        records.append(rec)
    return records


def single_records(contract: Contract) -> st.SearchStrategy[dict[str, Any]]:
    """One dict: the single-row path, which defers to the general path when in doubt."""
    return record_lists(contract, rows=(1, 1)).map(lambda records: records[0])


# -- the comparison ---------------------------------------------------------------------

_GONE = ("missing",)


def _case(value: Any) -> Any:
    """A failure case as a hashable key; every missing-ish value is the same key.

    Numbers keep their exact value (Python compares 11 == 11.0, but 2**53 + 1 differs
    from its float64), and bools are kept apart from the numbers 0 and 1.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return _GONE
    if isinstance(value, float) and math.isnan(value):
        return _GONE
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    return (type(value).__name__, value)


def _rows(failures: pd.DataFrame) -> Counter[tuple[Any, ...]]:
    """The failure table as a multiset of rows.

    The one normalisation: missing-ish failure cases and row labels (None, NaN,
    pd.NA) are one key, as pandera's index column holds NaN beside integer labels
    where the compiled checks hold None. Column-level failures (column_in_dataframe,
    column_in_schema) are compared as they are: pandera files them under the schema's
    name, but `reference.validate` already puts the column's name back in ``column``,
    and a table should not depend on which path produced it.
    """
    assert list(failures.columns) == ["column", "check", "failure_case", "index"]
    out: Counter[tuple[Any, ...]] = Counter()
    for column, check, case, index in failures.itertuples(index=False):
        out[(column, check, _case(case), _case(index))] += 1
    return out


def _reference(contract: Contract, data: Any) -> tuple[pd.DataFrame | None, Counter]:
    try:
        return reference.validate(contract, data), Counter()
    except fk.ContractError as exc:
        return None, _rows(exc.failures)


def _fast(
    contract: Contract, data: Any, tally: Tally | None
) -> tuple[dict[str, np.ndarray] | None, Counter, int]:
    try:
        feeds, n = Columns(contract).coerce(data, tally=tally)
    except fk.ContractError as exc:
        return None, _rows(exc.failures), -1
    return feeds, Counter(), n


def _copy(data: Any) -> Any:
    if isinstance(data, pd.DataFrame):
        return data.copy(deep=True)
    if isinstance(data, dict):
        return dict(data)
    return [dict(r) for r in data]


def _strings(values: Any, sentinel: Any) -> list[Any]:
    return [None if v is sentinel or pd.isna(v) else v for v in values]


def _assert_agree(contract: Contract, data: Any, with_tally: bool) -> str:
    """Assert both paths give the same verdict, failures and values; return the verdict."""
    typed, expected = _reference(contract, _copy(data))
    feeds, got, n = _fast(contract, _copy(data), Tally() if with_tally else None)
    assert (typed is None) == (feeds is None), (
        f"pandera {'rejects' if typed is None else 'accepts'}, the compiled checks "
        f"{'reject' if feeds is None else 'accept'} {data!r}\n"
        f"pandera: {sorted(map(repr, expected))}\ncompiled: {sorted(map(repr, got))}"
    )
    if typed is None:
        assert got == expected, (
            f"failure tables differ for {data!r}\n"
            f"only pandera: {sorted(map(repr, expected - got))}\n"
            f"only compiled: {sorted(map(repr, got - expected))}"
        )
        return "rejected"
    assert feeds is not None
    assert n == len(typed)
    for f in contract.features.features:
        fed = feeds[f.name][:, 0]
        if isinstance(f, fk.Categorical):
            assert _strings(fed, MISSING) == _strings(typed[f.name], None), f.name
        elif fed.dtype == np.int64:  # an int64 graph input: no missing value
            assert typed[f.name].to_numpy(dtype=np.int64).tolist() == fed.tolist()
        else:
            want = typed[f.name].to_numpy(dtype=np.float64, na_value=np.nan)
            assert fed.dtype == np.float64, f.name
            assert np.array_equal(fed, want, equal_nan=True), (f.name, fed, want)
    return "accepted"


# -- the properties ---------------------------------------------------------------------

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(SETTINGS, max_examples=750)
@given(data=st.data(), name=st.sampled_from(sorted(CONTRACTS)), tally=st.booleans())
def test_compiled_checks_agree_with_pandera_on_dataframes(data, name, tally):
    contract = CONTRACTS[name]
    event(_assert_agree(contract, data.draw(frames(contract), label="frame"), tally))


@settings(SETTINGS, max_examples=500)
@given(data=st.data(), name=st.sampled_from(sorted(CONTRACTS)), tally=st.booleans())
def test_compiled_checks_agree_with_pandera_on_lists_of_dicts(data, name, tally):
    contract = CONTRACTS[name]
    records = data.draw(record_lists(contract), label="records")
    event(_assert_agree(contract, records, tally))


@settings(SETTINGS, max_examples=750)
@given(data=st.data(), name=st.sampled_from(sorted(CONTRACTS)), tally=st.booleans())
def test_compiled_checks_agree_with_pandera_on_single_dicts(data, name, tally):
    contract = CONTRACTS[name]
    record = data.draw(single_records(contract), label="record")
    event(_assert_agree(contract, record, tally))


# -- examples -------------------------------------------------------------------------
# Inputs the properties above found or aim at, kept as plain examples so that each one
# runs on every test run, whatever hypothesis happens to draw.

_INTS_ROW = {"d": 0.0, "i": 0, "j": 0}
_STRINGS_ROW = {"c": "a", "n": "x", "u": "p", "v": "p"}
EXAMPLES: dict[str, tuple[str, Any]] = {
    "values exactly at the bounds": (
        "numbers",
        [{"x": 0, "lo": -1.5, "hi": 50.0}, {"x": 10.0, "lo": math.inf, "hi": 0}],
    ),
    "values just outside the bounds": (
        "numbers",
        {
            "x": float(np.nextafter(10, 11)),
            "lo": float(np.nextafter(-1.5, -2)),
            "hi": float(np.nextafter(0, -1)),
        },
    ),
    "an empty frame": ("strict", pd.DataFrame({"f": [], "k": [], "s": []})),
    "an empty list": ("strings", []),
    "an undeclared column in a strict contract": (
        "strict",
        {"f": 0.5, "k": 1, "s": "a", "extra": 1},
    ),
    "a missing column": ("numbers", {"lo": 0.0, "hi": 1.0}),
    "+inf in a nullable int column": ("ints", {**_INTS_ROW, "j": math.inf}),
    "-inf in an int column": ("ints", {**_INTS_ROW, "i": -math.inf}),
    "an int beyond int64": ("ints", {**_INTS_ROW, "i": -1e300}),
    "an int beyond 2**53 out of range": ("ints", {**_INTS_ROW, "j": 2**53 + 1}),
    "int64's largest value beside a missing one": (
        "ints",
        [{"d": 0.0, "i": 2**63 - 1, "j": 0}, {"d": 0.0, "i": None, "j": 0}],
    ),
    "the missing sentinel sent as a string": (
        "strings",
        {**_STRINGS_ROW, "v": MISSING},
    ),
    "a bad value and a missing one under one row label": (
        "ints",
        pd.DataFrame(
            {"d": [0.0, 0.0], "i": ["3.5", None], "j": [0, 0]},
            index=[7, 7],
        ),
    ),
}


@pytest.mark.parametrize(("name", "data"), list(EXAMPLES.values()), ids=list(EXAMPLES))
def test_compiled_checks_agree_with_pandera_on_examples(name, data):
    _assert_agree(CONTRACTS[name], data, with_tally=False)


# -- contract.json ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_contract_round_trips_through_json(name):
    contract = CONTRACTS[name]
    assert Contract.from_json(contract.to_json()) == contract


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_contract_json_pandera_part_loads_with_pandera_alone(name):
    contract = CONTRACTS[name]
    part = json.loads(contract.to_json())["pandera"]
    assert pa.DataFrameSchema.from_json(json.dumps(part)) == contract.schema()
