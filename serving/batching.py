"""Dynamic batching: concurrent one-record ``/predict`` requests scored in one run.

Under concurrency most of a one-record request's cost is fixed: onnxruntime's cost
per graph node, the drift monitor's per-call bookkeeping. The server gathers the
one-record requests that reach the event loop together and scores them in one run of
the graph (`Predictor.score_together`), as Triton's dynamic batcher does, but with no
delay: the first request of a turn of the loop schedules the flush (``call_soon``),
which runs once the loop has started every request that was ready, so a lone request
waits for nothing.

Each request is still answered what it would have been answered alone, byte for byte:

- every record is read, and counted, by the contract's one-row path on its own; a
  record it defers (a failure, or a form only the full path reads) is scored alone,
  with its own error;
- the graph computes each row on its own, which the artifact's golden rows confirm on
  this machine before any batching (`Predictor.rows_independent`);
- a model with a prediction log, a shadow or an exploration policy is not batched
  (their records carry each request's id), nor is a request of several records.

``featurekit serve --no-batching`` turns it off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .predictor import Predictor

__all__ = ["MAX_BATCH", "Batcher", "BatchingCollector"]

#: At most this many requests in one run of the graph; more wait for the next flush.
MAX_BATCH = 64

#: ``respond(scores, ids)``: the body of a 200 answer to one record.
Respond = Callable[[dict[str, np.ndarray], list[str]], bytes]
#: ``alone(records, ids, request_id)``: the (status, body) of a request scored alone.
Alone = Callable[[list[Any], list[str], str], tuple[int, bytes]]
#: ``refuse()``: the error of a one-record request the model answered NaN, counted.
Refuse = Callable[[], BaseException]


@dataclass
class _Waiting:
    record: Any
    ids: list[str]
    request_id: str
    future: asyncio.Future[tuple[int, bytes]]


class Batcher:
    """The one-record requests of one predictor, gathered per turn of the event loop.

    Parameters
    ----------
    predictor : Predictor
        With `Predictor.rows_independent` true, no log and no exploration.
    respond, alone, refuse : callable
        How a scored record is answered; how a request is answered alone; the
        error of a record the model answered NaN (`serving.answers`).
    count : callable
        ``count(rows)``: rows scored, for the metrics.
    """

    def __init__(
        self,
        predictor: Predictor,
        respond: Respond,
        alone: Alone,
        refuse: Refuse,
        count: Callable[[int], None],
    ) -> None:
        self.predictor = predictor
        self._respond, self._alone, self._count = respond, alone, count
        self._refuse = refuse
        self._outputs = predictor.outputs
        self._waiting: list[_Waiting] = []
        #: Flushes, and requests they answered: ``requests / flushes`` is the mean
        #: batch.
        self.flushes = 0
        self.requests = 0

    async def answer(
        self, records: list[Any], ids: list[str], request_id: str
    ) -> tuple[int, bytes]:
        """The (status, body) of one request, scored with those beside it."""
        if len(records) != 1:
            return self._alone(records, ids, request_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self._waiting.append(_Waiting(records[0], ids, request_id, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        if self._waiting:  # the rest go in the next turn
            asyncio.get_running_loop().call_soon(self._flush)
        self.flushes += 1
        self.requests += len(batch)
        try:
            scores, kept, refused = self.predictor.score_together(
                [w.record for w in batch], self._outputs
            )
        except Exception as exc:  # as each would have failed alone: a 500 each
            for w in batch:
                _settle(w.future, exc)
            return
        if kept:
            self._count(len(kept))
        for i in refused:  # read and counted already: refused, not read again
            _settle(batch[i].future, self._refuse())
        done = set(kept) | set(refused)
        for j, i in enumerate(kept):
            w = batch[i]
            try:
                mine = {k: v[j : j + 1] for k, v in scores.items()}
                _settle(w.future, (200, self._respond(mine, w.ids)))
            except Exception as exc:
                _settle(w.future, exc)
        for i, w in enumerate(batch):  # what the one-row path deferred: alone
            if i not in done:
                try:
                    _settle(w.future, self._alone([w.record], w.ids, w.request_id))
                except Exception as exc:
                    _settle(w.future, exc)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """Answer a waiting request, unless it has gone (its task cancelled)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class BatchingCollector:
    """The batcher's counters for ``/metrics``, read at scrape time.

    ``featurekit_batched_requests_total / featurekit_batches_total`` is the mean
    number of one-record requests per run of the graph.
    """

    def __init__(self, state: Any) -> None:
        self._state = state

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        batcher = self._state.batcher
        if batcher is None:
            return
        for name, doc, value in (
            (
                "featurekit_batches",
                "Runs of the graph for batched one-record requests (serving.batching).",
                batcher.flushes,
            ),
            (
                "featurekit_batched_requests",
                "One-record requests those runs answered.",
                batcher.requests,
            ),
        ):
            family = CounterMetricFamily(name, doc)
            family.add_metric([], float(value))
            yield family
