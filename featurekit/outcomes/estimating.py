"""The profile's label-free performance estimate, fitted at export on the holdout.

`fk.export(..., holdout=X, holdout_y=y)` scores the holdout rows; for a classifier
with probabilities this adds ``estimate`` to the profile: the calibration map of
`featurekit.monitoring.estimate`, on the bins of the monitored score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featurekit.monitoring.estimate import build_estimate
from featurekit.monitoring.profile import OUTPUT_SCORE
from featurekit.outcomes.metrics import class_index

__all__ = ["profile_estimate"]


def profile_estimate(
    profile: dict[str, Any],
    manifest: dict[str, Any],
    holdout_y: Any,
    answers: dict[str, np.ndarray],
) -> dict[str, Any] | None:
    """The ``estimate`` entry, or None (a regressor, or no probabilities or score bins).

    `answers` are the graph's on the holdout rows, which the profile was built from.
    """
    score = profile["features"].get(OUTPUT_SCORE)
    proba = answers.get("probabilities")
    if manifest["kind"] != "classifier" or proba is None or score is None:
        return None
    classes = manifest["classes"]
    y = class_index(np.asarray(holdout_y, dtype=object).reshape(-1), classes)
    predicted = class_index(np.asarray(answers["label"]).reshape(-1), classes)
    return build_estimate(
        score["edges"], np.asarray(proba), y, predicted, np.random.default_rng(0)
    )
