"""The ceiling of a glaring cell in bench/drift.py: what an oracle test detects.

A category's share doubling is seen by featurekit's omnibus test (a permutation
chi-square over the window's table), which does not know which category moved. The
uniformly most powerful test of that one shift does: the exact one-sided binomial test
of the doubled category's count in the window, against its share in the reference. Its
power on the very windows featurekit saw is the ceiling no calibrated test can pass:

- at alpha, the oracle that also knows which column moved (one test, no multiplicity);
- at alpha / m, the level featurekit's row has when it alone moved: the strictest
  Benjamini-Hochberg cut-off among the m rows of the dataset's report (its inputs, the
  model's outputs and the multivariate row).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

ALPHA = 0.05


def oracle_power(
    column: str,
    category: str,
    reference: Path,
    windows: list[pd.DataFrame],
    tests: int,
) -> dict[str, Any]:
    """Windows in which the exact binomial test flags `category`'s count in `column`.

    The reference share is taken as known (the oracle's advantage: featurekit's test
    also pays for the reference's own sampling noise). Returns the counts of flagged
    windows at alpha and at alpha / `tests`, with the number of windows.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "ref.parquet"
    >>> pd.DataFrame({"c": ["a"] * 20 + ["b"] * 80}).to_parquet(path)
    >>> doubled = [pd.DataFrame({"c": ["a"] * 20 + ["b"] * 30})]
    >>> oracle_power("c", "a", path, doubled, 8)
    {'windows': 1, 'alpha': 1, 'family': 1, 'tests': 8, 'reference_share': 0.2}
    """
    ref = pd.read_parquet(reference, columns=[column])[column]
    share = float((ref == category).mean())
    counts = np.asarray([int((w[column] == category).sum()) for w in windows])
    sizes = np.asarray([len(w) for w in windows])
    p = binom.sf(counts - 1, sizes, share)  # P(X >= count) under the reference share
    return {
        "windows": len(windows),
        "alpha": int(np.count_nonzero(p <= ALPHA)),
        "family": int(np.count_nonzero(p <= ALPHA / max(tests, 1))),
        "tests": tests,
        "reference_share": share,
    }
