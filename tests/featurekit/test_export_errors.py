"""Export refusals say what is wrong and what to change, in one short message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import featurekit as fk


def _ratio_pipeline(lo: float):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"p": rng.uniform(10, 100, 300), "a": rng.uniform(100, 2000, 300)})
    y = (df["p"] / df["a"] > 0.05).astype(int)
    fs = fk.FeatureSet(
        "bc",
        [
            fk.Numeric("p", bounds=(0, 10000)),
            fk.Numeric("a", bounds=(lo, 10000)),
            fk.Derived("ratio", fk.col("p") / fk.col("a")),
        ],
    )
    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    return fk.make_pipeline(fs, forest).fit(df, y), df


def test_a_ratio_that_overflows_names_the_expression_the_value_and_the_bound(tmp_path):
    pipe, df = _ratio_pipeline(lo=0)  # bounds declared, but 0 lets a / b blow up
    with pytest.raises(fk.ExportError) as err:
        fk.export(pipe, tmp_path / "a", reference=df)
    message = str(err.value)
    assert "'ratio' = fk.col('p') / fk.col('a')" in message
    assert "'a' = 1e-300" in message
    assert "bounds=(lo, 10000) on 'a' with lo > 0" in message
    assert "\n" not in message  # one short message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_the_bound_the_message_suggests_makes_the_export_pass(tmp_path):
    pipe, df = _ratio_pipeline(lo=1)
    assert fk.export(pipe, tmp_path / "a", reference=df).certificate["passed"]
