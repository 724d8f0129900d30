"""GET /openapi.json and /v2/models/{name}/contract: what client authors read."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from live_server import GOOD, Server
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from featurekit.contract.jsonschema import record_schema
from serving import Predictor, create_app

MODEL = "/v2/models/loans"


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


@pytest.fixture
def client(predictor: Predictor) -> TestClient:
    return TestClient(create_app(predictor))


def test_openapi_document_validates_as_openapi_3_1(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "loans"


def test_openapi_document_covers_every_client_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/predict",
        "/metrics",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        MODEL.replace("loans", "{name}"),
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/contract",
        "/v2/models/{name}/versions/{version}/contract",
    ):
        assert path in paths, path
    predict = paths["/predict"]["post"]
    assert set(predict["responses"]) == {
        "200",
        "400",
        "408",
        "413",
        "415",
        "422",
        "503",
    }


def test_openapi_record_component_is_the_contract_schema(
    client: TestClient, predictor: Predictor
) -> None:
    record = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    schema = record_schema(predictor.contract)
    assert record["properties"] == schema["properties"]
    assert record["required"] == schema["required"]


def rebased(node: Any) -> Any:
    """The document's schemas with their $refs pointing into a "$defs" of them."""
    if isinstance(node, dict):
        return {
            k: v.replace("#/components/schemas/", "#/$defs/")
            if k == "$ref"
            else rebased(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rebased(v) for v in node]
    return node


def check(doc: dict[str, Any], name: str, instance: object) -> None:
    schemas = rebased(doc["components"]["schemas"])
    jsonschema.validate(instance, {"$ref": f"#/$defs/{name}", "$defs": schemas})


def test_predict_response_schema_matches_what_predict_answers(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    check(doc, "PredictResponse", client.post("/predict", json=GOOD).json())
    split = client.post(
        "/predict?on_error=split", json={"records": [GOOD, {**GOOD, "age": 7}]}
    )
    check(doc, "PredictResponse", split.json())
    assert split.json()["scored"] == 1
    refused = client.post("/predict", json={**GOOD, "plan": "gold"})
    assert refused.status_code == 422
    check(doc, "ContractFailure", refused.json())
    check(doc, "PredictRequest", {"records": [GOOD]})
    check(doc, "Record", GOOD)


def test_infer_and_metadata_schemas_match_what_the_routes_answer(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    request = {
        "id": "r1",
        "inputs": [
            {
                "name": k,
                "datatype": "BYTES" if isinstance(v, str) else "FP64",
                "shape": [1],
                "data": [v],
            }
            for k, v in GOOD.items()
        ],
    }
    check(doc, "InferRequest", request)
    r = client.post(MODEL + "/infer", json=request)
    assert r.status_code == 200
    check(doc, "InferResponse", r.json())
    check(doc, "ModelMetadata", client.get(MODEL).json())


@pytest.mark.parametrize("path", [MODEL + "/contract", MODEL + "/versions/2/contract"])
def test_contract_route_answers_the_record_schema(
    client: TestClient, predictor: Predictor, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.json() == record_schema(predictor.contract)
    jsonschema.Draft202012Validator(r.json()).validate(GOOD)


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/v2/models/nope/contract", "Unknown model 'nope'"),
        (MODEL + "/versions/9/contract", "no version '9'"),
    ],
)
def test_contract_route_404s_an_unknown_model_or_version(
    client: TestClient, path: str, match: str
) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert match in r.json()["error"]


def test_docs_routes_answer_503_until_the_model_is_loaded() -> None:
    with TestClient(create_app("no/such/artifact")) as client:
        assert client.get("/openapi.json").status_code == 503
        assert client.get(MODEL + "/contract").status_code == 503


def test_a_client_generated_from_the_document_calls_predict(
    server: Server, predictor: Predictor, tmp_path: Path
) -> None:
    status, body = server.get("/openapi.json")
    assert status == 200
    spec = tmp_path / "openapi.json"
    spec.write_bytes(body)
    cli = Path(sys.executable).with_name("openapi-python-client")
    # its ruff post-hooks are looked up on PATH: the venv's ruff
    env = {**os.environ, "PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            cli,
            "generate",
            "--path",
            spec,
            "--output-path",
            tmp_path / "loans_client",
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("loans_client")
        predict = importlib.import_module("loans_client.api.default.predict")
        models = importlib.import_module("loans_client.models")
    finally:
        sys.path.remove(str(tmp_path))
    records = [GOOD, {**GOOD, "income": None, "region": None, "plan": "premium"}]
    with generated.Client(base_url=server.url) as api:
        batch = predict.sync(
            client=api,
            body=models.PredictRequest(
                records=[models.Record.from_dict(r) for r in records]
            ),
        )
        one = predict.sync(client=api, body=models.Record.from_dict(GOOD))
        refused = predict.sync(
            client=api, body=models.Record.from_dict({**GOOD, "age": 7})
        )
    assert isinstance(batch, models.PredictResponse)
    assert batch.labels == predictor.predict(records).tolist()
    assert batch.probabilities == predictor.predict_proba(records).tolist()
    assert one.probabilities == predictor.predict_proba([GOOD]).tolist()
    assert isinstance(refused, models.ContractFailure)
    assert refused.failures[0].column == "age"
