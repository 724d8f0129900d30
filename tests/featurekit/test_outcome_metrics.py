"""featurekit.outcomes.metrics against scikit-learn, statsmodels and a direct DeLong."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from statsmodels.stats.proportion import proportion_confint

import featurekit as fk
from featurekit.outcomes import metrics as M


def _data(n: int = 400, seed: int = 0, k: int = 2):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), n)
    y = np.array([rng.choice(k, p=p) for p in proba])
    return y, proba


@pytest.mark.parametrize("k", [2, 3])
def test_figures_equal_scikit_learn(k: int) -> None:
    y, proba = _data(k=k)
    got = M.classification(y, proba, list(range(k)))
    yhat = proba.argmax(axis=1)
    assert got["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, yhat))
    assert got["balanced_accuracy"]["value"] == pytest.approx(
        skm.balanced_accuracy_score(y, yhat)
    )
    assert got["log_loss"]["value"] == pytest.approx(skm.log_loss(y, proba))
    if k == 2:
        assert got["brier"]["value"] == pytest.approx(
            skm.brier_score_loss(y, proba[:, 1])
        )
        assert got["roc_auc"]["value"] == pytest.approx(
            skm.roc_auc_score(y, proba[:, 1])
        )
    else:
        onehot = np.eye(k)[y]
        assert got["brier"]["value"] == pytest.approx(
            ((proba - onehot) ** 2).sum(axis=1).mean()
        )
        assert "roc_auc" not in got
    for fig in got.values():
        assert fig["low"] <= fig["value"] <= fig["high"]


def test_accuracy_interval_is_wilson_as_statsmodels_computes_it() -> None:
    y, proba = _data(n=137, seed=4)
    got = M.classification(y, proba, [0, 1])["accuracy"]
    hits = int((proba.argmax(axis=1) == y).sum())
    low, high = proportion_confint(hits, 137, alpha=0.05, method="wilson")
    assert (got["low"], got["high"]) == pytest.approx((low, high))


def _delong_reference(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong (1988) written out: the O(m n) structural components."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc = psi.mean()
    return auc, v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_delong_variance_equals_the_direct_computation_with_ties() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y * 0.8, 1)  # rounding makes ties
    auc, var = M.delong(y, s)
    ref_auc, ref_var = _delong_reference(y, s)
    assert auc == pytest.approx(ref_auc)
    assert var == pytest.approx(ref_var)


def test_regression_figures_equal_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=250)
    pred = y + rng.normal(scale=0.5, size=250)
    got = M.regression(y, pred)
    assert got["mae"]["value"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"]["value"] == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, pred))
    )
    assert got["r2"]["value"] == pytest.approx(skm.r2_score(y, pred))


def test_labels_of_no_class_are_refused() -> None:
    with pytest.raises(ValueError, match="none of the classes"):
        M.classification(["a", "z"], None, ["a", "b"], predicted=["a", "b"])


FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("income", impute="median", scale="standard"),
        fk.Numeric("age", dtype="int"),
        fk.Categorical("plan", unknown="ignore"),
    ],
    version=1,
)


def http_frame(n: int, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.5, n).round(2),
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus", "premium"], n),
        }
    )
    frame.loc[::9, "income"] = np.nan
    return frame


def concept(frame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = (frame["income"].fillna(36000) > 36000).to_numpy()
    return np.where(np.where(rng.random(len(y)) < 0.1, ~y, y), 1, 0)


HTTP_FEATURES = FEATURES


def test_export_records_the_served_graphs_holdout_performance(tmp_path) -> None:
    frame, holdout = http_frame(800, seed=1), http_frame(300, seed=2)
    y_holdout = concept(holdout, 2)
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(max_iter=1000))
    pipe.fit(frame, concept(frame, 1))
    art = fk.export(
        pipe, tmp_path / "a", reference=frame, holdout=holdout, holdout_y=y_holdout
    )
    record = art.manifest["holdout"]
    assert record["rows"] == 300
    figures = record["metrics"]
    proba = pipe.predict_proba(holdout)
    assert figures["accuracy"]["value"] == pytest.approx(
        skm.accuracy_score(y_holdout, pipe.predict(holdout))
    )
    assert figures["log_loss"]["value"] == pytest.approx(
        skm.log_loss(y_holdout, proba), rel=1e-6
    )
    assert figures["roc_auc"]["value"] == pytest.approx(
        skm.roc_auc_score(y_holdout, proba[:, 1]), rel=1e-6
    )
    label = record["labels"]["features"]["label"]
    assert label["kind"] == "categorical"
    shares = dict(zip(label["categories"], label["counts"], strict=True))
    assert shares["1"] == int((y_holdout == 1).sum())


def test_export_refuses_holdout_labels_that_do_not_fit(tmp_path) -> None:
    frame = http_frame(300, seed=1)
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(max_iter=1000))
    pipe.fit(frame, concept(frame, 1))
    with pytest.raises(fk.ExportError, match="holdout_y needs holdout="):
        fk.export(pipe, tmp_path / "a", reference=frame, holdout_y=[1])
    with pytest.raises(fk.ExportError, match="2 labels for 300 holdout rows"):
        fk.export(
            pipe, tmp_path / "b", reference=frame, holdout=frame, holdout_y=[0, 1]
        )
    with pytest.raises(fk.ExportError, match=r"labels \['7'\] that are none"):
        fk.export(
            pipe, tmp_path / "c", reference=frame, holdout=frame, holdout_y=[7] * 300
        )


def test_a_regressor_records_mae_rmse_and_r2(tmp_path) -> None:
    frame, holdout = http_frame(400, seed=3), http_frame(200, seed=4)
    target = frame["age"].to_numpy() * 2.0
    pipe = fk.make_pipeline(HTTP_FEATURES, LinearRegression())
    pipe.fit(frame, target)
    y = holdout["age"].to_numpy() * 2.0 + 1.0
    art = fk.export(pipe, tmp_path / "r", reference=frame, holdout=holdout, holdout_y=y)
    figures = art.manifest["holdout"]["metrics"]
    assert set(figures) == {"mae", "rmse", "r2"}
    assert figures["mae"]["value"] == pytest.approx(
        skm.mean_absolute_error(y, pipe.predict(holdout)), rel=1e-6
    )
