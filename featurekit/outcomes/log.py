"""The prediction log writer: every scored row, as Apache Parquet in hourly partitions.

Layout (docs/outcomes.md has the schema)::

    DIR/predictions/date=2026-12-05/hour=8/part-<sha256[:16]>-<pid>-<token>-<seq>.parquet
    DIR/labels/date=2026-12-05/part-<received ns>-<pid>-<token>.parquet
    DIR/models/<sha256>.json

The request path only appends to an in-memory buffer: a one-row call as a flat tuple of
Python scalars (`append_row`), a larger call as references to its arrays (`append`),
or, through a drift monitor's buffer, a tag per one-row call (`append_calls`: the
monitor joins the calls' arrays into columns anyway). A background thread turns the
buffer into an Arrow table and writes it every `flush_seconds`, or sooner once
`flush_rows` are waiting. Each file is written under a dot-name and renamed into place, so no reader
ever sees half a file, and each process writes files of its own. kill -9 loses at
most the rows of the last flush interval.

Memory is bounded: beyond `max_buffered_rows` waiting rows, rows are dropped and
counted (`LogWriter.stats`), never waited for.

Examples
--------
>>> import tempfile, numpy as np
>>> log = LogWriter(tempfile.mkdtemp(), model={"name": "m", "version": 1,
...     "sha256": "ab" * 32, "kind": "regressor", "classes": None,
...     "outputs": ["prediction"]}, inputs={"x": "numeric"})
>>> log.append({"x": np.array([[1.0], [2.0]])}, {"prediction": np.array([3.0, 4.0])},
...            ids=["a", "b"])
>>> log.close()
>>> log.stats["rows_written"]
2
"""

from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import itertools
import json
import operator
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurekit.missing import MISSING
from featurekit.outcomes.entries import (
    CALLS,
    HOUR_NS,
    SINGLE,
    calls_by_hour,
    logged_outputs,
    rows_of,
    values_getter,
)
from featurekit.outcomes.files import check_directory, expire_hours, publish
from featurekit.outcomes.schema import table_of

__all__ = ["FORMAT", "LogWriter", "check_directory", "parse_duration", "publish"]

#: The log's format version, in every file's metadata (``featurekit.log``).
FORMAT = 1
PREDICTIONS, LABELS, MODELS = "predictions", "labels", "models"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"2w"`` or a number.

    >>> parse_duration("30d"), parse_duration("1.5h"), parse_duration(60)
    (2592000.0, 5400.0, 60.0)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip().lower()
        unit = _UNITS.get(s[-1:]) if s else None
        try:
            value = float(s[:-1]) * unit if unit else float(s)
        except ValueError:
            value = -1.0
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"A duration must be a positive number with a unit s, m, h, d or w "
            f"(e.g. '30d'), got {text!r}."
        )
    return value


def _close_at_exit(ref: weakref.ReferenceType[LogWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer.close()


_item = np.ndarray.item  # a (1, 1) input's value as a Python scalar
_list = np.ndarray.tolist
_ravel = np.ndarray.ravel
_flat = itertools.chain.from_iterable


class LogWriter:
    """Appends scored rows to a prediction log directory (see the module docstring).

    Parameters
    ----------
    directory : str or Path
        The log directory; created if missing, refused if not writable.
    model : dict
        ``name``, ``version``, ``sha256``, ``kind``, ``classes``, ``outputs``.
    inputs : dict of str to str
        The raw input columns and their kinds (numeric, categorical, datetime, text).
    served_by : str
        Tags every row (``"champion"``; a shadow model logs ``"shadow"``).
    pii : dict of str to {"drop", "hash"}, optional
        Columns holding personal data and what the log does with them.
    salt : str, optional
        The secret salt of ``"hash"`` (SHA-256 of salt + value).
    flush_seconds, flush_rows : float, int
        Write at least this often, or once this many rows wait.
    max_buffered_rows : int
        Rows waiting beyond this are dropped and counted.
    retention : float, optional
        Seconds to keep partitions of predictions; older hours are deleted.
    notes : callable, optional
        ``notes(feeds) -> list of str per row``: what the contract noticed.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        model: Mapping[str, Any],
        inputs: Mapping[str, str],
        served_by: str = "champion",
        pii: Mapping[str, str] | None = None,
        salt: str | None = None,
        flush_seconds: float = 1.0,
        flush_rows: int = 10_000,
        max_buffered_rows: int = 100_000,
        retention: float | None = None,
        notes: Any = None,
    ) -> None:
        self.root = check_directory(directory)
        if flush_seconds <= 0 or flush_rows < 1 or max_buffered_rows < 1:
            raise ValueError(
                "flush_seconds, flush_rows and max_buffered_rows must be positive."
            )
        pii = dict(pii or {})
        for name, how in pii.items():
            if how not in ("drop", "hash"):
                raise ValueError(
                    f"pii[{name!r}] must be 'drop' or 'hash', got {how!r}."
                )
        if "hash" in pii.values() and not salt:
            raise ValueError(
                "Hashing personal data needs a secret salt (FEATUREKIT_LOG_SALT): an "
                "unsalted hash of a name or an id is easy to reverse."
            )
        self.model = dict(model)
        self.inputs = dict(inputs)
        self.served_by = served_by
        self.pii = pii
        self._salt = (salt or "").encode()
        self.flush_seconds = float(flush_seconds)
        self.flush_rows = int(flush_rows)
        self.max_buffered_rows = int(max_buffered_rows)
        self.retention = retention
        self._notes = notes
        names = list(self.inputs)
        getter = operator.itemgetter(*names)
        #: the outputs the request path hands over; the label is left out when the
        #: graph computes it as the first maximum of the probabilities (the manifest's
        #: ``label_rule``): the writer then takes that argmax itself, exactly
        self.logged_outputs = logged_outputs(self.model)
        # the inputs of a one-row call, in order, as a tuple of arrays
        self._row_of: Any = getter if len(names) > 1 else lambda f: (getter(f),)
        self._values_of = values_getter(self.logged_outputs)
        self._token = secrets.token_hex(4)
        self._request_prefix = secrets.token_hex(6)
        self._requests = itertools.count()
        self._files = itertools.count()
        self._lock = threading.Lock()
        self._buffer: list[tuple[Any, ...]] = []
        self._pending = 0  # rows in the buffer
        self._taken = 0  # rows the writer took from the buffer
        self._full_drops = 0  # rows refused because the buffer was full
        self._counts = {
            "rows_written": 0,
            "rows_dropped": 0,  # by a failed write
            "files_written": 0,
            "write_errors": 0,
            "write_cpu_seconds": 0.0,  # the writer's own CPU time (thread time)
        }
        self.last_error: str | None = None
        #: called first by every flush: hands over rows buffered elsewhere (a drift
        #: monitor's one-row calls, see `append_calls`)
        self.before_flush: Callable[[], None] | None = None
        self._last_retention = 0.0
        self._describe_model()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="featurekit-log", daemon=True
        )
        self._thread.start()
        # a normal interpreter exit still writes what is buffered
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: rows logged (accepted), written and dropped; files; errors; CPU.

        ``rows_dropped`` counts rows refused by a full buffer and rows of failed
        writes; ``write_cpu_seconds`` is the CPU time spent turning buffered rows into
        files (on the writer's thread, or on whichever thread called `flush`).
        """
        with self._lock:
            logged, full = self._taken + self._pending, self._full_drops
        out: dict[str, Any] = {"rows_logged": logged, **self._counts}
        out["rows_dropped"] += full
        return out

    # -- the request path --------------------------------------------------------------
    def request_id(self) -> str:
        """A new request id: unique across processes (a random prefix and a counter)."""
        return f"{self._request_prefix}{next(self._requests):08x}"

    def request_ids(self, k: int) -> list[str]:
        """`k` new request ids at once (for the rows buffered without one)."""
        prefix = self._request_prefix
        return [f"{prefix}{i:08x}" for i in itertools.islice(self._requests, k)]

    @property
    def request_prefix(self) -> str:
        """What every request id this writer makes starts with."""
        return self._request_prefix

    def request_numbers(self, k: int) -> np.ndarray:
        """The counters of `k` new request ids (``request_prefix`` + 8 hex digits)."""
        return np.fromiter(itertools.islice(self._requests, k), np.int64, k)

    def append_row(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
        row_id: Any = None,
        request_id: str | None = None,
    ) -> None:
        """Buffer the one scored row of a one-record call (the request path's way).

        `feeds` are the (1, 1) graph inputs, `outputs` the graph's answers (at least
        `logged_outputs`); `row_id` the client's id, or None for ``<request id>-0``.
        Same as ``append(feeds, outputs, ids=[row_id], request_id=request_id)``, in
        about a microsecond: the row is kept as one flat tuple of Python scalars,
        read while the arrays are hot, and the writer makes columns of a run of them
        in one pass. Nothing in the tuple is a container, so the garbage collector
        stops tracking it at its first look. Never blocks on I/O.
        """
        try:
            entry = (
                time.time_ns(),
                request_id,
                row_id,
                *map(_item, self._row_of(feeds)),
                *self._values_of(outputs),
                SINGLE,
            )
        except (KeyError, ValueError):  # not the usual (1, 1) inputs: kept as they are
            self.append(
                feeds,
                outputs,
                ids=None if row_id is None else [row_id],
                request_id=request_id,
            )
            return
        with self._lock:
            if self._pending >= self.max_buffered_rows:
                self._full_drops += 1
                return
            self._pending += 1
            self._buffer.append(entry)
            full = self._pending >= self.flush_rows
        if full:
            self._wake.set()

    def append_calls(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray] | None,
        tags: list[tuple[Any, ...]],
    ) -> None:
        """Buffer one-row calls gathered elsewhere, as columns: one tag per row.

        `feeds` and `outputs` hold the rows of ``len(tags)`` one-row calls, joined;
        each tag is ``(ns, request id or None, row id or None)``, plus a dict of the
        row's outputs missing from `outputs`. A drift monitor buffers and joins the
        calls it counts anyway (`serving.monitor.Monitor.tap`): handing them over
        so costs the request path nothing but its tag.
        """
        if tags:
            self._buffered((tags, feeds, outputs, CALLS), len(tags))

    def append(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
        *,
        ids: Sequence[Any] | None = None,
        request_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        at_ns: int | None = None,
    ) -> None:
        """Buffer scored rows; `feeds` are (n, 1) graph inputs, `outputs` its answers.

        Without `ids`, rows are named ``<request id>-<row>``. `extra` adds columns
        (a value, or one per row); `at_ns` backdates the rows (nanoseconds since the
        epoch; default now). Never blocks on I/O.
        """
        n = next(iter(outputs.values())).shape[0]
        if n == 0:
            return
        if n == 1 and extra is None and at_ns is None:
            self.append_row(feeds, outputs, None if ids is None else ids[0], request_id)
            return
        entry = (
            time.time_ns() if at_ns is None else at_ns,
            request_id,
            ids,
            feeds,
            outputs,
            extra,
        )
        self._buffered(entry, n)

    def _buffered(self, entry: tuple[Any, ...], n: int) -> None:
        """Take an entry of `n` rows into the buffer, or drop and count it when full."""
        with self._lock:
            if self._pending + n > self.max_buffered_rows:
                self._full_drops += n
                return
            self._pending += n
            self._buffer.append(entry)
            full = self._pending >= self.flush_rows
        if full:
            self._wake.set()

    # -- the background writer -------------------------------------------------------
    def _loop(self) -> None:
        # paced so that a row's file is in place within flush_seconds of its arrival
        # (what kill -9 may lose): the next flush starts flush_seconds after this one
        # began, less the time this write took (but at least half an interval later)
        due = time.monotonic() + self.flush_seconds
        while not self._stop.is_set():
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            began = time.monotonic()
            self.flush()
            took = time.monotonic() - began
            interval = self.flush_seconds
            due = began + max(interval - took, interval / 2)

    def flush(self) -> int:
        """Write what is buffered now; returns the rows written."""
        if self.before_flush is not None:
            try:
                self.before_flush()
            except Exception as exc:  # a monitor's failure must not stop the log
                self.last_error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            entries, self._buffer = self._buffer, []
            self._taken += self._pending
            self._pending = 0
        written = 0
        if entries:
            began = time.thread_time()
            counts = self._counts
            try:
                written = self._write(entries)
            except Exception as exc:  # a full disk must not kill the writer thread
                counts["write_errors"] += 1
                counts["rows_dropped"] += sum(map(rows_of, entries))
                self.last_error = f"{type(exc).__name__}: {exc}"
            del entries  # the rows' Python values are freed on the writer's clock too
            counts["write_cpu_seconds"] += time.thread_time() - began
        if self.retention is not None and time.monotonic() - self._last_retention > 60:
            self._last_retention = time.monotonic()
            self.expire()
        return written

    def close(self) -> None:
        """Stop the writer thread after a last flush (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()

    def _write(self, entries: list[tuple[Any, ...]]) -> int:

        # hours since the epoch, by integer division: no datetime per request
        by_hour: dict[int, list[tuple[Any, ...]]] = {}
        for e in entries:
            if e[-1] is not CALLS:
                by_hour.setdefault(e[0] // HOUR_NS, []).append(e)
                continue
            for h, part in calls_by_hour(e):  # its calls may straddle an hour
                by_hour.setdefault(h, []).append(part)
        rows = 0
        for h, group in by_hour.items():
            t = _dt.datetime.fromtimestamp(h * 3600, _dt.UTC)
            table = table_of(self, group)
            where = f"date={t:%Y-%m-%d}/hour={t.hour}"
            self._put(self.root / PREDICTIONS / where, table)
            rows += table.num_rows
        self._counts["rows_written"] += rows
        return rows

    def _put(self, directory: Path, table: Any) -> None:
        # the model's hash leads the name: readers pick one model's files by name
        name = (
            f"part-{self.model['sha256'][:16]}-{os.getpid()}-{self._token}-"
            f"{next(self._files):06d}.parquet"
        )
        publish(directory, name, table)
        self._counts["files_written"] += 1

    def hashed(self, values: np.ndarray) -> list[str | None]:
        """Salted SHA-256 of each value's text; missing stays missing."""
        salt = self._salt
        return [
            None
            if v is None or v is MISSING or (isinstance(v, float) and v != v)
            else hashlib.sha256(
                salt + str(v).encode("utf-8", "surrogatepass")
            ).hexdigest()
            for v in values
        ]

    # -- housekeeping ------------------------------------------------------------------
    def _describe_model(self) -> None:
        """``models/<sha256>.json``: what the rows of this model mean (classes, inputs)."""
        folder = self.root / MODELS
        folder.mkdir(exist_ok=True)
        target = folder / f"{self.model['sha256']}.json"
        if target.exists():
            return
        text = json.dumps({"format": FORMAT, **self.model, "inputs": self.inputs})
        tmp = folder / f".{target.name}.{os.getpid()}.tmp"
        tmp.write_text(text)
        os.replace(tmp, target)

    def expire(self, now: float | None = None) -> list[str]:
        """Delete prediction partitions whose hour ended over `retention` ago."""
        if self.retention is None:
            return []
        cutoff = (time.time() if now is None else now) - self.retention
        return expire_hours(self.root, PREDICTIONS, cutoff)
