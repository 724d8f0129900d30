"""The prediction log: Parquet partitions, bounded buffer, retention, PII, reading back."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.outcomes.evaluation import evaluate
from featurekit.outcomes.log import LogWriter, parse_duration
from featurekit.outcomes.reading import PredictionLog
from serving import Predictor

FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("income", impute="median", scale="standard"),
        fk.Numeric("age", dtype="int"),
        fk.Categorical("plan", unknown="ignore"),
        fk.Categorical("customer", pii=True, input_only=True),
    ],
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.5, n).round(2),
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus", "premium"], n),
            "customer": [f"c{i % 50}" for i in range(n)],
        }
    )
    frame.loc[::9, "income"] = np.nan
    return frame


def _labels(frame: pd.DataFrame, seed: int, flipped: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = (frame["income"].fillna(36000) > 36000).to_numpy()
    y = np.where(rng.random(len(y)) < 0.1, ~y, y)
    return np.where(y ^ flipped, 1, 0)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    frame, holdout = _frame(1000, 1), _frame(400, 2)
    pipe = fk.make_pipeline(FEATURES, LogisticRegression(max_iter=1000))
    pipe.fit(frame, _labels(frame, 1))
    path = tmp_path_factory.mktemp("log") / "loans"
    fk.export(
        pipe, path, reference=frame, holdout=holdout, holdout_y=_labels(holdout, 2)
    )
    return path


def _files(root: Path) -> list[Path]:
    return sorted(root.glob("predictions/date=*/hour=*/*.parquet"))


def test_every_scored_row_is_logged_with_its_id_model_and_answers(artifact, tmp_path):
    p = Predictor.load(artifact, log=tmp_path)
    frame = _frame(30, 3)
    proba = p.predict_proba(frame, ids=[f"loan-{i}" for i in range(30)])
    p.predict(frame.iloc[0].to_dict())  # no ids: <request id>-0
    p.close()
    rows = duckdb.sql(
        f"select * from read_parquet('{tmp_path}/predictions/**/*.parquet', "
        "hive_partitioning=true) order by row_id"
    ).df()
    assert len(rows) == 31
    logged = rows.set_index("row_id").loc[[f"loan-{i}" for i in range(30)]]
    np.testing.assert_array_equal(np.stack(logged["probabilities"]), proba)
    assert (logged["model_sha256"] == p.sha256).all()
    assert (logged["model_name"] == "loans").all() and (
        logged["served_by"] == "champion"
    ).all()
    assert logged["inputs"].iloc[0]["plan"] == frame["plan"].iloc[0]
    made = rows[~rows["row_id"].str.startswith("loan-")]
    assert made["row_id"].iloc[0] == made["request_id"].iloc[0] + "-0"
    # pii=True: the customer column is not in the log at all
    assert "customer" not in rows["inputs"].iloc[0]
    assert not list(tmp_path.rglob(".*.tmp"))  # nothing half-written left behind


def test_hashed_pii_is_a_salted_sha256(artifact, tmp_path):
    p = Predictor.load(
        artifact, log=tmp_path, log_options={"pii": "hash", "salt": "pepper"}
    )
    p.predict(_frame(3, 4), ids=["a", "b", "c"])
    p.close()
    table = pq.read_table(_files(tmp_path)[0]).to_pylist()
    first = next(r for r in table if r["row_id"] == "a")
    assert first["inputs"]["customer"] == hashlib.sha256(b"pepperc0").hexdigest()
    with pytest.raises(ValueError, match="secret salt"):
        Predictor.load(artifact, log=tmp_path / "x", log_options={"pii": "hash"})


def test_contract_notes_name_unseen_categories_and_out_of_range_values(
    artifact, tmp_path
):
    p = Predictor.load(artifact, log=tmp_path)
    p.predict(
        [
            {"income": 1e9, "age": 30, "plan": "gold", "customer": "c1"},
            {"income": 40000.0, "age": 30, "plan": "plus", "customer": "c1"},
        ],
        ids=["odd", "fine"],
    )
    p.close()
    notes = {
        r["row_id"]: r["notes"] for r in pq.read_table(_files(tmp_path)[0]).to_pylist()
    }
    assert sorted(notes["odd"]) == ["out_of_range:income", "unseen:plan"]
    assert notes["fine"] == []


def _writer(root: Path, **options) -> LogWriter:
    return LogWriter(
        root,
        model={
            "name": "m",
            "version": 1,
            "sha256": "ab" * 32,
            "kind": "regressor",
            "classes": None,
            "outputs": ["prediction"],
        },
        inputs={"x": "numeric"},
        **options,
    )


def _append(w: LogWriter, n: int, at: dt.datetime | None = None) -> None:
    w.append(
        {"x": np.arange(n, dtype=np.float64)[:, None]},
        {"prediction": np.zeros(n)},
        at_ns=None if at is None else int(at.timestamp() * 1e9),
    )


def test_rows_go_to_hourly_hive_partitions_of_their_time(tmp_path):
    w = _writer(tmp_path)
    _append(w, 2, dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC))
    _append(w, 3, dt.datetime(2026, 3, 2, 0, 1, tzinfo=dt.UTC))
    w.close()
    parts = sorted(str(f.parent.relative_to(tmp_path)) for f in _files(tmp_path))
    assert parts == [
        "predictions/date=2026-03-01/hour=23",
        "predictions/date=2026-03-02/hour=0",
    ]
    counts = duckdb.sql(
        f"select date::varchar d, hour, count(*) n from read_parquet('{tmp_path}/predictions/**/*.parquet', "
        "hive_partitioning=true) group by all order by d"
    ).fetchall()
    assert counts == [("2026-03-01", 23, 2), ("2026-03-02", 0, 3)]


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path):
    w = _writer(tmp_path, flush_seconds=3600, max_buffered_rows=10, flush_rows=10_000)
    for _ in range(4):
        _append(w, 4)
    assert w.stats["rows_dropped"] == 8 and w.stats["rows_logged"] == 8
    w.close()
    assert w.stats["rows_written"] == 8


def test_background_flush_writes_within_the_interval(tmp_path):
    import time

    w = _writer(tmp_path, flush_seconds=0.2)
    _append(w, 5)
    deadline = time.monotonic() + 10
    while not _files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pq.read_table(_files(tmp_path)[0]).num_rows == 5
    w.close()


def test_retention_deletes_old_hours_only(tmp_path):
    w = _writer(tmp_path, retention=parse_duration("2h"))
    now = dt.datetime.now(dt.UTC)
    for hours_ago in (5, 3, 1, 0):
        _append(w, 1, now - dt.timedelta(hours=hours_ago))
    w.flush()  # writes, then deletes the hours that ended over 2 h ago
    kept = {
        (now - dt.timedelta(hours=h)).strftime("date=%Y-%m-%d/hour=")
        + str((now - dt.timedelta(hours=h)).hour)
        for h in (1, 0)
    }
    assert {f"{f.parent.parent.name}/{f.parent.name}" for f in _files(tmp_path)} == kept
    w.close()


def test_a_log_directory_that_cannot_be_written_fails_at_start(artifact, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be made under a file, even by root
    with pytest.raises(OSError, match="is not writable"):
        Predictor.load(artifact, log=blocker / "log")


@pytest.mark.parametrize("text", ["0d", "-1h", "ten days", "", "1y"])
def test_durations_are_checked(text):
    with pytest.raises(ValueError, match="positive number with a unit"):
        parse_duration(text)


def test_labels_latest_wins_and_unknown_ids_are_listed(artifact, tmp_path):
    p = Predictor.load(artifact, log=tmp_path)
    p.predict(_frame(3, 5), ids=["a", "b", "c"])
    p.close()
    log = PredictionLog(tmp_path)
    assert log.add_labels(["a", "b", "ghost"], [1, 0, 1]) == {
        "accepted": 3,
        "unknown_ids": ["ghost"],
    }
    log.add_labels(["a"], ["0"])  # a correction: text or number, the latest wins
    latest = log.labels().set_index("row_id")["label"]
    assert latest["a"] == "0" and latest["b"] == "0"
    with pytest.raises(ValueError, match="none of the model's classes"):
        log.add_labels(["a"], [2])
    with pytest.raises(ValueError, match="3 entries and labels 2"):
        log.add_labels(["a", "b", "c"], [1, 0])


def test_frame_is_what_was_served_ready_to_fit(artifact, tmp_path):
    p = Predictor.load(artifact, log=tmp_path)
    frame = _frame(200, 6)
    p.predict(frame, ids=[str(i) for i in range(200)])
    p.close()
    log = PredictionLog(tmp_path)
    y = _labels(frame, 6)
    log.add_labels([str(i) for i in range(0, 200, 2)], y[::2].tolist())
    got = log.frame()
    assert len(got) == 100 and log.frame(labelled=False).shape[0] == 200
    expected = frame.iloc[::2].reset_index(drop=True)
    pd.testing.assert_series_equal(got["income"], expected["income"], check_names=False)
    assert got["label"].tolist() == y[::2].tolist()
    refit = fk.make_pipeline(
        fk.FeatureSet("loans", [f for f in FEATURES.features if f.name != "customer"]),
        LogisticRegression(max_iter=1000),
    )
    refit.fit(got, got["label"].astype(int))  # exactly the served inputs


def test_corrupt_files_are_skipped_and_reported(artifact, tmp_path):
    p = Predictor.load(artifact, log=tmp_path)
    p.predict(_frame(40, 7), ids=[str(i) for i in range(40)])
    p.close()
    good = _files(tmp_path)[0]
    (good.parent / f"part-{p.sha256[:16]}-1-x-000001.parquet").write_bytes(
        b"PAR1 garbage"
    )
    truncated = good.parent / f"part-{p.sha256[:16]}-1-x-000002.parquet"
    truncated.write_bytes(good.read_bytes()[:-20])
    log = PredictionLog(tmp_path)
    log.add_labels([str(i) for i in range(40)], _labels(_frame(40, 7), 7).tolist())
    report = evaluate(artifact, tmp_path, window=20, min_labels=10)
    assert report.served == 40
    assert len(report.skipped) == 2
    assert {Path(s[0]).name for s in report.skipped} == {
        f"part-{p.sha256[:16]}-1-x-000001.parquet",
        f"part-{p.sha256[:16]}-1-x-000002.parquet",
    }


def test_a_client_id_scored_twice_counts_once_and_made_ids_are_taken_as_unique(
    artifact, tmp_path
):
    p = Predictor.load(artifact, log=tmp_path)
    frame = _frame(40, 8)
    p.predict(frame, ids=[f"k{i}" for i in range(40)])
    p.predict(frame.iloc[:10], ids=[f"k{i}" for i in range(10)])  # a retry
    p.log.flush()  # a file of the client's ids, then one of made ids only
    p.predict(frame.iloc[:5])
    p.close()
    log = PredictionLog(tmp_path)
    table = log.predictions(made_ids=True)
    assert table.num_rows == 55
    assert sorted(set(table["_made_ids"].to_pylist())) == [False, True]
    log.add_labels([f"k{i}" for i in range(40)], _labels(frame, 8).tolist())
    report = evaluate(artifact, tmp_path, window=10**6, min_labels=10)
    assert report.served == 45  # 40 client ids once each, and 5 made ones
    assert report.labelled == 40
