"""featurekit replay: logged inputs scored again here, every differing row reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import RandomForestClassifier

import featurekit as fk
from featurekit.replay import replay
from serving import Predictor

FEATURES = fk.FeatureSet(
    "visits",
    [
        fk.Numeric("spend", impute="median", scale="standard"),
        fk.Datetime("seen"),
        fk.Categorical("shop", unknown="ignore"),
        fk.Numeric("n"),
    ],
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "spend": rng.gamma(2.0, 30.0, n).round(2),
            "seen": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 86400 * 300, n), unit="s"),
            "shop": rng.choice(["a", "b", "c"], n),
            "n": rng.integers(0, 9, n).astype(float),
        }
    )
    frame.loc[::7, "spend"] = np.nan
    return frame


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, Path]:
    frame = _frame(600, 1)
    y = ((frame["spend"].fillna(60) > 60) ^ (frame["shop"] == "c")).astype(int)
    pipe = fk.make_pipeline(
        FEATURES, RandomForestClassifier(n_estimators=20, random_state=0)
    )
    pipe.fit(frame, y)
    root = tmp_path_factory.mktemp("replay")
    artifact = root / "visits"
    fk.export(pipe, artifact, reference=frame, save_pipeline=True)
    log = root / "log"
    p = Predictor.load(artifact, log=log)
    traffic = _frame(300, 2)
    for start in range(0, 300, 50):
        p.predict_proba(
            traffic.iloc[start : start + 50],
            ids=[f"v{i}" for i in range(start, start + 50)],
        )
    p.close()
    return artifact, log


def test_a_replay_on_the_same_machine_finds_no_difference(served) -> None:
    artifact, log = served
    report = replay(artifact, log, trust_pickle=True)
    assert report.rows == 300
    assert report.ok, report.differing
    assert report.machine["onnxruntime"]


def test_a_row_served_otherwise_is_reported(served, tmp_path) -> None:
    artifact, log = served
    copy = tmp_path / "log"
    import shutil

    shutil.copytree(log, copy)
    target = sorted(copy.glob("predictions/*/*/*.parquet"))[0]
    table = pq.read_table(target)
    proba = np.stack(table["probabilities"].to_numpy(zero_copy_only=False))
    ids = table["row_id"].to_pylist()
    proba[3, 1] = np.nextafter(proba[3, 1], 2.0)  # one bit: another host's answer
    labels = table["label"].to_pylist()
    labels[5] = "1" if labels[5] == "0" else "0"
    table = table.set_column(
        table.schema.get_field_index("probabilities"),
        "probabilities",
        pa.array([list(r) for r in proba], pa.list_(pa.float64())),
    ).set_column(table.schema.get_field_index("label"), "label", pa.array(labels))
    pq.write_table(table, target)
    report = replay(artifact, copy)
    got = report.differing.set_index("row_id")
    assert sorted(got.index) == sorted([ids[3], ids[5]])
    assert got.loc[ids[3], "reason"] == "answer differs"
    assert 0 < got.loc[ids[3], "max_abs_diff"] < 1e-15
    assert got.loc[ids[5], "reason"] == "label differs"
    assert replay(artifact, copy, tolerance=1e-12).differing["row_id"].tolist() == [
        ids[5]
    ]

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "replay",
            str(artifact),
            str(copy),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stderr
    assert len(json.loads(cli.stdout)["differing"]) == 2


def test_a_clean_log_exits_0_and_a_missing_artifact_2(served, tmp_path) -> None:
    artifact, log = served
    ok = subprocess.run(
        [sys.executable, "-m", "featurekit", "replay", str(artifact), str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "300 logged rows replayed" in ok.stdout and "0 differ" in ok.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "replay",
            str(tmp_path / "none"),
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "featurekit replay: error:" in bad.stderr


def test_rows_without_their_pii_columns_cannot_be_replayed(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    features = fk.FeatureSet(
        "p", [fk.Numeric("x"), fk.Categorical("email", pii=True, unknown="ignore")]
    )
    frame = pd.DataFrame(
        {"x": np.arange(100.0), "email": [f"u{i % 5}@x" for i in range(100)]}
    )
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(
        frame, (frame["x"] > 50).astype(int)
    )
    fk.export(pipe, tmp_path / "a", reference=frame)
    p = Predictor.load(tmp_path / "a", log=tmp_path / "log")
    p.predict(frame.iloc[:5])
    p.close()
    with pytest.raises(ValueError, match=r"no column \['email'\] \(declared pii=True"):
        replay(tmp_path / "a", tmp_path / "log")
