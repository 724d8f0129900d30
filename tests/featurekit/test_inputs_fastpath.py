"""The single-row fast path of Columns.coerce agrees with the general path, always."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

import featurekit as fk
from featurekit.contract.columns import Columns

FEATURES = fk.FeatureSet(
    "fast",
    [
        fk.Numeric("f", impute="median"),
        fk.Numeric("g", bounds=(0, 10)),
        fk.Numeric("i", dtype="int", bounds=(-5, None)),
        fk.Numeric("j", dtype="int", impute=0),
        fk.Categorical("c", impute="missing", unknown="ignore"),
        fk.Categorical("e", unknown="error"),
        fk.Categorical("n", nullable=True, unknown="error"),
    ],
)
COLUMNS = Columns(
    FEATURES,
    categories={"e": ["a", "b"], "n": ["x", "y"]},
    domains={"f": (-1e30, 1e30)},
)

values = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(pd.NA),
    st.just(math.inf),
    st.just(-math.inf),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [np.float64(2.5), np.int64(3), np.float32(1.5), np.bool_(True), np.nan]
    ),
    st.sampled_from(["a", "b", "x", "y", "zz", "", "3.5", "naïve ☃"]),
    st.text(max_size=5),
)
# values each column accepts, so that whole records often pass and the fast path runs
VALID = {
    "f": st.one_of(st.none(), st.floats(-1e30, 1e30), st.integers(-(10**6), 10**6)),
    "g": st.floats(0, 10),
    "i": st.integers(-5, 2**62),
    "j": st.one_of(st.just(math.nan), st.integers(-(10**9), 10**9)),
    "c": st.one_of(st.none(), st.text(max_size=3)),
    "e": st.sampled_from(["a", "b"]),
    "n": st.sampled_from(["x", "y", None]),
}
ABSENT = object()
records = st.fixed_dictionaries(
    {
        name: st.integers(0, 9).flatmap(
            lambda k, name=name: (
                VALID[name] if k < 8 else st.one_of(values, st.just(ABSENT))
            )
        )
        for name in FEATURES.columns
    },
    optional={"extra": values},
).map(lambda r: {k: v for k, v in r.items() if v is not ABSENT})


def _general(record: dict[str, Any]) -> dict[str, np.ndarray] | None:
    try:
        return COLUMNS.coerce([record])[0]  # a one-record list takes the general path
    except fk.ContractError:
        return None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool((a == b).all())


@settings(max_examples=2000, deadline=None)
@given(records)
def test_fast_path_accepts_exactly_what_the_general_path_accepts(
    record: dict[str, Any],
) -> None:
    fast = COLUMNS.one_row(record)
    general = _general(record)
    event("fast path took it" if fast is not None else "fast path deferred")
    if fast is None:
        return  # deferring is always allowed: the general path then decides
    assert general is not None, (
        f"fast path accepted {record!r}, the general path refuses it"
    )
    assert fast.keys() == general.keys()
    for name in fast:
        assert _same(fast[name], general[name]), (name, fast[name], general[name])


@settings(max_examples=500, deadline=None)
@given(records)
def test_a_dict_and_a_one_record_list_give_the_same_answer(
    record: dict[str, Any],
) -> None:
    try:
        single = COLUMNS.coerce(record)[0]
    except fk.ContractError:
        single = None
    general = _general(record)
    assert (single is None) == (general is None), record
    if single is not None and general is not None:
        for name in single:
            assert _same(single[name], general[name]), (
                name,
                single[name],
                general[name],
            )


def test_fast_path_takes_clean_records_with_missing_values() -> None:
    record = {"f": None, "g": 1, "i": 3, "j": np.nan, "c": pd.NA, "e": "a", "n": None}
    assert COLUMNS.one_row(record) is not None
