"""Score and test drift on Spark DataFrames: `predict` and `drift` (``featurekit[spark]``).

How it runs
-----------
- The artifact is read and verified once on the driver; its files (not
  ``pipeline.joblib``) are broadcast once, never pickled objects.
- Each Python worker builds one `serving.Predictor` from them the first time a task
  needs it, after Spark forked the worker (a session created on the driver and
  shipped, or created before the fork, is what hangs in onnxruntime#9473), and keeps
  it for every later task: Spark reuses its Python workers. The worker runs the
  artifact's golden rows on its own onnxruntime before it scores anything.
- Batches move as Arrow record batches (``mapInArrow``): the input columns pass
  through untouched (an id column keeps its type and its nulls; ``mapInPandas``
  would turn a nullable integer into floats), and the outputs are built as Arrow
  arrays.
- The predictor's threads are the task's cores (``spark.task.cpus``, never 0):
  onnxruntime itself runs one intra-op thread per run, so that tree sums follow
  scikit-learn's order, and a batch larger than `featurekit.runtime.CHUNK_ROWS`
  is scored in that many chunks at once.

`evaluate` (`featurekit.spark.evaluation`) reads a prediction log with Spark and
answers what `featurekit.evaluate` answers.

`drift` counts every partition over the reference profile's bins, ships the counters
(JSON) to the driver and adds them up: the same `featurekit.DriftReport` that
`featurekit.drift` gives on the collected data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

from featurekit.batches import (
    FAILURES,
    PASSED,
    added_columns,
    check_columns,
    load_shipped,
    score_batch,
    ship,
    worker_threads,
)
from featurekit.errors import ArtifactError
from featurekit.spark.evaluation import evaluate

__all__ = ["FAILURES", "PASSED", "drift", "evaluate", "predict"]

_MISSING_SPARK = (
    "featurekit.spark needs pyspark and pyarrow: pip install 'featurekit[spark]'."
)
#: Per Python worker: one Predictor per (model sha256, threads, verify).
_PREDICTORS: dict[tuple[str, int, str], Any] = {}
#: Per Python worker: the sha256 of each model it loaded, in order (tests read it).
LOADED: list[str] = []


def _predictor(files: Any, verify: str) -> Any:
    """The Predictor of the broadcast artifact `files` in this worker, built once."""
    from pyspark import TaskContext

    context = TaskContext.get()
    threads = worker_threads(context.cpus() if context is not None else 1)
    data: dict[str, bytes] = files.value
    manifest = json.loads(data["manifest.json"])
    key = (manifest["files"]["model.onnx"], threads, verify)
    found = _PREDICTORS.get(key)
    if found is None:
        found = load_shipped(data, threads=threads, verify=verify)
        _PREDICTORS[key] = found
        LOADED.append(key[0])
    return found


def _output_fields(manifest: dict[str, Any]) -> list[Any]:
    from pyspark.sql import types as T

    classes = manifest.get("classes") or []
    if any(isinstance(c, str) for c in classes):
        label: Any = T.StringType()
    elif any(isinstance(c, bool) for c in classes):
        label = T.BooleanType()
    elif any(isinstance(c, float) for c in classes):
        label = T.DoubleType()
    else:
        label = T.LongType()
    fields = []
    for name in manifest["outputs"]:
        if name == "label":
            kind = label
        elif name == "probabilities" or (
            name == "decision_function" and len(classes) > 2
        ):
            kind = T.ArrayType(T.DoubleType(), containsNull=False)
        else:
            kind = T.DoubleType()
        fields.append(T.StructField(name, kind, nullable=True))
    fields.append(T.StructField(PASSED, T.BooleanType(), nullable=False))
    fields.append(T.StructField(FAILURES, T.StringType(), nullable=True))
    return fields


def predict(sdf: Any, artifact: Any, *, verify: str = "strict") -> Any:
    """Score a Spark DataFrame with an artifact; refused rows stay, with their reason.

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        Holds the artifact's input columns (by name); any other column passes
        through.
    artifact : str, Path or Artifact
        The artifact directory, readable by the driver.
    verify : {"strict", "warn", "off"}
        What each worker does with the artifact's golden rows, as in
        `serving.Predictor.load`.

    Returns
    -------
    pyspark.sql.DataFrame
        Every input column, then the model's outputs (``label`` and
        ``probabilities``, or ``prediction``; null on a refused row),
        ``contract_passed`` and ``contract_failures`` (null when the row passed,
        else each failure as ``column: check (value)``, joined by ``"; "``).
        Rows keep their order within each partition.

    Raises
    ------
    ValueError
        An input column is absent, or an output's name is taken by an input column.
    featurekit.errors.ArtifactError
        The artifact cannot be read (raised on the driver, before any task).

    Examples
    --------
    >>> predict(None, "no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    files, manifest = ship(artifact)
    try:
        from pyspark.sql import types as T
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError(_MISSING_SPARK) from exc
    inputs = check_columns(sdf.columns, manifest, added_columns(manifest))
    schema = T.StructType([*sdf.schema.fields, *_output_fields(manifest)])
    shipped = sdf.sparkSession.sparkContext.broadcast(files)
    return sdf.mapInArrow(
        partial(_score_batches, shipped, inputs, list(manifest["outputs"]), verify),
        schema,
    )


def _score_batches(
    files: Any, inputs: list[str], outputs: list[str], verify: str, batches: Any
) -> Iterator[Any]:
    """Worker side: each Arrow batch with the outputs and the verdict appended."""
    predictor = _predictor(files, verify)
    for table in _regrouped(batches, BATCH_ROWS):
        yield from score_batch(predictor, table, inputs, outputs).to_batches()


#: Rows a worker scores at once: Spark's Arrow batches (10,000 rows by default,
#: ``spark.sql.execution.arrow.maxRecordsPerBatch``) are gathered up to this many,
#: so the per-call costs (the contract's columns, the session run) are paid less often.
BATCH_ROWS = 100_000


def _regrouped(batches: Any, rows: int) -> Iterator[Any]:
    """Arrow tables of at least `rows` rows (the last one fewer), batches in order."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def drift(sdf: Any, artifact: Any, *, outputs: bool = True) -> Any:
    """Test a Spark DataFrame for drift against the artifact's reference profile.

    Each partition is counted over the profile's bins (and, with `outputs`, scored);
    the driver adds the counters up. The result is the `featurekit.DriftReport`
    that ``featurekit.drift(artifact, sdf.select(inputs).toPandas())`` gives: the
    same counts, verdicts and p-values (the two float sums behind the mean test are
    added per partition, so they agree to rounding).

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        Holds the artifact's input columns; other columns are not read.
    artifact : str, Path or Artifact
    outputs : bool
        Also score the rows that pass the contract and test the model's outputs.

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> drift(None, "no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    from featurekit.detection import Drift
    from featurekit.monitoring.counts import Counts

    files, manifest = ship(artifact)
    inputs = check_columns(sdf.columns, manifest)
    from pyspark.sql import types as T

    shipped = sdf.sparkSession.sparkContext.broadcast(files)
    schema = T.StructType([T.StructField("counts", T.StringType(), nullable=False)])
    rows = (
        sdf.select(*inputs)
        .mapInArrow(partial(_count_batches, shipped, outputs), schema)
        .collect()
    )
    total = Drift(getattr(artifact, "path", artifact), outputs=outputs)
    for row in rows:
        try:
            part = Counts.from_dict(total.profile, json.loads(row["counts"]))
        except ValueError as exc:  # a worker with another profile: not ours
            raise ArtifactError(f"A partition's counters do not fit: {exc}") from exc
        total.counts = total.counts.merge(part)
    return total.report()


def _count_batches(files: Any, outputs: bool, batches: Any) -> Iterator[Any]:
    """Worker side: one row holding the partition's counters as JSON."""
    import pyarrow as pa

    from featurekit.detection import Drift

    counter = Drift(_predictor(files, "strict"), outputs=outputs)
    for batch in batches:
        counter.add(batch.to_pandas())
    text = json.dumps(counter.counts.to_dict(), allow_nan=False)
    yield pa.RecordBatch.from_arrays([pa.array([text], pa.string())], names=["counts"])
