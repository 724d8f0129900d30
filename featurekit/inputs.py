"""Turn raw records into the typed columns the model sees, identically in training and serving.

This is the single place where input values are interpreted. The scikit-learn pipeline
(`featurekit.pipeline.Inputs`), the parity certificate and `serving.Predictor` all call
`Columns.coerce`, so no runtime can read a value differently from another.

Rules
-----
- A numeric column takes ints and floats. bools and strings (even ``"3.5"``) are
  rejected, never parsed.
- A categorical column takes strings. Numbers and bools are rejected.
- None, NaN, ``pd.NA`` and ``NaT`` are missing. A missing string becomes `MISSING`,
  a sentinel the graph's imputer recognises: onnxruntime would otherwise read None
  in a string tensor as an ordinary unknown category.
- ±inf is rejected; NaN only where the declaration accepts missing values.

This module belongs to the light core and imports no scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ContractError
from .spec import Categorical, FeatureSet, Numeric

__all__ = ["MISSING", "Columns"]

#: What a missing categorical value becomes, in both runtimes.
MISSING = "\x00featurekit:missing"
_NUMBER_TYPES = (int, float, np.integer, np.floating)
_ABSENT = object()
_INFINITIES = (math.inf, -math.inf)
_INT64_MIN, _INT64_END = -(2**63), 2**63


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(math.isnan(value))
    # pd.NA and pd.NaT: compare by type name so this module need not import pandas
    return type(value).__name__ in ("NAType", "NaTType")


@dataclass
class _Failures:
    """Collects every failure, then raises once."""

    rows: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def add(self, column: str, check: str, case: Any, index: Any) -> None:
        self.rows.append((column, check, case, index))

    def raise_if_any(self, name: str, version: int, n_rows: int) -> None:
        if not self.rows:
            return
        import pandas as pd

        table = pd.DataFrame(
            self.rows, columns=["column", "check", "failure_case", "index"]
        )
        bad_rows = {r[3] for r in self.rows if r[3] is not None}
        absent = [r[0] for r in self.rows if r[1] == "column_in_dataframe"]
        rest = [r for r in self.rows if r[1] != "column_in_dataframe"]
        parts = []
        if absent:
            parts.append(f"missing columns {absent!r}")
        for column, check, case, index in rest[:5]:
            where = "" if index is None else f" (row {index!r})"
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
class Columns:
    """How each raw column is read: its type, nullability, bounds and known categories.

    Parameters
    ----------
    features : FeatureSet
        The declarations.
    categories : dict of str to list of str, optional
        Fitted categories of the columns whose unknown policy is "error". A value
        outside them is rejected. Left empty while fitting.
    domains : dict of str to (lo, hi), optional
        Raw ranges outside which the model cannot compute (its float32 trees would
        see infinity), found at export by `featurekit.precision.float32_domain`.

    Examples
    --------
    >>> import featurekit as fk
    >>> cols = Columns(fk.FeatureSet("demo", [fk.Numeric("age"), fk.Categorical("c")]))
    >>> feeds, n = cols.coerce({"age": 31, "c": "a"})
    >>> feeds["age"], feeds["c"]
    (array([[31.]]), array([['a']], dtype=object))
    """

    features: FeatureSet
    categories: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sets = {
            f.name: frozenset(self.categories.get(f.name, ()))
            for f in self.features.features
            if isinstance(f, Categorical)
            and f.unknown == "error"
            and f.name in self.categories
        }
        # per feature, what the single-row path checks: None for categoricals, else
        # (lo, hi, integer dtype or None)
        self._plan: list[tuple[Numeric | Categorical, tuple[Any, Any, Any] | None]] = []
        for f in self.features.features:
            if isinstance(f, Categorical):
                self._plan.append((f, None))
                continue
            lo, hi = f.bounds or (None, None)
            if f.name in self.domains:
                dlo, dhi = self.domains[f.name]
                lo = dlo if lo is None else max(lo, dlo)
                hi = dhi if hi is None else min(hi, dhi)
            if f.dtype == "int":
                as_int = np.int64 if self.onnx_type(f) == "int64" else np.float64
            else:
                as_int = None
            self._plan.append((f, (lo, hi, as_int)))

    def onnx_type(self, feature: Numeric | Categorical) -> str:
        """The element type of the graph input for `feature`."""
        if isinstance(feature, Categorical):
            return "string"
        if feature.dtype == "int" and not feature.accepts_missing:
            return "int64"
        return "double"

    # -- entry point ----------------------------------------------------------------
    def coerce(
        self, data: Any, *, check_categories: bool = True
    ) -> tuple[dict[str, np.ndarray], int]:
        """Read `data` into one ``(n, 1)`` array per declared column.

        Parameters
        ----------
        data : DataFrame, list of dict, or dict
            The records. Extra columns are ignored.
        check_categories : bool
            Reject categories outside the fitted ones where the policy is "error".

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
            fast = self._one(data)
            if fast is not None:
                return fast, 1
        columns, index, n_rows = _split(data, self.features.columns)
        failures = _Failures()
        feeds: dict[str, np.ndarray] = {}
        for feature in self.features.features:
            values = columns.get(feature.name, _ABSENT)
            if values is _ABSENT:
                failures.add(feature.name, "column_in_dataframe", feature.name, None)
                continue
            if isinstance(feature, Numeric):
                feeds[feature.name] = self._numeric(feature, values, index, failures)
            else:
                feeds[feature.name] = self._categorical(
                    feature, values, index, failures, check_categories
                )
        failures.raise_if_any(self.features.name, self.features.version, n_rows)
        return feeds, n_rows

    def _one(self, record: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """Read one clean record without numpy reductions; None means "use the full path".

        This is the single-row hot path. It accepts only what the full path accepts
        without a failure (missing values included, where the column is nullable) and
        defers everything else (wrong types, absent columns, unknown categories,
        out-of-range numbers) to the full path, which builds the failure table. Both
        paths give the same feeds, which a property test checks.
        """
        feeds: dict[str, np.ndarray] = {}
        for feature, plan in self._plan:
            v = record.get(feature.name, _ABSENT)
            t = type(v)
            if plan is None:  # categorical
                if t is not str:
                    if (
                        v is _ABSENT
                        or not feature.accepts_missing
                        or not _is_missing(v)
                    ):
                        return None
                    v = MISSING
                else:
                    known = self._sets.get(feature.name)
                    if known is not None and v not in known:
                        return None
                feeds[feature.name] = np.array([[v]], dtype=object)
                continue
            if t is not float and t is not int:
                if v is _ABSENT or isinstance(v, bool | np.bool_):
                    return None
                if isinstance(v, np.integer | np.floating):
                    v = v.item()
                elif feature.accepts_missing and _is_missing(v):
                    v = math.nan
                else:
                    return None
            if v != v:
                if not feature.accepts_missing:
                    return None
                feeds[feature.name] = np.array([[math.nan]], dtype=np.float64)
                continue
            if v in _INFINITIES:
                return None
            lo, hi, as_int = plan
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return None
            if as_int is not None:
                # through float64, exactly as the batch path and scikit-learn read it
                fv = float(v)
                if not fv.is_integer() or not _INT64_MIN <= fv < _INT64_END:
                    return None
                feeds[feature.name] = np.array([[fv]], dtype=np.float64).astype(as_int)
            else:
                feeds[feature.name] = np.array([[v]], dtype=np.float64)
        return feeds

    # -- per kind -------------------------------------------------------------------
    def _numeric(
        self, feature: Numeric, values: Any, index: Any, failures: _Failures
    ) -> np.ndarray:
        name = feature.name
        arr = _numeric_array(values)
        if arr is None:  # some values are not numbers: find them one by one
            out = np.empty(len(values), dtype=np.float64)
            for k, v in enumerate(values):
                if _is_missing(v):
                    out[k] = np.nan
                elif isinstance(v, bool | np.bool_) or not isinstance(v, _NUMBER_TYPES):
                    failures.add(name, f"dtype('{feature.dtype}')", v, index[k])
                    out[k] = np.nan
                else:
                    out[k] = float(v)
            arr = out
            typed_ok = False
        else:
            typed_ok = True
        nan = np.isnan(arr)
        if typed_ok and nan.any() and not feature.accepts_missing:
            for i in np.flatnonzero(nan):
                failures.add(name, "not_nullable", None, index[i])
        elif not typed_ok and not feature.accepts_missing:
            for i in np.flatnonzero(nan):
                if _is_missing(values[i]):
                    failures.add(name, "not_nullable", None, index[i])
        with np.errstate(invalid="ignore"):
            inf = np.isinf(arr)
            if inf.any():
                for i in np.flatnonzero(inf):
                    failures.add(name, "finite", float(arr[i]), index[i])
            if feature.bounds is not None:
                lo, hi = feature.bounds
                out_of = np.zeros(arr.shape, dtype=bool)
                if lo is not None:
                    out_of |= arr < lo
                if hi is not None:
                    out_of |= arr > hi
                out_of &= ~inf
                for i in np.flatnonzero(out_of):
                    failures.add(
                        name, f"in_range({lo}, {hi})", _plain(values[i]), index[i]
                    )
            if name in self.domains:
                # beyond these, the model's float32 trees would see inf: sklearn refuses
                dlo, dhi = self.domains[name]
                outside = ~inf & ((arr < dlo) | (arr > dhi))
                for i in np.flatnonzero(outside):
                    failures.add(
                        name,
                        f"in_model_range({dlo:.6g}, {dhi:.6g})",
                        _plain(values[i]),
                        index[i],
                    )
            integral = True
            if feature.dtype == "int":
                frac = ~nan & ~inf & (arr != np.floor(arr))
                frac |= ~nan & ~inf & ((arr < _INT64_MIN) | (arr >= _INT64_END))
                for i in np.flatnonzero(frac):
                    failures.add(name, "dtype('int')", _plain(values[i]), index[i])
                integral = not (frac.any() or nan.any() or inf.any())
        if self.onnx_type(feature) == "int64" and integral:
            return arr.astype(np.int64).reshape(-1, 1)
        return arr.reshape(-1, 1)  # only reached for int64 columns when failures exist

    def _categorical(
        self,
        feature: Categorical,
        values: Any,
        index: Any,
        failures: _Failures,
        check_categories: bool,
    ) -> np.ndarray:
        name = feature.name
        known = (
            self._sets.get(name)
            if check_categories and feature.unknown == "error"
            else None
        )
        if isinstance(values, np.ndarray) and len(values) > 64:
            fast = _strings_fast(values)
            if fast is not None:
                out, missing = fast
                if missing.any() and not feature.accepts_missing:
                    for i in np.flatnonzero(missing):
                        failures.add(name, "not_nullable", None, index[i])
                if known is not None:
                    import pandas as pd

                    unknown = ~pd.Series(out).isin(known).to_numpy() & ~missing
                    for i in np.flatnonzero(unknown):
                        failures.add(name, "isin(categories)", out[i], index[i])
                return out.reshape(-1, 1)
        out = np.empty((len(values), 1), dtype=object)
        for k, v in enumerate(values):
            if isinstance(v, str):
                if known is not None and v not in known:
                    failures.add(name, "isin(categories)", v, index[k])
                out[k, 0] = str(v)
            elif _is_missing(v):
                if not feature.accepts_missing:
                    failures.add(name, "not_nullable", None, index[k])
                out[k, 0] = MISSING
            else:
                failures.add(name, "dtype('str')", v, index[k])
                out[k, 0] = MISSING
        return out


def _strings_fast(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Vectorised path for a large object column: (strings, missing mask), or None.

    Returns None when some value is neither a string nor missing, so that the
    row-by-row path can report each one.
    """
    import pandas as pd

    missing = pd.isna(values)
    present = values[~missing]
    if len(present) and pd.api.types.infer_dtype(present, skipna=False) != "string":
        return None
    out = values.astype(object, copy=True)
    out[missing] = MISSING
    return out, missing


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
            if v is None or t is bool:
                return None
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
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf" and getattr(dtype, "na_value", None) is None:
        return series.to_numpy()
    if kind in "iuf":  # pandas nullable Int64 / Float64
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "b" and getattr(dtype, "na_value", None) is None:
        return series.to_numpy(dtype=object)
    return series.to_numpy(dtype=object)
