"""`replay`: score logged inputs again on this machine and report every row that differs.

`featurekit replay ARTIFACT DIR` reads the rows ARTIFACT served from the prediction log
at DIR, scores their logged inputs with the artifact's graph through
`serving.Predictor` here, and compares the answers with what was served: labels must
be equal and probabilities (or predictions) equal to the bit, unless a tolerance is
given. Skew on a serving host (another onnxruntime, another CPU) is then found from
production data instead of assumed absent. With ``trust_pickle=True`` the training
pipeline (``pipeline.joblib``) scores them too, within the parity certificate's
tolerance.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featurekit.artifact import read_manifest
from featurekit.outcomes.reading import PredictionLog

__all__ = ["ReplayReport", "replay"]

_CHUNK = 100_000  # rows scored at once


@dataclass
class ReplayReport:
    """What `replay` found.

    Attributes
    ----------
    rows : int
        Logged rows of this artifact replayed.
    differing : DataFrame
        One row per row whose answer here differs: ``row_id``, ``timestamp``,
        ``runtime`` ("onnxruntime", or "scikit-learn" with ``trust_pickle``),
        ``served`` and ``now`` (labels), ``max_abs_diff``, ``reason``.
    machine : dict
        onnxruntime version, CPU and platform of this replay.
    skipped : list of (str, str)
        Log files that could not be read.
    """

    rows: int
    differing: pd.DataFrame
    machine: dict[str, str]
    tolerance: float
    model: dict[str, Any]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.differing.empty)

    def __repr__(self) -> str:
        return f"ReplayReport({self.rows} rows replayed, {len(self.differing)} differ)"

    def to_json(self) -> str:
        return json.dumps(
            {
                "rows": self.rows,
                "differing": json.loads(
                    self.differing.to_json(orient="records", date_format="iso")
                ),
                "machine": self.machine,
                "tolerance": self.tolerance,
                "model": self.model,
                "skipped": [list(s) for s in self.skipped],
            },
            indent=2,
        )


def _machine() -> dict[str, str]:
    import onnxruntime

    return {
        "onnxruntime": onnxruntime.__version__,
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
    }


def replay(
    artifact: str | os.PathLike[str],
    directory: str | os.PathLike[str] | PredictionLog,
    *,
    tolerance: float = 0.0,
    trust_pickle: bool = False,
    since: Any = None,
    until: Any = None,
) -> ReplayReport:
    """Re-score the logged inputs of `artifact`'s rows and report every difference.

    Parameters
    ----------
    artifact : str or Path
    directory : str, Path or PredictionLog
    tolerance : float
        Largest accepted absolute difference of a probability or prediction
        (default 0: equal to the bit). Labels must always be equal.
    trust_pickle : bool
        Also score with the training pipeline, unpickled from ``pipeline.joblib``
        (runs whatever code that file holds: only for artifacts you built); compared
        within the certificate's tolerance.
    since, until : str or datetime, optional

    Raises
    ------
    ValueError
        A column the model reads is not in the log (declared ``pii=True``).
    """
    from serving import Predictor

    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}.")
    manifest = read_manifest(artifact)
    sha = manifest["files"]["model.onnx"]
    log = (
        directory if isinstance(directory, PredictionLog) else PredictionLog(directory)
    )
    table = log.predictions(model=sha, since=since, until=until)
    skipped = list(log.skipped)
    p = Predictor.load(artifact, monitor=False)
    model = {"name": p.name, "version": p.version, "sha256": sha}
    if table is None or table.num_rows == 0:
        return ReplayReport(0, _empty(), _machine(), tolerance, model, skipped)
    inputs = log.inputs(table)
    absent = [f.name for f in p.features.inputs if f.name not in inputs.columns]
    if absent:
        raise ValueError(
            f"The log has no column {absent} (declared pii=True, so it was not "
            "logged as served): these rows cannot be replayed."
        )
    served = _served(table, p.outputs)
    pipeline = _pipeline(artifact) if trust_pickle else None
    found = []
    for start in range(0, len(inputs), _CHUNK):
        part = inputs.iloc[start : start + _CHUNK].reset_index(drop=True)
        got = p.score(part, on_error="split")
        rows = np.arange(start, start + len(part))
        found.append(_compare("onnxruntime", table, rows, got, served, tolerance))
        if pipeline is not None:
            limit = float(manifest["certificate"]["tolerance"])
            found.append(_sklearn(pipeline, part, table, rows, served, p, limit))
    differing = pd.concat(found, ignore_index=True) if found else _empty()
    return ReplayReport(len(inputs), differing, _machine(), tolerance, model, skipped)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "row_id",
            "timestamp",
            "runtime",
            "served",
            "now",
            "max_abs_diff",
            "reason",
        ]
    )


def _served(table: Any, outputs: list[str]) -> dict[str, np.ndarray]:
    import pyarrow.compute as pc

    out: dict[str, np.ndarray] = {}
    for name in outputs:
        if name not in table.column_names:
            continue
        col = table[name].combine_chunks()
        if name in ("probabilities", "decision_function"):
            flat = pc.list_flatten(col).to_numpy()
            out[name] = flat.reshape(len(col), -1)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _rows(
    runtime: str,
    table: Any,
    at: np.ndarray,
    served: Any,
    now: Any,
    diff: Any,
    reason: Any,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": table["row_id"].take(at).to_pylist(),
            "timestamp": table["timestamp"].take(at).to_pandas(),
            "runtime": runtime,
            "served": served,
            "now": now,
            "max_abs_diff": diff,
            "reason": reason,
        }
    )


def _compare(
    runtime: str,
    table: Any,
    rows: np.ndarray,
    got: Any,
    served: dict[str, np.ndarray],
    tolerance: float,
) -> pd.DataFrame:
    """Rows of this chunk whose answer here differs from the served one."""
    passed = np.asarray(got.passed)
    frames = []
    refused = rows[~passed]
    if refused.size:
        why = (
            got.failures.groupby("index")["check"].first() if len(got.failures) else {}
        )
        frames.append(
            _rows(
                runtime,
                table,
                refused,
                None,
                None,
                np.nan,
                [
                    f"refused now: {why.get(i, 'contract')}"
                    for i in np.flatnonzero(~passed)
                ],
            )
        )
    scored = rows[passed]
    differs = np.zeros(scored.size, dtype=bool)
    diff = np.zeros(scored.size)
    label_now = label_then = None
    for name, now in got.scores.items():
        then = served.get(name)
        if then is None:
            continue
        then = then[scored]
        if name == "label":
            label_now = np.asarray(now).astype(str)
            label_then = np.asarray(then).astype(str)
            differs |= label_now != label_then
        else:
            d = np.abs(np.asarray(now, np.float64) - np.asarray(then, np.float64))
            d = d.reshape(len(scored), -1).max(axis=1) if d.size else d
            diff = np.maximum(diff, d)
            # bit-for-bit at tolerance 0, so -0.0/0.0 and NaN compare as they are
            differs |= (d > tolerance) if tolerance > 0 else ~_same_bits(now, then)
    if differs.any():
        at = np.flatnonzero(differs)
        then_at = now_at = None
        reason: Any = "answer differs"
        if label_now is not None and label_then is not None:
            then_at, now_at = label_then[at], label_now[at]
            reason = np.where(then_at != now_at, "label differs", "answer differs")
        frames.append(
            _rows(runtime, table, scored[at], then_at, now_at, diff[at], reason)
        )
    return pd.concat(frames, ignore_index=True) if frames else _empty()


def _same_bits(a: Any, b: Any) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(a, np.float64))
    y = np.ascontiguousarray(np.asarray(b, np.float64))
    same = x.view(np.uint64) == y.view(np.uint64)
    out: np.ndarray = same.reshape(x.shape[0], -1).all(axis=1)
    return out


def _pipeline(artifact: Any) -> Any:
    from featurekit.exporting.loading import load

    return load(artifact).pipeline


def _sklearn(
    pipeline: Any,
    part: pd.DataFrame,
    table: Any,
    rows: np.ndarray,
    served: dict[str, np.ndarray],
    p: Any,
    limit: float,
) -> pd.DataFrame:
    """The training pipeline's answers against the served ones, within `limit`."""
    from serving.split import Split

    scores: dict[str, np.ndarray] = {}
    if p.kind == "classifier":
        scores["label"] = pipeline.predict(part)
        if "probabilities" in served:
            scores["probabilities"] = pipeline.predict_proba(part)
    else:
        scores["prediction"] = pipeline.predict(part)
    got = Split(scores, np.ones(len(part), dtype=bool), part.index, pd.DataFrame())
    return _compare("scikit-learn", table, rows, got, served, max(limit, 1e-300))
