"""A record the contract admits but whose derived feature overflows: an open bug.

``x / y`` with ``x = 1e308`` and ``y = 0.5`` is not finite, so the derived feature is
missing, and a LogisticRegression without ``impute=`` on it cannot score the row:
scikit-learn refuses it ("Input X contains NaN"). The export's probes of the edges
(``y = 0``, refused here by the bounds) do not reach the overflow, so the artifact is
certified, and `Predictor` answers NaN probabilities and the label of a NaN decision
(class 0) without an error: a silent wrong answer. It should refuse the row (a 4xx
over HTTP) naming the feature, as the export's message does for ``y = 0``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.errors import ContractError
from serving import Predictor


@pytest.fixture(scope="module")
def ratio_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300) + 5, "y": rng.uniform(1, 2, 300)})
    features = fk.FeatureSet(
        "ratios",
        [
            fk.Numeric("x"),
            fk.Numeric("y", bounds=(0.5, 3.0)),
            fk.Derived("ratio", fk.col("x") / fk.col("y")),
        ],
    )
    pipe = fk.make_pipeline(features, LogisticRegression())
    pipe.fit(frame, (frame["x"] > 5).astype(int))
    path = tmp_path_factory.mktemp("nan") / "ratios"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk.export(pipe, path, reference=frame)
    return path, pipe


OVERFLOW = {"x": 1e308, "y": 0.5}


def test_scikit_learn_refuses_the_row(ratio_artifact: tuple[Path, object]) -> None:
    _, pipe = ratio_artifact
    with pytest.raises(ValueError, match="contains NaN"):
        pipe.predict_proba(pd.DataFrame([OVERFLOW]))  # type: ignore[attr-defined]


@pytest.mark.xfail(
    strict=True,
    reason="open bug: a derived feature that overflows reaches a model that refuses "
    "NaN, and the answer is NaN probabilities with no error",
)
def test_serving_refuses_a_row_whose_answer_would_be_nan(
    ratio_artifact: tuple[Path, object],
) -> None:
    path, _ = ratio_artifact
    p = Predictor.load(path)
    with pytest.raises(ContractError, match="ratio"):
        p.predict_proba(OVERFLOW)
