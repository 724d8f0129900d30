"""`featurekit.spark.evaluate` on a real local Spark equals `fk.evaluate` on the same log."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scale_data import SCALE_FEATURES, scale_frame
from sklearn.ensemble import RandomForestClassifier

import featurekit as fk
import featurekit.spark as fks
from serving import Predictor

WINDOW = "2s"


def _truth(frame: pd.DataFrame) -> np.ndarray:
    return np.where(
        (frame["income"].fillna(36000) > 36000) ^ (frame["plan"] == "premium"), 1, 0
    )


@pytest.fixture(scope="module")
def holdout_artifact(tmp_path_factory) -> Path:
    frame = scale_frame(600, seed=0).drop(columns="id")
    y = _truth(frame)
    pipe = fk.make_pipeline(
        SCALE_FEATURES,
        RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0),
    )
    pipe.fit(frame[:400], y[:400])
    path = tmp_path_factory.mktemp("evaluate") / "loans"
    fk.export(pipe, path, reference=frame[:400], holdout=frame[400:], holdout_y=y[400:])
    return path


@pytest.fixture(scope="module")
def log(holdout_artifact: Path, tmp_path_factory) -> Path:
    """A log written by a real Predictor over four windows, then labels.

    Window 1 labelled and right, window 2 unlabelled, windows 3 and 4 labelled with
    a flipped concept (decay). A client id is served twice (the later row counts),
    a label is corrected (the latest counts), two labels match no served row, one
    label is none of the classes.
    """
    directory = tmp_path_factory.mktemp("log") / "log"
    predictor = Predictor.load(holdout_artifact, log=directory)
    ids, labels = [], []
    for batch in range(4):
        frame = scale_frame(150, seed=10 + batch).drop(columns="id")
        batch_ids = [f"b{batch}-{i}" for i in range(len(frame))]
        if batch == 3:
            batch_ids[:5] = [f"b2-{i}" for i in range(5)]  # served again, later
        predictor.predict_proba(frame, ids=batch_ids)
        truth = _truth(frame)
        if batch in (2, 3):
            truth = 1 - truth
        if batch != 1:
            ids += batch_ids
            labels += truth.tolist()
        time.sleep(2.1)  # the next batch falls in the next window
    predictor.close()
    book = fk.PredictionLog(directory)
    book.add_labels(ids, labels)
    book.add_labels(["b0-0", "nobody-1", "nobody-2"], [1 - labels[0], 0, 1])
    book.add_labels(["b0-1"], [labels[1]], timestamps=["2026-01-01T00:00:00Z"])
    return directory


def _assert_same(got, want) -> None:
    assert got.verdict == want.verdict
    assert got.decay_start == want.decay_start
    assert (got.served, got.labelled, got.unmatched_labels) == (
        want.served,
        want.labelled,
        want.unmatched_labels,
    )
    assert got.threshold == want.threshold
    assert list(got.windows.columns) == list(want.windows.columns)
    assert len(got.windows) == len(want.windows)
    for name in want.windows.columns:
        a, b = got.windows[name].to_numpy(), want.windows[name].to_numpy()
        if b.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=name)
        else:
            assert a.tolist() == b.tolist(), name


def test_spark_evaluate_equals_fk_evaluate_on_a_served_log(
    spark, holdout_artifact, log
) -> None:
    want = fk.evaluate(holdout_artifact, log, window=WINDOW, min_labels=20)
    got = fks.evaluate(spark, holdout_artifact, str(log), window=WINDOW, min_labels=20)
    assert len(want.windows) >= 4  # the scenario holds: windows, one unlabelled
    assert (want.windows["labelled"] == 0).any()
    assert want.verdict == "decay"
    assert want.unmatched_labels == 2
    _assert_same(got, want)


def test_spark_evaluate_equals_fk_evaluate_with_other_settings(
    spark, holdout_artifact, log
) -> None:
    kwargs = {"window": "1h", "metric": "log_loss", "margin": 0.5, "persist": 1}
    want = fk.evaluate(holdout_artifact, log, **kwargs)
    got = fks.evaluate(spark, holdout_artifact, str(log), **kwargs)
    _assert_same(got, want)


def test_an_empty_or_absent_log_gives_insufficient_labels(
    spark, holdout_artifact, tmp_path
) -> None:
    got = fks.evaluate(spark, holdout_artifact, str(tmp_path / "none"))
    assert got.verdict == "insufficient labels"
    assert got.windows.empty


@pytest.mark.parametrize("window", [100, 250, 10_000])
def test_spark_evaluate_equals_fk_evaluate_with_windows_of_n_labels(
    spark, holdout_artifact, log, window
) -> None:
    want = fk.evaluate(holdout_artifact, log, window=window, min_labels=20)
    got = fks.evaluate(spark, holdout_artifact, str(log), window=window, min_labels=20)
    _assert_same(got, want)


def test_a_window_of_no_labels_is_refused(spark, holdout_artifact, log) -> None:
    with pytest.raises(ValueError, match="positive number of labels"):
        fks.evaluate(spark, holdout_artifact, str(log), window=0)


def test_an_artifact_without_holdout_is_refused_before_spark_reads(
    spark, scale_artifact, log
) -> None:
    with pytest.raises(ValueError, match="no holdout performance"):
        fks.evaluate(spark, scale_artifact, str(log))


@pytest.fixture(scope="module")
def regressor_log(tmp_path_factory) -> tuple[Path, Path]:
    """A regressor with a holdout, and a log of two windows, the second one worse."""
    from sklearn.ensemble import RandomForestRegressor

    frame = scale_frame(600, seed=0).drop(columns="id")
    target = frame["age"] * 10.0 + frame["income"].fillna(0) / 1000
    pipe = fk.make_pipeline(
        fk.FeatureSet("amounts", SCALE_FEATURES.features, version=1),
        RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0),
    )
    pipe.fit(frame[:400], target[:400])
    folder = tmp_path_factory.mktemp("regressor")
    artifact = fk.export(
        pipe,
        folder / "amounts",
        reference=frame[:400],
        holdout=frame[400:],
        holdout_y=target[400:].to_numpy(),
    ).path
    predictor = Predictor.load(artifact, log=folder / "log")
    ids, labels = [], []
    for batch in range(2):
        rows = scale_frame(120, seed=30 + batch).drop(columns="id")
        batch_ids = [f"r{batch}-{i}" for i in range(len(rows))]
        predictor.predict(rows, ids=batch_ids)
        truth = rows["age"] * 10.0 + rows["income"].fillna(0) / 1000
        ids += batch_ids
        labels += (truth * (1.0 if batch == 0 else 1.5)).tolist()
        time.sleep(2.1)
    predictor.close()
    fk.PredictionLog(folder / "log").add_labels(ids, labels)
    return artifact, folder / "log"


@pytest.mark.parametrize("window", [WINDOW, 50])
def test_spark_evaluate_equals_fk_evaluate_for_a_regressor(
    spark, regressor_log, window
) -> None:
    artifact, directory = regressor_log
    want = fk.evaluate(artifact, directory, window=window, min_labels=20)
    got = fks.evaluate(spark, artifact, str(directory), window=window, min_labels=20)
    assert "mae" in want.windows.columns and len(want.windows) >= 2
    _assert_same(got, want)
