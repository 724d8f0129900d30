"""The outcome loop over HTTP: row ids, POST /labels, online figures, --log end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import concept, http_frame
from live_server import start_server
from sklearn.metrics import accuracy_score
from starlette.testclient import TestClient

import featurekit as fk
from featurekit.outcomes.evaluation import evaluate
from featurekit.outcomes.reading import PredictionLog
from serving.app import create_app


def _records(frame) -> list[dict]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append(
            {
                k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in rec.items()
            }
        )
    return out


def _ready(client: TestClient) -> TestClient:
    deadline = time.monotonic() + 60
    while client.get("/v2/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "the model did not load"
        time.sleep(0.05)
    return client


@pytest.fixture
def logged(logged_artifact: Path, tmp_path: Path):
    app = create_app(logged_artifact, log={"directory": str(tmp_path / "log")})
    with TestClient(app) as client:
        yield _ready(client), tmp_path / "log"


def test_predict_answers_client_ids_or_makes_them(logged) -> None:
    client, _ = logged
    rows = _records(http_frame(3, seed=1))
    r = client.post("/predict", json={"records": rows, "ids": ["a", 7, "c"]})
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == ["a", "7", "c"]
    r = client.post(
        "/predict", json={"records": rows[:2]}, headers={"X-Request-ID": "req-42"}
    )
    assert r.json()["ids"] == ["req-42-0", "req-42-1"]
    made = client.post("/predict", json=rows[0]).json()["ids"]  # a bare record
    assert len(made) == 1 and made[0].endswith("-0")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["a"], "1 entries for 2 records"),
        (["a", "a"], "repeats 'a'"),
        (["a", None], "text or an integer"),
        (["a", ""], "1 to 256 characters"),
        ("ab", "must be a list"),
    ],
)
def test_bad_ids_are_a_400_naming_the_problem(logged, ids, message) -> None:
    client, _ = logged
    rows = _records(http_frame(2, seed=1))
    r = client.post("/predict", json={"records": rows, "ids": ids})
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_oip_carries_ids_in_parameters(logged) -> None:
    client, _ = logged
    rec = _records(http_frame(1, seed=2))[0]
    inputs = [
        {
            "name": k,
            "datatype": "BYTES" if isinstance(v, str) or v is None else "FP64",
            "shape": [1],
            "data": [v],
        }
        for k, v in rec.items()
    ]
    r = client.post(
        "/v2/models/loans/infer",
        json={"inputs": inputs, "parameters": {"ids": ["oip-1"]}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["parameters"]["ids"] == ["oip-1"]


def test_labels_join_served_rows_and_list_the_unknown(logged) -> None:
    client, _ = logged
    frame = http_frame(60, seed=3)
    ids = [f"loan-{i}" for i in range(60)]
    answer = client.post(
        "/predict", json={"records": _records(frame), "ids": ids}
    ).json()
    y = concept(frame, 3)
    r = client.post(
        "/labels", json={"ids": [*ids, "ghost"], "labels": [*y.tolist(), 1]}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 61, "unknown": 1, "unknown_ids": ["ghost"]}
    online = client.get("/monitor").json()["online"]
    assert online["labelled_rows"] == 60
    assert online["metrics"]["accuracy"]["value"] == pytest.approx(
        accuracy_score(y, answer["labels"])
    )
    metrics = client.get("/metrics").text
    assert (
        f'featurekit_online_metric{{metric="accuracy"}} {accuracy_score(y, answer["labels"])}'
        in metrics
    )
    assert 'featurekit_labels_total{outcome="unknown_id"} 1.0' in metrics
    assert (
        "featurekit_holdout_metric{" in metrics
        and "featurekit_label_coverage" in metrics
    )


def test_labels_of_rows_served_before_a_restart_are_found_in_the_log(
    logged_artifact, tmp_path
) -> None:
    log = str(tmp_path / "log")
    frame = http_frame(20, seed=4)
    ids = [f"r{i}" for i in range(20)]
    with TestClient(create_app(logged_artifact, log={"directory": log})) as client:
        _ready(client).post("/predict", json={"records": _records(frame), "ids": ids})
    with TestClient(
        create_app(logged_artifact, log={"directory": log})
    ) as client:  # a restart
        r = _ready(client).post(
            "/labels", json={"ids": ids, "labels": concept(frame, 4).tolist()}
        )
        assert r.json()["unknown"] == 0
        assert client.get("/monitor").json()["online"]["labelled_rows"] == 20


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"ids": ["a"]}, 400, 'Send {"ids"'),
        ({"ids": ["a"], "labels": [1], "extra": 1}, 400, "Unknown fields"),
        ({"ids": ["a"], "labels": ["yes"]}, 422, "none of the model's classes"),
        ({"ids": ["a", "b"], "labels": [1]}, 422, "give one label per id"),
        ({"ids": ["a"], "labels": [None]}, 422, "is not a label"),
        ({"ids": ["a"], "labels": [1], "timestamps": ["yesterday"]}, 422, "ISO 8601"),
        ([1, 2], 400, 'Send {"ids"'),
    ],
)
def test_malformed_label_payloads_get_a_4xx_with_the_reason(
    logged, body, status, message
) -> None:
    client, log = logged
    r = client.post("/labels", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert not list((log / "labels").rglob("*.parquet"))  # nothing stored


def test_labels_without_a_log_are_a_404_that_says_how(logged_artifact) -> None:
    with TestClient(create_app(logged_artifact)) as client:
        r = _ready(client).post("/labels", json={"ids": ["a"], "labels": [1]})
    assert r.status_code == 404
    assert "--log DIR" in r.json()["error"]


def test_refused_rows_are_not_logged(logged_artifact, tmp_path) -> None:
    rows = _records(http_frame(3, seed=5))
    rows[1]["plan"] = "platinum"  # unknown="error"
    log = tmp_path / "log"
    with TestClient(create_app(logged_artifact, log={"directory": str(log)})) as client:
        r = _ready(client).post(
            "/predict?on_error=split", json={"records": rows, "ids": ["x", "y", "z"]}
        )
        assert r.json()["passed"] == [True, False, True]
    # leaving the client ran the app's shutdown, which writes the log's buffer
    logged = PredictionLog(log).predictions(columns=["row_id"])
    assert sorted(logged["row_id"].to_pylist()) == ["x", "z"]


def test_the_loop_end_to_end_catches_a_concept_shift_input_drift_cannot_see(
    logged_artifact: Path, tmp_path: Path
) -> None:
    """Serve with --log, label clean then concept-shifted traffic: decay, in its window."""
    log = tmp_path / "log"
    server = start_server(logged_artifact, tmp_path / "server.log", "--log", str(log))
    import httpx

    try:
        answers, truth = {}, {}
        for phase, flipped in ((0, False), (1, True)):
            frame = http_frame(400, seed=20 + phase)  # same input distribution
            ids = [f"p{phase}-{i}" for i in range(400)]
            for start in range(0, 400, 50):
                r = httpx.post(
                    server.url + "/predict",
                    json={
                        "records": _records(frame.iloc[start : start + 50]),
                        "ids": ids[start : start + 50],
                    },
                )
                assert r.status_code == 200, r.text
                answers.update(zip(r.json()["ids"], r.json()["labels"], strict=True))
            y = concept(frame, 20 + phase, flipped=flipped)
            truth.update(zip(ids, y.tolist(), strict=True))
        r = httpx.post(
            server.url + "/labels",
            json={"ids": list(truth), "labels": list(truth.values())},
        )
        assert r.json() == {"accepted": 800, "unknown": 0, "unknown_ids": []}
        status = httpx.get(server.url + "/monitor").json()
        online = status["online"]["metrics"]["accuracy"]["value"]
        drifted = [f for f in status.get("alerts", []) if not f.startswith("output:")]
    finally:
        # SIGTERM: a graceful shutdown, which writes the log's buffer
        assert server.stop() in (0, -signal.SIGTERM), server.log.read_text()[-2000:]
    ids = list(truth)
    expected_online = accuracy_score([truth[i] for i in ids], [answers[i] for i in ids])
    assert online == pytest.approx(expected_online)
    assert drifted == []  # the inputs did not move: input drift is silent

    report = evaluate(logged_artifact, log, window=200)
    assert report.verdict == "decay"
    windows = report.windows
    assert windows["labelled"].tolist() == [200, 200, 200, 200]
    per_window = [
        accuracy_score([truth[i] for i in part], [answers[i] for i in part])
        for part in (ids[0:200], ids[200:400], ids[400:600], ids[600:800])
    ]
    assert windows["accuracy"].tolist() == pytest.approx(per_window)
    assert not windows["worse"].iloc[:2].any() and windows["worse"].iloc[2:].all()
    assert report.decay_start == windows["start"].iloc[2]  # where phase 1 begins

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "evaluate",
            str(logged_artifact),
            str(log),
            "--window",
            "200",
            "--json",
            "--html",
            str(tmp_path / "e.html"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stderr  # decay
    got = json.loads(cli.stdout)
    assert got["decay_start"] == report.decay_start
    assert [w["accuracy"] for w in got["windows"]] == pytest.approx(per_window)
    assert "decay" in (tmp_path / "e.html").read_text()
    frame = PredictionLog(log).frame()
    assert len(frame) == 800  # everything served and labelled, ready to retrain on


def test_featurekit_serve_refuses_an_unwritable_log_directory(
    logged_artifact, tmp_path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "serve",
            str(logged_artifact),
            "--log",
            str(blocker / "log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "not writable" in r.stderr


def test_evaluate_needs_an_artifact_with_holdout_labels(
    http_artifact, tmp_path
) -> None:
    with pytest.raises(ValueError, match="holdout_y=y_test"):
        evaluate(http_artifact, tmp_path)
    assert fk.__version__
