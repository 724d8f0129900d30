"""Shadow serving: a challenger scores every request off the response path.

``featurekit serve CHAMPION --shadow CHALLENGER``: the champion answers; the same
records (with the same row ids) are then queued for the challenger, whose thread
scores what waits in batches (every 50 ms, or once 256 requests wait). Its errors and
its latency never reach the response: a full queue drops the shadow's work
(counted), a contract refusal or an exception is counted. With
``--log`` both are logged, the challenger's rows tagged ``served_by = "shadow"``, so
`featurekit compare --log` can compare them on live traffic once labels arrive.

Metrics: ``featurekit_shadow_rows_total{outcome}`` (scored, refused, dropped,
error), ``featurekit_shadow_agreement`` (the share of rows both scored on which they
agree: same label, or for a regressor within 1e-9 relative), and
``featurekit_shadow_seconds`` (time the challenger spent, summed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from featurekit.errors import ContractError

from .predictor import Predictor
from .split import Split

__all__ = ["MAX_PENDING", "Shadow"]

#: Rows waiting for the challenger; beyond this the shadow's work is dropped.
MAX_PENDING = 100_000
_log = logging.getLogger("serving.shadow")


class Shadow:
    """The challenger and its counters (see the module docstring).

    Requests are batched: the challenger's thread wakes every `interval` seconds (or
    once `batch` requests wait) and scores everything waiting in one call, so that
    the Python work it competes with the request path for is paid once per batch,
    not once per request.
    """

    def __init__(
        self,
        predictor: Predictor,
        *,
        max_pending: int = MAX_PENDING,
        interval: float = 0.05,
        batch: int = 256,
    ) -> None:
        self.predictor = predictor
        self.max_pending = max_pending
        self.interval = interval
        self.batch = batch
        self._lock = threading.Lock()
        self._waiting: list[tuple[Any, ...]] = []
        self._waiting_rows = 0
        self._busy = False
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self.rows = {"scored": 0, "refused": 0, "dropped": 0, "error": 0}
        self.compared = 0
        self.agreed = 0
        self.seconds = 0.0
        self.last_error: str | None = None
        self._thread = threading.Thread(
            target=self._loop, name="featurekit-shadow", daemon=True
        )
        self._thread.start()

    def submit(
        self,
        records: Any,
        ids: list[str] | None,
        request_id: str | None,
        champion: dict[str, np.ndarray],
        passed: np.ndarray | None,
    ) -> None:
        """Queue the challenger's run of `records`; never blocks, never raises."""
        with self._lock:
            if self._waiting_rows + len(records) > self.max_pending:
                self.rows["dropped"] += len(records)
                return
            self._waiting.append((list(records), ids, champion, passed))
            self._waiting_rows += len(records)
            self._idle.clear()
            full = len(self._waiting) >= self.batch
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                work, self._waiting = self._waiting, []
                self._waiting_rows = 0
                self._busy = bool(work)
            if work:
                self._run(work)
            with self._lock:
                self._busy = False
                if not self._waiting:
                    self._idle.set()

    def _run(self, work: list[tuple[Any, ...]]) -> None:
        start = time.perf_counter()
        records = [r for w in work for r in w[0]]
        n = len(records)
        have_ids = all(w[1] is not None for w in work)
        ids = [i for w in work for i in w[1]] if have_ids else None
        try:
            data = records[0] if n == 1 else records
            got = self.predictor.score(data, on_error="split", ids=ids)
            assert isinstance(got, Split)  # on_error="split" returns one
            self._count(got, work)
        except ContractError as exc:  # a column-level refusal of every row
            with self._lock:
                self.rows["refused"] += n
                self.last_error = str(exc).splitlines()[0]
        except Exception as exc:  # the challenger's failure is never the client's
            with self._lock:
                self.rows["error"] += n
                self.last_error = f"{type(exc).__name__}: {exc}"
            _log.warning("The shadow model failed on a batch: %s", self.last_error)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start

    def _count(self, got: Split, work: list[tuple[Any, ...]]) -> None:
        """Agreement with the champion, request by request of the batch."""
        theirs_all = np.asarray(got.passed)
        key = "label" if "label" in got.scores else "prediction"
        their_answers = np.asarray(got.scores[key])
        compared = agreed = 0
        at = 0  # position in the batch
        done = 0  # the challenger's scored rows before this request
        for records, _ids, champion, passed in work:
            k = len(records)
            theirs = theirs_all[at : at + k]
            ours = np.ones(k, dtype=bool) if passed is None else np.asarray(passed)
            both = ours & theirs
            if both.any():
                a = np.asarray(champion[key])[both[ours]]
                b = their_answers[done : done + int(theirs.sum())][both[theirs]]
                if key == "label":
                    agreed += int((a.astype(str) == b.astype(str)).sum())
                else:
                    agreed += int(np.isclose(a, b, rtol=1e-9, atol=0).sum())
                compared += int(both.sum())
            at += k
            done += int(theirs.sum())
        with self._lock:
            self.rows["scored"] += int(theirs_all.sum())
            self.rows["refused"] += int((~theirs_all).sum())
            self.compared += compared
            self.agreed += agreed

    def agreement(self) -> float | None:
        """The share of rows both models scored on which they agree (None: none yet)."""
        return self.agreed / self.compared if self.compared else None

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the challenger has caught up (tests, shutdown)."""
        self._wake.set()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.drain()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.predictor.close()

    def status(self) -> dict[str, Any]:
        """What ``/monitor`` shows under ``shadow``."""
        p = self.predictor
        return {
            "model": {"name": p.name, "version": p.version, "sha256": p.sha256},
            "rows": dict(self.rows),
            "agreement": self.agreement(),
            "compared_rows": self.compared,
            "seconds": self.seconds,
            "last_error": self.last_error,
        }


class ShadowCollector:
    """The shadow's counters for ``/metrics``, read at scrape time."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        shadow = self._state.shadow
        if shadow is None:
            return
        rows = CounterMetricFamily(
            "featurekit_shadow_rows",
            "Rows the shadow (challenger) model was given, by outcome.",
            labels=["outcome"],
        )
        for outcome, n in shadow.rows.items():
            rows.add_metric([outcome], float(n))
        yield rows
        agreement = shadow.agreement()
        if agreement is not None:
            g = GaugeMetricFamily(
                "featurekit_shadow_agreement",
                "Share of rows both models scored on which they agree.",
            )
            g.add_metric([], agreement)
            yield g
        seconds = CounterMetricFamily(
            "featurekit_shadow_seconds", "Time the shadow model spent scoring."
        )
        seconds.add_metric([], shadow.seconds)
        yield seconds
