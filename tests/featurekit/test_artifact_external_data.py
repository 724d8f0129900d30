"""An artifact never reads files outside itself: ONNX external data is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tampering import alter_model

import featurekit as fk
from featurekit.artifact import external_tensors
from serving import Predictor


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (df["a"] + df["b"] > 0).astype(int)
    features = fk.FeatureSet("ext", [fk.Numeric("a", scale="standard"), fk.Numeric("b")])
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(df, y)
    path = tmp_path_factory.mktemp("ext") / "a"
    fk.export(pipe, path, reference=df)
    return path


def _point_outside(graph) -> None:
    """Turn the first float initializer into one read from a file beside the server."""
    tensor = next(t for t in graph.initializer if t.data_type == onnx.TensorProto.DOUBLE)
    tensor.ClearField("raw_data")
    tensor.ClearField("double_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "secret.bin"


def test_a_model_with_external_tensors_is_refused_at_load(
    artifact, tmp_path, monkeypatch
) -> None:
    path = tmp_path / "a"
    shutil.copytree(artifact, path)
    alter_model(path, _point_outside)  # hash rewritten: only this check can tell
    (tmp_path / "secret.bin").write_bytes(np.arange(8.0).tobytes())
    monkeypatch.chdir(tmp_path)  # where onnxruntime would look for the file
    with pytest.raises(fk.ArtifactError, match="external files"):
        Predictor.load(path)


def test_an_exported_model_has_no_external_tensors(artifact) -> None:
    assert external_tensors((artifact / "model.onnx").read_bytes()) == []
    Predictor.load(artifact)
