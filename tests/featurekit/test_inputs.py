"""`Columns.coerce`: the one place raw values are read, for training and serving alike."""

import json

import numpy as np
import pandas as pd
import pytest

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.contract.failures import Tally
from featurekit.contract.values import _frame_column
from featurekit.missing import MISSING

FAILURE_COLUMNS = ["column", "check", "failure_case", "index"]


def _columns(*features, categories=None) -> Columns:
    return Columns(fk.FeatureSet("demo", list(features)), categories or {})


def _failures(columns: Columns, data) -> pd.DataFrame:
    with pytest.raises(fk.ContractError) as info:
        columns.coerce(data)
    return info.value.failures


def _read(columns: Columns, data) -> tuple | list:
    """The feeds as plain data, or the failure table when the contract refuses."""
    try:
        feeds, n = columns.coerce(data)
    except fk.ContractError as exc:
        return exc.failures.values.tolist()
    return n, {k: (v.dtype, v.tolist()) for k, v in feeds.items()}


def _nullable_columns() -> Columns:
    return _columns(
        fk.Numeric("x", impute="mean"),
        fk.Numeric("n", dtype="int", impute="median"),
        fk.Categorical("c", impute="most_frequent"),
    )


# -- numeric columns ------------------------------------------------------------------


@pytest.mark.parametrize("value", [3, np.int64(3), np.int8(3), 3.0, np.float32(3.0)])
def test_numbers_are_accepted_in_a_float_column(value):
    feeds, n = _columns(fk.Numeric("x")).coerce({"x": value})
    assert n == 1
    assert feeds["x"].dtype == np.float64
    assert feeds["x"].tolist() == [[3.0]]


@pytest.mark.parametrize("value", ["3.5", "3", b"3"])
def test_numeric_strings_are_rejected_not_parsed(value):
    failures = _failures(_columns(fk.Numeric("x")), {"x": value})
    assert failures[["column", "check"]].values.tolist() == [["x", "dtype('float64')"]]
    assert failures["failure_case"].tolist() == [value]


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bools_are_rejected_in_a_numeric_column(value):
    with pytest.raises(fk.ContractError, match=r"'x' dtype\('float64'\) failed for "):
        _columns(fk.Numeric("x")).coerce({"x": value})


def test_bool_dtype_column_is_rejected_in_a_numeric_column():
    failures = _failures(_columns(fk.Numeric("x")), pd.DataFrame({"x": [True, False]}))
    assert failures["check"].tolist() == ["dtype('float64')", "dtype('float64')"]


def test_int_column_accepts_whole_floats():
    feeds, _ = _columns(fk.Numeric("n", dtype="int")).coerce([{"n": 3}, {"n": 4.0}])
    assert feeds["n"].dtype == np.int64
    assert feeds["n"].ravel().tolist() == [3, 4]


def test_int_column_rejects_fractions():
    with pytest.raises(fk.ContractError, match=r"'n' dtype\('Int64'\) failed for 3\.5"):
        _columns(fk.Numeric("n", dtype="int")).coerce({"n": 3.5})


@pytest.mark.parametrize("value", [np.inf, -np.inf, float("inf")])
def test_infinity_is_rejected_even_where_missing_is_accepted(value):
    failures = _failures(
        _columns(fk.Numeric("x", impute="mean")), [{"x": 1.0}, {"x": value}]
    )
    check = "less_than(inf)" if value > 0 else "greater_than(-inf)"
    assert failures.values.tolist() == [["x", check, value, 1]]


def test_infinity_outside_bounds_is_one_failure_for_one_cause():
    failures = _failures(_columns(fk.Numeric("x", bounds=(0, 10))), {"x": np.inf})
    assert failures["check"].tolist() == ["less_than(inf)"]


def test_a_nan_where_missing_is_refused_reads_as_missing_not_none():
    columns = _columns(fk.Numeric("x"))
    with pytest.raises(
        fk.ContractError,
        match=r"'x' is missing \(None, NaN, NA or NaT\) but not nullable \(row 1\)",
    ):
        columns.coerce([{"x": 1.0}, {"x": float("nan")}])


def test_infinity_is_accepted_where_declared():
    feeds, _ = _columns(fk.Numeric("x", allow_inf=True)).coerce({"x": np.inf})
    assert feeds["x"].tolist() == [[np.inf]]


@pytest.mark.parametrize("value", [-0.5, 10.5, -1e300])
def test_values_outside_bounds_are_rejected(value):
    failures = _failures(_columns(fk.Numeric("x", bounds=(0, 10))), {"x": value})
    assert failures.values.tolist() == [["x", "in_range(0, 10)", value, 0]]


@pytest.mark.parametrize("value", [0, 10, 5.5])
def test_values_on_or_inside_bounds_are_accepted(value):
    feeds, _ = _columns(fk.Numeric("x", bounds=(0, 10))).coerce({"x": value})
    assert feeds["x"].tolist() == [[float(value)]]


def test_open_bound_leaves_that_side_unchecked():
    feeds, _ = _columns(fk.Numeric("x", bounds=(0, None))).coerce({"x": 1e300})
    assert feeds["x"].tolist() == [[1e300]]


@pytest.mark.parametrize("marker", [None, np.nan, pd.NA, pd.NaT], ids=repr)
def test_missing_markers_are_rejected_in_a_column_without_imputer(marker):
    failures = _failures(_columns(fk.Numeric("x")), [{"x": 1.0}, {"x": marker}])
    assert failures.values.tolist() == [["x", "not_nullable", None, 1]]


def test_missing_numeric_with_imputer_becomes_nan():
    feeds, _ = _columns(fk.Numeric("x", impute="mean")).coerce(
        [{"x": 1.0}, {"x": None}]
    )
    assert np.isnan(feeds["x"][1, 0])


def test_nullable_int_column_is_fed_as_double():
    # int64 has no NaN, so a column that accepts missing values is typed double
    feeds, _ = _columns(fk.Numeric("n", dtype="int", impute="median")).coerce({"n": 3})
    assert feeds["n"].dtype == np.float64


# -- categorical columns ---------------------------------------------------------------


@pytest.mark.parametrize("value", [3, 2.5, True, np.int64(1), np.float64(1.0)])
def test_numbers_and_bools_are_rejected_in_a_categorical_column(value):
    failures = _failures(_columns(fk.Categorical("c")), [{"c": "a"}, {"c": value}])
    assert failures[["column", "check", "index"]].values.tolist() == [
        ["c", "dtype('str')", 1]
    ]


def test_numeric_dtype_column_is_rejected_in_a_categorical_column():
    failures = _failures(_columns(fk.Categorical("c")), pd.DataFrame({"c": [1, 2]}))
    assert failures["check"].tolist() == ["dtype('str')", "dtype('str')"]


@pytest.mark.parametrize("marker", [None, np.nan, pd.NA, pd.NaT], ids=repr)
def test_missing_categorical_becomes_the_missing_sentinel(marker):
    feeds, _ = _columns(fk.Categorical("c", impute="missing")).coerce(
        [{"c": "a"}, {"c": marker}]
    )
    assert feeds["c"].ravel().tolist() == ["a", MISSING]


def test_missing_categorical_without_imputer_is_rejected():
    failures = _failures(_columns(fk.Categorical("c")), [{"c": None}])
    assert failures.values.tolist() == [["c", "not_nullable", None, 0]]


def test_missing_categorical_without_imputer_is_accepted_when_declared_nullable():
    feeds, _ = _columns(fk.Categorical("c", nullable=True)).coerce({"c": None})
    assert feeds["c"].tolist() == [[MISSING]]


def test_unknown_category_is_rejected_under_unknown_error():
    columns = _columns(fk.Categorical("c"), categories={"c": ["a", "b"]})
    failures = _failures(columns, [{"c": "a"}, {"c": "z"}])
    assert failures.values.tolist() == [["c", "isin(['a', 'b'])", "z", 1]]


def test_unknown_category_passes_when_categories_are_not_checked():
    columns = _columns(fk.Categorical("c"), categories={"c": ["a", "b"]})
    feeds, _ = columns.coerce({"c": "z"}, check_categories=False)
    assert feeds["c"].tolist() == [["z"]]


@pytest.mark.parametrize("unknown", ["ignore", "other"])
def test_unknown_category_passes_under_a_lenient_policy(unknown):
    columns = _columns(fk.Categorical("c", unknown=unknown), categories={"c": ["a"]})
    feeds, _ = columns.coerce({"c": "z"})
    assert feeds["c"].tolist() == [["z"]]


def test_missing_value_is_not_an_unknown_category():
    columns = _columns(
        fk.Categorical("c", impute="most_frequent"), categories={"c": ["a", "b"]}
    )
    feeds, _ = columns.coerce([{"c": None}])
    assert feeds["c"].tolist() == [[MISSING]]


# Frames above 64 rows take a vectorised path for string columns; both must agree.
@pytest.mark.parametrize("n_rows", [4, 200])
@pytest.mark.parametrize(
    "dtype",
    ["str", object, "string", "category"],
    ids=["str", "object", "string", "category"],
)
def test_string_columns_of_every_pandas_dtype_give_the_same_feeds(n_rows, dtype):
    values = (["a", None, "b", "a"] * n_rows)[:n_rows]
    columns = _columns(fk.Categorical("c", impute="most_frequent"))
    feeds, n = columns.coerce(pd.DataFrame({"c": pd.Series(values, dtype=dtype)}))
    assert n == n_rows
    assert feeds["c"].dtype == object
    assert feeds["c"].ravel().tolist() == [MISSING if v is None else v for v in values]


@pytest.mark.parametrize("n_rows", [4, 200])
def test_unknown_category_is_rejected_in_a_large_frame_too(n_rows):
    values = ["a"] * (n_rows - 1) + ["z"]
    columns = _columns(fk.Categorical("c"), categories={"c": ["a"]})
    failures = _failures(columns, pd.DataFrame({"c": pd.Series(values, dtype="str")}))
    assert failures.values.tolist() == [["c", "isin(['a'])", "z", n_rows - 1]]


@pytest.mark.parametrize("n_rows", [4, 200])
def test_numbers_in_an_object_column_are_rejected_in_a_large_frame_too(n_rows):
    values = ["a"] * (n_rows - 1) + [7]
    failures = _failures(_columns(fk.Categorical("c")), pd.DataFrame({"c": values}))
    assert failures.values.tolist() == [["c", "dtype('str')", 7, n_rows - 1]]


@pytest.mark.parametrize("n_rows", [4, 200])
def test_missing_in_a_large_categorical_column_without_imputer_is_rejected(n_rows):
    values = ["a"] * (n_rows - 1) + [None]
    failures = _failures(_columns(fk.Categorical("c")), pd.DataFrame({"c": values}))
    assert failures.values.tolist() == [["c", "not_nullable", None, n_rows - 1]]


def test_all_missing_float_column_is_accepted_as_missing_categories():
    # a column that is empty in a CSV comes back as float64 NaN
    columns = _columns(fk.Categorical("c", impute="missing"))
    feeds, _ = columns.coerce(pd.DataFrame({"c": [np.nan, np.nan]}))
    assert feeds["c"].ravel().tolist() == [MISSING, MISSING]


# Above 64 rows an Arrow-backed string column is checked on its distinct values, with no
# Python string per row; it must read exactly like the same values in an object column.
LARGE_STRINGS = ["a", None, "b", "z", MISSING, "", "a", "naïve ☃", "b"] * 23


def _outcome(columns: Columns, frame: pd.DataFrame) -> tuple:
    """Feeds or the failure table, in order, and the tally."""
    tally = Tally()
    try:
        feeds, n = columns.coerce(frame, tally=tally)
    except fk.ContractError as exc:
        return exc.failures.values.tolist(), tally
    return (n, feeds["c"].dtype, feeds["c"].tolist()), tally


def _two_chunks(series: pd.Series) -> pd.Series:
    return pd.concat([series.iloc[:100], series.iloc[100:]])


@pytest.mark.parametrize(
    "feature",
    [
        fk.Categorical("c"),
        fk.Categorical("c", nullable=True),
        fk.Categorical("c", impute="missing", unknown="ignore"),
        fk.Categorical("c", unknown="ignore"),
    ],
    ids=["error", "error-nullable", "ignore-imputed", "ignore"],
)
@pytest.mark.parametrize("marker", [None, np.nan, pd.NA], ids=["None", "NaN", "NA"])
@pytest.mark.parametrize(
    ("dtype", "rechunk"),
    [
        ("str", None),
        ("str", _two_chunks),
        ("string[pyarrow]", None),
        ("string[python]", None),
    ],
    ids=["str", "str-two-chunks", "string-pyarrow", "string-python"],
)
def test_large_string_column_reads_like_the_same_values_in_an_object_column(
    feature, marker, dtype, rechunk
):
    columns = _columns(feature, categories={"c": ["a", "b", ""]})
    values = [marker if v is None else v for v in LARGE_STRINGS]
    series = pd.Series(values, dtype=object).astype(dtype)
    if rechunk is not None:
        series = rechunk(series)
    reference = pd.Series(LARGE_STRINGS, dtype=object)
    got = _outcome(columns, pd.DataFrame({"c": series}))
    assert got == _outcome(columns, pd.DataFrame({"c": reference}))


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]"])
def test_large_arrow_string_column_is_read_without_converting_each_value(dtype):
    series = pd.Series(LARGE_STRINGS, dtype=dtype)
    assert not isinstance(_frame_column(series), np.ndarray)


@pytest.mark.parametrize("nullable", [True, False])
def test_large_all_missing_arrow_string_column_reads_as_missing(nullable):
    columns = _columns(fk.Categorical("c", nullable=nullable), categories={"c": ["a"]})
    frame = pd.DataFrame({"c": pd.Series([None] * 70, dtype="str")})
    if nullable:
        assert columns.coerce(frame)[0]["c"].ravel().tolist() == [MISSING] * 70
    else:
        assert _failures(columns, frame)["index"].tolist() == list(range(70))


def test_unseen_categories_of_a_large_arrow_string_column_are_counted():
    columns = _columns(
        fk.Categorical("c", impute="missing", unknown="ignore"),
        categories={"c": ["a", "b", ""]},
    )
    tally = Tally()
    columns.coerce(
        pd.DataFrame({"c": pd.Series(LARGE_STRINGS, dtype="str")}), tally=tally
    )
    # "z" and "naïve ☃" are unseen; None and the sentinel are missing, not unseen
    assert tally.unseen == {"c": 2 * 23}


# -- pandas dtypes of numeric columns ---------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.0, None, 3.0], dtype="float64"),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([1.0, None, 3.0], dtype="Float64"),
        pd.Series([1, None, 3], dtype=object),
        pd.Series([1, pd.NA, 3.0], dtype=object),
    ],
    ids=["float64", "Int64", "Float64", "object-None", "object-NA"],
)
def test_numeric_columns_of_every_pandas_dtype_give_the_same_feeds(series):
    feeds, _ = _columns(fk.Numeric("x", impute="mean")).coerce(
        pd.DataFrame({"x": series})
    )
    assert feeds["x"].dtype == np.float64
    np.testing.assert_array_equal(feeds["x"], [[1.0], [np.nan], [3.0]])


def test_int64_frame_column_feeds_int64_to_an_int_column():
    feeds, _ = _columns(fk.Numeric("n", dtype="int")).coerce(
        pd.DataFrame({"n": [1, 2]})
    )
    assert feeds["n"].dtype == np.int64


@pytest.mark.parametrize("n_rows", [2, 200])
@pytest.mark.parametrize("dtype", ["str", object])
def test_numeric_strings_in_a_frame_column_are_rejected(dtype, n_rows):
    frame = pd.DataFrame({"x": pd.Series(["3.5", "1"] * (n_rows // 2), dtype=dtype)})
    failures = _failures(_columns(fk.Numeric("x")), frame)
    assert failures["failure_case"].tolist() == ["3.5", "1"] * (n_rows // 2)


# A numeric column is scanned for a check only when its extent (min and max) says the
# check can fail; the failures must still come out complete and in pandera's order.
def test_large_int64_column_reports_every_failure_in_order():
    values = np.full(100, 5, dtype=np.int64)
    values[[3, 7, 9]] = [2**63 - 1, 11, -1]  # 2**63 - 1 is 2**63 as a float64
    failures = _failures(
        _columns(fk.Numeric("n", dtype="int", bounds=(0, 10))),
        pd.DataFrame({"n": values}),
    )
    assert failures.values.tolist() == [
        ["n", "dtype('Int64')", 2**63 - 1, 3],
        ["n", "in_range(0, 10)", 11, 7],
        ["n", "in_range(0, 10)", -1, 9],
    ]


def test_large_float_column_reports_every_failure_in_order():
    values = np.full(100, 0.5)
    values[[2, 4, 5, 6, 8]] = [np.nan, np.inf, np.nan, -3.0, -np.inf]
    failures = _failures(
        _columns(fk.Numeric("x", bounds=(0, 10))), pd.DataFrame({"x": values})
    )
    assert failures.values.tolist() == [
        ["x", "not_nullable", None, 2],
        ["x", "not_nullable", None, 5],
        ["x", "in_range(0, 10)", -3.0, 6],  # an infinity is one failure: infinite
        ["x", "less_than(inf)", np.inf, 4],
        ["x", "greater_than(-inf)", -np.inf, 8],
    ]


def test_large_float_column_read_as_ints_reports_fractions_not_ranges():
    values = np.full(100, 2.0)
    values[[1, 3, 4]] = [2.5, np.nan, -np.inf]
    failures = _failures(
        _columns(fk.Numeric("n", dtype="int", impute=0, bounds=(0, 10))),
        pd.DataFrame({"n": values}),
    )
    assert failures.values.tolist() == [
        ["n", "dtype('Int64')", 2.5, 1],
        ["n", "dtype('Int64')", -np.inf, 4],
    ]


@pytest.mark.parametrize("values", [[np.nan] * 100, []], ids=["all-missing", "empty"])
def test_numeric_column_without_a_number_passes_every_range_check(values):
    columns = _columns(fk.Numeric("x", impute="mean", bounds=(0, 10)))
    feeds, n = columns.coerce(pd.DataFrame({"x": np.array(values, dtype=np.float64)}))
    assert n == len(values) and np.isnan(feeds["x"]).all()


def test_values_outside_the_observed_range_are_counted_in_a_large_frame():
    columns = Columns(
        fk.FeatureSet("demo", [fk.Numeric("x", impute="mean")]),
        observed={"x": (0.0, 1.0)},
    )
    values = np.linspace(-0.5, 1.5, 101)
    values[::10] = np.nan
    tally = Tally()
    columns.coerce(pd.DataFrame({"x": values}), tally=tally)
    assert tally.outside_observed == {"x": int(np.sum((values < 0) | (values > 1)))}


# -- input shapes ----------------------------------------------------------------------


def _as_frame():
    return pd.DataFrame(
        {"x": [1.0, np.nan], "n": [2.0, 5.0], "c": pd.Series(["a", None], dtype="str")}
    )


def _as_records():
    return [{"x": 1.0, "n": 2, "c": "a"}, {"x": None, "n": 5, "c": None}]


def _as_json_records():
    return json.loads('[{"x": 1.0, "n": 2, "c": "a"}, {"x": null, "n": 5, "c": null}]')


def _as_records_with_pd_na():
    return [{"x": 1.0, "n": 2, "c": "a"}, {"x": pd.NA, "n": 5, "c": pd.NA}]


def _as_records_with_a_key_left_out():
    return [{"x": 1.0, "n": 2, "c": "a"}, {"n": 5}]


@pytest.mark.parametrize(
    "make",
    [
        _as_records,
        _as_json_records,
        _as_records_with_pd_na,
    ],
)
def test_list_of_dicts_gives_the_same_feeds_as_a_dataframe(make):
    columns = _nullable_columns()
    expected, n_expected = columns.coerce(_as_frame())
    feeds, n = columns.coerce(make())
    assert n == n_expected == 2
    assert feeds.keys() == expected.keys()
    for name in expected:
        assert feeds[name].dtype == expected[name].dtype
        np.testing.assert_array_equal(feeds[name], expected[name])


def test_a_record_without_a_key_is_refused_as_it_would_be_alone():
    columns = _nullable_columns()
    records = _as_records_with_a_key_left_out()
    with pytest.raises(fk.ContractError) as alone:
        columns.coerce(records[1])
    assert set(alone.value.failures["check"]) == {"column_in_dataframe"}
    with pytest.raises(
        fk.ContractError, match=r"records without a declared key: 'x' \(row 1\)"
    ) as batch:
        columns.coerce(records)
    table = batch.value.failures
    assert set(table["column"]) == set(alone.value.failures["column"]) == {"x", "c"}
    assert set(table["check"]) == {"column_in_dataframe"}
    assert table["index"].tolist() == [1, 1]


def test_split_scores_the_complete_record_and_refuses_the_one_without_a_key():
    columns = _nullable_columns()
    feeds, passed, _, failures = columns.split(_as_records_with_a_key_left_out())
    assert passed.tolist() == [True, False]
    assert all(len(v) == 1 for v in feeds.values())
    assert set(failures["index"]) == {1}


@pytest.mark.parametrize("row", [0, 1], ids=["complete", "with-missing"])
def test_single_dict_gives_the_same_feeds_as_a_one_row_dataframe(row):
    columns = _nullable_columns()
    expected, _ = columns.coerce(_as_frame().iloc[[row]])
    feeds, n = columns.coerce(_as_records()[row])
    assert n == 1
    for name in expected:
        assert feeds[name].dtype == expected[name].dtype
        np.testing.assert_array_equal(feeds[name], expected[name])


@pytest.mark.parametrize(
    "value",
    [3, -(2**63), 2**53 + 1, 2**63 - 1],
    ids=["3", "int64-min", "2^53+1", "int64-max"],
)
def test_single_dict_and_a_one_record_list_read_an_int_column_alike(value):
    # a single dict may take a faster path; it must accept and feed exactly what the
    # list path does, or the same record would score differently in a batch
    columns = _columns(fk.Numeric("n", dtype="int"))
    assert _read(columns, {"n": value}) == _read(columns, [{"n": value}])


@pytest.mark.parametrize(
    "record",
    [
        {"x": 1.5, "c": "a"},
        {"x": 1, "c": "b"},
        {"x": "1.5", "c": "a"},
        {"x": True, "c": "a"},
        {"x": float("inf"), "c": "a"},
        {"x": 11.0, "c": "a"},
        {"x": np.float32(2.5), "c": np.str_("a")},
        {"x": 1.0, "c": "zz"},
        {"x": 1.0, "c": None},
        {"x": None, "c": "a"},
        {"x": 1.0},
    ],
    ids=repr,
)
def test_single_dict_and_a_one_record_list_agree(record):
    columns = _columns(
        fk.Numeric("x", bounds=(0, 10)),
        fk.Categorical("c"),
        categories={"c": ["a", "b"]},
    )
    assert _read(columns, record) == _read(columns, [record])


def test_feeds_are_one_column_arrays_keyed_by_declared_name():
    feeds, _ = _nullable_columns().coerce(_as_frame())
    assert list(feeds) == ["x", "n", "c"]
    assert {a.shape for a in feeds.values()} == {(2, 1)}


def test_extra_columns_are_ignored():
    columns = _columns(fk.Numeric("x"))
    feeds, _ = columns.coerce({"x": 1.0, "unused": "anything"})
    assert list(feeds) == ["x"]


@pytest.mark.parametrize(
    "data",
    [
        [],
        pd.DataFrame(
            {"x": pd.Series([], dtype=float), "c": pd.Series([], dtype=object)}
        ),
    ],
    ids=["empty-list", "empty-frame"],
)
def test_empty_input_gives_zero_rows(data):
    feeds, n = _columns(fk.Numeric("x"), fk.Categorical("c")).coerce(data)
    assert n == 0
    assert feeds["x"].shape == (0, 1)
    assert feeds["c"].shape == (0, 1)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([{"x": 1.0}, [1.0]], r"Record 1 is a list, not a mapping"),
        ("x=1", r"Cannot read records from a str"),
        (np.array([[1.0]]), r"Cannot read records from a ndarray"),
    ],
)
def test_input_that_is_not_records_is_refused(data, match):
    with pytest.raises(fk.ContractError, match=match):
        _columns(fk.Numeric("x")).coerce(data)


# -- missing columns and the failure table ----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [pd.DataFrame({"x": [1.0]}), [{"x": 1.0}], {"x": 1.0}],
    ids=["frame", "records", "dict"],
)
def test_missing_column_is_reported_as_column_in_dataframe(data):
    failures = _failures(_columns(fk.Numeric("x"), fk.Categorical("c")), data)
    assert failures.values.tolist() == [["c", "column_in_dataframe", "c", None]]


def test_missing_column_message_names_the_column():
    with pytest.raises(fk.ContractError, match=r"'demo' v1.*'c'"):
        _columns(fk.Numeric("x"), fk.Categorical("c")).coerce({"x": 1.0})


def test_contract_error_is_a_value_error():
    assert issubclass(fk.ContractError, ValueError)
    assert issubclass(fk.ContractError, fk.FeaturekitError)
    with pytest.raises(ValueError, match=r"the contract of 'demo' v1"):
        _columns(fk.Numeric("x")).coerce({"x": "a"})


@pytest.mark.parametrize(
    "data", [{"x": "a"}, {}, [{"x": 1.0}, 5]], ids=["value", "column", "record"]
)
def test_failures_table_has_exactly_column_check_failure_case_index(data):
    with pytest.raises(fk.ContractError) as info:
        _columns(fk.Numeric("x")).coerce(data)
    assert list(info.value.failures.columns) == FAILURE_COLUMNS


def test_every_failure_is_collected_not_just_the_first():
    columns = _columns(
        fk.Numeric("x", bounds=(0, 10)),
        fk.Numeric("n", dtype="int"),
        fk.Categorical("c"),
        fk.Categorical("d"),
        categories={"c": ["a", "b"]},
    )
    records = [
        {"x": "1", "n": 1, "c": "a"},
        {"x": 11.0, "n": 1.5, "c": "a"},
        {"x": np.inf, "n": None, "c": 3},
        {"x": 1.0, "n": 2, "c": "zz"},
    ]
    failures = _failures(columns, records)
    assert failures[["column", "check", "failure_case"]].values.tolist() == [
        ["x", "dtype('float64')", "1"],
        ["x", "in_range(0, 10)", 11.0],
        ["x", "less_than(inf)", np.inf],
        ["n", "dtype('Int64')", 1.5],
        ["n", "not_nullable", None],
        ["c", "dtype('str')", 3],
        ["c", "isin(['a', 'b'])", "zz"],
        ["d", "column_in_dataframe", "d"],
    ]
    # a missing column has no row; pandas shows that as NaN in a numeric index column
    assert failures["index"].tolist()[:-1] == [0, 1, 2, 1, 2, 2, 3]
    assert pd.isna(failures["index"].iloc[-1])


def test_failure_message_counts_the_bad_rows_and_names_the_feature_set():
    records = [{"x": "a"}, {"x": 1.0}, {"x": "b"}]
    with pytest.raises(
        fk.ContractError, match=r"^2 of 3 rows failed the contract of 'demo' v1"
    ):
        _columns(fk.Numeric("x")).coerce(records)


def test_failure_index_uses_the_dataframe_row_labels():
    frame = pd.DataFrame({"x": [1.0, "bad", 2.0]}, index=["r1", "r2", "r3"])
    failures = _failures(_columns(fk.Numeric("x")), frame)
    assert failures["index"].tolist() == ["r2"]
