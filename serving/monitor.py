"""Live drift monitoring: constant-memory window counters over the reference profile's bins.

Every scored row updates the current window's `featurekit.monitoring.counts.Counts`. A window
closes after ``window`` rows (or ``seconds``, whichever is set), is tested against the
reference profile, and joins a short history; a feature *alerts* when it drifted in at
least ``persistence[0]`` of the last ``persistence[1]`` windows (2 of 3 by default), so
one unlucky window never pages anyone. Counters add up: `snapshot` and `merge` move
window state between processes and replicas.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from featurekit.monitoring.counts import Counts
from featurekit.monitoring.estimate import window_estimate
from featurekit.monitoring.verdicts import evaluate

__all__ = ["Monitor"]

#: Scored rows buffered before they are counted together.
BUFFER_ROWS = 256
#: Replicas whose snapshots one monitor merges, at most.
MAX_REPLICAS = 64


class Monitor:
    """Windows of counters over a profile, evaluated as they close.

    Parameters
    ----------
    profile : dict
        The artifact's ``profile.json``.
    window : int, optional
        Rows per window (default: the size the thresholds were calibrated at).
    seconds : float, optional
        Also close a window after this many seconds (a window with fewer than the
        profile's ``min_rows`` then reports "insufficient data").
    persistence : (int, int)
        Alert on a feature that drifted in k of the last n windows.
    history : int
        Closed windows kept (their verdicts and statistics).

    Examples
    --------
    >>> from featurekit.monitoring.profile import build_profile
    >>> m = Monitor(build_profile({"x": np.arange(500.0)}, {}), window=100)
    >>> for v in range(250):
    ...     m.observe({"x": np.array([[float(v)]])})
    >>> m.windows_closed, m.open_rows
    (2, 50)
    """

    def __init__(
        self,
        profile: dict[str, Any],
        *,
        window: int | None = None,
        seconds: float | None = None,
        persistence: tuple[int, int] = (2, 3),
        history: int = 20,
    ) -> None:
        self.profile = profile
        self.window = int(profile["settings"]["window"] if window is None else window)
        if self.window < 1:
            raise ValueError(f"window must be >= 1 row, got {window!r}.")
        if seconds is not None and seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}.")
        k, n = persistence
        if not 1 <= k <= n:
            raise ValueError(
                f"persistence must be (k, n) with 1 <= k <= n, got {persistence!r}."
            )
        self.seconds = seconds
        self.persistence = (k, n)
        self.current = Counts.empty(profile)
        self.total = Counts.empty(profile)
        self.windows_closed = 0
        #: names this monitor's snapshots, so that a merge knows whose counts it adds
        self.replica = uuid.uuid4().hex
        # per replica merged so far: the cumulative counts of its last snapshot
        self._merged: dict[str, Counts] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=max(history, n))
        self._alerts: dict[str, bool] = {}
        self._opened = time.monotonic()
        self._lock = threading.Lock()
        # a closed window is tested on this thread, off the request path
        self._evaluator = ThreadPoolExecutor(1, thread_name_prefix="featurekit-drift")
        self._pending: list[Future[None]] = []
        self._evaluated = 0
        # scored rows wait here (at most BUFFER_ROWS) and are counted together: one
        # vectorised count of a few hundred rows costs far less per row than many
        # small ones
        self._buffer: list[tuple[Mapping[str, np.ndarray], Any, Any]] = []
        self._buffered = 0
        self._tagged = 0  # buffered calls with a tag
        #: ``tap(feeds, outputs, tags)``: handed the tagged one-row calls each time the
        #: buffer is counted, as columns (the prediction log takes them so: one
        #: buffer and one concatenation serve both; `serving.Predictor` sets it)
        self.tap: Callable[[Mapping[str, np.ndarray], Any, list[Any]], None] | None
        self.tap = None

    def observe(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray] | None = None,
        tag: Any = None,
    ) -> None:
        """Count scored rows (graph inputs and answers); close the window when full.

        `tag` marks a one-row call for `tap`: its rows (and `outputs`) reach the tap
        when the buffer is next counted, in the order they were observed.
        """
        n = next(iter(feeds.values())).shape[0] if feeds else 0
        if n == 0:
            return
        with self._lock:
            self._buffer.append((feeds, outputs, tag))
            self._buffered += n
            if tag is not None:
                self._tagged += 1
            full = self.current.rows + self._buffered >= self.window
            if full or self._buffered >= BUFFER_ROWS:
                self._drain()
            if full or (
                self.seconds is not None
                and time.monotonic() - self._opened >= self.seconds
            ):
                self._close()

    @staticmethod
    def keeps(n: int) -> bool:
        """Whether `observe` of a call of `n` rows may hold its arrays after returning.

        A call of `BUFFER_ROWS` rows or more is counted at once (with whatever waited
        before it), so nothing of it stays in the buffer.
        """
        return n < BUFFER_ROWS

    @property
    def open_rows(self) -> int:
        """Rows in the open window, counted or still buffered."""
        return self.current.rows + self._buffered

    def drain(self, *, tagged: bool = False) -> None:
        """Count the buffered rows now (and hand the tagged ones to `tap`).

        With ``tagged=True``, only if a tagged call waits among them: a log then gets
        the one-row calls before a larger call that follows them.
        """
        with self._lock:
            if not tagged or self._tagged:
                self._drain()

    def _drain(self) -> None:
        """Count the buffered rows into the open window (under the lock)."""
        if not self._buffer:
            return
        buffer, self._buffer, self._buffered = self._buffer, [], 0
        self._tagged = 0
        feeds, outputs = _columns(buffer)
        self.current.observe(feeds, outputs)
        if self.tap is None:
            return
        tags = [b[2] for b in buffer]
        if None not in tags:
            self.tap(feeds, outputs, tags)
        elif any(t is not None for t in tags):  # larger calls among them: not tagged
            tagged = [b for b in buffer if b[2] is not None]
            self.tap(*_columns(tagged), [b[2] for b in tagged])

    def tick(self) -> None:
        """Close a time-based window that has run out, even with no traffic."""
        if self.seconds is None:
            return
        with self._lock:
            if time.monotonic() - self._opened >= self.seconds:
                self._close()

    def _close(self) -> None:
        """Swap in a fresh window (under the lock) and test the closed one later."""
        self._drain()
        closed = self.current
        self.current = Counts.empty(self.profile)
        self._opened = time.monotonic()
        self.windows_closed += 1
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._evaluator.submit(self._evaluate, closed))

    def flush(self) -> None:
        """Wait until every closed window has been tested."""
        for future in list(self._pending):
            future.result()

    def _evaluate(self, closed: Counts) -> None:
        rows = evaluate(self.profile, closed)
        verdicts = {r["feature"]: r["verdict"] for r in rows}
        label = closed.bins.get("output:label")
        estimate = window_estimate(self.profile, closed)
        with self._lock:
            self._record(closed, rows, verdicts, label, estimate)

    def _record(
        self, closed: Counts, rows: Any, verdicts: Any, label: Any, estimate: Any = None
    ) -> None:
        self._evaluated += 1
        self._history.append(
            {
                "window": self._evaluated,
                "closed_at": time.time(),
                "rows": closed.rows,
                "verdict": _dataset_verdict(verdicts.values()),
                "features": rows,
                "label_counts": None if label is None else list(label.counts),
                # performance estimated without labels: an estimate, named so
                "estimate": estimate,
            }
        )
        self.total = self.total.merge(closed)
        k, n = self.persistence
        recent = list(self._history)[-n:]
        self._alerts = {
            name: sum(
                1
                for w in recent
                for r in w["features"]
                if r["feature"] == name and r["verdict"] == "drift"
            )
            >= k
            for name in [r["feature"] for r in rows]  # the multivariate row too
        }

    # -- reading ----------------------------------------------------------------------
    @property
    def history(self) -> deque[dict[str, Any]]:
        """Closed windows, oldest first, each with its per-feature results."""
        self.flush()
        return self._history

    def recent(self) -> list[dict[str, Any]]:
        """A copy of the closed windows kept (oldest first), safe while rows arrive.

        Each has its per-feature results (verdict, effect, threshold, confidence);
        at most ``history`` windows are kept, so this stays small.
        """
        self.flush()
        with self._lock:
            return list(self._history)

    @property
    def alerts(self) -> dict[str, bool]:
        """Per feature: drifted in k of the last n windows."""
        self.flush()
        return self._alerts

    @property
    def last(self) -> dict[str, Any] | None:
        """The most recently closed window, or None."""
        history = self.history
        return history[-1] if history else None

    def status(self) -> dict[str, Any]:
        """What ``GET /monitor`` shows: settings, alerts, the last window, the history."""
        self.tick()
        self.flush()
        with self._lock:
            self._drain()
            last = self._history[-1] if self._history else None
            return {
                "window": self.window,
                "seconds": self.seconds,
                "persistence": list(self.persistence),
                "windows_closed": self.windows_closed,
                "current_window_rows": self.current.rows,
                "rows_total": self.total.rows + self.current.rows,
                "alert": any(self._alerts.values()),
                "alerts": sorted(k for k, v in self._alerts.items() if v),
                "last_window": None
                if last is None
                else {**last, "features": [_clean(r) for r in last["features"]]},
                "history": [
                    {
                        "window": w["window"],
                        "rows": w["rows"],
                        "verdict": w["verdict"],
                        "drifted": [
                            r["feature"]
                            for r in w["features"]
                            if r["verdict"] == "drift"
                        ],
                    }
                    for w in self._history
                ],
            }

    def snapshot(self) -> dict[str, Any]:
        """Counters of the open window and of every closed one, JSON-ready."""
        self.flush()
        with self._lock:
            self._drain()
            return {
                "profile_features": sorted(self.profile["features"]),
                "replica": self.replica,
                "current": self.current.to_dict(),
                "total": self.total.to_dict(),
                "windows_closed": self.windows_closed,
            }

    def merge(self, snapshot: Mapping[str, Any]) -> int:
        """Add what another replica counted since its last merged snapshot.

        A snapshot carries its replica's cumulative counts (closed windows plus the
        open one), so posting it twice adds nothing the second time, and a later one
        adds only the rows scored in between. At most `MAX_REPLICAS` replicas are
        remembered: a merge can never grow this monitor without bound.

        Returns
        -------
        int
            The rows added.

        Raises
        ------
        ValueError
            The snapshot was taken over another profile, is this monitor's own, its
            counters are malformed or went down, or there are too many replicas.
        """
        if sorted(snapshot.get("profile_features", [])) != sorted(
            self.profile["features"]
        ):
            raise ValueError(
                "The snapshot was taken over another profile (its features differ); "
                "merge snapshots of the same artifact only."
            )
        replica = snapshot.get("replica")
        if not isinstance(replica, str) or not 0 < len(replica) <= 64:
            raise ValueError(
                "The snapshot names no replica (a 'replica' string of at most 64 "
                "characters); send what GET /monitor/snapshot returns."
            )
        if replica == self.replica:
            raise ValueError(
                "That is this server's own snapshot; merging it would count every "
                "row twice."
            )
        cumulative = Counts.from_dict(self.profile, snapshot["total"]).merge(
            Counts.from_dict(self.profile, snapshot["current"])
        )
        self.flush()
        with self._lock:
            before = self._merged.get(replica)
            if before is None and len(self._merged) >= MAX_REPLICAS:
                raise ValueError(
                    f"Already merging {MAX_REPLICAS} replicas; a monitor aggregates "
                    "at most that many (restart it to start over)."
                )
            added = cumulative if before is None else cumulative.since(before)
            self._merged[replica] = cumulative
            if added.rows == 0:
                return 0
            self._drain()
            self.current = self.current.merge(added)
            if self.current.rows >= self.window:
                self._close()
            return added.rows


def _columns(
    buffer: list[tuple[Mapping[str, np.ndarray], Any, Any]],
) -> tuple[Mapping[str, np.ndarray], Any]:
    """The feeds and outputs of buffered calls, joined along rows."""
    if len(buffer) == 1:
        return buffer[0][0], buffer[0][1]
    feeds = {k: np.concatenate([b[0][k] for b in buffer]) for k in buffer[0][0]}
    first = buffer[0][1]
    if not first:
        return feeds, None
    return feeds, {k: np.concatenate([b[1][k] for b in buffer]) for k in first}


def _dataset_verdict(verdicts: Any) -> str:
    v = list(verdicts)
    if v and all(x == "insufficient data" for x in v):
        return "insufficient data"
    return "drift" if "drift" in v else "no drift"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out
