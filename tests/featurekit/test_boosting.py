"""LightGBM and XGBoost as the model: exported with a passing certificate, or refused.

Each case fits a real library inside ``fk.make_pipeline``, exports it, and checks,
independently of the certificate, that ``serving.Predictor`` answers like the pipeline
on fresh rows with missing values and on rows exactly at and beside every split
threshold the library itself reports (``trees_to_dataframe``), including LightGBM's
``±1e-35`` splits around zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

try:
    lgb = pytest.importorskip("lightgbm")
except OSError as exc:  # the wheel links OpenMP's runtime, a system library
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        f"lightgbm cannot load ({exc}): apt-get install libgomp1",
        allow_module_level=True,
    )
xgb = pytest.importorskip("xgboost")

#: LightGBM sums and links in double, as featurekit's graph does.
LGBM_TOL = 1e-12
#: XGBoost's sigmoid and softmax run in float32 with its own expf: a few float32 ulps.
XGB_TOL = 1e-6
#: What the certificate must report (fk.export's default tolerance).
CERTIFICATE_TOL = 1e-5

N_TREES = 30


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    with threadpool_limits(1):
        yield


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.gamma(2.0, 3.0, n),
            "c": rng.normal(size=n) * 10,
            "z": np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n)),
            "cat": rng.choice(["x", "y", "w"], n),
        }
    )
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    df.loc[rng.random(n) < 0.05, "z"] = np.nan
    return df


TRAIN = _frame(600, 0)
FRESH = _frame(300, 1)
_SCORE = (
    TRAIN["a"].fillna(0)
    + np.log1p(TRAIN["b"])
    - 1.5
    + 0.1 * TRAIN["c"].fillna(0)
    + (TRAIN["cat"] == "x")
    + TRAIN["z"].fillna(0)
).to_numpy()
_NOISE = np.random.default_rng(2).normal(size=len(TRAIN))
TARGETS = {
    "binary": (_SCORE + 0.5 * _NOISE > 0).astype(int),
    "multiclass": np.digitize(_SCORE, np.quantile(_SCORE, [0.33, 0.66])),
    "regression": _SCORE + 0.1 * _NOISE,
}

FEATURES = fk.FeatureSet(
    "boosting",
    [
        fk.Numeric("a", impute="median", scale="standard"),  # NaN imputed
        fk.Numeric("b", impute="median", clip=(0, None), log1p=True),
        fk.Numeric("c", nullable=True),  # NaN reaches the trees
        fk.Numeric("z", nullable=True),  # zeros: LightGBM splits at ±1e-35
        fk.Categorical("cat", impute="missing", unknown="ignore"),  # one-hot
    ],
)


def _model(family: str, task: str, **params: Any) -> Any:
    if family == "lightgbm":
        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        return cls(n_estimators=N_TREES, num_leaves=8, verbose=-1, **params)
    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    return cls(n_estimators=N_TREES, max_depth=3, **params)


def _library_splits(model: Any) -> list[tuple[str, float]]:
    """(feature name, threshold) of every numeric split, as the library reports it."""
    booster = getattr(model, "booster_", None) or model.get_booster()
    trees = booster.trees_to_dataframe()
    if "split_feature" in trees:  # LightGBM: Column_<i>
        inner = trees[trees["decision_type"] == "<="]
        cols = inner["split_feature"].str.removeprefix("Column_").astype(int)
        return list(zip(cols, inner["threshold"].astype(float), strict=True))
    inner = trees[trees["Feature"] != "Leaf"]  # XGBoost: f<i>
    cols = inner["Feature"].str.removeprefix("f").astype(int)
    return list(zip(cols, inner["Split"].astype(float), strict=True))


def _threshold_rows(pipe: Any) -> pd.DataFrame:
    """FRESH's first row, once per value at and beside each split on c and z.

    c and z reach the model untransformed, so a raw value equals the split value.
    """
    names = list(pipe[:-1].get_feature_names_out())
    raw = {names.index("c__c"): "c", names.index("z__z"): "z"}
    rows = []
    for col, t in _library_splits(pipe.named_steps["model"]):
        if col not in raw:
            continue
        t32 = np.float32(t)
        for v in {
            t,
            np.nextafter(t, np.inf),
            np.nextafter(t, -np.inf),
            float(np.nextafter(t32, np.float32(np.inf))),
            float(np.nextafter(t32, np.float32(-np.inf))),
        }:
            rows.append({**FRESH.iloc[0].to_dict(), raw[col]: float(v)})
    assert rows, "the model splits on c or z"
    return pd.DataFrame(rows)


def _assert_same_answers(
    predictor: Predictor, pipe: Any, frame: pd.DataFrame, tol: float, what: str
) -> None:
    model = pipe.named_steps["model"]
    if not hasattr(model, "classes_"):
        sk = np.asarray(pipe.predict(frame), dtype=np.float64)
        diff = np.abs(predictor.predict(frame) - sk) / max(1.0, float(np.std(sk)))
        assert diff.max() <= tol, f"{what}: max relative |Δ| {diff.max():.3g} > {tol}"
        return
    sk_labels = np.asarray(pipe.predict(frame))
    flipped = np.flatnonzero(predictor.predict(frame) != sk_labels)
    assert len(flipped) == 0, (
        f"{what}: {len(flipped)} of {len(frame)} labels differ, first "
        f"{frame.iloc[flipped[0]].to_dict()!r}"
    )
    diff = np.abs(predictor.predict_proba(frame) - pipe.predict_proba(frame))
    assert diff.max() <= tol, f"{what}: max |Δp| {diff.max():.3g} > {tol}"


CASES = [
    pytest.param(family, task, id=f"{family}-{task}")
    for family in ("lightgbm", "xgboost")
    for task in ("binary", "multiclass", "regression")
]


@pytest.mark.parametrize(("family", "task"), CASES)
def test_boosted_model_exports_and_serves_like_the_pipeline(
    family: str, task: str, tmp_path: Path
) -> None:
    pipe = fk.make_pipeline(FEATURES, _model(family, task)).fit(TRAIN, TARGETS[task])

    art = fk.export(pipe, tmp_path / "a", reference=TRAIN)

    cert = art.certificate
    assert cert["passed"]
    assert cert["max_abs_diff"] <= CERTIFICATE_TOL
    assert cert["splits_covered"] > 0
    assert "featurekit.TreeEnsemble" in art.manifest["converter"]
    predictor = Predictor.load(tmp_path / "a")
    tol = LGBM_TOL if family == "lightgbm" else XGB_TOL
    _assert_same_answers(predictor, pipe, FRESH, tol, "fresh rows with NaN")
    _assert_same_answers(
        predictor, pipe, _threshold_rows(pipe), tol, "rows at split thresholds"
    )


def test_lightgbm_zero_splits_are_probed_by_the_certificate(tmp_path: Path) -> None:
    # LightGBM reads |x| <= 1e-35f as 0.0; its splits around zero sit at exactly
    # ±1e-35f, so -1e-35f itself goes right although -1e-35f <= -1e-35f
    pipe = fk.make_pipeline(FEATURES, _model("lightgbm", "binary")).fit(
        TRAIN, TARGETS["binary"]
    )
    zero = float(np.float32(1e-35))
    assert any(abs(t) == zero for _, t in _library_splits(pipe.named_steps["model"]))
    fk.export(pipe, tmp_path / "a", reference=TRAIN)
    rows = pd.DataFrame([{**FRESH.iloc[0].to_dict(), "z": v} for v in (-zero, zero)])

    _assert_same_answers(
        Predictor.load(tmp_path / "a"), pipe, rows, LGBM_TOL, "z at ±1e-35f"
    )


def test_xgboost_regressor_without_log1p_matches_bit_for_bit(tmp_path: Path) -> None:
    # no raw log1p column: the graph sums in float32 in XGBoost's own order
    features = fk.FeatureSet("plain", [f for f in FEATURES.features if f.name != "b"])
    pipe = fk.make_pipeline(features, _model("xgboost", "regression")).fit(
        TRAIN, TARGETS["regression"]
    )

    fk.export(pipe, tmp_path / "a", reference=TRAIN)

    onx = Predictor.load(tmp_path / "a").predict(FRESH)
    np.testing.assert_array_equal(onx, np.asarray(pipe.predict(FRESH), np.float64))


def test_lightgbm_random_forest_mode_averages_its_trees(tmp_path: Path) -> None:
    model = _model(
        "lightgbm", "binary", boosting_type="rf", bagging_freq=1, bagging_fraction=0.7
    )
    pipe = fk.make_pipeline(FEATURES, model).fit(TRAIN, TARGETS["binary"])

    fk.export(pipe, tmp_path / "a", reference=TRAIN)

    _assert_same_answers(Predictor.load(tmp_path / "a"), pipe, FRESH, LGBM_TOL, "rf")


@pytest.mark.parametrize(
    ("model", "task", "fit_params", "message"),
    [
        pytest.param(
            lambda: _model("lightgbm", "multiclass", objective="multiclassova"),
            "multiclass",
            {},
            r"LGBMClassifier with objective 'multiclassova' is not supported",
            id="lightgbm-multiclassova",
        ),
        pytest.param(
            lambda: _model("lightgbm", "binary", min_data_per_group=5, cat_smooth=1),
            "binary",
            {"model__categorical_feature": [5]},  # the one-hot column cat_x
            r"LGBMClassifier uses categorical splits .* fit without categorical_feature",
            id="lightgbm-categorical_feature",
        ),
        pytest.param(
            lambda: _model("lightgbm", "regression", zero_as_missing=True),
            "regression",
            {},
            r"LGBMRegressor treats zero as missing \(zero_as_missing=True\)",
            id="lightgbm-zero_as_missing",
        ),
        pytest.param(
            lambda: _model("xgboost", "regression", booster="dart"),
            "regression",
            {},
            r"XGBRegressor uses booster='dart'; featurekit exports booster='gbtree'",
            id="xgboost-dart",
        ),
        pytest.param(
            lambda: _model(
                "xgboost",
                "regression",
                objective="reg:quantileerror",
                quantile_alpha=[0.2, 0.8],
            ),
            "regression",
            {},
            r"XGBRegressor has 2 targets; featurekit exports one",
            id="xgboost-two-quantiles",
        ),
    ],
)
def test_what_cannot_match_is_refused_and_nothing_is_written(
    model: Any, task: str, fit_params: dict[str, Any], message: str, tmp_path: Path
) -> None:
    pipe = fk.make_pipeline(FEATURES, model()).fit(TRAIN, TARGETS[task], **fit_params)

    with pytest.raises(fk.ExportError, match=message) as err:
        fk.export(pipe, tmp_path / "a", reference=TRAIN)

    assert not isinstance(err.value, fk.ParityError)
    assert list(tmp_path.iterdir()) == []


def test_importing_featurekit_imports_neither_library() -> None:
    code = (
        "import sys, featurekit, featurekit.onnx.model, featurekit.exporting.probes; "
        "print(sorted({'lightgbm', 'xgboost'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
