"""The numeric side of the precision plan: exact boundaries found by bisection over doubles.

Two questions come up when a tree model follows the feature transforms, and both are
answered by evaluating the fitted scikit-learn chain itself, never an approximation:

- `raw_thresholds`: which raw values go left at a split on a transformed column?
- `float32_domain`: which raw values stay finite once scikit-learn's trees round the
  transformed value to float32? scikit-learn refuses the others, so the contract must
  too, or serving would answer where training cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["float32_domain", "raw_thresholds"]

_MAX = float(np.finfo(np.float64).max)


def _ordered(x: np.ndarray) -> np.ndarray:
    """Map doubles to int64 so that the integer order is the float order."""
    b = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(b < 0, -(b & np.int64(0x7FFFFFFFFFFFFFFF)), b)


def _unordered(i: np.ndarray) -> np.ndarray:
    b = np.where(i < 0, (-i) | np.int64(-0x8000000000000000), i).astype(np.int64)
    return b.view(np.float64)


def _last_same(
    pred: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Per element, the largest double in [lo, hi) where `pred` still equals pred(lo).

    `pred` must switch at most once between lo and hi (a monotone question).
    """
    lo = _ordered(lo)
    hi = _ordered(hi)
    start = pred(_unordered(lo))
    while True:
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # floor average without overflow
        active = mid != lo  # i.e. hi - lo > 1, which itself could overflow
        if not active.any():
            return _unordered(lo)
        same = pred(_unordered(mid)) == start
        lo = np.where(active & same, mid, lo)
        hi = np.where(active & ~same, mid, hi)


def _apply(transform: Any, x: np.ndarray, precision: str) -> np.ndarray:
    X: Any = x.reshape(-1, 1)
    names = getattr(transform, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame inside the ColumnTransformer
        import pandas as pd

        X = pd.DataFrame(X, columns=list(names))
    with np.errstate(all="ignore"):
        v = np.asarray(transform.transform(X), dtype=np.float64).ravel()
        if precision == "float32":
            v = v.astype(np.float32).astype(np.float64)
    return v


def raw_thresholds(
    transform: Any, thresholds: np.ndarray, precision: str, lowest: float
) -> np.ndarray:
    """Move split thresholds from transformed space back to raw input space, exactly.

    A split sends ``x`` left when ``round(T(x)) <= t``, where ``T`` is the fitted
    scikit-learn chain (for example log1p then a scaler) and ``round`` is float32
    rounding for scikit-learn's own trees. ``T`` is monotone, so the split equals
    ``x <= r`` for the largest double ``r`` that still goes left. This finds ``r``
    by bisection over all doubles above `lowest`, so no ONNX operator has to
    reproduce numpy's ``log`` bit for bit.

    Returns -inf when no admissible value goes left and +inf when all do.

    Examples
    --------
    >>> import numpy as np
    >>> from featurekit.transforms.basic import Log1p
    >>> log = Log1p().fit(np.array([[0.0]]))
    >>> r = raw_thresholds(log, np.array([1.0]), "float64", -1.0)[0]
    >>> bool(np.log(1 + r) <= 1.0), bool(np.log(1 + np.nextafter(r, np.inf)) <= 1.0)
    (True, False)
    """
    t = np.asarray(thresholds, dtype=np.float64)

    def left(x: np.ndarray) -> np.ndarray:
        return _apply(transform, x, precision) <= t

    lo = np.full(t.shape, np.nextafter(lowest, np.inf))
    hi = np.full(t.shape, _MAX)
    r = _last_same(left, lo, hi)
    r = np.where(left(hi), np.inf, r)
    return np.where(~left(lo), -np.inf, r)


def float32_domain(
    transform: Any, start: float, lowest: float, precision: str = "float32"
) -> tuple[float, float]:
    """The raw interval whose transformed values stay finite in `precision`.

    Parameters
    ----------
    transform : fitted scikit-learn transformer
        The column's chain, as scikit-learn runs it.
    start : float
        A raw value inside the domain, such as the reference median.
    lowest : float
        No value at or below this is admissible anyway (for example -1 for log1p).
    precision : {"float32", "float64"}
        What the model computes in: float32 for scikit-learn's own trees.

    Returns
    -------
    (lo, hi) : tuple of float
        Inclusive ends, or ±inf where every double is fine.
    """

    def finite(x: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(np.isfinite(_apply(transform, x, precision)))
        except ValueError:  # the chain itself refuses the value, e.g. log1p(-2)
            return np.zeros(x.shape, dtype=bool)

    s = np.array([start], dtype=np.float64)
    top = np.array([_MAX])
    hi = np.inf if finite(top)[0] else float(_last_same(finite, s, top)[0])
    bottom = np.array([max(-_MAX, float(np.nextafter(lowest, np.inf)))])
    if finite(bottom)[0]:
        lo = -np.inf if lowest == -np.inf else float(bottom[0])
    else:
        lo = float(np.nextafter(_last_same(finite, bottom, s)[0], np.inf))
    return lo, hi
