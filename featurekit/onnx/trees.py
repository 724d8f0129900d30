"""Convert scikit-learn tree models to one double-precision ONNX ``TreeEnsemble``.

skl2onnx emits the older ``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor``, whose
onnxruntime kernels return float32 scores. Averaged forests then break exact ties
differently from scikit-learn (0.48 vs 0.48 becomes 0.47999996 vs 0.48). Here every
tree becomes part of an ``ai.onnx.ml`` opset-5 ``TreeEnsemble`` in double precision:

- inputs are rounded to float32 first where scikit-learn does so (its trees and
  forests), then compared against the original float64 thresholds;
- leaf values are the float64 values scikit-learn adds, in the same order, starting
  from the same initial raw prediction, so the sums match bit for bit when the
  session runs single-threaded;
- the link function (average, sigmoid, softmax, exp) is applied after the sum, as
  scikit-learn applies it.

LightGBM and XGBoost models take the same path with their own rules
(`featurekit.onnx.boosting`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)

from featurekit.errors import ExportError
from featurekit.onnx.boosting import LightGBMModel, XGBoostModel, emit_boosting
from featurekit.onnx.ensemble import Tree, constant_tree, ensemble_node, push
from featurekit.onnx.graph import Graph

__all__ = ["TREE_MODELS", "emit_tree_model", "tree_precision"]

_SINGLE = (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)
_FOREST = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)
_GB = (GradientBoostingClassifier, GradientBoostingRegressor)
_HGB = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
_BOOSTING = (LightGBMModel, XGBoostModel)  # matched without importing either library
TREE_MODELS = _SINGLE + _FOREST + _GB + _HGB + _BOOSTING


def _sk_tree(est: Any, values: np.ndarray, target: int) -> Tree:
    t = est.tree_
    missing = getattr(t, "missing_go_to_left", None)
    if missing is None:
        missing = np.zeros(t.node_count, dtype=np.uint8)
    return Tree(
        t.feature.astype(np.int64),
        t.threshold.astype(np.float64),
        t.children_left.astype(np.int64),
        t.children_right.astype(np.int64),
        np.asarray(missing).astype(bool),
        values,
        target,
    )


def _class_proba(est: Any) -> np.ndarray:
    """Per-node class probabilities, normalised exactly as DecisionTreeClassifier does."""
    if est.n_outputs_ != 1:
        raise ExportError(
            f"{type(est).__name__} with several outputs is not supported."
        )
    proba = est.tree_.value[:, 0, : est.n_classes_].astype(np.float64)
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    proba /= normalizer
    return np.asarray(proba, dtype=np.float64)


def _class_trees(est: Any, proba: np.ndarray) -> list[Tree]:
    """One classifier tree as few TreeEnsemble trees as its leaves allow.

    scikit-learn adds every class's probability of every tree, zeros included; adding
    0.0 to a sum of probabilities changes nothing, so only the non-zero ones need a
    leaf. Tree ``r`` adds, at each leaf, the ``r``-th class that leaf gives a non-zero
    probability (or 0.0 when it has fewer). A forest of pure leaves (the default
    depth) becomes one tree per estimator instead of one per class; every class still
    receives its terms in scikit-learn's order, one estimator after the other.
    """
    leaf = est.tree_.children_left == -1
    nonzero = (proba > 0.0) & leaf[:, np.newaxis]
    rank = np.cumsum(nonzero, axis=1) - 1
    out = []
    for r in range(max(1, int(nonzero.sum(axis=1).max()))):
        holds = nonzero & (rank == r)
        target = np.argmax(holds, axis=1)  # 0 where the leaf adds nothing here
        value = np.where(holds.any(axis=1), proba[np.arange(len(proba)), target], 0.0)
        out.append(_sk_tree(est, value, 0))
        out[-1].target = target
    return out


def _note_units(g: Graph, ensemble: str, units: list[int]) -> None:
    """Tell the exporter which TreeEnsemble trees add each scikit-learn tree's terms.

    `units` counts, in order, the ensemble trees of each unit scikit-learn adds as one:
    an initial prediction, a tree of a forest, a boosting stage (one tree per class).
    The certificate probes each unit on its own (`featurekit.exporting.tree_probes`).
    """
    g.notes["tree_ensemble"] = ensemble
    g.notes["tree_units"] = ",".join(map(str, units))


def _hgb_tree(predictor: Any, target: int) -> Tree:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise ExportError(
            "HistGradientBoosting with native categorical splits is not supported; "
            "let featurekit one-hot or ordinal-encode the column instead."
        )
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(
        nodes["feature_idx"].astype(np.int64),
        nodes["num_threshold"].astype(np.float64),
        np.where(leaf, -1, nodes["left"].astype(np.int64)),
        np.where(leaf, -1, nodes["right"].astype(np.int64)),
        nodes["missing_go_to_left"].astype(bool),
        nodes["value"].astype(np.float64),
        target,
    )


def _link(model: Any) -> str:
    loss = getattr(model, "_loss", None)
    return type(getattr(loss, "link", None)).__name__


def tree_precision(model: Any) -> str:
    """The precision `model`'s splits compare in: "float32" or "float64"."""
    return "float64" if isinstance(model, (*_HGB, LightGBMModel)) else "float32"


def emit_tree_model(
    g: Graph, x: str, model: Any, pushed: dict[int, Any] | None = None
) -> dict[str, str]:
    """Add `model` to `g` reading the double features `x`; return its output tensors.

    `x` must already be rounded as `tree_precision` says, column by column, and
    `pushed` names the columns that arrive raw (see `raw_thresholds`).

    Returns ``{"scores": ..., "raw": ...}`` for classifiers (probabilities and the raw
    values the label rule reads) or ``{"prediction": ...}`` for regressors, plus
    ``"label_rule"``: ``"argmax_proba"``, ``"argmax_raw"`` or ``"raw_ge_zero"``, or
    instead ``"label_index"``, the index into ``classes_`` itself. LightGBM and
    XGBoost models also give ``"converter"``.
    """
    is_clf = hasattr(model, "classes_")
    pushed = pushed or {}
    precision = tree_precision(model)
    if isinstance(model, _BOOSTING):
        return emit_boosting(g, x, model, pushed)

    if isinstance(model, _SINGLE + _FOREST):
        ests = [model] if isinstance(model, _SINGLE) else list(model.estimators_)
        trees: list[Tree] = []
        units: list[int] = []
        if is_clf:
            k = int(model.n_classes_)
            for est in ests:
                held = _class_trees(est, _class_proba(est))
                trees.extend(held)
                units.append(len(held))
        else:
            if model.n_outputs_ != 1:
                raise ExportError(
                    f"{type(model).__name__} with several outputs is not supported."
                )
            k = 1
            trees = [
                _sk_tree(est, est.tree_.value[:, 0, 0].astype(np.float64), 0)
                for est in ests
            ]
            units = [1] * len(ests)
        push(trees, pushed, precision)
        raw = ensemble_node(g, x, trees, k, "tree_sum")
        _note_units(g, raw, units)
        if isinstance(model, _FOREST):
            raw = g.op(
                "Div", [raw, g.const(np.float64(len(ests)), "n_trees")], "tree_mean"
            )
        if is_clf:
            return {"scores": raw, "raw": raw, "label_rule": "argmax_proba"}
        return {"prediction": raw}

    if isinstance(model, _GB):
        init = model._raw_predict_init(
            np.zeros((1, model.n_features_in_), dtype=np.float32)
        )
        k = init.shape[1]
        trees = [constant_tree(float(init[0, t]), t) for t in range(k)]
        for stage in model.estimators_:
            for t in range(k):
                est = stage[t]
                trees.append(
                    _sk_tree(est, model.learning_rate * est.tree_.value[:, 0, 0], t)
                )
        push(trees, pushed, precision)
        raw = ensemble_node(g, x, trees, k, "raw")
        _note_units(g, raw, [k] * (len(model.estimators_) + 1))
        if not is_clf:
            return {"prediction": raw}
        return _classifier_link(g, raw, k, "raw_ge_zero" if k == 1 else "argmax_raw")

    if isinstance(model, _HGB):
        base = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
        k = base.shape[0]
        trees = [constant_tree(float(base[t]), t) for t in range(k)]
        for iteration in model._predictors:
            trees.extend(_hgb_tree(p, t) for t, p in enumerate(iteration))
        push(trees, pushed, precision)
        raw = ensemble_node(g, x, trees, k, "raw")
        _note_units(g, raw, [k] * (len(model._predictors) + 1))
        link = _link(model)
        if not is_clf:
            if link == "IdentityLink":
                return {"prediction": raw}
            if link == "LogLink":
                return {"prediction": g.op("Exp", [raw], "prediction_exp")}
            raise ExportError(
                f"HistGradientBoostingRegressor link {link} is not supported."
            )
        return _classifier_link(g, raw, k, "argmax_proba")

    raise ExportError(
        f"{type(model).__name__} is not a supported tree model."
    )  # pragma: no cover


def _classifier_link(g: Graph, raw: str, k: int, rule: str) -> dict[str, str]:
    if k == 1:
        p1 = g.op("Sigmoid", [raw], "p1")
        p0 = g.op("Sub", [g.const(np.float64(1.0), "one_d"), p1], "p0")
        scores = g.op("Concat", [p0, p1], "proba", axis=1)
    else:
        scores = g.op("Softmax", [raw], "proba", axis=1)
    return {"scores": scores, "raw": raw, "label_rule": rule}
