"""The metrics a comparison can gate on: what each needs, which way is better, its test.

A metric is computed from the labels (class indices for classifiers, numbers for
regressors) and one model's outputs on the same rows. The per-row terms and the AUC
are those of `featurekit.outcomes.metrics`, the figures the holdout and online
evaluation report. Most are a mean of a per-row
score (accuracy, log loss, Brier, absolute or squared error), which makes the paired
bootstrap a mean over resampled rows; RMSE is the square root of such a mean; ROC AUC
is not a mean at all and is tested with DeLong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurekit.outcomes.metrics import brier_terms, delong, log_loss_terms

__all__ = ["METRICS", "Metric", "metric_named"]

Outputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One metric: its name, the model kind and output it needs, and its paired test.

    Attributes
    ----------
    name : str
    kind : {"classifier", "regressor"}
    output : {"label", "probabilities", "prediction"}
        The model output it reads.
    higher_is_better : bool
    test : {"mcnemar", "delong", "bootstrap"}
        The paired test of no difference; every metric also gets a paired
        bootstrap confidence interval except ROC AUC, whose interval is DeLong's.
    per_row : callable or None
        ``(y, outputs) -> ndarray``, per row, whose mean is the metric (before
        `finish`); None for ROC AUC.
    finish : callable or None
        Applied to the mean (RMSE: the square root).
    """

    name: str
    kind: str
    output: str
    higher_is_better: bool
    test: str
    per_row: Callable[[np.ndarray, Outputs], np.ndarray] | None = None
    finish: Callable[[Any], Any] | None = None

    def value(self, y: np.ndarray, outputs: Outputs) -> float:
        """The metric on these rows.

        Examples
        --------
        >>> y = np.array([0, 1, 1])
        >>> metric_named("accuracy").value(y, {"label": np.array([0, 1, 0])})
        0.6666666666666666
        """
        if self.per_row is None:
            return roc_auc(y, outputs)
        mean = float(np.mean(self.per_row(y, outputs)))
        return float(self.finish(mean)) if self.finish else mean


def _correct(y: np.ndarray, out: Outputs) -> np.ndarray:
    return np.asarray(np.asarray(out["label"]) == y, dtype=np.float64)


def _log_loss(y: np.ndarray, out: Outputs) -> np.ndarray:
    return np.asarray(log_loss_terms(y, out["probabilities"]))


def _brier(y: np.ndarray, out: Outputs) -> np.ndarray:
    return np.asarray(brier_terms(y, out["probabilities"]))


def _absolute(y: np.ndarray, out: Outputs) -> np.ndarray:
    return np.asarray(np.abs(np.asarray(out["prediction"], dtype=np.float64) - y))


def _squared(y: np.ndarray, out: Outputs) -> np.ndarray:
    return np.asarray(np.square(np.asarray(out["prediction"], dtype=np.float64) - y))


def roc_auc(y: np.ndarray, out: Outputs) -> float:
    """ROC AUC of the second class's probability (binary): NaN without both classes."""
    return delong(np.asarray(y) == 1, np.asarray(out["probabilities"])[:, 1])[0]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classifier", "label", True, "mcnemar", _correct),
        Metric("roc_auc", "classifier", "probabilities", True, "delong"),
        Metric(
            "log_loss", "classifier", "probabilities", False, "bootstrap", _log_loss
        ),
        Metric("brier", "classifier", "probabilities", False, "bootstrap", _brier),
        Metric("mae", "regressor", "prediction", False, "bootstrap", _absolute),
        Metric("mse", "regressor", "prediction", False, "bootstrap", _squared),
        Metric(
            "rmse", "regressor", "prediction", False, "bootstrap", _squared, np.sqrt
        ),
    )
}

#: The metric used when none is named.
DEFAULT = {"classifier": "accuracy", "regressor": "rmse"}


def metric_named(name: str | None, kind: str = "classifier") -> Metric:
    """The metric called `name` (default: accuracy, or RMSE for a regressor).

    Raises
    ------
    ValueError
        No such metric, or not one for this kind of model.

    Examples
    --------
    >>> metric_named("rmse").higher_is_better
    False
    >>> metric_named("r2")
    Traceback (most recent call last):
    ...
    ValueError: Unknown metric 'r2'; use one of ['accuracy', 'brier', 'log_loss', 'mae', 'mse', 'rmse', 'roc_auc'].
    """
    if name is None:
        name = DEFAULT[kind]
    metric = METRICS.get(name)
    if metric is None:
        raise ValueError(f"Unknown metric {name!r}; use one of {sorted(METRICS)}.")
    return metric
