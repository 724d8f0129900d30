"""Artifacts and data shared by the `featurekit check` and `featurekit.testing` tests."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

import featurekit as fk

# conftest modules share one name: doctest collection must not import them as tests
collect_ignore = ["conftest.py"]


CHECK_FEATURES = fk.FeatureSet(
    "credit",
    [
        fk.Numeric("x", impute="mean", scale="standard", bounds=(-10, 10)),
        fk.Numeric("k", dtype="int", clip=(0, 10), scale="minmax"),
        fk.Categorical("c", impute="most_frequent"),  # unknown="error"
        # codes that look like numbers: CSV must keep them as strings
        fk.Categorical("plan", encode="ordinal"),
    ],
    version=3,
)


def check_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(6),
            "k": rng.integers(0, 12, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.5, 0.3]),
            "plan": rng.choice(["01", "02", "10"], n),
        }
    )
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "c"] = None
    return frame


def rehash(path: Path, name: str) -> None:
    """Record the current sha256 of `name` in the manifest, as an export would."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="session")
def write_data(tmp_path_factory):
    """Write a frame as .csv, .parquet or .jsonl, by the name's suffix, in a new dir."""

    def write(frame: pd.DataFrame, name: str) -> Path:
        path = tmp_path_factory.mktemp("data") / name
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        elif path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True)
        return path

    return write


@pytest.fixture(scope="session")
def check_train() -> tuple[pd.DataFrame, np.ndarray]:
    frame = check_frame(120, seed=0)
    hit = (frame["x"].fillna(0) > 0) ^ (frame["c"] == "a") ^ (frame["plan"] == "10")
    return frame, np.where(hit, "yes", "no")


@pytest.fixture(scope="session")
def classifier_artifact(check_train, tmp_path_factory) -> Path:
    frame, y = check_train
    pipe = fk.make_pipeline(CHECK_FEATURES, LogisticRegression()).fit(frame, y)
    path = tmp_path_factory.mktemp("check") / "classifier"
    # with pipeline.joblib: the --trust-pickle tests compare it with serving
    fk.export(pipe, path, reference=frame, save_pipeline=True)
    return path


@pytest.fixture(scope="session")
def regressor_artifact(check_train, tmp_path_factory) -> Path:
    frame, _ = check_train
    y = frame["x"].fillna(0) * 3 + frame["k"]
    pipe = fk.make_pipeline(CHECK_FEATURES, Ridge()).fit(frame, y)
    path = tmp_path_factory.mktemp("check") / "regressor"
    fk.export(pipe, path, reference=frame, save_pipeline=True)
    return path


@pytest.fixture(scope="session")
def lean_artifact(check_train, tmp_path_factory) -> Path:
    """Exported with save_pipeline=False: no pipeline.joblib, so no parity re-run."""
    frame, y = check_train
    pipe = fk.make_pipeline(CHECK_FEATURES, LogisticRegression()).fit(frame, y)
    path = tmp_path_factory.mktemp("check") / "lean"
    fk.export(pipe, path, reference=frame, save_pipeline=False)
    return path


@pytest.fixture(scope="session")
def skewed_artifact(check_train, classifier_artifact, tmp_path_factory) -> Path:
    """A consistent artifact whose pipeline.joblib answers otherwise than its graph.

    The pipeline is refitted on the opposite labels and its hash recorded, so only
    parity, not the manifest, can tell.
    """
    frame, y = check_train
    path = tmp_path_factory.mktemp("check") / "skewed"
    shutil.copytree(classifier_artifact, path)
    flipped = np.where(y == "yes", "no", "yes")
    other = fk.make_pipeline(CHECK_FEATURES, LogisticRegression()).fit(frame, flipped)
    buf = io.BytesIO()
    joblib.dump(other, buf)
    (path / "pipeline.joblib").write_bytes(buf.getvalue())
    rehash(path, "pipeline.joblib")
    return path


@pytest.fixture
def tampered_artifact(classifier_artifact, tmp_path) -> Path:
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "tampered"))
    with open(path / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    return path


@pytest.fixture(scope="session")
def good_frame() -> pd.DataFrame:
    return check_frame(40, seed=1)


@pytest.fixture(scope="session")
def bad_frame(good_frame) -> pd.DataFrame:
    """Rows 2, 5 and 7 break the contract; the other 37 pass."""
    frame = good_frame.copy()
    frame.loc[2, "x"] = 50.0  # outside bounds (-10, 10)
    frame.loc[5, "c"] = "zzz"  # unknown category under unknown="error"
    frame["k"] = frame["k"].astype(float)
    frame.loc[7, "k"] = 1.5  # not an integer
    return frame
