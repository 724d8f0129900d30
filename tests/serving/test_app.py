"""The ASGI app in-process: every endpoint, every error status, limits and metrics."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from live_server import GOOD
from starlette.testclient import TestClient

from serving import Limits, Predictor, create_app
from serving.limits import INLINE_BODY_BYTES

MODEL = "/v2/models/loans"


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


@pytest.fixture
def client(predictor: Predictor) -> TestClient:
    # a fresh app per test: metrics start at zero
    return TestClient(create_app(predictor, limits=Limits(max_rows=50)))


def tensors(records: list[dict], types: dict[str, str] | None = None) -> dict:
    types = types or {
        "income": "FP64",
        "age": "INT64",
        "plan": "BYTES",
        "region": "BYTES",
    }
    names = list(records[0])
    return {
        "inputs": [
            {
                "name": n,
                "datatype": types[n],
                "shape": [len(records)],
                "data": [r[n] for r in records],
            }
            for n in names
        ]
    }


def output(body: dict, name: str) -> list:
    return next(o for o in body["outputs"] if o["name"] == name)["data"]


# -- health and metadata ----------------------------------------------------------------
def test_live_and_ready_answer_200_once_loaded(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}


def test_server_metadata_names_featurekit(client: TestClient) -> None:
    import featurekit as fk

    assert client.get("/v2").json() == {
        "name": "featurekit",
        "version": fk.__version__,
        "extensions": ["binary_tensor_data"],
    }


def test_model_metadata_lists_inputs_and_outputs_with_oip_datatypes(
    client: TestClient, predictor: Predictor
) -> None:
    body = client.get(MODEL).json()
    assert body["name"] == "loans"
    assert body["versions"] == ["2"]
    assert body["inputs"] == [
        {"name": "income", "datatype": "FP64", "shape": [-1]},
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "plan", "datatype": "BYTES", "shape": [-1]},
        {"name": "region", "datatype": "BYTES", "shape": [-1]},
    ]
    assert body["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert body["parameters"]["sha256"] == predictor.sha256
    assert body["parameters"]["classes"] == [0, 1]
    assert client.get(MODEL + "/versions/2").json() == body


def test_model_ready_with_and_without_version(client: TestClient) -> None:
    assert client.get(MODEL + "/ready").json() == {"name": "loans", "ready": True}
    assert client.get(MODEL + "/versions/2/ready").status_code == 200


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/v2/models/other", "Unknown model 'other'; this server serves 'loans'"),
        ("/v2/models/other/ready", "Unknown model 'other'"),
        (MODEL + "/versions/3", "has no version '3'; it serves version 2"),
        (MODEL + "/versions/3/ready", "has no version '3'"),
        ("/v3/anything", "No endpoint at '/v3/anything'"),
    ],
)
def test_unknown_model_version_or_path_is_404_with_error(
    client: TestClient, path: str, match: str
) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert match in r.json()["error"]


@pytest.mark.parametrize("path", [MODEL + "/infer", "/predict"])
def test_unknown_model_on_infer_and_wrong_method_are_json_errors(
    client: TestClient, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 405
    assert "GET is not allowed" in r.json()["error"]
    r = client.post("/v2/models/nope/infer", json=tensors([GOOD]))
    assert r.status_code == 404


def test_ready_is_503_until_the_background_load_finishes(http_artifact: Path) -> None:
    gate = threading.Event()
    original = Predictor.load

    def slow_load(path, **kwargs):  # the load itself is real; only its start waits
        gate.wait(10)
        return original(path, **kwargs)

    app = create_app(http_artifact)
    Predictor.load = staticmethod(slow_load)  # type: ignore[method-assign]
    try:
        with TestClient(app) as client:
            r = client.get("/v2/health/ready")
            assert r.status_code == 503
            assert "still loading" in r.json()["error"]
            assert r.headers["retry-after"] == "1"
            assert client.get("/v2/health/live").status_code == 200
            assert client.post("/predict", json=GOOD).status_code == 503
            assert client.get(MODEL).status_code == 503
            gate.set()
            deadline = time.monotonic() + 10
            while client.get("/v2/health/ready").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert client.post("/predict", json=GOOD).status_code == 200
    finally:
        Predictor.load = original  # type: ignore[method-assign]


def test_an_artifact_that_fails_to_load_keeps_ready_503_with_the_reason(
    tmp_path: Path,
) -> None:
    with TestClient(create_app(tmp_path / "missing")) as client:
        deadline = time.monotonic() + 10
        while True:
            error = client.get("/v2/health/ready").json()["error"]
            if "ArtifactError" in error or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert "ArtifactError" in error
        assert "missing" in error


@pytest.mark.parametrize("broken", ["graph", "manifest"])
def test_an_artifact_onnxruntime_or_the_reader_chokes_on_is_never_still_loading(
    http_artifact: Path, tmp_path: Path, broken: str
) -> None:
    """A hash-consistent but unloadable artifact: ready says why, not 'loading'."""
    import hashlib
    import json
    import shutil

    path = tmp_path / "a"
    shutil.copytree(http_artifact, path)
    manifest = json.loads((path / "manifest.json").read_text())
    if broken == "graph":  # its hash rewritten to match: only onnxruntime can tell
        graph = b"\x08\x07 not a graph"
        (path / "model.onnx").write_bytes(graph)
        manifest["files"]["model.onnx"] = hashlib.sha256(graph).hexdigest()
    else:
        del manifest["inputs"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with TestClient(create_app(path)) as client:
        deadline = time.monotonic() + 10
        while True:
            r = client.get("/v2/health/ready")
            if "still loading" not in r.json()["error"] or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert r.status_code == 503
        assert "still loading" not in r.json()["error"]


# -- inference: OIP -----------------------------------------------------------------------
def test_infer_matches_the_predictor_and_echoes_the_id(
    client: TestClient, predictor: Predictor
) -> None:
    records = [GOOD, {**GOOD, "income": None, "region": None, "plan": "premium"}]
    body = {**tensors(records), "id": "req-7"}
    r = client.post(MODEL + "/infer", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == "req-7"
    assert got["model_name"] == "loans"
    assert got["model_version"] == "2"
    expected = predictor.predict_proba(records)
    probs = next(o for o in got["outputs"] if o["name"] == "probabilities")
    assert probs["shape"] == [2, 2]
    assert probs["datatype"] == "FP64"
    np.testing.assert_array_equal(np.reshape(probs["data"], (2, 2)), expected)
    assert output(got, "label") == predictor.predict(records).tolist()


def test_infer_accepts_n_by_1_shapes_flat_or_nested_and_a_version(
    client: TestClient,
) -> None:
    flat = tensors([GOOD])
    for t in flat["inputs"]:
        t["shape"] = [1, 1]
    nested = json.loads(json.dumps(flat))
    for t in nested["inputs"]:
        t["data"] = [[v] for v in t["data"]]
    a = client.post(MODEL + "/infer", json=flat).json()
    b = client.post(MODEL + "/versions/2/infer", json=nested).json()
    c = client.post(MODEL + "/infer", json=tensors([GOOD])).json()
    assert a["outputs"] == b["outputs"] == c["outputs"]


def test_infer_fp32_values_are_read_as_float32(client: TestClient, predictor) -> None:
    body = tensors([{**GOOD, "income": 52000.123}])
    body["inputs"][0]["datatype"] = "FP32"
    got = client.post(MODEL + "/infer", json=body).json()
    as_f32 = float(np.float32(52000.123))
    expected = predictor.predict_proba({**GOOD, "income": as_f32})
    assert output(got, "probabilities") == expected.ravel().tolist()


def test_infer_int32_and_bool_are_accepted_on_the_wire(client: TestClient) -> None:
    body = tensors([GOOD])
    body["inputs"][1]["datatype"] = "INT32"
    assert client.post(MODEL + "/infer", json=body).status_code == 200
    body["inputs"][1]["datatype"] = "BOOL"
    body["inputs"][1]["data"] = [True]
    r = client.post(MODEL + "/infer", json=body)
    # a well-formed BOOL tensor reaches the contract, which refuses bools for numbers
    assert r.status_code == 422
    assert r.json()["failures"][0]["column"] == "age"


def test_infer_outputs_selects_what_comes_back(client: TestClient) -> None:
    body = {**tensors([GOOD]), "outputs": [{"name": "label", "parameters": {}}]}
    got = client.post(MODEL + "/infer", json=body).json()
    assert [o["name"] for o in got["outputs"]] == ["label"]


def test_infer_ignores_unknown_parameters(client: TestClient) -> None:
    body = {
        **tensors([GOOD]),
        "parameters": {"binary_data_output": False, "whatever": 3},
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}],
    }
    assert client.post(MODEL + "/infer", json=body).status_code == 200


def test_infer_null_is_a_missing_value(client: TestClient, predictor) -> None:
    record = {**GOOD, "income": None}
    got = client.post(MODEL + "/infer", json=tensors([record])).json()
    assert (
        output(got, "probabilities") == predictor.predict_proba(record).ravel().tolist()
    )


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b.pop("inputs"), "'inputs' must be a non-empty list"),
        (lambda b: b.update(inputs={}), "'inputs' must be a non-empty list"),
        (lambda b: b["inputs"].__setitem__(0, 3), r"inputs\[0\] must be an object"),
        (lambda b: b["inputs"][0].pop("name"), "needs a string 'name'"),
        (lambda b: b["inputs"][0].update(datatype="FP16"), "datatype 'FP16'"),
        (lambda b: b["inputs"][0].update(shape=[1, 2]), r"expected \[N\] or \[N, 1\]"),
        (lambda b: b["inputs"][0].update(shape=[2]), "but 1 values"),
        (lambda b: b["inputs"][0].update(shape=-1), "has shape -1"),
        (lambda b: b["inputs"][0].pop("data"), "has no 'data'"),
        (
            lambda b: b["inputs"][0].update(data=["52000"]),
            r"FP64 but data\[0\] is a string",
        ),
        (lambda b: b["inputs"][0].update(data=[True]), "is a boolean"),
        (lambda b: b["inputs"][1].update(data=[37.5]), "INT64 but data"),
        (lambda b: b["inputs"][1].update(data=[2**63]), r"outside \["),
        (lambda b: b["inputs"][2].update(data=[7]), "BYTES but data"),
        (
            lambda b: b["inputs"][0].update(shape=[1, 1], data=[[1.0, 2.0]]),
            "one one-element list",
        ),
        (lambda b: b["inputs"][0].update(data=[[1.0]]), "must hold scalars"),
        (lambda b: b["inputs"][0].update(data=[{"a": 1}]), "must hold scalars"),
        (lambda b: b["inputs"].append(dict(b["inputs"][0])), "appears twice"),
        (lambda b: b.update(outputs=[{"name": "logits"}]), "Unknown output"),
        (lambda b: b.update(outputs="label"), "'outputs' must be a list"),
        (lambda b: b.update(id=5), "'id' must be a string"),
        (
            lambda b: b["inputs"][0].update(parameters={"binary_data_size": 8}),
            "no Inference-Header-Content-Length header",
        ),
    ],
)
def test_malformed_infer_requests_are_400_with_a_specific_message(
    client: TestClient, mutate, match: str
) -> None:
    body = tensors([GOOD])
    mutate(body)
    r = client.post(MODEL + "/infer", json=body)
    assert r.status_code == 400, r.text
    assert re.search(match, r.json()["error"]), r.json()["error"]


def test_tensors_of_different_lengths_are_400(client: TestClient) -> None:
    body = tensors([GOOD, GOOD])
    body["inputs"][1]["data"] = [37]
    body["inputs"][1]["shape"] = [1]
    r = client.post(MODEL + "/infer", json=body)
    assert r.status_code == 400
    assert "same first dimension" in r.json()["error"]


def test_a_contract_failure_is_422_with_the_failure_table(client: TestClient) -> None:
    records = [GOOD, {**GOOD, "age": 1500}, {**GOOD, "plan": "gold"}]
    r = client.post(MODEL + "/infer", json=tensors(records))
    assert r.status_code == 422
    body = r.json()
    assert body["error"].startswith("2 of 3 rows failed the contract of 'loans' v2")
    assert body["rows_refused"] == 2
    assert body["failures"] == [
        {
            "column": "age",
            "check": "in_range(18, 120)",
            "failure_case": 1500,
            "index": 1,
        },
        {
            "column": "plan",
            "check": "isin(['basic', 'plus', 'premium'])",
            "failure_case": "gold",
            "index": 2,
        },
    ]


def test_a_missing_input_tensor_is_a_contract_failure(client: TestClient) -> None:
    body = tensors([GOOD])
    body["inputs"] = body["inputs"][1:]
    r = client.post(MODEL + "/infer", json=body)
    assert r.status_code == 422
    assert r.json()["failures"][0]["check"] == "column_in_dataframe"
    assert r.json()["rows_refused"] == 1


def test_an_extra_input_tensor_is_ignored_and_counted(client: TestClient) -> None:
    body = tensors([{**GOOD, "note": "hello"}], {"note": "BYTES", **_TYPES})
    assert client.post(MODEL + "/infer", json=body).status_code == 200
    assert (
        'featurekit_extra_columns_total{column="note"}' in client.get("/metrics").text
    )


_TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}


def test_infinity_beyond_fp32_is_refused(client: TestClient) -> None:
    body = tensors([{**GOOD, "income": 1e300}])
    body["inputs"][0]["datatype"] = "FP32"
    r = client.post(MODEL + "/infer", json=body)
    assert r.status_code == 400
    assert "does not fit a float32" in r.json()["error"]


# -- the plain JSON endpoint --------------------------------------------------------------
def test_predict_takes_one_object_and_answers_labels_and_probabilities(
    client: TestClient, predictor: Predictor
) -> None:
    got = client.post("/predict", json=GOOD).json()
    assert got["model"] == {
        "name": "loans",
        "version": 2,
        "sha256": predictor.sha256,
        "outputs": ["label", "probabilities"],
    }
    assert got["classes"] == [0, 1]
    assert got["labels"] == predictor.predict(GOOD).tolist()
    assert got["probabilities"] == predictor.predict_proba(GOOD).tolist()


def test_predict_takes_records(client: TestClient, predictor: Predictor) -> None:
    records = [GOOD, {**GOOD, "region": "west", "income": None}]
    got = client.post("/predict", json={"records": records}).json()
    assert got["probabilities"] == predictor.predict_proba(records).tolist()


def test_predict_regressor_answers_predictions(regressor_artifact: Path) -> None:
    p = Predictor.load(regressor_artifact)
    client = TestClient(create_app(p))
    got = client.post("/predict", json={"records": [GOOD, GOOD]}).json()
    assert got["predictions"] == p.predict([GOOD, GOOD]).tolist()
    assert "probabilities" not in got
    meta = client.get("/v2/models/amounts").json()
    assert meta["outputs"] == [
        {"name": "prediction", "datatype": "FP64", "shape": [-1]}
    ]


def test_predict_contract_failure_is_422_and_nothing_is_scored(
    client: TestClient,
) -> None:
    r = client.post("/predict", json={"records": [GOOD, {**GOOD, "income": "52000"}]})
    assert r.status_code == 422
    assert r.json()["failures"] == [
        {
            "column": "income",
            "check": "dtype('float64')",
            "failure_case": "52000",
            "index": 1,
        }
    ]
    assert "featurekit_rows_scored_total 0.0" in client.get("/metrics").text


def test_predict_split_scores_good_rows_and_returns_the_bad_ones(
    client: TestClient, predictor: Predictor
) -> None:
    records = [GOOD, {**GOOD, "age": 7}, {**GOOD, "plan": "basic"}]
    got = client.post("/predict?on_error=split", json={"records": records}).json()
    assert got["rows"] == 3
    assert got["scored"] == 2
    assert got["passed"] == [True, False, True]
    assert (
        got["probabilities"]
        == predictor.predict_proba([records[0], records[2]]).tolist()
    )
    assert [f["index"] for f in got["failures"]] == [1]
    assert got["scored"] + len({f["index"] for f in got["failures"]}) == got["rows"]


def test_a_record_without_a_key_is_refused_in_a_batch_as_when_sent_alone(
    client: TestClient, predictor: Predictor
) -> None:
    lacking = {k: v for k, v in GOOD.items() if k != "income"}
    alone = client.post("/predict", json=lacking)
    assert alone.status_code == 422
    batch = client.post("/predict", json={"records": [GOOD, lacking]})
    assert batch.status_code == 422
    assert batch.json()["failures"] == [
        {
            "column": "income",
            "check": "column_in_dataframe",
            "failure_case": "income",
            "index": 1,
        }
    ]
    got = client.post(
        "/predict?on_error=split", json={"records": [GOOD, lacking]}
    ).json()
    assert got["passed"] == [True, False]
    assert got["probabilities"] == predictor.predict_proba([GOOD]).tolist()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([GOOD], 'Send {"records"'),
        ({"records": GOOD}, "non-list 'records'"),
        ({"records": []}, "0 rows"),
        ({"records": [GOOD, 3]}, "Record 1 is a int"),
        ("text", "got str"),
    ],
)
def test_malformed_predict_bodies_are_400(client: TestClient, body, match) -> None:
    r = client.post("/predict", json=body)
    assert r.status_code == 400
    assert match in r.json()["error"]


def test_predict_rejects_an_unknown_on_error_mode(client: TestClient) -> None:
    r = client.post("/predict?on_error=ignore", json=GOOD)
    assert r.status_code == 400
    assert "on_error must be" in r.json()["error"]


# -- bodies and limits ----------------------------------------------------------------------
@pytest.mark.parametrize("path", [MODEL + "/infer", "/predict"])
@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"{bad", "Malformed JSON"),
        (b'{"income": NaN}', "NaN and Infinity are not JSON"),
        (b"\xff\xfe", "Malformed JSON"),
        (b"", "has no body"),
        (b"[" * 5000 + b"]" * 5000, "Malformed JSON"),
    ],
)
def test_unreadable_bodies_are_400(client: TestClient, path, content, match) -> None:
    r = client.post(path, content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert match in r.json()["error"]


@pytest.mark.parametrize(
    ("ctype", "status", "match"),
    [
        ("text/plain", 415, "is not JSON"),
        ("application/octet-stream", 415, "is not JSON"),
        ("application/x-www-form-urlencoded", 415, "send application/json"),
        ("application/json; charset=utf-8", 200, None),
        ("application/vnd.api+json", 200, None),
    ],
)
def test_content_type_must_be_json(client, ctype, status, match) -> None:
    r = client.post(
        "/predict", content=json.dumps(GOOD), headers={"content-type": ctype}
    )
    assert r.status_code == status
    if match:
        assert match in r.json()["error"]


def test_body_over_the_limit_is_413(predictor: Predictor) -> None:
    client = TestClient(create_app(predictor, limits=Limits(max_body_bytes=1000)))
    r = client.post("/predict", json={"records": [GOOD] * 40})
    assert r.status_code == 413
    assert "the limit is 1000" in r.json()["error"]


def test_body_over_the_limit_without_content_length_is_413(predictor) -> None:
    client = TestClient(create_app(predictor, limits=Limits(max_body_bytes=1000)))

    def chunks():
        for _ in range(40):
            yield json.dumps(GOOD).encode()

    r = client.post("/predict", content=chunks())
    assert r.status_code == 413


def test_more_rows_than_the_limit_is_413(client: TestClient) -> None:
    r = client.post("/predict", json={"records": [GOOD] * 51})
    assert r.status_code == 413
    assert "51 rows; the limit is 50" in r.json()["error"]
    r = client.post(MODEL + "/infer", json=tensors([GOOD] * 51))
    assert r.status_code == 413


def test_inference_over_the_timeout_is_503_and_the_server_keeps_serving(
    http_artifact: Path,
) -> None:
    # a real slow call: a predictor whose scoring waits on an event (the fault of a
    # model that hangs cannot be caused for real in a unit test)
    p = Predictor.load(http_artifact)
    release = threading.Event()
    real = p.score

    def hanging(*args, **kwargs):
        release.wait(10)
        return real(*args, **kwargs)

    p.score = hanging  # type: ignore[method-assign]
    client = TestClient(create_app(p, limits=Limits(timeout=0.2)))
    # a batch over INLINE_BODY_BYTES: scored on the worker threads, so timed
    body = json.dumps({"records": [GOOD] * (INLINE_BODY_BYTES // 10)}).encode()
    assert len(body) > INLINE_BODY_BYTES
    r = client.post("/predict", content=body)
    assert r.status_code == 503
    assert "did not answer within 0.2 s" in r.json()["error"]
    release.set()
    p.score = real  # type: ignore[method-assign]
    assert client.post("/predict", json=GOOD).status_code == 200


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_rows must be a positive int"):
        Limits(max_rows=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        Limits(timeout=-1)


# -- metrics ---------------------------------------------------------------------------------
def test_metrics_count_requests_rows_failures_and_carry_the_model_identity(
    client: TestClient, predictor: Predictor
) -> None:
    client.post("/predict", json={"records": [GOOD, GOOD]})
    client.post("/predict", json={**GOOD, "age": 1500})
    client.post("/predict", json={**GOOD, "region": "mars"})
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert 'featurekit_requests_total{endpoint="/predict",status="200"} 2.0' in text
    assert 'featurekit_requests_total{endpoint="/predict",status="422"} 1.0' in text
    assert 'featurekit_requests_total{endpoint="unmatched",status="404"} 1.0' in text
    assert "featurekit_rows_scored_total 3.0" in text
    assert "featurekit_rows_refused_total 1.0" in text
    assert (
        'featurekit_contract_failures_total{check="in_range(18, 120)",column="age"} 1.0'
        in text
    )
    assert 'featurekit_request_duration_seconds_count{endpoint="/predict"} 3.0' in text
    assert (
        f'featurekit_model_info{{name="loans",sha256="{predictor.sha256}",version="2"}} 1.0'
        in text
    )
    assert 'featurekit_unseen_categories_total{column="region"}' in text


def test_metrics_content_type_is_prometheus_text(client: TestClient) -> None:
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=")


def test_one_bad_record_with_a_missing_column_refuses_one_row(
    client: TestClient,
) -> None:
    record = {k: v for k, v in GOOD.items() if k != "plan"}
    record["age"] = "old"
    r = client.post("/predict", json=record)
    assert r.status_code == 422
    body = r.json()
    assert body["rows_refused"] == 1
    assert {f["index"] for f in body["failures"]} == {0, None}
    assert "featurekit_rows_refused_total 1.0" in client.get("/metrics").text


def test_a_megabyte_failing_string_is_not_echoed_in_full(client: TestClient) -> None:
    r = client.post("/predict", json={**GOOD, "plan": "x" * 2_000_000})
    assert r.status_code == 422
    assert len(r.content) < 5_000
    (failure,) = r.json()["failures"]
    assert failure["failure_case"].endswith("(1999800 more characters)")


def test_client_chosen_column_names_cannot_grow_server_state(
    client: TestClient, predictor: Predictor
) -> None:
    for round_ in range(5):
        junk = {f"junk{round_}_{i}_" + "x" * 100: 1 for i in range(400)}
        assert client.post("/predict", json={**GOOD, **junk}).status_code == 200
    extra = predictor.tally.extra_columns
    assert len(extra) <= 101
    assert extra["(other)"] >= 1900
    assert len(client.get("/metrics").content) < 200_000


def test_model_metadata_carries_the_contract_for_client_authors(
    client: TestClient, predictor: Predictor
) -> None:
    contract = client.get(MODEL).json()["parameters"]["contract"]
    assert contract == client.get(MODEL + "/contract").json()
    props = contract["properties"]
    assert props["age"]["type"] == "integer"  # dtype="int"
    assert props["age"]["minimum"] == 18 and props["age"]["maximum"] == 120
    assert set(props["plan"]["enum"]) == {"basic", "plus", "premium"}  # unknown="error"
    assert "null" in props["income"]["type"]  # imputed: a missing value is accepted
    assert set(contract["required"]) == set(predictor.features.columns)
