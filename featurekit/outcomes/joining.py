"""Served rows joined to their latest labels, in Arrow: what `evaluate` computes on.

Ten million logged rows must evaluate in seconds, so nothing here makes a Python
object per row: the last row per id and the latest label per id are found with
Arrow's hash aggregation, labels are attached by a hash lookup (`pyarrow.compute.index_in`),
and the result is a set of numpy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Joined", "attach", "join", "last_per_id", "lookup"]


def last_per_id(table: Any, order: list[tuple[str, str]] | None = None) -> Any:
    """The rows of `table` (sorted by `order` first, if given), the last of each row_id."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if order is not None:
        table = table.take(pc.sort_indices(table, order))
    positions = table.append_column("_pos", pa.array(np.arange(table.num_rows)))
    last = positions.group_by("row_id").aggregate([("_pos", "max")])
    if last.num_rows == table.num_rows:
        return table
    # the kept rows in their original order
    return table.take(np.sort(last["_pos_max"].to_numpy()))


def lookup(table: Any, labels: Any) -> tuple[np.ndarray, int]:
    """For each row of `table`, the position of its id's latest label in `labels`.

    `labels` are in the order they were received, so the latest label of an id is its
    last; an id may repeat (`PredictionLog.label_table` with ``latest=False``), which
    saves hashing every id once more to drop the older ones. One hash table of the
    label ids answers both lookups: the served rows' (an id's first place) and the
    labels' own (which labels repeat an id, and so which is each id's last).

    Returns the positions (-1 where an id has no label) and how many labelled ids
    match no row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n, m = table.num_rows, labels.num_rows
    ids = labels["row_id"]
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    probe = pa.chunked_array([*table["row_id"].chunks, ids], type=ids.type)
    found = pc.index_in(probe, value_set=ids).fill_null(m)
    places = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    first = places[n:]  # each label's id's first place among the labels
    positions = np.arange(m)
    distinct = int(np.count_nonzero(first == positions))
    latest = np.append(positions, -1)  # by an id's first place, its last; m: none
    if distinct < m:  # repeated ids: the last one received wins
        np.maximum.at(latest, first, positions)
    at = places[:n]
    seen = np.zeros(m + 1, dtype=bool)
    seen[at] = True
    return latest[at], distinct - int(np.count_nonzero(seen[:m]))


def attach(table: Any, labels: Any | None, columns: Sequence[str]) -> tuple[Any, int]:
    """`columns` of each row's latest label in `labels`, by row_id (null where none).

    `labels` may repeat an id, in the order received (see `lookup`). Returns the
    columns (a dict of Arrow arrays) and how many labelled ids match no row.
    """
    import pyarrow as pa

    n = table.num_rows
    if labels is None or labels.num_rows == 0:
        types = _types()
        return {c: pa.nulls(n, types[c]) for c in columns}, 0
    rows, unmatched = lookup(table, labels)
    at = pa.array(rows, mask=rows < 0)
    return {c: labels[c].take(at) for c in columns}, unmatched


def _types() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "label": pa.string(),
        "label_timestamp": pa.timestamp("us", "UTC"),
        "received_at": pa.timestamp("us", "UTC"),
    }


@dataclass
class Joined:
    """Served rows with their labels, as numpy arrays in one order."""

    timestamp: np.ndarray  # µs since the epoch
    labelled: np.ndarray  # bool
    y: np.ndarray  # class index (-1: none of the classes) or the label (regressors)
    yhat: np.ndarray  # the model's own answer: class index, or prediction
    proba: np.ndarray | None  # (n, k)
    outcome_time: np.ndarray  # µs: when the outcome happened, else when it was received
    propensity: np.ndarray | None  # exploration's, NaN where none
    unmatched: int  # labels that match no served row

    def __len__(self) -> int:
        return int(self.timestamp.size)


def _unique(table: Any) -> Any:
    """The last row per id, looking for repeats only among rows with the client's ids.

    Rows whose file says the writer made every id (``_made_ids``) cannot repeat an id:
    hashing ten million of them would be most of an evaluation's time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if "_made_ids" not in table.column_names:
        return last_per_id(table)
    made = table["_made_ids"]
    table = table.drop_columns(["_made_ids"])
    if pc.all(made).as_py():
        return table
    client = table.filter(pc.invert(made))
    return pa.concat_tables([table.filter(made), last_per_id(client)])


def _micros(column: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    ints = pc.cast(column, pa.int64())
    return np.asarray(
        ints.fill_null(np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
    )


def _indices(column: Any, classes: Sequence[Any]) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(column, value_set=pa.array([str(c) for c in classes]))
    return np.asarray(
        found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def _taken(values: np.ndarray, rows: np.ndarray, missing: Any) -> np.ndarray:
    """``values[rows]``, `missing` where a row has no label (-1)."""
    out: np.ndarray = values[np.maximum(rows, 0)]
    out[rows < 0] = missing
    return out


def join(table: Any, labels: Any | None, kind: str, classes: Sequence[Any]) -> Joined:
    """The served `table` (the last row per id) with the latest `labels` attached.

    The labels' own columns are turned into numbers once per label (class indices,
    outcome times) and then taken for the served rows, in numpy.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    served = _unique(table)
    n = served.num_rows
    if labels is None or labels.num_rows == 0:
        rows, unmatched = np.full(n, -1, dtype=np.int64), 0
        labels = pa.table({c: pa.array([], t) for c, t in _types().items()})
    else:
        rows, unmatched = lookup(served, labels)
    labelled = rows >= 0
    names = served.column_names
    if kind == "classifier":
        y = _taken(_indices(labels["label"], classes), rows, -1)
        own = served["label"]
        if "model_label" in names:  # exploration: the model's answer, not the policy's
            own = pc.coalesce(served["model_label"], served["label"])
        yhat = _indices(own, classes)
    else:
        numbers = pc.cast(labels["label"], pa.float64()).fill_null(np.nan)
        y = _taken(
            np.asarray(numbers.to_numpy(zero_copy_only=False), np.float64), rows, np.nan
        )
        yhat = np.asarray(
            served["prediction"].to_numpy(zero_copy_only=False), np.float64
        )
    proba = None
    if "probabilities" in names:
        col = served["probabilities"].combine_chunks()
        flat = np.asarray(
            pc.list_flatten(col).to_numpy(zero_copy_only=False), np.float64
        )
        proba = flat.reshape(len(col), -1) if len(col) else flat.reshape(0, 0)
    propensity = None
    if "propensity" in names:
        propensity = np.asarray(
            served["propensity"].fill_null(np.nan).to_numpy(zero_copy_only=False),
            np.float64,
        )
    when = _micros(pc.coalesce(labels["label_timestamp"], labels["received_at"]))
    return Joined(
        timestamp=_micros(served["timestamp"]),
        labelled=labelled,
        y=y,
        yhat=yhat,
        proba=proba,
        outcome_time=_taken(when, rows, np.iinfo(np.int64).min),
        propensity=propensity,
        unmatched=int(unmatched),
    )
