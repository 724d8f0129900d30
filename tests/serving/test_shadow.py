"""featurekit serve --shadow: the challenger scores every request off the response path."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import HTTP_FEATURES, concept, http_frame
from sklearn.ensemble import RandomForestClassifier
from starlette.testclient import TestClient

import featurekit as fk
from featurekit.outcomes.reading import PredictionLog
from serving import Predictor
from serving.app import create_app


def _records(frame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]


@pytest.fixture(scope="module")
def challenger(tmp_path_factory) -> Path:
    frame = http_frame(1500, seed=30)
    pipe = fk.make_pipeline(
        HTTP_FEATURES,
        RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0),
    )
    pipe.fit(frame, concept(frame, 30))
    path = tmp_path_factory.mktemp("shadow") / "forest"
    fk.export(pipe, path, reference=frame)
    return path


@pytest.fixture(scope="module")
def strict_challenger(tmp_path_factory) -> Path:
    """Refuses regions it has not seen, which the champion accepts (unknown="ignore")."""
    features = fk.FeatureSet(
        "loans",
        [
            f if f.name != "region" else fk.Categorical("region", impute="missing")
            for f in HTTP_FEATURES.features
        ],
        version=3,
    )
    frame = http_frame(600, seed=31)
    from sklearn.linear_model import LogisticRegression

    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=1000))
    pipe.fit(frame, concept(frame, 31))
    path = tmp_path_factory.mktemp("strict") / "loans"
    fk.export(pipe, path, reference=frame)
    return path


def _serve(champion: Path, shadow: Path | str, log: Path | None = None) -> TestClient:
    options = {"directory": str(log)} if log else None
    client = TestClient(create_app(champion, shadow=shadow, log=options))
    client.__enter__()
    deadline = time.monotonic() + 60
    app_state = client.app.state.featurekit
    while client.get("/v2/health/ready").status_code != 200 or (
        app_state.shadow is None and app_state.shadow_error is None
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return client


def test_the_shadow_scores_the_same_rows_and_its_agreement_is_measured(
    logged_artifact, challenger, tmp_path
) -> None:
    log = tmp_path / "log"
    client = _serve(logged_artifact, challenger, log)
    frame = http_frame(200, seed=32)
    records = _records(frame)
    ids = [f"s{i}" for i in range(200)]
    try:
        for start in range(0, 200, 40):
            r = client.post(
                "/predict",
                json={
                    "records": records[start : start + 40],
                    "ids": ids[start : start + 40],
                },
            )
            assert r.status_code == 200
        state = client.app.state.featurekit
        assert state.shadow.drain(30)
        ours = Predictor.load(logged_artifact, monitor=False).predict(frame)
        theirs = Predictor.load(challenger, monitor=False).predict(frame)
        expected = float(np.mean(ours == theirs))
        status = client.get("/monitor").json()["shadow"]
        assert status["rows"] == {"scored": 200, "refused": 0, "dropped": 0, "error": 0}
        assert status["agreement"] == pytest.approx(expected)
        text = client.get("/metrics").text
        got = float(
            re.search(r"^featurekit_shadow_agreement (\S+)", text, re.M).group(1)
        )
        assert got == pytest.approx(expected)
        assert 'featurekit_shadow_rows_total{outcome="scored"} 200.0' in text
    finally:
        client.__exit__(None, None, None)
    table = PredictionLog(log).predictions(
        columns=["row_id", "served_by", "model_sha256"]
    )
    by = {}
    for row in table.to_pylist():
        by.setdefault(row["served_by"], set()).add(row["row_id"])
    assert by["champion"] == set(ids) and by["shadow"] == set(ids)


def test_the_shadows_refusals_never_reach_the_answer(
    logged_artifact, strict_challenger
) -> None:
    client = _serve(logged_artifact, strict_challenger)
    try:
        rows = _records(http_frame(10, seed=33))
        for r in rows[:4]:
            r["region"] = "atlantis"  # the champion ignores it; the challenger refuses
        r = client.post("/predict", json={"records": rows})
        assert r.status_code == 200 and len(r.json()["labels"]) == 10
        client.app.state.featurekit.shadow.drain(30)
        status = client.get("/monitor").json()["shadow"]
        assert status["rows"]["refused"] == 4 and status["rows"]["scored"] == 6
        assert status["compared_rows"] == 6
    finally:
        client.__exit__(None, None, None)


def test_a_shadow_that_does_not_load_leaves_the_champion_serving(
    logged_artifact, tmp_path
) -> None:
    client = _serve(logged_artifact, tmp_path / "no-such-artifact")
    try:
        r = client.post("/predict", json=_records(http_frame(1, seed=34))[0])
        assert r.status_code == 200
        assert "ArtifactError" in client.get("/monitor").json()["shadow"]["error"]
    finally:
        client.__exit__(None, None, None)


def test_a_full_shadow_queue_drops_and_counts(logged_artifact, challenger) -> None:
    from serving.shadow import Shadow

    shadow = Shadow(Predictor.load(challenger, monitor=False), max_pending=0)
    shadow.submit(
        _records(http_frame(3, seed=35)), None, None, {"label": np.zeros(3)}, None
    )
    assert shadow.rows["dropped"] == 3 and shadow.rows["scored"] == 0
    shadow.close()


def test_compare_on_logged_shadow_traffic_agrees_with_compare_on_the_same_rows(
    logged_artifact, challenger, tmp_path
) -> None:
    import json
    import subprocess
    import sys

    log = tmp_path / "log"
    client = _serve(logged_artifact, challenger, log)
    frame = http_frame(300, seed=40)
    y = concept(frame, 40)
    ids = [f"c{i}" for i in range(300)]
    try:
        for start in range(0, 300, 100):
            part = slice(start, start + 100)
            r = client.post(
                "/predict",
                json={"records": _records(frame.iloc[part]), "ids": ids[part]},
            )
            assert r.status_code == 200
        r = client.post("/labels", json={"ids": ids, "labels": y.tolist()})
        assert r.json()["accepted"] == 300
    finally:
        client.__exit__(None, None, None)
    cli = subprocess.run(
        [
            sys.executable, "-m", "featurekit", "compare",
            str(logged_artifact), str(challenger), "--log", str(log), "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert cli.returncode in (0, 1, 3), cli.stderr
    got = json.loads(cli.stdout)
    expected = fk.compare(logged_artifact, challenger, frame, y)
    assert got["verdict"] == expected.verdict
    assert got["rows"]["total"] == 300
    assert "label coverage by the champion's decision" in cli.stderr
    usage = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "compare",
            str(logged_artifact),
            str(challenger),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert usage.returncode == 2 and "Give DATA" in usage.stderr
