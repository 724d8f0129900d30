"""`Split`, what ``on_error="split"`` returns, and the ids of the rows that passed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Split", "check_ids", "kept_ids", "refuse_answered"]


@dataclass
class Split:
    """What ``on_error="split"`` returns: the scored rows and the refused ones.

    Attributes
    ----------
    scores : ndarray or dict of str to ndarray
        Answers for the rows that passed, in input order: an array from `predict` and
        `predict_proba`, a dict of output name to array from `score`.
    passed : ndarray of bool
        Per input row, whether it passed; ``scores`` has ``passed.sum()`` rows.
    index : sequence
        The input's row labels.
    failures : DataFrame
        column, check, failure_case, index of every failure.
    """

    scores: Any
    passed: np.ndarray
    index: Any
    failures: Any

    @property
    def accepted_index(self) -> list[Any]:
        return [i for i, ok in zip(self.index, self.passed, strict=True) if ok]

    @property
    def rejected_index(self) -> list[Any]:
        return [i for i, ok in zip(self.index, self.passed, strict=True) if not ok]

    def __repr__(self) -> str:
        n = len(self.passed)
        return f"Split({int(self.passed.sum())} of {n} rows scored, {n - int(self.passed.sum())} refused)"


def check_ids(ids: Any, n: int) -> None:
    """Raise unless `ids` is None or a sequence of one id for each of `n` records."""
    if ids is None:
        return
    if isinstance(ids, str | bytes) or not hasattr(ids, "__len__"):
        raise ValueError(
            f"ids must be a list with one id per record, got {type(ids).__name__}."
        )
    if len(ids) != n:
        raise ValueError(
            f"ids has {len(ids)} entries for {n} records; give one id per record."
        )


def kept_ids(ids: Any, passed: np.ndarray) -> Any:
    """The ids of the rows that passed, after checking one id was given per record."""
    check_ids(ids, passed.size)
    if ids is None or passed.all():
        return ids  # every row scored: the caller's ids as they are
    return [ids[i] for i in np.flatnonzero(passed)]


def refuse_answered(
    feeds: dict[str, np.ndarray],
    passed: np.ndarray,
    index: Any,
    failures: Any,
    kept: Any,
    rows: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray, Any, Any, int]:
    """Move the rows the model answered NaN to the refused ones.

    `rows` are positions among the rows that passed. Returns the feeds, mask,
    failures and ids left to score, and how many rows that is.
    """
    import pandas as pd

    from featurekit.contract.failures import failure_table

    from .answers import CHECK, COLUMN

    scored = np.flatnonzero(passed)
    where = scored[rows]
    passed = passed.copy()
    passed[where] = False
    labels = list(index)
    added = failure_table([(COLUMN, CHECK, None, labels[i]) for i in where.tolist()])
    failures = added if len(failures) == 0 else pd.concat([failures, added])
    keep = np.setdiff1d(np.arange(len(scored)), rows)
    feeds = {k: v[keep] for k, v in feeds.items()}
    if kept is not None:
        kept = [kept[j] for j in keep.tolist()]
    return feeds, passed, failures.reset_index(drop=True), kept, len(keep)
