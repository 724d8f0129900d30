"""fk.Custom on palmerpenguins-shaped data: inputs read after their declared imputation.

Four numeric columns with about 2 % gaps, declared ``impute="median"``, a categorical,
and LogisticRegression: the transforms issue 22 reported failing export with
certified parity through fk.Custom (or through featurekit's declarations), serving
answers like the pipeline, and what cannot be exported is refused with the way out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.kernel_approximation import SkewedChi2Sampler
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    PowerTransformer,
    QuantileTransformer,
    SplineTransformer,
    StandardScaler,
)

import featurekit as fk
from featurekit.transforms.impute import ColumnImputer
from serving import Predictor

MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
# the species' means, as in palmerpenguins, and the spread within each
_MEANS = {
    "Adelie": (38.8, 18.3, 190.0, 3700.0),
    "Chinstrap": (48.8, 18.4, 196.0, 3733.0),
    "Gentoo": (47.5, 15.0, 217.0, 5076.0),
}
_SPREAD = (2.7, 1.1, 6.8, 460.0)


@pytest.fixture(scope="module")
def penguins() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(22)
    n = 344
    species = rng.choice(sorted(_MEANS), n, p=[0.44, 0.2, 0.36])
    frame = pd.DataFrame(
        {
            c: [rng.normal(_MEANS[s][i], _SPREAD[i]) for s in species]
            for i, c in enumerate(MEASURES)
        }
    )
    frame["flipper_length_mm"] = frame["flipper_length_mm"].round()  # ties
    frame["island"] = rng.choice(["Biscoe", "Dream", "Torgersen"], n)
    for c in MEASURES:
        frame.loc[rng.random(n) < 0.02, c] = np.nan
    assert frame[MEASURES].isna().any().all()
    return frame, (species == "Adelie").astype(int)


def measures(**options) -> list[fk.Numeric]:
    # bounds: the contract admits 1e300 otherwise, whose powers overflow
    return [
        fk.Numeric(c, impute="median", bounds=(0, 10_000), **options) for c in MEASURES
    ]


def export_and_serve(tmp_path, features, model, penguins) -> tuple[dict, float]:
    """Fit, export, serve: the certificate and max |serving - pipeline| on every row."""
    frame, y = penguins
    pipe = fk.make_pipeline(features, model).fit(frame, y)
    art = fk.export(pipe, tmp_path / "a", reference=frame)
    assert art.certificate["passed"]
    served = Predictor.load(tmp_path / "a").predict_proba(frame)
    gap = float(np.abs(served - pipe.predict_proba(frame)).max())
    return art.certificate, gap


CUSTOM = {
    "quantile": QuantileTransformer(n_quantiles=50),
    "power": PowerTransformer(),
    "pca": PCA(2),
    "power_pca": make_pipeline(PowerTransformer(), PCA(2)),
    "splines": SplineTransformer(),
}


@pytest.mark.parametrize("transformer", list(CUSTOM.values()), ids=list(CUSTOM))
def test_custom_transforms_of_imputed_columns_export_and_serve(
    tmp_path, penguins, transformer
):
    features = fk.FeatureSet(
        "penguins",
        [
            *measures(input_only=True),  # the model sees them through Custom only
            fk.Categorical("island"),
            fk.Custom("t", transformer, inputs=MEASURES),
        ],
    )
    certificate, gap = export_and_serve(
        tmp_path, features, LogisticRegression(max_iter=5000), penguins
    )
    # quantiles and splines are bit for bit; PowerTransformer within 1e-13 (featurekit's
    # kernels); PCA through skl2onnx. Measured gaps: 2e-16 to 4e-14
    assert certificate["max_abs_diff"] <= 1e-12
    assert gap <= 1e-12


def test_custom_function_transformer_is_refused_naming_the_expression(
    tmp_path, penguins
):
    frame, y = penguins
    features = fk.FeatureSet(
        "penguins",
        [
            *measures(input_only=True),
            fk.Categorical("island"),
            fk.Custom("t", FunctionTransformer(np.log1p), inputs=MEASURES),
        ],
    )
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=5000)).fit(frame, y)
    with pytest.raises(
        fk.ExportError,
        match=r"use fk\.Derived\('bill_length_mm_log1p', "
        r"fk\.col\('bill_length_mm'\)\.log1p\(\)\)",
    ):
        fk.export(pipe, tmp_path / "a", reference=frame)
    assert not (tmp_path / "a").exists()


DECLARED = {
    "quantile": [fk.Numeric(c, impute="median", transform="quantile", n_quantiles=50) for c in MEASURES],
    "quantile_normal": [fk.Numeric(c, impute="median", transform="quantile-normal", n_quantiles=50) for c in MEASURES],
    "yeo_johnson": measures(transform="yeo-johnson", scale="standard"),
    "box_cox": [fk.Numeric(c, impute="median", bounds=(1, 10_000), transform="box-cox", scale="standard") for c in MEASURES],
    "splines": [*measures(input_only=True), *(fk.Splines(f"{c}_s", c) for c in MEASURES)],
    "polynomial": [*measures(scale="standard"), fk.Polynomial("bill", MEASURES[:2])],
}  # fmt: skip


@pytest.mark.parametrize("declared", list(DECLARED.values()), ids=list(DECLARED))
@pytest.mark.parametrize("model", ["logistic", "forest"])
def test_declared_transforms_export_bit_for_bit_and_serve(
    tmp_path, penguins, declared, model
):
    """The declarations' features are bit for bit scikit-learn's: trees accept them."""
    est = (
        LogisticRegression(max_iter=5000)
        if model == "logistic"
        else RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0)
    )
    features = fk.FeatureSet("penguins", [*declared, fk.Categorical("island")])
    certificate, gap = export_and_serve(tmp_path, features, est, penguins)
    assert certificate["max_abs_diff"] <= 1e-12 and gap <= 1e-12


def test_custom_reads_each_column_after_its_declared_imputation_and_clip(penguins):
    frame, y = penguins
    features = fk.FeatureSet(
        "penguins",
        [
            fk.Numeric("bill_length_mm", impute="median", clip=(40, None)),
            fk.Numeric("body_mass_g", impute=4000.0, input_only=True),
            fk.Custom("t", StandardScaler(), inputs=["bill_length_mm", "body_mass_g"]),
        ],
    )
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=5000)).fit(frame, y)
    block = pipe.named_steps["features"].named_transformers_["t"]
    prepare, scaler = block.named_steps["impute"], block.named_steps["custom"]
    assert isinstance(prepare, ColumnImputer)
    own = pipe.named_steps["features"].named_transformers_["bill_length_mm"]
    # the very median the column's own feature fills with
    assert prepare.statistics_.tolist() == [
        own.named_steps["impute"].statistics_[0],
        4000.0,
    ]
    seen = frame[["bill_length_mm", "body_mass_g"]].to_numpy()
    seen = np.where(np.isnan(seen), prepare.statistics_, seen)
    seen[:, 0] = np.maximum(seen[:, 0], 40)
    np.testing.assert_array_equal(scaler.mean_, seen.mean(axis=0))


def test_custom_input_that_may_be_missing_without_an_imputer_is_refused(penguins):
    features = fk.FeatureSet(
        "penguins",
        [
            fk.Numeric("bill_length_mm", impute="median"),
            fk.Numeric("body_mass_g", nullable=True),
            fk.Custom("t", PCA(1), inputs=["bill_length_mm", "body_mass_g"]),
        ],
    )
    with pytest.raises(
        fk.SpecError,
        match=r"add impute=… to the columns Custom\('t'\) reads.*'body_mass_g'",
    ):
        fk.make_pipeline(features, LogisticRegression())


def test_custom_imputer_may_read_missing_values_itself(tmp_path, penguins):
    features = fk.FeatureSet(
        "penguins",
        [
            fk.Numeric("bill_length_mm", nullable=True, input_only=True),
            fk.Numeric("body_mass_g", nullable=True, input_only=True),
            fk.Custom(
                "t",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                inputs=["bill_length_mm", "body_mass_g"],
            ),
        ],
    )
    certificate, gap = export_and_serve(
        tmp_path, features, LogisticRegression(max_iter=5000), penguins
    )
    assert gap <= certificate["tolerance"]


@pytest.mark.parametrize(
    ("transformer", "advice"),
    [
        (
            QuantileTransformer(n_quantiles=50, output_distribution="normal"),
            r"Declare it instead: fk\.Numeric\(\.\.\., transform='quantile'\) or "
            r"transform='quantile-normal'",
        ),
        (SkewedChi2Sampler(random_state=0), r"declare the inputs non-nullable"),
    ],
    ids=["quantile_normal", "no_declaration"],
)
def test_custom_transformer_without_a_conversion_names_the_way_out(
    tmp_path, penguins, transformer, advice
):
    frame, y = penguins
    features = fk.FeatureSet(
        "penguins",
        [*measures(input_only=True), fk.Custom("t", transformer, inputs=MEASURES)],
    )
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=5000)).fit(frame, y)
    with pytest.raises(fk.ExportError, match=advice):
        fk.export(pipe, tmp_path / "a", reference=frame)
