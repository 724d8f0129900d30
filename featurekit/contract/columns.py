"""Turn raw records into the typed columns the model sees, identically in training and serving.

This is the single place where input values are interpreted. The scikit-learn pipeline
(`featurekit.exporting.pipeline.Inputs`), the parity certificate and `serving.Predictor` all call
`Columns.coerce`, so no runtime can read a value differently from another.

Rules
-----
- A numeric column takes ints and floats. bools and strings (even ``"3.5"``) are
  rejected, never parsed.
- A categorical column takes strings. Numbers and bools are rejected.
- None, NaN, ``pd.NA`` and ``NaT`` are missing. A missing string becomes `MISSING`,
  a sentinel the graph's imputer recognises: onnxruntime would otherwise read None
  in a string tensor as an ordinary unknown category.
- ±inf is rejected unless declared; NaN only where the declaration accepts missing
  values.
- A date-time column (`featurekit.declare.computed.Datetime`) takes datetime64 values,
  `datetime.datetime`/`datetime.date` objects and ISO-8601 strings, and becomes
  float64 whole seconds since 1970-01-01T00:00:00 (floored; NaN for missing). A
  column declared ``timezone=None`` refuses values with an offset or a time zone;
  one declared ``timezone="UTC"`` converts them to UTC and refuses naive values.
- A text column (`featurekit.declare.computed.Text`) takes strings, like a categorical
  column with no category check.

Beyond types, `Columns.coerce` runs the contract's checks compiled to numpy (see
`featurekit.contract.schema`): it accepts and rejects what ``schema.validate`` does, with the
same failure table, in microseconds.

This module belongs to the light core and imports no scikit-learn. It is long (about
650 lines) because `Columns` is one compiled plan: its per-kind readers share the
plans, the failure collector and the tally, and splitting them would pass all three
through every call on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurekit.contract.datetimes import DatetimePlan, _datetime_seconds, _datetimes
from featurekit.contract.failures import Failures, Tally, failure_table
from featurekit.contract.schema import Contract
from featurekit.contract.values import (
    _ABSENT,
    _NUMBER_TYPES,
    Coded,
    _extent,
    _numeric_array,
    _objects,
    _plain,
    _split,
    _strings_fast,
    utf8_ok,
)
from featurekit.declare.columns import Categorical, Numeric
from featurekit.declare.featureset import FeatureSet
from featurekit.missing import MISSING, is_missing

__all__ = ["Columns", "Feeds"]

_INFINITIES = (math.inf, -math.inf)
_INT64_MIN, _INT64_END = -(2**63), 2**63


@dataclass
class _NumericPlan:
    feature: Numeric
    nullable: bool
    ranges: list[tuple[str, float, float]]  # (pandera check name, lo, hi), open = ±inf
    finite: bool
    soft: tuple[float, float] | None
    onnx_int: bool
    fast_lo: float
    fast_hi: float


@dataclass
class _CategoricalPlan:
    feature: Any  # Categorical or Text
    nullable: bool
    allowed: frozenset[str] | None
    isin: str
    known: frozenset[str]
    counted: bool  # whether values outside `known` are tallied as unseen


class Feeds(dict[str, np.ndarray]):
    """The graph inputs by column name, plus the codes reading them found on the way.

    A plain dict to every consumer. ``codes`` holds, per string column read from an
    Arrow-backed column, its `featurekit.contract.values.Coded` form, so that the drift
    monitor counts categories by integer code instead of hashing every string again.
    A copy or a slice of the feeds is a plain dict, without codes.

    Examples
    --------
    >>> import featurekit as fk, pandas as pd
    >>> cols = Columns(fk.FeatureSet("demo", [fk.Categorical("c")]))
    >>> frame = pd.DataFrame({"c": pd.array(["a", "b"] * 50, dtype="string[pyarrow]")})
    >>> feeds, n = cols.coerce(frame, check_categories=False)
    >>> feeds["c"][:2, 0].tolist(), feeds.codes["c"].codes[:2].tolist()
    (['a', 'b'], [0, 1])
    """

    codes: dict[str, Coded]

    def __init__(self) -> None:
        super().__init__()
        self.codes = {}


class Columns:
    """The contract compiled: how each raw column is read and checked.

    Parameters
    ----------
    features : FeatureSet or Contract
        The declarations, or a whole contract (then the other arguments are unused).
    categories, domains, observed : dict, optional
        Fitted state, as in `featurekit.contract.schema.Contract`. Left empty while fitting.

    Examples
    --------
    >>> import featurekit as fk
    >>> cols = Columns(fk.FeatureSet("demo", [fk.Numeric("age"), fk.Categorical("c")]))
    >>> feeds, n = cols.coerce({"age": 31, "c": "a"})
    >>> feeds["age"], feeds["c"]
    (array([[31.]]), array([['a']], dtype=object))
    """

    def __init__(
        self,
        features: FeatureSet | Contract,
        categories: dict[str, list[str]] | None = None,
        domains: dict[str, tuple[float, float]] | None = None,
        observed: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        if isinstance(features, Contract):
            contract = features
        else:
            contract = Contract(
                features, categories or {}, domains or {}, observed or {}
            )
        self.contract = contract
        self.features = contract.features
        self._declared = frozenset(self.features.columns)
        self._plans: list[_NumericPlan | _CategoricalPlan | DatetimePlan] = []
        for f in self.features.inputs:
            if f.kind == "datetime":
                self._plans.append(
                    DatetimePlan(f, f.accepts_missing, f.timezone == "UTC")
                )
                continue
            if not isinstance(f, Numeric):  # Categorical or Text
                allowed = contract.allowed(f.name)
                self._plans.append(
                    _CategoricalPlan(
                        f,
                        f.accepts_missing,
                        None if allowed is None else frozenset(allowed),
                        f"isin({allowed!r})",
                        frozenset(contract.categories.get(f.name, ())),
                        isinstance(f, Categorical) and f.name in contract.categories,
                    )
                )
                continue
            ranges = [
                (
                    r.name,
                    -math.inf if r.lo is None else r.lo,
                    math.inf if r.hi is None else r.hi,
                )
                for r in contract.ranges(f.name)
            ]
            lo = max([r[1] for r in ranges], default=-math.inf)
            hi = min([r[2] for r in ranges], default=math.inf)
            self._plans.append(
                _NumericPlan(
                    f,
                    f.accepts_missing,
                    ranges,
                    not f.allow_inf,
                    contract.soft(f.name),
                    self.onnx_type(f) == "int64",
                    lo,
                    hi,
                )
            )

    @property
    def categories(self) -> dict[str, list[str]]:
        return self.contract.categories

    @property
    def domains(self) -> dict[str, tuple[float, float]]:
        return self.contract.domains

    def onnx_type(self, feature: Any) -> str:
        """The element type of the graph input for the raw input `feature`."""
        if feature.kind in ("categorical", "text"):
            return "string"
        if feature.kind == "datetime":
            return "double"
        if feature.dtype == "int" and not feature.accepts_missing:
            return "int64"
        return "double"

    # -- entry points ---------------------------------------------------------------
    def coerce(
        self, data: Any, *, check_categories: bool = True, tally: Tally | None = None
    ) -> tuple[dict[str, np.ndarray], int]:
        """Read `data` into one ``(n, 1)`` array per declared column, or refuse it.

        Parameters
        ----------
        data : DataFrame, list of dict, or dict
            The records.
        check_categories : bool
            Apply the fitted checks (categories, model domain, observed range).
            False while fitting, when there is no fitted state yet.
        tally : Tally, optional
            Counts what was accepted but noticed.

        Returns
        -------
        feeds : dict of str to ndarray
            The graph inputs, keyed by column name.
        n_rows : int

        Raises
        ------
        ContractError
            With every failure in ``.failures``.
        """
        if isinstance(data, Mapping) and check_categories:
            fast = self.one_row(data, tally)
            if fast is not None:
                return fast, 1
        feeds, n, failures, _ = self._run(data, check_categories, tally, checks=True)
        failures.raise_if_any(self.features.name, self.features.version, n)
        return feeds, n

    def split(
        self, data: Any, tally: Tally | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, Any, Any]:
        """Read `data`, keeping the rows that pass and the failure table of the others.

        Returns
        -------
        feeds : dict of str to ndarray
            The graph inputs of the rows that passed.
        passed : ndarray of bool
            Per input row, whether it passed.
        index : sequence
            The input's row labels.
        failures : DataFrame
            column, check, failure_case, index; a column-level failure (a missing or
            undeclared column) fails every row.
        """
        # rows are told apart by position: labels may repeat or be missing
        feeds, n, failures, index = self._run(
            data, True, tally, checks=True, positional=True
        )
        passed = np.ones(n, dtype=bool)
        if any(r[3] is None for r in failures.rows):
            passed[:] = False
        else:
            passed[[int(r[3]) for r in failures.rows]] = False
        labels = list(index)
        table = failure_table(
            [
                (c, k, v, None if i is None else labels[i])
                for c, k, v, i in failures.rows
            ]
        )
        if not passed.all():
            feeds = {k: v[passed] for k, v in feeds.items()} if passed.any() else {}
            # an int64 input with failures was read as float64 (`_numeric`); with the
            # refused rows gone, what remains is integral and goes back to int64
            for plan in self._plans:
                name = plan.feature.name
                if isinstance(plan, _NumericPlan) and plan.onnx_int and name in feeds:
                    feeds[name] = feeds[name].astype(np.int64, copy=False)
        return feeds, passed, index, table

    def read(
        self, data: Any
    ) -> tuple[dict[str, Any], list[tuple[str, str, Any, Any]], int]:
        """The typed frame (as columns) and the type failures, with no value checks.

        This is what `featurekit.contract.reference.validate` hands to pandera.
        """
        import pandas as pd

        feeds, n, failures, index = self._run(data, False, None, checks=False)
        typed: dict[str, Any] = {}
        for plan in self._plans:
            name = plan.feature.name
            if name not in feeds:
                continue
            col = feeds[name][:, 0]
            if isinstance(plan, DatetimePlan):
                typed[name] = pd.Series(col.astype(np.float64), index=index)
            elif isinstance(plan, _CategoricalPlan):
                values = col.copy()
                values[col == MISSING] = None
                typed[name] = pd.Series(pd.array(values, dtype="str"), index=index)
            elif plan.feature.dtype == "int":
                fl = col.astype(np.float64)
                with np.errstate(invalid="ignore"):
                    ok = np.isfinite(fl) & (fl == np.floor(fl))
                    ok &= (fl >= _INT64_MIN) & (fl < _INT64_END)
                arr = pd.array(np.where(ok, fl, 0).astype(np.int64), dtype="Int64")
                arr[~ok] = pd.NA
                typed[name] = pd.Series(arr, index=index)
            else:
                typed[name] = pd.Series(col.astype(np.float64), index=index)
        for extra in self._extra_columns(data):
            typed[extra] = pd.Series([None] * n, index=index, dtype=object)
        return typed, failures.rows, n

    # -- the general path -----------------------------------------------------------
    def _extra_columns(self, data: Any) -> list[str]:
        if isinstance(data, Mapping):
            keys: Any = data.keys()
        elif hasattr(data, "columns"):
            keys = data.columns
        elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
            seen: dict[Any, None] = {}
            for rec in data:
                if isinstance(rec, Mapping):
                    seen.update(dict.fromkeys(rec))
            keys = seen
        else:
            return []
        return [str(k) for k in keys if k not in self._declared]

    def _run(
        self,
        data: Any,
        fitted: bool,
        tally: Tally | None,
        *,
        checks: bool,
        positional: bool = False,
    ) -> tuple[dict[str, np.ndarray], int, Failures, Any]:
        """Read every column; failures name rows by label, or by position if asked."""
        columns, labels, n_rows, absent = _split(data, self.features.columns)
        index = range(n_rows) if positional else labels
        failures = Failures()
        for name, rows in absent.items():
            for i in rows:  # refused as the record would be alone
                failures.add(name, "column_in_dataframe", name, index[i])
        extra = self._extra_columns(data)
        if extra and checks and self.features.strict:
            for col in extra:
                failures.add(col, "column_in_schema", col, None)
        elif extra and tally is not None:
            for col in extra:
                tally.add(tally.extra_columns, col)
        feeds = Feeds()
        for plan in self._plans:
            values = columns.get(plan.feature.name, _ABSENT)
            if values is _ABSENT:
                failures.add(
                    plan.feature.name, "column_in_dataframe", plan.feature.name, None
                )
                continue
            if isinstance(plan, _NumericPlan):
                feeds[plan.feature.name] = self._numeric(
                    plan, values, index, failures, fitted, checks, tally
                )
            elif isinstance(plan, DatetimePlan):
                feeds[plan.feature.name] = _datetimes(
                    plan, values, index, failures, checks
                )
            else:
                feeds[plan.feature.name] = self._categorical(
                    plan, values, index, failures, fitted, checks, tally, feeds.codes
                )
        if absent:  # an absent key is one failure, not also a missing value
            gone = {(name, index[i]) for name, rows in absent.items() for i in rows}
            failures.rows = [
                r
                for r in failures.rows
                if r[1] == "column_in_dataframe" or (r[0], r[3]) not in gone
            ]
        if tally is not None:
            tally.rows += n_rows
        return feeds, n_rows, failures, labels

    def _numeric(
        self,
        plan: _NumericPlan,
        values: Any,
        index: Any,
        failures: Failures,
        fitted: bool,
        checks: bool,
        tally: Tally | None,
    ) -> np.ndarray:
        f = plan.feature
        name = f.name
        type_check = "dtype('Int64')" if f.dtype == "int" else "dtype('float64')"
        values = _objects(values)
        arr = _numeric_array(values)
        unreadable: np.ndarray | None = None  # None: every value read as a number
        if arr is None:  # some values are not numbers: find them one by one
            arr = np.empty(len(values), dtype=np.float64)
            unreadable = np.zeros(len(values), dtype=bool)
            for k, v in enumerate(values):
                if is_missing(v):
                    arr[k] = np.nan
                elif isinstance(v, bool | np.bool_) or not isinstance(v, _NUMBER_TYPES):
                    failures.add(name, type_check, v, index[k])
                    arr[k] = np.nan
                    unreadable[k] = True
                else:
                    try:
                        arr[k] = float(v)
                    except OverflowError:  # an int no float64 can hold
                        failures.add(name, type_check, v, index[k])
                        arr[k] = np.nan
                        unreadable[k] = True
        # each check below scans the column only when the extent says it can fail
        lo, hi, has_nan = _extent(arr)
        nan = np.isnan(arr) if has_nan else None
        has_inf = lo == -math.inf or hi == math.inf
        with np.errstate(invalid="ignore"):
            if f.dtype == "int":
                # ±inf is no integer either: a dtype failure, as Int64 cannot hold it
                frac = None
                if not (_INT64_MIN <= lo and hi < _INT64_END):
                    frac = (arr < _INT64_MIN) | (arr >= _INT64_END)
                if not (isinstance(values, np.ndarray) and values.dtype.kind in "iu"):
                    fractions = arr != np.floor(arr)  # numbers read from ints are whole
                    frac = fractions if frac is None else frac | fractions
                if frac is not None:
                    if nan is not None:
                        frac &= ~nan
                    for i in np.flatnonzero(frac):
                        failures.add(name, type_check, _plain(values[i]), index[i])
                    unreadable = frac if unreadable is None else unreadable | frac
            if checks:
                self._numeric_checks(
                    plan, arr, index, failures, fitted, (lo, hi), nan, unreadable
                )
            if tally is not None and plan.soft is not None and fitted:
                soft_lo, soft_hi = plan.soft
                if not (soft_lo <= lo and hi <= soft_hi):
                    outside = int(np.count_nonzero((arr < soft_lo) | (arr > soft_hi)))
                    if outside:
                        tally.add(tally.outside_observed, name, outside)
        if (
            plan.onnx_int
            and not (has_nan or has_inf)
            and (unreadable is None or not unreadable.any())
        ):
            return arr.astype(np.int64).reshape(-1, 1)
        return arr.reshape(
            -1, 1
        )  # an int64 input with failures: split() casts back what passes

    def _numeric_checks(
        self,
        plan: _NumericPlan,
        arr: np.ndarray,
        index: Any,
        failures: Failures,
        fitted: bool,
        extent: tuple[float, float],
        nan: np.ndarray | None,
        unreadable: np.ndarray | None,
    ) -> None:
        """The value checks of a numeric column, in pandera's order.

        `extent` is the range of the non-NaN values, `nan` their mask (None: no NaN)
        and `unreadable` the values that failed their type check (None: none did).
        """
        name = plan.feature.name
        if not plan.nullable and nan is not None:
            bad = nan if unreadable is None else nan & ~unreadable
            for i in np.flatnonzero(bad):
                failures.add(name, "not_nullable", None, index[i])
        lo, hi = extent
        # NaN compares false, so only the unreadable values need masking
        ok = None if unreadable is None else ~unreadable
        as_read = int if plan.feature.dtype == "int" else float  # what pandera sees
        for check, check_lo, check_hi in (
            plan.ranges if fitted else self._declared_ranges(plan)
        ):
            if check_lo <= lo and hi <= check_hi:
                continue
            bad = (arr < check_lo) | (arr > check_hi)
            for i in np.flatnonzero(bad if ok is None else ok & bad):
                failures.add(name, check, as_read(arr[i]), index[i])
        if plan.finite and (lo == -math.inf or hi == math.inf):
            for sign, check in ((1, "less_than(inf)"), (-1, "greater_than(-inf)")):
                bad = arr == sign * math.inf
                for i in np.flatnonzero(bad if ok is None else ok & bad):
                    failures.add(name, check, sign * math.inf, index[i])

    def _declared_ranges(self, plan: _NumericPlan) -> list[tuple[str, float, float]]:
        """Before fitting only the declared hard bounds apply."""
        bounds = plan.feature.bounds
        if bounds is None:
            return []
        return plan.ranges[:1]

    def _categorical(
        self,
        plan: _CategoricalPlan,
        values: Any,
        index: Any,
        failures: Failures,
        fitted: bool,
        checks: bool,
        tally: Tally | None,
        codes: dict[str, Coded],
    ) -> np.ndarray:
        name = plan.feature.name
        allowed = plan.allowed if fitted and checks else None
        members = allowed
        if members is None and tally is not None and fitted and plan.counted:
            members = plan.known  # only counted: unseen categories pass
        if len(values) > 64:
            fast = _strings_fast(values, members)
            if fast is not None:
                out, missing, outside, coded = fast
                if coded is not None:
                    codes[name] = coded
                if checks and not plan.nullable:
                    for i in np.flatnonzero(missing):
                        failures.add(name, "not_nullable", None, index[i])
                if outside is not None and allowed is not None:
                    for i in np.flatnonzero(outside):
                        failures.add(name, plan.isin, out[i], index[i])
                elif outside is not None and tally is not None and outside.any():
                    tally.add(tally.unseen, name, int(np.count_nonzero(outside)))
                return out.reshape(-1, 1)
        values = _objects(values)
        out = np.empty((len(values), 1), dtype=object)
        unseen = 0
        for k, v in enumerate(values):
            if isinstance(v, str) and v != MISSING:
                if not utf8_ok(v):  # onnxruntime cannot read it: refuse, never crash
                    failures.add(name, "utf8", v, index[k])
                    out[k, 0] = MISSING
                    continue
                if allowed is not None and v not in allowed:
                    failures.add(name, plan.isin, v, index[k])
                elif fitted and tally is not None and v not in plan.known:
                    unseen += 1
                out[k, 0] = str(v)
            elif is_missing(v) or v == MISSING:
                if checks and not plan.nullable:
                    failures.add(name, "not_nullable", None, index[k])
                out[k, 0] = MISSING
            else:
                failures.add(name, "dtype('str')", v, index[k])
                out[k, 0] = MISSING
        if unseen and tally is not None:
            tally.add(tally.unseen, name, unseen)
        return out

    # -- the single-row path --------------------------------------------------------
    def one_row(
        self, record: Mapping[str, Any], tally: Tally | None = None
    ) -> dict[str, np.ndarray] | None:
        """Read one clean record without numpy reductions; None means "use the full path".

        This is the single-row hot path. It accepts only what the full path accepts
        without a failure (missing values included, where the column is nullable) and
        defers everything else (wrong types, absent or undeclared columns, unknown
        categories, out-of-range numbers) to the full path, which builds the failure
        table. Both paths give the same feeds, which a property test checks.
        """
        if len(record) != len(self._declared) or not self._declared.issuperset(record):
            if self.features.strict or tally is None:
                return None
        feeds: dict[str, np.ndarray] = {}
        notes: list[tuple[dict[str, int], str]] = []
        for plan in self._plans:
            name = plan.feature.name
            v = record.get(name, _ABSENT)
            t = type(v)
            if isinstance(plan, DatetimePlan):
                if v is _ABSENT:
                    return None
                secs = _datetime_seconds(v, plan.utc)
                if isinstance(secs, str) or (secs != secs and not plan.nullable):
                    return None  # the full path reports it
                feeds[name] = np.array([[secs]], dtype=np.float64)
                continue
            if isinstance(plan, _CategoricalPlan):
                if t is str and not v.isascii() and not utf8_ok(v):
                    return None  # the full path reports it
                if t is not str or v == MISSING:
                    if v is _ABSENT or not plan.nullable or not is_missing(v):
                        return None
                    v = MISSING
                elif plan.allowed is not None:
                    if v not in plan.allowed:
                        return None
                elif tally is not None and plan.counted and v not in plan.known:
                    notes.append((tally.unseen, name))
                feeds[name] = np.array([[v]], dtype=object)
                continue
            if t is not float and t is not int:
                if v is _ABSENT or isinstance(v, bool | np.bool_):
                    return None
                if isinstance(v, np.integer | np.floating):
                    v = v.item()
                elif plan.nullable and is_missing(v):
                    v = math.nan
                else:
                    return None
            if v != v:
                if not plan.nullable:
                    return None
                feeds[name] = np.array([[math.nan]], dtype=np.float64)
                continue
            if (
                v in _INFINITIES and plan.finite
            ) or not plan.fast_lo <= v <= plan.fast_hi:
                return None
            if plan.feature.dtype == "int":
                # through float64, exactly as the batch path and scikit-learn read it
                fv = float(v)
                if not fv.is_integer() or not _INT64_MIN <= fv < _INT64_END:
                    return None
                arr = np.array([[fv]], dtype=np.float64)
                feeds[name] = arr.astype(np.int64) if plan.onnx_int else arr
            else:
                feeds[name] = np.array([[v]], dtype=np.float64)
            if (
                tally is not None
                and plan.soft is not None
                and not plan.soft[0] <= v <= plan.soft[1]
            ):
                notes.append((tally.outside_observed, name))
        if tally is not None:
            tally.rows += 1
            for bucket, key in notes:
                tally.add(bucket, key)
            for key in record:
                if key not in self._declared:
                    tally.add(tally.extra_columns, str(key))
        return feeds
