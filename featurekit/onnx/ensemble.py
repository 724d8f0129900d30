"""Tree-ensemble pieces shared by scikit-learn's trees and LightGBM/XGBoost.

One `Tree` shape (flat node arrays), constant trees, and the ``ai.onnx.ml`` opset-5
``TreeEnsemble`` node that holds them in double precision.

The node is stored compactly: its interior nodes are built with numpy, not a Python
loop per node, and equal leaves (same target, same weight, bit for bit) are stored
once and shared by every branch that reaches them. A forest whose leaves are pure
then keeps a handful of leaves in all instead of one per tree leaf. A big ensemble
whose sums are exact in any order is split into several nodes added in order, so
onnxruntime builds each kernel with a fraction of the temporary memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from featurekit.onnx.graph import ML, Graph
from featurekit.onnx.precision import raw_thresholds

__all__ = [
    "CHUNK_NODES",
    "Tree",
    "constant_tree",
    "distinct",
    "ensemble_node",
    "push",
    "tree_ensemble",
]


@dataclass
class Tree:
    """One tree in a runtime-neutral form; ``left == -1`` marks a leaf.

    `target` is the output every leaf adds to, or one target per node (read at the
    leaves) when the leaves of one tree add to different outputs.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    value: np.ndarray  # leaf value per node, for one target
    target: int | np.ndarray


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


def _flatten(trees: list[Tree], dtype: type) -> dict[str, np.ndarray]:
    """The TreeEnsemble arrays of `trees`, interior nodes in tree order, leaves shared."""
    uint = np.uint32 if np.dtype(dtype).itemsize == 4 else np.uint64
    # every leaf of every tree, as (target, weight bits): equal ones become one leaf
    targets: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    counts: list[int] = []
    for tree in trees:
        leaves = np.flatnonzero(tree.left == -1)
        target = (
            np.full(len(leaves), tree.target, dtype=np.int64)
            if np.ndim(tree.target) == 0
            else np.asarray(tree.target, dtype=np.int64)[leaves]
        )
        targets.append(target)
        weights.append(np.asarray(tree.value[leaves], dtype=dtype))
        counts.append(len(leaves))
    all_targets = np.concatenate(targets) if targets else np.empty(0, np.int64)
    all_weights = np.concatenate(weights) if weights else np.empty(0, dtype)
    bits = all_weights.view(uint)
    order = np.lexsort((bits, all_targets))
    t, b = all_targets[order], bits[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (b[1:] != b[:-1])
    shared = np.empty(len(order), dtype=np.int64)
    shared[order] = np.cumsum(new) - 1
    leaf_targets = t[new]
    leaf_weights: np.ndarray = b[new].view(dtype)

    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("feature", "split", "missing", "tid", "tleaf", "fid", "fleaf")
    }
    roots: list[int] = []
    n_nodes, first_leaf = 0, 0
    for tree, n_leaves in zip(trees, counts, strict=True):
        is_leaf = tree.left == -1
        leaf_index = np.zeros(len(is_leaf), dtype=np.int64)
        leaf_index[is_leaf] = shared[first_leaf : first_leaf + n_leaves]
        first_leaf += n_leaves
        interior = np.flatnonzero(~is_leaf)
        if len(interior) == 0:  # a single leaf: a split whose both branches reach it
            roots.append(n_nodes)
            one = np.array([leaf_index[0]], dtype=np.int64)
            for key, value in (
                ("feature", np.zeros(1, np.int64)),
                ("split", np.zeros(1, dtype)),
                ("missing", np.zeros(1, np.int64)),  # NaN: either way, the leaf
                ("tid", one),
                ("tleaf", np.ones(1, np.int64)),
                ("fid", one),
                ("fleaf", np.ones(1, np.int64)),
            ):
                parts[key].append(value)
            n_nodes += 1
            continue
        position = np.zeros(len(is_leaf), dtype=np.int64)
        position[interior] = n_nodes + np.arange(len(interior))
        roots.append(int(position[0]))
        parts["feature"].append(np.asarray(tree.feature[interior], dtype=np.int64))
        parts["split"].append(np.asarray(tree.threshold[interior], dtype=dtype))
        parts["missing"].append(np.asarray(tree.missing_left[interior], dtype=np.int64))
        for child, ids, flags in (
            (tree.left[interior], "tid", "tleaf"),
            (tree.right[interior], "fid", "fleaf"),
        ):
            child = np.asarray(child, dtype=np.int64)
            leaf = is_leaf[child]
            parts[flags].append(leaf.astype(np.int64))
            parts[ids].append(np.where(leaf, leaf_index[child], position[child]))
        n_nodes += len(interior)
    flat = {
        k: np.concatenate(v) if v else np.empty(0, np.int64) for k, v in parts.items()
    }
    flat["roots"] = np.asarray(roots, dtype=np.int64)
    flat["leaf_targets"] = leaf_targets
    flat["leaf_weights"] = leaf_weights
    return flat


#: Interior nodes per TreeEnsemble node when a big ensemble is split (see `_chunks`).
CHUNK_NODES = 1 << 18


def ensemble_node(
    g: Graph,
    x: str,
    trees: list[Tree],
    n_targets: int,
    hint: str,
    dtype: type = np.float64,
) -> str:
    """TreeEnsemble nodes summing `trees` in list order; return the sum's tensor.

    `dtype` is the type of `x`, the thresholds, the leaf values and the sums. Equal
    leaves are stored once: a leaf is only a target and a weight, and adding the same
    weight from a shared entry is the same addition. A big ensemble whose sums are
    exact in any order becomes several nodes added in order (`_chunks`).
    """
    outs = [
        _node(g, x, group, n_targets, hint, dtype) for group in _chunks(trees, dtype)
    ]
    total = outs[0]
    for more in outs[1:]:
        total = g.op("Add", [total, more], f"{hint}_sum")
    return total


def _chunks(trees: list[Tree], dtype: type) -> list[list[Tree]]:
    """`trees` in runs of about `CHUNK_NODES` nodes, where that changes no sum.

    onnxruntime builds a TreeEnsemble kernel through temporary copies about twice
    its final size: 1.2 GB more for a 300-tree forest in one node, a fraction of that
    in several. Adding the runs' sums is the same addition only when every partial
    sum is exact: leaf values that are multiples of one power of two, small enough
    that no sum of them rounds (a forest of pure leaves adds 0.0 and 1.0). Otherwise
    the trees stay in one node, summed in scikit-learn's order.
    """
    sizes = [int((t.left != -1).sum()) for t in trees]
    if sum(sizes) <= CHUNK_NODES or np.dtype(dtype) != np.float64:
        return [trees]
    values = np.concatenate([np.asarray(t.value)[t.left == -1] for t in trees])
    if not _exact_in_any_order(values, len(trees)):
        return [trees]
    out: list[list[Tree]] = [[]]
    nodes = 0
    for tree, size in zip(trees, sizes, strict=True):
        if nodes + size > CHUNK_NODES and out[-1]:
            out.append([])
            nodes = 0
        out[-1].append(tree)
        nodes += size
    return out


def _exact_in_any_order(values: np.ndarray, terms: int) -> bool:
    """Whether any sum of at most `terms` of `values` is exact in float64."""
    if not np.isfinite(values).all():
        return False
    biggest = float(np.max(np.abs(values))) if len(values) else 0.0
    for shift in range(64):  # the values as integers times 2**-shift
        scaled = np.ldexp(values, shift)
        if np.array_equal(scaled, np.floor(scaled)):
            return terms * biggest * 2.0**shift < 2.0**53
    return False


def _node(
    g: Graph, x: str, trees: list[Tree], n_targets: int, hint: str, dtype: type
) -> str:
    """One opset-5 TreeEnsemble node summing `trees` in list order."""
    flat = _flatten(trees, dtype)
    missing: dict[str, Any] = {}
    if flat["missing"].any():  # absent means false for every node: NaN goes right
        missing["nodes_missing_value_tracks_true"] = flat["missing"]
    out = g.name(hint)
    g.nodes.append(
        tree_ensemble(
            [x],
            [out],
            g.name("nTreeEnsemble"),
            dtype=dtype,
            n_targets=n_targets,
            tree_roots=flat["roots"],
            nodes_featureids=flat["feature"],
            nodes_splits=flat["split"],
            nodes_truenodeids=flat["tid"],
            nodes_trueleafs=flat["tleaf"],
            nodes_falsenodeids=flat["fid"],
            nodes_falseleafs=flat["fleaf"],
            leaf_targetids=flat["leaf_targets"],
            leaf_weights=flat["leaf_weights"],
            **missing,
        )
    )
    return out


def tree_ensemble(
    inputs: list[str],
    outputs: list[str],
    name: str,
    *,
    dtype: type = np.float64,
    **arrays: Any,
) -> onnx.NodeProto:
    """A TreeEnsemble node (SUM, no post-transform, every split ``x <= t``).

    `arrays` are its attributes as numpy arrays (or ints); ``nodes_splits`` and
    ``leaf_weights`` become `dtype` tensors. Built directly: `onnx.helper` checks
    every element of a list in Python, seconds for a big forest.
    """
    node = onnx.NodeProto(
        op_type="TreeEnsemble", domain=ML, name=name, input=inputs, output=outputs
    )
    n = len(arrays["nodes_featureids"])
    arrays = {
        "aggregate_function": 1,  # SUM
        "post_transform": 0,
        "nodes_modes": np.zeros(n, dtype=np.uint8),  # BRANCH_LEQ
        **arrays,
    }
    for key, value in sorted(arrays.items()):
        attr = node.attribute.add(name=key)
        value = np.asarray(value)
        if key in ("nodes_splits", "leaf_weights", "nodes_modes"):
            attr.type = onnx.AttributeProto.TENSOR
            kind = np.uint8 if key == "nodes_modes" else dtype
            attr.t.CopyFrom(numpy_helper.from_array(value.astype(kind)))
        elif value.ndim == 0:
            attr.type = onnx.AttributeProto.INT
            attr.i = int(value)
        else:
            attr.type = onnx.AttributeProto.INTS
            attr.ints.extend(value.astype(np.int64).tolist())
    return node


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
        uniq, inv = distinct(values, inverse=True)
        raw = raw_thresholds(transform, uniq, precision, -1.0)[inv]
        start = 0
        for tree, idx in where:
            tree.threshold = tree.threshold.copy()
            tree.threshold[idx] = raw[start : start + len(idx)]
            start += len(idx)


def distinct(values: np.ndarray, *, inverse: bool = False) -> Any:
    """The sorted distinct values of a 1-d array (and where each value went).

    `numpy.unique`, by sorting: numpy 2's hashing `unique` is about 100 times
    slower on the million thresholds of a big forest. Equal values (0.0 and -0.0
    too) become one; NaNs stay apart, as `numpy.unique` keeps them with
    ``equal_nan=False``.

    Examples
    --------
    >>> distinct(np.array([3.0, 1.0, 3.0]), inverse=True)
    (array([1., 3.]), array([1, 0, 1]))
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="stable") if inverse else None
    ordered = values[order] if order is not None else np.sort(values)
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    if not inverse:
        return ordered[new]
    where = np.empty(len(ordered), dtype=np.int64)
    where[order] = np.cumsum(new) - 1
    return ordered[new], where
