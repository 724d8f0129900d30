"""Add the model to the graph: featurekit's own emitters, or skl2onnx for the rest.

featurekit emits itself the models whose scikit-learn arithmetic it reproduces:
scikit-learn's trees, LightGBM and XGBoost (`featurekit.onnx.trees`), meta-estimators
over trees (`featurekit.onnx.nested`, `featurekit.onnx.calibration`), linear
classifiers (`featurekit.onnx.linear`), kernel machines (`featurekit.onnx.svm`),
nearest neighbours (`featurekit.onnx.neighbors`), generalized linear models
(`featurekit.onnx.glm`), and voting, stacking and one-vs-rest (`featurekit.onnx.meta`).
Everything else goes through skl2onnx; the certificate decides.

Classifiers give ``label`` (N,) typed like ``classes_``, then what scikit-learn's
pipeline answers besides: ``probabilities`` (N, n_classes) in double where it has
``predict_proba``, else ``decision_function`` in double, shaped as scikit-learn
shapes it ((N,) for two classes), where it has that; regressors give ``prediction``
(N,) in double. `emit_model` reports the list in ``info["outputs"]``.

An emitter returns a dict of tensor names: ``prediction`` (regressors); for
classifiers ``scores`` (probabilities) or ``decision``, and the label as ``label``
(class values), ``label_index`` (an index into ``classes_``) or ``label_rule`` over
``raw``: ``"argmax_proba"``, ``"argmax_raw"``, ``"raw_ge_zero"`` or ``"raw_gt_zero"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from featurekit.errors import ExportError
from featurekit.onnx import calibration, glm, linear, meta, neighbors, nested, svm
from featurekit.onnx.graph import OPSET, Graph, splice
from featurekit.onnx.labels import label_tensor
from featurekit.onnx.nested import features_precision
from featurekit.onnx.trees import TREE_MODELS, emit_tree_model

__all__ = ["OUTPUTS", "emit_estimator", "emit_model", "outputs_of", "precision_plans"]

#: The graph output each scikit-learn method of the pipeline becomes.
OUTPUTS = {
    "predict": "label",
    "predict_proba": "probabilities",
    "decision_function": "decision_function",
}

#: featurekit's own emitters, by model type (subclass-aware), tried in order.
_EMITTERS: list[tuple[tuple[type, ...], Callable[..., dict[str, str] | None], str]] = [
    (nested.NESTED, nested.emit_nested, "featurekit.TreeEnsemble(double)"),
    (
        calibration.CALIBRATED,
        calibration.emit_calibrated,
        "featurekit.TreeEnsemble(double)",
    ),
    (meta.META, meta.emit_meta, "featurekit.meta(double)"),
    (linear.LINEAR, linear.emit_linear, "featurekit.linear(double)"),
    (svm.KERNEL_MODELS, svm.emit_kernel_model, "featurekit.kernel(double)"),
    (neighbors.NEIGHBORS, neighbors.emit_neighbors, "featurekit.neighbors(double)"),
    (glm.GLM, glm.emit_glm, "featurekit.glm(double)"),
]


def outputs_of(model: Any) -> list[str]:
    """The graph outputs of a fitted classifier or regressor, in manifest order.

    Examples
    --------
    >>> from sklearn.svm import LinearSVC
    >>> outputs_of(LinearSVC().fit([[0.0], [1.0]], [0, 1]))
    ['label', 'decision_function']
    """
    if not hasattr(model, "classes_"):
        return ["prediction"]
    for method in ("predict_proba", "decision_function"):
        if hasattr(model, method):
            return ["label", OUTPUTS[method]]
    return ["label"]


def precision_plans(model: Any) -> list[str]:
    """The precisions `emit_model` is tried with, in order, for `model`.

    skl2onnx converts in double, else in float (the certificate decides); the models
    featurekit converts itself are always double, so there is no second plan.
    """
    own = isinstance(
        model, TREE_MODELS + linear.LINEAR + neighbors.NEIGHBORS + glm.GLM
    ) or (features_precision(model) is not None)
    if isinstance(model, svm.KERNEL_MODELS):
        own = not hasattr(model, "predict_proba")  # SVC(probability=True): skl2onnx
    return ["double"] if own else ["double", "float"]


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


def emit_estimator(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    precision: str,
    pushed: dict[int, Any] | None = None,
    rounded: str | None = None,
    exp: Callable[[Graph, str], str] | None = None,
) -> dict[str, str]:
    """Emit `model` reading the double tensor `x`; return its tensors (no outputs).

    Meta-estimators emit the estimators they hold through this same function, so an
    estimator is converted alike wherever it sits. `rounded` says how `x` was rounded
    for trees (see `featurekit.onnx.nested.features_precision`): a tree reading exact
    features rounds them to float32 itself, as scikit-learn's trees do. The result
    has a ``converter`` entry naming who converted it.
    """
    if features_precision(model) == "float32" and rounded != "float32":
        # scikit-learn's trees compare float32(x) with float64 thresholds
        x = g.op("Cast", [g.op("Cast", [x], "x_f32", to=1)], "x_tree", to=11)
        rounded = "float32"

    def sub(est: Any, x_sub: str | None = None, width_sub: int | None = None) -> Any:
        if x_sub is None:
            return emit_estimator(g, x, width, est, precision, pushed, rounded, exp)
        return emit_estimator(g, x_sub, width_sub or width, est, precision, exp=exp)

    if isinstance(model, TREE_MODELS):
        out: dict[str, str] = emit_tree_model(g, x, model, pushed)
        out.setdefault("converter", "featurekit.TreeEnsemble(double)")
        return out
    for types, emit, converter in _EMITTERS:
        if isinstance(model, types):
            got = emit(g, x, width, model, sub=sub, pushed=pushed or {}, exp=exp)
            if got is not None:  # None: featurekit leaves this one to skl2onnx
                got.setdefault("converter", converter)
                return got
            break
    out = _emit_skl2onnx(g, x, width, model, precision)
    out["converter"] = f"skl2onnx({precision})"
    return out


def emit_model(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    precision: str,
    pushed: dict[int, Any] | None = None,
    *,
    exp: Callable[[Graph, str], str] | None = None,
) -> dict[str, Any]:
    """Emit `model` reading the double tensor `x`; add the graph outputs.

    Parameters
    ----------
    precision : {"double", "float"}
        For models featurekit does not convert itself: what skl2onnx converts with.
    exp : callable, optional
        ``exp(g, x)``: featurekit's exact ``exp`` kernel
        (`featurekit.expr.emitter.emit_exp`), for log links; the exporter passes it,
        since ``featurekit.onnx`` may not import ``featurekit.expr``.

    Returns
    -------
    dict
        ``kind`` ("classifier" or "regressor"), ``converter``, ``outputs`` (the graph
        outputs, in order) and ``classes``.
    """
    is_clf = hasattr(model, "classes_")
    rounded = features_precision(model)  # as featurekit.exporting rounded `x`
    out = emit_estimator(g, x, width, model, precision, pushed, rounded, exp)
    info: dict[str, Any] = {
        "kind": "classifier" if is_clf else "regressor",
        "converter": out.pop("converter"),
        "outputs": outputs_of(model),
    }
    advice = neighbors.tie_advice(model)
    if advice:
        info["advice"] = advice
    if not is_clf:
        pred = g.op(
            "Reshape",
            [out["prediction"], g.const(np.array([-1], dtype=np.int64))],
            "pred_flat",
        )
        _output(g, pred, "prediction", "double", ["N"])
        return info
    elem, classes = _classes_elem(np.asarray(model.classes_))
    info["classes"] = classes.tolist()
    argmax = _label_is_argmax(g, out) and "probabilities" in info["outputs"]
    _output(g, label_tensor(g, out, classes, elem), "label", elem, ["N"])
    if argmax:
        # the label is classes[ArgMax(probabilities)]: a prediction log may take it
        # from the probabilities rather than ask the graph for it
        info["label_from_probabilities"] = True
    if "probabilities" in info["outputs"]:
        if "scores" not in out:
            raise ExportError(
                f"{type(model).__name__}: featurekit's converter gives no probabilities "
                "for it; this is a featurekit bug, please report it."
            )
        _output(g, out["scores"], "probabilities", "double", ["N", len(classes)])
    elif "decision_function" in info["outputs"]:
        if "decision" not in out:
            raise ExportError(
                f"{type(model).__name__} has no predict_proba, and featurekit cannot "
                "export its decision_function yet. Wrap it in "
                "CalibratedClassifierCV(...) for probabilities, or use a model with "
                "predict_proba."
            )
        decision = out["decision"]
        n_dec = len(classes) if _decision_is_2d(model, len(classes)) else None
        shape = np.array([-1, n_dec] if n_dec else [-1], dtype=np.int64)
        decision = g.op("Reshape", [decision, g.const(shape)], "decision_shaped")
        _output(
            g,
            decision,
            "decision_function",
            "double",
            ["N", n_dec] if n_dec else ["N"],
        )
    return info


def _label_is_argmax(g: Graph, out: dict[str, str]) -> bool:
    """Whether `label_tensor` will gather ``classes`` at ``ArgMax(out["scores"])``.

    True when the emitter returned no label of its own and its index is (or its rule
    makes) an ArgMax over the probabilities along the classes that keeps the first
    maximum, the one numpy's argmax picks too.
    """
    if "label" in out or "scores" not in out:
        return False
    if "label_index" not in out:
        return out.get("label_rule") == "argmax_proba"
    made = [n for n in g.nodes if out["label_index"] in n.output]
    if len(made) != 1 or made[0].op_type != "ArgMax":
        return False
    node = made[0]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return (
        list(node.input) == [out["scores"]]
        and attrs.get("axis", 0) == 1
        and attrs.get("keepdims", 1) == 0
        and attrs.get("select_last_index", 0) == 0
    )


def _decision_is_2d(model: Any, n_classes: int) -> bool:
    """Whether scikit-learn's decision_function is (N, n_classes) rather than (N,)."""
    if n_classes <= 2:
        return False
    shape = getattr(model, "decision_function_shape", "ovr")
    if shape != "ovr":
        raise ExportError(
            f"{type(model).__name__}(decision_function_shape={shape!r}) is not "
            "supported; use decision_function_shape='ovr' (the default)."
        )
    return True


def _output(g: Graph, tensor: str, name: str, elem: str, shape: list[Any]) -> None:
    g.nodes.append(
        onnx.helper.make_node("Identity", [tensor], [name], name=g.name("n_" + name))
    )
    g.add_output(name, elem, shape)


def _emit_skl2onnx(
    g: Graph, x: str, width: int, model: Any, precision: str
) -> dict[str, str]:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    except ImportError:  # pragma: no cover - a hard dependency of the training side
        raise ExportError("Exporting needs skl2onnx: pip install featurekit") from None
    tensor_type = DoubleTensorType if precision == "double" else FloatTensorType
    is_clf = hasattr(model, "classes_")
    if is_clf and not hasattr(model, "predict_proba"):
        raise ExportError(
            f"{type(model).__name__} has no predict_proba, and featurekit cannot "
            "export its labels and decision function yet. Wrap it in "
            "CalibratedClassifierCV(...) for probabilities, or use a model with "
            "predict_proba."
        )
    options = {id(model): {"zipmap": False}} if is_clf else None
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

    if is_clf:
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
