"""The server runs the golden rows at load: readiness and metrics say how they went."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from live_server import GOOD, Server, free_port
from onnx import numpy_helper
from starlette.testclient import TestClient

from serving import create_app


def _rewrite(path: Path, name: str, data: bytes) -> None:
    """Replace a file and its sha256 in the manifest, as whoever altered it would."""
    (path / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def altered(http_artifact: Path, tmp_path: Path) -> Path:
    """The loans artifact with a coefficient changed after export."""
    path = Path(shutil.copytree(http_artifact, tmp_path / "loans"))
    model = onnx.load(path / "model.onnx")
    [coef] = [i for i in model.graph.initializer if i.name.split("/")[-1] == "coef"]
    coef.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(coef) + 1.0, coef.name))
    _rewrite(path, "model.onnx", model.SerializeToString())
    return path


@pytest.fixture
def without_golden_rows(http_artifact: Path, tmp_path: Path) -> Path:
    """The loans artifact as exported before golden rows existed."""
    path = Path(shutil.copytree(http_artifact, tmp_path / "old"))
    (path / "golden.json").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["golden.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def _settled(client: TestClient) -> tuple[int, dict]:
    """/v2/health/ready once the background load has finished, one way or the other."""
    deadline = time.monotonic() + 20
    while True:
        r = client.get("/v2/health/ready")
        body = r.json()
        if r.status_code == 200 or "still loading" not in body.get("error", ""):
            return r.status_code, body
        assert time.monotonic() < deadline, "the model never finished loading"
        time.sleep(0.01)


def _metric(text: str, name: str) -> str | None:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return m.group(1) if m else None


def test_golden_rows_that_pass_make_the_server_ready_and_say_so(http_artifact):
    with TestClient(create_app(http_artifact)) as client:
        assert _settled(client) == (200, {"ready": True})
        text = client.get("/metrics").text
    assert _metric(text, "featurekit_golden_rows_ok") == "1.0"
    assert _metric(text, "featurekit_golden_rows_failing") == "0.0"


def test_golden_rows_that_fail_keep_the_server_not_ready_with_the_reason(altered):
    with TestClient(create_app(altered)) as client:
        status, body = _settled(client)
        predict = client.post("/predict", json=GOOD)
        text = client.get("/metrics").text
    assert status == 503
    error = body["error"]
    assert error.startswith("Not ready: ArtifactError: Artifact ")
    assert "fails its golden rows on this machine" in error
    assert re.search(r"First: golden row \d+ \(", error)
    assert f"onnxruntime {ort.__version__}" in error
    assert "featurekit serve --verify warn" in error
    assert predict.status_code == 503
    assert _metric(text, "featurekit_golden_rows_ok") == "0.0"
    assert float(_metric(text, "featurekit_golden_rows_failing") or 0) > 0
    assert _metric(text, "featurekit_model_ready") == "0.0"


def test_verify_warn_serves_a_failing_artifact_and_logs_why(altered, caplog):
    with caplog.at_level(logging.WARNING, logger="featurekit.serving"):
        with TestClient(create_app(altered, verify="warn")) as client:
            assert _settled(client) == (200, {"ready": True})
            assert client.post("/predict", json=GOOD).status_code == 200
            text = client.get("/metrics").text
    assert _metric(text, "featurekit_golden_rows_ok") == "0.0"
    [record] = [r for r in caplog.records if r.name == "featurekit.serving"]
    assert "fails its golden rows" in record.getMessage()
    assert record.getMessage().endswith("Serving it anyway (--verify warn).")


@pytest.mark.parametrize("verify", ["off", "strict"])
def test_no_golden_rows_metric_when_none_ran(altered, without_golden_rows, verify):
    path = altered if verify == "off" else without_golden_rows
    with TestClient(create_app(path, verify=verify)) as client:
        assert _settled(client) == (200, {"ready": True})
        text = client.get("/metrics").text
    assert "featurekit_golden_rows_ok" not in text


def test_an_unknown_verify_mode_keeps_the_server_not_ready(http_artifact):
    with TestClient(create_app(http_artifact, verify="maybe")) as client:
        status, body = _settled(client)
    assert status == 503
    assert "verify must be one of ['strict', 'warn', 'off']" in body["error"]


def test_the_real_server_reports_failing_golden_rows_at_ready(altered, tmp_path):
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", str(altered), "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                status, body = server.get("/v2/health/ready")
            except OSError:
                status, body = 0, b""
            if status == 503 and b"golden rows" in body:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert b"fails its golden rows on this machine" in body
        metrics = server.get("/metrics")[1].decode()
        assert _metric(metrics, "featurekit_golden_rows_ok") == "0.0"
    finally:
        server.stop()
    assert "Traceback" not in log.read_text()
