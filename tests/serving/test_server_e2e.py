"""The real server on a loopback port, driven by tritonclient.http and by plain HTTP."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton
from live_server import GOOD, Server, start_server
from tritonclient.utils import InferenceServerException

from serving import Predictor

pytestmark = pytest.mark.filterwarnings(
    # tritonclient.http imports gevent, which warns about its own monkey-patching
    "ignore::DeprecationWarning:gevent.*",
    "ignore::DeprecationWarning:geventhttpclient.*",
)


def _post(server: Server, path: str, body: object) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST", path, json.dumps(body), {"Content-Type": "application/json"}
        )
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


@pytest.fixture(scope="module")
def client(server: Server):
    c = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield c
    c.close()


def _inputs(rows: list[dict], *, binary: bool = False) -> list:
    income = triton.InferInput("income", [len(rows)], "FP32")
    income.set_data_from_numpy(
        np.array([r["income"] for r in rows], dtype=np.float32), binary_data=binary
    )
    age = triton.InferInput("age", [len(rows), 1], "INT64")
    age.set_data_from_numpy(
        np.array([[r["age"]] for r in rows], dtype=np.int64), binary_data=binary
    )
    out = [income, age]
    for name in ("plan", "region"):
        t = triton.InferInput(name, [len(rows)], "BYTES")
        t.set_data_from_numpy(
            np.array([r[name].encode() for r in rows], dtype=object),
            binary_data=binary,
        )
        out.append(t)
    return out


# -- tritonclient -------------------------------------------------------------------------
def test_tritonclient_health_and_metadata(client) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("loans")
    assert client.is_model_ready("loans", "2")
    assert not client.is_model_ready("loans", "3")
    assert client.get_server_metadata()["name"] == "featurekit"
    meta = client.get_model_metadata("loans")
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("income", "FP64"),
        ("age", "INT64"),
        ("plan", "BYTES"),
        ("region", "BYTES"),
    ]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]


def test_tritonclient_infers_fp32_and_bytes_inputs(client, predictor) -> None:
    rows = [GOOD, {**GOOD, "income": 18000.25, "plan": "premium", "region": "mars"}]
    result = client.infer(
        "loans",
        _inputs(rows),
        outputs=[
            triton.InferRequestedOutput("probabilities", binary_data=False),
            triton.InferRequestedOutput("label", binary_data=False),
        ],
        request_id="e2e-1",
    )
    # FP32 on the wire: the server reads the float32 value, as Triton would
    sent = [{**r, "income": float(np.float32(r["income"]))} for r in rows]
    np.testing.assert_array_equal(
        result.as_numpy("probabilities"), predictor.predict_proba(sent)
    )
    np.testing.assert_array_equal(result.as_numpy("label"), predictor.predict(sent))
    assert result.get_response()["id"] == "e2e-1"


def test_tritonclient_defaults_send_and_receive_binary_tensors(
    client, predictor
) -> None:
    # tritonclient's defaults: binary_data=True for every input and output; a
    # missing number travels as NaN in the binary FP64 data
    rows = [
        GOOD,
        {**GOOD, "income": None, "age": 61, "plan": "premium", "region": "mars"},
        {**GOOD, "income": 18000.25, "age": 19, "plan": "basic", "region": "söuth"},
    ]
    income = triton.InferInput("income", [3], "FP64")
    income.set_data_from_numpy(
        np.array([np.nan if r["income"] is None else r["income"] for r in rows])
    )
    age = triton.InferInput("age", [3, 1], "INT64")
    age.set_data_from_numpy(np.array([[r["age"]] for r in rows], dtype=np.int64))
    inputs = [income, age]
    for name in ("plan", "region"):
        t = triton.InferInput(name, [3], "BYTES")
        t.set_data_from_numpy(np.array([r[name].encode() for r in rows], dtype=object))
        inputs.append(t)
    outputs = [
        triton.InferRequestedOutput("label"),
        triton.InferRequestedOutput("probabilities"),
    ]
    for asked in (outputs, None):  # named outputs, and all of them by default
        result = client.infer("loans", inputs, outputs=asked, request_id="bin")
        got = result.get_response()
        assert got["id"] == "bin"
        assert all("binary_data_size" in o["parameters"] for o in got["outputs"])
        np.testing.assert_array_equal(
            result.as_numpy("probabilities"), predictor.predict_proba(rows)
        )
        np.testing.assert_array_equal(result.as_numpy("label"), predictor.predict(rows))


def test_tritonclient_binary_fp32_inputs_are_read_as_float32(client, predictor) -> None:
    rows = [GOOD, {**GOOD, "income": 18000.25, "plan": "premium", "region": "mars"}]
    result = client.infer("loans", _inputs(rows, binary=True))
    sent = [{**r, "income": float(np.float32(r["income"]))} for r in rows]
    np.testing.assert_array_equal(
        result.as_numpy("probabilities"), predictor.predict_proba(sent)
    )


def test_tritonclient_contract_error_surfaces_as_the_client_exception(client) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer("loans", _inputs([{**GOOD, "age": 1500, "plan": "gold"}]))
    message = str(info.value)
    assert "1 of 1 rows failed the contract of 'loans' v2" in message
    assert "'age' in_range(18, 120) failed for 1500 (row 0)" in message
    assert "'plan' isin(['basic', 'plus', 'premium']) failed for 'gold'" in message


def test_tritonclient_binary_contract_error_names_the_missing_value(client) -> None:
    age = triton.InferInput("age", [1], "FP64")
    age.set_data_from_numpy(np.array([np.nan]))
    inputs = [t for t in _inputs([GOOD], binary=True) if t.name() != "age"] + [age]
    with pytest.raises(
        InferenceServerException,
        match=r"'age' is missing .* but not nullable \(row 0\)",
    ):
        client.infer("loans", inputs)


def test_tritonclient_unknown_model_is_an_error(client) -> None:
    with pytest.raises(InferenceServerException, match="Unknown model 'nope'"):
        client.infer("nope", _inputs([GOOD]))


# -- plain HTTP ---------------------------------------------------------------------------
def test_plain_http_predict_and_errors(server: Server, predictor: Predictor) -> None:
    status, body = _post(server, "/predict", {"records": [GOOD]})
    assert status == 200
    assert body["probabilities"] == predictor.predict_proba(GOOD).tolist()
    status, body = _post(server, "/predict", {**GOOD, "income": -5.0})
    assert status == 422
    assert body["failures"][0]["check"] == "greater_than_or_equal_to(0)"
    status, body = _post(server, "/v2/models/loans/versions/9/infer", {})
    assert status == 404


def test_concurrent_requests_are_all_answered_and_all_counted(
    server: Server, predictor: Predictor
) -> None:
    rng = np.random.default_rng(3)
    batches = [
        [{**GOOD, "income": float(x)} for x in rng.uniform(1000, 90000, k)]
        for k in rng.integers(1, 40, 64)
    ]
    before = _rows_read(server)
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda b: _post(server, "/predict", {"records": b}), batches)
        )
    for batch, (status, body) in zip(batches, answers, strict=True):
        assert status == 200
        assert body["probabilities"] == predictor.predict_proba(batch).tolist()
    # the tally behind the metrics lost no increment under concurrency
    assert _rows_read(server) - before == sum(len(b) for b in batches)


def _rows_read(server: Server) -> float:
    text = server.get("/metrics")[1].decode()
    found = re.search(r"^featurekit_rows_read_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_over_http(server: Server) -> None:
    status, text = server.get("/metrics")
    assert status == 200
    assert b"featurekit_model_info{" in text
    assert b'featurekit_requests_total{endpoint="/predict",status="200"}' in text


# -- process behaviour ----------------------------------------------------------------------
def test_a_long_request_neither_blocks_others_nor_is_cut_by_sigterm(
    http_artifact: Path, tmp_path: Path
) -> None:
    srv = start_server(http_artifact, tmp_path / "log", "--max-rows", "200000")
    big = {"records": [GOOD] * 60_000}  # about a second of work: decode, check, score
    got: dict = {}

    def send() -> None:
        got["answer"] = _post(srv, "/predict", big)

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.3)  # the body is on the wire and being read or scored
    # the event loop is free while the big batch is scored in a worker thread
    assert srv.get("/v2/health/live")[0] == 200
    assert _post(srv, "/predict", GOOD)[0] == 200
    assert "answer" not in got, "the big request finished too early to test anything"
    srv.process.send_signal(signal.SIGTERM)
    sender.join(60)
    status = srv.process.wait(30)
    assert got["answer"][0] == 200
    assert len(got["answer"][1]["labels"]) == 60_000
    assert status in (0, -signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_two_workers_serve_the_same_model(http_artifact: Path, tmp_path: Path) -> None:
    srv = start_server(http_artifact, tmp_path / "log", "--workers", "2")
    try:
        answered = 0
        deadline = time.monotonic() + 60
        while answered < 6:
            # each worker loads the model on its own and answers 503 until it has
            status, body = _post(srv, "/predict", GOOD)
            assert status in (200, 503), body
            answered += status == 200
            assert time.monotonic() < deadline, "the workers never became ready"
            if status == 503:
                time.sleep(0.1)
    finally:
        status = srv.stop()
    assert status in (0, -signal.SIGTERM)


def test_featurekit_serve_refuses_a_missing_artifact(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "featurekit", "serve", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "featurekit serve: error: No artifact at" in run.stderr
