"""A real `python -m serving` process on a loopback port, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: One valid record of the ``loans`` artifact (tests/serving/conftest.py).
GOOD = {"income": 52000.0, "age": 37, "plan": "plus", "region": "north"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `python -m serving` process on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def start_server(
    artifact: Path | str,
    log: Path,
    *args: str,
    command: tuple[str, ...] = (sys.executable, "-m", "serving"),
    env: dict[str, str] | None = None,
) -> Server:
    """Start the real server and wait until /v2/health/ready answers 200.

    `command` runs it (e.g. another venv's ``python -m featurekit serve``); `env`
    adds variables to this process's environment.
    """
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("wb") as handle:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                *command,
                str(artifact),
                "--port",
                str(port),
                *args,
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            if server.get("/v2/health/ready")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"server not ready in 60 s:\n{log.read_text()}")
