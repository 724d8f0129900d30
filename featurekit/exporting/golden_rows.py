"""Choose the golden rows an artifact carries, and record the answers they must give.

The rows are a spread of those the parity certificate covered: reference rows, the
generated edge cases and, for tree models, raw values beside split thresholds (see
`featurekit.exporting.probes`). Their expected answers are scikit-learn's; a tree
model's expected features are the float64 values the exported graph computed here,
which the certificate proved bit-identical to scikit-learn's (except for log1p
columns whose splits moved to raw space: those carry the raw value by design).

Before they are written, the rows are read back from their JSON and verified on this
machine with the very code `serving.Predictor.load` runs, so an artifact never ships
golden rows its own exporter cannot pass.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.errors import ExportError
from featurekit.golden import GoldenRows, machine, verify, with_outputs

__all__ = ["EDGE_ROWS", "REFERENCE_ROWS", "SPLIT_ROWS", "golden_rows", "spread"]

#: At most this many rows of each source: a few hundred in all, a few ms to run.
REFERENCE_ROWS, EDGE_ROWS, SPLIT_ROWS = 64, 128, 128


def golden_rows(
    pipeline: Any,
    columns: Columns,
    info: dict[str, Any],
    model: bytes,
    reference: pd.DataFrame,
    manifest: dict[str, Any],
    *,
    split_rows: list[tuple[str, dict[str, Any]]] | None = None,
    session: Any = None,
) -> GoldenRows:
    """Choose, score and self-verify the golden rows of an artifact being exported.

    Parameters
    ----------
    pipeline : Pipeline
        The fitted pipeline, already certified.
    columns : Columns
        The artifact's contract, compiled.
    info : dict
        What the graph builder reported (kind, tree precision, features tensors).
    model : bytes
        The exported graph, as written to ``model.onnx``.
    reference : DataFrame
        The reference rows the certificate used.
    manifest : dict
        The manifest being written: kind, outputs and certificate.
    split_rows : list of (name, record), optional
        The split values the certificate scored with the whole model (at most
        `SPLIT_ROWS`); chosen here from every split when not given.
    session : featurekit.runtime.Session, optional
        A session of `model` that also outputs the features tensors; made here when
        not given (a big forest's session is worth sharing).

    Returns
    -------
    GoldenRows

    Raises
    ------
    ExportError
        A chosen row cannot be written as JSON, or the rows do not verify here
        (a featurekit bug: the certificate covered them).
    """
    records, names = _choose(pipeline, columns, reference, split_rows)
    expected: dict[str, list[Any]] = {}
    with np.errstate(over="ignore", invalid="ignore"):  # as in the certificate
        for output in manifest["outputs"]:
            if output == "label":
                expected[output] = [_plain(v) for v in pipeline.predict(records)]
                continue
            method = {"probabilities": "predict_proba", "prediction": "predict"}
            answer = getattr(pipeline, method.get(output, output))(records)
            expected[output] = np.asarray(answer, dtype=np.float64).tolist()
    from featurekit.runtime import Session

    exact = info["features_exact"] if info["tree_precision"] else None
    if session is None:
        session = Session(with_outputs(model, [exact] if exact else []), threads=1)

    def run(rows: list[dict[str, Any]], outputs: list[str]) -> dict[str, np.ndarray]:
        feeds, n = columns.coerce(rows)
        return dict(zip(outputs, session.run(feeds, n, outputs), strict=True))

    features, feature_names = None, []
    if exact:
        features = run(records, [exact])[exact]
        feature_names = [
            str(n) for n in pipeline.named_steps["features"].get_feature_names_out()
        ]
        _same_as_sklearn(pipeline, info, records, names, features)
    golden = GoldenRows(
        records, names, expected, features, exact, feature_names, machine()
    )
    # read back from JSON, exactly as a loading machine will
    result = verify(
        GoldenRows.from_json(golden.to_json()),
        run,
        kind=info["kind"],
        outputs=manifest["outputs"],
        certificate=manifest["certificate"],
        artifact=repr(columns.features.name),
    )
    if not result.ok:
        raise ExportError(
            f"The golden rows do not verify on the machine exporting them, although "
            f"the certificate covered them: {result.message} This is a featurekit "
            "bug; please report it with the artifact's declarations."
        )
    return golden


def _choose(
    pipeline: Any,
    columns: Columns,
    reference: pd.DataFrame,
    split_rows: list[tuple[str, dict[str, Any]]] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """An even spread of reference rows, edge cases and values beside splits."""
    from featurekit.exporting.probes import (
        base_row,
        edge_rows,
        split_columns,
        threshold_values,
    )

    names = list(columns.features.columns)
    records, labels = [], []
    sample = reference.iloc[spread(len(reference), REFERENCE_ROWS)]
    records += _records(sample, names)
    labels += [f"reference row {_plain(label)!r}" for label in sample.index]
    base = base_row(columns, reference)
    edges = list(edge_rows(columns, base, reference, columns.categories))
    for i in spread(len(edges), EDGE_ROWS):
        reason, record = edges[i]
        records.append({c: _plain(v) for c, v in record.items()})
        labels.append(reason)
    if split_rows is None:
        values = split_columns(columns, threshold_values(pipeline)[0])
        pairs = [(c, v) for c, vs in values.items() for v in vs.tolist()]
        split_rows = [
            (f"split value {c}={v!r}", {**base, c: v})
            for c, v in (pairs[i] for i in spread(len(pairs), SPLIT_ROWS))
        ]
    for label, record in split_rows[:SPLIT_ROWS]:
        records.append({c: _plain(record[c]) for c in names})
        labels.append(label)
    return records, labels


def _records(frame: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    # column by column: a row of an all-numeric frame would turn its ints into floats
    values = {c: frame[c].tolist() for c in names if c in frame.columns}
    return [{c: _plain(v[k]) for c, v in values.items()} for k in range(len(frame))]


def spread(n: int, k: int) -> list[int]:
    """At most `k` positions out of `n`, evenly spread, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(x) for x in np.linspace(0, n - 1, k)})


def _same(a: Any, b: Any) -> bool:
    return bool(a == b or (a != a and b != b))


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: None for missing, dates as ISO-8601 text."""
    if isinstance(value, np.datetime64 | pd.Timestamp | _dt.date):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None  # the contract reads NaN and None alike: missing
    if isinstance(value, bool | int | float | str):
        return value
    raise ExportError(
        f"A golden row holds {value!r} of type {type(value).__name__}, which "
        "golden.json cannot store as plain JSON; expected a number, a string, a "
        "date or a missing value. Pass reference rows of those types."
    )


def _same_as_sklearn(
    pipeline: Any,
    info: dict[str, Any],
    records: list[dict[str, Any]],
    names: list[str],
    features: np.ndarray,
) -> None:
    """Refuse unless the graph's features are scikit-learn's, bit for bit."""
    with np.errstate(over="ignore", invalid="ignore"):
        sk = np.asarray(pipeline[:-1].transform(records), dtype=np.float64)
    same = (sk.view(np.uint64) == features.view(np.uint64)) | (
        np.isnan(sk) & np.isnan(features)
    )
    same[:, info["pushed"]] = True  # these reach the trees raw, by design
    if not same.all():
        i = int(np.argmin(same.all(axis=1)))
        raise ExportError(
            f"The golden row {names[i]!r} gets other features from the graph than "
            "from scikit-learn, although the certificate covered it; this is a "
            "featurekit bug, please report it with the artifact's declarations."
        )
