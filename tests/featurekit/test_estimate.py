"""Performance estimated without labels (issue 15, section 4): seeded simulations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.monitoring.estimate import estimate
from serving import Predictor

BETA = np.array([1.5, -1.0])


def _rows(n: int, rng: np.random.Generator, shift: float = 0.0, flip: bool = False):
    """A well-specified logistic model: P(y = 1 | x) = sigmoid(x @ BETA)."""
    x = rng.normal(size=(n, 2)) + np.array([shift, shift / 2])
    p = 1 / (1 + np.exp(-(x @ BETA)))
    y = (rng.random(n) < (1 - p if flip else p)).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1]}), y


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    rng = np.random.default_rng(0)
    X, y = _rows(4000, rng)
    H, hy = _rows(4000, rng)
    features = fk.FeatureSet("est", [fk.Numeric("a"), fk.Numeric("b")])
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(X, y)
    path = tmp_path_factory.mktemp("est") / "a"
    fk.export(pipe, path, reference=X, holdout=H, holdout_y=hy)
    return path


def test_the_profile_stores_a_calibration_map(artifact) -> None:
    entry = json.loads((artifact / "profile.json").read_text())["estimate"]
    assert entry["kind"] == "binary"
    assert entry["map"] in ("binned", "identity")
    assert entry["holdout_rows"] == 4000
    assert (
        0.5
        in json.loads((artifact / "profile.json").read_text())["features"][
            "output:score"
        ]["edges"]
    )  # each score bin predicts one class


def test_under_covariate_shift_the_interval_covers_the_realised_accuracy(
    artifact,
) -> None:
    predictor = Predictor.load(artifact)
    rng = np.random.default_rng(1)
    covered, trials = 0, 40
    for t in range(trials):
        X, y = _rows(500, rng, shift=(-1.0, 0.0, 1.0, 2.0)[t % 4])
        est = fk.drift(predictor, X).estimate
        realised = float(np.mean(predictor.predict(X).astype(int) == y))
        lo, hi = est["accuracy_ci95"]
        covered += lo <= realised <= hi
        assert est["label"] == "estimate"
    assert covered >= 0.9 * trials


def test_the_auc_estimate_follows_the_realised_auc_under_covariate_shift(
    artifact,
) -> None:
    from sklearn.metrics import roc_auc_score

    predictor = Predictor.load(artifact)
    rng = np.random.default_rng(2)
    X, y = _rows(3000, rng, shift=1.5)
    est = fk.drift(predictor, X).estimate
    realised = roc_auc_score(y, predictor.predict_proba(X)[:, 1])
    lo, hi = est["roc_auc_ci95"]
    assert lo <= realised <= hi


def test_a_concept_shift_is_the_estimates_blind_spot(artifact) -> None:
    predictor = Predictor.load(artifact)
    rng = np.random.default_rng(3)
    X, y = _rows(2000, rng, flip=True)  # the same inputs, the opposite labels
    est = fk.drift(predictor, X).estimate
    realised = float(np.mean(predictor.predict(X).astype(int) == y))
    # the estimate still reads the holdout's accuracy; the realised one collapsed
    assert est["accuracy_ci95"][0] > 0.7
    assert realised < 0.3


def test_the_report_shows_the_estimate_and_its_assumptions(artifact) -> None:
    rng = np.random.default_rng(4)
    X, _ = _rows(300, rng, shift=3.0)
    report = fk.drift(artifact, X)
    html = report.to_html()
    assert 'id="estimate"' in html and "an estimate: no labels" in html
    support = report.estimate["outside_support"]
    assert support["share"] > 0.05 and support["feature"] in ("a", "b")
    assert json.loads(report.to_json())["estimate"]["label"] == "estimate"


def test_the_live_monitor_reports_the_estimate_per_window(artifact) -> None:
    predictor = Predictor.load(artifact, monitor={"window": 200})
    rng = np.random.default_rng(5)
    X, _ = _rows(400, rng)
    predictor.predict(X.iloc[:200])
    predictor.predict(X.iloc[200:])
    status = predictor.monitor.status()
    assert status["windows_closed"] == 2
    est = status["last_window"]["estimate"]
    assert est["label"] == "estimate" and est["rows"] == 200
    assert est["accuracy_ci95"][0] < est["accuracy"] < est["accuracy_ci95"][1]


def test_without_holdout_labels_there_is_no_estimate(tmp_path) -> None:
    rng = np.random.default_rng(6)
    X, y = _rows(500, rng)
    features = fk.FeatureSet("est", [fk.Numeric("a"), fk.Numeric("b")])
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(X, y)
    fk.export(pipe, tmp_path / "a", reference=X)
    assert fk.drift(tmp_path / "a", X).estimate is None


def test_the_estimate_matches_hand_computed_figures() -> None:
    # two bins: 20 % positives below 0.5 (predicted negative), 70 % above
    entry = {
        "kind": "binary",
        "calibrated": [0.2, 0.7],
        "hits": [20, 70],
        "rows": [100, 100],
        "predicts_positive": [False, True],
    }
    est = estimate(entry, [300, 100])
    assert est["accuracy"] == pytest.approx((300 * 0.8 + 100 * 0.7) / 400)
    # AUC: positives above beat negatives below; ties within a bin count half
    pos, neg = np.array([60, 70]), np.array([240, 30])
    won = 70 * 240 + 0.5 * (60 * 240 + 70 * 30)
    assert est["roc_auc"] == pytest.approx(won / (pos.sum() * neg.sum()))
