"""Read a TreeEnsemble node back from an exported graph, and run some of its trees alone.

The certificate proves what ships: `read_ensemble` parses the node out of the graph's
bytes, and `route_session` cuts trees out of it as small ensembles of their own,
whose output is the branch each tree took (`featurekit.exporting.tree_probes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from featurekit.onnx.ensemble import tree_ensemble

__all__ = ["Cutter", "Ensemble", "read_ensemble", "route_session"]


@dataclass
class Ensemble:
    """The arrays of one ``TreeEnsemble`` node of an exported graph."""

    roots: np.ndarray
    feature: np.ndarray
    split: np.ndarray
    true_id: np.ndarray
    true_leaf: np.ndarray
    false_id: np.ndarray
    false_leaf: np.ndarray
    missing: np.ndarray
    leaf_target: np.ndarray
    leaf_weight: np.ndarray
    n_targets: int


def read_ensemble(model: bytes, output: str) -> Ensemble:
    """The TreeEnsemble that computes `output` in `model`, as one set of arrays.

    `output` is a ``TreeEnsemble`` node's, or the sum of several added in order (a
    big ensemble split by `featurekit.onnx.ensemble.ensemble_node`); their trees are
    numbered on, in that order.
    """
    graph = onnx.load_from_string(model).graph
    producer = {o: n for n in graph.node for o in n.output}
    parts = [_arrays(node) for node in _ensembles(producer, output)]
    if len(parts) == 1:
        return parts[0]
    nodes = np.cumsum([0] + [len(p.feature) for p in parts[:-1]])
    leaves = np.cumsum([0] + [len(p.leaf_target) for p in parts[:-1]])

    def ids(p: Ensemble, i: int, child: np.ndarray, leaf: np.ndarray) -> np.ndarray:
        return np.asarray(child + np.where(leaf, leaves[i], nodes[i]), np.int64)

    return Ensemble(
        roots=np.concatenate([p.roots + nodes[i] for i, p in enumerate(parts)]),
        feature=np.concatenate([p.feature for p in parts]),
        split=np.concatenate([p.split for p in parts]),
        true_id=np.concatenate(
            [ids(p, i, p.true_id, p.true_leaf) for i, p in enumerate(parts)]
        ),
        true_leaf=np.concatenate([p.true_leaf for p in parts]),
        false_id=np.concatenate(
            [ids(p, i, p.false_id, p.false_leaf) for i, p in enumerate(parts)]
        ),
        false_leaf=np.concatenate([p.false_leaf for p in parts]),
        missing=np.concatenate([p.missing for p in parts]),
        leaf_target=np.concatenate([p.leaf_target for p in parts]),
        leaf_weight=np.concatenate([p.leaf_weight for p in parts]),
        n_targets=parts[0].n_targets,
    )


def _ensembles(producer: dict[str, Any], output: str) -> list[Any]:
    """The TreeEnsemble nodes whose sum, in order, is `output`."""
    node = producer.get(output)
    if node is None:  # pragma: no cover - the exporter names a tensor it emitted
        raise ValueError(f"The graph has no node writing {output!r}.")
    if node.op_type == "TreeEnsemble":
        return [node]
    if node.op_type == "Identity":
        return _ensembles(producer, node.input[0])
    if node.op_type == "Add":  # ((first + second) + third) ...
        return _ensembles(producer, node.input[0]) + _ensembles(producer, node.input[1])
    raise ValueError(  # pragma: no cover
        f"{output!r} is written by a {node.op_type} node, not by TreeEnsembles."
    )


def _arrays(node: Any) -> Ensemble:
    """One TreeEnsemble node's attributes, as arrays."""
    attrs = {a.name: a for a in node.attribute}

    def ints(name: str) -> np.ndarray:
        a = attrs.get(name)
        return np.array(a.ints if a is not None else [], dtype=np.int64)

    n = len(attrs["nodes_featureids"].ints)
    missing = ints("nodes_missing_value_tracks_true")
    return Ensemble(
        roots=ints("tree_roots"),
        feature=ints("nodes_featureids"),
        split=numpy_helper.to_array(attrs["nodes_splits"].t).astype(np.float64),
        true_id=ints("nodes_truenodeids"),
        true_leaf=ints("nodes_trueleafs").astype(bool),
        false_id=ints("nodes_falsenodeids"),
        false_leaf=ints("nodes_falseleafs").astype(bool),
        missing=missing.astype(bool) if len(missing) else np.zeros(n, dtype=bool),
        leaf_target=ints("leaf_targetids"),
        leaf_weight=numpy_helper.to_array(attrs["leaf_weights"].t).astype(np.float64),
        n_targets=int(attrs["n_targets"].i) if "n_targets" in attrs else 1,
    )


class Cutter:
    """Cut units out of the graph's ensemble as small ensembles of their own."""

    def __init__(self, ens: Ensemble) -> None:
        self.ens = ens
        self._local = np.zeros(len(ens.feature), dtype=np.int64)

    def nodes(self, root: int) -> np.ndarray:
        """The interior nodes of the tree at `root`, breadth first."""
        ens, out = self.ens, []
        front = np.array([root], dtype=np.int64)
        while len(front):
            out.append(front)
            front = np.concatenate(
                [
                    ens.true_id[front][~ens.true_leaf[front]],
                    ens.false_id[front][~ens.false_leaf[front]],
                ]
            )
        return np.concatenate(out)

    def routes(self, trees: list[int]) -> onnx.NodeProto:
        """`trees` as one TreeEnsemble whose output says which branch each tree took.

        Every tree is its own target, and every branch that ends in a leaf gets a
        leaf of its own, weighing its code ``2 * node + side`` (node numbers of the
        full ensemble). The nodes, splits and missing-value rules are the graph's.
        """
        ens = self.ens
        per_tree = [self.nodes(int(ens.roots[t])) for t in trees]
        order = np.concatenate(per_tree)
        n = len(order)
        self._local[order] = np.arange(n)
        tleaf, fleaf = ens.true_leaf[order], ens.false_leaf[order]
        t_at, f_at = np.flatnonzero(tleaf), np.flatnonzero(fleaf)
        true_id = self._local[np.where(tleaf, order[0], ens.true_id[order])]
        false_id = self._local[np.where(fleaf, order[0], ens.false_id[order])]
        true_id[t_at] = np.arange(len(t_at))
        false_id[f_at] = len(t_at) + np.arange(len(f_at))
        tree_of = np.repeat(np.arange(len(trees)), [len(p) for p in per_tree])
        return tree_ensemble(
            [],
            [],
            "routes",
            n_targets=len(trees),
            tree_roots=self._local[ens.roots[trees]],
            nodes_featureids=ens.feature[order],
            nodes_splits=ens.split[order],
            nodes_truenodeids=true_id,
            nodes_trueleafs=tleaf,
            nodes_falsenodeids=false_id,
            nodes_falseleafs=fleaf,
            nodes_missing_value_tracks_true=ens.missing[order],
            leaf_targetids=np.concatenate([tree_of[t_at], tree_of[f_at]]),
            leaf_weights=np.concatenate([2.0 * order[t_at], 2.0 * order[f_at] + 1.0]),
        )


def route_session(cutter: Cutter, units: list[list[int]], width: int) -> Any:
    """One onnxruntime session of `units` (lists of tree numbers), each on its own.

    Unit ``i`` reads input ``x{i}`` (the rows for it, ``(N, width)`` doubles) and
    writes ``r{i}``: per row and tree, the code of the branch the tree took.
    """
    from onnx import TensorProto, helper

    from featurekit.onnx.graph import OPSET
    from featurekit.runtime import Session

    inputs, outputs = [], []
    nodes = [cutter.routes(trees) for trees in units]
    for i, node in enumerate(nodes):
        node.input.append(f"x{i}")
        node.output.append(f"r{i}")
        node.name = f"routes{i}"  # unique in the graph
        n_targets = next(a.i for a in node.attribute if a.name == "n_targets")
        inputs.append(
            helper.make_tensor_value_info(f"x{i}", TensorProto.DOUBLE, ["N", width])
        )
        outputs.append(
            helper.make_tensor_value_info(f"r{i}", TensorProto.DOUBLE, ["N", n_targets])
        )
    graph = onnx.GraphProto(name="featurekit_tree_probes")
    graph.node.extend(nodes)
    graph.input.extend(inputs)
    graph.output.extend(outputs)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in OPSET.items()]
    )
    model.ir_version = 10
    return Session(model.SerializeToString(), threads=1)
