"""``check_parity(trust_pickle=True)`` on classifiers without probabilities.

The comparison follows the artifact's outputs: labels and the decision function
(relative, as certified), or labels alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

import featurekit as fk
from featurekit.testing import check_parity

FEATURES = fk.FeatureSet("outputs", [fk.Numeric("x"), fk.Numeric("z")])


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(0, 1, n), "z": rng.normal(0, 1, n)})


@pytest.mark.parametrize(
    "model",
    [
        LinearSVC(),
        VotingClassifier(
            [("lr", LogisticRegression()), ("dt", DecisionTreeClassifier(max_depth=3))]
        ),
    ],
    ids=["decision-function", "label-only"],
)
def test_trusted_parity_check_compares_the_outputs_the_artifact_has(
    model: object, tmp_path: Path
) -> None:
    train = _frame(150, seed=0)
    y = np.digitize(train["x"] + train["z"], [-0.5, 0.5])
    pipe = fk.make_pipeline(FEATURES, model).fit(train, y)
    art = fk.export(pipe, tmp_path / "a", reference=train, save_pipeline=True)

    report = check_parity(art, _frame(80, seed=1), trust_pickle=True)

    assert report.status == "passed", report
    assert report.rows == 80
