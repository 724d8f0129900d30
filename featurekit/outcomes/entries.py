"""The prediction log's buffer entries, and how a run of them becomes columns.

`featurekit.outcomes.log.LogWriter` buffers three kinds of entry, and
`featurekit.outcomes.schema.table_of` turns them into one Arrow table:

- a one-row call, as one flat tuple of Python scalars ending in `SINGLE`;
- one-row calls gathered by a drift monitor, as columns and a tag per row, ending in
  `CALLS`;
- a larger call, as ``(ns, request id, ids, feeds, outputs, extra)``: references to
  the arrays it was scored with.

A run of entries of one kind becomes a `_Part` (times, ids, inputs and outputs as
arrays); `parts_of` joins the runs in buffer order.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = [
    "ARGMAX_LABEL",
    "CALLS",
    "HOUR_NS",
    "SINGLE",
    "Notes",
    "Writer",
    "argmax_labels",
    "calls_by_hour",
    "joined",
    "logged_outputs",
    "parts_of",
    "rows_of",
    "values_getter",
]


_list = np.ndarray.tolist
_ravel = np.ndarray.ravel
_flat = itertools.chain.from_iterable


#: ``notes(feeds, n)``: None, or per row a list of text (lists, or an Arrow list array)
Notes = Callable[[Mapping[str, np.ndarray], int], Any]


#: The manifest's ``label_rule`` when the graph's label is ``classes[argmax(p)]``, the
#: first maximum of its own probabilities output (ONNX ArgMax, as numpy's argmax).
ARGMAX_LABEL = "argmax(probabilities)"


def logged_outputs(model: Mapping[str, Any]) -> list[str]:
    """The outputs a log's request path hands over: every one, less a derived label.

    A classifier whose label is the argmax of its probabilities (`ARGMAX_LABEL`)
    logs the probabilities alone: the writer computes the same label from them, so
    serving does not ask the graph for a tensor nobody requested.
    """
    outs = list(model["outputs"])
    if model.get("label_rule") == ARGMAX_LABEL and "probabilities" in outs:
        return [o for o in outs if o != "label"]
    return outs


def argmax_labels(classes: Sequence[Any], probabilities: Any) -> np.ndarray:
    """``classes[argmax(p)]`` per row, the first maximum (`ARGMAX_LABEL`'s label).

    Typed as the graph's label output (an array of `classes`).

    >>> argmax_labels([0, 1], np.array([[0.5, 0.5], [0.2, 0.8]])).tolist()
    [0, 1]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    values = np.asarray(classes)
    return values[np.argmax(p, axis=1)] if len(p) else values[:0]


def _with_label(model: Mapping[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """`outputs` with the label, taken as the argmax of the probabilities if absent."""
    if "label" in outputs or "label" not in model["outputs"]:
        return outputs
    p = np.asarray(outputs["probabilities"], dtype=np.float64)
    labels = argmax_labels(model["classes"], p)
    nan = np.isnan(p).any(axis=1)
    if nan.any():  # no class is the first maximum of a NaN: the label stays missing
        labels = labels.astype(object)
        labels[nan] = None
    return {**outputs, "label": labels}


class Writer(Protocol):
    """What `table_of` reads of a `featurekit.outcomes.log.LogWriter`."""

    model: dict[str, Any]
    logged_outputs: list[str]
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


#: The marker ending an entry of gathered one-row calls ``(tags, feeds, outputs,
#: CALLS)``: `feeds` and `outputs` hold the calls' rows as columns (outputs may be
#: None) and each call's tag is ``(ns, request id, id)``, or with a fourth item, a
#: dict of the outputs not in `outputs` (`LogWriter.append_calls`).
CALLS = "featurekit.log.calls"


def rows_of(entry: tuple[Any, ...]) -> int:
    """The rows of one buffered entry."""
    if entry[-1] is SINGLE:
        return 1
    if entry[-1] is CALLS:
        return len(entry[0])
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


def _call_ids(
    writer: Writer, requests: list[Any], given: Sequence[Any]
) -> tuple[Any, Any, bool]:
    """Request ids, row ids and whether the writer made every id, for one-row calls.

    `requests` holds each call's request id or None (a new one is made), `given` the
    client's id of its row or None (``<request id>-0``).
    """
    n = len(requests)
    made = given.count(None) == n
    if made and requests.count(None) == n:  # in process: every id is the writer's
        return (*_made_ids(writer, n), True)
    if None in requests:
        fresh = iter(writer.request_ids(requests.count(None)))
        requests = [r or next(fresh) for r in requests]
    rows = [
        f"{r}-0" if i is None else str(i) for r, i in zip(requests, given, strict=True)
    ]
    return requests, rows, made


def _calls(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """A run of gathered one-row calls (`CALLS`): columns already, tags per row."""
    tags = [t for e in entries for t in e[0]]
    n = len(tags)
    requests, rows, made = _call_ids(
        writer, [t[1] for t in tags], [t[2] for t in tags]
    )
    feeds = _gather([e[1] for e in entries], list(writer.inputs))
    given = [e[2] or {} for e in entries]
    outputs = {k: np.concatenate([g[k] for g in given]) for k in given[0]}
    extra = list(tags[0][3]) if len(tags[0]) > 3 else []
    for name in extra:  # outputs the monitor does not read came in each call's tag
        outputs[name] = np.concatenate([t[3][name] for t in tags])
    outputs = _with_label(writer.model, outputs)
    stamps = np.fromiter((t[0] for t in tags), np.int64, n) // 1000
    return _Part(stamps, requests, rows, feeds, outputs, [(None, n)], made)


def _singles(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """A run of one-row entries: one transposition, then one array per column."""
    columns = list(zip(*entries, strict=True))
    n = len(entries)
    requests, rows, made = _call_ids(writer, list(columns[1]), columns[2])
    feeds: dict[str, np.ndarray] = {}
    for (name, kind), col in zip(writer.inputs.items(), columns[3:], strict=False):
        arr = np.array(col, dtype=object if kind in ("categorical", "text") else None)
        if arr.dtype.kind not in "biufO":  # not what a contract reads: kept as objects
            arr = np.array(col, dtype=object)
        feeds[name] = arr.reshape(-1, 1)
    rest = columns[3 + len(writer.inputs) : -1]
    names = writer.logged_outputs
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
    outputs = _with_label(writer.model, outputs)
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
    names = [k for k in writer.logged_outputs if k in entries[0][4]]
    if "label" not in names and all("label" in e[4] for e in entries):
        names.append("label")  # given (an explored decision, or asked for): kept
    outputs = _with_label(writer.model, _gather([e[4] for e in entries], names))
    extras = [(e[5], k) for e, k in zip(entries, n_of, strict=True)]
    made = all(e[2] is None for e in entries)
    return _Part(stamps, request_ids, row_ids, feeds, outputs, extras, made)


def joined(texts: list[Any]) -> Any:
    """Lists of text or Arrow string arrays, as one Arrow string array."""
    import pyarrow as pa

    return pa.concat_arrays(
        [t if isinstance(t, pa.Array) else pa.array(t, pa.string()) for t in texts]
    )


def parts_of(writer: Writer, entries: Sequence[tuple[Any, ...]]) -> _Part:
    """Every entry as one `_Part`, rows in entry order (runs of each kind joined)."""
    parts: list[_Part] = []
    kinds = [e[-1] if e[-1] is SINGLE or e[-1] is CALLS else None for e in entries]
    start = 0
    while start < len(entries):
        kind = kinds[start]
        stop = start + 1
        while stop < len(entries) and kinds[stop] is kind:
            stop += 1
        run = entries[start:stop]
        make = _singles if kind is SINGLE else _calls if kind is CALLS else _batches
        parts.append(make(writer, run))
        start = stop
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0].outputs)
    return _Part(
        np.concatenate([p.stamps for p in parts]),
        joined([p.request_ids for p in parts]),
        joined([p.row_ids for p in parts]),
        {k: np.concatenate([p.feeds[k] for p in parts]) for k in writer.inputs},
        {k: np.concatenate([np.asarray(p.outputs[k]) for p in parts]) for k in names},
        [x for p in parts for x in p.extras],
        all(p.made for p in parts),
    )


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


HOUR_NS = 3_600_000_000_000


def values_getter(names: Sequence[str]) -> Any:
    """``values(outputs)``: the values of a one-row call's outputs `names`, in order.

    One value per output, or k for a (1, k) matrix (probabilities), as Python scalars.
    """
    if len(names) == 1:
        only = names[0]
        return lambda outputs: _list(_ravel(outputs[only]))
    got = operator.itemgetter(*names)
    return lambda outputs: _flat(map(_list, map(_ravel, got(outputs))))


def calls_by_hour(entry: tuple[Any, ...]) -> list[tuple[int, tuple[Any, ...]]]:
    """A `CALLS` entry as one entry per hour its rows were scored in."""
    tags, feeds, outputs, mark = entry
    hours = np.fromiter((t[0] for t in tags), np.int64, len(tags)) // HOUR_NS
    first = int(hours[0])
    if (hours == first).all():
        return [(first, entry)]
    out = []
    for h in np.unique(hours).tolist():
        at = np.flatnonzero(hours == h)
        out.append(
            (
                h,
                (
                    [tags[i] for i in at.tolist()],
                    {k: v[at] for k, v in feeds.items()},
                    None if outputs is None else {k: v[at] for k, v in outputs.items()},
                    mark,
                ),
            )
        )
    return out
