"""Shadow serving: a challenger scores every request off the response path.

``featurekit serve CHAMPION --shadow CHALLENGER``: the champion answers; the same
records (with the same row ids) are then handed to the challenger on a thread of its
own. Its errors and its latency never reach the response: a full queue drops the
shadow's work (counted), a contract refusal or an exception is counted. With
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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from featurekit.errors import ContractError

from .predictor import Predictor
from .split import Split

__all__ = ["MAX_PENDING", "Shadow"]

#: Requests waiting for the challenger; beyond this the shadow's work is dropped.
MAX_PENDING = 256
_log = logging.getLogger("serving.shadow")


class Shadow:
    """The challenger and its counters (see the module docstring)."""

    def __init__(self, predictor: Predictor, *, max_pending: int = MAX_PENDING) -> None:
        self.predictor = predictor
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="featurekit-shadow")
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()
        self.rows = {"scored": 0, "refused": 0, "dropped": 0, "error": 0}
        self.compared = 0
        self.agreed = 0
        self.seconds = 0.0
        self.last_error: str | None = None

    def submit(
        self,
        records: Any,
        ids: list[str] | None,
        request_id: str | None,
        champion: dict[str, np.ndarray],
        passed: np.ndarray | None,
    ) -> None:
        """Queue the challenger's run of `records`; never blocks, never raises."""
        n = len(records)
        with self._lock:
            if self._pending >= self.max_pending:
                self.rows["dropped"] += n
                return
            self._pending += 1
            self._idle.clear()
        self._executor.submit(self._run, records, ids, request_id, champion, passed)

    def _run(
        self,
        records: Any,
        ids: list[str] | None,
        request_id: str | None,
        champion: dict[str, np.ndarray],
        passed: np.ndarray | None,
    ) -> None:
        start = time.perf_counter()
        p = self.predictor
        try:
            data = records[0] if len(records) == 1 else records
            got = p.score(data, on_error="split", ids=ids, request_id=request_id)
            assert isinstance(got, Split)  # on_error="split" returns one
            self._count(got, champion, passed, len(records))
        except ContractError as exc:  # a column-level refusal of every row
            with self._lock:
                self.rows["refused"] += len(records)
                self.last_error = str(exc).splitlines()[0]
        except Exception as exc:  # the challenger's failure is never the client's
            with self._lock:
                self.rows["error"] += len(records)
                self.last_error = f"{type(exc).__name__}: {exc}"
            _log.warning("The shadow model failed on a request: %s", self.last_error)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    def _count(
        self,
        got: Split,
        champion: dict[str, np.ndarray],
        passed: np.ndarray | None,
        n: int,
    ) -> None:
        ours = np.ones(n, dtype=bool) if passed is None else np.asarray(passed)
        theirs = np.asarray(got.passed)
        both = ours & theirs
        agree = 0
        if both.any():
            key = "label" if "label" in champion else "prediction"
            a = np.asarray(champion[key])[both[ours]]
            b = np.asarray(got.scores[key])[both[theirs]]
            if key == "label":
                agree = int((a.astype(str) == b.astype(str)).sum())
            else:
                agree = int(np.isclose(a, b, rtol=1e-9, atol=0).sum())
        with self._lock:
            self.rows["scored"] += int(theirs.sum())
            self.rows["refused"] += int((~theirs).sum())
            self.compared += int(both.sum())
            self.agreed += agree

    def agreement(self) -> float | None:
        """The share of rows both models scored on which they agree (None: none yet)."""
        return self.agreed / self.compared if self.compared else None

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the challenger has caught up (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.drain()
        self._executor.shutdown(wait=True)
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
