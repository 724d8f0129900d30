"""``featurekit serve --workers N``: every worker's requests add up in ``/metrics``.

A real server with two worker processes on loopback; each request and each scrape
goes on a fresh connection, which the kernel hands to either worker.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import tempfile
import time
from pathlib import Path

from live_server import GOOD, Server, start_server

REQUESTS = 40


def post(server: Server, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def counted(text: str, status: int) -> float:
    line = f'featurekit_requests_total{{endpoint="/predict",status="{status}"}}'
    found = re.search(re.escape(line) + r" ([0-9.e+]+)", text)
    return float(found.group(1)) if found else 0.0


def scrape_until_counted(server: Server, n: int) -> str:
    """/metrics once it counts `n` answered requests (a worker counts a request just
    after its answer leaves, so a scrape may briefly run ahead of it)."""
    deadline = time.monotonic() + 10
    while True:
        status, text = server.get("/metrics")
        assert status == 200
        page = text.decode()
        if (counted(page, 200) == n and counted(page, 422) == 1) or (
            time.monotonic() > deadline
        ):
            assert counted(page, 200) == n, page
            return page
        time.sleep(0.05)


def test_two_workers_share_their_request_counts_and_clean_up(
    http_artifact: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    shared = set(Path(tempfile.gettempdir()).glob("featurekit-metrics-*"))
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = start_server(
        http_artifact, log, "--workers", "2", "--log-level", "warning", env=env
    )
    try:
        # both workers ready: readiness asked on fresh connections, 20 times in a row
        deadline, streak = time.monotonic() + 60, 0
        while streak < 20:
            assert time.monotonic() < deadline, "a worker never became ready"
            ok = server.get("/v2/health/ready")[0] == 200
            streak = streak + 1 if ok else 0
            time.sleep(0 if ok else 0.05)
        good = json.dumps({"records": [GOOD]}).encode()
        bad = json.dumps({**GOOD, "age": 1500}).encode()
        assert [post(server, good) for _ in range(REQUESTS)] == [200] * REQUESTS
        assert post(server, bad) == 422
        for _ in range(6):  # whichever worker answers the scrape
            page = scrape_until_counted(server, REQUESTS)
            assert counted(page, 422) == 1.0
            assert "featurekit_rows_scored_total 40.0" in page
            assert "featurekit_model_ready 1.0" in page
    finally:
        status = server.stop()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert status in (0, -signal.SIGTERM), text
    # the multiprocess directory the server made is gone with it
    assert set(Path(tempfile.gettempdir()).glob("featurekit-metrics-*")) <= shared
