"""Whether a graph answers a row with the same bits alone as in a batch.

featurekit's graphs compute each row on its own: no operation whose rounding depends
on the batch (``docs/exactness.md``; onnxruntime's own ``Sigmoid`` or ``Exp`` would round
a value by its position in the batch, so featurekit's graphs never use them). A server
may then score concurrent one-record requests together and answer each what it would
have been answered alone (`serving.batching`). `rows_independent` checks it on this
machine's runtime, with the artifact's golden rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from featurekit.golden.rows import GoldenRows

__all__ = ["BATCH_SIZES", "rows_independent"]

#: The batch sizes the golden rows are run in, besides all of them at once.
BATCH_SIZES = (2, 7, 64)

#: ``run(records, names)``: the named outputs of the records, in order.
Run = Callable[[list[dict[str, Any]], list[str]], Sequence[np.ndarray]]


def rows_independent(golden: GoldenRows | None, run: Run, names: list[str]) -> bool:
    """Every golden row alone against the rows in batches: the same bits throughout.

    False without golden rows (at least 2), or when `run` fails on them.

    Examples
    --------
    >>> rows = GoldenRows(records=[{"x": 1.0}, {"x": 2.0}], names=["a", "b"],
    ...                   expected={})
    >>> rows_independent(rows, lambda r, n: [np.array([v["x"] for v in r])], ["y"])
    True
    >>> rows_independent(rows, lambda r, n: [np.array([len(r)] * len(r))], ["y"])
    False
    """
    if golden is None or len(golden.records) < 2:
        return False
    records = golden.records
    try:
        alone = [run([r], names) for r in records]
        for size in (*BATCH_SIZES, len(records)):
            for start in range(0, len(records), size):
                together = run(records[start : start + size], names)
                for j in range(len(together[0])):
                    for a, t in zip(alone[start + j], together, strict=True):
                        if not _same(np.asarray(a), np.asarray(t)[j : j + 1]):
                            return False
    except Exception:  # a row this runtime refuses: never batch on a guess
        return False
    return True


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same values, bit for bit for numbers (NaN included)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    return bool(np.array_equal(a, b))
