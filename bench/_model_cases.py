"""The estimators of the model-coverage table and the data they are fitted on.

``bench/model_coverage.py`` fits and exports every case; the test
``tests/featurekit/test_model_coverage.py`` loads this file too (by path) and checks,
on smaller data, that no estimator the table lists as exported regresses.

The data are generated with the shape of the datasets the coverage was first
measured on (no download): a penguins-like table (3 species; 4 numeric columns with a
few gaps, imputed with the median; 2 categoricals, one with gaps) for classifiers,
and a cars-like table (fuel use from 6 numeric columns, 2 of them discrete, with
gaps; the origin as a categorical) for regressors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    BayesianRidge,
    ElasticNet,
    GammaRegressor,
    HuberRegressor,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import BernoulliNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import featurekit as fk


@dataclass(frozen=True)
class Case:
    """One estimator: its name in the table, how to build it, where it comes from."""

    name: str
    task: str  # "classification" (penguins) or "regression" (cars)
    make: Callable[[], Any]
    #: Named by issue 19's measurement of 37 common estimators (else added since).
    issue: bool = True


def _lr() -> LogisticRegression:
    return LogisticRegression(max_iter=1000)


C, R = "classification", "regression"
CASES = [
    # -- classifiers, penguins -----------------------------------------------------
    Case("LogisticRegression()", C, _lr),
    Case("SVC(probability=True)", C, lambda: SVC(probability=True, random_state=0)),
    Case("NuSVC(probability=True)", C, lambda: NuSVC(probability=True, random_state=0)),
    Case("SVC()", C, SVC),
    Case("LinearSVC()", C, LinearSVC),
    Case("KNeighborsClassifier()", C, KNeighborsClassifier),
    Case("MLPClassifier()", C, lambda: MLPClassifier(max_iter=1000, random_state=0)),
    Case("GaussianNB()", C, GaussianNB),
    Case("BernoulliNB()", C, BernoulliNB),
    Case("LinearDiscriminantAnalysis()", C, LinearDiscriminantAnalysis),
    Case("Perceptron()", C, Perceptron),
    Case("RidgeClassifier()", C, RidgeClassifier),
    Case("SGDClassifier()", C, lambda: SGDClassifier(random_state=0)),
    Case("DecisionTreeClassifier()", C, lambda: DecisionTreeClassifier(random_state=0)),
    Case(
        "ExtraTreesClassifier()",
        C,
        lambda: ExtraTreesClassifier(n_estimators=50, random_state=0),
    ),
    Case(
        "GradientBoostingClassifier()",
        C,
        lambda: GradientBoostingClassifier(n_estimators=50, random_state=0),
    ),
    Case("AdaBoostClassifier()", C, lambda: AdaBoostClassifier(random_state=0)),
    Case("BaggingClassifier()", C, lambda: BaggingClassifier(random_state=0)),
    Case(
        "CalibratedClassifierCV(DecisionTreeClassifier())",
        C,
        lambda: CalibratedClassifierCV(DecisionTreeClassifier(random_state=0)),
    ),
    Case(
        "OneVsRestClassifier(LogisticRegression())",
        C,
        lambda: OneVsRestClassifier(_lr()),
    ),
    Case(
        "VotingClassifier(LR, DT, GaussianNB; soft)",
        C,
        lambda: VotingClassifier(
            [
                ("lr", _lr()),
                ("dt", DecisionTreeClassifier(random_state=0)),
                ("nb", GaussianNB()),
            ],
            voting="soft",
        ),
    ),
    Case(
        "RandomForestClassifier()",
        C,
        lambda: RandomForestClassifier(n_estimators=50, random_state=0),
        issue=False,
    ),
    Case(
        "HistGradientBoostingClassifier()",
        C,
        lambda: HistGradientBoostingClassifier(max_iter=50, random_state=0),
        issue=False,
    ),
    Case(
        "QuadraticDiscriminantAnalysis(reg_param=0.1)",
        C,
        lambda: QuadraticDiscriminantAnalysis(reg_param=0.1),
        issue=False,
    ),
    Case(
        "SGDClassifier(loss='log_loss')",
        C,
        lambda: SGDClassifier(loss="log_loss", random_state=0),
        issue=False,
    ),
    Case(
        "SGDClassifier(loss='modified_huber')",
        C,
        lambda: SGDClassifier(loss="modified_huber", random_state=0),
        issue=False,
    ),
    Case(
        "KNeighborsClassifier(weights='distance', algorithm='brute')",
        C,
        lambda: KNeighborsClassifier(weights="distance", algorithm="brute"),
        issue=False,
    ),
    Case(
        "CalibratedClassifierCV(LinearSVC())",
        C,
        lambda: CalibratedClassifierCV(LinearSVC()),
        issue=False,
    ),
    Case(
        "OneVsRestClassifier(LinearSVC())",
        C,
        lambda: OneVsRestClassifier(LinearSVC()),
        issue=False,
    ),
    Case(
        "VotingClassifier(LR, DT, KNN; hard)",
        C,
        lambda: VotingClassifier(
            [
                ("lr", _lr()),
                ("dt", DecisionTreeClassifier(random_state=0)),
                ("knn", KNeighborsClassifier()),
            ]
        ),
        issue=False,
    ),
    Case(
        "StackingClassifier(LR, RF; final LR)",
        C,
        lambda: StackingClassifier(
            [
                ("lr", _lr()),
                ("rf", RandomForestClassifier(n_estimators=20, random_state=0)),
            ],
            final_estimator=_lr(),
        ),
        issue=False,
    ),
    # -- regressors, cars ----------------------------------------------------------
    Case("LinearRegression()", R, LinearRegression),
    Case("Lasso()", R, Lasso),
    Case("ElasticNet()", R, ElasticNet),
    Case("HuberRegressor()", R, lambda: HuberRegressor(max_iter=1000)),
    Case("BayesianRidge()", R, BayesianRidge),
    Case("LinearSVR()", R, lambda: LinearSVR(random_state=0)),
    Case("SVR()", R, SVR),
    Case("KNeighborsRegressor()", R, KNeighborsRegressor),
    Case("DecisionTreeRegressor()", R, lambda: DecisionTreeRegressor(random_state=0)),
    Case(
        "RandomForestRegressor()",
        R,
        lambda: RandomForestRegressor(n_estimators=50, random_state=0),
    ),
    Case(
        "GradientBoostingRegressor()",
        R,
        lambda: GradientBoostingRegressor(n_estimators=50, random_state=0),
    ),
    Case(
        "HistGradientBoostingRegressor()",
        R,
        lambda: HistGradientBoostingRegressor(max_iter=50, random_state=0),
    ),
    Case("AdaBoostRegressor()", R, lambda: AdaBoostRegressor(random_state=0)),
    Case("PoissonRegressor()", R, PoissonRegressor),
    Case("GammaRegressor()", R, GammaRegressor),
    Case("KernelRidge()", R, KernelRidge),
    Case("Ridge()", R, Ridge, issue=False),
    Case(
        "ExtraTreesRegressor()",
        R,
        lambda: ExtraTreesRegressor(n_estimators=50, random_state=0),
        issue=False,
    ),
    Case(
        "TweedieRegressor(power=1.5, link='log')",
        R,
        lambda: TweedieRegressor(power=1.5, link="log"),
        issue=False,
    ),
    Case("NuSVR()", R, NuSVR, issue=False),
    Case(
        "KernelRidge(kernel='rbf')", R, lambda: KernelRidge(kernel="rbf"), issue=False
    ),
    Case(
        "MLPRegressor()",
        R,
        lambda: MLPRegressor(max_iter=2000, random_state=0),
        issue=False,
    ),
    Case("SGDRegressor()", R, lambda: SGDRegressor(random_state=0), issue=False),
    Case(
        "KNeighborsRegressor(algorithm='brute')",
        R,
        lambda: KNeighborsRegressor(algorithm="brute"),
        issue=False,
    ),
    Case(
        "BaggingRegressor()", R, lambda: BaggingRegressor(random_state=0), issue=False
    ),
    Case(
        "VotingRegressor(Ridge, RF)",
        R,
        lambda: VotingRegressor(
            [
                ("ridge", Ridge()),
                ("rf", RandomForestRegressor(n_estimators=20, random_state=0)),
            ]
        ),
        issue=False,
    ),
    Case(
        "StackingRegressor(Ridge, DT; final Ridge)",
        R,
        lambda: StackingRegressor(
            [("ridge", Ridge()), ("dt", DecisionTreeRegressor(random_state=0))],
            final_estimator=Ridge(),
        ),
        issue=False,
    ),
]


# -- the data --------------------------------------------------------------------------
PENGUIN_NUMERIC = [
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
]
CAR_NUMERIC = [
    "cylinders",
    "displacement",
    "horsepower",
    "weight",
    "acceleration",
    "model_year",
]


def penguins(n: int = 344, seed: int = 0) -> tuple[fk.FeatureSet, pd.DataFrame, Any]:
    """A penguins-like table: 3 species, 4 measurements with gaps, island and sex."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n, p=[0.44, 0.2, 0.36])
    means = {
        "Adelie": (38.8, 18.3, 190.0, 3700.0),
        "Chinstrap": (48.8, 18.4, 196.0, 3733.0),
        "Gentoo": (47.5, 15.0, 217.0, 5076.0),
    }
    m = np.array([means[s] for s in species])
    df = pd.DataFrame(
        {
            "bill_length_mm": (m[:, 0] + rng.normal(0, 2.8, n)).round(1),
            "bill_depth_mm": (m[:, 1] + rng.normal(0, 1.1, n)).round(1),
            "flipper_length_mm": (m[:, 2] + rng.normal(0, 6.5, n)).round(0),
            "body_mass_g": ((m[:, 3] + rng.normal(0, 450, n)) // 25 * 25),
            "island": np.where(
                species == "Gentoo",
                "Biscoe",
                rng.choice(["Biscoe", "Dream", "Torgersen"], n),
            ),
            "sex": rng.choice(["male", "female"], n).astype(object),
        }
    )
    for column in PENGUIN_NUMERIC:
        df.loc[rng.random(n) < 0.02, column] = np.nan
    df.loc[rng.random(n) < 0.03, "sex"] = None
    features = fk.FeatureSet(
        "penguins",
        [
            *(
                fk.Numeric(c, impute="median", scale="standard")
                for c in PENGUIN_NUMERIC
            ),
            fk.Categorical("island", unknown="ignore"),
            fk.Categorical("sex", impute="missing", unknown="ignore"),
        ],
    )
    return features, df, species


def cars(n: int = 398, seed: int = 1) -> tuple[fk.FeatureSet, pd.DataFrame, Any]:
    """A cars-like table: miles per gallon from 6 numbers (2 discrete) and the origin."""
    rng = np.random.default_rng(seed)
    cylinders = rng.choice([4, 6, 8], n, p=[0.5, 0.22, 0.28])
    displacement = (cylinders * 30 + rng.normal(0, 25, n)).round(0)
    horsepower = (displacement * 0.45 + rng.normal(30, 12, n)).round(0)
    weight = (displacement * 7 + 1600 + rng.normal(0, 250, n)).round(0)
    year = rng.integers(70, 83, n)
    df = pd.DataFrame(
        {
            "cylinders": cylinders.astype(float),
            "displacement": displacement,
            "horsepower": horsepower,
            "weight": weight,
            "acceleration": (20 - horsepower / 25 + rng.normal(0, 1.5, n)).round(1),
            "model_year": year.astype(float),
            "origin": np.where(
                cylinders == 8, "USA", rng.choice(["USA", "Europe", "Japan"], n)
            ),
        }
    )
    mpg = 60 - weight / 150 - horsepower / 20 + (year - 70) * 0.7
    mpg = (mpg + rng.normal(0, 2.5, n)).clip(9, 47).round(1)
    df.loc[rng.random(n) < 0.02, "horsepower"] = np.nan
    df.loc[rng.random(n) < 0.01, "acceleration"] = np.nan
    features = fk.FeatureSet(
        "cars",
        [
            *(fk.Numeric(c, impute="median", scale="standard") for c in CAR_NUMERIC),
            fk.Categorical("origin", unknown="ignore"),
        ],
    )
    return features, df, mpg


def data(task: str, n: int | None = None, seed: int | None = None) -> Any:
    """The FeatureSet, frame and target of `task`, `n` rows (default: full size)."""
    make = penguins if task == C else cars
    kwargs: dict[str, int] = {}
    if n is not None:
        kwargs["n"] = n
    if seed is not None:
        kwargs["seed"] = seed
    return make(**kwargs)
