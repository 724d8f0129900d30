"""What scikit-learn adds as one term of a tree model, and how it computes and routes it.

A `Unit` is a tree of a forest, a boosting stage (one tree per class) or an
iteration of histogram gradient boosting; its ``terms`` are scikit-learn's own
answers for that unit alone (``predict_proba`` of one tree of a forest,
``learning_rate * predict`` of a stage's trees, a ``TreePredictor``'s ``predict``),
and each `Structure` holds one scikit-learn tree's nodes and its ``route`` (the leaf
a row reaches: ``apply``). `featurekit.exporting.tree_probes` compares them with the
graph's trees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

__all__ = ["Structure", "Unit", "units_of"]


@dataclass
class Structure:
    """One scikit-learn tree: its nodes (``left == -1`` at leaves) and its routes."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    #: rows (in scikit-learn's input dtype) -> the leaf each reaches
    route: Callable[[np.ndarray], np.ndarray]
    _preorder: tuple[np.ndarray, np.ndarray] | None = None

    def subtrees(self) -> tuple[np.ndarray, np.ndarray]:
        """Per node, its position in preorder and the size of its subtree.

        A node ``m`` lies under ``a`` when ``start[a] <= start[m] < start[a] +
        size[a]``.
        """
        if self._preorder is None:
            levels, front = [], np.array([0], dtype=np.int64)
            while len(front):
                levels.append(front)
                inner = front[self.left[front] != -1]
                front = np.concatenate([self.left[inner], self.right[inner]])
            size = np.ones(len(self.left), dtype=np.int64)
            for level in reversed(levels):
                inner = level[self.left[level] != -1]
                size[inner] += size[self.left[inner]] + size[self.right[inner]]
            start = np.zeros(len(self.left), dtype=np.int64)
            for level in levels:
                inner = level[self.left[level] != -1]
                start[self.left[inner]] = start[inner] + 1
                start[self.right[inner]] = start[inner] + 1 + size[self.left[inner]]
            self._preorder = (start, size)
        return self._preorder


@dataclass
class Unit:
    """What scikit-learn adds as one term: its trees and how it computes the term."""

    name: str
    structures: list[Structure]
    #: rows in scikit-learn's input dtype -> the unit's terms, (n, n_targets) float64
    terms: Callable[[np.ndarray], np.ndarray]


def _decision_tree(est: Any) -> Structure:
    t = est.tree_
    missing = getattr(t, "missing_go_to_left", None)

    def route(X: np.ndarray) -> np.ndarray:
        return np.asarray(est.apply(X, check_input=False), dtype=np.int64)

    return Structure(
        t.feature.astype(np.int64),
        t.threshold.astype(np.float64),
        t.children_left.astype(np.int64),
        t.children_right.astype(np.int64),
        np.zeros(t.node_count, bool) if missing is None else np.asarray(missing, bool),
        route,
    )


def _predictor(p: Any) -> Structure:
    nodes = p.nodes
    leaf = nodes["is_leaf"].astype(bool)
    feature = nodes["feature_idx"].astype(np.int64)
    threshold = nodes["num_threshold"].astype(np.float64)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    missing = nodes["missing_go_to_left"].astype(bool)

    def route(X: np.ndarray) -> np.ndarray:
        # TreePredictor has no apply: follow its rule (NaN by missing_go_to_left,
        # else x <= num_threshold) over its own node arrays
        at = np.zeros(len(X), dtype=np.int64)
        active = np.flatnonzero(~leaf[at])
        while len(active):
            node = at[active]
            x = X[active, feature[node]]
            go_left = np.where(np.isnan(x), missing[node], x <= threshold[node])
            at[active] = np.where(go_left, left[node], right[node])
            active = active[~leaf[at[active]]]
        return at

    return Structure(feature, threshold, left, right, missing, route)


def _tree_terms(est: Any, is_clf: bool, X: np.ndarray) -> np.ndarray:
    # what a forest adds per tree: its predict_proba, or its predict
    if is_clf:
        return np.asarray(est.predict_proba(X, check_input=False))
    return np.asarray(est.predict(X, check_input=False)).reshape(-1, 1)


def _stage_terms(ests: list[Any], rate: float, X: np.ndarray) -> np.ndarray:
    # what gradient boosting adds per stage: learning_rate * each class tree's value
    return np.stack([rate * e.predict(X, check_input=False) for e in ests], axis=1)


def _iteration_terms(
    predictors: list[Any], known: Any, f_idx: Any, X: np.ndarray
) -> np.ndarray:
    return np.stack([p.predict(X, known, f_idx, 1) for p in predictors], axis=1)


def units_of(model: Any, counts: list[int]) -> list[Unit | None]:
    """scikit-learn's units of `model`, aligned with the graph's (None: a constant).

    `counts` is how many graph trees each unit holds, in graph order.
    """
    from featurekit.onnx.trees import _FOREST, _GB, _HGB, _SINGLE

    out: list[Unit | None] = []
    if isinstance(model, _SINGLE + _FOREST):
        ests = [model] if isinstance(model, _SINGLE) else list(model.estimators_)
        is_clf = hasattr(model, "classes_")
        for i, (est, count) in enumerate(zip(ests, counts, strict=True)):
            name = "the tree" if isinstance(model, _SINGLE) else f"tree {i}"
            terms = partial(_tree_terms, est, is_clf)
            out.append(Unit(name, [_decision_tree(est)] * count, terms))
        return out
    if isinstance(model, _GB):
        out.append(None)  # the initial raw prediction: a constant per class
        for i, stage in enumerate(model.estimators_):
            ests = list(stage)
            terms = partial(_stage_terms, ests, model.learning_rate)
            out.append(Unit(f"stage {i}", [_decision_tree(e) for e in ests], terms))
        return out
    if isinstance(model, _HGB):
        known, f_idx = model._bin_mapper.make_known_categories_bitsets()
        out.append(None)  # the baseline prediction
        for i, predictors in enumerate(model._predictors):
            terms = partial(_iteration_terms, list(predictors), known, f_idx)
            structures = [_predictor(p) for p in predictors]
            out.append(Unit(f"iteration {i}", structures, terms))
        return out
    raise TypeError(f"{type(model).__name__} is not probed tree by tree.")
