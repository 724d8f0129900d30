"""Rows the model answers with NaN: refused, never served.

A record can pass the contract and still reach the model with a missing feature: a
derived value that is not finite (``x / y`` overflowing, say) is missing, and a model
without ``impute=`` on it, such as a LogisticRegression, cannot score it. scikit-learn
refuses such a row ("Input X contains NaN"); onnxruntime answers NaN probabilities,
and the label of a NaN decision. `Predictor` looks at the model's numeric answer
after every run and refuses those rows as contract failures (a 422 over HTTP; in
``on_error="split"`` they join the refused rows), before the drift monitor or the log
see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featurekit.contract.failures import failure_table
from featurekit.declare.computed import Derived
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ContractError

__all__ = ["ANSWERS", "CHECK", "COLUMN", "NaNAnswers", "nan_rows", "unanswerable"]

#: The numeric answers looked at, the first a model has.
ANSWERS = ("probabilities", "prediction", "decision_function")
#: Up to this many rows, `nan_rows` looks at the values in Python.
_FEW = 16
#: How a refused row reads in the failure table (and the contract-failure metric).
COLUMN, CHECK = "(answer)", "answer_is_a_number"


class NaNAnswers(Exception):
    """Raised inside `Predictor` when rows (positions of the run) were answered NaN."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__(f"{len(rows)} rows answered NaN")
        self.rows = rows


def nan_rows(answer: np.ndarray | None) -> np.ndarray | None:
    """Positions of the rows whose answer holds a NaN, or None when there are none.

    Examples
    --------
    >>> nan_rows(np.array([[0.2, 0.8], [np.nan, np.nan]])).tolist()
    [1]
    >>> nan_rows(np.array([0.5, 1.5])) is None
    True
    >>> nan_rows(np.full((100, 2), 0.5)) is None, nan_rows(np.r_[np.zeros(99), np.nan])
    (True, array([99]))
    """
    if answer is None or answer.dtype.kind != "f":
        return None
    if len(answer) <= _FEW:  # a few rows: plain Python beats numpy's reductions
        values = answer.tolist()
        if answer.ndim == 1:
            if all(v == v for v in values):
                return None
        elif all(v == v for row in values for v in row):
            return None
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(answer.sum())  # NaN if any is (or, rarely, inf - inf)
        if total == total:
            return None
    bad = np.isnan(answer)
    if bad.ndim > 1:
        bad = bad.any(axis=tuple(range(1, bad.ndim)))
    return bad.nonzero()[0] if bad.any() else None


def unanswerable(
    features: FeatureSet, labels: Sequence[Any], n_rows: int
) -> ContractError:
    """The error for rows answered NaN, named by `labels` (their input labels)."""
    suspects = [
        f.name
        for f in features.features
        if isinstance(f, Derived) and getattr(f, "impute", None) is None
    ]
    table = failure_table([(COLUMN, CHECK, None, label) for label in labels])
    shown = ", ".join(repr(label) for label in list(labels)[:3])
    more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
    cause = (
        f"a feature came out missing (a derived value that is not finite, such as an "
        f"overflow{': ' + ', '.join(repr(s) for s in suspects) if suspects else ''}) "
        "and the model does not accept missing values"
    )
    return ContractError(
        f"{len(labels)} of {n_rows} rows failed the contract of {features.name!r} "
        f"v{features.version}: the model's answer is not a number for row {shown}"
        f"{more}: {cause}. Bound the raw columns it reads (bounds=...) or give it "
        "impute=...; scikit-learn refuses these rows too.",
        table,
    )
