"""The scale-out tests' model and rows (test modules import them from here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import featurekit as fk
from serving import Predictor

SCALE_FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("income", impute="median", scale="standard", bounds=(0, None)),
        fk.Numeric("age", dtype="int", bounds=(18, 120)),
        fk.Categorical("plan", unknown="error"),
        fk.Categorical("region", impute="missing", unknown="ignore"),
    ],
    version=3,
)


def scale_frame(n: int, seed: int) -> pd.DataFrame:
    """Rows as served: some incomes and regions missing, ids that must pass through."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64) + 1000 * seed,
            "income": rng.lognormal(10.5, 0.5, n).round(2),
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus", "premium"], n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    frame.loc[::9, "income"] = np.nan
    frame.loc[::13, "region"] = None
    return frame


def refused_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with rows the contract refuses: an unknown plan, an age out of bounds."""
    bad = frame.copy()
    bad.loc[bad.index[3], "plan"] = "gold"
    bad.loc[bad.index[10], "age"] = 7
    bad.loc[bad.index[11], "income"] = -5.0
    return bad


def assert_scored_as_predictor(
    got: pd.DataFrame, frame: pd.DataFrame, artifact
) -> None:
    """An engine's output (sorted by id) is what Predictor answers on `frame`, row for row."""
    expected = Predictor.load(artifact, monitor=False).score(
        frame.drop(columns="id"), on_error="split"
    )
    assert got["id"].tolist() == frame["id"].tolist()
    assert got["contract_passed"].tolist() == expected.passed.tolist()
    ok = got[got["contract_passed"]]
    np.testing.assert_array_equal(
        ok["label"].to_numpy(np.int64), expected.scores["label"]
    )
    np.testing.assert_array_equal(
        np.stack(ok["probabilities"].to_list()), expected.scores["probabilities"]
    )
