"""Derived features over HTTP: dates as ISO text, free text, hashed and crossed categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient

import featurekit as fk
from serving import Predictor, create_app


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seen = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 1500 * 86400, n), unit="s"
    )
    return pd.DataFrame(
        {
            "seen": [t.isoformat() for t in seen],
            "amount": rng.lognormal(3, 1, n).round(2),
            "shop": rng.choice(["a", "b", "c"], n),
            "note": rng.choice(["fast refund", "slow", "", "great FAST"], n),
        }
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    X = _frame(300, 0)
    y = ((X["amount"] > 20) ^ (X["shop"] == "a")).astype(int)
    fs = fk.FeatureSet(
        "shop",
        [
            fk.Datetime("seen"),
            fk.Numeric("amount", bounds=(0, 1e6)),
            fk.Derived("weekday", fk.col("seen").dt.day_of_week, scale="minmax"),
            fk.Derived("big", fk.col("amount") > 20),
            fk.Derived("shop_day", fk.cross(fk.col("shop"), fk.col("note"))),
            fk.Categorical("shop", encode="hash", n_buckets=8),
            fk.Text("note"),
        ],
    )
    pipe = fk.make_pipeline(fs, LogisticRegression(max_iter=1000)).fit(X, y)
    path = tmp_path_factory.mktemp("a") / "shop"
    fk.export(pipe, path, reference=X)
    return path, pipe


@pytest.fixture(scope="module")
def client(artifact: tuple[Path, object]) -> TestClient:
    return TestClient(create_app(Predictor.load(artifact[0])))


def test_metadata_types_dates_and_text_as_bytes(client: TestClient) -> None:
    meta = client.get("/v2/models/shop").json()
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert types == {
        "seen": "BYTES",
        "amount": "FP64",
        "shop": "BYTES",
        "note": "BYTES",
    }


def test_predict_and_oip_agree_with_the_pipeline(
    client: TestClient, artifact: tuple[Path, object]
) -> None:
    _, pipe = artifact
    fresh = _frame(20, 5)
    records = fresh.to_dict(orient="records")
    got = client.post("/predict", json={"records": records})
    assert got.status_code == 200, got.text
    want = pipe.predict(fresh).tolist()  # type: ignore[attr-defined]
    assert got.json()["labels"] == want
    body = {
        "inputs": [
            {
                "name": c,
                "datatype": "FP64" if c == "amount" else "BYTES",
                "shape": [len(fresh)],
                "data": fresh[c].tolist(),
            }
            for c in fresh.columns
        ]
    }
    oip = client.post("/v2/models/shop/infer", json=body)
    assert oip.status_code == 200, oip.text
    label = next(o for o in oip.json()["outputs"] if o["name"] == "label")
    assert label["data"] == want


@pytest.mark.parametrize(
    ("seen", "check"),
    [
        ("yesterday", "datetime(ISO-8601)"),
        ("2024-03-01T10:00:00+01:00", "timezone(None)"),
        (17, "dtype('datetime64')"),
    ],
)
def test_bad_dates_are_422_naming_the_check(
    client: TestClient, seen: object, check: str
) -> None:
    rec = _frame(1, 9).to_dict(orient="records")[0]
    rec["seen"] = seen
    got = client.post("/predict", json=rec)
    assert got.status_code == 422
    failure = got.json()["failures"][0]
    assert (failure["column"], failure["check"]) == ("seen", check)
