"""Meta-estimators over scikit-learn trees, as featurekit ``TreeEnsemble`` nodes.

skl2onnx converts the trees inside ``AdaBoost``, ``Bagging`` and
``CalibratedClassifierCV`` (see `featurekit.onnx.calibration`) with the deprecated
``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor`` operators, which the
``ai.onnx.ml`` opset 5 graph refuses and whose float32 scores would break ties
anyway. Here each held tree becomes part of
featurekit's double-precision ``TreeEnsemble`` (`featurekit.onnx.ensemble`), with the
leaf values scikit-learn adds, summed in its order:

- ``AdaBoostClassifier`` (SAMME): a tree's leaf adds ``w`` to the class it predicts
  and ``-w / (K - 1)`` to the others; the sum is divided by the total weight, then
  scikit-learn's decision, label and softmax follow.
- ``AdaBoostRegressor``: every tree is its own target; the weighted median is
  scikit-learn's (sort, cumulative weights, first at or above half).
- ``Bagging*``: the trees' probabilities (or predictions), each tree reading its own
  feature subset, summed job by job as scikit-learn's joblib partition sums them,
  divided by ``n_estimators``. Bagging over other models goes through their own
  emitters.

The module also knows which estimators a meta-estimator holds: how the features must
reach it (`features_precision`) and which splits the certificate probes
(`nested_splits`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.multiclass import OneVsRestClassifier

from featurekit.errors import ExportError
from featurekit.onnx.ensemble import Tree, ensemble_node, push
from featurekit.onnx.graph import Graph
from featurekit.onnx.slices import column
from featurekit.onnx.trees import (
    _SINGLE,
    TREE_MODELS,
    _class_proba,
    _sk_tree,
    tree_precision,
)

__all__ = [
    "NESTED",
    "contract_precision",
    "emit_nested",
    "features_precision",
    "held_estimators",
    "nested_splits",
]

NESTED = (AdaBoostClassifier, AdaBoostRegressor, BaggingClassifier, BaggingRegressor)
_VOTING = (VotingClassifier, VotingRegressor)
_STACKING = (StackingClassifier, StackingRegressor)
Sub = Callable[..., dict[str, str]]


def _held(model: Any) -> list[Any]:
    """The fitted estimators that read the model's own input features."""
    if isinstance(model, CalibratedClassifierCV):
        return [cc.estimator for cc in model.calibrated_classifiers_]
    if isinstance(model, NESTED + _VOTING + _STACKING + (OneVsRestClassifier,)):
        return [e for e in model.estimators_ if not isinstance(e, str)]  # "drop"
    return []


def held_estimators(model: Any) -> list[Any]:
    """Every estimator `model` holds, at any depth (the final one of stacking too)."""
    out = []
    for est in [*_held(model), getattr(model, "final_estimator_", None)]:
        if est is not None and not isinstance(est, str):
            out += [est, *held_estimators(est)]
    return out


def features_precision(model: Any) -> str | None:
    """How the features reach `model`: rounded as trees round them, or not (None).

    A tree model, or a meta-estimator whose every estimator reading the features is
    one with the same rounding, gets its features rounded once before it
    (``"float32"`` or ``"float64"``), so `featurekit.exporting` can prove them bit for
    bit; any other model reads them exact, and the trees it holds round them inside.
    """
    if isinstance(model, TREE_MODELS):
        return tree_precision(model)
    held = _held(model)
    if not held or (isinstance(model, _STACKING) and model.passthrough):
        return None  # with passthrough, the final estimator reads the exact features
    precisions = {features_precision(est) for est in held}
    return precisions.pop() if len(precisions) == 1 else None


def contract_precision(model: Any) -> str:
    """The precision the contract's finite domain is found in (see `float32_domain`).

    ``"float32"`` whenever a tree inside rounds the features to float32, even in a
    meta-estimator whose other estimators read them exact: scikit-learn itself
    refuses a feature beyond float32 there.
    """
    own = features_precision(model)
    if own:
        return own
    if any(contract_precision(est) == "float32" for est in _held(model)):
        return "float32"
    return "float64"


def nested_splits(model: Any) -> list[tuple[int, float]]:
    """(feature, threshold) of every split of the scikit-learn trees `model` holds.

    Feature indices are the model's own input columns (a bagged tree that reads a
    subset is mapped back). A stacking model's final estimator reads the stacked
    answers, not the features, so its splits are not among them.
    """
    out: list[tuple[int, float]] = []
    subsets = getattr(model, "estimators_features_", None)
    for i, est in enumerate(_held(model)):
        if _held(est):
            out += nested_splits(est)
            continue
        trees = [est] if hasattr(est, "tree_") else []
        trees += [
            e for e in np.ravel(getattr(est, "estimators_", [])) if hasattr(e, "tree_")
        ]
        for tree in trees:
            t = tree.tree_
            node = t.children_left != -1
            feat = t.feature[node]
            if subsets is not None:
                feat = np.asarray(subsets[i])[feat]
            out += zip(feat.tolist(), t.threshold[node].tolist(), strict=True)
        for iteration in (
            getattr(est, "_predictors", None) or []
        ):  # HistGradientBoosting
            for predictor in iteration:
                nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
                out += zip(
                    nodes["feature_idx"].tolist(),
                    nodes["num_threshold"].tolist(),
                    strict=True,
                )
    return out


def emit_nested(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    *,
    sub: Sub,
    pushed: dict[int, Any],
    **_: Any,
) -> dict[str, str]:
    """The tensors of `model` (see `featurekit.onnx.model` for their names)."""
    if isinstance(model, AdaBoostClassifier):
        return _adaboost_classifier(g, x, model, pushed)
    if isinstance(model, AdaBoostRegressor):
        return _adaboost_regressor(g, x, model, pushed)
    return _bagging(g, x, width, model, sub, pushed)


def _single_trees(model: Any) -> list[Any]:
    ests = list(model.estimators_)
    odd = [type(e).__name__ for e in ests if not isinstance(e, _SINGLE)]
    if odd:
        raise ExportError(
            f"{type(model).__name__} over {odd[0]} is not supported; featurekit "
            "exports it over decision trees (its default estimator). Use a "
            "RandomForest or GradientBoosting model, or AdaBoost over trees."
        )
    return ests


def _adaboost_classifier(
    g: Graph, x: str, model: Any, pushed: dict[int, Any]
) -> dict[str, str]:
    classes = np.asarray(model.classes_)
    k = len(classes)
    if k < 2:
        raise ExportError(
            f"{type(model).__name__} fitted on one class is not supported."
        )
    trees: list[Tree] = []
    for est, w in zip(_single_trees(model), model.estimator_weights_, strict=False):
        # the class each leaf predicts, as DecisionTreeClassifier.predict picks it
        picked = np.asarray(est.classes_)[np.argmax(est.tree_.value[:, 0, :], axis=1)]
        hit = picked[:, np.newaxis] == classes[np.newaxis, :]
        values = np.where(hit, w, -1 / (k - 1) * w)
        trees.extend(
            _sk_tree(est, values[:, c].astype(np.float64), c) for c in range(k)
        )
    push(trees, pushed, "float32")
    pred = ensemble_node(g, x, trees, k, "adaboost_sum")
    pred = g.op(
        "Div",
        [pred, g.const(np.float64(model.estimator_weights_.sum()), "weight_sum")],
    )
    if k == 2:
        cols = [column(g, pred, c) for c in range(2)]
        d = g.op("Add", [g.op("Neg", [cols[0]]), cols[1]], "decision")
        half = g.const(np.float64(2.0), "two")
        scores = g.op(
            "Softmax",
            [g.op("Div", [g.op("Concat", [g.op("Neg", [d]), d], axis=1), half])],
            "proba",
            axis=1,
        )
        return {"scores": scores, "raw": d, "label_rule": "raw_gt_zero"}
    scaled = g.op("Div", [pred, g.const(np.float64(k - 1), "k_minus_1")])
    scores = g.op("Softmax", [scaled], "proba", axis=1)
    return {"scores": scores, "raw": pred, "label_rule": "argmax_raw"}


def _adaboost_regressor(
    g: Graph, x: str, model: Any, pushed: dict[int, Any]
) -> dict[str, str]:
    ests = _single_trees(model)
    n = len(ests)
    trees = [
        _sk_tree(est, est.tree_.value[:, 0, 0].astype(np.float64), t)
        for t, est in enumerate(ests)
    ]
    push(trees, pushed, "float32")
    preds = ensemble_node(g, x, trees, n, "adaboost_predictions")
    # scikit-learn's _get_median_predict: sort, cumulative weights in sorted order,
    # the first prediction whose cumulative weight reaches half the total
    values, order = (
        g.name("sorted_predictions"),
        g.name("sorted_estimators"),
    )
    from onnx import helper

    g.nodes.append(
        helper.make_node(
            "TopK",
            [preds, g.const(np.array([n], dtype=np.int64), "n_estimators")],
            [values, order],
            name=g.name("n_TopK"),
            axis=1,
            largest=0,
            sorted=1,
        )
    )
    weights = np.asarray(model.estimator_weights_[:n], dtype=np.float64)
    cdf = g.op(
        "CumSum",
        [
            g.op("Gather", [g.const(weights, "estimator_weights"), order], axis=0),
            g.const(np.array(1, dtype=np.int64), "axis_1"),
        ],
        "weight_cdf",
    )
    half = g.op("Mul", [column(g, cdf, n - 1), g.const(np.float64(0.5), "half")])
    reached = g.op("Cast", [g.op("GreaterOrEqual", [cdf, half])], to=6)
    median = g.op("ArgMax", [reached], "median_index", axis=1, keepdims=1)
    return {"prediction": g.op("GatherElements", [values, median], "median", axis=1)}


def _partition(n_estimators: int, n_jobs: Any) -> list[int]:
    """Where each joblib job's estimators start, as scikit-learn partitions them."""
    from joblib import effective_n_jobs

    jobs = min(effective_n_jobs(n_jobs), n_estimators)
    per_job = np.full(jobs, n_estimators // jobs, dtype=int)
    per_job[: n_estimators % jobs] += 1
    return [0, *np.cumsum(per_job).tolist()]


def _bagging(
    g: Graph, x: str, width: int, model: Any, sub: Sub, pushed: dict[int, Any]
) -> dict[str, str]:
    is_clf = isinstance(model, BaggingClassifier)
    k = len(model.classes_) if is_clf else 1
    ests, feats = list(model.estimators_), list(model.estimators_features_)
    starts = _partition(model.n_estimators, model.n_jobs)
    jobs: list[str] = []
    for a, b in itertools.pairwise(starts):
        if all(isinstance(e, _SINGLE) for e in ests):
            jobs.append(_bagged_trees(g, x, ests[a:b], feats[a:b], k, is_clf, pushed))
        else:
            jobs.append(_bagged_models(g, x, ests[a:b], feats[a:b], k, is_clf, sub))
    total = jobs[0]
    for job in jobs[1:]:
        total = g.op("Add", [total, job])
    mean = g.op("Div", [total, g.const(np.float64(model.n_estimators), "n_estimators")])
    out = {"prediction": mean}
    if is_clf:
        out = {"scores": mean, "raw": mean, "label_rule": "argmax_proba"}
    if not all(isinstance(e, _SINGLE) for e in ests):
        out["converter"] = "featurekit.meta(double)"
    return out


def _bagged_trees(
    g: Graph,
    x: str,
    ests: list[Any],
    feats: list[Any],
    k: int,
    is_clf: bool,
    pushed: dict[int, Any],
) -> str:
    trees: list[Tree] = []
    for est, columns in zip(ests, feats, strict=True):
        columns = np.asarray(columns, dtype=np.int64)
        if is_clf:
            proba = _class_proba(est)
            parts = [
                _sk_tree(est, proba[:, j], int(c)) for j, c in enumerate(est.classes_)
            ]
        else:
            parts = [_sk_tree(est, est.tree_.value[:, 0, 0].astype(np.float64), 0)]
        for tree in parts:
            leaf = tree.left == -1
            tree.feature = np.where(
                leaf, tree.feature, columns[np.maximum(tree.feature, 0)]
            )
        trees.extend(parts)
    push(trees, pushed, "float32")
    return ensemble_node(g, x, trees, k, "bagging_sum")


def _bagged_models(
    g: Graph,
    x: str,
    ests: list[Any],
    feats: list[Any],
    k: int,
    is_clf: bool,
    sub: Sub,
) -> str:
    total: str | None = None
    for est, columns in zip(ests, feats, strict=True):
        columns = np.asarray(columns, dtype=np.int64)
        x_sub = g.op("Gather", [x, g.const(columns, "bagged_columns")], axis=1)
        out = sub(est, x_sub, len(columns))
        if is_clf:
            if "scores" not in out or not hasattr(est, "predict_proba"):
                raise ExportError(
                    f"Bagging over {type(est).__name__} without predict_proba is not "
                    "supported; bag a model that has predict_proba."
                )
            part = out["scores"]
            if len(est.classes_) != k:
                # proba[:, est.classes_] += ...: scatter into the model's classes
                spread = np.zeros((len(est.classes_), k))
                spread[np.arange(len(est.classes_)), np.asarray(est.classes_)] = 1.0
                part = g.op("MatMul", [part, g.const(spread, "class_spread")])
        else:
            part = g.op(
                "Reshape",
                [out["prediction"], g.const(np.array([-1, 1], dtype=np.int64))],
            )
        total = part if total is None else g.op("Add", [total, part])
    assert total is not None
    return total
