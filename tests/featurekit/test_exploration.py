"""Exploration and selective labels: propensities logged, an unbiased accuracy back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.outcomes.exploration import Exploration
from featurekit.outcomes.reading import PredictionLog, SelectiveLabelsWarning
from serving import Predictor

FEATURES = fk.FeatureSet(
    "loans",
    [fk.Numeric("income", scale="standard"), fk.Numeric("age", dtype="int")],
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"income": rng.lognormal(10.5, 0.5, n).round(2), "age": rng.integers(18, 90, n)}
    )


def _truth(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """1 = defaults: low incomes, often (35 % noise); high incomes rarely (5 %)."""
    rng = np.random.default_rng(seed)
    y = (frame["income"] < 30000).to_numpy()
    noise = np.where(y, 0.35, 0.05)
    return np.where(rng.random(len(y)) < noise, ~y, y).astype(int)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    frame = _frame(2000, 1)
    pipe = fk.make_pipeline(FEATURES, LogisticRegression(max_iter=1000))
    pipe.fit(frame, _truth(frame, 1))
    holdout = _frame(500, 2)
    path = tmp_path_factory.mktemp("explore") / "loans"
    fk.export(
        pipe, path, reference=frame, holdout=holdout, holdout_y=_truth(holdout, 2)
    )
    return path


def test_propensities_are_the_probability_of_the_served_decision() -> None:
    e = Exploration(["approve", "reject"], rate=0.2, policy="uniform", seed=3)
    model = np.array(["approve"] * 20000, dtype=object)
    served, extra = e.apply(model)
    flipped = served != model
    assert flipped.mean() == pytest.approx(0.1, abs=0.01)  # half the explored draws
    assert set(np.round(extra["propensity"][flipped], 12)) == {0.1}
    assert set(np.round(extra["propensity"][~flipped], 12)) == {0.9}
    fb = Exploration(
        ["approve", "reject"], rate=0.2, policy="fallback", fallback="reject", seed=3
    )
    served, extra = fb.apply(model)
    assert (served[extra["explored"]] == "reject").all()
    assert set(np.round(extra["propensity"][extra["explored"]], 12)) == {0.2}
    with pytest.raises(ValueError, match="fallback= one of the classes"):
        Exploration(["a", "b"], rate=0.1, policy="fallback", fallback="c")
    with pytest.raises(ValueError, match=r"rate must be in \(0, 1\)"):
        Exploration(["a", "b"], rate=1.5)


def test_with_labels_only_for_approved_rows_ipw_recovers_the_models_accuracy(
    artifact, tmp_path
) -> None:
    log = tmp_path / "log"
    p = Predictor.load(
        artifact, log=log, explore={"rate": 0.2, "policy": "uniform", "seed": 0}
    )
    frame = _frame(6000, 5)
    ids = [f"a{i}" for i in range(6000)]
    got = p.score(frame, ["label"], ids=ids)
    p.close()
    served = got["label"]
    own = Predictor.load(artifact, monitor=False).predict(frame)
    assert 0 < (served != own).sum() < got["explored"].sum()  # some explored draws agree
    y = _truth(frame, 5)
    true_accuracy = float((own == y).mean())
    acted = served == 0  # outcomes are known only for approved loans
    plog = PredictionLog(log)
    plog.add_labels(
        [i for i, a in zip(ids, acted, strict=True) if a], y[acted].tolist()
    )

    report = fk.evaluate(artifact, log, window=10**9, min_labels=10)
    w = report.windows.iloc[0]
    naive = float((own[acted] == y[acted]).mean())
    assert w["accuracy"] == pytest.approx(naive)  # what the labelled rows alone say
    assert abs(naive - true_accuracy) > 0.02  # biased: approved rows are the easy ones
    assert w["accuracy_ipw_low"] <= true_accuracy <= w["accuracy_ipw_high"]
    assert abs(w["accuracy_ipw"] - true_accuracy) < abs(naive - true_accuracy)

    files = sorted(log.glob("predictions/*/*/*.parquet"))
    table = pq.read_table(files[0])
    assert {"explored", "propensity", "model_label"} <= set(table.column_names)

    with pytest.warns(SelectiveLabelsWarning, match="Selective labels"):
        plog.frame()
    coverage = plog.coverage().set_index("decision")
    assert coverage.loc["0", "coverage"] == 1.0 and coverage.loc["1", "coverage"] == 0.0


def test_predict_tags_explored_decisions_over_http(artifact, tmp_path) -> None:
    import time

    from starlette.testclient import TestClient

    from serving.app import create_app

    app = create_app(
        artifact,
        log={"directory": str(tmp_path / "log")},
        explore={"rate": 0.5, "policy": "fallback", "fallback": 1},
    )
    with TestClient(app) as client:
        while client.get("/v2/health/ready").status_code != 200:
            time.sleep(0.05)
        records = _frame(200, 6).to_dict(orient="records")
        body = client.post("/predict", json={"records": records}).json()
    explored = np.array(body["explored"])
    assert 60 < explored.sum() < 140
    assert all(
        label == 1 for label, e in zip(body["labels"], explored, strict=True) if e
    )


def test_exploration_needs_a_classifier_and_a_log_on_the_command_line(artifact) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "serve",
            str(artifact),
            "--explore",
            "0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "--explore needs --log DIR" in r.stderr
