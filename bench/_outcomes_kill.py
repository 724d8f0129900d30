"""Part 4 of ``bench/outcomes.py``: kill -9 of a logging server under traffic.

``featurekit serve --log DIR`` takes one-row requests with their own ids from four
client threads, then gets SIGKILL; every file of the log is read back with pyarrow and
its ids compared with the answers the clients received
(``tests/serving/test_log_durability.py`` asserts the same).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import json_record
from _outcomes_scale import make_credit
from http_server import start

FLUSH_S = 1.0  # the server's flush interval (LogWriter's default)


def durability(artifact: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL a logging server under traffic; what is in the log afterwards."""
    import http.client

    import pyarrow.parquet as pq

    directory = tmp / "kill-log"
    cmd = [sys.executable, "-m", "serving", str(artifact), "--host", "127.0.0.1"]
    cmd += ["--port", "{port}", "--log-level", "warning", "--log", str(directory)]
    server = start("kill", cmd, "/v2/health/ready", tmp)
    record = json_record(make_credit(10, seed=4)[0], 0)
    answered: list[tuple[float, str]] = []  # (monotonic time of the answer, id)
    stop = threading.Event()

    def client(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        k = 0
        while not stop.is_set():
            rid = f"c{t}-{k}"
            k += 1
            body = json.dumps({"records": [record], "ids": [rid]})
            try:
                conn.request(
                    "POST", "/predict", body, {"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            if resp.status == 200 and json.loads(payload).get("ids") == [rid]:
                answered.append((time.monotonic(), rid))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    time.sleep(args.kill_after)
    killed_at = time.monotonic()
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    stop.set()
    for th in threads:
        th.join(timeout=30)
    present: list[str] = []
    unreadable: list[str] = []
    pids = set()
    files = sorted((directory / "predictions").glob("date=*/hour=*/part-*.parquet"))
    for f in files:
        pids.add(f.name.split("-")[2])
        try:
            present += pq.read_table(f, columns=["row_id"])["row_id"].to_pylist()
        except Exception as exc:  # anything unreadable is the finding
            unreadable.append(f"{f.name}: {type(exc).__name__}")
    hidden = [str(p.name) for p in (directory / "predictions").rglob(".*")]
    have = set(present)
    old = [(t, i) for t, i in answered if t < killed_at - FLUSH_S]
    recent = [(t, i) for t, i in answered if t >= killed_at - FLUSH_S]
    missing_old = [(t, i) for t, i in old if i not in have]
    missing_recent = [(t, i) for t, i in recent if i not in have]
    out = {
        "flush_s": FLUSH_S,
        "kill_after_s": args.kill_after,
        "answered": len(answered),
        "answered_before_flush_interval": len(old),
        "present_of_those": len(old) - len(missing_old),
        "missing_of_those": len(missing_old),
        "answered_in_last_interval": len(recent),
        "missing_of_last_interval": len(missing_recent),
        "oldest_missing_age_s": (
            killed_at - min(t for t, _ in missing_old + missing_recent)
            if missing_old or missing_recent
            else None
        ),
        "rows_in_log": len(present),
        "duplicate_rows": len(present) - len(have),
        "files": len(files),
        "unreadable_files": unreadable,
        "hidden_temporary_files": hidden,
        "writer_pid_is_server": pids == {str(server.proc.pid)},
        "not_answered_but_logged": len(have - {i for _, i in answered}),
    }
    print(
        f"    {len(answered):,} answered in {args.kill_after:g} s, then SIGKILL: "
        f"{out['present_of_those']:,} of the {len(old):,} answered over {FLUSH_S:g} s "
        f"before the kill are in the log ({len(missing_old)} missing), "
        f"{len(recent) - len(missing_recent):,} of the {len(recent):,} of the last "
        f"second; {len(files)} files, {len(unreadable)} unreadable, "
        f"{len(hidden)} temporary left"
    )
    return out
