"""kill -9 of a logging server: rows older than the flush interval survive, no file is corrupt.

A real ``python -m serving ARTIFACT --log DIR`` takes steady traffic from four client
threads sending their own ids, then gets SIGKILL. Every file under ``predictions/`` must
be readable by pyarrow, and every row whose answer arrived more than one flush interval
(1 s, the server's default) before the kill must be in the log, beside a small
allowance for a write that had started but not finished when the process died.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import pyarrow.parquet as pq
from live_server import GOOD, start_server

from featurekit.outcomes.reading import PredictionLog

FLUSH_S = 1.0  # the server's flush interval (LogWriter's default)
WRITE_ALLOWANCE_S = 0.5  # a flush begun before the kill may not have reached rename
CLIENTS = 4


def _client(
    port: int,
    t: int,
    stop: threading.Event,
    answered: list[tuple[float, str]],
    failures: list[str],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        k = 0
        while not stop.is_set():
            rid = f"c{t}-{k}"
            k += 1
            body = json.dumps({"records": [GOOD], "ids": [rid]})
            try:
                conn.request(
                    "POST", "/predict", body, {"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                return  # killed
            if resp.status != 200 or json.loads(payload).get("ids") != [rid]:
                failures.append(f"{rid}: {resp.status} {payload[:200]!r}")
                return
            answered.append((time.monotonic(), rid))  # list.append is atomic
    finally:
        conn.close()  # on every way out: an unclosed socket fails the run


def test_kill_9_keeps_every_row_older_than_the_flush_interval(http_artifact, tmp_path):
    directory = tmp_path / "log"
    server = start_server(
        http_artifact,
        tmp_path / "server.log",
        "--log-level",
        "warning",
        "--log",
        str(directory),
    )
    answered: list[tuple[float, str]] = []
    failures: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_client, args=(server.port, t, stop, answered, failures)
        )
        for t in range(CLIENTS)
    ]
    for th in threads:
        th.start()
    time.sleep(4 * FLUSH_S)  # several flushes under traffic
    killed_at = time.monotonic()
    os.kill(server.process.pid, signal.SIGKILL)
    assert server.process.wait(timeout=30) == -signal.SIGKILL
    stop.set()
    for th in threads:
        th.join(timeout=30)
    assert failures == []

    files = sorted((directory / "predictions").glob("date=*/hour=*/part-*.parquet"))
    logged: list[str] = []
    for f in files:  # a corrupt or half-written file would raise here
        logged += pq.read_table(f, columns=["row_id"])["row_id"].to_pylist()
        assert f.name.split("-")[2] == str(server.process.pid)  # the server wrote it
    have = set(logged)
    sent = {rid for _, rid in answered}
    old = [rid for t, rid in answered if t < killed_at - FLUSH_S - WRITE_ALLOWANCE_S]
    assert len(old) >= 100, f"only {len(old)} requests answered before the kill"
    missing = [rid for rid in old if rid not in have]
    assert missing == [], (
        f"{len(missing)} of the {len(old)} rows answered over "
        f"{FLUSH_S + WRITE_ALLOWANCE_S:g} s before kill -9 are not in the log "
        f"({len(have)} rows in {len(files)} files)"
    )
    assert len(logged) == len(have)  # no row written twice
    # rows logged but never answered: at most the requests in flight at the kill
    assert len(have - sent) <= CLIENTS

    log = PredictionLog(directory)
    assert len(log.frame(labelled=False)) == len(have)
    assert log.skipped == []
