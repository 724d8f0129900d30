"""Score whole rows with scikit-learn and onnxruntime, and refuse on any difference.

The rows (reference, edge cases, split values) go through the whole model in both
runtimes: onnxruntime reads them through `Columns.coerce`, the very function serving
uses; scikit-learn computes the features once, then the model. `compare` requires
every label equal and every probability (or prediction) within the tolerance and,
before a tree model, the float64 features bit for bit; otherwise `ParityError` names
the worst rows and the step responsible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from featurekit.contract.columns import Columns
from featurekit.errors import ExportError, ParityError

__all__ = ["Labels", "compare", "first_failing", "score"]


class Labels:
    """Row names, made only when a message needs them (there may be millions)."""

    def __init__(self) -> None:
        self._parts: list[tuple[int, Callable[[int], str]]] = []

    def add(self, n: int, name: Callable[[int], str]) -> None:
        self._parts.append((n, name))

    def __len__(self) -> int:
        return sum(n for n, _ in self._parts)

    def __getitem__(self, i: int) -> str:
        for n, name in self._parts:
            if i < n:
                return name(i)
            i -= n
        raise IndexError(i)


def score(
    pipeline: Any,
    columns: Columns,
    session: Any,
    rows: Any,
    first: str,
    answers: list[str],
    outputs: list[str],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Score `rows` in both runtimes.

    scikit-learn gives its `answers` then its features; the graph its `outputs`
    (the same answers, then the features tensors).
    """
    feeds, n = columns.coerce(rows)
    if n == 0:
        return [], []
    onx = session.run(feeds, n, outputs)
    try:
        # a derived value beyond float32 reaches a tree as ±inf in both runtimes;
        # numpy's cast merely warns about it
        with np.errstate(over="ignore", invalid="ignore"):
            sk = _sklearn_scores(pipeline, rows, answers)
    except (ValueError, TypeError) as exc:
        raise ExportError(
            f"scikit-learn itself fails on rows the contract admits ({first}, ...): "
            f"{exc}. If a column accepts missing values, give it an imputer or declare "
            "nullable=False; if values must stay in a range, declare bounds."
        ) from exc
    return sk, onx


#: The scikit-learn method whose answers each graph output must reproduce.
_METHODS = {
    "label": "predict",
    "probabilities": "predict_proba",
    "decision_function": "decision_function",
    "prediction": "predict",
}


def _sklearn_scores(pipeline: Any, rows: Any, outputs: list[str]) -> list[np.ndarray]:
    # the features once, then the model: what the Pipeline's own methods do, without
    # computing the features once per method
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    features = pipeline[:-1].transform(rows)
    model = pipeline[-1]
    if outputs == ["label", "probabilities"] and isinstance(
        model, RandomForestClassifier | ExtraTreesClassifier
    ):
        # a forest's predict is exactly classes_.take(argmax(predict_proba)): once,
        # not twice through every tree
        proba = np.asarray(model.predict_proba(features))
        sk = [model.classes_.take(np.argmax(proba, axis=1), axis=0), proba]
    else:
        sk = [np.asarray(getattr(model, _METHODS[o])(features)) for o in outputs]
    if outputs[-1] != "label":  # scores in double, labels as they are
        sk[-1] = sk[-1].astype(np.float64)
    sk.append(np.asarray(features, dtype=np.float64))
    return sk


def compare(
    pipeline: Any,
    info: dict[str, Any],
    labels: Labels,
    sk: list[np.ndarray],
    onx: list[np.ndarray],
    n_ref: int,
    tolerance: float,
) -> dict[str, Any]:
    """Refuse unless every whole-model row agrees; return the verdict's numbers."""
    is_clf = info["kind"] == "classifier"
    outputs = list(info["outputs"])
    # the session's extra outputs: the features tensor, then the float64 features
    # before float32 rounding (the same tensor when nothing is rounded)
    n_out = len(outputs)
    exact = onx[-1]
    onx = [*onx[:n_out], onx[n_out]]
    label_ok = np.ones(len(sk[0]), dtype=bool)
    if is_clf:
        label_ok = np.asarray(sk[0]).astype(object) == np.asarray(onx[0]).astype(object)
    last = n_out - 1  # the scores: probabilities, decision or prediction
    diff, scale, compared = _score_diff(outputs[-1], sk[last], onx[last], n_ref)
    bad = ~label_ok | (diff > tolerance)
    if bad.any():
        _refuse(pipeline, info, labels, sk, onx, diff, label_ok, bad, tolerance)
    if info["tree_precision"]:
        _trees_see_the_same(pipeline, info, labels, sk[-1], exact)
    return {
        "label_agreement": float(label_ok.mean()) if is_clf else None,
        "max_abs_diff": float(np.max(diff)),
        "compared": compared,
        "scale": scale,
    }


def _score_diff(
    output: str, sk: np.ndarray, onx: np.ndarray, n_ref: int
) -> tuple[np.ndarray, float, str]:
    """Per row, how far onnxruntime's scores are from scikit-learn's; scale; what.

    Probabilities compare absolutely; predictions and decision functions relative to
    the spread of the reference rows' values, or to the value itself where an extreme
    input drives it far beyond (there float64 rounding alone exceeds tol * scale).
    Equal values (infinities of one sign included) and NaN on both sides agree.
    """
    n = len(sk)
    if output == "label":  # nothing but the label: it must agree, and does or not
        return np.zeros(n), 1.0, "labels"
    a = np.asarray(sk, dtype=np.float64).reshape(n, -1)
    b = np.asarray(onx, dtype=np.float64).reshape(n, -1)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = np.abs(a - b)
        if output == "probabilities":
            scale, compared = 1.0, "probabilities"
        else:
            ref = a[:n_ref][np.isfinite(a[:n_ref])]
            spread = float(np.std(ref)) or float(np.max(np.abs(ref))) if len(ref) else 0
            scale = spread or 1.0
            delta = delta / np.maximum(scale, np.abs(a))
            what = "prediction" if output == "prediction" else "decision function"
            compared = f"|Δ {what}| / max(std(reference {what}s), |{what}|)"
    agree = (a == b) | (np.isnan(a) & np.isnan(b))
    delta = np.where(agree, 0.0, np.where(np.isnan(delta), np.inf, delta))
    return delta.max(axis=1), scale, compared


def first_failing(pipeline: Any, edges: list[tuple[str, dict[str, Any]]]) -> None:
    for reason, record in edges:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                pipeline.predict([record])
        except (ValueError, TypeError) as exc:
            overflow = _overflow(pipeline, record)
            if overflow:  # one short message that names the fix; no chained tracebacks
                raise ExportError(overflow) from None
            raise ExportError(
                f"scikit-learn fails on an input the contract admits ({reason}): {exc}. "
                + _missing_features(pipeline, record)
                + "Give the column an imputer, or declare nullable=False or bounds."
            ) from None


def _overflow(pipeline: Any, record: dict[str, Any]) -> str:
    """Name the derived feature that overflows, the value behind it and the bound.

    A ratio whose denominator the contract lets reach 0 (``bounds=(0, ...)``) grows
    beyond float32 next to it; a lower bound above 0 keeps it finite.
    """
    try:
        row = np.asarray(pipeline[:-1].transform([record]), dtype=np.float64)[0]
        names = pipeline.named_steps["features"].get_feature_names_out()
        features = pipeline.named_steps["inputs"].features
    except (ValueError, TypeError, AttributeError, KeyError):
        return ""
    limit = np.finfo(np.float32).max
    for name, v in zip((str(n).split("__", 1)[-1] for n in names), row, strict=True):
        f = next((d for d in features.features if d.name == name), None)
        expr = getattr(f, "expression", None)
        if v != v or abs(v) <= limit or expr is None:
            continue
        tiny = {
            c: record[c]
            for c in expr.columns()
            if isinstance(record.get(c), int | float) and 0 < abs(record[c]) < 1e-6
        }
        for column, value in tiny.items():
            declared = next((d for d in features.inputs if d.name == column), None)
            hi = getattr(declared, "bounds", None)
            hi = "None" if not hi or hi[1] is None else f"{hi[1]:g}"
            return (
                f"Derived feature {name!r} = {expr!r} overflows float32 (which tree "
                f"models compare in) where {column!r} = {value:g}, a value the "
                f"contract admits. A lower bound above 0 keeps it finite: declare "
                f"bounds=(lo, {hi}) on {column!r} with lo > 0, the smallest "
                f"{column} you expect (e.g. bounds=(1, {hi})). Nothing was written."
            )
        return (
            f"Derived feature {name!r} = {expr!r} overflows float32 (which tree "
            f"models compare in) for the admitted row {record!r}: declare bounds on "
            f"the columns it reads ({sorted(expr.columns())}) that keep it finite. "
            "Nothing was written."
        )
    return ""


def _missing_features(pipeline: Any, record: dict[str, Any]) -> str:
    """Name the model features that come out missing for `record`, if any."""
    try:
        row = np.asarray(pipeline[:-1].transform([record]), dtype=np.float64)[0]
        names = pipeline.named_steps["features"].get_feature_names_out()
    except (ValueError, TypeError):
        return ""
    names = [str(n).split("__", 1)[-1] for n in names]
    gone = [n for n, v in zip(names, row, strict=True) if v != v]
    huge = [
        n
        for n, v in zip(names, row, strict=True)
        if not abs(v) <= np.finfo(np.float32).max and v == v
    ]
    if gone:
        return (
            f"The feature(s) {gone} come out missing for this row (a derived value "
            "that is not finite, such as x / 0 or the log of a number <= 0, is "
            "missing): give them impute=..., or bound the raw columns they read. "
        )
    if huge:
        return (
            f"The feature(s) {huge} overflow for this row (beyond float32, which tree "
            "models compare in, or infinite): declare bounds=(lo, hi) on the raw "
            "columns they read. "
        )
    return ""


def _trees_see_the_same(
    pipeline: Any,
    info: dict[str, Any],
    labels: Labels,
    sk_feat: np.ndarray,
    onx_feat: np.ndarray,
) -> None:
    """Refuse unless a tree model gets bit-identical features on every certified row.

    A tree compares each value with split thresholds, so a last-bit difference flips a
    decision for values at a split. Split values are probed only where thresholds map
    back to a raw column; for the other blocks (``fk.Custom`` above all, converted by
    skl2onnx) bit-identical features on every certified row are the proof instead.
    """
    same = (sk_feat == onx_feat) | (np.isnan(sk_feat) & np.isnan(onx_feat))
    same[:, info["pushed"]] = True  # these reach the trees raw, by design
    if same.all():
        return
    names = [
        str(n).split("__", 1)[0]
        for n in pipeline.named_steps["features"].get_feature_names_out()
    ]
    rows, cols = np.nonzero(~same)
    blocks = sorted({names[c] for c in cols})
    i, j = int(rows[0]), int(cols[0])
    model = type(pipeline.named_steps["model"]).__name__
    raise ParityError(
        f"{model} is a tree model, and the features {blocks} reach it with "
        f"last-bit differences on {len(set(rows.tolist()))} of {len(sk_feat)} certified "
        f"rows (e.g. {labels[i]}: scikit-learn {float(sk_feat[i, j])!r}, onnx "
        f"{float(onx_feat[i, j])!r}); a split at such a value would go the other way. Use a "
        "featurekit declaration for that transform, or a model that is not a tree.",
        worst=[{"row": labels[i], "feature_step": blocks[0]}],
        step=f"features ({blocks[0]})",
    )


def _refuse(
    pipeline: Any,
    info: dict[str, Any],
    labels: Labels,
    sk: list[np.ndarray],
    onx: list[np.ndarray],
    diff: np.ndarray,
    label_ok: np.ndarray,
    bad: np.ndarray,
    tolerance: float,
) -> None:
    """Raise ParityError with the worst rows and the step responsible."""
    n_out = len(info["outputs"])
    order = np.lexsort((-diff, label_ok))[: min(5, int(bad.sum()))]
    sk_feat = sk[-1]
    if info["tree_precision"] == "float32":  # the graph rounds these as the trees do
        sk_feat = sk_feat.astype(np.float32).astype(np.float64)
    # relative, and only beyond rounding noise: a 1-ulp Log difference is not a culprit
    feat_diff = np.abs(sk_feat - onx[-1]) / np.maximum(1.0, np.abs(sk_feat))
    feat_diff = np.where(feat_diff > 1e-12, feat_diff, 0.0)
    feat_diff = np.where(np.isnan(sk_feat) & np.isnan(onx[-1]), 0.0, feat_diff)
    feat_diff = np.where(np.isnan(feat_diff), np.inf, feat_diff)
    feat_diff[:, info["pushed"]] = 0.0  # these reach the trees raw, by design
    names = pipeline.named_steps["features"].get_feature_names_out()
    worst = []
    for i in order:
        culprit = (
            str(names[int(np.argmax(feat_diff[i]))]) if feat_diff[i].max() > 0 else None
        )
        worst.append(
            {
                "row": labels[i],
                "sklearn": _answer(sk[:n_out], i),
                "onnx": _answer(onx[:n_out], i),
                "diff": float(diff[i]),
                "label_agrees": bool(label_ok[i]),
                "feature_step": culprit,
            }
        )
    step = (
        f"features ({worst[0]['feature_step']})"
        if worst[0]["feature_step"]
        else "model"
    )
    lines = "\n".join(
        f"  {w['row']}: sklearn={w['sklearn']!r} onnx={w['onnx']!r} |Δ|={w['diff']:.3g}"
        for w in worst
    )
    model = type(pipeline.named_steps["model"]).__name__
    raise ParityError(
        f"{model} ({info['converter']}) fails parity on {int(bad.sum())} of {len(diff)} "
        f"rows ({int((~label_ok).sum())} labels differ, max |Δ| "
        f"{float(np.max(diff)):.3g} > {tolerance}); the step responsible is {step}. "
        f"Worst rows:\n{lines}" + (f"\n{info['advice']}" if info.get("advice") else ""),
        worst=worst,
        step=step,
    )


def _answer(values: list[np.ndarray], i: int) -> Any:
    """Row `i`'s answer: [label, scores] for classifiers, a number for regressors."""
    out = [v[i].tolist() if np.ndim(v[i]) else v[i] for v in values]
    return float(out[0]) if len(out) == 1 and isinstance(out[0], float) else out
