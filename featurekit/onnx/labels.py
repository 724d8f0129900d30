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
    return g.op(
        "Gather",
        [g.const(classes, "classes"), label_index(g, out)],
        "label_value",
        axis=0,
    )
