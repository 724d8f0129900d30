"""Labels as the comparison reads them: which rows have one, and their class indices.

A label is missing when `featurekit.missing.is_missing` says so (None, NaN, ``pd.NA``):
such rows are counted as unlabelled, never compared. A label matches a class when it
equals it (``1.0`` is the class ``1``) or, for labels read from text, when it reads
the same (``"1"`` is the class ``1``); anything else is an error naming it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featurekit.missing import is_missing

__all__ = ["class_indices", "labelled_rows"]


def labelled_rows(labels: np.ndarray) -> np.ndarray:
    """Per row, whether it has a label.

    Examples
    --------
    >>> labelled_rows(np.array([1, None, float("nan"), "no"], dtype=object)).tolist()
    [True, False, False, True]
    """
    return np.fromiter(
        (not is_missing(v) for v in labels), dtype=bool, count=len(labels)
    )


def class_indices(values: Any, mask: np.ndarray | None, classes: Any) -> np.ndarray:
    """The index in `classes` of each value (-1 where `mask` is False).

    Raises
    ------
    ValueError
        A value (where `mask` holds) is none of the classes; the message names up to
        five of them.

    Examples
    --------
    >>> class_indices(np.array(["yes", "no", "1"], dtype=object), None, ["no", "yes", 1])
    array([1, 0, 2])
    """
    known = list(classes)
    exact: dict[Any, int] = {}
    text: dict[str, int] = {}
    for k, c in enumerate(known):
        key = c.item() if isinstance(c, np.generic) else c
        exact.setdefault(key, k)
        text.setdefault(str(key), k)
    values = np.asarray(values, dtype=object).ravel()
    out = np.full(len(values), -1, dtype=np.int64)
    unknown: list[Any] = []
    for i, v in enumerate(values):
        if mask is not None and not mask[i]:
            continue
        key = v.item() if isinstance(v, np.generic) else v
        found: int | None
        try:
            found = exact.get(key)
        except TypeError:  # unhashable
            found = None
        if found is None and isinstance(key, str):
            found = text.get(key)
        if found is None:
            if key not in unknown and len(unknown) < 5:
                unknown.append(key)
            continue
        out[i] = found
    if unknown:
        raise ValueError(
            f"Labels {unknown!r} are not classes of the models, which predict "
            f"{[c.item() if isinstance(c, np.generic) else c for c in known]!r}. "
            "Give labels as the models' classes (None or NaN for rows without one)."
        )
    return out
