"""featurekit's own model converters: what they export, and the rows built to break them.

Each test exports through ``fk.export`` (so the certificate runs) and then compares
``serving.Predictor`` with the scikit-learn pipeline on rows chosen for the behaviour
under test: exact ties, saturated probabilities, overflowing links, duplicated
training rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    LogisticRegression,
    PoissonRegressor,
    RidgeClassifier,
    SGDClassifier,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR, LinearSVC, NuSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

import featurekit as fk
from featurekit.onnx.model import outputs_of
from serving import Predictor

PROBA_TOL = 1e-5
FEATURES = fk.FeatureSet(
    "emitters",
    [
        fk.Numeric("a", impute="median", scale="standard"),
        fk.Numeric("b", impute="median", scale="standard"),
        fk.Numeric("k", scale="standard"),  # discrete: 0, 1, 2
        fk.Categorical("c", unknown="ignore"),
    ],
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    with threadpool_limits(1):
        yield


def _frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(0, 1, n).round(2),
            "b": rng.normal(5, 2, n).round(1),
            "k": rng.integers(0, 3, n).astype(float),
            "c": rng.choice(["x", "y", "z"], n),
        }
    )
    df.loc[::17, "a"] = np.nan
    return df


def _classes(df: pd.DataFrame, n_classes: int) -> np.ndarray:
    score = df["a"].fillna(0) + 0.3 * df["b"] - 0.5 * df["k"] + (df["c"] == "x")
    edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    return np.array(["red", "green", "blue"])[np.digitize(score, edges)]


def _target(df: pd.DataFrame) -> np.ndarray:
    return np.asarray(
        3.0 + df["a"].fillna(0) + 0.5 * df["b"] - df["k"] + (df["c"] == "y")
    )


def _export(model: Any, y: Any, tmp_path: Path, df: pd.DataFrame | None = None) -> Any:
    df = _frame() if df is None else df
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # convergence
        pipe = fk.make_pipeline(FEATURES, model).fit(df, y(df) if callable(y) else y)
    art = fk.export(pipe, tmp_path / "a", reference=df)
    return pipe, art, Predictor.load(art.path, monitor=False)


def _same_answers(pipe: Any, p: Predictor, rows: pd.DataFrame) -> None:
    got = p.score(rows)
    assert isinstance(got, dict)
    if "label" in got:
        np.testing.assert_array_equal(got["label"], pipe.predict(rows))
    for name, method in (
        ("probabilities", "predict_proba"),
        ("decision_function", "decision_function"),
        ("prediction", "predict"),
    ):
        if name in got:
            np.testing.assert_allclose(
                got[name], getattr(pipe, method)(rows), rtol=1e-9, atol=PROBA_TOL
            )


# -- classifiers without predict_proba -------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "model",
    [LinearSVC(), RidgeClassifier(), SGDClassifier(random_state=0), SVC(), NuSVC()],
    ids=lambda m: type(m).__name__,
)
def test_classifier_without_probabilities_exports_its_label_and_decision_function(
    model: Any, n_classes: int, tmp_path: Path
) -> None:
    pipe, art, p = _export(model, lambda df: _classes(df, n_classes), tmp_path)

    assert art.manifest["outputs"] == ["label", "decision_function"]
    assert art.certificate["compared"].startswith("|Δ decision function|")
    rows = _frame(60, seed=1)
    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    decision = p.decision_function(rows)
    assert decision.shape == pipe.decision_function(rows).shape
    np.testing.assert_allclose(decision, pipe.decision_function(rows), rtol=1e-9)


def test_predict_proba_of_a_model_without_probabilities_is_an_artifact_error(
    tmp_path: Path,
) -> None:
    _, _, p = _export(LinearSVC(), lambda df: _classes(df, 3), tmp_path)

    with pytest.raises(
        fk.ArtifactError,
        match=r"answers \['label', 'decision_function'\], not 'probabilities': its "
        r"model has no predict_proba.*CalibratedClassifierCV",
    ):
        p.predict_proba(_frame(3))


def test_hard_voting_exports_its_label_alone(tmp_path: Path) -> None:
    model = VotingClassifier(
        [
            ("lr", LogisticRegression()),
            ("dt", DecisionTreeClassifier(random_state=0)),
            ("knn", KNeighborsClassifier(algorithm="brute")),
        ]
    )
    pipe, art, p = _export(model, lambda df: _classes(df, 3), tmp_path)

    assert art.manifest["outputs"] == ["label"] == outputs_of(pipe[-1])
    rows = _frame(80, seed=2)
    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    with pytest.raises(fk.ArtifactError, match="not 'decision_function'"):
        p.decision_function(rows)


# -- ties: the first maximum, as numpy's argmax --------------------------------------
def test_exact_decision_ties_go_to_the_first_class_as_in_scikit_learn(
    tmp_path: Path,
) -> None:
    df = _frame()
    pipe = fk.make_pipeline(FEATURES, LinearSVC()).fit(df, _classes(df, 3))
    svc = pipe[-1]
    # two classes with one hyperplane: every row ties between them
    svc.coef_[2] = svc.coef_[0]
    svc.intercept_[2] = svc.intercept_[0]
    art = fk.export(pipe, tmp_path / "a", reference=df)
    p = Predictor.load(art.path, monitor=False)

    rows = _frame(100, seed=3)
    tied = pipe.decision_function(rows)
    assert (tied[:, 0] == tied[:, 2]).all()
    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    assert art.certificate["label_agreement"] == 1.0


def test_one_vs_rest_labels_follow_the_decision_where_probabilities_saturate(
    tmp_path: Path,
) -> None:
    model = OneVsRestClassifier(LogisticRegression(C=100.0))
    pipe, _, p = _export(model, lambda df: _classes(df, 3), tmp_path)
    # far out, two classes' probabilities both round to 1.0: a tie in the
    # probabilities, none in the decision values scikit-learn picks the label from
    rows = _frame(40, seed=4).assign(b=lambda d: d["b"] * 1e6)
    proba = pipe.predict_proba(rows)
    assert (np.sort(proba, axis=1)[:, -1] == np.sort(proba, axis=1)[:, -2]).any()

    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    np.testing.assert_allclose(p.predict_proba(rows), proba, atol=PROBA_TOL)


# -- nearest neighbours ----------------------------------------------------------------
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_brute_force_neighbours_break_ties_like_scikit_learn(
    weights: str, tmp_path: Path
) -> None:
    # every training row twice, with another class: distance ties at zero
    df = _frame(120)
    twice = pd.concat([df, df], ignore_index=True)
    y = np.concatenate([_classes(df, 3), _classes(df, 3)[::-1]])
    model = KNeighborsClassifier(n_neighbors=3, weights=weights, algorithm="brute")
    pipe, _, p = _export(model, y, tmp_path, twice)

    np.testing.assert_array_equal(p.predict(twice), pipe.predict(twice))
    np.testing.assert_allclose(
        p.predict_proba(twice), pipe.predict_proba(twice), atol=PROBA_TOL
    )


def test_a_kd_tree_tie_is_refused_with_the_brute_force_advice(tmp_path: Path) -> None:
    df = _frame(120)
    twice = pd.concat([df, df], ignore_index=True)
    y = np.concatenate([_target(df), _target(df) + 1.0])
    pipe = fk.make_pipeline(
        FEATURES, KNeighborsRegressor(n_neighbors=1, algorithm="kd_tree")
    ).fit(twice, y)

    with pytest.raises(fk.ParityError, match=r"fit it with algorithm='brute'"):
        fk.export(pipe, tmp_path / "a", reference=twice)


def test_neighbours_at_infinite_distance_are_training_row_zero(tmp_path: Path) -> None:
    # one column: scikit-learn's surrogate distance has no sum to round otherwise,
    # so even rows far outside tie exactly as the graph ties them
    one = fk.FeatureSet("one", [fk.Numeric("a", scale="standard")])
    df = pd.DataFrame({"a": np.random.default_rng(0).normal(0, 1, 100)})
    y = 3 * df["a"] + np.arange(100) % 7
    pipe = fk.make_pipeline(one, KNeighborsRegressor(algorithm="brute")).fit(df, y)
    p = Predictor.load(fk.export(pipe, tmp_path / "a", reference=df).path)
    far = pd.DataFrame({"a": [1e300, -1e300, 1e200, 1e15]})  # inf, inf, inf, finite

    np.testing.assert_array_equal(p.predict(far), pipe.predict(far))
    assert pipe.predict(far)[0] == y[0]  # all five "neighbours" are training row 0


def test_neighbour_ties_far_outside_are_refused_with_the_bounds_advice(
    tmp_path: Path,
) -> None:
    df = _frame(120)
    pipe = fk.make_pipeline(FEATURES, KNeighborsRegressor(algorithm="brute"))
    pipe.fit(df, _target(df))

    with pytest.raises(fk.ParityError, match=r"observed_range='error'") as err:
        fk.export(pipe, tmp_path / "a", reference=df)
    assert "1000000000000000.0" in str(err.value)  # the rows far outside


def test_neighbours_export_once_the_contract_refuses_rows_far_outside(
    tmp_path: Path,
) -> None:
    bounded = fk.FeatureSet(
        "bounded",
        [
            fk.Numeric(
                f.name, impute=f.impute, scale="standard", observed_range="error"
            )
            if isinstance(f, fk.Numeric)
            else f
            for f in FEATURES.features
        ],
    )
    df = _frame(120)
    pipe = fk.make_pipeline(bounded, KNeighborsRegressor(algorithm="brute"))
    pipe.fit(df, _target(df))
    p = Predictor.load(fk.export(pipe, tmp_path / "a", reference=df).path)

    rows = _frame(50, seed=11)
    np.testing.assert_allclose(p.predict(rows), pipe.predict(rows), rtol=1e-12)
    with pytest.raises(fk.ContractError, match="'b'"):
        p.predict(rows.assign(b=1e15))


# -- trees inside meta-estimators ------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [
        AdaBoostClassifier(n_estimators=20, random_state=0),
        BaggingClassifier(n_estimators=10, max_features=0.6, random_state=0),
        CalibratedClassifierCV(DecisionTreeClassifier(max_depth=4), method="isotonic"),
        CalibratedClassifierCV(DecisionTreeClassifier(max_depth=4), method="sigmoid"),
    ],
    ids=["adaboost", "bagging-subsets", "calibrated-isotonic", "calibrated-sigmoid"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_trees_inside_meta_estimators_go_through_featurekits_tree_ensemble(
    model: Any, n_classes: int, tmp_path: Path
) -> None:
    pipe, art, p = _export(model, lambda df: _classes(df, n_classes), tmp_path)

    assert art.manifest["converter"] == "featurekit.TreeEnsemble(double)"
    assert "trees compare in float32" in art.certificate["precision_plan"]
    assert art.certificate["splits_covered"] > 0
    _same_answers(pipe, p, _frame(80, seed=6))


@pytest.mark.parametrize(
    "model",
    [
        AdaBoostRegressor(DecisionTreeRegressor(max_depth=3), random_state=0),
        BaggingRegressor(n_estimators=8, max_features=0.5, random_state=0),
    ],
    ids=["adaboost", "bagging-subsets"],
)
def test_tree_meta_regressors_answer_like_scikit_learn(
    model: Any, tmp_path: Path
) -> None:
    pipe, art, p = _export(model, _target, tmp_path)

    assert art.manifest["converter"] == "featurekit.TreeEnsemble(double)"
    _same_answers(pipe, p, _frame(80, seed=7))


@pytest.mark.parametrize(
    "model",
    [
        BaggingClassifier(LogisticRegression(), n_estimators=4, random_state=0),
        CalibratedClassifierCV(LinearSVC()),
        VotingClassifier(
            [
                ("lr", LogisticRegression()),
                ("rf", RandomForestClassifier(10)),
                ("nb", GaussianNB()),
            ],
            voting="soft",
            weights=[1, 2, 1],
        ),
        StackingClassifier(
            [("svc", LinearSVC()), ("dt", DecisionTreeClassifier(max_depth=3))],
            final_estimator=LogisticRegression(),
        ),
        # trees alone read rounded features; the final estimator reads them exact
        StackingClassifier(
            [
                ("dt", DecisionTreeClassifier(max_depth=3)),
                ("rf", RandomForestClassifier(5)),
            ],
            final_estimator=LogisticRegression(),
            passthrough=True,
        ),
    ],
    ids=[
        "bagged-logistic",
        "calibrated-linearsvc",
        "weighted-soft-voting",
        "stacking",
        "stacking-trees-passthrough",
    ],
)
def test_meta_estimators_compose_their_estimators_converters(
    model: Any, tmp_path: Path
) -> None:
    pipe, art, p = _export(model, lambda df: _classes(df, 3), tmp_path)

    assert art.manifest["converter"] == "featurekit.meta(double)"
    _same_answers(pipe, p, _frame(80, seed=8))


def test_calibrated_isotonic_over_a_linear_model_is_refused_naming_the_method(
    tmp_path: Path,
) -> None:
    df = _frame()
    pipe = fk.make_pipeline(
        FEATURES, CalibratedClassifierCV(LinearSVC(), method="isotonic")
    ).fit(df, _classes(df, 3))

    with pytest.raises(fk.ExportError, match=r"method='isotonic'\) over LinearSVC"):
        fk.export(pipe, tmp_path / "a", reference=df)


# -- kernels and links -----------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [
        SVR(),
        SVR(kernel="poly", degree=2),
        KernelRidge(),
        KernelRidge(kernel="laplacian"),
    ],
    ids=["svr-rbf", "svr-poly", "kernel-ridge", "kernel-ridge-laplacian"],
)
def test_kernel_regressors_export_in_double(model: Any, tmp_path: Path) -> None:
    pipe, art, p = _export(model, _target, tmp_path)

    assert art.manifest["converter"] == "featurekit.kernel(double)"
    _same_answers(pipe, p, _frame(80, seed=9))


def test_a_log_link_that_overflows_answers_inf_as_scikit_learn_does(
    tmp_path: Path,
) -> None:
    pipe, art, p = _export(PoissonRegressor(), _target, tmp_path)
    assert art.manifest["converter"] == "featurekit.glm(double)"
    graph = onnx.load(art.path / "model.onnx").graph
    assert "Exp" not in {n.op_type for n in graph.node}  # featurekit's exact kernel
    # far out, the linear predictor passes 709.78 and exp overflows in both runtimes
    far = _frame(4, seed=10).assign(b=1e15)
    with np.errstate(over="ignore"):
        want = pipe.predict(far)
    assert np.isinf(want).all()

    np.testing.assert_array_equal(p.predict(far), want)


def test_kernel_with_too_many_vectors_is_refused_in_featurekits_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from featurekit.onnx import svm

    monkeypatch.setattr(svm, "MAX_VECTORS", 10)
    df = _frame()
    pipe = fk.make_pipeline(FEATURES, SVR()).fit(df, _target(df))

    with pytest.raises(
        fk.ExportError, match=r"SVR keeps \d+ vectors; featurekit exports at most 10"
    ):
        fk.export(pipe, tmp_path / "a", reference=df)
