"""Reloading an artifact replaced on disk: SIGHUP or the OIP repository API."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import HTTP_FEATURES
from live_server import GOOD, start_server
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient

import featurekit as fk
from serving import create_app

TOKEN = "reload-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def second_model(http_train, tmp_path_factory) -> Path:
    """The same features, another model: what a retrain writes over the old one."""
    frame, y = http_train
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(C=0.01, max_iter=500))
    path = tmp_path_factory.mktemp("second") / "loans"
    fk.export(pipe.fit(frame, y), path, reference=frame)
    return path


def _replace(target: Path, source: Path) -> None:
    """Put `source`'s files at `target` atomically, as fk.export does."""
    from featurekit.artifact import write_atomic

    files = {
        p.name: p.read_bytes() for p in source.iterdir() if p.name != "manifest.json"
    }
    manifest = json.loads((source / "manifest.json").read_text())
    write_atomic(target, files, manifest)


def test_a_load_swaps_in_the_artifact_now_on_disk(
    http_artifact, second_model, tmp_path
):
    path = tmp_path / "loans"
    shutil.copytree(http_artifact, path)
    with TestClient(create_app(path, admin_token=TOKEN), headers=ADMIN) as client:
        while client.get("/v2/health/ready").status_code != 200:
            time.sleep(0.01)
        first = client.post("/predict", json=GOOD).headers["x-featurekit-model"]
        assert first.endswith(_sha_of_manifest(http_artifact))
        _replace(path, second_model)
        r = client.post("/v2/repository/models/loans/load")
        assert r.status_code == 200, r.text
        after = client.post("/predict", json=GOOD).headers["x-featurekit-model"]
        assert after.endswith(_sha_of_manifest(second_model)) and after != first
        (entry,) = client.post("/v2/repository/index").json()
        assert entry["state"] == "READY" and entry["sha256"] in after
        text = client.get("/metrics").text
        assert 'featurekit_model_reloads_total{outcome="ok"} 1.0' in text
        assert _sha_of_manifest(http_artifact) not in text  # only the live model


def test_a_reload_whose_golden_rows_fail_keeps_the_old_model_serving(
    http_artifact, tmp_path
):
    import onnx
    from onnx import numpy_helper

    path = tmp_path / "loans"
    shutil.copytree(http_artifact, path)
    with TestClient(create_app(path, admin_token=TOKEN), headers=ADMIN) as client:
        while client.get("/v2/health/ready").status_code != 200:
            time.sleep(0.01)
        # one request id: the row ids it makes (<id>-<row>) then match too
        same = {"X-Request-ID": "same"}
        before = client.post("/predict", json=GOOD, headers=same)
        model = onnx.load(path / "model.onnx")  # a coefficient changed, hash rewritten
        (coef,) = [
            i for i in model.graph.initializer if i.name.split("/")[-1] == "coef"
        ]
        coef.CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(coef) + 1.0, coef.name)
        )
        data = model.SerializeToString()
        (path / "model.onnx").write_bytes(data)
        manifest = json.loads((path / "manifest.json").read_text())
        manifest["files"]["model.onnx"] = hashlib.sha256(data).hexdigest()
        (path / "manifest.json").write_text(json.dumps(manifest))
        r = client.post("/v2/repository/models/loans/load")
        assert r.status_code == 409
        assert "keeps serving" in r.json()["error"]
        assert "golden" in r.json()["error"].lower()
        after = client.post("/predict", json=GOOD, headers=same)
        assert after.json() == before.json()
        assert (
            after.headers["x-featurekit-model"] == before.headers["x-featurekit-model"]
        )
        (entry,) = client.post("/v2/repository/index").json()
        assert entry["state"] == "READY" and "last reload refused" in entry["reason"]


def test_the_repository_routes_are_admin_routes(http_artifact):
    client = TestClient(create_app(http_artifact))
    assert client.post("/v2/repository/index").status_code == 403
    client = TestClient(create_app(http_artifact, admin_token=TOKEN))
    assert client.post("/v2/repository/models/loans/load").status_code == 401


def _sha_of_manifest(path: Path) -> str:
    """The model's sha256 as the artifact records it (what Predictor.sha256 is)."""
    return json.loads((path / "manifest.json").read_text())["files"]["model.onnx"]


def _post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(GOOD).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers["x-featurekit-model"]
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_sighup_swaps_the_model_with_no_failed_request(
    http_artifact, second_model, tmp_path
):
    path = tmp_path / "loans"
    shutil.copytree(http_artifact, path)
    server = start_server(path, tmp_path / "server.log")
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def traffic() -> None:  # bounded: at most 30 s or 20,000 requests
        deadline = time.monotonic() + 30
        while (
            not stop.is_set() and time.monotonic() < deadline and len(answers) < 20000
        ):
            answers.append(_post(server.url + "/predict"))

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        while len(answers) < 20:
            time.sleep(0.01)
        first = answers[-1][1]
        _replace(path, second_model)
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while answers[-1][1] == first and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # traffic on the new model too
    finally:
        stop.set()
        sender.join()
        server.stop()
    statuses = {status for status, _ in answers}
    models = [model for _, model in answers]
    assert statuses == {200}, server.log.read_text()[-2000:]
    assert models[0] == first and models[-1] != first
    assert len(set(models)) == 2
