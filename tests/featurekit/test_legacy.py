"""Pipelines pickled before the modules moved still unpickle, and score the same."""

from __future__ import annotations

import io
import pickle
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.exporting.legacy import LEGACY_MODULES, legacy_classes

OLD_NAME = {"DatetimePlan": "_DatetimePlan", "Failures": "_Failures"}


def _as_before_the_move(data: bytes) -> tuple[bytes, set[str]]:
    """Rewrite a protocol-2 pickle's class paths to the old flat modules."""
    old_for = {}
    for old, homes in LEGACY_MODULES.items():
        for home in homes:
            old_for.setdefault(home, old)
    used: set[str] = set()

    def swap(m: re.Match[bytes]) -> bytes:
        module, name = m.group(1).decode(), m.group(2).decode()
        old = old_for.get(module)
        if old is None:
            return m.group(0)
        used.add(old)
        return f"c{old}\n{OLD_NAME.get(name, name)}\n".encode()

    return re.sub(rb"c(featurekit[\w.]*)\n(\w+)\n", swap, data), used


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "debt": rng.gamma(2.0, 3000.0, n),
            "plan": rng.choice(["a", "b", "c", "rare"], n, p=[0.5, 0.3, 0.18, 0.02]),
            "opened": pd.date_range("2020-01-01", periods=n, freq="D"),
        }
    )
    y = (df["debt"] / df["income"] > 0.3).astype(int)
    features = fk.FeatureSet(
        "legacy",
        [
            fk.Numeric("income", clip=(0, None), log1p=True, scale="standard"),
            fk.Categorical("plan", min_frequency=10),
            fk.Datetime("opened"),
            fk.Derived("ratio", fk.col("debt") / fk.col("income"), impute="median"),
            fk.Derived("month", fk.col("opened").dt.month),
        ],
    )
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=500))
    pipe.fit(df, y)
    return pipe, df


def test_a_pipeline_pickled_with_the_old_module_paths_scores_the_same(fitted) -> None:
    pipe, df = fitted
    old, used = _as_before_the_move(pickle.dumps(pipe, protocol=2))
    assert {"featurekit.pipeline", "featurekit.transformers", "featurekit.spec"} <= used
    with legacy_classes():
        back = joblib.load(io.BytesIO(old))
    np.testing.assert_array_equal(back.predict_proba(df), pipe.predict_proba(df))


def test_without_the_shim_the_old_paths_do_not_resolve(fitted) -> None:
    pipe, _ = fitted
    old, _ = _as_before_the_move(pickle.dumps(pipe, protocol=2))
    with pytest.raises(ModuleNotFoundError, match="featurekit"):
        joblib.load(io.BytesIO(old))


def test_a_name_with_no_new_home_says_to_re_export() -> None:
    from featurekit.exporting.legacy import find_legacy

    with pytest.raises(AttributeError, match="re-export the artifact"):
        find_legacy("featurekit.spec", "NoSuchClass")
