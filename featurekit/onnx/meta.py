"""Voting, stacking and one-vs-rest, composed from the estimators they hold.

Each held estimator is emitted by the same converter it would get on its own (the
``sub`` callback of `featurekit.onnx.model.emit_estimator`), then combined as
scikit-learn combines it:

- ``VotingClassifier``: soft voting averages the probabilities (weighted, estimator
  by estimator, as ``np.average`` adds them) and takes the first maximum; hard
  voting counts each estimator's label with its weight, as ``np.bincount`` does,
  and takes the first maximum. ``VotingRegressor`` averages the predictions.
- ``Stacking*``: each estimator's ``predict_proba`` (the first column dropped for two
  classes), ``decision_function`` or ``predict``, side by side (then the features,
  with ``passthrough=True``), read by the final estimator.
- ``OneVsRestClassifier``: the label is the first class whose binary estimator
  scores highest, by its decision function where it has one, as scikit-learn
  decides (the probabilities can tie at 1.0 where the decision values do not); the
  probabilities are the positive-class probabilities normalised per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import is_regressor
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.multiclass import OneVsRestClassifier

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph, row_sum
from featurekit.onnx.labels import label_index
from featurekit.onnx.slices import as_column, column

__all__ = ["META", "emit_meta"]

META = (
    VotingClassifier,
    VotingRegressor,
    StackingClassifier,
    StackingRegressor,
    OneVsRestClassifier,
)
Sub = Callable[..., dict[str, str]]
_AXIS1 = np.array([1], dtype=np.int64)


def emit_meta(
    g: Graph, x: str, width: int, model: Any, *, sub: Sub, **_: Any
) -> dict[str, str]:
    """The tensors of `model` (see `featurekit.onnx.model` for their names)."""
    if isinstance(model, VotingClassifier):
        return _voting_classifier(g, model, sub)
    if isinstance(model, VotingRegressor):
        return {
            "prediction": _average(g, model, [_pred(g, sub(e)) for e in _ests(model)])
        }
    if isinstance(model, StackingClassifier | StackingRegressor):
        return _stacking(g, x, width, model, sub)
    return _one_vs_rest(g, model, sub)


def _ests(model: Any) -> list[Any]:
    return [e for e in model.estimators_ if e != "drop"]


def _pred(g: Graph, out: dict[str, str]) -> str:
    return as_column(g, out["prediction"])


def _average(g: Graph, model: Any, parts: list[str]) -> str:
    """``np.average`` over the estimators: weighted, added in estimator order."""
    weights = model._weights_not_none
    total = None
    for j, part in enumerate(parts):
        if weights is not None:
            part = g.op("Mul", [part, g.const(np.float64(weights[j]), "weight")])
        total = part if total is None else g.op("Add", [total, part])
    assert total is not None
    scale = float(np.sum(weights)) if weights is not None else float(len(parts))
    return g.op("Div", [total, g.const(np.float64(scale), "weight_total")])


def _voting_classifier(g: Graph, model: Any, sub: Sub) -> dict[str, str]:
    ests = _ests(model)
    if model.voting == "soft":
        outs = [sub(e) for e in ests]
        missing = [
            type(e).__name__
            for e, o in zip(ests, outs, strict=True)
            if "scores" not in o
        ]
        if missing:  # pragma: no cover - soft voting needs predict_proba to fit
            raise ExportError(f"VotingClassifier: {missing[0]} gives no probabilities.")
        proba = _average(g, model, [o["scores"] for o in outs])
        return {"scores": proba, "raw": proba, "label_rule": "argmax_proba"}
    k = len(model.classes_)
    weights = model._weights_not_none
    total = None
    for j, est in enumerate(ests):
        # the estimators were fitted on the encoded target: their labels are indices
        idx = as_column(g, label_index(g, _indexed(g, sub(est), est)))
        hit = g.op(
            "Cast",
            [
                g.op(
                    "Equal", [idx, g.const(np.arange(k, dtype=np.int64)[np.newaxis, :])]
                )
            ],
            to=11,
        )
        if weights is not None:
            hit = g.op("Mul", [hit, g.const(np.float64(weights[j]), "weight")])
        total = hit if total is None else g.op("Add", [total, hit])
    assert total is not None
    return {"raw": total, "label_rule": "argmax_raw"}


def _indexed(g: Graph, out: dict[str, str], est: Any) -> dict[str, str]:
    """`out` with its label as an index into ``est.classes_`` (0, 1, ... here)."""
    if "label" not in out:
        return out
    classes = np.asarray(est.classes_)
    if not np.array_equal(classes, np.arange(len(classes))):  # pragma: no cover
        raise ExportError(f"{type(est).__name__}: unexpected classes {classes!r}.")
    label = g.op("Cast", [out["label"]], to=7)
    return {
        "label_index": g.op("Reshape", [label, g.const(np.array([-1], dtype=np.int64))])
    }


def _stacking(g: Graph, x: str, width: int, model: Any, sub: Sub) -> dict[str, str]:
    is_clf = isinstance(model, StackingClassifier)
    parts: list[str] = []
    for est, method in zip(model.estimators_, model.stack_method_, strict=True):
        if est == "drop":
            continue
        out = sub(est)
        name = type(est).__name__
        if method == "predict_proba":
            if "scores" not in out:  # pragma: no cover - every converter gives them
                raise ExportError(f"Stacking: {name} gives no probabilities.")
            probs = out["scores"]
            parts.append(
                column(g, probs, 1, len(model.classes_))
                if len(model.classes_) == 2
                else probs
            )
        elif method == "decision_function":
            if "decision" not in out:
                raise ExportError(
                    f"{type(model).__name__} stacks {name}.decision_function, which "
                    "featurekit does not export for it; pass stack_method="
                    "'predict_proba' or stack a model featurekit exports a decision "
                    "function for (a linear model or an SVM)."
                )
            d = out["decision"]
            parts.append(as_column(g, d) if not _is_2d(est) else d)
        elif "prediction" in out:
            parts.append(_pred(g, out))
        else:
            idx = label_index(g, _indexed(g, out, est))
            parts.append(as_column(g, g.op("Cast", [idx], to=11)))
    if model.passthrough:
        parts.append(x)
    meta_width = _meta_width(model) + (width if model.passthrough else 0)
    meta_x = g.op("Concat", parts, "stacked", axis=1) if len(parts) > 1 else parts[0]
    final = model.final_estimator_
    out = sub(final, meta_x, meta_width)
    if not is_clf:
        return {"prediction": out["prediction"]}
    # the final estimator was fitted on the encoded target: its label is the index
    result = {"label_index": label_index(g, _indexed(g, out, final))}
    for key in ("scores", "decision"):
        if key in out:
            result[key] = out[key]
    return result


def _is_2d(est: Any) -> bool:
    return len(getattr(est, "classes_", [])) > 2


def _meta_width(model: Any) -> int:
    return int(sum(model._n_feature_outs))


def _one_vs_rest(g: Graph, model: Any, sub: Sub) -> dict[str, str]:
    if model.label_binarizer_.y_type_ not in ("multiclass", "binary"):
        raise ExportError(
            "OneVsRestClassifier fitted on a multilabel target is not supported; "
            "featurekit exports one label per row."
        )
    ests = list(model.estimators_)
    outs = [sub(e) for e in ests]
    scores = []  # what scikit-learn's _predict_binary compares
    for est, out in zip(ests, outs, strict=True):
        if is_regressor(est):
            scores.append(_pred(g, out))
        elif hasattr(est, "decision_function"):
            if "decision" not in out:
                raise ExportError(
                    f"OneVsRestClassifier over {type(est).__name__} is not supported: "
                    "it ranks the classes by their decision functions, which "
                    "featurekit does not export for it. Use a linear model, an SVM, "
                    "or a model without decision_function."
                )
            scores.append(as_column(g, out["decision"]))
        elif "scores" in out:
            scores.append(column(g, out["scores"], 1))
        else:
            raise ExportError(
                f"OneVsRestClassifier over {type(est).__name__} is not supported."
            )
    result: dict[str, str] = {}
    if len(ests) == 1:  # two classes: one estimator, a threshold
        thresh = 0.0 if hasattr(ests[0], "decision_function") else 0.5
        shifted = g.op("Sub", [scores[0], g.const(np.float64(thresh), "threshold")])
        result.update(raw=shifted, label_rule="raw_gt_zero")
    else:
        stacked = g.op("Concat", scores, "ovr_scores", axis=1)
        result.update(raw=stacked, label_rule="argmax_raw")
    if hasattr(model, "predict_proba"):
        positive = [column(g, o["scores"], 1) for o in outs]
        if len(positive) == 1:
            one = g.const(np.float64(1.0), "one")
            proba = g.op(
                "Concat", [g.op("Sub", [one, positive[0]]), positive[0]], axis=1
            )
        else:
            proba = g.op("Concat", positive, axis=1)
        total = row_sum(g, proba, max(len(positive), 2))
        nonzero = g.op("Not", [g.op("Equal", [total, g.const(np.float64(0.0))])])
        result["scores"] = g.op(
            "Where", [nonzero, g.op("Div", [proba, total]), proba], "proba"
        )
    elif hasattr(model, "decision_function"):
        result["decision"] = result["raw"] if len(ests) > 1 else scores[0]
    return result
