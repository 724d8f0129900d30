"""Artifacts and a real server on loopback, shared by the HTTP tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

import featurekit as fk

HTTP_FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("income", impute="median", scale="standard", bounds=(0, None)),
        fk.Numeric("age", dtype="int", bounds=(18, 120), scale="standard"),
        fk.Categorical("plan", unknown="error"),
        fk.Categorical("region", impute="missing", unknown="ignore"),
    ],
    version=2,
)

#: One valid record of `HTTP_FEATURES`.
GOOD = {"income": 52000.0, "age": 37, "plan": "plus", "region": "north"}


def http_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.5, n).round(2),
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus", "premium"], n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    frame.loc[::9, "income"] = np.nan
    frame.loc[::13, "region"] = None
    return frame


@pytest.fixture(scope="session")
def http_train() -> tuple[pd.DataFrame, np.ndarray]:
    frame = http_frame(400, seed=0)
    score = (frame["income"].fillna(36000) > 36000) ^ (frame["plan"] == "premium")
    return frame, np.where(score, 1, 0)


@pytest.fixture(scope="session")
def http_artifact(http_train, tmp_path_factory) -> Path:
    """A classifier with int classes, float/int/categorical inputs, both unknown policies."""
    frame, y = http_train
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(max_iter=500))
    pipe.fit(frame, y)
    path = tmp_path_factory.mktemp("http") / "loans"
    fk.export(pipe, path, reference=frame)
    return path


@pytest.fixture(scope="session")
def regressor_artifact(http_train, tmp_path_factory) -> Path:
    frame, _ = http_train
    features = fk.FeatureSet("amounts", HTTP_FEATURES.features, version=1)
    target = frame["age"] * 10.0 + frame["income"].fillna(0) / 1000
    pipe = fk.make_pipeline(
        features, RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)
    )
    pipe.fit(frame, target)
    path = tmp_path_factory.mktemp("http") / "amounts"
    fk.export(pipe, path, reference=frame)
    return path


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


def start_server(artifact: Path, log: Path, *args: str) -> Server:
    """Start the real server and wait until /v2/health/ready answers 200."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "serving", str(artifact), "--port", str(port), *args],
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


@pytest.fixture(scope="module")
def server(http_artifact, tmp_path_factory) -> Iterator[Server]:
    """The real server on loopback, serving `http_artifact`, for a module's tests."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    srv = start_server(http_artifact, log, "--log-level", "warning")
    yield srv
    status = srv.stop()
    text = log.read_text()
    # a crash, a 5xx traceback or an unclean exit fails the module that caused it;
    # uvicorn re-raises SIGTERM after its graceful shutdown, hence -SIGTERM
    assert "Traceback" not in text, text
    assert status in (0, -signal.SIGTERM), text
