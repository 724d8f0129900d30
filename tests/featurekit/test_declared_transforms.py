"""Declaring scikit-learn's numeric transforms: Numeric(transform=...), Splines, Polynomial.

What the declarations accept and refuse, their JSON and YAML forms, and the steps
make_pipeline builds from them. Their export is tested end to end in
test_custom_inputs.py; their arithmetic in test_numeric_transforms.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

import featurekit as fk
from featurekit.transforms.impute import ColumnImputer
from featurekit.transforms.power import Power
from featurekit.transforms.quantile import Quantiles
from featurekit.transforms.spline import Splines as SplineBasis
from serving import Predictor


def every_new_option() -> fk.FeatureSet:
    return fk.FeatureSet(
        "shapes",
        [
            fk.Numeric("a", impute="median", transform="quantile", n_quantiles=50),
            fk.Numeric("b", bounds=(0.5, None), transform="box-cox", scale="standard"),
            fk.Numeric("c", impute=0.0, clip=(-5, 5), input_only=True),
            fk.Derived("ab", fk.col("a") * fk.col("b"), transform="yeo-johnson"),
            fk.Splines("c_splines", "c", n_knots=4, extrapolation="linear"),
            fk.Polynomial("abc", ["a", "b", "c"], degree=3, interaction_only=True),
        ],
    )


# -- declarations -----------------------------------------------------------------


def test_new_declarations_round_trip_through_json():
    fs = every_new_option()
    assert fk.FeatureSet.from_json(fs.to_json()) == fs


def test_new_declarations_round_trip_through_yaml_and_read_well_there():
    fs = every_new_option()
    text = fs.to_yaml()
    assert "transform: quantile\n" in text and "kind: splines\n" in text
    assert "source: c\n" in text and "interaction_only: true\n" in text
    assert fk.FeatureSet.from_yaml(text) == fs


def test_yaml_written_by_hand_declares_the_transforms():
    fs = fk.FeatureSet.from_yaml(
        """
name: penguins
features:
  - {kind: numeric, name: body_mass_g, impute: median, transform: yeo-johnson, scale: standard}
  - {kind: numeric, name: flipper_length_mm, impute: median, input_only: true}
  - {kind: splines, name: flipper_splines, source: flipper_length_mm, n_knots: 6}
  - {kind: polynomial, name: sizes, inputs: [body_mass_g, flipper_length_mm]}
"""
    )
    assert fs["flipper_splines"] == fk.Splines(
        "flipper_splines", "flipper_length_mm", n_knots=6
    )
    assert fs["sizes"].inputs == ("body_mass_g", "flipper_length_mm")
    assert fs.columns == ["body_mass_g", "flipper_length_mm"]


@pytest.mark.parametrize(
    ("declare", "match"),
    [
        (
            lambda: fk.Numeric("x", transform="log"),
            r"transform='log' is not supported; use one of None, 'quantile'",
        ),
        (
            lambda: fk.Numeric("x", n_quantiles=10),
            r"n_quantiles=10 needs transform='quantile' or 'quantile-normal'",
        ),
        (
            lambda: fk.Numeric("x", transform="quantile", n_quantiles=1),
            r"n_quantiles must be an int >= 2, got 1",
        ),
        (
            lambda: fk.Numeric("x", bounds=(0, None), transform="box-cox"),
            r"transform='box-cox' needs values above 0.*transform='yeo-johnson'",
        ),
        (
            lambda: fk.Numeric("x", transform="quantile", input_only=True),
            r"input_only=True means the model never sees this column, so scale, "
            r"log1p and transform would do nothing",
        ),
        (
            lambda: fk.Derived(
                "d", fk.cross(fk.col("c"), fk.col("e")), transform="quantile"
            ),
            r"\['transform'\] apply to numbers",
        ),
        (lambda: fk.Splines("s", "x", n_knots=1), r"n_knots must be an int >= 2"),
        (
            lambda: fk.Splines("s", "x", extrapolation="error"),
            r"extrapolation='error' is not supported; use one of 'constant'",
        ),
        (
            lambda: fk.Splines("s", "x", n_knots=3, extrapolation="periodic"),
            r"periodic splines need n_knots > degree",
        ),
        (
            lambda: fk.Splines("s", "x", degree=0),
            r"extrapolation='constant' needs degree >= 1",
        ),
        (lambda: fk.Splines("s", ["x"]), r"source must be the name of a numeric"),
        (lambda: fk.Polynomial("p", []), r"inputs must be a non-empty list"),
        (lambda: fk.Polynomial("p", ["x", "x"]), r"repeat a column"),
        (lambda: fk.Polynomial("p", ["x"], degree=0), r"degree must be an int >= 1"),
        (
            lambda: fk.Polynomial("p", ["x", "y"], degree=3, interaction_only=True),
            r"no product has more distinct columns than that\. Use degree=2",
        ),
    ],
)
def test_mistakes_are_refused_where_they_are_written(declare, match):
    with pytest.raises(fk.SpecError, match=match):
        declare()


def test_expansions_read_numbers_only():
    with pytest.raises(
        fk.SpecError, match=r"uses 'c' as a number, but it is declared as Categorical"
    ):
        fk.FeatureSet("s", [fk.Categorical("c"), fk.Splines("s", "c")])


def test_an_input_only_columns_impute_needs_a_reader_that_applies_it():
    with pytest.raises(fk.SpecError, match=r"is input_only with impute or clip"):
        fk.FeatureSet(
            "s",
            [
                fk.Numeric("x", impute="median", input_only=True),
                fk.Derived("d", fk.col("x") + 1),
            ],
        )
    fs = fk.FeatureSet(
        "s",
        [
            fk.Numeric("x", impute="median", input_only=True),
            fk.Polynomial("p", ["x"], degree=2),
        ],
    )
    assert fs["x"].accepts_missing  # the imputer admits missing values


def test_undeclared_columns_of_expansions_are_implicit_numbers():
    fs = fk.FeatureSet("s", [fk.Polynomial("p", ["u", "v"])])
    assert fs["u"] == fk.Numeric("u", input_only=True)
    assert fs.columns == ["u", "v"]


# -- the steps make_pipeline builds ----------------------------------------------


def _block(pipe, name):
    """The unfitted steps make_pipeline built for the feature `name`."""
    return {n: t for n, t, _ in pipe.named_steps["features"].transformers}[name]


def test_numeric_transforms_run_after_log1p_and_before_scale():
    fs = fk.FeatureSet(
        "s",
        [
            fk.Numeric("x", clip=(0, None), log1p=True, transform="quantile-normal", n_quantiles=40, scale="standard"),
            fk.Numeric("y", transform="yeo-johnson"),
        ],
    )  # fmt: skip
    pipe = fk.make_pipeline(fs, LogisticRegression())
    x, y = _block(pipe, "x"), _block(pipe, "y")
    assert [n for n, _ in x.steps] == ["clip", "log1p", "transform", "scale"]
    quantiles = x.named_steps["transform"]
    assert isinstance(quantiles, Quantiles)
    assert (quantiles.n_quantiles, quantiles.output_distribution) == (40, "normal")
    assert isinstance(y.named_steps["transform"], Power)


def test_expansions_read_their_columns_through_the_declared_imputer():
    fs = every_new_option()
    pipe = fk.make_pipeline(fs, LogisticRegression())
    splines, poly = _block(pipe, "c_splines"), _block(pipe, "abc")
    assert [n for n, _ in splines.steps] == ["impute", "splines"]
    assert splines.named_steps["impute"].get_params() == {
        "impute": [0.0],
        "clip": [(-5, 5)],
    }
    assert isinstance(splines.named_steps["splines"], SplineBasis)
    assert isinstance(poly.named_steps["impute"], ColumnImputer)
    products = poly.named_steps["polynomial"]
    assert isinstance(products, PolynomialFeatures)
    assert (products.degree, products.interaction_only) == (3, True)


def test_expansion_of_a_column_that_may_be_missing_needs_an_imputer():
    fs = fk.FeatureSet("s", [fk.Numeric("x", nullable=True), fk.Splines("s", "x")])
    with pytest.raises(
        fk.SpecError, match=r"add impute=… to the columns Splines\('s'\) reads"
    ):
        fk.make_pipeline(fs, LogisticRegression())


def test_a_custom_block_is_always_featurekits_pipeline_around_the_transformer():
    fs = fk.FeatureSet("s", [fk.Custom("t", StandardScaler(), inputs=["a", "b"])])
    block = _block(fk.make_pipeline(fs, LogisticRegression()), "t")
    assert [n for n, _ in block.steps] == ["custom"]


# -- trees ------------------------------------------------------------------------


def test_a_tree_after_log1p_then_a_quantile_transform_exports(tmp_path):
    """log1p's columns reach the trees raw: their split thresholds are moved back
    through the whole chain, the quantile transform included, by bisection."""
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"x": rng.lognormal(3, 1, 500), "z": rng.normal(size=500)})
    y = (X["x"] > 20).astype(int) ^ (X["z"] > 1).astype(int)
    fs = fk.FeatureSet(
        "t",
        [
            fk.Numeric("x", clip=(0, None), log1p=True, transform="quantile", n_quantiles=30),
            fk.Numeric("z", transform="yeo-johnson", bounds=(-50, 50)),
        ],
    )  # fmt: skip
    forest = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0)
    pipe = fk.make_pipeline(fs, forest).fit(X, y)
    art = fk.export(pipe, tmp_path / "t", reference=X)
    assert art.certificate["passed"] and art.certificate["label_agreement"] == 1.0
    served = Predictor.load(tmp_path / "t").predict(X)
    np.testing.assert_array_equal(served, pipe.predict(X))
