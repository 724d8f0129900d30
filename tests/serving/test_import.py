"""Serving stays free of the training stack: no scikit-learn, skl2onnx or joblib."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk

TRAINING_STACK = ["sklearn", "skl2onnx", "joblib"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    features = fk.FeatureSet(
        "demo",
        [
            fk.Numeric("x", impute="median", scale="standard", bounds=(-10, 10)),
            fk.Categorical(
                "c", impute="most_frequent", unknown="other", min_frequency=2
            ),
        ],
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=40), "c": rng.choice(["a", "b", "c"], 40)}
    )
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(
        frame, (frame["x"] > 0).astype(int)
    )
    path = tmp_path_factory.mktemp("import") / "demo"
    fk.export(pipe, path, frame, save_pipeline=True)
    return path


def _run(code: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loaded(names: list[str]) -> str:
    return f"sorted(m for m in sys.modules if m.split('.')[0] in {names!r})"


def test_importing_serving_loads_no_training_library():
    out = _run(
        f"""
        import json, sys
        import serving
        print(json.dumps({_loaded(TRAINING_STACK)}))
        """
    )
    assert out == []


def test_loading_and_scoring_loads_no_training_library(artifact):
    # the artifact holds pipeline.joblib too: serving must not even look at it
    out = _run(
        f"""
        import json, sys
        from serving import Predictor
        p = Predictor.load({str(artifact)!r})
        labels = p.predict([{{"x": 0.5, "c": "a"}}, {{"x": None, "c": None}}])
        proba = p.predict_proba({{"x": -1.0, "c": "zz"}})
        try:
            p.predict({{"x": "bad", "c": "a"}})
        except ValueError:
            pass
        print(json.dumps({{"labels": labels.tolist(), "n": len(proba),
                          "loaded": {_loaded(TRAINING_STACK)}}}))
        """
    )
    assert out["loaded"] == []
    assert len(out["labels"]) == 2
    assert out["n"] == 1


def test_subprocess_check_detects_a_training_library():
    # guards the test above against passing vacuously
    out = _run(
        f"""
        import json, sys
        import sklearn.base
        print(json.dumps({_loaded(TRAINING_STACK)}))
        """
    )
    assert "sklearn" in out
