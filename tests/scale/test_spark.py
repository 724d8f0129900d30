"""featurekit.spark on a real local Spark: row for row what the single-process path gives."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scale_data import assert_scored_as_predictor, refused_rows, scale_frame

import featurekit as fk
from featurekit.errors import ArtifactError

fks = pytest.importorskip("featurekit.spark")
pytest.importorskip("pyspark")


def collected(sdf) -> pd.DataFrame:
    """The rows on the driver (pyspark 4.3's toPandas passes pandas 3 a deprecated copy=)."""
    rows = [r.asDict() for r in sdf.collect()]
    return pd.DataFrame(rows, columns=sdf.columns)


SCHEMA = "id long, income double, age long, plan string, region string"


def to_spark(spark, frame: pd.DataFrame, partitions: int = 3):
    """Missing values as Spark nulls (from pandas, a missing string becomes 'nan')."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    columns = [c for c in SCHEMA.split(", ") if c.split()[0] in frame.columns]
    return spark.createDataFrame(records, ", ".join(columns)).repartition(partitions)


def scored(spark, frame: pd.DataFrame, artifact, partitions: int = 3) -> pd.DataFrame:
    sdf = to_spark(spark, frame, partitions)
    return collected(fks.predict(sdf, artifact)).sort_values("id", ignore_index=True)


def test_predict_equals_the_single_process_predictor_row_for_row(spark, scale_artifact):
    frame = refused_rows(scale_frame(600, seed=3))
    got = scored(spark, frame, scale_artifact)
    assert_scored_as_predictor(got, frame, scale_artifact)


def test_a_refused_row_is_kept_with_its_reason(spark, scale_artifact):
    frame = refused_rows(scale_frame(40, seed=4))
    got = scored(spark, frame, scale_artifact, partitions=2).set_index("id")
    ids = frame["id"].to_numpy()
    assert len(got) == 40
    gold, young, negative = got.loc[ids[3]], got.loc[ids[10]], got.loc[ids[11]]
    assert not gold["contract_passed"]
    assert gold["contract_failures"].startswith("plan: isin(")
    assert gold["contract_failures"].endswith("('gold')")
    assert young["contract_failures"] == "age: in_range(18, 120) (7)"
    assert negative["contract_failures"] == "income: greater_than_or_equal_to(0) (-5.0)"
    for row in (gold, young, negative):
        assert pd.isna(row["label"]) and row["probabilities"] is None
    passed = got.drop(index=ids[[3, 10, 11]])
    assert passed["contract_passed"].all()
    assert passed["contract_failures"].isna().all()


def test_input_columns_pass_through_with_their_types_and_nulls(spark, scale_artifact):
    frame = scale_frame(30, seed=6)
    sdf = to_spark(spark, frame.drop(columns="id")).selectExpr(
        "*",
        "CASE WHEN age > 80 THEN NULL ELSE CAST(age * 7 AS BIGINT) END AS account",
        "TIMESTAMP '2026-01-02 03:04:05' AS seen_at",
    )
    out = fks.predict(sdf, scale_artifact)
    types = dict(out.dtypes)
    assert types["account"] == "bigint" and types["seen_at"] == "timestamp"
    assert types["label"] == "bigint" and types["probabilities"] == "array<double>"
    rows = out.select("age", "account", "seen_at").collect()
    for row in rows:
        assert row["account"] == (None if row["age"] > 80 else row["age"] * 7)
        assert row["seen_at"] == dt.datetime(2026, 1, 2, 3, 4, 5)


def test_one_predictor_per_python_worker_across_tasks_and_jobs(spark, scale_artifact):
    """Spark reuses its Python workers: each builds the session once, in itself."""
    frame = scale_frame(200, seed=7)
    for _ in range(2):
        scored(spark, frame, scale_artifact, partitions=6)

    def report(batches):
        import os

        import pyarrow as pa

        import featurekit.spark as mod

        for _ in batches:
            pass
        loads = [len(mod.LOADED)]
        yield pa.RecordBatch.from_arrays(
            [pa.array([os.getpid()]), pa.array(loads)], names=["pid", "loaded"]
        )

    seen = collected(
        spark.range(6).repartition(6).mapInArrow(report, "pid long, loaded long")
    ).drop_duplicates("pid")
    assert len(seen) <= 2  # local[2]: two reused Python workers at most
    # 12 tasks scored; each worker that ran one loaded the model exactly once
    assert (seen["loaded"] == 1).all(), seen


def test_missing_input_column_is_refused_on_the_driver(spark, scale_artifact):
    sdf = to_spark(spark, scale_frame(5, seed=1).drop(columns=["plan"]))
    with pytest.raises(ValueError, match=r"no column \['plan'\]"):
        fks.predict(sdf, scale_artifact)
    with pytest.raises(ValueError, match=r"no column \['plan'\]"):
        fks.drift(sdf, scale_artifact)


def test_an_input_column_named_like_an_output_is_refused(spark, scale_artifact):
    sdf = to_spark(spark, scale_frame(5, seed=1)).withColumnRenamed("id", "label")
    with pytest.raises(ValueError, match=r"already has columns \['label'\]"):
        fks.predict(sdf, scale_artifact)


def test_no_artifact_is_an_artifact_error_before_any_task(spark, tmp_path):
    sdf = to_spark(spark, scale_frame(5, seed=1))
    with pytest.raises(ArtifactError, match="No artifact at"):
        fks.predict(sdf, tmp_path / "nothing")


def drifted(n: int) -> pd.DataFrame:
    frame = refused_rows(scale_frame(n, seed=8))
    frame["income"] = frame["income"] * 1.6  # incomes moved up: drift
    frame.loc[frame.index[::5], "region"] = "west"  # unseen region
    return frame


@pytest.mark.parametrize("outputs", [True, False])
def test_drift_merges_partitions_into_the_collected_report(
    spark, scale_artifact, outputs
):
    frame = drifted(900)
    sdf = to_spark(spark, frame, partitions=4)
    got = fks.drift(sdf, scale_artifact, outputs=outputs)
    inputs = ["income", "age", "plan", "region"]
    expected = fk.drift(scale_artifact, collected(sdf.select(*inputs)), outputs=outputs)
    assert got.rows == expected.rows == 900
    assert got.verdict == expected.verdict == "drift"
    mine, theirs = got.counts.to_dict(), expected.counts.to_dict()
    for name, bins in theirs["bins"].items():
        for key in ("counts", "missing", "rows", "valid", "unseen"):
            assert mine["bins"][name][key] == bins[key], (name, key)
        for key in ("total", "sumsq"):  # float sums: added per partition
            assert mine["bins"][name][key] == pytest.approx(bins[key], rel=1e-12)
    a, b = got.table.set_index("feature"), expected.table.set_index("feature")
    assert a["verdict"].to_dict() == b["verdict"].to_dict()
    assert a["signals"].to_dict() == b["signals"].to_dict()
    np.testing.assert_allclose(
        a["p_value"].astype(float), b["p_value"].astype(float), rtol=1e-9
    )
