"""Read date-time inputs into whole seconds since 1970, the same way in every runtime.

Values are datetime64, `datetime.datetime`/`datetime.date` objects or ISO-8601 text;
large columns of plain ISO dates are parsed in numpy (tested equal to `fromisoformat`).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurekit.contract.failures import Failures
from featurekit.contract.values import _objects, _plain
from featurekit.missing import is_missing


@dataclass
class DatetimePlan:
    feature: Any  # featurekit.declare.computed.Datetime
    nullable: bool
    utc: bool


_EPOCH = _dt.datetime(1970, 1, 1)


def _datetimes(
    plan: DatetimePlan, values: Any, index: Any, failures: Failures, checks: bool
) -> np.ndarray:
    """Read a date-time column into float64 whole seconds since the epoch (NaN: missing)."""
    name = plan.feature.name
    if isinstance(values, np.ndarray) and values.dtype.kind == "M" and not plan.utc:
        ticks = values.astype("datetime64[s]")  # numpy floors finer units
        secs = ticks.astype(np.int64).astype(np.float64)
        secs[np.isnat(ticks)] = np.nan
    elif (fast := _plain_iso(values, plan.utc)) is not None:
        secs = fast
    else:
        values = _objects(values)
        secs = np.empty(len(values), dtype=np.float64)
        for k, v in enumerate(values):
            got = _datetime_seconds(v, plan.utc)
            if isinstance(got, str):
                failures.add(name, got, _plain(v), index[k])
                secs[k] = np.nan
            else:
                secs[k] = got
                if got != got and checks and not plan.nullable:
                    failures.add(name, "not_nullable", None, index[k])
        return secs.reshape(-1, 1)
    if checks and not plan.nullable:
        for i in np.flatnonzero(np.isnan(secs)):
            failures.add(name, "not_nullable", None, index[i])
    return secs.reshape(-1, 1)


#: Naive ISO-8601 dates and times that numpy and `datetime.fromisoformat` read alike.
_PLAIN_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2})?"


def _plain_iso(values: Any, utc: bool) -> np.ndarray | None:
    """Seconds for a large column of plain naive ISO strings, parsed by numpy; else None.

    Only ``YYYY-MM-DD`` and ``YYYY-MM-DD[T ]HH:MM:SS`` without fractions or offsets
    qualify, read by both parsers to the same second; anything else (missing values,
    offsets, invalid dates, other types) goes value by value.
    """
    if utc or len(values) < 64:
        return None
    import pandas as pd

    column = pd.Series(values, copy=False)
    if column.dtype == object and not column.map(type).eq(str).all():
        return None
    try:
        if not column.str.fullmatch(_PLAIN_ISO).all():
            return None
        if column.str.startswith("0000").any():
            return None  # numpy reads year 0; Python's datetime refuses it, row by row
        ticks = np.array(column.to_numpy(dtype=object), dtype="datetime64[s]")
    except (ValueError, TypeError, AttributeError):
        return None
    return ticks.astype(np.int64).astype(np.float64)


def _datetime_seconds(v: Any, utc: bool) -> float | str:
    """Seconds since the epoch, NaN for missing, or the name of the failed check."""
    if isinstance(v, str):
        try:
            v = _dt.datetime.fromisoformat(v)
        except ValueError:
            return "datetime(ISO-8601)"
    elif isinstance(v, np.datetime64):
        if np.isnat(v):
            return math.nan
        if utc:
            return "timezone(UTC)"
        return float(v.astype("datetime64[s]").astype(np.int64))
    elif is_missing(v):
        return math.nan
    if isinstance(v, _dt.datetime):
        aware = v.tzinfo is not None and v.utcoffset() is not None
        if aware != utc:
            return "timezone(UTC)" if utc else "timezone(None)"
        if aware:
            try:
                v = v.astimezone(_dt.UTC).replace(tzinfo=None)
            except OverflowError:  # its UTC reading falls outside years 1-9999
                return "datetime(ISO-8601)"
        return float((v.replace(tzinfo=None) - _EPOCH) // _dt.timedelta(seconds=1))
    if isinstance(v, _dt.date):
        if utc:  # a date carries no offset, like "2020-01-01"
            return "timezone(UTC)"
        return float((v - _EPOCH.date()).days * 86400)
    return "dtype('datetime64')"
