"""`compare(champion, challenger, X, y)`: the champion/challenger gate, on served answers.

Both models are `serving.Predictor` s (loaded from their artifacts when given paths),
so the comparison scores exactly what would be served: the same contract, the same
graph. Every row is scored by both with ``on_error="split"``; then

1. contract compatibility: rows the challenger refuses and the champion accepts,
   named by column and check;
2. the paired test on the rows both accept that have a label (`paired`);
3. the same test on every slice of the declared categorical inputs with enough rows,
   one-sided for a regression beyond the margin, Holm-adjusted across slices;
4. drift between the two artifacts' reference profiles (`profile_drift`).

The verdict: ``"keep"`` when the challenger refuses rows the champion serves (more
than `max_refused` of them), ``"inconclusive"`` when fewer than `min_rows` labelled
rows are left to compare, ``"promote"`` when the challenger is better (or, with a
margin, no worse by more than the margin) at level `alpha` and worse on no slice,
else ``"keep"``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from featurekit.comparing.labels import class_indices, labelled_rows
from featurekit.comparing.metrics import metric_named
from featurekit.comparing.paired import paired
from featurekit.comparing.profiles import profile_drift
from featurekit.comparing.result import Comparison
from featurekit.comparing.stats import holm
from featurekit.errors import ArtifactError

__all__ = ["compare", "predictor"]


def predictor(model: Any) -> Any:
    """A `serving.Predictor`: `model` itself, or loaded from an artifact path.

    An MLflow model URI (``models:/credit@champion``) is resolved to the artifact
    that `featurekit.mlflow_pyfunc.log_model` logged.

    Paths load with monitoring off, so the comparison counts nothing into drift
    windows; a Predictor passed in is used as it is.
    """
    from featurekit.mlflow_pyfunc import is_model_uri, resolve
    from serving import Predictor

    if isinstance(model, Predictor):
        return model
    if is_model_uri(model):  # models:/credit@champion, from the MLflow registry
        model = resolve(model)
    path = getattr(model, "path", model)  # an fk.Artifact
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"Expected an artifact path or a serving.Predictor, got {type(model).__name__}."
        )
    return Predictor.load(path, monitor=False)


def compare(
    champion: Any,
    challenger: Any,
    X: Any,
    y: Any,
    *,
    metric: str | None = None,
    margin: float = 0.0,
    slices: list[str] | None = None,
    alpha: float = 0.05,
    min_rows: int = 200,
    max_refused: float = 0.0,
    replicates: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare a challenger model with the champion on the same labelled rows.

    Parameters
    ----------
    champion, challenger : str, Path, Artifact or serving.Predictor
        The served model and its candidate replacement: artifact directories, or
        MLflow model URIs such as ``models:/credit@champion`` (with
        ``featurekit[mlflow]``).
    X : DataFrame, list of dict or dict
        Raw input rows, as served.
    y : array-like or str
        One label per row (None or NaN: no label yet), or the name of a column of
        `X` holding them. Rows without a label are counted, not compared.
    metric : str, optional
        ``accuracy`` (default for classifiers), ``roc_auc`` (binary), ``log_loss``,
        ``brier``; ``rmse`` (default for regressors), ``mae``, ``mse``.
    margin : float
        Non-inferiority margin, in the metric's units: the challenger is promoted
        when it is no worse than the champion by more than this. 0 (default)
        requires it to be better.
    slices : list of str, optional
        Columns to slice by (default: every declared categorical input; ``[]``: none).
    alpha : float
        One-sided level of every test (the slices' family-wise, by Holm).
    min_rows : int
        Labelled rows accepted by both models needed for a verdict (and per slice).
    max_refused : float
        Share of rows the challenger may refuse that the champion accepts.
    replicates, seed : int
        Of the paired bootstrap.

    Returns
    -------
    Comparison

    Raises
    ------
    ArtifactError
        The artifacts differ in input columns, kind or classes (the message names
        them), or cannot be loaded.
    ValueError
        An unknown metric, labels that are not classes, or `y` of another length.

    Examples
    --------
    >>> compare("no/such/champion", "no/such/challenger", [], [])
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/champion': not a directory.
    """
    import pandas as pd

    old, new = predictor(champion), predictor(challenger)
    _check_comparable(old, new)
    chosen = metric_named(metric, old.kind)
    if chosen.kind != old.kind:
        raise ValueError(
            f"Metric {chosen.name!r} is for a {chosen.kind}; {old.name!r} is a "
            f"{old.kind}."
        )
    if not 0 <= margin < np.inf or not 0 < alpha < 0.5 or min_rows < 2:
        raise ValueError(
            f"Need margin >= 0, 0 < alpha < 0.5 and min_rows >= 2; got margin={margin!r}, "
            f"alpha={alpha!r}, min_rows={min_rows!r}."
        )
    frame = (
        X if isinstance(X, pd.DataFrame) else pd.DataFrame(X if X is not None else [])
    )
    if isinstance(y, str):
        if y not in frame.columns:
            raise ValueError(f"No label column {y!r} among {list(frame.columns)!r}.")
        frame, y = frame.drop(columns=[y]), frame[y]
    frame = frame.reset_index(drop=True)
    labels = np.asarray(y, dtype=object).ravel() if y is not None else np.array([])
    if len(labels) != len(frame):
        raise ValueError(f"X has {len(frame)} rows but y has {len(labels)} labels.")
    has_label = labelled_rows(labels)
    if old.kind == "classifier":
        target = class_indices(labels, has_label, old.classes_)
    else:
        target = pd.to_numeric(pd.Series(labels), errors="raise").to_numpy(float)

    names = ["label", chosen.output] if old.kind == "classifier" else ["prediction"]
    names = list(dict.fromkeys(names))
    a = old.score(frame, names, on_error="split")
    b = new.score(frame, names, on_error="split")
    order = _class_order(old, new)
    rows = {
        "total": len(frame),
        "labelled": int(has_label.sum()),
        "unlabelled": int((~has_label).sum()),
        "refused_by_champion": int((~a.passed).sum()),
        "refused_by_challenger": int((~b.passed).sum()),
    }
    both = a.passed & b.passed & has_label
    rows["compared"] = int(both.sum())
    ya = _rows(a, both, None)
    yb = _rows(b, both, order)
    yt = target[both]
    if chosen.kind == "classifier":
        yt = yt.astype(np.int64)
        for out in (ya, yb):  # labels as class indices, as the metrics read them
            out["label"] = class_indices(out["label"], None, old.classes_)
    settings = {"margin": margin, "alpha": alpha, "replicates": replicates,
                "seed": seed}  # fmt: skip
    overall = _safe_paired(chosen, yt, ya, yb, rows["compared"], settings)
    slice_rows = _slices(
        old, frame.loc[both], slices, chosen, yt, ya, yb, min_rows, settings
    )
    return Comparison(
        metric=chosen,
        settings={**settings, "min_rows": min_rows, "max_refused": max_refused},
        models={"champion": _describe(old), "challenger": _describe(new)},
        rows=rows,
        overall=overall,
        slices=slice_rows,
        compatibility=_compatibility(a, b, len(frame)),
        drift=profile_drift(old.profile, new.profile),
    )


def _check_comparable(old: Any, new: Any) -> None:
    cols_a = [f.name for f in old.features.inputs]
    cols_b = [f.name for f in new.features.inputs]
    if set(cols_a) != set(cols_b):
        only_a = [c for c in cols_a if c not in cols_b]
        only_b = [c for c in cols_b if c not in cols_a]
        raise ArtifactError(
            f"The champion {old.name!r} v{old.version} and the challenger "
            f"{new.name!r} v{new.version} take different input columns: only the "
            f"champion has {only_a!r}, only the challenger {only_b!r}. Compare models "
            "that serve the same requests."
        )
    if old.kind != new.kind:
        raise ArtifactError(
            f"The champion {old.name!r} is a {old.kind} and the challenger "
            f"{new.name!r} a {new.kind}; compare models of one kind."
        )
    if old.kind == "classifier":
        ca, cb = old.classes_.tolist(), new.classes_.tolist()
        if sorted(map(str, ca)) != sorted(map(str, cb)) or len(ca) != len(cb):
            raise ArtifactError(
                f"The champion {old.name!r} v{old.version} predicts the classes "
                f"{ca!r} and the challenger {new.name!r} v{new.version} the classes "
                f"{cb!r}; compare models trained on the same classes."
            )


def _class_order(old: Any, new: Any) -> list[int] | None:
    """Challenger probability columns in the champion's class order (None: same)."""
    if old.kind != "classifier":
        return None
    theirs = [str(c) for c in new.classes_]
    order = [theirs.index(str(c)) for c in old.classes_]
    return None if order == list(range(len(order))) else order


def _rows(split: Any, keep: np.ndarray, order: list[int] | None) -> dict[str, Any]:
    """The scored outputs of the rows in `keep` (a mask over all input rows)."""
    picked = keep[split.passed]  # the scored rows are the passed ones, in order
    out = {}
    for name, values in split.scores.items():
        v = np.asarray(values)[picked]
        if name == "probabilities" and order is not None:
            v = v[:, order]
        out[name] = v
    return out


def _safe_paired(
    metric: Any, y: np.ndarray, a: dict[str, Any], b: dict[str, Any], n: int,
    settings: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    if n < 2:
        return {"rows": n, "note": f"only {n} labelled rows accepted by both models"}
    try:
        return paired(metric, y, a, b, **settings)
    except ValueError as exc:  # e.g. ROC AUC on rows of one class
        return {"rows": n, "note": str(exc)}


def _slices(
    old: Any,
    frame: Any,
    columns: list[str] | None,
    metric: Any,
    y: np.ndarray,
    a: dict[str, Any],
    b: dict[str, Any],
    min_rows: int,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    if columns is None:
        columns = [f.name for f in old.features.inputs if f.kind == "categorical"]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"No slice columns {missing!r} among {list(frame.columns)!r}.")
    out: list[dict[str, Any]] = []
    for column in columns:
        values = frame[column].astype(object).where(frame[column].notna(), "(missing)")
        values = values.astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            n = int(mask.sum())
            row: dict[str, Any] = {"column": column, "value": value, "rows": n}
            if n < min_rows:
                row["note"] = f"not tested: {n} rows, fewer than {min_rows}"
            else:
                sub = _safe_paired(
                    metric, y[mask], {k: v[mask] for k, v in a.items()},
                    {k: v[mask] for k, v in b.items()}, n, settings,
                )  # fmt: skip
                row.update(sub)
            out.append(row)
    tested = [r for r in out if "p_worse" in r]
    for row, p in zip(tested, holm([r["p_worse"] for r in tested]), strict=True):
        row["p_adjusted"] = float(p)
        row["regressed"] = bool(p <= settings["alpha"])
    return out


def _compatibility(a: Any, b: Any, n: int) -> dict[str, Any]:
    """Rows the challenger refuses and the champion accepts, by column and check."""
    import pandas as pd

    newly = a.passed & ~b.passed
    index = set(np.flatnonzero(newly).tolist())
    failures = b.failures if b.failures is not None else pd.DataFrame()
    table: list[dict[str, Any]] = []
    if len(index) and len(failures):
        hit = failures[failures["index"].isin(index)]
        grouped = hit.groupby(["column", "check"], sort=True)
        for (column, check), group in grouped:
            examples = list(dict.fromkeys(map(str, group["failure_case"])))[:5]
            table.append({"column": column, "check": check,
                          "rows": int(group["index"].nunique()),
                          "examples": examples})  # fmt: skip
    return {
        "refused_by_challenger_only": int(newly.sum()),
        "refused_by_champion_only": int((~a.passed & b.passed).sum()),
        "share": float(newly.sum() / n) if n else 0.0,
        "failures": table,
    }


def _describe(p: Any) -> dict[str, Any]:
    return {"name": p.name, "version": p.version, "sha256": p.sha256, "kind": p.kind}
