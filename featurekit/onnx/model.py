"""Add the model to the graph: featurekit's tree converter, or skl2onnx for the rest.

featurekit's converter covers scikit-learn's trees, LightGBM and XGBoost.

The result always has the same outputs: classifiers give ``label`` (N,) typed like
``classes_`` and ``probabilities`` (N, n_classes) in double; regressors give
``prediction`` (N,) in double.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from featurekit.errors import ExportError
from featurekit.onnx.graph import OPSET, Graph, splice
from featurekit.onnx.trees import TREE_MODELS, emit_tree_model

__all__ = ["emit_model"]


def _classes_elem(classes: np.ndarray) -> tuple[str, np.ndarray]:
    if classes.dtype.kind in "iu":
        return "int64", classes.astype(np.int64)
    if classes.dtype.kind in "OU" and all(isinstance(c, str) for c in classes):
        return "string", classes.astype(object)
    if classes.dtype.kind == "f":
        return "double", classes.astype(np.float64)
    raise ExportError(
        f"Class labels of dtype {classes.dtype} ({classes[:3].tolist()!r}...) are not "
        "supported; encode the target as integers or strings."
    )


def emit_model(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    precision: str,
    pushed: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """Emit `model` reading the double tensor `x`; add the graph outputs.

    Parameters
    ----------
    precision : {"double", "float"}
        For models featurekit does not convert itself: what skl2onnx converts with.

    Returns
    -------
    dict
        ``kind`` ("classifier" or "regressor"), ``converter`` and ``classes``.
    """
    is_clf = hasattr(model, "classes_")
    info: dict[str, Any] = {"kind": "classifier" if is_clf else "regressor"}
    if isinstance(model, TREE_MODELS):
        out = emit_tree_model(g, x, model, pushed)
        info["converter"] = out.pop("converter", "featurekit.TreeEnsemble(double)")
    else:
        out = _emit_skl2onnx(g, x, width, model, precision)
        info["converter"] = f"skl2onnx({precision})"
    if is_clf:
        elem, classes = _classes_elem(np.asarray(model.classes_))
        info["classes"] = classes.tolist()
        probs = out["scores"]
        if "label" in out:
            label = out["label"]
            if elem == "double":  # skl2onnx may type float labels otherwise
                label = g.op("Cast", [label], "label_double", to=11)
        elif "label_index" in out:
            label = g.op(
                "Gather",
                [g.const(classes, "classes"), out["label_index"]],
                "label_value",
                axis=0,
            )
        else:
            rule = out["label_rule"]
            if rule == "raw_ge_zero":
                idx = g.op(
                    "Cast",
                    [g.op("GreaterOrEqual", [out["raw"], g.const(np.float64(0.0))])],
                    to=7,
                )
                idx = g.op(
                    "Reshape",
                    [idx, g.const(np.array([-1], dtype=np.int64))],
                    "label_index",
                )
            else:
                src = probs if rule == "argmax_proba" else out["raw"]
                idx = g.op("ArgMax", [src], "label_index", axis=1, keepdims=0)
            label = g.op(
                "Gather", [g.const(classes, "classes"), idx], "label_value", axis=0
            )
        g.nodes.append(
            onnx.helper.make_node(
                "Identity", [label], ["label"], name=g.name("n_label")
            )
        )
        g.nodes.append(
            onnx.helper.make_node(
                "Identity", [probs], ["probabilities"], name=g.name("n_proba")
            )
        )
        g.add_output("label", elem, ["N"])
        g.add_output("probabilities", "double", ["N", len(classes)])
    else:
        pred = g.op(
            "Reshape",
            [out["prediction"], g.const(np.array([-1], dtype=np.int64))],
            "pred_flat",
        )
        g.nodes.append(
            onnx.helper.make_node(
                "Identity", [pred], ["prediction"], name=g.name("n_pred")
            )
        )
        g.add_output("prediction", "double", ["N"])
    return info


def _emit_skl2onnx(
    g: Graph, x: str, width: int, model: Any, precision: str
) -> dict[str, str]:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    except ImportError:  # pragma: no cover - a hard dependency of the training side
        raise ExportError("Exporting needs skl2onnx: pip install featurekit") from None
    tensor_type = DoubleTensorType if precision == "double" else FloatTensorType
    options = (
        {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    )
    try:
        sub = convert_sklearn(
            model,
            initial_types=[("X", tensor_type([None, width]))],
            options=options,
            target_opset=OPSET[""],
        )
    except Exception as exc:  # skl2onnx raises many types for unsupported models
        raise ExportError(
            f"skl2onnx cannot convert {type(model).__name__} in {precision}: {exc}"
        ) from exc
    feed = x if precision == "double" else g.op("Cast", [x], "features_f32", to=1)
    outs = splice(g, sub, {"X": feed}, f"model {type(model).__name__}")
    out_types = [o.type.tensor_type.elem_type for o in sub.graph.output]

    def as_double(name: str, elem: int) -> str:
        return name if elem == onnx.TensorProto.DOUBLE else g.op("Cast", [name], to=11)

    if hasattr(model, "classes_"):
        if len(outs) != 2:
            raise ExportError(f"{type(model).__name__} has no predict_proba to export.")
        label = outs[0]
        if (
            out_types[0] == onnx.TensorProto.INT64
            or out_types[0] == onnx.TensorProto.STRING
        ):
            label = g.op(
                "Reshape",
                [label, g.const(np.array([-1], dtype=np.int64))],
                "label_flat",
            )
        return {"label": label, "scores": as_double(outs[1], out_types[1])}
    return {"prediction": as_double(outs[0], out_types[0])}
