"""Low-level readers of raw values: strings, numbers and records into columns.

Helpers of `featurekit.contract.columns.Columns`: fast paths for Arrow-backed and
object string columns, numeric arrays and their extent, and splitting records or a
frame into the wanted columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from featurekit.errors import ContractError
from featurekit.missing import MISSING

_NUMBER_TYPES = (int, float, np.integer, np.floating)
_ABSENT = object()


def utf8_ok(text: str) -> bool:
    """Whether `text` encodes as UTF-8: no lone surrogates, which onnxruntime refuses.

    Examples
    --------
    >>> utf8_ok("Zürich"), utf8_ok(chr(0xD800))
    (True, False)
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Coded(NamedTuple):
    """A string column as codes into its distinct values: row i reads ``words[codes[i]]``.

    Code -1 (a missing value) reads the last word, `MISSING`. ``values`` is the
    Arrow-backed column the codes were read from (missing values are null there).
    Counting by code costs an integer pass instead of hashing every string again.

    Examples
    --------
    >>> import pandas as pd
    >>> c = _strings_arrow(pd.array(["a", None, "a"], dtype="string[pyarrow]"), None)[3]
    >>> c.words[c.codes].tolist() == ["a", MISSING, "a"]
    True
    """

    codes: np.ndarray
    words: np.ndarray
    values: Any


def _strings_fast(
    values: Any, members: frozenset[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Coded | None] | None:
    """Vectorised path for a large string column: (strings, missing, outside, coded).

    ``outside`` marks the present values not in `members` (None when `members` is);
    ``coded`` is the column's `Coded` form when it was read from Arrow, else None.
    Returns None when some value is neither a string nor missing, so that the
    row-by-row path can report each one.
    """
    if not isinstance(values, np.ndarray):
        return _strings_arrow(values, members) if _is_arrow(values) else None
    import pandas as pd

    missing = pd.isna(values)
    present = values[~missing]
    # the sentinel itself reads as missing (compare only the present values: pd.NA
    # refuses to be compared)
    sentinel = np.zeros(len(values), dtype=bool)
    sentinel[~missing] = np.asarray(present == MISSING, dtype=bool)
    missing = missing | sentinel
    if len(present) and pd.api.types.infer_dtype(present, skipna=False) != "string":
        return None
    if len(present) and not utf8_ok("\x00".join(present)):
        return None  # a lone surrogate: the row-by-row path reports it
    out = values.astype(object, copy=True)
    out[missing] = MISSING
    if members is None:
        return out, missing, None, None
    return out, missing, ~pd.Series(out).isin(members).to_numpy() & ~missing, None


def _strings_arrow(
    values: Any, members: frozenset[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Coded]:
    """`_strings_fast` for an Arrow-backed string array: every check on its categories.

    Arrow hashes the column into a handful of distinct values without making a Python
    string per row; each check then runs once per distinct value, and the rows take
    their results by code. Converting the column to objects first costs ten times more.
    """
    codes, uniques = values.factorize()  # code -1: missing
    # one slot per distinct value, and a last one for missing that code -1 indexes
    words = np.empty(len(uniques) + 1, dtype=object)
    words[:-1] = uniques.to_numpy(dtype=object)
    words[-1] = MISSING
    gap = np.asarray(words == MISSING, dtype=bool)
    words[gap] = MISSING
    out = words.take(codes)
    missing = gap.take(codes)
    coded = Coded(codes, words, values)
    if members is None:
        return out, missing, None, coded
    is_outside = np.array([w not in members for w in words], dtype=bool) & ~gap
    return out, missing, is_outside.take(codes), coded


def _is_arrow(values: Any) -> bool:
    """Whether `values` is a pandas string column or array backed by Arrow."""
    dtype = getattr(values, "dtype", None)
    # by type name, so that a list of records never imports pandas
    return type(dtype).__name__ == "StringDtype" and getattr(dtype, "storage", "") in (
        "pyarrow",
        "pyarrow_numpy",  # pandas 2.x's name for the NaN-semantics variant
    )


def _objects(values: Any) -> Any:
    """`values` as a list or an object array, for the row-by-row paths."""
    if _is_arrow(values):
        return values.to_numpy(dtype=object)
    return values


def _extent(arr: np.ndarray) -> tuple[float, float, bool]:
    """(lo, hi, has_nan): the range of the non-NaN values, and whether any is NaN.

    The range is (inf, -inf) when there is no such value, so that every
    ``check_lo <= lo and hi <= check_hi`` holds.
    """
    if not len(arr):
        return math.inf, -math.inf, False
    with np.errstate(invalid="ignore"):
        lo = float(arr.min())  # NaN propagates: one pass tells both
        if lo == lo:
            return lo, float(arr.max()), False
        lo, hi = float(np.fmin.reduce(arr)), float(np.fmax.reduce(arr))
    if lo != lo:
        return math.inf, -math.inf, True
    return lo, hi, True


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _numeric_array(values: Any) -> np.ndarray | None:
    """A float64 view of `values` when every value is a number or NaN, else None."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "iuf":
            return values.astype(np.float64, copy=False)
        if values.dtype.kind != "O":
            return None
        values = values.tolist()
    for v in values:
        t = type(v)
        if (
            t is not float
            and t is not int
            and not (
                isinstance(v, _NUMBER_TYPES) and not isinstance(v, bool | np.bool_)
            )
        ):
            return None
    if not values:
        return np.empty(0, np.float64)
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:  # an int beyond float64: reported value by value
        return None


def _split(
    data: Any, wanted: list[str]
) -> tuple[dict[str, Any], Any, int, dict[str, list[int]]]:
    """Return (columns by name, row labels, row count, absent keys) for any input shape.

    A key that some records of a list carry and others lack is a column for the
    records that carry it; ``absent`` names, per column, the records without it, so
    that each is refused as it would be alone (``column_in_dataframe``), never
    imputed because its neighbours carried the key.
    """
    if isinstance(data, Mapping):
        data = [data]
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame
        cols: dict[str, Any] = {}
        present = set(data.columns)
        if len(present) < len(data.columns):
            twice = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise ContractError(
                f"The DataFrame has columns {twice!r} more than once; give each "
                "column one name (e.g. df.loc[:, ~df.columns.duplicated()])."
            )
        for name in wanted:
            if name in present:
                cols[name] = _frame_column(data[name])
        return cols, data.index, len(data), {}
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        n = len(data)
        for i, rec in enumerate(data):
            if not isinstance(rec, Mapping):
                raise ContractError(
                    f"Record {i} is a {type(rec).__name__}, not a mapping of column "
                    "to value; send a dict per row.",
                )
        cols = {}
        absent: dict[str, list[int]] = {}
        for name in wanted:
            column = [rec.get(name, _ABSENT) for rec in data]
            gaps = [i for i, v in enumerate(column) if v is _ABSENT]
            if n and len(gaps) == n:
                continue
            if gaps:
                absent[name] = gaps
                column = [None if v is _ABSENT else v for v in column]
            cols[name] = column
        return cols, range(n), n, absent
    raise ContractError(
        f"Cannot read records from a {type(data).__name__}; pass a pandas DataFrame, "
        "a list of dicts or a dict."
    )


def _frame_column(series: Any) -> Any:
    """The values of a frame column: a numpy array, or an Arrow-backed string array.

    An Arrow string array stays as it is: `_strings_arrow` checks it without building
    a Python string per row, and `_objects` converts it where values are read one by
    one.
    """
    dtype = series.dtype
    if _is_arrow(series):
        return series.array
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf" and getattr(dtype, "na_value", None) is None:
        return series.to_numpy()
    if kind in "iuf":  # pandas nullable Int64 / Float64
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "M":  # naive datetime64; a time-zone-aware column comes as objects
        return series.to_numpy()
    if kind == "b" and getattr(dtype, "na_value", None) is None:
        return series.to_numpy(dtype=object)
    return series.to_numpy(dtype=object)
