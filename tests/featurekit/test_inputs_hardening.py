"""Hostile or odd input gets a ContractError naming it, never a raw exception."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.contract.reference import validate
from featurekit.contract.schema import Contract

SURROGATE = chr(0xD800)  # what json.loads makes of "\ud800"


def _columns() -> Columns:
    return Columns(
        fk.FeatureSet(
            "h",
            [
                fk.Numeric("x", impute="median"),
                fk.Categorical("c", unknown="ignore"),
                fk.Text("t"),
                fk.Datetime("d"),
            ],
        )
    )


GOOD = {"x": 1.0, "c": "a", "t": "hello", "d": "2020-01-01"}


def _failures(data) -> list[list]:
    with pytest.raises(fk.ContractError) as err:
        _columns().coerce(data, check_categories=False)
    return err.value.failures[["column", "check", "index"]].values.tolist()


@pytest.mark.parametrize("n", [1, 70], ids=["record", "batch"])
def test_an_int_beyond_float64_is_a_type_failure_not_an_overflow(n):
    records = [dict(GOOD) for _ in range(n)]
    records[0]["x"] = 10**400
    assert _failures(records if n > 1 else records[0]) == [["x", "dtype('float64')", 0]]


@pytest.mark.parametrize("column", ["c", "t"])
@pytest.mark.parametrize("n", [1, 70], ids=["record", "batch"])
def test_a_lone_surrogate_is_refused_by_the_contract(column, n):
    records = [dict(GOOD) for _ in range(n)]
    records[-1][column] = f"broken {SURROGATE} text"
    data = records if n > 1 else records[0]
    assert _failures(data) == [[column, "utf8", n - 1]]
    # pandas' own str dtype (Arrow) cannot hold one; an object column can
    frame = pd.DataFrame(records, dtype=object)
    assert _failures(frame) == [[column, "utf8", n - 1]]


def test_the_pandera_reference_refuses_a_surrogate_the_same_way():
    contract = Contract(_columns().features)
    with pytest.raises(fk.ContractError) as err:
        validate(contract, {**GOOD, "c": SURROGATE})
    assert err.value.failures["check"].tolist() == ["utf8"]


def test_duplicate_column_names_are_refused_with_their_name():
    frame = pd.DataFrame([[1.0, 2.0, "a", "h", "2020-01-01"]])
    frame.columns = ["x", "x", "c", "t", "d"]
    with pytest.raises(fk.ContractError, match=r"columns \['x'\] more than once"):
        _columns().coerce(frame)


@pytest.mark.parametrize("n", [10, 63, 64, 200])
def test_year_zero_is_refused_whatever_the_batch_size(n):
    frame = pd.DataFrame([GOOD] * n)
    frame.loc[0, "d"] = "0000-01-01"
    assert _failures(frame) == [["d", "datetime(ISO-8601)", 0]]


def test_row_labels_stay_integers_beside_a_column_level_failure():
    frame = pd.DataFrame([{**GOOD, "x": "bad"}]).drop(columns=["t"])
    with pytest.raises(fk.ContractError) as err:
        _columns().coerce(frame)
    index = err.value.failures["index"].tolist()
    assert index == [0, None]
    assert type(index[0]) is int


def test_split_tells_rows_apart_by_position_when_labels_repeat():
    frame = pd.DataFrame([{**GOOD, "x": "bad"}, GOOD, GOOD], index=[7, 7, 8])
    feeds, passed, _, failures = _columns().split(frame)
    assert passed.tolist() == [False, True, True]
    assert len(feeds["x"]) == 2
    assert failures["index"].tolist() == [7]


@pytest.mark.parametrize("label", [None, np.nan])
def test_split_with_a_missing_label_on_a_bad_row_refuses_only_that_row(label):
    frame = pd.DataFrame([{**GOOD, "x": "bad"}, GOOD], index=[label, 1])
    _, passed, _, _ = _columns().split(frame)
    assert passed.tolist() == [False, True]


def test_a_long_failing_value_is_cut_short_in_the_message():
    with pytest.raises(fk.ContractError) as err:
        _columns().coerce({**GOOD, "x": "y" * 2_000_000})
    assert len(str(err.value)) < 500
