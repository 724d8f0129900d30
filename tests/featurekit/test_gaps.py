"""A derived feature missing on training rows, before a model that refuses NaN: SpecError at fit.

Before, ``fit`` failed deep in scikit-learn with "Input X contains NaN" and named no
feature. Now it fails first, naming the feature, its missing inputs and the fixes;
models that accept NaN, and features that impute, still fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline as sk_pipeline
from sklearn.svm import SVC

import featurekit as fk

RATIO = fk.col("debt") / fk.col("income")


def frame(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "debt": rng.normal(10, 2, n),
            "income": rng.normal(50, 5, n),
            "plan": rng.choice(["a", "b"], n),
        },
        index=pd.RangeIndex(100, 100 + n),
    )
    df.loc[[105, 130], "debt"] = np.nan
    df.loc[130, "income"] = np.nan
    df.loc[140, "income"] = np.nan
    return df, (np.arange(n) % 2 == 0).astype(int)


def features(*derived: fk.Derived) -> fk.FeatureSet:
    return fk.FeatureSet(
        "gaps",
        [
            fk.Numeric("debt", impute="median"),
            fk.Numeric("income", impute="median"),
            fk.Categorical("plan"),
            *derived,
        ],
    )


@pytest.mark.parametrize(
    "model", [LogisticRegression(), SVC()], ids=["logistic", "svc"]
)
def test_fit_names_the_missing_derived_feature_its_inputs_and_the_fixes(
    model: object,
) -> None:
    df, y = frame()
    pipe = fk.make_pipeline(features(fk.Derived("ratio", RATIO)), model)
    with pytest.raises(fk.SpecError) as info:
        pipe.fit(df, y)
    message = str(info.value)
    # rows 105, 130 and 140 are missing: 'debt' on 2 of them, 'income' on 2
    assert "Derived('ratio') is missing on 3 of 60 training rows" in message
    assert "(the first: index 105)" in message
    assert (
        "its inputs 'debt' (on 2 of them), 'income' (on 2 of them) are missing"
        in message
    )
    assert f"{type(model).__name__} refuses missing values (NaN)" in message
    assert "impute='median'" in message and "HistGradientBoosting" in message


def test_a_value_the_expression_lacks_is_explained_without_blaming_inputs() -> None:
    df, y = frame()
    df = df.fillna(1.0)
    df.loc[110, "income"] = 0.0  # 'debt' / 0: no value, though both are present
    pipe = fk.make_pipeline(features(fk.Derived("ratio", RATIO)), LogisticRegression())
    with pytest.raises(fk.SpecError, match=r"index 110\): its expression has no value"):
        pipe.fit(df, y)


def test_every_missing_derived_feature_is_named_and_only_those() -> None:
    df, y = frame()
    derived = (
        fk.Derived("ratio", RATIO),
        fk.Derived("debt_x2", fk.col("debt") * 2),
        fk.Derived("filled", fk.col("income").fillna(0.0) + 1),  # never missing
        fk.Derived("imputed", fk.col("income") - 1, impute="mean"),  # imputes itself
    )
    with pytest.raises(fk.SpecError) as info:
        fk.make_pipeline(features(*derived), LogisticRegression()).fit(df, y)
    message = str(info.value)
    assert (
        "Derived('ratio')" in message
        and "Derived('debt_x2') is missing on 2" in message
    )
    assert "'filled'" not in message and "'imputed'" not in message
    assert "declare impute= on each" in message


@pytest.mark.parametrize(
    "model",
    [
        HistGradientBoostingClassifier(max_iter=5),
        RandomForestClassifier(n_estimators=3, random_state=0),
        sk_pipeline(SimpleImputer(), LogisticRegression()),  # imputes first
        GridSearchCV(HistGradientBoostingClassifier(max_iter=5), {"max_depth": [2]}),
    ],
    ids=["hist-gradient-boosting", "random-forest", "imputer-pipeline", "search"],
)
def test_models_that_accept_nan_still_fit(model: object) -> None:
    df, y = frame()
    pipe = fk.make_pipeline(features(fk.Derived("ratio", RATIO)), model).fit(df, y)
    assert pipe.predict(df).shape == (len(df),)


def test_an_imputed_derived_feature_fits_a_model_that_refuses_nan() -> None:
    df, y = frame()
    derived = fk.Derived("ratio", RATIO, impute="median")
    pipe = fk.make_pipeline(features(derived), LogisticRegression()).fit(df, y)
    assert pipe.predict(df).shape == (len(df),)


def test_the_error_holds_in_cross_validation_and_for_a_regressor() -> None:
    df, y = frame()
    pipe = fk.make_pipeline(features(fk.Derived("ratio", RATIO)), LinearRegression())
    with pytest.raises(fk.SpecError, match="LinearRegression refuses missing"):
        pipe.fit(df, y.astype(float))
    with pytest.raises(ValueError, match="Derived\\('ratio'\\) is missing"):
        cross_val_score(clone(pipe), df, y.astype(float), cv=2, error_score="raise")
