"""Contract failures: the failure table, the collector that raises once, the tally.

Every check, compiled or pandera's own, reports through these, so a failure reads the
same wherever it was found.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from featurekit.errors import ContractError

__all__ = ["Failures", "Tally", "failure_table", "one_per_cause"]


_INFINITE = ("less_than(inf)", "greater_than(-inf)")


def one_per_cause(
    rows: list[tuple[str, str, Any, Any]],
) -> list[tuple[str, str, Any, Any]]:
    """The failures with one row per cause: an infinite value is not also out of range.

    Examples
    --------
    >>> one_per_cause([("x", "in_range(0, 1)", float("inf"), 3),
    ...                ("x", "less_than(inf)", float("inf"), 3)])
    [('x', 'less_than(inf)', inf, 3)]
    """
    infinite = {(r[0], r[3]) for r in rows if r[1] in _INFINITE}
    if not infinite:
        return rows
    return [
        r
        for r in rows
        if r[1] in _INFINITE
        or not r[1].startswith("in_range(")
        or (r[0], r[3]) not in infinite
    ]


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80


def _shown(case: Any) -> str:
    """A failure case as a message shows it: NaN as NaN, long values cut short."""
    if isinstance(case, float) and math.isnan(case):
        return "NaN"
    return _SHOWN.repr(case)


def failure_table(rows: list[tuple[str, str, Any, Any]]) -> Any:
    """The failure table: column, check, failure_case, index.

    ``failure_case`` stays an object column, so that values keep their own type
    (an int beyond 2**53 must not turn into a float because a float failed too).
    """
    import pandas as pd

    rows = one_per_cause(rows)

    return pd.DataFrame(
        {
            "column": [r[0] for r in rows],
            "check": [r[1] for r in rows],
            "failure_case": pd.Series([r[2] for r in rows], dtype=object),
            # object: row labels stay ints beside a column-level None, never floats
            "index": pd.Series([r[3] for r in rows], dtype=object),
        }
    )


@dataclass
class Failures:
    """Collects every failure, then raises once."""

    rows: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def add(self, column: str, check: str, case: Any, index: Any) -> None:
        self.rows.append((column, check, case, index))

    def raise_if_any(self, name: str, version: int, n_rows: int) -> None:
        if not self.rows:
            return

        self.rows = one_per_cause(self.rows)
        table = failure_table(self.rows)
        bad_rows = {r[3] for r in self.rows if r[3] is not None}
        absent = [
            r[0] for r in self.rows if r[1] == "column_in_dataframe" and r[3] is None
        ]
        gaps: dict[str, list[Any]] = {}  # keys some records of a list lack
        for column, check, _, index in self.rows:
            if check == "column_in_dataframe" and index is not None:
                gaps.setdefault(column, []).append(index)
        extra = [r[0] for r in self.rows if r[1] == "column_in_schema"]
        rest = [
            r
            for r in self.rows
            if r[1] not in ("column_in_dataframe", "column_in_schema")
        ]
        parts = []
        if absent:
            parts.append(f"missing columns {absent!r}")
        if gaps:
            listed = "; ".join(
                f"{column!r} (row {', '.join(repr(i) for i in rows[:3])}"
                f"{', ...' if len(rows) > 3 else ''})"
                for column, rows in gaps.items()
            )
            parts.append(
                f"records without a declared key: {listed} (a record must carry "
                "every declared column, as when it is sent alone)"
            )
        if extra:
            parts.append(f"undeclared columns {extra!r} (the contract is strict)")
        for column, check, case, index in rest[:5]:
            where = "" if index is None else f" (row {index!r})"
            if check.startswith("isin([") and len(check) > 60:
                check = "isin([...])"  # the table keeps the full list
            if check == "not_nullable":  # the table holds None for every marker
                parts.append(
                    f"{column!r} is missing (None, NaN, NA or NaT) but not "
                    f"nullable{where}"
                )
            else:
                parts.append(f"{column!r} {check} failed for {_shown(case)}{where}")
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
        Undeclared columns, counted once per call that carried them. Their names come
        from clients, so at most `MAX_KEYS` are kept; the rest count under
        ``"(other)"`` and the tally never grows without bound.

    Examples
    --------
    >>> t = Tally()
    >>> for i in range(Tally.MAX_KEYS + 5):
    ...     t.add(t.extra_columns, f"junk{i}")
    >>> len(t.extra_columns), t.extra_columns["(other)"]
    (101, 5)
    """

    MAX_KEYS: ClassVar[int] = 100

    rows: int = 0
    outside_observed: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    extra_columns: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        if key not in bucket and len(bucket) >= self.MAX_KEYS:
            key = "(other)"
        bucket[key] = bucket.get(key, 0) + n
