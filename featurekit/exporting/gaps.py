"""Refuse, before fitting, derived features that are missing on training rows for a model that refuses NaN.

A `Derived` feature reads the raw inputs, before any imputation: when an input is
missing (or the expression has no value, as for a division by zero), so is the
feature. Without ``impute=`` the NaN reaches the model, and a model that refuses
missing values (LogisticRegression, SVC, ...) fails deep inside scikit-learn with
"Input X contains NaN", naming no feature. `refuse_gaps` names the feature, the
inputs that are missing on its rows, and what to do, before anything is fitted
(`FeaturePipeline.fit` calls it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featurekit.declare.computed import Derived
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import SpecError
from featurekit.missing import is_missing

__all__ = ["gap_candidates", "refuse_gaps"]


def gap_candidates(features: FeatureSet, model: Any) -> list[Derived]:
    """The derived features that could bring NaN to `model`, if it refuses NaN.

    Numeric derived features without ``impute``; none when the model's scikit-learn
    tags say it accepts NaN (then the training data need not be read).

    Examples
    --------
    >>> import featurekit as fk
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> fs = fk.FeatureSet("d", [fk.Numeric("a", impute="mean"),
    ...                          fk.Derived("a2", fk.col("a") * 2)])
    >>> [f.name for f in gap_candidates(fs, LogisticRegression())]
    ['a2']
    >>> gap_candidates(fs, HistGradientBoostingClassifier())
    []
    """
    if _accepts_nan(model):
        return []
    return [
        f
        for f in features.model_features
        if isinstance(f, Derived) and not f.is_categorical and f.impute is None
    ]


def refuse_gaps(model: Any, candidates: list[Derived], data: Any) -> None:
    """Raise SpecError if a feature of `candidates` is missing on a row of `data`.

    `data` holds the raw inputs and the derived columns, as `Inputs` reads them.

    Examples
    --------
    >>> import pandas as pd
    >>> import featurekit as fk
    >>> from sklearn.linear_model import LogisticRegression
    >>> ratio = fk.Derived("ratio", fk.col("debt") / fk.col("income"))
    >>> data = pd.DataFrame({"debt": [1.0, float("nan")], "income": [10.0, 20.0],
    ...                      "ratio": [0.1, float("nan")]})
    >>> refuse_gaps(LogisticRegression(), [ratio], data)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    featurekit.errors.SpecError: Derived('ratio') is missing on 1 of 2 training rows (the first: index 1): its input 'debt' (on 1 of them) is missing. LogisticRegression refuses ...
    """
    missing = [f for f in candidates if np.isnan(data[f.name].to_numpy()).any()]
    if not missing:
        return
    first = missing[0]
    raise SpecError(
        " ".join(_explain(f, data) for f in missing)
        + f" {type(model).__name__} refuses missing values (NaN): declare impute= on "
        f"{'it' if len(missing) == 1 else 'each'} (e.g. fk.Derived({first.name!r}, "
        f"{first.expression!r}, impute='median')), or use a model that accepts NaN, "
        "such as HistGradientBoostingClassifier or HistGradientBoostingRegressor."
    )


def _accepts_nan(model: Any) -> bool:
    """Whether `model` takes NaN, by its scikit-learn tags or those of what it wraps.

    A Pipeline's tags do not pass its first step's on, nor do those of a search or a
    calibration wrapper: the first step, and the wrapped ``estimator``, are asked too,
    so that a model is refused only when nothing in it says it takes NaN.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.utils import get_tags

    if isinstance(model, Pipeline):
        first = [step for _, step in model.steps if step not in (None, "passthrough")]
        return not first or _accepts_nan(first[0])
    try:
        if get_tags(model).input_tags.allow_nan:
            return True
    except Exception:  # a third-party model whose tags fail: leave it to its fit
        return True
    inner = getattr(model, "estimator", None)
    return inner is not None and hasattr(inner, "fit") and _accepts_nan(inner)


def _explain(f: Derived, data: Any) -> str:
    """Where `f` is missing, and which of its inputs are missing on those rows."""
    gaps = np.isnan(data[f.name].to_numpy())
    n, total = int(gaps.sum()), len(gaps)
    first = data.index[gaps].tolist()[0]
    inputs = []
    for name in f.expression.columns():
        k = sum(is_missing(v, sentinel=True) for v in data[name].to_numpy()[gaps])
        if k:
            inputs.append(f"{name!r} (on {k} of them)")
    if inputs:
        why = (
            f"its input{'s' if len(inputs) > 1 else ''} {', '.join(inputs)} "
            f"{'are' if len(inputs) > 1 else 'is'} missing"
        )
    else:
        why = (
            "its expression has no value there (a division by zero, the log of a "
            "non-positive number, an overflow), though its inputs are present"
        )
    return (
        f"Derived({f.name!r}) is missing on {n} of {total} training rows "
        f"(the first: index {first!r}): {why}."
    )
