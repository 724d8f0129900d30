"""The prediction log's columns, one definition for the writer and the readers.

Every prediction file has these columns (docs/outcomes.md):

=================  =========================  ==========================================
column             Arrow type                 meaning
=================  =========================  ==========================================
row_id             string                     the client's id, or ``<request id>-<row>``
request_id         string                     the request that scored the row
timestamp          timestamp[us, UTC]         when it was scored
model_name         string                     the FeatureSet's name
model_version      int64                      its version
model_sha256       string                     the hash of model.onnx that answered
served_by          string                     ``champion``, or ``shadow`` for a shadow
inputs             struct                     the raw inputs as the contract read them
label              string                     classifiers: the served class, as text
probabilities      list<double>               classifiers with probabilities, classes
                                              in the model's order
decision_function  list<double>               classifiers without probabilities
prediction         double                     regressors
notes              list<string>               what the contract noticed:
                                              ``unseen:<column>``,
                                              ``out_of_range:<column>``
=================  =========================  ==========================================

Labels files have ``row_id``, ``label`` (text), ``label_timestamp`` (when the outcome
happened, if sent) and ``received_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurekit.missing import MISSING
from featurekit.outcomes.entries import Notes, Writer, joined, parts_of

__all__ = [
    "META",
    "contract_notes",
    "input_type",
    "labels_table",
    "table_of",
]

#: The file metadata key holding the log format and the model's classes and outputs.
META = b"featurekit.log"


def input_type(kind: str, dtype: np.dtype[Any] | None = None) -> Any:
    """The Arrow type an input column of `kind` is logged as."""
    import pyarrow as pa

    if kind == "numeric":
        return pa.int64() if dtype is not None and dtype.kind in "iu" else pa.float64()
    if kind == "datetime":
        return pa.timestamp("us", "UTC")
    return pa.string()


def _strings(col: np.ndarray) -> Any:
    """Text, with `MISSING` and None as null: vectorised when every value is a str."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.dtype.kind in "OU":
        try:
            arr = pa.array(col, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # numbers or other objects: their str(), one at a time
        else:
            missing = pc.equal(arr, MISSING)
            return pc.if_else(missing, pa.scalar(None, pa.string()), arr)
    values = [None if v is MISSING or v is None else str(v) for v in col]
    return pa.array(values, type=pa.string())


def _texts(values: np.ndarray) -> Any:
    """Served labels as text, as ``str()`` writes them (integers cast in Arrow)."""
    import pyarrow as pa

    if values.dtype.kind in "iu":
        return pa.array(values).cast(pa.string())
    texts = pa.array(values.astype(str), pa.string())
    if values.dtype.kind == "O":
        missing = np.array([v is None for v in values], dtype=bool)
        if missing.any():  # a label derived from NaN probabilities: none
            return pa.array(values.astype(str), pa.string(), mask=missing)
    return texts


def _column(col: np.ndarray, kind: str, hashed: Any) -> Any:
    import pyarrow as pa

    if hashed is not None:
        return pa.array(hashed(col), type=pa.string())
    if kind == "numeric" and col.dtype.kind in "iuf":
        # a missing number is null, as SQL engines expect, not NaN
        missing = np.isnan(col) if col.dtype.kind == "f" else None
        if missing is not None and not missing.any():
            missing = None
        return pa.array(col, type=input_type(kind, col.dtype), mask=missing)
    if kind == "datetime" and col.dtype.kind == "f":  # seconds since the epoch, UTC
        micros = np.where(np.isnan(col), 0, np.round(col * 1e6)).astype(np.int64)
        return pa.array(micros, mask=np.isnan(col)).cast(pa.timestamp("us", "UTC"))
    if col.dtype.kind == "M":
        return pa.array(col.astype("datetime64[us]"), type=pa.timestamp("us", "UTC"))
    return _strings(col)


def _lists(matrix: np.ndarray) -> Any:
    import pyarrow as pa

    k = matrix.shape[1]
    offsets = pa.array(np.arange(0, matrix.size + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), pa.float64()))


def _notes_array(notes: Any, n: int) -> Any:
    """The notes column: an Arrow list array as given, lists of text, or n empty lists."""
    import pyarrow as pa

    if isinstance(notes, pa.Array):
        return notes
    if notes is not None:
        return pa.array(notes, pa.list_(pa.string()))
    empty = pa.array(np.zeros(n + 1, dtype=np.int32))  # n empty lists
    return pa.ListArray.from_arrays(empty, pa.array([], pa.string()))


def table_of(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> Any:
    """One Arrow table from buffered entries (`LogWriter.append` makes them)."""
    import pyarrow as pa

    part = parts_of(writer, entries)
    n, feeds, outputs = part.n, part.feeds, part.outputs
    model = writer.model
    columns: dict[str, Any] = {
        "row_id": joined([part.row_ids]),
        "request_id": joined([part.request_ids]),
        "timestamp": pa.array(part.stamps, pa.timestamp("us", "UTC")),
        "model_name": pa.repeat(pa.scalar(model["name"], pa.string()), n),
        "model_version": pa.array(np.full(n, int(model["version"])), pa.int64()),
        "model_sha256": pa.repeat(pa.scalar(model["sha256"], pa.string()), n),
        "served_by": pa.repeat(pa.scalar(writer.served_by, pa.string()), n),
    }
    fields, arrays = [], []
    for name, kind in writer.inputs.items():
        how = writer.pii.get(name)
        if how == "drop":
            continue
        col = feeds[name].reshape(-1)
        arr = _column(col, kind, writer.hashed if how == "hash" else None)
        fields.append(pa.field(name, arr.type))
        arrays.append(arr)
    columns["inputs"] = (
        pa.StructArray.from_arrays(arrays, fields=fields)
        if arrays
        else pa.array([{}] * n, pa.struct([]))
    )
    if "label" in outputs:
        columns["label"] = _texts(np.asarray(outputs["label"]).reshape(-1))
    for name in ("probabilities", "decision_function"):
        if name in outputs:
            values = np.asarray(outputs[name], dtype=np.float64)
            columns[name] = _lists(values if values.ndim == 2 else values[:, None])
    if "prediction" in outputs:
        columns["prediction"] = pa.array(
            np.asarray(outputs["prediction"], np.float64).reshape(-1)
        )
    notes = writer._notes(feeds, n) if writer._notes is not None else None
    columns["notes"] = _notes_array(notes, n)
    extras = part.extras
    for key in sorted({k for x, _ in extras if x for k in x}):
        columns[key] = pa.array(_spread_extra(extras, key))
    meta = {
        "format": 1,
        "classes": model.get("classes"),
        "outputs": model.get("outputs"),
        "kind": model.get("kind"),
        # every row id was made by the writer (<request id>-<row>, unique by
        # construction): readers need not look for repeated ids in this file
        "made_ids": part.made,
    }
    return pa.table(columns).replace_schema_metadata({META: json.dumps(meta).encode()})


def _spread_extra(extras: list[tuple[Any, int]], key: str) -> list[Any]:
    """Per row, the value of column `key` from each entry's ``(extra, rows)``.

    An entry's value is one for all its rows, or a list of one per row.
    """
    out: list[Any] = []
    for x, k in extras:
        value = (x or {}).get(key)
        if isinstance(value, list | tuple | np.ndarray):
            out.extend(list(value))
        else:
            out.extend([value] * k)
    return out


def _isin(col: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.isin`` of text by Arrow's hash table (numpy sorts Python objects)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(col, type=pa.string())
        value_set = pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.isin(col, values)
    found = pc.is_in(arr, value_set=value_set).fill_null(False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _note_lists(flags: list[tuple[str, np.ndarray]], n: int) -> Any:
    """The notes column from (note, rows flagged) pairs, built without a list per row."""
    import pyarrow as pa

    marks = np.stack([bad for _, bad in flags], axis=1)  # rows x notes
    _, which = np.nonzero(marks)  # row by row, notes in their order
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(marks.sum(axis=1), out=offsets[1:])
    names = np.asarray([note for note, _ in flags], dtype=object)
    values = pa.array(names[which], pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def contract_notes(
    categories: Mapping[str, Sequence[str]], observed: Mapping[str, tuple[float, float]]
) -> Notes:
    """``notes(feeds, n)``: per row, the unseen categories and out-of-range numbers.

    A category is unseen when it is none of the fitted ones (and not missing); a
    number is out of range outside the range the contract observed in the reference.
    """
    known = {name: np.asarray(list(c), dtype=object) for name, c in categories.items()}

    def notes(feeds: Mapping[str, np.ndarray], n: int) -> Any:
        flags: list[tuple[str, np.ndarray]] = []
        for name, cats in known.items():
            if name in feeds:
                col = feeds[name][:, 0]
                bad = ~_isin(col, cats) & (col != MISSING)
                if bad.any():
                    flags.append((f"unseen:{name}", bad))
        for name, (lo, hi) in observed.items():
            if name in feeds:
                col = feeds[name][:, 0].astype(np.float64)
                with np.errstate(invalid="ignore"):
                    bad = (col < lo) | (col > hi)
                if bad.any():
                    flags.append((f"out_of_range:{name}", bad))
        if not flags:
            return None
        return _note_lists(flags, n)

    return notes


def labels_table(
    ids: Sequence[str], labels: Sequence[str], timestamps: Any, received_ns: int
) -> Any:
    """The Arrow table of one batch of labels (columns in the module docstring)."""
    import pyarrow as pa

    n = len(ids)
    return pa.table(
        {
            "row_id": pa.array(list(ids), pa.string()),
            "label": pa.array(list(labels), pa.string()),
            "label_timestamp": pa.array(
                timestamps if timestamps is not None else [None] * n, pa.int64()
            ).cast(pa.timestamp("us", "UTC")),
            "received_at": pa.array(
                np.full(n, received_ns // 1000, dtype=np.int64),
                pa.timestamp("us", "UTC"),
            ),
        }
    )
