"""`featurekit.spark.evaluate`: `featurekit.evaluate` of a Parquet prediction log on Spark.

Spark does the reading, the last row per id, the latest label per id, the join and
the reduction of each window to counts: rows served and labelled, the exact median
label latency, and the labelled rows' distinct (label, answer, probabilities) with
how often each occurs. The driver turns those counts into the report with the code
`featurekit.evaluate` runs (`featurekit.outcomes.evaluation` and
`featurekit.outcomes.metrics`): one definition of every figure, window and decay.
"""

from __future__ import annotations

import math
import tempfile
from typing import Any

__all__ = ["evaluate"]


def evaluate(
    spark: Any,
    artifact: Any,
    directory: str,
    *,
    window: str | int = "1d",
    metric: str | None = None,
    margin: float | str | None = None,
    persist: int = 2,
    min_labels: int = 30,
) -> Any:
    """`featurekit.evaluate` on Spark: the prediction log at `directory`, read by Spark.

    Spark reads the Parquet log (any path Spark reads: ``s3a://``, ``hdfs://``), keeps
    `artifact`'s rows, the last row per id and the latest label per id, joins them
    and reduces each window to its counts (served, labelled), its median label
    latency and, for the labelled rows, the counts of each distinct (label, answer,
    probabilities) combination. The driver turns those into the figures with the code
    `featurekit.evaluate` runs (`featurekit.outcomes.metrics`, its calibration, label
    drift and decay rule), so the report is the same: counts, verdicts and intervals
    equal, float means to rounding (1e-12 relative).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    artifact : str, Path or Predictor
        Exported with ``holdout_y=``, as for `featurekit.evaluate`.
    directory : str
        The log's root (``featurekit serve --log DIR``), as Spark addresses it.
    window : str or int
        A time span by serving time (``"1h"``, ``"1d"``, ``"1w"``), or a number of
        labelled rows per window (counted in serving order, which takes one ordered
        pass over every row: Spark moves them to one partition for it).
    metric, margin, persist, min_labels
        As `featurekit.evaluate`.

    Returns
    -------
    featurekit.outcomes.evaluation.EvaluationReport

    Examples
    --------
    >>> evaluate(None, "no/such/artifact", "log/")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    import pandas as pd

    from featurekit.outcomes import evaluation as E
    from featurekit.outcomes.log import parse_duration
    from featurekit.outcomes.metrics import HIGHER_IS_BETTER

    labels = (
        window if isinstance(window, int) and not isinstance(window, bool) else None
    )
    if labels is not None and labels < 1:
        raise ValueError(f"window must be a positive number of labels, got {labels}.")
    manifest = E._manifest(artifact)
    # fk.evaluate on an empty log: its refusals (no holdout, an unknown metric, a bad
    # margin or window) before Spark reads anything, and the report's frame
    with tempfile.TemporaryDirectory() as nothing:
        empty = E.evaluate(
            artifact,
            nothing,
            window=window,
            metric=metric,
            margin=margin,
            persist=persist,
            min_labels=min_labels,
        )
    span = 0 if labels is not None else int(parse_duration(window) * 1_000_000)
    joined, unmatched = _joined(spark, str(directory), manifest)
    if joined is None:
        return empty
    joined = _keyed(joined, labels, span)
    sums = joined.groupBy("_key").agg(*_counted()).orderBy("_key").collect()
    answers = _answers(joined, manifest).toArrow()
    rows = _window_rows(sums, answers, window, span, manifest)
    if labels is not None:  # a window of N labels spans its first to its last row
        for row, s in zip(rows, sums, strict=True):
            row["start"], row["end"] = E._iso(s["first_us"]), E._iso(s["last_us"])
    frame = pd.DataFrame(rows)
    higher = HIGHER_IS_BETTER[empty.metric]
    verdict, start = E._decide(
        frame, empty.metric, empty.threshold, higher, persist, min_labels
    )
    empty.verdict, empty.decay_start, empty.windows = verdict, start, frame
    empty.served = sum(int(s["served"]) for s in sums)
    empty.labelled = sum(int(s["labelled"]) for s in sums)
    empty.unmatched_labels = unmatched
    return empty


def _read(spark: Any, path: str) -> Any:
    """``spark.read.parquet(path)``, or None where there is nothing (no such folder)."""
    from pyspark.errors import AnalysisException

    try:
        return spark.read.parquet(path)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "UNABLE_TO_INFER_SCHEMA" in str(exc):
            return None
        raise


def _joined(spark: Any, root: str, manifest: dict[str, Any]) -> tuple[Any, int]:
    """The model's last row per id with its latest label; labels that match none."""
    from pyspark.sql import functions as F

    root = root.rstrip("/")
    served = _read(spark, f"{root}/predictions")
    if served is None:
        return None, 0
    outs = [
        o for o in ("label", "probabilities", "prediction") if o in manifest["outputs"]
    ]
    extra = [
        F.col(c) if c in served.columns else F.lit(None).alias(c)
        for c in ("model_label", "propensity")
    ]
    # where a row sits in the log: serving order among rows of one timestamp
    place = [
        F.input_file_name().alias("_file"),
        F.monotonically_increasing_id().alias("_pos"),
    ]
    row = F.struct("timestamp", *outs, *extra, *place)
    # the last row per id (an id the client sent twice): the later one, by time
    served = (
        served.where(F.col("model_sha256") == manifest["files"]["model.onnx"])
        .select("row_id", row.alias("r"))
        .groupBy("row_id")
        .agg(F.max_by("r", F.struct("r.timestamp", "r._file", "r._pos")).alias("r"))
        .select("row_id", "r.*")
    )
    labels = _read(spark, f"{root}/labels")
    if labels is None:
        served = served.withColumn("y_text", F.lit(None).cast("string"))
        served = served.withColumn("outcome", F.lit(None).cast("timestamp"))
        unmatched = 0
    else:
        # the latest received label per id; among equal times the later file and row
        labels = labels.select(
            "row_id",
            F.struct(
                F.col("label").alias("y_text"),
                F.coalesce("label_timestamp", "received_at").alias("outcome"),
            ).alias("g"),
            F.struct(
                "received_at",
                F.input_file_name().alias("f"),
                F.monotonically_increasing_id().alias("i"),
            ).alias("o"),
        )
        latest = (
            labels.groupBy("row_id")
            .agg(F.max_by("g", "o").alias("g"))
            .select("row_id", "g.*")
        )
        unmatched = latest.join(served.select("row_id"), "row_id", "left_anti").count()
        served = served.join(latest, "row_id", "left")
    latency = F.unix_micros("outcome") - F.unix_micros("timestamp")
    return served.withColumn("_latency", latency), int(unmatched)


def _keyed(joined: Any, labels: int | None, span: int) -> Any:
    """`joined` with ``_key``: its window, by time span or by `labels` labelled rows."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if labels is None:
        return joined.withColumn("_key", F.expr(f"unix_micros(timestamp) div {span}"))
    # fk.evaluate's rule: the labels served before a row decide its window, and rows
    # after the last full window's labels join the last window
    labelled = F.col("y_text").isNotNull().cast("long")
    order = Window.orderBy("timestamp", "_file", "_pos").rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    total = joined.where(F.col("y_text").isNotNull()).count()
    last = max(total - 1, 0) // labels
    before = joined.withColumn("_before", F.sum(labelled).over(order) - labelled)
    key = F.least(F.expr(f"_before div {labels}"), F.lit(last))
    return before.withColumn("_key", key).drop("_before")


def _counted() -> list[Any]:
    """Per window: rows served, rows labelled, the median label latency (µs, exact)."""
    from pyspark.sql import functions as F

    return [
        F.count(F.lit(1)).alias("served"),
        F.count("y_text").alias("labelled"),
        F.percentile("_latency", F.lit(0.5)).alias("latency_us"),
        F.min(F.unix_micros("timestamp")).alias("first_us"),
        F.max(F.unix_micros("timestamp")).alias("last_us"),
    ]


def _answers(joined: Any, manifest: dict[str, Any]) -> Any:
    """Labelled rows per window, counted per distinct (label, answer, probabilities)."""
    from pyspark.sql import functions as F

    if manifest["kind"] == "classifier":
        # a class by its text, as fk.evaluate matches it; -1: none of the classes
        pairs = [
            x
            for i, c in enumerate(manifest.get("classes") or [])
            for x in (F.lit(str(c)), F.lit(i))
        ]
        lookup = F.create_map(*pairs)
        y = F.coalesce(lookup[F.col("y_text")], F.lit(-1))
        yhat = F.coalesce(lookup[F.coalesce("model_label", "label")], F.lit(-1))
        keys = [y.alias("y"), yhat.alias("yhat"), F.col("propensity").cast("double")]
        if "probabilities" in joined.columns:
            keys.append(F.col("probabilities"))
    else:
        keys = [
            F.col("y_text").cast("double").alias("y"),
            F.col("prediction").alias("yhat"),
        ]
    return (
        joined.where(F.col("y_text").isNotNull())
        .groupBy("_key", *keys)
        .agg(F.count(F.lit(1)).alias("_count"))
    )


def _window_rows(
    sums: list[Any],
    answers: Any,
    window: str | int,
    span: int,
    manifest: dict[str, Any],
) -> list[dict[str, Any]]:
    """`featurekit.evaluate`'s window rows, computed by its own code from the counts."""
    import numpy as np

    from featurekit.outcomes import evaluation as E
    from featurekit.outcomes.joining import Joined

    kind, classes = manifest["kind"], manifest.get("classes") or []
    profile = manifest["holdout"].get("labels")
    counts = np.asarray(answers["_count"].to_numpy(zero_copy_only=False), np.int64)
    keys = np.repeat(answers["_key"].to_numpy(zero_copy_only=False), counts)
    order = np.argsort(keys, kind="stable")  # each window's labelled rows together
    keys = keys[order]
    columns = {
        name: np.repeat(_numpy(answers[name]), counts, axis=0)[order]
        for name in answers.column_names
        if name not in ("_key", "_count")
    }
    rows = []
    for s in sums:
        key, served, labelled = int(s["_key"]), int(s["served"]), int(s["labelled"])
        at = slice(*np.searchsorted(keys, [key, key + 1]))
        if labelled:
            start = np.full(at.stop - at.start, key * span, dtype=np.int64)
            data = Joined(
                timestamp=start,
                labelled=np.ones(start.size, dtype=bool),
                y=columns["y"][at],
                yhat=columns["yhat"][at],
                proba=columns["probabilities"][at]
                if "probabilities" in columns
                else None,
                outcome_time=start,  # the latency is Spark's exact median, set below
                propensity=columns["propensity"][at]
                if "propensity" in columns
                else None,
                unmatched=0,
            )
            row = E._windows(data, window, kind, classes, profile)[0]
            row["latency_median_s"] = float(s["latency_us"]) / 1e6
        else:
            row = {
                "start": E._iso(key * span),
                "end": E._iso((key + 1) * span),
                "latency_median_s": math.nan,
                "label_drift": E._label_drift(profile, np.empty(0), kind),
            }
        row.update(served=served, labelled=labelled, coverage=labelled / served)
        rows.append(_ordered(row))
    return rows


def _numpy(column: Any) -> Any:
    """An Arrow column as numpy: lists as a 2-d float array, nulls as NaN."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks()
    if pa.types.is_list(column.type):
        flat = np.asarray(
            pc.list_flatten(column).to_numpy(zero_copy_only=False), np.float64
        )
        return flat.reshape(len(column), -1)
    if pa.types.is_floating(column.type):
        return np.asarray(column.fill_null(np.nan).to_numpy(zero_copy_only=False))
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with fk.evaluate's leading columns first, in its order."""
    first = ["start", "end", "served", "labelled", "coverage", "latency_median_s"]
    return {
        **{k: row[k] for k in first},
        **{k: v for k, v in row.items() if k not in first},
    }
