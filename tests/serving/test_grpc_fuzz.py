"""Fuzz the gRPC side of the real server with thousands of hostile ModelInfer messages.

A ``python -m serving ARTIFACT --grpc-port N`` process on loopback gets messages
built with featurekit's generated stubs (wrong datatypes and shapes, huge dims,
truncated or surplus raw contents, mismatched counts, bad UTF-8, NaN and infinities,
typed contents in the wrong field, unknown models, outputs and parameters), then the
same messages cut or bit-flipped as bytes, then arbitrary bytes. Every answer must be
OK or a client error (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED): never
INTERNAL, UNKNOWN or UNAVAILABLE. Afterwards the server is still ready, scores the
good record exactly as before, and counted no request as a 500. Every corpus is
deterministic: seeded `random`, and hypothesis with ``derandomize``.
"""

from __future__ import annotations

import math
import random
import signal
import struct
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from live_server import GOOD, Server, free_port, start_server

from serving.grpc import grpc_predict_v2_pb2 as pb
from serving.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

INFER = "/inference.GRPCInferenceService/ModelInfer"
TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
MAX_BODY = 65_536
MAX_ROWS = 100
#: What a hostile message may get: an answer, or a client error.
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
SENT: list[int] = []  # messages sent, over every family
BEFORE: list[bytes] = []  # the good message's answer before any fuzzing


@pytest.fixture(scope="module")
def live(http_artifact, tmp_path_factory) -> Iterator[tuple[Server, int]]:
    log = tmp_path_factory.mktemp("grpc-fuzz") / "server.log"
    port = free_port()
    srv = start_server(
        http_artifact,
        log,
        "--grpc-port",
        str(port),
        "--max-body-bytes",
        str(MAX_BODY),
        "--max-rows",
        str(MAX_ROWS),
        "--log-level",
        "warning",
    )
    yield srv, port
    status = srv.stop()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert status in (0, -signal.SIGTERM), text


@pytest.fixture(scope="module")
def send(live) -> Iterator[Callable[[bytes], tuple[grpc.StatusCode, Any]]]:
    with grpc.insecure_channel(
        f"127.0.0.1:{live[1]}",
        options=[("grpc.max_send_message_length", 4 * MAX_BODY)],
    ) as channel:
        call = channel.unary_unary(INFER)  # bytes in, bytes out: we control each one

        def one(data: bytes) -> tuple[grpc.StatusCode, Any]:
            SENT.append(1)
            try:
                return grpc.StatusCode.OK, call(data, timeout=20)
            except grpc.RpcError as exc:
                return exc.code(), exc.details()

        yield one


def raw(datatype: str, values: list[Any]) -> bytes:
    if datatype == "FP64":
        return struct.pack(f"<{len(values)}d", *values)
    if datatype == "INT64":
        return struct.pack(f"<{len(values)}q", *values)
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def good_request(records: list[dict[str, Any]] | None = None) -> pb.ModelInferRequest:
    records = records or [GOOD]
    request = pb.ModelInferRequest(model_name="loans")
    for name, datatype in TYPES.items():
        values = [r[name] for r in records]
        if datatype == "BYTES":
            values = [v.encode() for v in values]
        request.inputs.add(name=name, datatype=datatype, shape=[len(records)])
        request.raw_input_contents.append(raw(datatype, values))
    return request


def typed_request() -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="loans")
    for name, datatype in TYPES.items():
        t = request.inputs.add(name=name, datatype=datatype, shape=[1])
        if datatype == "FP64":
            t.contents.fp64_contents.append(GOOD[name])
        elif datatype == "INT64":
            t.contents.int64_contents.append(GOOD[name])
        else:
            t.contents.bytes_contents.append(GOOD[name].encode())
    return request


# -- the corpus ---------------------------------------------------------------------------
DATATYPES = ["", "FP16", "BF16", "UINT8", "INT8", "UINT64", "fp64", "FP64 ", "BOOL",
             "BYTES", "FP32", "INT32", "INT64", "FP64", "\u00e9", "x" * 10_000]  # fmt: skip
SHAPES = [[], [0], [-1], [2], [1, 2], [1, 1, 1], [2**62], [2**63 - 1], [-(2**63)],
          [2**31, 1], [1, 0], [0, 1], [MAX_ROWS + 1], [3]]  # fmt: skip
NUMBERS = [math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324]
TEXTS = [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"", b"x" * 5000,
         "\U0001f600".encode(), b"\x00featurekit:missing"]  # fmt: skip


def structural(rng: random.Random) -> list[pb.ModelInferRequest]:
    """Edits of a good message, one or two at a time."""
    edits: list[Callable[[pb.ModelInferRequest], None]] = []

    def pick(request: pb.ModelInferRequest) -> Any:
        return request.inputs[rng.randrange(len(request.inputs))]

    def put(request: pb.ModelInferRequest, k: int, data: bytes) -> None:
        """Raw contents `k` become `data` (appended, if an edit dropped them)."""
        if k < len(request.raw_input_contents):
            request.raw_input_contents[k] = data
        else:
            request.raw_input_contents.append(data)

    def datatype(r: pb.ModelInferRequest) -> None:
        pick(r).datatype = rng.choice(DATATYPES)

    def shape(r: pb.ModelInferRequest) -> None:
        t = pick(r)
        del t.shape[:]
        t.shape.extend(rng.choice(SHAPES))

    def truncate(r: pb.ModelInferRequest) -> None:
        if not r.raw_input_contents:
            return
        k = rng.randrange(len(r.raw_input_contents))
        data = r.raw_input_contents[k]
        r.raw_input_contents[k] = data[: rng.randrange(len(data) + 1)]

    def extend(r: pb.ModelInferRequest) -> None:
        if not r.raw_input_contents:
            return
        k = rng.randrange(len(r.raw_input_contents))
        r.raw_input_contents[k] += rng.randbytes(rng.choice([1, 3, 4, 8, 9, 64]))

    def drop_raw(r: pb.ModelInferRequest) -> None:
        del r.raw_input_contents[rng.randrange(len(r.raw_input_contents))]

    def add_raw(r: pb.ModelInferRequest) -> None:
        r.raw_input_contents.append(rng.randbytes(8))

    def drop_input(r: pb.ModelInferRequest) -> None:
        k = rng.randrange(len(r.inputs))
        del r.inputs[k]
        if rng.random() < 0.5:
            del r.raw_input_contents[k]

    def duplicate_input(r: pb.ModelInferRequest) -> None:
        k = rng.randrange(len(r.inputs))
        r.inputs.add().CopyFrom(r.inputs[k])
        r.raw_input_contents.append(r.raw_input_contents[k])

    def rename(r: pb.ModelInferRequest) -> None:
        pick(r).name = rng.choice(
            ["", "Income", "x" * 3000, "income ", "\u0130", "extra"]
        )

    def number(r: pb.ModelInferRequest) -> None:
        put(r, 0, struct.pack("<d", rng.choice(NUMBERS)))

    def integer(r: pb.ModelInferRequest) -> None:
        put(r, 1, struct.pack("<q", rng.choice([-(2**63), 2**63 - 1, 0, -1, 17, 121])))

    def text(r: pb.ModelInferRequest) -> None:
        k = rng.choice([2, 3])
        value = rng.choice(TEXTS)
        put(r, k, struct.pack("<I", len(value)) + value)

    def length_prefix(r: pb.ModelInferRequest) -> None:
        k = rng.choice([2, 3])
        n = rng.choice([0, 1, 3, 5, 2**31, 2**32 - 1])
        put(r, k, struct.pack("<I", n) + b"plus")

    def model(r: pb.ModelInferRequest) -> None:
        r.model_name = rng.choice(["", "credit", "LOANS", "loans/2", "x" * 2000])

    def version(r: pb.ModelInferRequest) -> None:
        r.model_version = rng.choice(["1", "3", "-1", "v2", "2 ", "x" * 500])

    def outputs(r: pb.ModelInferRequest) -> None:
        for name in rng.sample(["label", "probabilities", "nope", "", "label"], 2):
            r.outputs.add(name=name)

    def parameters(r: pb.ModelInferRequest) -> None:
        t = pick(r)
        key = rng.choice(["shared_memory_region", "binary_data_size", "x", ""])
        t.parameters[key].string_param = "region0"
        r.parameters[rng.choice(["classification", "priority", ""])].int64_param = 3

    def typed_too(r: pb.ModelInferRequest) -> None:
        pick(r).contents.fp64_contents.append(1.0)

    def rows(r: pb.ModelInferRequest) -> None:
        n = rng.choice([0, MAX_ROWS, MAX_ROWS + 1, 3000])
        fresh = good_request([GOOD] * max(n, 1))
        if n == 0:
            for t in fresh.inputs:
                t.shape[0] = 0
            fresh.ClearField("raw_input_contents")
            fresh.raw_input_contents.extend([b""] * 4)
        r.CopyFrom(fresh)

    edits = [datatype, shape, truncate, extend, drop_raw, add_raw, drop_input,
             duplicate_input, rename, number, integer, text, length_prefix, model,
             version, outputs, parameters, typed_too, rows]  # fmt: skip
    cases = []
    for _ in range(700):
        request = good_request()
        for edit in rng.sample(edits, rng.choice([1, 1, 2])):
            edit(request)
        cases.append(request)
    return cases


def typed(rng: random.Random) -> list[pb.ModelInferRequest]:
    """Typed contents: wrong fields, wrong counts, NaN and infinities, bad text."""
    fields = ["bool_contents", "int_contents", "int64_contents", "uint_contents",
              "uint64_contents", "fp32_contents", "fp64_contents", "bytes_contents"]  # fmt: skip
    cases = []
    for _ in range(200):
        request = typed_request()
        t = request.inputs[rng.randrange(4)]
        what = rng.randrange(5)
        if what == 0:
            field = rng.choice(fields)
            getattr(t.contents, field).append(b"x" if field == "bytes_contents" else 1)
        elif what == 1:
            request.inputs[0].contents.fp64_contents[0] = rng.choice(NUMBERS)
        elif what == 2:
            request.inputs[2].contents.bytes_contents[0] = rng.choice(TEXTS)
        elif what == 3:
            t.ClearField("contents")
        else:
            t.datatype = rng.choice(DATATYPES)
        cases.append(request)
    return cases


def as_bytes(rng: random.Random) -> list[bytes]:
    """Good messages cut short, bit-flipped, or with bad UTF-8 in a string field."""
    data = good_request().SerializeToString()
    cases = [data[:n] for n in rng.sample(range(len(data)), min(len(data), 120))]
    for _ in range(150):
        flipped = bytearray(data)
        for _ in range(rng.choice([1, 2, 8])):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        cases.append(bytes(flipped))
    marked = pb.ModelInferRequest(model_name="AAAA", id="BBBB")
    marked.MergeFrom(good_request())
    marked.inputs[0].name = "CCCC"
    data = marked.SerializeToString()
    for mark in (b"AAAA", b"BBBB", b"CCCC"):
        for bad in TEXTS[:3]:
            cases.append(data.replace(mark, (bad + b"AAAA")[:4]))
    return cases


def check(
    send: Callable[[bytes], tuple[grpc.StatusCode, Any]], messages: list[bytes]
) -> set[grpc.StatusCode]:
    """Send every message; fail listing each one answered otherwise than allowed."""
    wrong, seen = [], set()
    for k, data in enumerate(messages):
        code, detail = send(data)
        seen.add(code)
        if code not in ALLOWED:
            wrong.append(f"#{k} ({len(data)} bytes): {code} {str(detail)[:200]}")
    listed = "\n".join(wrong[:20])
    assert not wrong, f"{len(wrong)} of {len(messages)} wrong:\n{listed}"
    return seen


# -- the tests ----------------------------------------------------------------------------
def test_a_good_message_is_answered_before_the_fuzzing(send) -> None:
    code, answer = send(good_request().SerializeToString())
    assert code == grpc.StatusCode.OK, answer
    BEFORE.append(answer)


def test_structural_edits_get_client_errors(send) -> None:
    seen = check(send, [r.SerializeToString() for r in structural(random.Random(16))])
    assert seen == ALLOWED  # the corpus reaches every answer, not one refusal


def test_typed_contents_get_client_errors(send) -> None:
    seen = check(send, [r.SerializeToString() for r in typed(random.Random(17))])
    assert {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT} <= seen


def test_cut_and_flipped_bytes_get_client_errors(send) -> None:
    check(send, as_bytes(random.Random(18)))


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    deadline=None,
)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_get_client_errors(send, data: bytes) -> None:
    check(send, [data])


def test_the_server_is_healthy_and_unchanged_after_the_fuzzing(live, send) -> None:
    """Runs last in the module: the same answer, ready, no 500 counted."""
    assert len(SENT) >= 1000, len(SENT)
    server, port = live
    assert server.get("/v2/health/ready")[0] == 200
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
        answer = stub.ModelInfer(good_request(), timeout=10)
    assert BEFORE, "the first test records the answer before the fuzzing"
    before = pb.ModelInferResponse.FromString(BEFORE[0])
    assert answer.outputs == before.outputs  # names, datatypes, shapes
    assert answer.raw_output_contents == before.raw_output_contents  # the numbers
    _, metrics = server.get("/metrics")
    lines = [
        line
        for line in metrics.decode().splitlines()
        if line.startswith("featurekit_requests_total") and "GRPCInference" in line
    ]
    assert lines and not [line for line in lines if 'status="500"' in line], lines
