"""Artifacts and a real server on loopback, shared by the HTTP tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# test modules import these from live_server: a conftest cannot be imported by name
from live_server import GOOD, Server, start_server  # noqa: F401
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

import featurekit as fk

# conftest modules share one name: doctest collection must not import them as tests
collect_ignore = ["conftest.py"]


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


def concept(frame: pd.DataFrame, seed: int, *, flipped: bool = False) -> np.ndarray:
    """Labels of the outcome tests: income above 36,000, with 10 % noise.

    ``flipped=True`` is a concept shift: the same inputs, the opposite relation.
    """
    rng = np.random.default_rng(seed)
    y = (frame["income"].fillna(36000) > 36000).to_numpy()
    y = np.where(rng.random(len(y)) < 0.1, ~y, y)
    return np.where(y ^ flipped, 1, 0)


@pytest.fixture(scope="session")
def logged_artifact(tmp_path_factory) -> Path:
    """A classifier exported with holdout_y: it records its holdout performance."""
    frame = http_frame(1500, seed=10)
    holdout = http_frame(600, seed=11)
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(max_iter=1000))
    pipe.fit(frame, concept(frame, 10))
    path = tmp_path_factory.mktemp("outcomes") / "loans"
    fk.export(
        pipe, path, reference=frame, holdout=holdout, holdout_y=concept(holdout, 11)
    )
    return path


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
