"""The drift profile an export writes (``profile.json``), from the graph's own answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.declare.columns import Categorical, Numeric
from featurekit.errors import ContractError, ExportError

__all__ = ["profile_rows"]


def profile_rows(
    columns: Columns,
    session: Any,
    manifest: dict[str, Any],
    reference: pd.DataFrame,
    holdout: pd.DataFrame | None,
    reference_answers: dict[str, np.ndarray],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The reference profile for drift: inputs as the graph reads them, and its answers.

    Without `holdout`, the graph's answers on the reference rows are the ones the
    certificate already computed. Also returns the graph's answers on the profiled
    rows (every output; empty for a classifier without probabilities when not asked).
    """
    from featurekit.monitoring.profile import build_profile

    source = "holdout"
    if holdout is None:
        holdout, source = reference, "reference"
    elif not isinstance(holdout, pd.DataFrame) or len(holdout) == 0:
        raise ExportError("holdout must be a DataFrame with at least one row.")
    try:
        feeds, n = columns.coerce(holdout)
    except ContractError as exc:
        raise ExportError(f"The holdout rows break the contract: {exc}") from exc
    outputs = manifest["outputs"]
    answers: dict[str, np.ndarray] = {}
    # the profile watches probabilities or predictions; a classifier without
    # probabilities is watched on its inputs alone
    if "probabilities" in outputs or "prediction" in outputs:
        if source == "reference" and all(o in reference_answers for o in outputs):
            answers = {o: reference_answers[o] for o in outputs}
        else:
            answers = dict(zip(outputs, session.run(feeds, n, outputs), strict=True))
    elif source == "holdout":
        answers = dict(zip(outputs, session.run(feeds, n, outputs), strict=True))
    numeric, categorical = {}, {}
    # drift is watched on raw inputs; dates move on by nature and free text has no
    # categories, so both are left out
    for f in columns.features.inputs:
        if isinstance(f, Categorical):
            categorical[f.name] = feeds[f.name][:, 0]
        elif isinstance(f, Numeric):
            numeric[f.name] = feeds[f.name][:, 0].astype(np.float64)
    watched = "probabilities" in outputs or "prediction" in outputs
    profile = build_profile(
        numeric, categorical, answers if watched else None, manifest["classes"]
    )
    profile["source"] = source
    return profile, answers
