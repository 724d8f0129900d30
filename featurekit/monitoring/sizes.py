"""Thresholds calibrated at a few window sizes, read at any size.

A profile calibrates every effect threshold by bootstrap at each size of
``settings["sizes"]`` (20 rows up to the profile's window). A window between two sizes
reads the threshold interpolated linearly in ``1 / sqrt(n)`` (the scale at which null
effects shrink); a window above the largest size keeps the largest size's threshold,
so that huge windows do not alarm on harmless shifts. Profiles written before sizes
were calibrated hold one threshold, at their window: `scaled` raises it for smaller
windows by the ratio of the null's spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["scaled", "threshold_at"]


def threshold_at(thresholds: Sequence[float], sizes: Sequence[int], n: int) -> float:
    """The threshold at `n` rows, from thresholds calibrated at `sizes` (ascending).

    Examples
    --------
    >>> threshold_at([0.4, 0.1], [25, 400], 100)
    0.2
    >>> threshold_at([0.4, 0.1], [25, 400], 10_000), threshold_at([0.4, 0.1], [25, 400], 5)
    (0.1, 0.4)
    """
    if n >= sizes[-1] or len(sizes) == 1:
        return float(thresholds[-1])
    if n <= sizes[0]:
        return float(thresholds[0])
    k = next(i for i, s in enumerate(sizes) if s > n)
    x0, x1, x = (1 / math.sqrt(s) for s in (sizes[k - 1], sizes[k], n))
    w = (x - x0) / (x1 - x0)
    return float(thresholds[k - 1] + w * (thresholds[k] - thresholds[k - 1]))


def scaled(threshold: float, n: int, reference: int, window: int) -> float:
    """The threshold at window size `n`: larger below the calibrated size, never lower.

    Examples
    --------
    >>> round(scaled(0.1, 250, 10**9, 1000), 6)
    0.2
    """
    if n >= window or n == 0:
        return threshold
    return threshold * math.sqrt(
        (1 / n + 1 / max(reference, 1)) / (1 / window + 1 / max(reference, 1))
    )
