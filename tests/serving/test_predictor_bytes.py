"""`Predictor.load` runs the very bytes it hashed, whatever happens to the files after.

Issue 16 found that the load hashed the files and then reopened them by path: a graph
swapped in between was served under the old hash and certificate. Here another
writer replaces ``model.onnx`` (with a real, different model's graph) the moment the
loader has read it; the loaded predictor must still answer as the hashed graph does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import HTTP_FEATURES
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from serving import Predictor


@pytest.fixture(scope="module")
def flipped(http_train, tmp_path_factory) -> Path:
    """The same features and classes, the opposite model: another graph, other answers."""
    frame, y = http_train
    pipe = fk.make_pipeline(HTTP_FEATURES, LogisticRegression(max_iter=500))
    pipe.fit(frame, 1 - y)
    path = tmp_path_factory.mktemp("flipped") / "loans"
    fk.export(pipe, path, reference=frame)
    return path


def test_a_graph_swapped_in_after_the_hash_is_never_served(
    http_artifact: Path,
    flipped: Path,
    http_train,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = tmp_path / "loans"
    shutil.copytree(http_artifact, served)
    rows = http_train[0].head(20)
    expected = Predictor.load(http_artifact).predict_proba(rows)
    assert not np.allclose(Predictor.load(flipped).predict_proba(rows), expected)
    other = (flipped / "model.onnx").read_bytes()
    real = Path.read_bytes

    def read_then_swap(self: Path) -> bytes:
        data = real(self)
        if self == served / "model.onnx":  # another writer, right after this read
            (served / "model.onnx").write_bytes(other)
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    p = Predictor.load(served, verify="off")
    monkeypatch.undo()
    assert (served / "model.onnx").read_bytes() == other  # the swap did happen
    np.testing.assert_array_equal(p.predict_proba(rows), expected)
