"""The binary tensor data extension in-process: binary inputs, binary outputs, and
every malformed body refused with a 400 that says what is wrong."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_server import GOOD
from starlette.testclient import TestClient

from serving import Limits, Predictor, create_app
from serving.binary import join
from serving.oip import encode_outputs

MODEL = "/v2/models/loans"
TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
_FORMATS = {"FP64": "d", "FP32": "f", "INT64": "q", "INT32": "i", "BOOL": "?"}


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


@pytest.fixture
def client(predictor: Predictor) -> TestClient:
    return TestClient(create_app(predictor, limits=Limits(max_rows=50)))


# -- a binary body, built by hand (independent of serving.binary) -------------------------
def raw(datatype: str, values: list[Any]) -> bytes:
    """Tensor data as the extension lays it out: little-endian, BYTES length-prefixed."""
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in map(str.encode, values))
    return struct.pack(f"<{len(values)}{_FORMATS[datatype]}", *values)


def binary_tensor(name: str, datatype: str, values: list[Any]) -> tuple[dict, bytes]:
    data = raw(datatype, values)
    tensor = {
        "name": name,
        "datatype": datatype,
        "shape": [len(values)],
        "parameters": {"binary_data_size": len(data)},
    }
    return tensor, data


def send(
    client: TestClient,
    header: dict,
    data: bytes,
    *,
    length: str | None = None,
    path: str = MODEL + "/infer",
) -> Any:
    head = json.dumps(header).encode()
    return client.post(
        path,
        content=head + data,
        headers={
            "Inference-Header-Content-Length": str(len(head))
            if length is None
            else length,
            "Content-Type": "application/octet-stream",
        },
    )


def binary_request(
    records: list[dict], types: dict[str, str] = TYPES
) -> tuple[dict, bytes]:
    """Every input of `records` as binary data; None becomes NaN."""
    tensors, chunks = [], []
    for name, datatype in types.items():
        values = [r[name] for r in records]
        if datatype in ("FP64", "FP32"):
            values = [math.nan if v is None else v for v in values]
        tensor, data = binary_tensor(name, datatype, values)
        tensors.append(tensor)
        chunks.append(data)
    # one request id for both encodings: the row ids the server makes from it
    # (``<id>-<row>``, in parameters.ids) are then the same, and whole bodies compare
    return {"id": "same", "inputs": tensors}, b"".join(chunks)


def json_request(records: list[dict]) -> dict:
    return {
        "id": "same",
        "inputs": [
            {
                "name": n,
                "datatype": t,
                "shape": [len(records)],
                "data": [r[n] for r in records],
            }
            for n, t in TYPES.items()
        ]
    }


def read_binary(response: Any) -> dict:
    """The JSON header of a binary answer, each binary output's data read back."""
    n = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:n])
    at = n
    for out in header["outputs"]:
        size = out.get("parameters", {}).get("binary_data_size")
        if size is None:
            continue
        chunk = response.content[at : at + size]
        at += size
        dtype = {"FP64": "<f8", "INT64": "<i8"}[out["datatype"]]
        out["data"] = np.frombuffer(chunk, dtype=dtype).tolist()
    assert at == len(response.content)
    return header


ROWS = [
    GOOD,
    {**GOOD, "income": None, "age": 61, "plan": "premium", "region": "mars"},
    {**GOOD, "income": 18000.25, "age": 19, "plan": "basic", "region": "south"},
]


# -- binary inputs ------------------------------------------------------------------------
def test_binary_fp64_nan_is_the_same_answer_as_json_null(client: TestClient) -> None:
    record = {**GOOD, "income": None}
    header, data = binary_request([record])
    r = send(client, header, data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == client.post(MODEL + "/infer", json=json_request([record])).json()


def test_binary_int64_and_bytes_inputs_score_as_their_json(
    client: TestClient, predictor: Predictor
) -> None:
    header, data = binary_request(ROWS)
    got = send(client, header, data).json()
    assert got == client.post(MODEL + "/infer", json=json_request(ROWS)).json()
    probabilities = next(o for o in got["outputs"] if o["name"] == "probabilities")
    assert probabilities["data"] == predictor.predict_proba(ROWS).ravel().tolist()


def test_binary_and_json_inputs_mix_in_one_request(client: TestClient) -> None:
    header, data = binary_request(ROWS, {"income": "FP64", "plan": "BYTES"})
    for name in ("age", "region"):
        header["inputs"].append(
            {
                "name": name,
                "datatype": TYPES[name],
                "shape": [3],
                "data": [r[name] for r in ROWS],
            }
        )
    got = send(client, header, data)
    assert got.status_code == 200, got.text
    assert got.json() == client.post(MODEL + "/infer", json=json_request(ROWS)).json()


def test_binary_fp32_is_read_as_float32(
    client: TestClient, predictor: Predictor
) -> None:
    header, data = binary_request(ROWS, {**TYPES, "income": "FP32"})
    got = send(client, header, data).json()
    sent = [
        {**r, "income": None if r["income"] is None else float(np.float32(r["income"]))}
        for r in ROWS
    ]
    probabilities = next(o for o in got["outputs"] if o["name"] == "probabilities")
    assert probabilities["data"] == predictor.predict_proba(sent).ravel().tolist()


def test_binary_nan_where_the_contract_refuses_missing_is_the_json_null_422(
    client: TestClient,
) -> None:
    record = {**GOOD, "age": None}
    header, data = binary_request([record], {**TYPES, "age": "FP64"})
    r = send(client, header, data)
    by_json = client.post(
        MODEL + "/infer",
        json={
            "inputs": [
                {**t, "datatype": "FP64"} if t["name"] == "age" else t
                for t in json_request([record])["inputs"]
            ]
        },
    )
    assert r.status_code == by_json.status_code == 422
    assert r.json() == by_json.json()


def test_an_empty_tail_with_the_header_is_a_json_request(client: TestClient) -> None:
    r = send(client, json_request([GOOD]), b"")
    assert r.status_code == 200, r.text
    assert r.json() == client.post(MODEL + "/infer", json=json_request([GOOD])).json()


def test_the_body_limit_counts_the_binary_data(predictor: Predictor) -> None:
    client = TestClient(create_app(predictor, limits=Limits(max_body_bytes=1000)))
    header, data = binary_request([GOOD] * 40)
    assert len(json.dumps(header)) < 1000 < len(json.dumps(header)) + len(data)
    r = send(client, header, data)
    assert r.status_code == 413
    assert "the limit is 1000" in r.json()["error"]


def test_the_row_limit_counts_binary_rows(client: TestClient) -> None:
    header, data = binary_request([GOOD] * 51)  # the client's limit is 50
    r = send(client, header, data)
    assert r.status_code == 413
    assert "51 rows; the limit is 50" in r.json()["error"]


# -- binary outputs -----------------------------------------------------------------------
def test_binary_data_output_answers_every_output_binary(client: TestClient) -> None:
    header, data = binary_request(ROWS)
    r = send(client, {**header, "parameters": {"binary_data_output": True}}, data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    got = read_binary(r)
    for out in got["outputs"]:
        assert out["parameters"]["binary_data_size"] == 8 * math.prod(out["shape"])
        del out["parameters"]
    assert got == client.post(MODEL + "/infer", json=json_request(ROWS)).json()


def test_an_output_asks_for_binary_data_on_its_own(client: TestClient) -> None:
    body = {
        **json_request(ROWS),
        "parameters": {"binary_data_output": True},
        "outputs": [
            {"name": "label", "parameters": {"binary_data": False}},
            {"name": "probabilities"},
        ],
    }
    r = client.post(MODEL + "/infer", json=body)
    got = read_binary(r)
    label, probabilities = got["outputs"]
    assert "parameters" not in label and len(label["data"]) == 3
    assert probabilities["parameters"]["binary_data_size"] == 3 * 2 * 8
    body["parameters"] = {}
    body["outputs"] = [{"name": "label", "parameters": {"binary_data": True}}]
    (label,) = read_binary(client.post(MODEL + "/infer", json=body))["outputs"]
    assert label["parameters"] == {"binary_data_size": 24}


def test_outputs_stay_json_unless_asked(client: TestClient) -> None:
    header, data = binary_request([GOOD])
    r = send(client, {**header, "parameters": {"binary_data_output": False}}, data)
    assert r.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in r.headers


def test_binary_bytes_outputs_are_length_prefixed() -> None:
    out = {"outputs": encode_outputs({"label": np.array(["no", "sí"], dtype=object)})}
    body, n = join(out, {"label": np.array(["no", "sí"], dtype=object)})
    assert json.loads(body[:n])["outputs"][0] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [2],
        "parameters": {"binary_data_size": 4 + 2 + 4 + 3},
    }
    assert body[n:] == b"\x02\x00\x00\x00no\x03\x00\x00\x00s\xc3\xad"


# -- malformed binary bodies: each a 400 that names the problem ---------------------------
def _income(values: list[float], **params: Any) -> tuple[dict, bytes]:
    """A request whose income tensor is binary; the rest JSON of one row."""
    header = json_request([GOOD] * len(values))
    tensor, data = binary_tensor("income", "FP64", values)
    tensor["parameters"].update(params)
    header["inputs"][0] = tensor
    return header, data


def _plan(data: bytes, n: int = 1) -> tuple[dict, bytes]:
    """A request whose plan tensor is `data`, declared BYTES of `n` values."""
    header = json_request([GOOD] * n)
    header["inputs"][2] = {
        "name": "plan",
        "datatype": "BYTES",
        "shape": [n],
        "parameters": {"binary_data_size": len(data)},
    }
    return header, data


MALFORMED: dict[str, tuple[Any, ...]] = {
    "header length not a number": (*_income([1.0]), "x", "must be the JSON header's length"),
    "header length negative": (*_income([1.0]), "-5", "must be the JSON header's length"),
    "header length empty": (*_income([1.0]), "", "must be the JSON header's length"),
    "header length past the body": (*_income([1.0]), "100000", "the body has only"),
    "header length cuts the JSON": (*_income([1.0]), "10", "Malformed JSON"),
    "size a string": (*_income([1.0], binary_data_size="8"), None, "non-negative integer"),
    "size negative": (*_income([1.0], binary_data_size=-8), None, "non-negative integer"),
    "size a bool": (*_income([1.0], binary_data_size=True), None, "non-negative integer"),
    "size a float": (*_income([1.0], binary_data_size=8.0), None, "non-negative integer"),
    "size null": (*_income([1.0], binary_data_size=None), None, "non-negative integer"),
    "size past the body": (*_income([1.0], binary_data_size=16), None,
                           "binary_data_size 16, but only 8 bytes"),
    "sizes short of the body": (_income([1.0])[0], raw("FP64", [1.0, 2.0]), None,
                                "16 bytes after the JSON header, but the inputs' "
                                "binary_data_size add up to 8"),
    "data but no binary input": (json_request([GOOD]), b"\x00" * 4, None,
                                 "add up to 0"),
    "size not shape times 8": (*_income([1.0, 2.0], binary_data_size=12), None,
                               r"2 values of 8 bytes make 16, but its binary_data_size is 12"),
    "inf": (*_income([math.inf]), None, "finite numbers"),
    "BYTES length past its data": (*_plan(struct.pack("<I", 100) + b"plus"), None,
                                   "says it has 100 bytes, but only 4"),
    "BYTES length cut short": (*_plan(b"\x04\x00"), None, "only 2 bytes for its 4-byte"),
    "BYTES more values than the shape": (*_plan(raw("BYTES", ["plus", "x"])), None,
                                         "1 values, but 5 bytes"),
    "BYTES fewer values than the shape": (*_plan(raw("BYTES", ["plus"]), 2), None,
                                          "2 values, but its binary_data_size 8 holds 1"),
    "BYTES not UTF-8": (*_plan(struct.pack("<I", 2) + b"\xff\xfe"), None, "not UTF-8"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("header", "data", "length", "match"), MALFORMED.values(), ids=list(MALFORMED)
)
def test_malformed_binary_bodies_are_400_naming_the_problem(
    client: TestClient, header: dict, data: bytes, length: str | None, match: str
) -> None:
    r = send(client, header, data, length=length)
    assert r.status_code == 400, r.text
    assert re.search(match, r.json()["error"]), r.json()["error"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"datatype": "FP16"}, "datatype 'FP16'"),
        ({"shape": "1"}, "has shape '1'"),
        ({"shape": [-1]}, r"has shape \[-1\]"),
        ({"shape": [1, 2]}, r"expected \[N\] or \[N, 1\]"),
        ({"data": [1.0]}, "both 'data' and parameters.binary_data_size"),
    ],
)
def test_malformed_binary_tensors_are_400(client: TestClient, change, match) -> None:
    header, data = _income([1.0])
    header["inputs"][0].update(change)
    r = send(client, header, data)
    assert r.status_code == 400, r.text
    assert re.search(match, r.json()["error"]), r.json()["error"]


def test_a_bool_byte_other_than_0_or_1_is_400(client: TestClient) -> None:
    header, _ = _income([1.0])
    header["inputs"][0].update(datatype="BOOL", parameters={"binary_data_size": 1})
    r = send(client, header, b"\x02")
    assert r.status_code == 400
    assert "BOOL but byte 0 is 2; a BOOL is one byte, 0 or 1" in r.json()["error"]


def test_binary_data_size_without_the_header_is_400(client: TestClient) -> None:
    header, _ = _income([1.0])
    r = client.post(MODEL + "/infer", json=header)
    assert r.status_code == 400
    assert "no Inference-Header-Content-Length header" in r.json()["error"]


def test_the_header_on_predict_is_400(client: TestClient) -> None:
    r = client.post(
        "/predict",
        content=json.dumps(GOOD),
        headers={"Inference-Header-Content-Length": "3"},
    )
    assert r.status_code == 400
    assert "for POST /v2/models/{name}/infer only" in r.json()["error"]


def test_an_octet_stream_without_the_header_is_415_naming_it(
    client: TestClient,
) -> None:
    r = client.post(
        MODEL + "/infer",
        content=raw("FP64", [1.0]),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 415
    assert "Inference-Header-Content-Length" in r.json()["error"]
