"""Benchmark the Open Inference Protocol over gRPC against the same server's HTTP.

Run it as ``.venv/bin/python bench/grpc_server.py``. It fits the credit model of
``bench/_credit.py`` (LogisticRegression), exports it, and starts one real
``python -m serving ARTIFACT --grpc-port N`` process on loopback, so both protocols
run over the same model, contract, monitor and worker threads. One client in this
process then sends one-row requests, one at a time (c=1), interleaved, medians over
several repeats; every request body is built once, beforehand, so the figures are the
server and the transport, not client-side encoding:

- ``grpc_raw``: a ``ModelInferRequest`` with ``raw_input_contents`` (what
  tritonclient.grpc sends), as bytes over a grpcio channel;
- ``grpc_typed``: the same with typed ``contents``;
- ``http_oip``: ``POST /v2/models/{name}/infer`` with a JSON body over a keep-alive
  ``http.client`` connection;
- ``http_predict``: ``POST /predict`` with one JSON record, the same way.

Budget: gRPC (raw) answers one-row requests at >= 0.8x the throughput of the same
request over HTTP (OIP JSON). Every variant's answer is checked against
``Predictor.predict_proba`` before timing. It always exits 0; ``--quick`` is for the
smoke test; ``--json [PATH]`` writes every number (default
``bench/results/grpc_server.json``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from _common import (
    ROOT,
    Run,
    add_json_option,
    budget,
    json_record,
    measure,
    print_budgets,
    print_timings,
    ratio,
    round_samples,
    versions,
)
from _credit import feature_set, make_frame
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from serving import Predictor
from serving.grpc import grpc_predict_v2_pb2 as pb

BUDGET_GRPC_VS_HTTP = 0.8  # budget: gRPC 1-row throughput >= 0.8x HTTP's (OIP JSON)
INFER = "/inference.GRPCInferenceService/ModelInfer"
DATATYPES = {"double": "FP64", "int64": "INT64", "string": "BYTES"}
LABELS = {
    "grpc_raw": "gRPC ModelInfer, raw_input_contents",
    "grpc_typed": "gRPC ModelInfer, typed contents",
    "http_oip": "HTTP POST /v2/models/{name}/infer (JSON)",
    "http_predict": "HTTP POST /predict (one JSON record)",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(artifact: Path, log: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """The server, with HTTP and gRPC ports; ready when /v2/health/ready says 200."""
    port, grpc_port = free_port(), free_port()
    argv = [sys.executable, "-m", "serving", str(artifact), "--port", str(port)]
    argv += ["--grpc-port", str(grpc_port), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return proc, port, grpc_port
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")


def requests(p: Predictor, record: dict[str, Any]) -> tuple[bytes, bytes, bytes, bytes]:
    """The four bodies: gRPC raw, gRPC typed, OIP JSON, /predict JSON."""
    raw = pb.ModelInferRequest(model_name=p.name)
    typed = pb.ModelInferRequest(model_name=p.name)
    oip: dict[str, Any] = {"inputs": []}
    for name, spec in p.manifest["inputs"].items():
        datatype = DATATYPES[spec["type"]]
        value = record[name]
        oip["inputs"].append(
            {"name": name, "datatype": datatype, "shape": [1], "data": [value]}
        )
        raw.inputs.add(name=name, datatype=datatype, shape=[1])
        t = typed.inputs.add(name=name, datatype=datatype, shape=[1])
        if datatype == "FP64":
            v = np.nan if value is None else value
            raw.raw_input_contents.append(np.float64(v).tobytes())
            t.contents.fp64_contents.append(v)
        elif datatype == "INT64":
            raw.raw_input_contents.append(np.int64(value).tobytes())
            t.contents.int64_contents.append(value)
        else:
            data = str(value).encode()
            raw.raw_input_contents.append(len(data).to_bytes(4, "little") + data)
            t.contents.bytes_contents.append(data)
    return (
        raw.SerializeToString(),
        typed.SerializeToString(),
        json.dumps(oip).encode(),
        json.dumps(record).encode(),
    )


def probabilities(variant: str, answer: bytes) -> np.ndarray:
    """The probabilities in one variant's answer."""
    if variant.startswith("grpc"):
        r = pb.ModelInferResponse.FromString(answer)
        k = [o.name for o in r.outputs].index("probabilities")
        if r.raw_output_contents:
            return np.frombuffer(r.raw_output_contents[k], "<f8")
        return np.array(r.outputs[k].contents.fp64_contents)
    body = json.loads(answer)
    if variant == "http_oip":
        out = next(o for o in body["outputs"] if o["name"] == "probabilities")
        return np.array(out["data"], dtype=np.float64)
    return np.array(body["probabilities"], dtype=np.float64).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    add_json_option(parser, "grpc_server")
    args = parser.parse_args()
    run = Run("grpc_server")
    repeats, block, warmup = (3, 0.05, 0.05) if args.quick else (15, 0.5, 1.0)
    frame, y = make_frame(2000, seed=0)
    pipe = fk.make_pipeline(feature_set(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(frame, y)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "credit"
        fk.export(pipe, artifact, reference=frame)
        p = Predictor.load(artifact, monitor=False)
        record = json_record(frame, 1)
        expected = p.predict_proba(record).ravel()
        proc, port, grpc_port = start(artifact, Path(tmp) / "server.log")
        try:
            results = _run(
                port,
                grpc_port,
                requests(p, record),
                expected,
                args,
                repeats,
                block,
                warmup,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    timings = results["timings"]
    vs_http = ratio(timings, "http_oip", "grpc_raw")  # HTTP time / gRPC time
    budgets = [
        budget(
            "1 row, c=1: gRPC (raw) / HTTP OIP JSON throughput",
            vs_http,
            "x",
            at_least=BUDGET_GRPC_VS_HTTP,
        )
        | {"case": "credit, LogisticRegression"}
    ]
    context = {
        "1 row: gRPC (typed contents) / HTTP OIP JSON": ratio(
            timings, "http_oip", "grpc_typed"
        ),
        "1 row: gRPC (raw) / HTTP /predict": ratio(timings, "http_predict", "grpc_raw"),
    }
    print_timings("one row per request, c=1", timings, LABELS, rows=1)
    print_budgets(budgets, context)
    round_samples(timings)
    if args.json:
        run.write(
            args.json,
            config={
                "repeats": repeats,
                "block_s": block,
                "warmup_s": warmup,
                "concurrency": 1,
                "rows": 1,
            },
            budgets=budgets,
            results={**results, "ratios": context | {"grpc_raw_vs_http_oip": vs_http}},
            versions=versions("grpcio", "uvicorn", "onnxruntime", "protobuf"),
        )


def _run(
    port: int,
    grpc_port: int,
    bodies: tuple[bytes, bytes, bytes, bytes],
    expected: np.ndarray,
    args: argparse.Namespace,
    repeats: int,
    block: float,
    warmup: float,
) -> dict[str, Any]:
    grpc_raw, grpc_typed, oip, record = bodies
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    call = channel.unary_unary(INFER)  # bytes in, bytes out
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}

    def post(path: str, body: bytes) -> Callable[[], bytes]:
        def one() -> bytes:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
            return data

        return one

    variants: dict[str, Callable[[], bytes]] = {
        "grpc_raw": lambda: call(grpc_raw, timeout=30),
        "grpc_typed": lambda: call(grpc_typed, timeout=30),
        "http_oip": post("/v2/models/credit_bench/infer", oip),
        "http_predict": post("/predict", record),
    }
    for name, fn in variants.items():  # every variant answers what Predictor does
        got = probabilities(name, fn())
        if not np.array_equal(got, expected):
            raise RuntimeError(f"{name} answered {got}, Predictor {expected}")
    try:
        timings = measure(variants, repeats=repeats, block_s=block, warmup_s=warmup)
    finally:
        conn.close()
        channel.close()
    return {
        "timings": timings,
        "bytes": {
            k: len(v)
            for k, v in zip(
                ("grpc_raw", "grpc_typed", "http_oip", "http_predict"),
                bodies,
                strict=True,
            )
        },
    }


if __name__ == "__main__":
    main()
