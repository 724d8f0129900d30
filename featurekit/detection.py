"""Offline drift detection: `drift(artifact, current)` and its `DriftReport`.

The current data is counted over the bins of the artifact's reference profile, then
every feature (and the model's output, when asked) is tested with the decision rule of
`featurekit.monitoring.verdicts.evaluate`. Nothing is recomputed from training data: the profile
holds all the reference statistics.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurekit.errors import ArtifactError
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.estimate import window_estimate
from featurekit.monitoring.verdicts import deciding, evaluate

__all__ = ["Drift", "DriftReport", "drift"]

TABLE_COLUMNS = [
    "feature",
    "kind",
    "verdict",
    "signals",
    "statistic",
    "effect",
    "threshold",
    "p_value",
    "p_adjusted",
    "distribution_statistic",
    "distribution_effect",
    "distribution_threshold",
    "distribution_p_value",
    "distribution_p_adjusted",
    "missing_reference",
    "missing_current",
    "unseen_rate",
    "psi",
    "js",
    "wasserstein",
    "ks",
    "chi2",
    "rows",
]


class DriftReport:
    """Drift of one dataset (or window) against an artifact's reference profile.

    Attributes
    ----------
    verdict : {"drift", "no drift", "insufficient data"}
        The dataset-level verdict: drift when any feature drifted.
    drifted : bool
    table : DataFrame
        One row per feature: verdict and signals; the statistic, effect size,
        threshold and p-value (raw and Benjamini–Hochberg adjusted) of the signal
        that decided the verdict (the distribution test, or the missing or unseen
        rate when only that fired), exactly as ``featurekit drift`` and the HTML page
        show them; the distribution test's own numbers in ``distribution_*``;
        missing rates, unseen rate, and the other statistics (PSI, Jensen–Shannon,
        Wasserstein, KS, chi-square).
    rows : int
        Rows in the current data.
    estimate : dict or None
        Performance estimated without labels (an *estimate*): accuracy, and ROC AUC
        for two classes, each with a 95 % interval, from the scored rows' confidence
        and the calibration map fitted at export on ``holdout_y``; with the checks of
        its assumptions (calibration on the holdout, the share of values outside the
        reference's support). None without ``holdout_y`` at export, for regressors,
        or with ``outputs=False``.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        profile: dict[str, Any],
        counts: Counts,
        model: dict[str, Any],
    ) -> None:
        self.features = rows
        self.profile = profile
        self.counts = counts
        self.model = model
        self.rows = counts.rows
        self.estimate = window_estimate(profile, counts)
        verdicts = [r["verdict"] for r in rows]
        if verdicts and all(v == "insufficient data" for v in verdicts):
            self.verdict = "insufficient data"
        else:
            self.verdict = "drift" if "drift" in verdicts else "no drift"
        self.drifted = self.verdict == "drift"

    @property
    def table(self) -> Any:
        import pandas as pd

        rows = []
        for feature in self.features:
            row = {k: v for k, v in feature.items() if not k.startswith("_")}
            for key in ("statistic", "effect", "threshold", "p_value", "p_adjusted"):
                row[f"distribution_{key}"] = feature.get(key)
            row.update(deciding(feature))  # the signal that decided, as CLI and HTML
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in TABLE_COLUMNS:
            if column not in frame:
                frame[column] = None
        rest = [c for c in frame.columns if c not in TABLE_COLUMNS]
        return frame[TABLE_COLUMNS + rest]

    def __repr__(self) -> str:
        drifted = [r["feature"] for r in self.features if r["verdict"] == "drift"]
        return (
            f"DriftReport({self.model.get('name')!r}: {self.verdict} over {self.rows} "
            f"rows; drifted {drifted})"
        )

    def histograms(self) -> list[dict[str, Any]]:
        """Per feature: bin labels and reference/current fractions, for plots."""
        out = []
        for name, f in self.profile["features"].items():
            b = self.counts.bins[name]
            if f["kind"] == "numeric":
                labels = _bin_labels(f["edges"])
                ref, cur = list(f["counts"]), list(b.counts)
            else:
                labels = [
                    *f["categories"],
                    "(unseen)",
                ]  # reference: pooled beyond max_categories
                ref, cur = (
                    [*f["counts"], f.get("pooled", 0)],
                    [*list(b.counts), b.unseen],
                )
            labels.append("(missing)")
            ref.append(f["missing"])
            cur.append(b.missing)
            out.append(
                {
                    "feature": name,
                    "labels": labels,
                    "reference": _fractions(ref),
                    "current": _fractions(cur),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-ready data."""
        return {
            "model": self.model,
            "verdict": self.verdict,
            "drifted": self.drifted,
            "rows": self.rows,
            "reference_rows": max(
                (f["rows"] for f in self.profile["features"].values()), default=0
            ),
            "settings": self.profile["settings"],
            "features": [_jsonable(r) for r in self.features],
            "histograms": self.histograms(),
            "estimate": _finite(self.estimate),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page (no CDN) with a histogram per feature.

        Writes it to `path` when given, and returns the HTML.
        """
        from featurekit.monitoring.report import render_html

        html: str = render_html(self.to_dict())
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html


def _bin_labels(edges: list[float]) -> list[str]:
    """Readable bin labels; the top edge sits one ulp above the reference maximum."""
    top = float(np.nextafter(edges[-1], -np.inf))
    shown = [*edges[:-1], top]
    digits = 4
    while digits < 17 and len({f"{x:.{digits}g}" for x in shown}) < len(set(shown)):
        digits += 1  # enough digits that neighbouring edges read differently

    def fmt(x: float) -> str:
        return f"{x:.{digits}g}"

    labels = [f"< {fmt(shown[0])}"]
    labels += [f"[{fmt(a)}, {fmt(b)})" for a, b in itertools.pairwise(shown[:-1])]
    if len(shown) > 1:
        labels.append(f"[{fmt(shown[-2])}, {fmt(top)}]")
    labels.append(f"> {fmt(top)}")
    return labels


def _fractions(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total if total else 0.0 for c in counts]


def _finite(value: Any) -> Any:
    """`value` with every non-finite float (nested too) as None, for strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        out[k] = v
    return out


class Drift:
    """Accumulate data chunk by chunk, then report: for files too large for memory.

    Counts add up, so ``Drift(a).add(x).add(y).report()`` equals
    ``drift(a, pd.concat([x, y]))``.

    Parameters
    ----------
    artifact : str, Path, Artifact or serving.Predictor
    outputs : bool
        Also score the rows (those that pass the contract) and test the model's outputs.
    """

    def __init__(self, artifact: Any, *, outputs: bool = True) -> None:
        profile, self.model, self._predictor = _profile_of(
            artifact, load_predictor=outputs
        )
        if not outputs:
            profile = {
                **profile,
                "features": {
                    k: v for k, v in profile["features"].items() if not v["output"]
                },
            }
        self.profile = profile
        self.outputs = outputs
        self.counts = Counts.empty(profile)

    def add(self, frame: Any) -> Drift:
        """Count one chunk of rows (a DataFrame, or anything DataFrame() accepts)."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        chunk = Counts.from_frame(self.profile, frame)
        if self.outputs and self._predictor is not None and len(frame):
            got = self._predictor.score(frame, on_error="split")
            n = int(got.passed.sum())
            if n:
                chunk._outputs(got.scores, n)
        self.counts = self.counts.merge(chunk)
        return self

    def report(self) -> DriftReport:
        """The report over every row added so far."""
        return DriftReport(
            evaluate(self.profile, self.counts), self.profile, self.counts, self.model
        )


def drift(artifact: Any, current: Any, *, outputs: bool = True) -> DriftReport:
    """Test `current` for drift against the artifact's reference profile.

    Parameters
    ----------
    artifact : str, Path, Artifact or serving.Predictor
        The exported artifact.
    current : DataFrame
        Raw input columns, as served.
    outputs : bool
        Also score `current` with the model (the rows that pass the contract) and
        test the predicted classes and scores for drift.

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> drift("no/such/artifact", None)
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    return Drift(artifact, outputs=outputs).add(current).report()


def _profile_of(
    artifact: Any, *, load_predictor: bool
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    from featurekit.artifact import read_manifest, read_profile

    if hasattr(artifact, "profile") and hasattr(artifact, "sha256"):  # a Predictor
        p = artifact
        profile = p.profile
        if profile is None:
            raise ArtifactError(
                f"{p!r} was loaded from an artifact without profile.json."
            )
        return profile, {"name": p.name, "version": p.version, "sha256": p.sha256}, p
    root = Path(getattr(artifact, "path", artifact))
    manifest = read_manifest(root)
    profile = read_profile(root, manifest)
    model = {
        "name": manifest["name"],
        "version": manifest["version"],
        "sha256": manifest["files"]["model.onnx"],
    }
    predictor = None
    if load_predictor:
        from serving import Predictor

        predictor = Predictor.load(root)
    return profile, model, predictor
