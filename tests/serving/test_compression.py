"""Compressed request bodies on the real server: gzip, deflate, identity; bombs and junk.

A server on loopback with a small ``--max-body-bytes`` takes bodies from httpx and
tritonclient.http (``request_compression_algorithm``), compressed or not, and must
answer them alike; a zip bomb gets 413 without the server inflating it, a corrupt or
truncated stream 400 with the reason, an unknown coding 415.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from live_server import GOOD, Server, start_server

from serving import Predictor

pytestmark = pytest.mark.filterwarnings(
    # tritonclient.http imports gevent, which warns about its own monkey-patching
    "ignore::DeprecationWarning:gevent.*",
    "ignore::DeprecationWarning:geventhttpclient.*",
)

MAX_BODY = 65_536
INFER = "/v2/models/loans/infer"
ROWS = [GOOD, {**GOOD, "income": None, "age": 61, "plan": "basic", "region": "mars"}]


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def gzip_of_zeros(n: int) -> bytes:
    """gzip of `n` zero bytes, built without holding them."""
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    parts = []
    for start in range(0, n, 1 << 20):
        parts.append(packer.compress(bytes(min(1 << 20, n - start))))
    return b"".join([*parts, packer.flush()])


def peak_rss(server: Server) -> int:
    """The server's peak resident memory in bytes (Linux)."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")  # pragma: no cover


@pytest.fixture(scope="module")
def small(
    http_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("compression") / "server.log"
    server = start_server(
        http_artifact, log, "--max-body-bytes", str(MAX_BODY), "--log-level", "warning"
    )
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def http(small: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


def post(http: httpx.Client, body: bytes, coding: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if coding is not None:
        headers["Content-Encoding"] = coding
    return http.post("/predict", content=body, headers=headers)


PLAIN = json.dumps({"records": ROWS}).encode()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(PLAIN)),
        ("x-gzip", gzip.compress(PLAIN)),
        ("GZip", gzip.compress(PLAIN)),
        ("deflate", zlib.compress(PLAIN)),
        ("deflate", raw_deflate(PLAIN)),  # what lenient clients send as deflate
        ("identity", PLAIN),
        ("gzip, gzip", gzip.compress(gzip.compress(PLAIN))),
        ("deflate, gzip", gzip.compress(zlib.compress(PLAIN))),
        ("gzip", gzip.compress(PLAIN[:50]) + gzip.compress(PLAIN[50:])),  # 2 members
    ],
    ids=[
        "gzip",
        "x-gzip",
        "GZip",
        "deflate",
        "raw deflate",
        "identity",
        "gzip twice",
        "deflate then gzip",
        "two gzip members",
    ],
)
def test_a_compressed_predict_body_gets_the_plain_answer(
    http: httpx.Client, predictor: Predictor, coding: str, body: bytes
) -> None:
    got = post(http, body, coding)
    assert got.status_code == 200, got.text
    assert got.json()["probabilities"] == predictor.predict_proba(ROWS).tolist()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_compressed_requests_get_the_plain_answer(
    small: Server, predictor: Predictor, algorithm: str, binary: bool
) -> None:
    income = triton.InferInput("income", [2], "FP64")
    income.set_data_from_numpy(np.array([GOOD["income"], np.nan]), binary_data=True)
    age = triton.InferInput("age", [2], "INT64")
    age.set_data_from_numpy(np.array([37, 61], dtype=np.int64), binary_data=binary)
    inputs = [income, age]
    for name in ("plan", "region"):
        t = triton.InferInput(name, [2], "BYTES")
        values = np.array([r[name].encode() for r in ROWS], dtype=object)
        t.set_data_from_numpy(values, binary_data=binary)
        inputs.append(t)
    client = triton.InferenceServerClient(url=f"127.0.0.1:{small.port}")
    try:
        result = client.infer("loans", inputs, request_compression_algorithm=algorithm)
    finally:
        client.close()
    np.testing.assert_array_equal(
        result.as_numpy("probabilities"), predictor.predict_proba(ROWS)
    )


def test_a_zip_bomb_gets_413_without_being_inflated(
    http: httpx.Client, small: Server
) -> None:
    bomb = gzip_of_zeros(256 << 20)  # 256 MiB of zeros in ~250 KB: over the limit
    nested = gzip.compress(bomb)  # 256 MiB behind two layers, in ~1 KB
    assert len(nested) < MAX_BODY < len(bomb)
    before = peak_rss(small)
    for body, coding, path in (
        (nested, "gzip, gzip", "/predict"),
        (nested, "gzip, gzip", INFER),
        (gzip_of_zeros(MAX_BODY + 1), "gzip", "/predict"),  # one byte over
        (zlib.compress(bytes(MAX_BODY + 1)), "deflate", INFER),
    ):
        got = http.post(path, content=body, headers={"Content-Encoding": coding})
        assert got.status_code == 413, got.text
        assert f"inflates to over {MAX_BODY} bytes" in got.json()["error"]
    grown = peak_rss(small) - before
    assert grown < 16 << 20, f"the server's peak memory grew by {grown >> 20} MiB"
    # the compressed size counts too: a body over the limit is refused as sent
    got = post(http, bomb, "gzip")
    assert got.status_code == 413, got.text


@pytest.mark.parametrize(
    ("coding", "body", "status", "reason"),
    [
        ("gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 40, 400, "corrupt"),
        ("gzip", PLAIN, 400, "corrupt"),  # not compressed at all
        ("gzip", gzip.compress(PLAIN)[:-12], 400, "truncated"),
        ("gzip", gzip.compress(PLAIN) + b"junk!", 400, "corrupt"),
        ("deflate", zlib.compress(PLAIN)[:20], 400, "truncated"),
        ("deflate", zlib.compress(PLAIN) + b"x", 400, "after the end"),
        ("deflate", b"\x78\x9c" + b"\x00" * 10, 400, "corrupt"),
        ("br", PLAIN, 415, "'br' is not supported"),
        ("compress", PLAIN, 415, "'compress' is not supported"),
        ("gzip, zstd", PLAIN, 415, "'zstd' is not supported"),
        (", ".join(["gzip"] * 5), PLAIN, 415, "5 codings"),
        ("gzip", gzip.compress(b""), 400, "no body"),
    ],
)
def test_a_bad_compressed_body_gets_a_4xx_with_the_reason(
    http: httpx.Client, coding: str, body: bytes, status: int, reason: str
) -> None:
    for path in ("/predict", INFER):
        got = http.post(path, content=body, headers={"Content-Encoding": coding})
        assert got.status_code == status, got.text
        assert reason in got.json()["error"]
