"""`evaluate`: realised performance of a served model, window by window, from its log.

Served rows of one artifact (by the sha256 of its model.onnx) are joined to their
latest labels. Per window (a time span such as ``"1d"``, or a count of labelled
rows) the report has the realised metrics with 95 % intervals, label coverage and
latency, label drift against the holdout labels (the two-gate rule of feature drift)
and calibration (expected calibration error).

Decay is a realised metric worse than the holdout's by more than `margin`, with the
whole 95 % interval beyond that line, in `persist` consecutive windows that have at
least `min_labels` labels; the report names the window where it starts.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featurekit.artifact import read_manifest
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.verdicts import evaluate as drift_verdicts
from featurekit.outcomes import metrics as M
from featurekit.outcomes.holdout import LABEL
from featurekit.outcomes.joining import Joined, join
from featurekit.outcomes.log import parse_duration
from featurekit.outcomes.metrics import DEFAULT_MARGINS, decay_line
from featurekit.outcomes.reading import PredictionLog

__all__ = ["DEFAULT_MARGINS", "EvaluationReport", "decay_line", "evaluate"]


@dataclass
class EvaluationReport:
    """What `evaluate` found: ``verdict``, per-window ``windows`` and the holdout.

    Attributes
    ----------
    verdict : {"ok", "decay", "insufficient labels"}
    metric : str
        The metric decay is decided on.
    threshold : float
        The holdout value moved by the margin: windows beyond it (with their whole
        interval) count as worse.
    decay_start : str or None
        The start of the first window of the decay.
    windows : DataFrame
        One row per window.
    holdout : dict
        The artifact's holdout metrics.
    unmatched_labels : int
        Labels whose id this model never served in the log.
    skipped : list of (str, str)
        Log files that could not be read, and why.
    """

    verdict: str
    metric: str
    threshold: float
    decay_start: str | None
    windows: pd.DataFrame
    holdout: dict[str, Any]
    served: int
    labelled: int
    unmatched_labels: int
    model: dict[str, Any]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"EvaluationReport(verdict={self.verdict!r}, metric={self.metric!r}, "
            f"windows={len(self.windows)}, labelled={self.labelled}/{self.served})"
        )

    def to_dict(self) -> dict[str, Any]:
        rows = json.loads(self.windows.to_json(orient="records", date_format="iso"))
        return {
            "verdict": self.verdict,
            "metric": self.metric,
            "threshold": self.threshold,
            "decay_start": self.decay_start,
            "served": self.served,
            "labelled": self.labelled,
            "unmatched_labels": self.unmatched_labels,
            "holdout": self.holdout,
            "model": self.model,
            "windows": rows,
            "skipped": [list(s) for s in self.skipped],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def to_html(self) -> str:
        """A self-contained HTML page: metrics over time with interval bands."""
        from featurekit.outcomes.evaluation_html import render

        return render(self.to_dict())


def _manifest(artifact: Any) -> dict[str, Any]:
    if isinstance(artifact, str | os.PathLike):
        return dict(read_manifest(artifact))
    manifest = getattr(artifact, "manifest", None)
    if not isinstance(manifest, dict):
        raise TypeError("artifact must be an artifact directory or a loaded Predictor.")
    return manifest


def evaluate(
    artifact: Any,
    directory: str | os.PathLike[str] | PredictionLog,
    *,
    window: str | int = "1d",
    metric: str | None = None,
    margin: float | str | None = None,
    persist: int = 2,
    min_labels: int = 30,
    progress: Any = None,
) -> EvaluationReport:
    """Realised performance of `artifact`'s served rows in the log at `directory`.

    Parameters
    ----------
    artifact : str, Path or Predictor
        Exported with ``holdout_y=`` (its holdout figures are the baseline).
    directory : str, Path or PredictionLog
    window : str or int
        A time span (``"1h"``, ``"1d"``, ``"1w"``) by the time rows were served, or a
        number of labelled rows per window.
    metric : str, optional
        Decided on: default accuracy for classifiers, MAE for regressors.
    margin : float or "N%", optional
        How much worse than the holdout counts (`DEFAULT_MARGINS`, defined in
        `featurekit.outcomes.metrics`).
    persist : int
        Consecutive worse windows that make a decay.
    min_labels : int
        Labelled rows a window needs to be judged.

    Examples
    --------
    >>> evaluate("no/such/artifact", "no/log")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    manifest = _manifest(artifact)
    holdout = manifest.get("holdout")
    if not holdout:
        raise ValueError(
            "This artifact has no holdout performance to compare with: export it with "
            "fk.export(..., holdout=X_test, holdout_y=y_test)."
        )
    kind, classes = manifest["kind"], manifest.get("classes") or []
    metric = metric or ("accuracy" if kind == "classifier" else "mae")
    if metric not in holdout["metrics"]:
        raise ValueError(
            f"metric {metric!r} is not among this model's figures "
            f"{sorted(holdout['metrics'])}."
        )
    if persist < 1 or min_labels < 1:
        raise ValueError("persist and min_labels must be at least 1.")
    log = (
        directory if isinstance(directory, PredictionLog) else PredictionLog(directory)
    )
    if progress is not None:
        log.progress = progress
    sha = manifest["files"]["model.onnx"]
    outs = [
        o for o in ("label", "probabilities", "prediction") if o in manifest["outputs"]
    ]
    # exploration's columns (--explore): absent from other logs, read back as null
    extra = ["model_label", "propensity"] if kind == "classifier" else []
    table = log.predictions(
        model=sha, columns=["row_id", "timestamp", *outs, *extra], made_ids=True
    )
    labels = log.label_table(latest=False)  # `join` keeps each id's last
    skipped = list(log.skipped)  # both reads: the predictions', then the labels'
    base = holdout["metrics"][metric]["value"]
    higher = M.HIGHER_IS_BETTER[metric]
    threshold = decay_line(metric, base, margin)
    if table is None or table.num_rows == 0:
        data = None
        unmatched = 0 if labels is None else labels.num_rows
    else:
        data = join(table, labels, kind, classes)
        unmatched = data.unmatched
    rows = _windows(data, window, kind, classes, holdout.get("labels"))
    frame = pd.DataFrame(rows)
    verdict, start = _decide(frame, metric, threshold, higher, persist, min_labels)
    return EvaluationReport(
        verdict=verdict,
        metric=metric,
        threshold=threshold,
        decay_start=start,
        windows=frame,
        holdout=holdout["metrics"],
        served=0 if data is None else len(data),
        labelled=0 if data is None else int(data.labelled.sum()),
        unmatched_labels=unmatched,
        model={
            "name": manifest.get("name"),
            "version": manifest.get("version"),
            "sha256": sha,
        },
        skipped=skipped,
    )


def _iso(micros: int) -> str:
    return str(pd.Timestamp(int(micros), unit="us", tz="UTC").isoformat())


def _groups(data: Joined, window: str | int) -> list[tuple[str, str, np.ndarray]]:
    """(start, end, row positions) per window, in time order."""
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise ValueError(
                f"window must be a positive number of labels, got {window}."
            )
        order = np.argsort(data.timestamp, kind="stable")
        labelled = data.labelled[order]
        keys = (np.cumsum(labelled) - labelled) // window  # labels before each row
        keys = np.minimum(keys, max(int(labelled.sum()) - 1, 0) // window)
        span = None
    else:
        span = int(parse_duration(window) * 1_000_000)
        keys = data.timestamp // span
        # a log is written in time order: most often nothing needs sorting
        if keys.size > 1 and bool((keys[1:] < keys[:-1]).any()):
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
        else:
            order = np.arange(keys.size)
    cuts = np.flatnonzero(np.diff(keys)) + 1
    out = []
    for pos in np.split(order, cuts):
        if span is None:
            t = data.timestamp[pos]
            start, end = _iso(t.min()), _iso(t.max())
        else:
            key = int(data.timestamp[pos[0]] // span)
            start, end = _iso(key * span), _iso((key + 1) * span)
        out.append((start, end, pos))
    return out


def _windows(
    data: Joined | None,
    window: str | int,
    kind: str,
    classes: list[Any],
    label_profile: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    if data is None or len(data) == 0:
        return []
    texts = np.asarray([str(c) for c in classes], dtype=object)
    rows = []
    for start, end, pos in _groups(data, window):
        lab = pos[data.labelled[pos]]
        row: dict[str, Any] = {
            "start": start,
            "end": end,
            "served": int(pos.size),
            "labelled": int(lab.size),
            "coverage": lab.size / pos.size if pos.size else math.nan,
        }
        latency = (data.outcome_time[lab] - data.timestamp[lab]) / 1e6
        row["latency_median_s"] = float(np.median(latency)) if lab.size else math.nan
        figures: dict[str, dict[str, Any]] = {}
        if lab.size and kind == "classifier":
            y, yhat = data.y[lab], data.yhat[lab]
            ok = y >= 0
            proba = None if data.proba is None else data.proba[lab][ok]
            figures = M.from_indices(y[ok], yhat[ok], proba)
            if proba is not None:
                row["ece"] = _ece(proba, y[ok])
            values = texts[y[ok]]
        elif lab.size:
            figures = M.regression(data.y[lab], data.yhat[lab])
            values = data.y[lab]
        else:
            values = np.empty(0)
        for name, fig in figures.items():
            row[name], row[f"{name}_low"], row[f"{name}_high"] = (
                fig["value"],
                fig["low"],
                fig["high"],
            )
        row["label_drift"] = _label_drift(label_profile, values, kind)
        if data.propensity is not None and lab.size:
            ipw = M.ipw_accuracy(data.propensity[lab], data.y[lab] == data.yhat[lab])
            if ipw is not None:
                row["accuracy_ipw"] = ipw["value"]
                row["accuracy_ipw_low"] = ipw["low"]
                row["accuracy_ipw_high"] = ipw["high"]
        rows.append(row)
    return rows


def _ece(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top probability, in `bins` equal-width bins."""
    if len(y) == 0:
        return math.nan
    top = proba.max(axis=1)
    hit = proba.argmax(axis=1) == y
    which = np.minimum((top * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in np.unique(which):
        m = which == b
        total += m.sum() / len(y) * abs(hit[m].mean() - top[m].mean())
    return float(total)


def _label_drift(profile: dict[str, Any] | None, labels: np.ndarray, kind: str) -> str:
    if profile is None or len(labels) == 0:
        return "insufficient data"
    counts = Counts.empty(profile)
    values = labels.astype(np.float64) if kind == "regressor" else labels.astype(object)
    counts.observe({LABEL: values.reshape(-1, 1)})
    verdict = [r for r in drift_verdicts(profile, counts) if r["feature"] == LABEL]
    return str(verdict[0]["verdict"]) if verdict else "insufficient data"


def _decide(
    frame: pd.DataFrame,
    metric: str,
    threshold: float,
    higher: bool,
    persist: int,
    min_labels: int,
) -> tuple[str, str | None]:
    if frame.empty or metric not in frame:
        return "insufficient labels", None
    judged = frame["labelled"] >= min_labels
    if not judged.any():
        return "insufficient labels", None
    bound = frame[f"{metric}_high"] if higher else frame[f"{metric}_low"]
    worse = (
        judged & ((bound < threshold) if higher else (bound > threshold))
    ).to_numpy()
    frame["judged"] = judged
    frame["worse"] = worse
    run = 0
    for i, w in enumerate(worse):
        if not judged.iloc[i]:
            continue  # a window without enough labels neither breaks nor extends a run
        run = run + 1 if w else 0
        if run >= persist:
            first = i
            back = persist
            while back > 1:
                first -= 1
                if judged.iloc[first]:
                    back -= 1
            return "decay", str(frame["start"].iloc[first])
    return "ok", None
