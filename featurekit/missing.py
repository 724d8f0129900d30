"""What "missing" means: one definition for training, certification and serving."""

import math
from typing import Any

import numpy as np

__all__ = ["MISSING", "is_missing"]

#: What a missing categorical value becomes, in both runtimes.
MISSING = "\x00featurekit:missing"


def is_missing(value: Any, *, sentinel: bool = False) -> bool:
    """Whether a value is missing: None, NaN, ``pd.NA`` or ``pd.NaT``.

    With ``sentinel=True`` the `MISSING` string counts too: that is how a missing
    category reads once the input boundary has typed it.

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(0.0), is_missing("")
    (True, True, False, False)
    >>> is_missing(MISSING), is_missing(MISSING, sentinel=True)
    (False, True)
    """
    if value is None or (sentinel and isinstance(value, str) and value == MISSING):
        return True
    if isinstance(value, float | np.floating):
        return bool(math.isnan(value))
    # pd.NA and pd.NaT: compare by type name so this module need not import pandas
    return type(value).__name__ in ("NAType", "NaTType")
