"""Vectorised helpers of `featurekit.monitoring.counts` for large batches.

Each gives exactly what the plain path gives (a binary search over the edges, a row's
maximum and argmax, a hash of every string), in fewer passes over the batch;
tests/featurekit/test_counts_fast.py checks them against a count one value at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import numpy as np

__all__ = ["ONE_BLAS_THREAD", "binned", "coded", "joint_columns", "top_class"]

#: Below this many values x edges, a batch is binned by binary search: one comparison
#: per edge costs a pass over the batch each, but a binary search over a few dozen
#: edges mispredicts a branch at every step (about 27 ns a value against 4 ns).
_COMPARE_FROM = 60_000
#: Edges beyond this are binned by binary search (one pass per edge grows linearly).
_COMPARE_EDGES = 128
#: Values compared per chunk (512 KiB of float64): a chunk stays in the CPU cache for
#: all its passes, where a million values would stream from memory once per edge.
_CHUNK = 65_536


def binned(
    every: np.ndarray, x: np.ndarray, nans: int, edges: np.ndarray, size: int
) -> np.ndarray:
    """Values per bin: a value's bin is how many edges are at or below it.

    That is ``edges.searchsorted(x, side="right")`` (x without NaN), which small
    batches use. A large batch (`every`, NaN included) is binned exactly the same by
    one float comparison per edge instead: NaN compares below every edge, so its
    `nans` values land in bin 0 and are taken out again; -inf lands in bin 0 and
    +inf in the last one, as in the binary search.

    Examples
    --------
    >>> x = np.repeat([np.nan, -np.inf, 0.0, 1.0, 1.5, 2.0, np.inf], 20_000)
    >>> binned(x, x[~np.isnan(x)], 20_000, np.array([1.0, 2.0]), 3) // 20_000
    array([2, 2, 2])
    """
    if len(every) * len(edges) < _COMPARE_FROM or len(edges) > _COMPARE_EDGES:
        return np.bincount(edges.searchsorted(x, side="right"), minlength=size)
    at = np.zeros(len(every), dtype=np.uint8)
    above = np.empty(min(len(every), _CHUNK), dtype=bool)
    bounds = edges.tolist()
    for start in range(0, len(every), _CHUNK):  # a chunk stays in cache for every edge
        part, count = every[start : start + _CHUNK], at[start : start + _CHUNK]
        flags = above[: len(part)]
        for edge in bounds:
            np.greater_equal(part, edge, out=flags)
            count += flags
    found = np.bincount(at, minlength=size)
    found[0] -= nans
    return found


def top_class(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: its largest probability and the first column holding it.

    Exactly ``proba.max(axis=1)`` and ``np.argmax(proba, axis=1)`` (a NaN is the
    maximum, the first one on ties); two columns take two elementwise passes, where
    the reductions along a row of two cost ten times more.

    Examples
    --------
    >>> best, picked = top_class(np.array([[0.2, 0.8], [0.5, 0.5], [np.nan, 0.1]]))
    >>> best.tolist(), picked.tolist()
    ([0.8, 0.5, nan], [1, 0, 0])
    """
    if proba.shape[1] != 2:
        return proba.max(axis=1), np.argmax(proba, axis=1)
    a, b = proba[:, 0], proba[:, 1]
    picked = (b > a) | (np.isnan(b) & ~np.isnan(a))
    return np.maximum(a, b), picked.view(np.int8)


def coded(feeds: Mapping[str, np.ndarray], n: int) -> dict[str, Any]:
    """The `featurekit.contract.columns.Feeds` codes of `n` rows of feeds, if any."""
    codes = getattr(feeds, "codes", None)
    if not codes:
        return {}
    return {k: c for k, c in codes.items() if len(c.codes) == n}


def joint_columns(feeds: Mapping[str, np.ndarray], n: int) -> Mapping[str, Any]:
    """Feeds for the multivariate signal: coded string columns as their codes.

    The contract read an Arrow-backed string column into codes of its distinct words:
    the joint looks those few words up and takes the rows by code, instead of
    hashing every string again; a missing value codes as no category either way.
    """
    from featurekit.monitoring.joint import CodedStrings

    found = coded(feeds, n)
    if not found:
        return feeds
    return {**feeds, **{k: CodedStrings(c.codes, c.words) for k, c in found.items()}}


class _OneBlasThread:
    """While a section runs on the main thread, BLAS uses one thread, then as before.

    The multivariate row multiplies ``(rows, inputs)`` by ``(inputs, directions)``,
    a product too thin to split: OpenBLAS's threads cost more to wake and join than
    they save, most of all on a busy machine (``fk.drift`` of 1M rows x 25 columns
    took 2.2x as long with BLAS's default two threads, load 6-8 on 2 cores).
    threadpoolctl sets the limit when the first section enters and restores the
    previous one when the last leaves. Only the main thread limits: a limit set from
    another thread does not reach the OpenBLAS numpy ships (tested), so a section
    there runs as it would without one.

    Examples
    --------
    >>> with ONE_BLAS_THREAD:
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._limit: Any = None
        self._controller: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with self._lock:
            if self._inside == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._inside += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._limit is not None:
                self._limit.restore_original_limits()
                self._limit = None


#: Enter around BLAS work on large batches (`featurekit.monitoring.counts`).
ONE_BLAS_THREAD = _OneBlasThread()
