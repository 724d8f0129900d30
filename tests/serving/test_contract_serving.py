"""The contract in serving: soft ranges counted, strictness, split mode, stored schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.contract.reference import validate as reference_validate
from featurekit.contract.schema import WIDEN, Contract
from serving import Predictor


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.uniform(0, 10, n).round(2),
            "k": rng.integers(0, 5, n),
            "c": rng.choice(["a", "b", "c"], n),
            "u": rng.choice(["p", "q"], n),
        }
    )


def _export(tmp_path: Path, *, strict: bool = False, observed: str = "count") -> Path:
    fs = fk.FeatureSet(
        "soft",
        [
            fk.Numeric("x", scale="standard", observed_range=observed),
            fk.Numeric("k", dtype="int", bounds=(0, None)),
            fk.Categorical("c", unknown="error"),
            fk.Categorical("u", unknown="ignore"),
        ],
        strict=strict,
    )
    df = _frame()
    y = (df.x > 5).astype(int)
    pipe = fk.make_pipeline(fs, LogisticRegression()).fit(df, y)
    fk.export(pipe, tmp_path / "a", reference=df)
    return tmp_path / "a"


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("lenient"))


def test_contract_json_holds_pandera_schema_that_pandera_alone_loads(
    lenient: Path,
) -> None:
    stored = json.loads((lenient / "contract.json").read_text())
    schema = pa.DataFrameSchema.from_json(json.dumps(stored["pandera"]))
    contract = Contract.from_json((lenient / "contract.json").read_text())
    assert schema == contract.schema()
    assert set(schema.columns) == {"x", "k", "c", "u"}


def test_observed_range_is_the_reference_range_widened(lenient: Path) -> None:
    contract = Contract.from_json((lenient / "contract.json").read_text())
    df = _frame()
    lo, hi = contract.observed["x"]
    span = df.x.max() - df.x.min()
    assert lo == pytest.approx(df.x.min() - WIDEN * span)
    assert hi == pytest.approx(df.x.max() + WIDEN * span)


def test_value_outside_the_observed_range_is_scored_and_counted(lenient: Path) -> None:
    p = Predictor.load(lenient)
    record = {"x": 1e4, "k": 1, "c": "a", "u": "p"}
    assert p.predict(record).shape == (1,)
    p.predict([record, {**record, "x": 5.0}])
    assert p.tally.outside_observed == {"x": 2}
    assert p.tally.rows == 3


def test_observed_range_declared_as_error_rejects(tmp_path: Path) -> None:
    p = Predictor.load(_export(tmp_path, observed="error"))
    with pytest.raises(fk.ContractError, match=r"'x' in_range\(") as info:
        p.predict({"x": 1e4, "k": 1, "c": "a", "u": "p"})
    assert info.value.failures["failure_case"].tolist() == [1e4]


def test_unseen_category_under_ignore_is_scored_and_counted(lenient: Path) -> None:
    p = Predictor.load(lenient)
    p.predict([{"x": 1.0, "k": 1, "c": "a", "u": "zzz"}] * 3)
    p.predict({"x": 1.0, "k": 1, "c": "a", "u": "zzz"})
    assert p.tally.unseen == {"u": 4}


def test_extra_columns_are_ignored_and_counted_by_default(lenient: Path) -> None:
    p = Predictor.load(lenient)
    record = {"x": 1.0, "k": 1, "c": "a", "u": "p", "note": "hi"}
    assert (
        p.predict(record).tolist()
        == p.predict({k: v for k, v in record.items() if k != "note"}).tolist()
    )
    p.predict(pd.DataFrame([record, record]))
    assert p.tally.extra_columns == {"note": 2}


def test_strict_feature_set_rejects_extra_columns(tmp_path: Path) -> None:
    p = Predictor.load(_export(tmp_path, strict=True))
    with pytest.raises(
        fk.ContractError, match=r"undeclared columns \['note'\]"
    ) as info:
        p.predict({"x": 1.0, "k": 1, "c": "a", "u": "p", "note": "hi"})
    assert info.value.failures.values.tolist() == [
        ["note", "column_in_schema", "note", None]
    ]


def test_split_mode_scores_good_rows_and_returns_bad_ones_with_reasons(
    lenient: Path,
) -> None:
    p = Predictor.load(lenient)
    frame = _frame(10, seed=3)
    frame.index = [f"r{i}" for i in range(10)]
    frame["x"] = frame["x"].astype(object)
    frame.loc["r2", "x"] = "oops"
    frame.loc["r7", "c"] = "zz"
    out = p.predict_proba(frame, on_error="split")
    assert out.rejected_index == ["r2", "r7"]
    assert len(out.accepted_index) + len(out.rejected_index) == len(frame)
    assert out.scores.shape == (8, 2)
    good = frame.drop(index=["r2", "r7"])
    good["x"] = good["x"].astype(float)
    np.testing.assert_array_equal(out.scores, p.predict_proba(good))
    assert sorted(out.failures["index"]) == ["r2", "r7"]


def test_split_mode_with_a_missing_column_rejects_every_row(lenient: Path) -> None:
    p = Predictor.load(lenient)
    out = p.predict(_frame(5).drop(columns="k"), on_error="split")
    assert out.scores.shape == (0,)
    assert not out.passed.any()
    assert out.failures["check"].tolist() == ["column_in_dataframe"]


def test_unknown_on_error_mode_is_refused(lenient: Path) -> None:
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'split'"):
        Predictor.load(lenient).predict({"x": 1.0}, on_error="ignore")


def test_contract_validate_with_pandera_agrees_on_a_bad_batch(lenient: Path) -> None:
    contract = Contract.from_json((lenient / "contract.json").read_text())
    bad = [
        {"x": 1.0, "k": -1, "c": "a", "u": "p"},
        {"x": True, "k": 1, "c": "zz", "u": None},
    ]
    with pytest.raises(fk.ContractError) as reference:
        reference_validate(contract, bad)
    with pytest.raises(fk.ContractError) as fast:
        Predictor.load(lenient).predict(bad)
    key = ["column", "check", "index"]
    assert sorted(map(tuple, reference.value.failures[key].values.tolist())) == sorted(
        map(tuple, fast.value.failures[key].values.tolist())
    )


def test_split_scores_the_good_rows_when_an_int_column_had_failures(
    lenient: Path,
) -> None:
    p = Predictor.load(lenient)
    good = {"x": 1.5, "k": 2, "c": "a", "u": "p"}
    got = p.predict_proba(
        [good, {**good, "k": None}, {**good, "k": 2.5}], on_error="split"
    )
    assert got.passed.tolist() == [True, False, False]
    np.testing.assert_array_equal(got.scores, p.predict_proba([good]))
