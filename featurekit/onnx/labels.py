"""Class labels from what a model emitter returned: values, an index, or a rule."""

from __future__ import annotations

import numpy as np

from featurekit.onnx.graph import Graph

__all__ = ["label_index", "label_tensor"]


def label_index(g: Graph, out: dict[str, str]) -> str:
    """The (N,) int64 index into ``classes_`` an emitter's rule or index gives.

    `out` holds ``label_index``, or ``label_rule`` with ``raw`` (and ``scores`` for
    ``"argmax_proba"``): ``"raw_ge_zero"`` and ``"raw_gt_zero"`` pick the second
    class where a single raw column is >= 0 (> 0), the argmax rules the first maximum,
    as numpy's argmax does.
    """
    if "label_index" in out:
        return out["label_index"]
    rule = out["label_rule"]
    if rule in ("raw_ge_zero", "raw_gt_zero"):
        compare = "GreaterOrEqual" if rule == "raw_ge_zero" else "Greater"
        idx = g.op(
            "Cast", [g.op(compare, [out["raw"], g.const(np.float64(0.0))])], to=7
        )
        return g.op(
            "Reshape", [idx, g.const(np.array([-1], dtype=np.int64))], "label_index"
        )
    src = out["scores"] if rule == "argmax_proba" else out["raw"]
    # ArgMax keeps the first maximum, as numpy's argmax does
    return g.op("ArgMax", [src], "label_index", axis=1, keepdims=0)


def label_tensor(g: Graph, out: dict[str, str], classes: np.ndarray, elem: str) -> str:
    """The label tensor, class values (N,), from what an emitter returned."""
    if "label" in out:
        label = out["label"]
        if elem == "double":  # skl2onnx may type float labels otherwise
            label = g.op("Cast", [label], "label_double", to=11)
        return label
    index = label_index(g, out)
    # an ArgMax's index is within the classes; so is the rule's 0/1 (a Reshape here)
    safe = "ArgMax" if "label_index" in out else ("ArgMax", "Reshape")
    if _is_positions(classes) and _made_by(g, index) in safe:
        # classes 0, 1, ... k-1: each label is its own index (an ArgMax's, or the
        # rule's Cast of a comparison), one node fewer than a Gather
        return index
    return g.op("Gather", [g.const(classes, "classes"), index], "label_value", axis=0)


def _is_positions(classes: np.ndarray) -> bool:
    """Whether `classes` are the int64 values 0, 1, ..., k-1."""
    return classes.dtype == np.int64 and np.array_equal(
        classes, np.arange(len(classes))
    )


def _made_by(g: Graph, tensor: str) -> str | None:
    """The op type of the node that makes `tensor` in `g`, None if none does."""
    return next((n.op_type for n in g.nodes if tensor in n.output), None)
