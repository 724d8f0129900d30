"""Slow and numerous clients against the real server: header timeout, keep-alive, 503.

Each test starts ``python -m serving`` on loopback and talks to it over raw sockets, so
that it controls when every byte goes out: slowloris connections that never finish
their headers are closed within ``--header-timeout`` (plus slack for a busy host)
while a normal client is served meanwhile, and a client over ``--limit-concurrency``
gets a JSON 503 at once rather than a hang. Also with ``--workers 2``.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import GOOD, Server, start_server

HEADER_TIMEOUT = 2.0
#: what a busy two-core host may add to a timer before the close reaches the client
SLACK = 4.0
SLOW = 200


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json"]
    head += [*extra, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response read off `sock`: status, headers (lower-case), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (line.partition(":") for line in lines[1:])
    )
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def predict(server: Server) -> tuple[int, dict[str, str], bytes]:
    """A normal client: one request on a fresh connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(post("/predict", json.dumps(GOOD).encode()))
        return answer(sock)


def closed_within(socks: list[socket.socket], seconds: float) -> dict[int, float]:
    """When (seconds from now) the server closed each socket, if within `seconds`."""
    start = time.monotonic()
    with selectors.DefaultSelector() as sel:
        for i, sock in enumerate(socks):
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, i)
        closed: dict[int, float] = {}
        while len(closed) < len(socks):
            left = start + seconds - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except ConnectionError:
                    data = b""
                if not data:  # EOF or reset: the server hung up
                    closed[key.data] = time.monotonic() - start
                    sel.unregister(key.fileobj)
    return closed


def slowloris(server: Server, n: int) -> list[socket.socket]:
    """`n` connections that start a request and never finish its headers."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(sock)
    return socks


@pytest.fixture(scope="module", params=[1, 2], ids=["1 worker", "2 workers"])
def guarded(
    request: pytest.FixtureRequest,
    http_artifact: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("connections") / "server.log"
    server = start_server(
        http_artifact,
        log,
        "--workers",
        str(request.param),
        "--header-timeout",
        f"{HEADER_TIMEOUT:g}",
        "--keep-alive",
        "1",
        "--limit-concurrency",
        "500",
        "--log-level",
        "warning",
    )
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in log.read_text()


def test_slowloris_connections_are_closed_while_a_normal_client_is_served(
    guarded: Server,
) -> None:
    socks = slowloris(guarded, SLOW)
    try:
        status, _, body = predict(guarded)  # served while the slow ones hang on
        assert status == 200, body
        # one more byte of headers, which must not restart the clock
        time.sleep(HEADER_TIMEOUT / 2)
        for sock in socks:
            sock.sendall(b"a")
        closed = closed_within(socks, HEADER_TIMEOUT + SLACK)
        assert len(closed) == SLOW, (
            f"{SLOW - len(closed)} of {SLOW} connections with unfinished headers "
            f"still open {HEADER_TIMEOUT + SLACK:g} s after --header-timeout "
            f"{HEADER_TIMEOUT:g}"
        )
        status, _, body = predict(guarded)
        assert status == 200, body
    finally:
        for sock in socks:
            sock.close()


def test_a_keep_alive_connection_trickling_its_next_headers_is_closed(
    guarded: Server,
) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(post("/predict", json.dumps(GOOD).encode()))
        assert answer(sock)[0] == 200
        # a byte every half second: each one cancels uvicorn's keep-alive timer
        start = time.monotonic()
        sock.settimeout(0.5)
        closed = False
        for byte in b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: " * 10:
            if time.monotonic() - start > HEADER_TIMEOUT + SLACK:
                break
            try:
                sock.send(bytes([byte]))
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
        assert closed, "a keep-alive connection kept trickling headers past the timeout"


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_seconds(
    guarded: Server,
) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(post("/predict", json.dumps(GOOD).encode()))
        assert answer(sock)[0] == 200
        # uvicorn closes after 5 s unless --keep-alive reaches it
        assert closed_within([sock], 3.5), "idle past --keep-alive 1"


def test_a_client_over_the_concurrency_limit_gets_a_json_503_not_a_hang(
    http_artifact: Path, tmp_path: Path
) -> None:
    limit = 4
    server = start_server(
        http_artifact,
        tmp_path / "server.log",
        "--limit-concurrency",
        str(limit),
        "--header-timeout",
        "30",
        "--log-level",
        "warning",
    )
    try:
        status, _, body = predict(server)  # under the limit: served
        assert status == 200, body
        idle = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10)
            for _ in range(limit)
        ]
        time.sleep(0.5)  # the server has accepted them all
        try:
            status, headers, body = predict(server)  # the fifth connection
        finally:
            for sock in idle:
                sock.close()
        assert status == 503, body
        assert headers["retry-after"] == "1"
        assert headers["connection"] == "close"
        assert "concurrency limit (4" in json.loads(body)["error"]
        time.sleep(0.5)  # the idle ones are gone: served again
        status, _, body = predict(server)
        assert status == 200, body
    finally:
        server.stop()


def test_each_worker_answers_503_over_its_own_limit(
    http_artifact: Path, tmp_path: Path
) -> None:
    # 40 idle connections over 2 workers with a limit of 2 each: the kernel decides
    # which worker accepts each one, so a request lands on a full worker (503) or,
    # should one have taken almost none, is served; never a hang or another status
    server = start_server(
        http_artifact,
        tmp_path / "server.log",
        "--workers",
        "2",
        "--limit-concurrency",
        "2",
        "--header-timeout",
        "30",
        "--log-level",
        "warning",
    )
    try:
        idle = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10)
            for _ in range(40)
        ]
        time.sleep(0.5)
        try:
            answers = [predict(server) for _ in range(10)]
        finally:
            for sock in idle:
                sock.close()
        statuses = [status for status, _, _ in answers]
        assert set(statuses) <= {200, 503}, statuses
        assert 503 in statuses, statuses
        for status, headers, body in answers:
            if status == 503:
                assert headers["retry-after"] == "1"
                assert "concurrency limit (2" in json.loads(body)["error"]
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--header-timeout", "0"),
        ("--keep-alive", "-1"),
        ("--limit-concurrency", "0"),
    ],
)
def test_a_bad_connection_option_is_refused_at_start(
    http_artifact: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from serving.server import main

    assert main([str(http_artifact), option, value]) == 2
    assert option in capsys.readouterr().err
