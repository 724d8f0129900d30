"""fk.Custom, target encoding and the implied inputs of derived features, end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    PolynomialFeatures,
    QuantileTransformer,
    StandardScaler,
)

import featurekit as fk
from featurekit.exporting.pipeline import custom_transformer
from serving import Predictor


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    n = 600
    X = pd.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.normal(5, 2, n),
            "city": rng.choice([f"c{i}" for i in range(30)], n),
            "shop": rng.choice(["x", "y", "z"], n),
        }
    )
    y = pd.Series(((X["a"] * X["b"] > 0) ^ (X["city"] < "c1")).astype(int))
    return X, y


@pytest.mark.parametrize(
    "transformer",
    [PolynomialFeatures(2), PCA(2), StandardScaler()],
    ids=["poly", "pca", "scaler"],
)
def test_custom_numeric_transformers_export_and_serve(tmp_path, data, transformer):
    X, y = data
    fs = fk.FeatureSet(
        "c",
        [
            # bounded, so that squares and products stay finite
            fk.Numeric("a", bounds=(-100, 100), input_only=True),
            fk.Numeric("b", bounds=(-100, 100), input_only=True),
            fk.Custom("mix", transformer, inputs=["a", "b"]),
            fk.Categorical("shop"),
        ],
    )
    pipe = fk.make_pipeline(fs, LogisticRegression(max_iter=1000)).fit(X, y)
    art = fk.export(pipe, tmp_path / "c", reference=X)
    assert art.certificate["passed"]
    p = Predictor.load(tmp_path / "c")
    np.testing.assert_allclose(
        p.predict_proba(X.iloc[:50]),
        pipe.predict_proba(X.iloc[:50]),
        atol=art.certificate["tolerance"],
    )


def test_custom_categorical_transformer(tmp_path, data):
    X, y = data
    fs = fk.FeatureSet(
        "c",
        [
            fk.Numeric("a"),
            # a custom block's undeclared inputs are numbers: declare strings
            fk.Categorical("city", input_only=True),
            fk.Categorical("shop", input_only=True),
            fk.Custom(
                "places",
                OneHotEncoder(handle_unknown="ignore"),
                inputs=["city", "shop"],
            ),
        ],
    )
    pipe = fk.make_pipeline(fs, LogisticRegression(max_iter=1000)).fit(X, y)
    fk.export(pipe, tmp_path / "c", reference=X)
    p = Predictor.load(tmp_path / "c")
    rows = X.iloc[:20].assign(city="never-seen")
    np.testing.assert_allclose(
        p.predict_proba(rows), pipe.predict_proba(rows), atol=1e-9
    )


def test_custom_that_skl2onnx_cannot_convert_is_refused(tmp_path, data):
    X, y = data
    fs = fk.FeatureSet(
        "c", [fk.Custom("f", FunctionTransformer(np.sinh), inputs=["a", "b"])]
    )
    pipe = fk.make_pipeline(fs, LogisticRegression()).fit(X, y)
    with pytest.raises(fk.ExportError, match="skl2onnx cannot convert"):
        fk.export(pipe, tmp_path / "c", reference=X)
    assert not (tmp_path / "c").exists()


def test_custom_that_converts_inexactly_is_refused_by_the_certificate(tmp_path, data):
    """skl2onnx's QuantileTransformer interpolates in float: the certificate decides."""
    X, y = data
    fs = fk.FeatureSet(
        "c",
        [fk.Custom("q", QuantileTransformer(n_quantiles=50), inputs=["a", "b"])],
    )
    pipe = fk.make_pipeline(
        fs, RandomForestClassifier(n_estimators=20, random_state=0)
    ).fit(X, y)
    try:
        art = fk.export(pipe, tmp_path / "c", reference=X)
    except (fk.ParityError, fk.ExportError) as exc:
        assert "q" in str(exc) or "QuantileTransformer" in str(exc)
        assert not (tmp_path / "c").exists()
    else:  # when it converts, it must really match
        p = Predictor.load(art.path)
        np.testing.assert_array_equal(p.predict(X), pipe.predict(X))


def test_custom_json_round_trip_rebuilds_sklearn_transformers():
    fs = fk.FeatureSet(
        "c", [fk.Custom("poly", PolynomialFeatures(3), inputs=["a", "b"])]
    )
    back = fk.FeatureSet.from_json(fs.to_json())
    assert back == fs
    (custom,) = back.features
    rebuilt = custom_transformer(custom)
    assert isinstance(rebuilt, PolynomialFeatures) and rebuilt.degree == 3


def test_custom_refuses_mixed_inputs():
    with pytest.raises(fk.SpecError, match="mixes kinds"):
        fk.FeatureSet(
            "c",
            [
                fk.Categorical("shop"),
                fk.Custom("m", StandardScaler(), inputs=["a", "shop"]),
            ],
        )


@pytest.mark.parametrize("model", ["logistic", "forest"])
def test_target_encoding_is_out_of_fold_and_exact(tmp_path, data, model):
    X, y = data
    fs = fk.FeatureSet(
        "t",
        [fk.Numeric("a"), fk.Categorical("city", encode="target", unknown="ignore")],
    )
    est = (
        LogisticRegression()
        if model == "logistic"
        else RandomForestClassifier(n_estimators=20, random_state=0)
    )
    pipe = fk.make_pipeline(fs, est).fit(X, y)
    # the model trained on out-of-fold encodings, not on what transform gives now
    encoder = pipe.named_steps["features"].named_transformers_["city"][-1]
    cities = pipe[:-1].transform(X)[:, 1]
    full = encoder.transform(X[["city"]]).ravel()
    np.testing.assert_array_equal(cities, full)
    fk.export(pipe, tmp_path / "t", reference=X)
    p = Predictor.load(tmp_path / "t")
    rows = pd.concat([X.iloc[:30], X.iloc[:5].assign(city="unseen-city")])
    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    np.testing.assert_allclose(
        p.predict_proba(rows), pipe.predict_proba(rows), atol=1e-12
    )


def test_target_encoding_trains_on_out_of_fold_values(data):
    X, y = data
    fs = fk.FeatureSet("t", [fk.Categorical("city", encode="target")])
    pipe = fk.make_pipeline(fs, LogisticRegression())
    trained = pipe[:-1].fit_transform(X, y)
    refit = pipe[:-1].transform(X)
    assert not np.array_equal(trained, refit)  # cross-fitted while training
    again = fk.make_pipeline(fs, LogisticRegression())[:-1].fit_transform(X, y)
    np.testing.assert_array_equal(trained, again)  # seeded folds: reproducible


def test_implied_inputs_are_checked_by_the_contract(tmp_path, data):
    X, y = data
    fs = fk.FeatureSet(
        "i",
        [
            fk.Numeric("a"),
            fk.Derived("ratio", fk.col("b") / (fk.col("a").abs() + 1)),
            fk.Derived("is_x", fk.col("shop") == "x"),
        ],
    )
    assert fs.columns == ["a", "b", "shop"]
    assert fs["b"] == fk.Numeric("b", input_only=True)
    pipe = fk.make_pipeline(fs, LogisticRegression()).fit(X, y)
    fk.export(pipe, tmp_path / "i", reference=X)
    p = Predictor.load(tmp_path / "i")
    with pytest.raises(fk.ContractError) as err:
        p.predict({"a": 1.0, "b": "text", "shop": "x"})
    assert err.value.failures["column"].tolist() == ["b"]
    with pytest.raises(fk.ContractError, match="shop"):
        p.predict({"a": 1.0, "b": 2.0})


def test_a_tree_after_a_custom_block_needs_bit_identical_features(tmp_path, data):
    """skl2onnx's PCA subtracts the mean before the product; scikit-learn after it.

    The last bits differ, which flips a tree's split at such a value, while every
    certified row may still agree: the certificate refuses on the features themselves.
    """
    X, y = data
    fs = fk.FeatureSet(
        "p",
        [
            fk.Numeric("a", bounds=(-100, 100), input_only=True),
            fk.Numeric("b", bounds=(-100, 100), input_only=True),
            fk.Custom("pca", PCA(2), inputs=["a", "b"]),
        ],
    )
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    pipe = fk.make_pipeline(fs, forest).fit(X, y)
    with pytest.raises(fk.ParityError, match=r"features \['pca'\].*last-bit"):
        fk.export(pipe, tmp_path / "p", reference=X)
    assert not (tmp_path / "p").exists()
    # the same block before a linear model is within tolerance, and exports
    linear = fk.make_pipeline(fs, LogisticRegression()).fit(X, y)
    assert fk.export(linear, tmp_path / "l", reference=X).certificate["passed"]
