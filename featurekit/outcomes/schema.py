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
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from featurekit.missing import MISSING

__all__ = [
    "META",
    "SINGLE",
    "contract_notes",
    "input_type",
    "labels_table",
    "rows_of",
    "table_of",
]

#: The file metadata key holding the log format and the model's classes and outputs.
META = b"featurekit.log"
#: ``notes(feeds, n)``: None, or per row a list of text (lists, or an Arrow list array)
Notes = Callable[[Mapping[str, np.ndarray], int], Any]


class Writer(Protocol):
    """What `table_of` reads of a `featurekit.outcomes.log.LogWriter`."""

    model: dict[str, Any]
    inputs: dict[str, str]
    served_by: str
    pii: dict[str, str]
    _notes: Notes | None

    def request_id(self) -> str: ...

    def request_ids(self, k: int) -> list[str]: ...

    @property
    def request_prefix(self) -> str: ...

    def request_numbers(self, k: int) -> np.ndarray: ...

    def hashed(self, values: np.ndarray) -> list[str | None]: ...


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
    return pa.array(values.astype(str), pa.string())


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


def _gather(
    dicts: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each name's arrays of every dict, concatenated along rows, in one pass.

    An itemgetter per dict and a transposing zip keep the per-entry cost to one C call.
    """
    if len(dicts) == 1 or not names:
        return {name: dicts[0][name] for name in names}
    get = operator.itemgetter(*names)
    rows = [get(d) for d in dicts]
    columns = zip(*rows, strict=True) if len(names) > 1 else [rows]
    return {name: np.concatenate(col) for name, col in zip(names, columns, strict=True)}


#: The marker ending a one-row entry ``(ns, request id, id, *inputs, *outputs,
#: SINGLE)``: the row's id (or None), each input's value and each output's values
#: (one, or k for ``probabilities`` and ``decision_function``) as Python scalars, in
#: the writer's `inputs` and ``model["outputs"]`` order (`LogWriter.append`).
SINGLE = "featurekit.log.single"


def rows_of(entry: tuple[Any, ...]) -> int:
    """The rows of one buffered entry."""
    if entry[-1] is SINGLE:
        return 1
    return int(next(iter(entry[4].values())).shape[0])


class _Part:
    """A run of buffered entries as columns: times, ids, inputs, outputs and extras."""

    def __init__(
        self,
        stamps: np.ndarray,
        request_ids: Any,
        row_ids: Any,
        feeds: dict[str, np.ndarray],
        outputs: dict[str, np.ndarray],
        extras: list[tuple[Any, int]],
        made: bool,
    ) -> None:
        self.stamps, self.request_ids, self.row_ids = stamps, request_ids, row_ids
        self.feeds, self.outputs, self.extras, self.made = feeds, outputs, extras, made
        self.n = len(stamps)


def _singles(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """A run of one-row entries: one transposition, then one array per column."""
    columns = list(zip(*entries, strict=True))
    n = len(entries)
    given = columns[2]
    made = given.count(None) == n
    requests: Any = list(columns[1])
    rows: Any
    if made and requests.count(None) == n:  # in process: every id is the writer's
        requests, rows = _made_ids(writer, n)
    else:
        if None in requests:
            fresh = iter(writer.request_ids(requests.count(None)))
            requests = [r or next(fresh) for r in requests]
        rows = [
            f"{r}-0" if i is None else str(i)
            for r, i in zip(requests, given, strict=True)
        ]
    feeds: dict[str, np.ndarray] = {}
    for (name, kind), col in zip(writer.inputs.items(), columns[3:], strict=False):
        arr = np.array(col, dtype=object if kind in ("categorical", "text") else None)
        if arr.dtype.kind not in "biufO":  # not what a contract reads: kept as objects
            arr = np.array(col, dtype=object)
        feeds[name] = arr.reshape(-1, 1)
    rest = columns[3 + len(writer.inputs) : -1]
    names = list(writer.model["outputs"])
    wide = len(rest) - len(names) + 1  # the values of a 2-d output, if any
    outputs: dict[str, np.ndarray] = {}
    at = 0
    for name in names:
        if name in _MATRICES and wide != 1:
            outputs[name] = np.array(rest[at : at + wide]).T  # (n, k)
            at += wide
        else:
            outputs[name] = np.array(rest[at])
            at += 1
    stamps = np.array(columns[0], dtype=np.int64) // 1000
    return _Part(stamps, requests, rows, feeds, outputs, [(None, n)], made)


def _made_ids(writer: Writer, n: int) -> tuple[Any, Any]:
    """`n` new request ids and their rows' ids (``<request id>-0``), as Arrow arrays.

    The same text as ``request_ids`` makes, written as bytes by numpy rather than
    one string at a time.
    """
    import pyarrow as pa

    numbers = writer.request_numbers(n)
    if n == 0 or numbers.max() >= 16**8:  # past 8 hex digits: the general way
        texts = [f"{writer.request_prefix}{i:08x}" for i in numbers.tolist()]
        return texts, [f"{t}-0" for t in texts]
    prefix = np.frombuffer(writer.request_prefix.encode(), np.uint8)
    shifts = np.arange(28, -4, -4, dtype=np.int64)
    hexes = np.frombuffer(b"0123456789abcdef", np.uint8)[
        (numbers[:, None] >> shifts) & 15
    ]
    suffix = np.frombuffer(b"-0", np.uint8)
    out = []
    for parts in ((prefix, hexes), (prefix, hexes, suffix)):
        blocks = [np.broadcast_to(b, (n, b.shape[-1])) for b in parts]
        data = np.ascontiguousarray(np.concatenate(blocks, axis=1))
        width = data.shape[1]
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        out.append(
            pa.StringArray.from_buffers(
                n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())
            )
        )
    return out[0], out[1]


#: The outputs that may have more than one value a row.
_MATRICES = ("probabilities", "decision_function")


def _batches(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """A run of entries holding the arrays they were scored with."""
    n_of = [rows_of(e) for e in entries]
    row_ids, request_ids = _ids(writer, entries, n_of)
    stamps = np.repeat(np.array([e[0] for e in entries], dtype=np.int64) // 1000, n_of)
    feeds = _gather([e[3] for e in entries], list(writer.inputs))
    outputs = _gather([e[4] for e in entries], list(entries[0][4]))
    extras = [(e[5], k) for e, k in zip(entries, n_of, strict=True)]
    made = all(e[2] is None for e in entries)
    return _Part(stamps, request_ids, row_ids, feeds, outputs, extras, made)


def _joined(texts: list[Any]) -> Any:
    """Lists of text or Arrow string arrays, as one Arrow string array."""
    import pyarrow as pa

    return pa.concat_arrays(
        [t if isinstance(t, pa.Array) else pa.array(t, pa.string()) for t in texts]
    )


def _parts(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """Every entry as one `_Part`, rows in entry order (runs of each kind joined)."""
    parts: list[_Part] = []
    start = 0
    while start < len(entries):
        single = entries[start][-1] is SINGLE
        stop = start + 1
        while stop < len(entries) and (entries[stop][-1] is SINGLE) == single:
            stop += 1
        run = entries[start:stop]
        parts.append(_singles(writer, run) if single else _batches(writer, run))
        start = stop
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0].outputs)
    return _Part(
        np.concatenate([p.stamps for p in parts]),
        _joined([p.request_ids for p in parts]),
        _joined([p.row_ids for p in parts]),
        {k: np.concatenate([p.feeds[k] for p in parts]) for k in writer.inputs},
        {k: np.concatenate([np.asarray(p.outputs[k]) for p in parts]) for k in names},
        [x for p in parts for x in p.extras],
        all(p.made for p in parts),
    )


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


def _ids(
    writer: Writer, entries: Sequence[tuple[Any, ...]], n_of: list[int]
) -> tuple[list[str], list[str]]:
    """Row ids (the client's, or ``<request id>-<row>``) and request ids, per row."""
    row_ids: list[str] = []
    request_ids: list[str] = []
    fresh = iter(writer.request_ids(sum(1 for e in entries if not e[1])))
    for (_, rid, ids, *_), k in zip(entries, n_of, strict=True):
        rid = rid or next(fresh)
        if k == 1:  # the common case of a request of one row, without lists
            request_ids.append(rid)
            row_ids.append(str(ids[0]) if ids is not None else f"{rid}-0")
            continue
        request_ids.extend([rid] * k)
        row_ids.extend(
            [str(i) for i in ids]
            if ids is not None
            else [f"{rid}-{j}" for j in range(k)]
        )
    return row_ids, request_ids


def table_of(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> Any:
    """One Arrow table from buffered entries (`LogWriter.append` makes them)."""
    import pyarrow as pa

    part = _parts(writer, entries)
    n, feeds, outputs = part.n, part.feeds, part.outputs
    model = writer.model
    columns: dict[str, Any] = {
        "row_id": _joined([part.row_ids]),
        "request_id": _joined([part.request_ids]),
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
