"""Tree-ensemble pieces shared by scikit-learn's trees and LightGBM/XGBoost.

One `Tree` shape (flat node arrays), constant trees, and the ``ai.onnx.ml`` opset-5
``TreeEnsemble`` node that holds them in double precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import helper, numpy_helper

from featurekit.onnx.graph import ML, Graph
from featurekit.onnx.precision import raw_thresholds

__all__ = ["Tree", "constant_tree", "ensemble_node", "push"]


@dataclass
class Tree:
    """One tree in a runtime-neutral form; ``left == -1`` marks a leaf."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    value: np.ndarray  # leaf value per node, for one target
    target: int


def constant_tree(value: float, target: int) -> Tree:
    return Tree(
        np.array([-2]),
        np.array([-2.0]),
        np.array([-1]),
        np.array([-1]),
        np.array([False]),
        np.array([value], dtype=np.float64),
        target,
    )


def ensemble_node(
    g: Graph,
    x: str,
    trees: list[Tree],
    n_targets: int,
    hint: str,
    dtype: type = np.float64,
) -> str:
    """One opset-5 TreeEnsemble node summing `trees` in list order.

    `dtype` is the type of `x`, the thresholds, the leaf values and the sums.
    """
    feat: list[int] = []
    split: list[float] = []
    tleaf: list[int] = []
    tnode: list[int] = []
    fleaf: list[int] = []
    fnode: list[int] = []
    miss: list[int] = []
    roots: list[int] = []
    leaf_target: list[int] = []
    leaf_weight: list[float] = []
    for tree in trees:
        is_leaf = tree.left == -1
        interior = np.flatnonzero(~is_leaf)
        leaves = np.flatnonzero(is_leaf)
        node_pos = {int(n): len(feat) + i for i, n in enumerate(interior)}
        leaf_pos = {int(n): len(leaf_target) + i for i, n in enumerate(leaves)}
        leaf_target.extend([tree.target] * len(leaves))
        leaf_weight.extend(float(tree.value[n]) for n in leaves)
        if len(interior) == 0:  # a single leaf: a split whose both branches reach it
            roots.append(len(feat))
            feat.append(0)
            split.append(0.0)
            for flags, ids in ((tleaf, tnode), (fleaf, fnode)):
                flags.append(1)
                ids.append(leaf_pos[0])
            miss.append(1)
            continue
        roots.append(node_pos[0])
        for n in interior:
            feat.append(int(tree.feature[n]))
            split.append(float(tree.threshold[n]))
            miss.append(int(tree.missing_left[n]))
            for child, flags, ids in (
                (tree.left[n], tleaf, tnode),
                (tree.right[n], fleaf, fnode),
            ):
                if is_leaf[child]:
                    flags.append(1)
                    ids.append(leaf_pos[int(child)])
                else:
                    flags.append(0)
                    ids.append(node_pos[int(child)])
    out = g.name(hint)
    g.nodes.append(
        helper.make_node(
            "TreeEnsemble",
            [x],
            [out],
            name=g.name("nTreeEnsemble"),
            domain=ML,
            aggregate_function=1,  # SUM
            post_transform=0,
            n_targets=n_targets,
            tree_roots=roots,
            nodes_featureids=feat,
            nodes_splits=numpy_helper.from_array(np.array(split, dtype=dtype)),
            nodes_modes=numpy_helper.from_array(
                np.zeros(len(feat), dtype=np.uint8)
            ),  # LEQ
            nodes_truenodeids=tnode,
            nodes_trueleafs=tleaf,
            nodes_falsenodeids=fnode,
            nodes_falseleafs=fleaf,
            nodes_missing_value_tracks_true=miss,
            leaf_targetids=leaf_target,
            leaf_weights=numpy_helper.from_array(np.array(leaf_weight, dtype=dtype)),
        )
    )
    return out


def push(trees: list[Tree], pushed: dict[int, Any], precision: str) -> None:
    """Rewrite the thresholds of splits on pushed columns into raw space."""
    for column, transform in pushed.items():
        where = [
            (tree, np.flatnonzero((tree.left != -1) & (tree.feature == column)))
            for tree in trees
        ]
        values = np.concatenate(
            [tree.threshold[idx] for tree, idx in where] + [np.empty(0)]
        )
        if not len(values):
            continue
        uniq, inv = np.unique(values, return_inverse=True)
        raw = raw_thresholds(transform, uniq, precision, -1.0)[inv]
        start = 0
        for tree, idx in where:
            tree.threshold = tree.threshold.copy()
            tree.threshold[idx] = raw[start : start + len(idx)]
            start += len(idx)
