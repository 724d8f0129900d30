"""What `fk.export(..., holdout=X, holdout_y=y)` records: holdout performance and labels.

The manifest's ``holdout`` holds:

- ``rows``: how many holdout rows were scored;
- ``metrics``: the exported graph's performance on them, each figure with its 95 %
  interval (`featurekit.outcomes.metrics`);
- ``labels``: a profile of the labels (`featurekit.monitoring.profile.build_profile`,
  one feature named ``label``), which label drift is decided against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featurekit.errors import ExportError
from featurekit.missing import is_missing
from featurekit.monitoring.profile import build_profile
from featurekit.outcomes import metrics

__all__ = ["LABEL", "holdout_record", "label_profile"]

#: The label's feature name in the label profile.
LABEL = "label"


def label_profile(labels: np.ndarray, kind: str) -> dict[str, Any]:
    """The label distribution as a one-feature drift profile (categories or bins)."""
    if kind == "classifier":
        return build_profile({}, {LABEL: np.asarray([str(v) for v in labels], object)})
    return build_profile({LABEL: np.asarray(labels, dtype=np.float64)}, {})


def holdout_record(
    manifest: dict[str, Any], holdout_y: Any, rows: int, answers: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The manifest's ``holdout`` entry; `answers` are the graph's on the holdout."""
    y = np.asarray(holdout_y, dtype=object).reshape(-1)
    if y.size != rows:
        raise ExportError(
            f"holdout_y has {y.size} labels for {rows} holdout rows; give one per row."
        )
    missing = [i for i, v in enumerate(y) if is_missing(v)]
    if missing:
        raise ExportError(
            f"holdout_y is missing at rows {missing[:5]}; every holdout row needs a label."
        )
    kind = manifest["kind"]
    if kind == "classifier":
        classes = manifest["classes"]
        index = metrics.class_index(y, classes)
        if (index < 0).any():
            bad = sorted({str(v) for v in y[index < 0]})[:5]
            raise ExportError(
                f"holdout_y has labels {bad} that are none of the model's classes "
                f"{classes}."
            )
        figures = metrics.classification(
            y, answers.get("probabilities"), classes, predicted=answers["label"]
        )
    else:
        try:
            values = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ExportError(
                f"holdout_y must be numbers for a regressor: {exc}"
            ) from None
        figures = metrics.regression(values, answers["prediction"])
        y = values
    return {"rows": rows, "metrics": figures, "labels": label_profile(y, kind)}
