"""`make_pipeline`: an ordinary scikit-learn Pipeline that reads raw records like serving does."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

import featurekit as fk
from featurekit.exporting.pipeline import Inputs

FEATURES = fk.FeatureSet(
    "demo",
    [
        fk.Numeric("x", impute="mean", scale="standard"),
        fk.Numeric("k", dtype="int", clip=(0, 10), scale="minmax"),
        fk.Categorical("c", impute="most_frequent", unknown="ignore"),
    ],
)


def _frame(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 12, n),
            "c": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
        }
    )
    y = ((frame["x"] > 0) ^ (frame["c"] == "a")).astype(int).to_numpy()
    frame.loc[::7, "x"] = np.nan
    frame.loc[::5, "c"] = None
    return frame, y


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    """A fitted pipeline, shared by the tests that only read it."""
    frame, y = _frame()
    return fk.make_pipeline(FEATURES, LogisticRegression()).fit(frame, y)


def _with_marker(frame: pd.DataFrame, marker) -> pd.DataFrame:
    """The same rows with every missing value written as `marker`, in object columns."""
    out = frame.astype(object)
    return out.mask(frame.isna(), marker)


def test_make_pipeline_returns_a_sklearn_pipeline_with_named_steps():
    pipe = fk.make_pipeline(FEATURES, LogisticRegression())
    assert isinstance(pipe, Pipeline)  # a Pipeline subclass that only adds a hint
    assert [name for name, _ in pipe.steps] == ["inputs", "features", "model"]
    assert isinstance(pipe.named_steps["inputs"], Inputs)


def test_fitted_pipeline_predicts_raw_dataframes(pipe):
    frame, _ = _frame()
    assert pipe.predict(frame).shape == (len(frame),)
    assert pipe.predict_proba(frame).shape == (len(frame), 2)


def test_pipeline_can_be_cloned_and_the_clone_is_unfitted_and_equivalent():
    frame, y = _frame()
    pipe = fk.make_pipeline(FEATURES, LogisticRegression()).fit(frame, y)
    copy = clone(pipe)
    assert copy.named_steps["inputs"].features == FEATURES
    assert not hasattr(copy.named_steps["model"], "coef_")
    np.testing.assert_array_equal(
        copy.fit(frame, y).predict_proba(frame), pipe.predict_proba(frame)
    )


def test_pipeline_works_in_grid_search_over_model_parameters():
    frame, y = _frame()
    pipe = fk.make_pipeline(FEATURES, DecisionTreeClassifier(random_state=0))
    search = GridSearchCV(pipe, {"model__max_depth": [1, 4]}, cv=3).fit(frame, y)
    assert search.best_params_["model__max_depth"] in (1, 4)
    assert (
        search.best_estimator_.named_steps["model"].max_depth
        == search.best_params_["model__max_depth"]
    )


def test_pipeline_works_in_grid_search_over_transform_parameters():
    frame, y = _frame()
    pipe = fk.make_pipeline(FEATURES, LogisticRegression())
    grid = {"features__c__encode__handle_unknown": ["ignore", "infrequent_if_exist"]}
    search = GridSearchCV(pipe, grid, cv=2).fit(frame, y)
    assert len(search.cv_results_["params"]) == 2


def test_pipeline_works_in_cross_val_score():
    frame, y = _frame()
    pipe = fk.make_pipeline(FEATURES, LogisticRegression())
    scores = cross_val_score(pipe, frame, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("marker", [None, np.nan, pd.NA], ids=repr)
def test_missing_markers_give_identical_predictions(marker, pipe):
    frame, _ = _frame()
    # the reference has NaN in the float column and None in the str column
    expected = pipe.predict_proba(frame)
    np.testing.assert_array_equal(
        pipe.predict_proba(_with_marker(frame, marker)), expected
    )


@pytest.mark.parametrize("marker", [None, np.nan, pd.NA], ids=repr)
def test_training_with_any_missing_marker_fits_the_same_model(marker):
    frame, y = _frame()
    expected = fk.make_pipeline(FEATURES, LogisticRegression()).fit(frame, y)
    pipe = fk.make_pipeline(FEATURES, LogisticRegression()).fit(
        _with_marker(frame, marker), y
    )
    np.testing.assert_array_equal(
        pipe.named_steps["model"].coef_, expected.named_steps["model"].coef_
    )


@pytest.mark.parametrize("dtype", ["str", object, "string", "category"])
def test_string_column_dtype_does_not_change_predictions(dtype, pipe):
    frame, _ = _frame()
    other = frame.assign(c=frame["c"].astype(dtype))
    np.testing.assert_array_equal(pipe.predict_proba(other), pipe.predict_proba(frame))


def test_pipeline_fitted_on_object_columns_equals_one_fitted_on_str_columns():
    frame, y = _frame()
    a = fk.make_pipeline(FEATURES, LogisticRegression()).fit(frame, y)
    b = fk.make_pipeline(FEATURES, LogisticRegression()).fit(
        frame.astype({"c": object}), y
    )
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))


def test_pipeline_accepts_a_list_of_dicts(pipe):
    frame, _ = _frame()
    records = _with_marker(frame, None).to_dict("records")
    np.testing.assert_array_equal(
        pipe.predict_proba(records), pipe.predict_proba(frame)
    )


def test_pipeline_refuses_training_data_that_serving_would_refuse():
    frame, y = _frame()
    bad = frame.astype({"x": object})
    bad.loc[3, "x"] = "3.5"
    with pytest.raises(
        fk.ContractError, match=r"'x' dtype\('float64'\) failed for '3.5'"
    ):
        fk.make_pipeline(FEATURES, LogisticRegression()).fit(bad, y)


def test_inputs_step_hands_typed_columns_to_the_transforms(pipe):
    frame, _ = _frame()
    typed = pipe.named_steps["inputs"].transform(frame)
    assert list(typed.columns) == ["x", "k", "c"]
    assert typed["x"].dtype == np.float64
    assert typed["k"].dtype == np.float64
    assert typed.index.equals(frame.index)


def test_feature_names_out_follow_declaration_order(pipe):
    names = pipe[:-1].get_feature_names_out().tolist()
    assert names == ["x__x", "k__k", "c__c_a", "c__c_b", "c__c_c"]


@pytest.mark.parametrize(
    "features",
    [FEATURES.features, FEATURES.to_dict(), "demo", None],
    ids=["tuple-of-features", "dict", "str", "None"],
)
def test_make_pipeline_refuses_what_is_not_a_feature_set(features):
    with pytest.raises(fk.SpecError, match=r"make_pipeline needs a FeatureSet"):
        fk.make_pipeline(features, LogisticRegression())


@pytest.mark.parametrize(
    "model",
    ["logistic", LogisticRegression, object(), None],
    ids=["str", "class", "object", "None"],
)
def test_make_pipeline_refuses_what_is_not_an_estimator(model):
    with pytest.raises(
        fk.SpecError, match=r"make_pipeline needs a scikit-learn estimator"
    ):
        fk.make_pipeline(FEATURES, model)


def test_a_scikit_learn_style_step_name_says_what_to_write_instead():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60)})
    y = (df["x"] > 0).astype(int)
    pipe = fk.make_pipeline(fk.FeatureSet("f", [fk.Numeric("x")]), LogisticRegression())
    grid = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2)
    with pytest.raises(ValueError, match=r"write 'model__C' instead"):
        grid.fit(df, y)
    grid = GridSearchCV(pipe, {"model__C": [0.1, 1.0]}, cv=2).fit(df, y)
    assert grid.best_params_["model__C"] in (0.1, 1.0)


def test_exporting_a_grid_search_points_at_best_estimator(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60)})
    y = (df["x"] > 0).astype(int)
    pipe = fk.make_pipeline(fk.FeatureSet("f", [fk.Numeric("x")]), LogisticRegression())
    grid = GridSearchCV(pipe, {"model__C": [0.1, 1.0]}, cv=2).fit(df, y)
    with pytest.raises(fk.ExportError, match=r"pass its best_estimator_"):
        fk.export(grid, tmp_path / "a", reference=df)
    fk.export(grid.best_estimator_, tmp_path / "a", reference=df)
