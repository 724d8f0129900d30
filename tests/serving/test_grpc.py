"""The Open Inference Protocol over gRPC, end to end, through tritonclient.grpc.

A real ``python -m serving ARTIFACT --grpc-port N`` process on loopback serves HTTP and
gRPC at once; tritonclient.grpc (raw inputs and outputs, as it always sends them) and
the stubs generated in `serving.grpc` (typed ``contents``) talk to it, and its HTTP
side gives what the same request answers over REST, to compare with.
"""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from live_server import GOOD, Server, free_port, start_server
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from serving.grpc import grpc_predict_v2_pb2 as pb
from serving.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from serving.grpc.codegen import generate
from serving.grpc.server import start
from serving.grpc.service import MAX_MESSAGE_BYTES
from serving.limits import Limits
from serving.state import AppState

TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
INFER = "/inference.GRPCInferenceService/ModelInfer"
REST_INFER = "/v2/models/{name}/infer"


@pytest.fixture(scope="module")
def live(http_artifact, tmp_path_factory) -> Iterator[tuple[Server, int]]:
    """One server process: HTTP on ``server.port``, gRPC on the int beside it."""
    log = tmp_path_factory.mktemp("grpc") / "server.log"
    port = free_port()
    srv = start_server(
        http_artifact, log, "--grpc-port", str(port), "--log-level", "warning"
    )
    yield srv, port
    status = srv.stop()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert status in (0, -signal.SIGTERM), text


@pytest.fixture(scope="module")
def client(live) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(f"127.0.0.1:{live[1]}") as c:
        yield c


@pytest.fixture(scope="module")
def stub(live) -> Iterator[pb_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{live[1]}") as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def triton_inputs(records: list[dict[str, Any]]) -> list[triton.InferInput]:
    """One tensor per column; None is NaN for FP64 (binary data has no null)."""
    inputs = []
    for name, datatype in TYPES.items():
        values = [r.get(name) for r in records]
        if datatype == "FP64":
            arr = np.array([math.nan if v is None else v for v in values], "float64")
        elif datatype == "INT64":
            arr = np.array(values, dtype="int64")
        else:
            arr = np.array([v.encode() for v in values], dtype=np.object_)
        tensor = triton.InferInput(name, [len(records)], datatype)
        tensor.set_data_from_numpy(arr)
        inputs.append(tensor)
    return inputs


def rest(server: Server, path: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        server.url + path,
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def rest_infer(server: Server, records: list[dict[str, Any]]) -> tuple[int, Any]:
    inputs = [
        {
            "name": name,
            "datatype": datatype,
            "shape": [len(records)],
            "data": [r.get(name) for r in records],
        }
        for name, datatype in TYPES.items()
    ]
    return rest(server, "/v2/models/loans/infer", {"inputs": inputs})


def rest_outputs(body: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.array(o["data"]).reshape(o["shape"]) for o in body["outputs"]}


def code_of(exc: InferenceServerException) -> str:
    return str(exc.status())


# -- health and metadata ----------------------------------------------------------------
def test_liveness_and_readiness(client) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("loans")
    assert client.is_model_ready("loans", "2")


def test_server_metadata_names_featurekit(client) -> None:
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "featurekit"


def test_model_metadata_is_what_rest_says(live, client) -> None:
    meta = client.get_model_metadata("loans", as_json=True)
    status, body = live[0].get("/v2/models/loans")
    expected = json.loads(body)
    assert status == 200
    assert meta["name"] == "loans" and meta["versions"] == ["2"]
    for key in ("inputs", "outputs"):
        assert [
            (t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in meta[key]
        ] == [(t["name"], t["datatype"], t["shape"]) for t in expected[key]]
    assert [t["datatype"] for t in meta["inputs"]] == [
        "FP64",
        "INT64",
        "BYTES",
        "BYTES",
    ]


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("is_model_ready", ("credit",)),
        ("is_model_ready", ("loans", "7")),
        ("get_model_metadata", ("credit",)),
        ("get_model_metadata", ("loans", "7")),
    ],
)
def test_an_unknown_model_or_version_is_not_found(client, call, args) -> None:
    with pytest.raises(InferenceServerException) as info:
        getattr(client, call)(*args)
    assert code_of(info.value) == "StatusCode.NOT_FOUND"


def test_infer_on_an_unknown_model_is_not_found(client) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer("credit", triton_inputs([GOOD]))
    assert code_of(info.value) == "StatusCode.NOT_FOUND"
    assert "Unknown model 'credit'" in info.value.message()


# -- inference ----------------------------------------------------------------------------
def test_infer_with_bytes_and_fp64_inputs_answers_as_rest(live, client) -> None:
    records = [GOOD, {**GOOD, "income": 18000.5, "plan": "premium", "region": "east"}]
    result = client.infer("loans", triton_inputs(records), request_id="r1")
    status, body = rest_infer(live[0], records)
    assert status == 200
    expected = rest_outputs(body)
    assert result.get_response().id == "r1"
    # the rows are named for labels as over REST: <request id>-<row>
    assert result.get_response().parameters["ids"].string_param == "r1-0,r1-1"
    assert result.get_response().model_version == "2"
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 2)
    np.testing.assert_array_equal(probabilities, expected["probabilities"])
    np.testing.assert_array_equal(result.as_numpy("label"), expected["label"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_a_nan_is_a_missing_value_where_the_contract_allows_one(live, client) -> None:
    """income is imputed: NaN over gRPC answers as null does over REST."""
    record = {**GOOD, "income": None}
    result = client.infer("loans", triton_inputs([record]))
    status, body = rest_infer(live[0], [record])
    assert status == 200
    np.testing.assert_array_equal(
        result.as_numpy("probabilities"), rest_outputs(body)["probabilities"]
    )
    # and it is not what the median (or any other stand-in) answers by accident
    other = client.infer("loans", triton_inputs([{**GOOD, "income": 1.0e6}]))
    assert not np.array_equal(
        other.as_numpy("probabilities"), result.as_numpy("probabilities")
    )


def test_requested_outputs_are_the_only_ones_returned(client) -> None:
    result = client.infer(
        "loans",
        triton_inputs([GOOD]),
        outputs=[triton.InferRequestedOutput("label")],
    )
    assert [o.name for o in result.get_response().outputs] == ["label"]


@pytest.mark.parametrize(
    ("change", "column", "row_text"),
    [
        ({"age": 7}, "age", "age | in_range(18, 120) | 0 | 7"),
        ({"plan": "gold"}, "plan", "plan | isin"),
    ],
)
def test_a_contract_failure_is_invalid_argument_with_the_failure_table(
    live, client, change, column, row_text
) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer("loans", triton_inputs([{**GOOD, **change}]))
    assert code_of(info.value) == "StatusCode.INVALID_ARGUMENT"
    message = info.value.message()
    status, body = rest_infer(live[0], [{**GOOD, **change}])
    assert status == 422
    assert message.startswith(body["error"])  # REST's 422 message, then the table
    assert "column | check | row | value" in message
    assert row_text in message
    assert column in message


def test_a_missing_value_the_contract_refuses_names_the_column(client) -> None:
    """age is an int without impute: NaN cannot be sent as INT64, so send FP64."""
    inputs = triton_inputs([GOOD])
    age = triton.InferInput("age", [1], "FP64")
    age.set_data_from_numpy(np.array([math.nan]))
    inputs[1] = age
    with pytest.raises(InferenceServerException) as info:
        client.infer("loans", inputs)
    assert code_of(info.value) == "StatusCode.INVALID_ARGUMENT"
    assert "'age' is missing" in info.value.message()


def test_a_huge_failure_table_stays_a_bounded_invalid_argument(client) -> None:
    """The message travels in trailers, which clients cap at 8 KiB: it is bounded."""
    records = [{**GOOD, "plan": "x" * 150 + str(i), "age": 3} for i in range(400)]
    with pytest.raises(InferenceServerException) as info:
        client.infer("loans", triton_inputs(records))
    assert code_of(info.value) == "StatusCode.INVALID_ARGUMENT"
    assert len(info.value.message().encode()) <= MAX_MESSAGE_BYTES
    assert "400 of 400 rows failed" in info.value.message()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda r: r.inputs[0].__setattr__("datatype", "FP16"), "datatype 'FP16'"),
        (lambda r: r.raw_input_contents.pop(), "4 inputs but 3 raw_input_contents"),
        (lambda r: r.inputs[0].shape.__setitem__(0, 3), "3 values of 8 bytes"),
        (
            lambda r: r.raw_input_contents.__setitem__(2, b"\x02\x00\x00\x00\xff\xfe"),
            "not UTF-8",
        ),
        (
            lambda r: r.inputs[0].contents.fp64_contents.append(1.0),
            "has contents, but the request has raw_input_contents",
        ),
    ],
    ids=["datatype", "count", "shape", "utf8", "both"],
)
def test_a_malformed_request_is_invalid_argument(stub, edit, match) -> None:
    request = raw_request([GOOD])
    edit(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert match in info.value.details()


def test_bytes_that_are_no_message_are_invalid_argument(live) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{live[1]}") as channel:
        send = channel.unary_unary(INFER)  # no serializer: the bytes go as they are
        with pytest.raises(grpc.RpcError) as info:
            send(b"\x0a\xff\xff\xff\xff\x0f", timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid inference.ModelInferRequest" in info.value.details()


def raw_request(records: list[dict[str, Any]]) -> pb.ModelInferRequest:
    """What tritonclient sends, built with featurekit's own stubs."""
    request = pb.ModelInferRequest(model_name="loans")
    for tensor in triton_inputs(records):
        wire = tensor._get_tensor()
        request.inputs.add(name=wire.name, datatype=wire.datatype, shape=wire.shape)
        request.raw_input_contents.append(tensor._get_content())
    return request


def typed_request(records: list[dict[str, Any]]) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="loans", id="typed")
    for name, datatype in TYPES.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[len(records)])
        values = [r[name] for r in records]
        if datatype == "FP64":
            tensor.contents.fp64_contents.extend(
                math.nan if v is None else v for v in values
            )
        elif datatype == "INT64":
            tensor.contents.int64_contents.extend(values)
        else:
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
    return request


def test_typed_contents_answer_typed_contents_equal_to_raw(stub) -> None:
    records = [GOOD, {**GOOD, "income": None, "region": "south"}]
    typed = stub.ModelInfer(typed_request(records), timeout=10)
    raw = stub.ModelInfer(raw_request(records), timeout=10)
    assert typed.id == "typed"
    assert not typed.raw_output_contents and len(raw.raw_output_contents) == 2
    names = [o.name for o in raw.outputs]
    assert [o.name for o in typed.outputs] == names
    probabilities = typed.outputs[names.index("probabilities")]
    np.testing.assert_array_equal(
        np.array(probabilities.contents.fp64_contents),
        np.frombuffer(raw.raw_output_contents[names.index("probabilities")], "<f8"),
    )


def test_typed_contents_in_the_wrong_field_are_invalid_argument(stub) -> None:
    request = typed_request([GOOD])
    request.inputs[0].contents.ClearField("fp64_contents")
    request.inputs[0].contents.int64_contents.append(52000)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "contents.fp64_contents; got int64_contents" in info.value.details()


# -- metrics ------------------------------------------------------------------------------
def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, text = server.get("/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.name.endswith(("_created", "_bucket", "_sum"))
    }


def delta(before: dict, after: dict) -> dict:
    return {
        k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)
    }


def by_endpoint(changes: dict, endpoint: str) -> dict:
    """Request counts and latency observations of one endpoint, its label dropped."""
    out = {}
    for (name, labels), v in changes.items():
        named = dict(labels)
        if named.get("endpoint") == endpoint:
            del named["endpoint"]
            out[name, tuple(sorted(named.items()))] = v
    return out


def test_metrics_after_grpc_requests_equal_those_of_the_same_http_requests(
    live, client
) -> None:
    server = live[0]
    good = [GOOD, {**GOOD, "income": None, "plan": "basic"}, {**GOOD, "age": 90}]
    bad = [{**GOOD, "age": 7}, {**GOOD, "plan": "gold", "extra": "x"}]

    def over_http() -> None:
        assert rest_infer(server, good)[0] == 200
        assert rest_infer(server, [bad[0]])[0] == 422
        assert rest_infer(server, bad[:1] + good[:1])[0] == 422

    def over_grpc() -> None:
        client.infer("loans", triton_inputs(good))
        for records in ([bad[0]], bad[:1] + good[:1]):
            with pytest.raises(InferenceServerException):
                client.infer("loans", triton_inputs(records))

    start = scrape(server)
    over_http()
    middle = scrape(server)
    over_grpc()
    end = scrape(server)
    http, rpc = delta(start, middle), delta(middle, end)
    # rows scored and refused, contract failures, rows read, drift window: all equal
    shared = {k for k in http if "endpoint" not in dict(k[1])}
    assert {k: http[k] for k in shared} == {
        k: v for k, v in rpc.items() if "endpoint" not in dict(k[1])
    }
    assert ("featurekit_rows_scored_total", ()) in shared
    assert ("featurekit_monitor_window_rows", ()) in shared
    # the requests: counted alike, with REST's status, under the gRPC method's path
    assert by_endpoint(http, REST_INFER) == by_endpoint(rpc, INFER)
    assert (
        by_endpoint(rpc, INFER)["featurekit_requests_total", (("status", "422"),)] == 2
    )


# -- serving it ---------------------------------------------------------------------------
def test_not_loaded_is_unavailable_and_not_ready() -> None:
    """A state with no model yet (still loading): gRPC on loopback, a real client."""
    server = start(AppState(Limits()), 0)
    try:
        with triton.InferenceServerClient(f"127.0.0.1:{server.port}") as c:
            assert c.is_server_live()
            assert not c.is_server_ready()
            assert not c.is_model_ready("loans")
            with pytest.raises(InferenceServerException) as info:
                c.infer("loans", triton_inputs([GOOD]))
            assert code_of(info.value) == "StatusCode.UNAVAILABLE"
            assert "still loading" in info.value.message()
    finally:
        server.stop()


def test_a_message_over_max_body_bytes_is_refused(http_artifact, tmp_path) -> None:
    port = free_port()
    srv = start_server(
        http_artifact,
        tmp_path / "log",
        "--grpc-port",
        str(port),
        "--max-body-bytes",
        "4096",
        "--max-rows",
        "50",
    )
    try:
        with triton.InferenceServerClient(f"127.0.0.1:{port}") as c:
            with pytest.raises(InferenceServerException) as info:
                c.infer("loans", triton_inputs([GOOD] * 200))
            assert code_of(info.value) == "StatusCode.RESOURCE_EXHAUSTED"
            with pytest.raises(InferenceServerException) as info:
                c.infer("loans", triton_inputs([GOOD] * 51))
            assert code_of(info.value) == "StatusCode.RESOURCE_EXHAUSTED"
            assert "51 rows; the limit is 50" in info.value.message()
            assert c.infer("loans", triton_inputs([GOOD] * 50)).as_numpy(
                "label"
            ).shape == (50,)
    finally:
        assert srv.stop() in (0, -signal.SIGTERM)


def featurekit_serve(*args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from featurekit.cli import main; sys.exit(main())",
        "serve",
        *args,
    ]


def test_featurekit_serve_stops_grpc_cleanly_on_sigterm(
    http_artifact, tmp_path
) -> None:
    port, grpc_port = free_port(), free_port()
    log = tmp_path / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            featurekit_serve(
                str(http_artifact), "--port", str(port), "--grpc-port", str(grpc_port)
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with triton.InferenceServerClient(f"127.0.0.1:{grpc_port}") as c:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if c.is_server_ready():
                        break
                except InferenceServerException:
                    pass
                time.sleep(0.1)
            assert c.infer("loans", triton_inputs([GOOD])).as_numpy("label").shape == (
                1,
            )
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
    text = log.read_text()
    assert status in (0, -signal.SIGTERM), text
    assert "Traceback" not in text, text
    with pytest.raises(ConnectionRefusedError):  # the gRPC port is closed
        socket.create_connection(("127.0.0.1", grpc_port), timeout=2).close()


def test_grpc_port_without_grpcio_names_the_extra(http_artifact) -> None:
    code = (
        "import sys; sys.modules['grpc'] = None\n"
        "import serving, serving.grpc\n"  # serving imports without grpcio
        "from serving.server import main\n"
        f"sys.exit(main([{str(http_artifact)!r}, '--grpc-port', '0']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert b"pip install 'featurekit[grpc]'" in r.stderr


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--workers", "2"], b"single server process"),
        (["--port", "PORT"], b"is also the HTTP --port"),
        (["--grpc-port", "70000"], b"[0, 65535]"),
    ],
)
def test_bad_grpc_options_are_refused_before_starting(http_artifact, args, match):
    port = free_port()
    args = [str(port) if a == "PORT" else a for a in args]
    argv = [str(http_artifact), "--grpc-port", str(port), *args]
    r = subprocess.run(
        [sys.executable, "-m", "serving", *argv], capture_output=True, timeout=60
    )
    assert r.returncode == 2, r.stderr
    assert match in r.stderr


def test_a_grpc_port_in_use_is_refused_before_starting(http_artifact) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "serving",
                str(http_artifact),
                "--grpc-port",
                str(port),
            ],
            capture_output=True,
            timeout=60,
        )
    assert r.returncode == 2, r.stderr
    assert f"--grpc-port {port}: cannot listen".encode() in r.stderr


def test_the_generated_modules_match_the_proto(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[2] / "serving" / "grpc"
    for path in generate(tmp_path):
        assert path.read_bytes() == (shipped / path.name).read_bytes(), (
            f"{path.name} differs from the .proto's code: python -m serving.grpc.codegen"
        )


def test_tritonclient_and_featurekit_stubs_share_one_process() -> None:
    """Both register inference.* messages; featurekit's live in a pool of their own."""
    from tritonclient.grpc import service_pb2

    ours = pb.ModelInferRequest(model_name="loans", raw_input_contents=[b"x"])
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.model_name == "loans" and list(theirs.raw_input_contents) == [b"x"]


def test_every_answer_names_the_model_that_gave_it(live, stub) -> None:
    """As X-Featurekit-Model over HTTP: name/version/sha256, in the trailers."""
    _, call = stub.ModelInfer.with_call(raw_request([GOOD]), timeout=10)
    trailers = dict(call.trailing_metadata())
    _, body = live[0].get("/v2/models/loans")
    sha256 = json.loads(body)["parameters"]["sha256"]
    assert trailers["x-featurekit-model"] == f"loans/2/{sha256}"
    with pytest.raises(grpc.RpcError) as info:  # a refusal names it too
        stub.ModelInfer(typed_request([{**GOOD, "age": 7}]), timeout=10)
    assert dict(info.value.trailing_metadata())["x-featurekit-model"].startswith(
        "loans/2/"
    )
