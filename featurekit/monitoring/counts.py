"""Window counters over a reference profile's bins: `Counts`, which add up across replicas.

Single rows increment lists and batches add numpy arrays; `Counts.from_frame` counts
offline data the same way the live monitor counts scored rows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurekit.missing import is_missing
from featurekit.monitoring import joint as _joint
from featurekit.monitoring.batched import (
    ONE_BLAS_THREAD,
    binned,
    coded,
    joint_columns,
    top_class,
)
from featurekit.monitoring.joint import JointSums
from featurekit.monitoring.profile import OUTPUT_LABEL, OUTPUT_SCORE

__all__ = ["Counts", "numeric_values"]


@dataclass
class _Bins:
    """Counters of one feature.

    Single rows increment a list (a third of the cost of a numpy element); batches add
    into a numpy array; `counts` folds them together.
    """

    singles: list[int]  # one per bin (numeric) or per known category
    missing: int = 0
    rows: int = 0
    total: float = 0.0  # sum of finite values (numeric) or of confidence (output label)
    sumsq: float = 0.0
    valid: int = 0
    unseen: int = 0
    batches: np.ndarray | None = None

    @property
    def counts(self) -> list[int]:
        if self.batches is not None:
            self.singles = (np.asarray(self.singles) + self.batches).tolist()
            self.batches = None
        return self.singles

    @counts.setter
    def counts(self, value: list[int]) -> None:
        self.singles, self.batches = list(value), None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts), **{k: getattr(self, k) for k in _FIELDS}}


_FIELDS = ("missing", "rows", "total", "sumsq", "valid", "unseen")
#: From this many rows the multivariate row runs with BLAS at one thread (below it,
#: setting and restoring the limit would cost more than BLAS's threads)
_THIN_BLAS_FROM = 4096
_INTEGERS = ("missing", "rows", "valid", "unseen")
_SUMS = ("total", "sumsq")
#: Counters beyond this lose integer precision in float64 statistics.
_MAX_COUNT = 2**53


def _count(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_COUNT:
        raise ValueError(f"The snapshot's {what} must be whole numbers in [0, 2**53].")
    return value


def _bins(counts: list[int], fields: dict[str, int], sums: dict[str, float]) -> _Bins:
    return _Bins(
        counts,
        missing=fields["missing"],
        rows=fields["rows"],
        valid=fields["valid"],
        unseen=fields["unseen"],
        total=sums["total"],
        sumsq=sums["sumsq"],
    )


def _finite(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(f"The snapshot's {what} must be a finite number.")
    return float(value)


@dataclass
class Counts:
    """Counters over a profile's bins; they add up, so windows merge across replicas.

    Examples
    --------
    >>> from featurekit.monitoring.profile import build_profile
    >>> p = build_profile({"x": np.arange(100.0)}, {})
    >>> c = Counts.empty(p)
    >>> c.observe({"x": np.array([[5.0], [np.nan]])})
    >>> c.rows, c.bins["x"].missing
    (2, 1)
    """

    profile: dict[str, Any] = field(repr=False)
    bins: dict[str, _Bins] = field(default_factory=dict)
    rows: int = 0
    #: the multivariate signal's sums (`featurekit.monitoring.joint`)
    joint: JointSums = field(default_factory=JointSums)

    @classmethod
    def empty(cls, profile: dict[str, Any]) -> Counts:
        out = cls(profile)
        for name, f in profile["features"].items():
            size = (
                len(f["edges"]) + 1 if f["kind"] == "numeric" else len(f["categories"])
            )
            out.bins[name] = _Bins([0] * size)
        return out

    def _plan(self) -> list[tuple[str, _Bins, Any, Any, Any]]:
        """Per input feature: name, bins, edges (list, array) or category index."""
        plan: list[tuple[str, _Bins, Any, Any, Any]] = []
        for name, f in self.profile["features"].items():
            if f["output"]:
                continue
            if f["kind"] == "numeric":
                edges = f["edges"]
                plan.append((name, self.bins[name], edges, np.asarray(edges), None))
            else:
                index = {c: i for i, c in enumerate(f["categories"])}
                plan.append((name, self.bins[name], None, None, index))
        return plan

    # the live path: feeds as the graph sees them, outputs as it answers
    def observe(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Count scored rows: `feeds` are the graph inputs, `outputs` its answers."""
        n = next(iter(feeds.values())).shape[0] if feeds else 0
        if n == 0:
            return
        self.rows += n
        plan = self.__dict__.get("_compiled")
        if plan is None:
            plan = self.__dict__["_compiled"] = self._plan()
        if n == 1:  # a single row: plain Python is several times faster than numpy
            for name, b, edges, _, index in plan:
                arr = feeds.get(name)
                if arr is not None:
                    _one(b, arr[0, 0], edges, index)
        else:
            # string columns the contract read from Arrow come with their codes
            by_code = coded(feeds, n)
            for name, b, _, edges, index in plan:
                arr = feeds.get(name)
                if arr is None:
                    continue
                c = by_code.get(name)
                if c is not None and index is not None:
                    _count_codes(b, c.codes, c.words, index)
                else:
                    _many(b, arr[:, 0], edges, index)
        joint = self.profile.get("joint")
        if joint is not None:
            _observe_joint(joint, self.joint, joint_columns(feeds, n), n)
        if outputs:
            self._outputs(outputs, n)

    def _outputs(self, outputs: Mapping[str, np.ndarray], n: int) -> None:
        score_bins = self.bins.get(OUTPUT_SCORE)
        edges = self.profile["features"][OUTPUT_SCORE]["edges"] if score_bins else None
        if "probabilities" in outputs:
            proba = outputs["probabilities"]
            label = self.bins.get(OUTPUT_LABEL)
            if n == 1:
                row = proba[0].tolist()
                top = max(row)
                if label is not None:
                    label.singles[row.index(top)] += 1
                    label.rows += 1
                    label.total += top
                if score_bins is not None:
                    _one(score_bins, row[1] if len(row) == 2 else top, edges, None)
                return
            best, picked = top_class(proba)
            if label is not None:
                _add(label, np.bincount(picked, minlength=len(label.singles)))
                label.rows += n
                label.total += float(best.sum())
            score = proba[:, 1] if proba.shape[1] == 2 else best
        else:
            score = outputs["prediction"]
        if score_bins is not None:
            if n == 1:
                _one(score_bins, float(score[0]), edges, None)
            else:
                _many(
                    score_bins, np.asarray(score, np.float64), np.asarray(edges), None
                )

    # offline: a whole DataFrame at once
    @classmethod
    def from_frame(cls, profile: dict[str, Any], frame: Any) -> Counts:
        """Count a DataFrame's columns over the profile's bins (outputs excluded)."""
        out = cls.empty(profile)
        out.rows = len(frame)
        for name, b, _, edges, index in out._plan():
            if name not in frame.columns:
                b.rows = b.missing = len(frame)
            elif edges is not None:
                _many(b, numeric_values(frame[name]), edges, None)
            else:
                b.rows += len(frame)
                _count_series(b, frame[name], index)
        joint = profile.get("joint")
        if joint is not None and len(frame):
            names = {name for name, _, _ in joint["numeric"]}
            columns = {
                name: numeric_values(frame[name]) if name in names else frame[name]
                for name in [*names, *(n for n, _ in joint["categorical"])]
                if name in frame.columns
            }
            _observe_joint(joint, out.joint, columns, len(frame))
        return out

    def merge(self, other: Counts) -> Counts:
        """Counts of both (same profile): what replicas add up to."""
        out = Counts.empty(self.profile)
        out.rows = self.rows + other.rows
        out.joint = self.joint.plus(other.joint)
        for name, b in out.bins.items():
            x, y = self.bins[name], other.bins[name]
            b.counts = [i + j for i, j in zip(x.counts, y.counts, strict=True)]
            for attr in _FIELDS:
                setattr(b, attr, getattr(x, attr) + getattr(y, attr))
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (without the profile)."""
        return {
            "rows": self.rows,
            "bins": {n: b.to_dict() for n, b in self.bins.items()},
            "joint": self.joint.to_dict(),
        }

    @classmethod
    def from_dict(cls, profile: dict[str, Any], data: Mapping[str, Any]) -> Counts:
        """The inverse of `to_dict`, checked against `profile`'s bins.

        Counters from elsewhere (another replica's snapshot) must be whole numbers in
        [0, 2**53], sums finite, and every feature's bins, missing and unseen counts
        must add up to the rows counted; anything else is refused (ValueError), so a
        snapshot can neither stall windows nor break the statistics.
        """
        out = cls.empty(profile)
        out.rows = _count(data.get("rows"), "rows")
        bins = data.get("bins")
        if not isinstance(bins, Mapping) or set(bins) != set(out.bins):
            raise ValueError("The snapshot's features do not match the profile's.")
        for name, b in bins.items():
            if not isinstance(b, Mapping) or not isinstance(b.get("counts"), list):
                raise ValueError(f"The snapshot's bins for {name!r} are malformed.")
            counts = [_count(c, f"{name!r} counts") for c in b["counts"]]
            if len(counts) != len(out.bins[name].counts):
                raise ValueError(
                    f"The snapshot's bins for {name!r} do not match the profile."
                )
            fields = {k: _count(b.get(k), f"{name!r} {k}") for k in _INTEGERS}
            sums = {k: _finite(b.get(k), f"{name!r} {k}") for k in _SUMS}
            if sum(counts) + fields["missing"] + fields["unseen"] != fields["rows"]:
                raise ValueError(
                    f"The snapshot's counts for {name!r} do not add up to its rows."
                )
            # outputs count the scored rows only: offline, refused rows have none
            scored = profile["features"][name]["output"]
            if (
                fields["rows"] > out.rows
                or (fields["rows"] != out.rows and not scored)
                or fields["valid"] > fields["rows"]
            ):
                raise ValueError(
                    f"The snapshot's rows for {name!r} differ from its total rows."
                )
            out.bins[name] = _bins(counts, fields, sums)
        joint = data.get("joint")  # absent from a replica older than the signal
        if joint is not None:
            if not isinstance(joint, Mapping):
                raise ValueError("The snapshot's joint sums are malformed.")
            rows = _count(joint.get("rows"), "joint rows")
            if rows > out.rows:
                raise ValueError("The snapshot's joint rows exceed its total rows.")
            out.joint = JointSums(
                rows,
                _finite(joint.get("total"), "joint total"),
                _finite(joint.get("sumsq"), "joint sumsq"),
            )
        return out

    def since(self, earlier: Counts) -> Counts:
        """What was counted after `earlier` (same profile): ``self`` minus `earlier`.

        Raises
        ------
        ValueError
            A counter went down: `earlier` is not a past state of these counts.
        """
        out = Counts.empty(self.profile)
        out.rows = self.rows - earlier.rows
        out.joint = self.joint.minus(earlier.joint)
        if out.joint.rows < 0:
            raise ValueError(
                "The counters went down since the last snapshot of this replica; "
                "a replica's snapshots only grow (a restarted replica has a new id)."
            )
        for name, now in self.bins.items():
            then = earlier.bins[name]
            counts = [a - b for a, b in zip(now.counts, then.counts, strict=True)]
            fields = {k: getattr(now, k) - getattr(then, k) for k in _INTEGERS}
            if out.rows < 0 or min(counts, default=0) < 0 or min(fields.values()) < 0:
                raise ValueError(
                    "The counters went down since the last snapshot of this replica; "
                    "a replica's snapshots only grow (a restarted replica has a new id)."
                )
            sums = {k: getattr(now, k) - getattr(then, k) for k in _SUMS}
            out.bins[name] = _bins(counts, fields, sums)
        return out


def _count_codes(
    b: _Bins, codes: np.ndarray, words: np.ndarray, index: dict[str, int]
) -> None:
    """Count a column given as codes into its distinct `words` (code -1: the last).

    Each distinct word is classified once, as `_count_series` classifies a value
    (a known category, missing, or unseen), and the rows by one integer pass.
    """
    k = len(b.singles)
    slots = np.empty(len(words), dtype=np.intp)
    for j, w in enumerate(words.tolist()):
        i = index.get(w) if isinstance(w, str) else None
        slots[j] = i if i is not None else k if is_missing(w, sentinel=True) else k + 1
    found = np.bincount(slots[codes], minlength=k + 2)
    b.rows += len(codes)
    _add(b, found[:k])
    b.missing += int(found[k])
    b.unseen += int(found[k + 1])


def _observe_joint(
    joint: dict[str, Any], sums: JointSums, columns: Mapping[str, Any], n: int
) -> None:
    """`featurekit.monitoring.joint.observe`, a large batch with BLAS at one thread."""
    if n < _THIN_BLAS_FROM:
        _joint.observe(joint, sums, columns, n)
        return
    with ONE_BLAS_THREAD:
        _joint.observe(joint, sums, columns, n)


def _add(b: _Bins, found: np.ndarray) -> None:
    if b.batches is None:
        b.batches = found.astype(np.int64)
    else:
        b.batches += found


def _count_series(b: _Bins, series: Any, index: dict[str, int]) -> None:
    """Count a column's values with pandas' value counts (rows are the caller's)."""
    for v, k in series.value_counts(dropna=False).items():
        i = index.get(v) if isinstance(v, str) else None
        if i is not None:
            b.counts[i] += int(k)
        elif is_missing(v, sentinel=True):
            b.missing += int(k)
        else:
            b.unseen += int(k)


def _one(
    b: _Bins, v: Any, edges: list[float] | None, index: dict[str, int] | None
) -> None:
    b.rows += 1
    if edges is not None:
        v = float(v)
        if v != v:
            b.missing += 1
            return
        b.singles[bisect_right(edges, v)] += 1
        if v - v == 0:  # finite
            b.total += v
            b.sumsq += v * v
            b.valid += 1
        return
    assert index is not None
    i = index.get(v)
    if i is not None:
        b.singles[i] += 1
    elif is_missing(v, sentinel=True):
        b.missing += 1
    else:
        b.unseen += 1


def _many(b: _Bins, col: np.ndarray, edges: Any, index: dict[str, int] | None) -> None:
    b.rows += len(col)
    if edges is not None:
        x = col.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, which is checked next
            total = float(x.sum())
        every, nans = x, 0
        if total - total != 0:  # NaN or inf somewhere: take the careful path
            nan = np.isnan(x)
            nans = int(nan.sum())
            b.missing += nans
            x = x[~nan]
            finite = x[np.isfinite(x)]
            total = float(finite.sum())
        else:
            finite = x
        _add(b, binned(every, x, nans, edges, len(b.singles)))
        b.total += total
        # not `finite @ finite`: BLAS splits a long dot product across its threads,
        # whose wake-up costs milliseconds on a busy machine
        b.sumsq += float(np.einsum("i,i->", finite, finite))
        b.valid += len(finite)
        return
    assert index is not None
    if len(col) <= 512:
        # small batches: one dict lookup per value; unknown values are rare
        codes = [index.get(v, -1) for v in col.tolist()]
        found = np.bincount(
            np.asarray(codes, dtype=np.int64) + 1, minlength=len(b.singles) + 1
        )
        _add(b, found[1:])
        if found[0]:
            for v in col.tolist():
                if v not in index:
                    if is_missing(v, sentinel=True):
                        b.missing += 1
                    else:
                        b.unseen += 1
        return
    import pandas as pd

    _count_series(b, pd.Series(col, dtype=object), index)


def numeric_values(series: Any) -> np.ndarray:
    """float64 values of a column; anything not a number (or a bool) counts as missing."""
    import pandas as pd

    dtype = series.dtype
    if getattr(dtype, "kind", "O") in "iuf":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # type: ignore[no-any-return]
    values = series.to_numpy(dtype=object)
    out = np.array(
        pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64),
        dtype=np.float64,
    )  # a writable copy: pandas may hand back a read-only view
    bools = np.fromiter(
        (isinstance(v, bool | np.bool_) or isinstance(v, str) for v in values),
        bool,
        len(values),
    )
    out[bools] = np.nan
    return out
