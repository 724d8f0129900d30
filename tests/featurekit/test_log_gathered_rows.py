"""One-row calls reach the prediction log through the drift monitor's buffer.

With a monitor, `serving.Predictor` hands a one-row call's row to the log as a tag in
the monitor's buffer (one buffer, one concatenation for both), and a classifier whose
graph label is the first maximum of its probabilities logs the probabilities alone
(the writer takes that argmax). Whatever the path, the file must hold every row, in
call order, with the label the graph serves, the client's ids and the values the
caller was given.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.outcomes.entries import ARGMAX_LABEL
from featurekit.outcomes.log import LogWriter
from serving import Predictor

FEATURES = fk.FeatureSet(
    "gathered",
    [fk.Numeric("x"), fk.Numeric("age", dtype="int"), fk.Categorical("plan")],
)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.integers(0, 6, n).astype(float),
            "age": rng.integers(18, 90, n),
            "plan": rng.choice(["basic", "plus"], n),
        }
    )


def _training() -> tuple[pd.DataFrame, np.ndarray]:
    """Every (x, age, plan) cell ten times; where x is 0, half "yes" and half "no".

    No split can part those rows, so a fully grown tree's leaf there is exactly
    0.5/0.5: a tie, where the first maximum and the last differ.
    """
    cells = [
        (x, age, plan)
        for x in range(6)
        for age in (30, 60)
        for plan in ("basic", "plus")
    ]
    rows = [cell for cell in cells for _ in range(10)]
    frame = pd.DataFrame(rows, columns=["x", "age", "plan"]).astype({"x": float})
    y = np.where(frame["x"] >= 3, "yes", "no")
    y[(frame["x"] == 0).to_numpy() & (np.arange(len(frame)) % 2 == 0)] = "yes"
    return frame, y


def _export(model, root: Path, name: str) -> Path:
    frame, y = _training()
    pipe = fk.make_pipeline(FEATURES, model).fit(frame, y)
    path = root / name
    fk.export(pipe, path, reference=frame)
    return path


@pytest.fixture(scope="module")
def forest(tmp_path_factory) -> Path:
    model = RandomForestClassifier(n_estimators=2, bootstrap=False, random_state=3)
    return _export(model, tmp_path_factory.mktemp("gathered"), "forest")


@pytest.fixture(scope="module")
def logistic(tmp_path_factory) -> Path:
    return _export(
        LogisticRegression(max_iter=500), tmp_path_factory.mktemp("gathered"), "lr"
    )


def _rows(root: Path) -> list[dict]:
    files = sorted((root / "predictions").rglob("part-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def _records(n: int, seed: int) -> list[dict]:
    return [
        {"x": float(r.x), "age": int(r.age), "plan": str(r.plan)}
        for r in _frame(n, seed).itertuples()
    ]


def test_the_manifest_says_which_labels_are_the_argmax_of_the_probabilities(
    forest, logistic
):
    def rule(path: Path) -> str | None:
        return json.loads((path / "manifest.json").read_text()).get("label_rule")

    assert rule(forest) == ARGMAX_LABEL
    # a binary logistic regression labels by the sign of its raw score: not derived
    assert rule(logistic) is None


@pytest.mark.parametrize("monitor", [True, False])
def test_a_derived_label_is_the_one_the_graph_serves_ties_included(
    forest, tmp_path, monitor
):
    records = _records(300, 5)
    plain = Predictor.load(forest, monitor=False)
    served = plain.predict(records)  # the graph's own label output
    proba = plain.predict_proba(records)
    ties = np.isclose(proba[:, 0], proba[:, 1])
    assert ties.any() and (~ties).any()  # the case that tells argmax rules apart
    logged = Predictor.load(forest, log=tmp_path, monitor=monitor)
    assert logged.log is not None and "label" not in logged.log.logged_outputs
    for record in records[:150]:  # one-row calls
        logged.predict_proba(record)
    logged.predict_proba(records[150:])  # and one batch
    logged.close()
    rows = _rows(tmp_path)
    assert [r["label"] for r in rows] == [str(v) for v in served]
    assert np.array_equal(np.array([r["probabilities"] for r in rows]), proba)


@pytest.mark.parametrize("model", ["forest", "logistic"])
def test_one_row_calls_and_batches_are_logged_in_call_order(model, request, tmp_path):
    artifact = request.getfixturevalue(model)
    records = _records(12, 7)
    p = Predictor.load(artifact, log=tmp_path)
    assert p.monitor is not None  # the path under test: through the monitor's buffer
    answers = []
    for i in range(5):
        answers.append(p.predict(records[i], ids=[f"a{i}"]))
    answers.append(p.predict(records[5:8], ids=["b5", "b6", "b7"]))
    for i in range(8, 12):
        answers.append(p.predict(records[i]))
    p.close()
    rows = _rows(tmp_path)
    served = np.concatenate(answers)
    assert [r["row_id"] for r in rows[:8]] == [f"a{i}" for i in range(5)] + [
        "b5",
        "b6",
        "b7",
    ]
    assert all(r["row_id"] == f"{r['request_id']}-0" for r in rows[8:])
    assert [r["inputs"] for r in rows] == records
    assert [r["label"] for r in rows] == [str(v) for v in served]
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)


def test_a_lone_call_is_written_by_the_next_flush(forest, tmp_path):
    p = Predictor.load(forest, log=tmp_path, log_options={"flush_seconds": 0.2})
    p.predict_proba(_records(1, 9)[0])  # far fewer rows than the monitor buffers
    deadline = time.monotonic() + 10
    while not _rows(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_rows(tmp_path)) == 1
    p.close()


def test_changing_what_the_caller_was_given_does_not_change_the_log(forest, tmp_path):
    record = _records(1, 11)[0]
    expected = Predictor.load(forest, monitor=False).predict_proba(record)
    p = Predictor.load(forest, log=tmp_path)
    given = p.predict_proba(record)
    given[:] = -1.0  # the caller's array is its own
    batch = p.predict_proba([record, record])
    batch *= 0
    p.close()
    logged = np.array([r["probabilities"] for r in _rows(tmp_path)])
    assert np.array_equal(logged, np.repeat(expected, 3, axis=0))


def test_gathered_calls_that_straddle_an_hour_go_to_both_partitions(tmp_path):
    model = {
        "name": "m",
        "version": 1,
        "sha256": "ef" * 32,
        "kind": "classifier",
        "classes": ["no", "yes"],
        "outputs": ["label", "probabilities"],
        "label_rule": ARGMAX_LABEL,
    }
    w = LogWriter(tmp_path, model=model, inputs={"x": "numeric"}, flush_rows=10**6)
    hour = dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC).timestamp() * 1e9
    tags = [(int(hour) - 1000, None, "late"), (int(hour) + 1000, None, "early")]
    w.append_calls(
        {"x": np.array([[1.0], [2.0]])},
        {"probabilities": np.array([[0.3, 0.7], [0.6, 0.4]])},
        tags,
    )
    w.close()
    got = {
        f.parent.name: pq.read_table(f).to_pylist()
        for f in (tmp_path / "predictions").rglob("part-*.parquet")
    }
    assert {k: [(r["row_id"], r["label"]) for r in v] for k, v in got.items()} == {
        "hour=10": [("late", "yes")],
        "hour=11": [("early", "no")],
    }


def test_what_the_monitor_holds_is_not_what_the_caller_gets(forest):
    p = Predictor.load(forest)  # drift monitoring, no log
    assert p.monitor is not None and p.monitor.keeps(1)
    given = p.predict_proba(_records(1, 13)[0])
    held = [b[1]["probabilities"] for b in p.monitor._buffer]
    assert held and not any(np.shares_memory(given, h) for h in held)
    # a large call is counted before it returns: nothing of it is held, no copy
    big = p.predict_proba(_records(300, 14))
    assert not p.monitor.keeps(300) and not p.monitor._buffer
    assert big.shape == (300, 2)
