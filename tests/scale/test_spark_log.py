"""The prediction log is plain Parquet: a real local Spark reads it as it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scale_data import scale_frame

from serving import Predictor


def test_spark_reads_the_prediction_log_with_its_partitions(
    spark, scale_artifact: Path, tmp_path
) -> None:
    frame = scale_frame(120, seed=5).drop(columns="id")
    p = Predictor.load(scale_artifact, log=tmp_path / "log")
    proba = p.predict_proba(frame, ids=[f"r{i}" for i in range(120)])
    p.close()
    sdf = spark.read.parquet(str(tmp_path / "log" / "predictions"))
    assert {"date", "hour", "row_id", "inputs", "probabilities", "model_sha256"} <= set(
        sdf.columns
    )
    assert (
        sdf.schema["hour"].dataType.typeName() == "integer"
    )  # hour=H, not zero-padded
    rows = {
        r["row_id"]: r
        for r in sdf.select("row_id", "probabilities", "inputs.*").collect()
    }
    assert len(rows) == 120
    np.testing.assert_array_equal(
        np.array([rows[f"r{i}"]["probabilities"] for i in range(120)]), proba
    )
    first = frame.iloc[0]
    for name in frame.columns:
        got, want = rows["r0"][name], first[name]
        assert (got is None and (want is None or want != want)) or got == want, name
