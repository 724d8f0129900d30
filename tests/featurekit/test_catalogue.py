"""The whole catalogue in one pipeline: ratios, logs, flags, date parts, buckets, crossed and
hashed categories and TF-IDF text, declared in featurekit only, exported, certified and
served."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge

import featurekit as fk
from bench._orders import catalogue, orders
from serving import Predictor


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    X, y = orders(1600)
    fresh, _ = orders(400, seed=7)
    return X, y, fresh


def test_round_trips_through_yaml_and_json() -> None:
    fs = catalogue()
    assert fk.FeatureSet.from_yaml(fs.to_yaml()) == fs
    assert fk.FeatureSet.from_json(fs.to_json()) == fs
    # the raw inputs the request carries: declared ones plus the implied "device"
    assert fs.columns == [
        "signup",
        "ordered",
        "amount",
        "items",
        "country",
        "merchant",
        "review",
        "device",
    ]
    assert "Derived('per_item', fk.col('amount') / fk.col('items')" in repr(fs)


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(max_iter=2000),
        RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0),
        HistGradientBoostingClassifier(max_iter=30, random_state=0),
    ],
    ids=["logistic", "forest", "hgb"],
)
def test_exports_certified_and_serves_like_sklearn(tmp_path, data, model) -> None:
    X, y, fresh = data
    pipe = fk.make_pipeline(catalogue(), model).fit(X, y)
    art = fk.export(pipe, tmp_path / "orders", reference=X)
    cert = art.certificate
    assert cert["passed"] and cert["label_agreement"] == 1.0
    p = Predictor.load(tmp_path / "orders")
    np.testing.assert_array_equal(p.predict(fresh), pipe.predict(fresh))
    np.testing.assert_allclose(
        p.predict_proba(fresh), pipe.predict_proba(fresh), rtol=0, atol=1e-9
    )
    # one record, as JSON would bring it
    rec = fresh.iloc[0].to_dict()
    rec["signup"] = rec["signup"].isoformat()
    assert p.predict(rec)[0] == pipe.predict(fresh.iloc[[0]])[0]


def test_regression_with_derived_features(tmp_path, data) -> None:
    X, _, fresh = data
    target = np.log1p(X["amount"]) + X["items"].fillna(0) * 0.1
    pipe = fk.make_pipeline(catalogue(), Ridge()).fit(X, target)
    fk.export(pipe, tmp_path / "r", reference=X)
    p = Predictor.load(tmp_path / "r")
    np.testing.assert_allclose(p.predict(fresh), pipe.predict(fresh), rtol=1e-12)


def test_contract_and_profile_cover_raw_inputs_only(tmp_path, data) -> None:
    X, y, _ = data
    pipe = fk.make_pipeline(catalogue(), LogisticRegression(max_iter=2000)).fit(X, y)
    art = fk.export(pipe, tmp_path / "o", reference=X)
    profiled = set(art.profile["features"])
    assert "per_item" not in profiled and "country_device" not in profiled
    assert {"amount", "items", "country", "merchant", "device"} <= profiled
    p = Predictor.load(tmp_path / "o")
    rec = X.iloc[0].to_dict()
    rec["signup"] = "not a date"
    with pytest.raises(fk.ContractError) as err:
        p.predict(rec)
    assert err.value.failures["column"].tolist() == ["signup"]
    rec["signup"] = (
        "2024-05-01T10:00:00+02:00"  # an offset where wall-clock is declared
    )
    with pytest.raises(fk.ContractError, match="timezone"):
        p.predict(rec)


def test_datetime_inputs_read_the_same_in_every_form() -> None:
    from featurekit.contract.columns import Columns

    fs = fk.FeatureSet("d", [fk.Datetime("t"), fk.Derived("y", fk.col("t").dt.year)])
    when = dt.datetime(1969, 12, 31, 23, 59, 59, 999999)
    forms = [
        pd.DataFrame({"t": [pd.Timestamp(when)]}),
        pd.DataFrame({"t": [when.isoformat()]}),
        [{"t": when}],
        [{"t": np.datetime64(when, "us")}],
    ]
    expected = (when - dt.datetime(1970, 1, 1)) // dt.timedelta(seconds=1)
    for form in forms:
        feeds, _ = Columns(fs).coerce(form)
        assert feeds["t"][0, 0] == expected == -1


def test_expressions_read_from_source_text_never_run() -> None:
    d = fk.Derived("r", "col('debt') / fk.col('income')", impute=0.0)
    assert d == fk.Derived("r", fk.col("debt") / fk.col("income"), impute=0.0)
    assert d.to_dict()["expression"] == "fk.col('debt') / fk.col('income')"
    b = fk.Bucketized("b", "col('x').fillna(0)", edges=[1, 2])
    assert b.source.equals(fk.col("x").fillna(0))  # type: ignore[union-attr]
    with pytest.raises(fk.SpecError, match=r"Derived\('r'\)"):
        fk.Derived("r", "__import__('os').system('echo hacked')")


def test_plain_iso_columns_read_like_value_by_value() -> None:
    """Large columns of plain ISO text take numpy's parser; it must agree to the second."""
    from featurekit.contract.columns import Columns

    fs = fk.FeatureSet(
        "d", [fk.Datetime("t", nullable=True), fk.Derived("y", fk.col("t").dt.year)]
    )
    cols = Columns(fs)
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("1601-01-01") + pd.to_timedelta(
        rng.integers(0, 600 * 365 * 86400, 3000), unit="s"
    )
    forms = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    text = [t.strftime(forms[i % 3]) for i, t in enumerate(stamps)]
    batch = cols.coerce(pd.DataFrame({"t": text}))[0]["t"].ravel()
    one_by_one = [cols.coerce({"t": v})[0]["t"][0, 0] for v in text]
    expected = [
        (dt.datetime.fromisoformat(v) - dt.datetime(1970, 1, 1))
        // dt.timedelta(seconds=1)
        for v in text
    ]
    assert batch.tolist() == one_by_one == expected
    with pytest.raises(fk.ContractError) as err:  # one bad date in a large column
        cols.coerce(pd.DataFrame({"t": [*text[:100], "2024-02-30"]}))
    assert err.value.failures["index"].tolist() == [100]
