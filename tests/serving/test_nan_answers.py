"""A record the contract admits but whose derived feature overflows: refused, not NaN.

``x / y`` with ``x = 1e308`` and ``y = 0.5`` is not finite, so the derived feature is
missing, and a LogisticRegression without ``impute=`` on it cannot score the row:
scikit-learn refuses it ("Input X contains NaN"). The export's probes of the edges
(``y = 0``, refused here by the bounds) do not reach the overflow, so the artifact is
certified, and onnxruntime answers NaN probabilities and the label of a NaN decision
(class 0): a silent wrong answer, unless `Predictor` refuses the row
(`serving.answers`), as a contract failure: a 422 over HTTP, a refused row in
``on_error="split"``, never counted by the drift monitor.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient

import featurekit as fk
from featurekit.errors import ContractError
from serving import Limits, Predictor, create_app
from serving.routes_predict import answer
from serving.state import AppState


@pytest.fixture(scope="module")
def ratio_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300) + 5, "y": rng.uniform(1, 2, 300)})
    features = fk.FeatureSet(
        "ratios",
        [
            fk.Numeric("x"),
            fk.Numeric("y", bounds=(0.5, 3.0)),
            fk.Derived("ratio", fk.col("x") / fk.col("y")),
        ],
    )
    pipe = fk.make_pipeline(features, LogisticRegression())
    pipe.fit(frame, (frame["x"] > 5).astype(int))
    path = tmp_path_factory.mktemp("nan") / "ratios"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk.export(pipe, path, reference=frame)
    return path, pipe


OVERFLOW = {"x": 1e308, "y": 0.5}
GOOD = {"x": 5.5, "y": 1.5}


def test_scikit_learn_refuses_the_row(ratio_artifact: tuple[Path, object]) -> None:
    _, pipe = ratio_artifact
    with pytest.raises(ValueError, match="contains NaN"):
        pipe.predict_proba(pd.DataFrame([OVERFLOW]))  # type: ignore[attr-defined]


@pytest.mark.parametrize("monitor", [True, False])
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_serving_refuses_a_row_whose_answer_would_be_nan(
    ratio_artifact: tuple[Path, object], monitor: bool, method: str
) -> None:
    path, _ = ratio_artifact
    p = Predictor.load(path, monitor=monitor)
    with pytest.raises(ContractError, match="'ratio'") as caught:
        getattr(p, method)([GOOD, OVERFLOW])
    failures = caught.value.failures
    assert failures["index"].tolist() == [1]
    assert failures["check"].tolist() == ["answer_is_a_number"]
    if p.monitor is not None:
        assert p.monitor.open_rows == 0  # the refused call counted nothing


def test_a_split_call_refuses_the_row_and_scores_the_others(
    ratio_artifact: tuple[Path, object],
) -> None:
    path, pipe = ratio_artifact
    p = Predictor.load(path)
    frame = pd.DataFrame(
        [GOOD, OVERFLOW, {"x": 4.0, "y": 9.0}, GOOD], index=list("abcd")
    )
    got = p.predict_proba(frame, on_error="split")
    assert got.passed.tolist() == [True, False, False, True]
    assert sorted(got.failures["index"].tolist()) == ["b", "c"]
    expected = pipe.predict_proba(frame.loc[["a", "d"]])  # type: ignore[attr-defined]
    np.testing.assert_allclose(got.scores, expected, rtol=1e-9)
    assert p.monitor is not None and p.monitor.open_rows == 2


def test_over_http_the_row_is_a_422_and_the_others_are_answered(
    ratio_artifact: tuple[Path, object],
) -> None:
    path, _ = ratio_artifact
    client = TestClient(create_app(Predictor.load(path)))
    r = client.post("/predict", json=OVERFLOW)
    assert r.status_code == 422, r.text
    assert "not a number" in r.json()["error"]
    assert client.post("/predict", json=GOOD).status_code == 200
    r = client.post("/predict?on_error=split", json={"records": [GOOD, OVERFLOW]})
    assert r.status_code == 200
    assert r.json()["passed"] == [True, False]
    metrics = client.get("/metrics").text
    assert 'column="(answer)"' in metrics


def test_a_batch_refuses_the_row_and_reads_it_once(
    ratio_artifact: tuple[Path, object],
) -> None:
    path, _ = ratio_artifact
    p = Predictor.load(path)
    scores, kept, refused = p.score_together([GOOD, OVERFLOW, GOOD], p.outputs)
    assert kept == [0, 2] and refused == [1]
    assert len(scores["label"]) == 2
    assert p.tally.rows == 3  # each record read once, the refused one included
    assert p.monitor is not None and p.monitor.open_rows == 2


def test_concurrent_requests_batched_get_the_422_they_would_get_alone(
    ratio_artifact: tuple[Path, object],
) -> None:
    path, _ = ratio_artifact
    p = Predictor.load(path)
    state = AppState(Limits())
    state.attach(p)
    bodies = [json.dumps(r).encode() for r in (GOOD, OVERFLOW, GOOD)]

    async def one(body: bytes) -> tuple[int | None, bytes]:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/predict",
            "query_string": b"",
            "headers": [],
        }
        sent: list[dict[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        status = await answer(state, scope, receive, send)
        return status, sent[1]["body"]

    async def together() -> list[tuple[int | None, bytes]]:
        return list(await asyncio.gather(*(one(b) for b in bodies)))

    got = asyncio.run(together())
    assert [s for s, _ in got] == [200, 422, 200]
    assert state.batcher is not None and state.batcher.flushes == 1  # one batch
    alone = TestClient(create_app(Predictor.load(path), batching=False))
    expected = alone.post("/predict", content=bodies[1])
    assert got[1][1] == expected.content
    assert p.tally.rows == 3
    assert "featurekit_rows_refused_total 1.0" in state.metrics.render().decode()
