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

This module belongs to the light core and imports no scikit-learn.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurekit.contract.schema import Contract
from featurekit.declare.columns import Categorical, Numeric
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ContractError
from featurekit.missing import MISSING, is_missing

__all__ = ["Columns", "Tally"]

_NUMBER_TYPES = (int, float, np.integer, np.floating)
_ABSENT = object()
_INFINITIES = (math.inf, -math.inf)
_INT64_MIN, _INT64_END = -(2**63), 2**63


def failure_table(rows: list[tuple[str, str, Any, Any]]) -> Any:
    """The failure table: column, check, failure_case, index.

    ``failure_case`` stays an object column, so that values keep their own type
    (an int beyond 2**53 must not turn into a float because a float failed too).
    """
    import pandas as pd

    return pd.DataFrame(
        {
            "column": [r[0] for r in rows],
            "check": [r[1] for r in rows],
            "failure_case": pd.Series([r[2] for r in rows], dtype=object),
            "index": [r[3] for r in rows],
        }
    )


@dataclass
class _Failures:
    """Collects every failure, then raises once."""

    rows: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def add(self, column: str, check: str, case: Any, index: Any) -> None:
        self.rows.append((column, check, case, index))

    def raise_if_any(self, name: str, version: int, n_rows: int) -> None:
        if not self.rows:
            return

        table = failure_table(self.rows)
        bad_rows = {r[3] for r in self.rows if r[3] is not None}
        absent = [r[0] for r in self.rows if r[1] == "column_in_dataframe"]
        extra = [r[0] for r in self.rows if r[1] == "column_in_schema"]
        rest = [
            r
            for r in self.rows
            if r[1] not in ("column_in_dataframe", "column_in_schema")
        ]
        parts = []
        if absent:
            parts.append(f"missing columns {absent!r}")
        if extra:
            parts.append(f"undeclared columns {extra!r} (the contract is strict)")
        for column, check, case, index in rest[:5]:
            where = "" if index is None else f" (row {index!r})"
            if check.startswith("isin([") and len(check) > 60:
                check = "isin([...])"  # the table keeps the full list
            parts.append(f"{column!r} {check} failed for {case!r}{where}")
        more = f"; and {len(rest) - 5} more" if len(rest) > 5 else ""
        head = (
            f"{len(bad_rows)} of {n_rows} rows failed"
            if bad_rows
            else "The input failed"
        )
        raise ContractError(
            f"{head} the contract of {name!r} v{version}: {'; '.join(parts)}{more}.",
            table,
        )


@dataclass
class Tally:
    """Counters of what the contract accepted but noticed; they add across calls.

    Attributes
    ----------
    rows : int
        Rows read.
    outside_observed : dict of str to int
        Values outside the observed (soft) range, per column.
    unseen : dict of str to int
        Categories not seen in training, per column (policies "ignore" and "other").
    extra_columns : dict of str to int
        Undeclared columns, counted once per call that carried them.
    """

    rows: int = 0
    outside_observed: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    extra_columns: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n


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


@dataclass
class _DatetimePlan:
    feature: Any  # featurekit.declare.computed.Datetime
    nullable: bool
    utc: bool


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
        self._plans: list[_NumericPlan | _CategoricalPlan | _DatetimePlan] = []
        for f in self.features.inputs:
            if f.kind == "datetime":
                self._plans.append(
                    _DatetimePlan(f, f.accepts_missing, f.timezone == "UTC")
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
            fast = self._one(data, tally)
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
        import pandas as pd

        feeds, n, failures, index = self._run(data, True, tally, checks=True)
        table = failure_table(failures.rows)
        passed = np.ones(n, dtype=bool)
        if any(r[3] is None for r in failures.rows):
            passed[:] = False
        else:
            labels = pd.Index(index)
            bad = labels.isin([r[3] for r in failures.rows])
            passed &= ~np.asarray(bad, dtype=bool)
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

        This is what `featurekit.contract.schema.Contract.validate` hands to pandera.
        """
        import pandas as pd

        feeds, n, failures, index = self._run(data, False, None, checks=False)
        typed: dict[str, Any] = {}
        for plan in self._plans:
            name = plan.feature.name
            if name not in feeds:
                continue
            col = feeds[name][:, 0]
            if isinstance(plan, _DatetimePlan):
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
        self, data: Any, fitted: bool, tally: Tally | None, *, checks: bool
    ) -> tuple[dict[str, np.ndarray], int, _Failures, Any]:
        columns, index, n_rows = _split(data, self.features.columns)
        failures = _Failures()
        extra = self._extra_columns(data)
        if extra and checks and self.features.strict:
            for col in extra:
                failures.add(col, "column_in_schema", col, None)
        elif extra and tally is not None:
            for col in extra:
                tally.add(tally.extra_columns, col)
        feeds: dict[str, np.ndarray] = {}
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
            elif isinstance(plan, _DatetimePlan):
                feeds[plan.feature.name] = _datetimes(
                    plan, values, index, failures, checks
                )
            else:
                feeds[plan.feature.name] = self._categorical(
                    plan, values, index, failures, fitted, checks, tally
                )
        if tally is not None:
            tally.rows += n_rows
        return feeds, n_rows, failures, index

    def _numeric(
        self,
        plan: _NumericPlan,
        values: Any,
        index: Any,
        failures: _Failures,
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
                    arr[k] = float(v)
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
        failures: _Failures,
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
        failures: _Failures,
        fitted: bool,
        checks: bool,
        tally: Tally | None,
    ) -> np.ndarray:
        name = plan.feature.name
        allowed = plan.allowed if fitted and checks else None
        members = allowed
        if members is None and tally is not None and fitted and plan.counted:
            members = plan.known  # only counted: unseen categories pass
        if len(values) > 64:
            fast = _strings_fast(values, members)
            if fast is not None:
                out, missing, outside = fast
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
    def _one(
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
            if isinstance(plan, _DatetimePlan):
                if v is _ABSENT:
                    return None
                secs = _datetime_seconds(v, plan.utc)
                if isinstance(secs, str) or (secs != secs and not plan.nullable):
                    return None  # the full path reports it
                feeds[name] = np.array([[secs]], dtype=np.float64)
                continue
            if isinstance(plan, _CategoricalPlan):
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


_EPOCH = _dt.datetime(1970, 1, 1)


def _datetimes(
    plan: _DatetimePlan, values: Any, index: Any, failures: _Failures, checks: bool
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


def _strings_fast(
    values: Any, members: frozenset[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """Vectorised path for a large string column: (strings, missing, outside), or None.

    ``outside`` marks the present values not in `members` (None when `members` is).
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
    out = values.astype(object, copy=True)
    out[missing] = MISSING
    if members is None:
        return out, missing, None
    return out, missing, ~pd.Series(out).isin(members).to_numpy() & ~missing


def _strings_arrow(
    values: Any, members: frozenset[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
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
    is_missing = np.asarray(words == MISSING, dtype=bool)
    words[is_missing] = MISSING
    out = words.take(codes)
    missing = is_missing.take(codes)
    if members is None:
        return out, missing, None
    is_outside = np.array([w not in members for w in words], dtype=bool) & ~is_missing
    return out, missing, is_outside.take(codes)


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
    return np.array(values, dtype=np.float64) if values else np.empty(0, np.float64)


def _split(data: Any, wanted: list[str]) -> tuple[dict[str, Any], Any, int]:
    """Return (columns by name, row labels, row count) for any accepted input shape."""
    if isinstance(data, Mapping):
        data = [data]
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame
        cols: dict[str, Any] = {}
        present = set(data.columns)
        for name in wanted:
            if name in present:
                cols[name] = _frame_column(data[name])
        return cols, data.index, len(data)
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        n = len(data)
        for i, rec in enumerate(data):
            if not isinstance(rec, Mapping):
                raise ContractError(
                    f"Record {i} is a {type(rec).__name__}, not a mapping of column "
                    "to value; send a dict per row.",
                )
        cols = {}
        for name in wanted:
            column = [rec.get(name, _ABSENT) for rec in data]
            if n and all(v is _ABSENT for v in column):
                continue
            cols[name] = [None if v is _ABSENT else v for v in column]
        return cols, range(n), n
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
