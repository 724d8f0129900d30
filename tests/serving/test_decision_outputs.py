"""A classifier without predict_proba, served: its label and decision function.

``Predictor``, the OIP metadata and infer, and ``POST /predict`` all say what the model
answers (``label`` and ``decision_function``) and refuse to invent probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC
from starlette.testclient import TestClient

import featurekit as fk
from serving import Predictor, create_app

FEATURES = fk.FeatureSet(
    "margins",
    [
        fk.Numeric("x", impute="median", scale="standard"),
        fk.Categorical("c", unknown="ignore"),
    ],
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(0, 1, n).round(3), "c": rng.choice(["a", "b"], n)}
    )
    frame.loc[::11, "x"] = np.nan
    return frame


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "three-classes"])
def served(request, tmp_path_factory) -> tuple[Predictor, object, int]:
    n_classes = request.param
    frame = _frame(200, seed=0)
    score = frame["x"].fillna(0) + (frame["c"] == "a")
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    pipe = fk.make_pipeline(FEATURES, LinearSVC()).fit(frame, y)
    path = tmp_path_factory.mktemp("margins") / "m"
    fk.export(pipe, path, reference=frame)
    return Predictor.load(path), pipe, n_classes


def test_predictor_answers_labels_and_the_decision_function(served) -> None:
    p, pipe, n_classes = served
    rows = _frame(30, seed=1)

    assert p.outputs == ["label", "decision_function"]
    np.testing.assert_array_equal(p.predict(rows), pipe.predict(rows))
    np.testing.assert_allclose(
        p.decision_function(rows), pipe.decision_function(rows), rtol=1e-12
    )
    split = p.decision_function(rows.assign(c=[None] * 30), on_error="split")
    assert split.passed.sum() == 0
    assert split.scores.shape == ((0, n_classes) if n_classes > 2 else (0,))


def test_predict_proba_names_what_the_model_answers_instead(served) -> None:
    p, _, _ = served
    with pytest.raises(fk.ArtifactError, match=r"not 'probabilities'.*Use predict or"):
        p.predict_proba({"x": 0.1, "c": "a"})


def test_oip_metadata_lists_the_decision_function_shaped_as_scikit_learn(
    served,
) -> None:
    p, _, n_classes = served
    meta = TestClient(create_app(p)).get("/v2/models/margins").json()

    assert meta["parameters"]["answers"] == ["label", "decision_function"]
    shape = [-1, n_classes] if n_classes > 2 else [-1]
    assert meta["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "decision_function", "datatype": "FP64", "shape": shape},
    ]


def test_oip_infer_returns_the_decision_function_and_refuses_probabilities(
    served,
) -> None:
    p, pipe, _ = served
    client = TestClient(create_app(p))
    body = {
        "inputs": [
            {"name": "x", "datatype": "FP64", "shape": [2], "data": [0.5, None]},
            {"name": "c", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
        ]
    }
    got = client.post("/v2/models/margins/infer", json=body).json()
    rows = pd.DataFrame({"x": [0.5, np.nan], "c": ["a", "b"]})
    decision = next(o for o in got["outputs"] if o["name"] == "decision_function")
    np.testing.assert_allclose(
        decision["data"], np.ravel(pipe.decision_function(rows)), rtol=1e-12
    )

    asked = {**body, "outputs": [{"name": "probabilities"}]}
    refused = client.post("/v2/models/margins/infer", json=asked)
    assert refused.status_code == 400
    assert "'decision_function'" in refused.json()["error"]


def test_predict_endpoint_returns_labels_and_the_decision_function(served) -> None:
    p, pipe, _ = served
    record = {"x": 0.25, "c": "b"}
    got = TestClient(create_app(p)).post("/predict", json=record).json()

    assert got["model"]["outputs"] == ["label", "decision_function"]
    assert "probabilities" not in got
    assert got["labels"] == pipe.predict(pd.DataFrame([record])).tolist()
    np.testing.assert_allclose(
        got["decision_function"],
        pipe.decision_function(pd.DataFrame([record])).tolist(),
        rtol=1e-12,
    )


def test_a_classifier_without_probabilities_is_watched_on_its_inputs(served) -> None:
    p, _, _ = served
    assert p.monitor is not None
    p.predict(_frame(20, seed=2))

    status = p.monitor.status()
    assert status["rows_total"] >= 20
