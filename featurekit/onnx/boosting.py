"""Convert LightGBM and XGBoost models to featurekit's TreeEnsemble, in their own arithmetic.

onnxmltools' converters emit float32 thresholds and float32 sums. That suits XGBoost,
which rounds features to float32 too, but not LightGBM, which compares double features
with double thresholds: there float32 thresholds flip decisions beside every split.
Both families are therefore parsed here and emitted through the same opset-5
``TreeEnsemble`` path as scikit-learn's trees (`featurekit.onnx.trees`):

- LightGBM (``booster_.dump_model()``): double thresholds compared ``x <= t``, leaf
  values summed in double in tree order, missing values routed by ``missing_type``
  and ``default_left``, and the values LightGBM reads as zero (``|x| <= 1e-35f``)
  folded into the thresholds; then sigmoid, softmax or exp as its objective says.
- XGBoost (``save_raw("json")``): features rounded to float32, ``x < t`` rewritten as
  ``x <= prev_float32(t)``, the base margin as the first "tree" and the leaves summed
  in float32 in tree order, as XGBoost's CPU predictor does; the link runs in float32.

Anything these rules do not cover (categorical splits, linear trees, DART, ranking
and custom objectives) raises `ExportError` naming it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from featurekit.errors import ExportError
from featurekit.onnx.ensemble import Tree, constant_tree, ensemble_node, push
from featurekit.onnx.graph import Graph

__all__ = ["LightGBMModel", "XGBoostModel", "boosting_splits", "emit_boosting"]

#: LightGBM's kZeroThreshold: inputs with |x| <= this are read as 0.0.
_LGBM_ZERO = float(np.float32(1e-35))


class _ByLibrary(type):
    """isinstance() against a library's base class, without importing the library.

    A fitted model of the library can only exist once the library is imported, so
    looking it up in ``sys.modules`` keeps ``import featurekit`` free of both.
    """

    module: str
    base: str

    def __instancecheck__(cls, obj: Any) -> bool:
        lib = sys.modules.get(cls.module)
        base = getattr(lib, cls.base, None) if lib is not None else None
        return base is not None and isinstance(obj, base)


class LightGBMModel(metaclass=_ByLibrary):
    """Matches ``lightgbm.LGBMModel`` instances (classifier, regressor, ranker)."""

    module = "lightgbm"
    base = "LGBMModel"


class XGBoostModel(metaclass=_ByLibrary):
    """Matches ``xgboost.XGBModel`` instances (classifier, regressor, ranker, RF)."""

    module = "xgboost"
    base = "XGBModel"


# -- LightGBM --------------------------------------------------------------------------

_LGBM_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}
_LGBM_EXP = {"poisson", "gamma", "tweedie"}


def _lgbm_dump(model: Any) -> dict[str, Any]:
    dump: dict[str, Any] = model.booster_.dump_model()
    return dump


def _lgbm_flat(root: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes of one LightGBM tree in pre-order (root first), children as indices."""
    nodes: list[dict[str, Any]] = []

    def visit(node: dict[str, Any]) -> int:
        i = len(nodes)
        nodes.append(node)
        if "split_index" in node:
            node["_left"] = visit(node["left_child"])
            node["_right"] = visit(node["right_child"])
        return i

    visit(root)
    return nodes


def _lgbm_check_tree(info: dict[str, Any], name: str) -> None:
    if info.get("num_cat", 0) or info.get("is_linear", False):
        what = "categorical splits" if info.get("num_cat", 0) else "linear trees"
        raise ExportError(
            f"{name} uses {what} (tree {info.get('tree_index')!r}), which featurekit "
            "cannot reproduce exactly; fit without categorical_feature (featurekit "
            "one-hot encodes fk.Categorical columns) and without linear_tree."
        )


def _lgbm_threshold(t: float) -> float:
    """Fold LightGBM's zero rule into a ``x <= t`` threshold.

    LightGBM reads any |x| <= 1e-35f as 0.0 before comparing, so a threshold inside
    [-1e-35f, 1e-35f) moves to the edge of that band on its own side of zero.
    """
    if -_LGBM_ZERO <= t < _LGBM_ZERO:
        return _LGBM_ZERO if t >= 0.0 else float(np.nextafter(-_LGBM_ZERO, -np.inf))
    return t


def _lgbm_trees(model: Any) -> tuple[list[Any], int, str, float, bool]:
    """Parse LightGBM's dump into trees; also k, objective, sigmoid, average_output."""
    name = type(model).__name__
    dump = _lgbm_dump(model)
    k = int(dump["num_tree_per_iteration"])
    tokens = str(dump.get("objective", "custom")).split()
    objective = tokens[0] if tokens else "custom"
    params = dict(t.split(":", 1) for t in tokens[1:] if ":" in t)
    if "sqrt" in tokens[1:]:
        raise ExportError(
            f"{name} was fitted with reg_sqrt=True; featurekit does not export it. "
            "Refit without reg_sqrt."
        )
    trees = []
    for info in dump["tree_info"]:
        _lgbm_check_tree(info, name)
        nodes = _lgbm_flat(info["tree_structure"])
        n = len(nodes)
        feature = np.full(n, -2, dtype=np.int64)
        threshold = np.full(n, -2.0)
        left = np.full(n, -1, dtype=np.int64)
        right = np.full(n, -1, dtype=np.int64)
        missing = np.zeros(n, dtype=bool)
        value = np.zeros(n)
        for i, node in enumerate(nodes):
            if "split_index" not in node:
                value[i] = float(node["leaf_value"])
                continue
            if node["decision_type"] != "<=":
                _lgbm_check_tree({**info, "num_cat": 1}, name)
            kind = node["missing_type"]
            if kind == "Zero":
                raise ExportError(
                    f"{name} treats zero as missing (zero_as_missing=True); featurekit "
                    "does not export that rule. Refit with zero_as_missing=False and "
                    "leave missing values as NaN."
                )
            t = _lgbm_threshold(float(node["threshold"]))
            feature[i] = int(node["split_feature"])
            threshold[i] = t
            left[i], right[i] = node["_left"], node["_right"]
            # NaN follows default_left; with missing_type None LightGBM reads it as 0.0
            missing[i] = bool(node["default_left"]) if kind == "NaN" else 0.0 <= t
        tree_index = int(info["tree_index"])
        trees.append(
            Tree(feature, threshold, left, right, missing, value, tree_index % k)
        )
    sigmoid = float(params.get("sigmoid", 1.0))
    return trees, k, objective, sigmoid, bool(dump.get("average_output", False))


def _emit_lightgbm(
    g: Graph, x: str, model: Any, pushed: dict[int, Any]
) -> dict[str, str]:
    name = type(model).__name__
    trees, k, objective, sigmoid, average = _lgbm_trees(model)
    push(trees, pushed, "float64")
    raw = ensemble_node(g, x, trees, k, "raw")
    if average:  # boosting_type="rf": LightGBM divides the sum by the iterations
        raw = g.op(
            "Div", [raw, g.const(np.float64(len(trees) // k), "n_iter")], "raw_mean"
        )
    is_clf = hasattr(model, "classes_")
    if is_clf and objective == "binary" and k == 1:
        p1 = _sigmoid(g, g.op("Mul", [raw, g.const(np.float64(sigmoid))]), np.float64)
        p0 = g.op("Sub", [g.const(np.float64(1.0), "one_d"), p1], "p0")
        scores = g.op("Concat", [p0, p1], "proba", axis=1)
        return {"scores": scores, "raw": raw, "label_rule": "argmax_proba"}
    if is_clf and objective in ("multiclass", "softmax") and k > 1:
        return {"scores": _softmax(g, raw), "raw": raw, "label_rule": "argmax_proba"}
    if not is_clf and k == 1:
        if objective in _LGBM_IDENTITY:
            return {"prediction": raw}
        if objective in _LGBM_EXP:
            return {"prediction": g.op("Exp", [raw], "prediction_exp")}
        if objective in ("cross_entropy", "xentropy"):
            return {"prediction": _sigmoid(g, raw, np.float64)}
    raise ExportError(
        f"{name} with objective {objective!r} is not supported: featurekit exports "
        "binary and multiclass (softmax) classifiers and regressors with objective "
        f"{sorted(_LGBM_IDENTITY | _LGBM_EXP | {'cross_entropy'})!r}."
    )


# -- XGBoost ---------------------------------------------------------------------------

_XGB_IDENTITY = {
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:absoluteerror",
    "reg:pseudohubererror",
    "reg:quantileerror",
}
_XGB_EXP = {"count:poisson", "reg:gamma", "reg:tweedie"}
_XGB_LOGISTIC = {"binary:logistic", "reg:logistic"}


def _xgb_model(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    booster = model.get_booster()
    config = json.loads(booster.save_config())
    raw = json.loads(bytes(booster.save_raw(raw_format="json")))
    return config, raw


def _xgb_trees(model: Any) -> tuple[list[Any], int, str]:
    """Parse XGBoost's JSON model: base-margin trees first, then its trees in order.

    Thresholds are rewritten for ``x <= t`` on float32 inputs.
    """
    name = type(model).__name__
    config, raw = _xgb_model(model)
    learner = config["learner"]
    booster = learner["gradient_booster"]["name"]
    if booster != "gbtree":
        raise ExportError(
            f"{name} uses booster={booster!r}; featurekit exports booster='gbtree' only."
        )
    objective = learner["objective"]["name"]
    params = raw["learner"]["learner_model_param"]
    if int(params.get("num_target", "1")) > 1:
        raise ExportError(
            f"{name} has {params['num_target']} targets; featurekit exports one."
        )
    base = np.array(
        [np.float32(v) for v in str(params["base_score"]).strip("[]").split(",")],
        dtype=np.float32,
    )
    model_json = raw["learner"]["gradient_booster"]["model"]
    k = max(1, int(params.get("num_class", "0")))
    if len(base) == 1:
        base = np.repeat(base, k)
    with np.errstate(all="ignore"):  # XGBoost's ProbToMargin, in float32
        if objective in _XGB_LOGISTIC:
            margin = -np.log(np.float32(1.0) / base - np.float32(1.0)).astype(
                np.float32
            )
        elif objective in _XGB_EXP:
            margin = np.log(base).astype(np.float32)
        else:
            margin = base
    trees = [constant_tree(float(margin[t]), t) for t in range(k)]
    indptr = model_json.get("iteration_indptr") or list(
        range(len(model_json["trees"]) + 1)
    )
    best = getattr(model, "best_iteration", None)
    try:
        stop = indptr[int(best) + 1] if best is not None else indptr[-1]
    except (AttributeError, ValueError, TypeError):  # pragma: no cover
        stop = indptr[-1]
    for i, tree in enumerate(model_json["trees"][:stop]):
        if any(int(s) != 0 for s in tree["split_type"]):
            raise ExportError(
                f"{name} tree {i} has categorical splits (enable_categorical), which "
                "featurekit does not export; let featurekit one-hot the column instead."
            )
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        cond = np.asarray(tree["split_conditions"], dtype=np.float32)
        is_leaf = left == -1
        # inputs are float32, so x < t is x <= the float32 just below t
        below = np.nextafter(cond, np.float32(-np.inf)).astype(np.float64)
        trees.append(
            Tree(
                np.where(
                    is_leaf, -2, np.asarray(tree["split_indices"], dtype=np.int64)
                ),
                np.where(is_leaf, -2.0, below),
                left,
                np.where(is_leaf, -1, right),
                np.asarray(tree["default_left"]).astype(bool),
                np.where(is_leaf, cond.astype(np.float64), 0.0),
                int(model_json["tree_info"][i]),
            )
        )
    return trees, k, objective


def _emit_xgboost(
    g: Graph, x: str, model: Any, pushed: dict[int, Any]
) -> dict[str, str]:
    name = type(model).__name__
    trees, k, objective = _xgb_trees(model)
    if pushed:
        # raw log1p columns compare in double, so the sum runs in double: it can
        # differ from XGBoost's float32 sum in the last float32 bit
        push(trees, pushed, "float32")
        margin = g.op("Cast", [ensemble_node(g, x, trees, k, "raw")], "margin", to=1)
    else:
        x32 = g.op("Cast", [x], "features_f32", to=1)  # exact: already float32-rounded
        margin = ensemble_node(g, x32, trees, k, "margin", np.float32)
    f32 = np.float32
    is_clf = hasattr(model, "classes_")
    if is_clf and objective == "binary:logistic" and k == 1:
        p1 = _sigmoid(g, margin, f32)
        p0 = g.op("Sub", [g.const(f32(1.0), "one_f"), p1], "p0")
        scores = g.op("Concat", [p0, p1], "proba_f32", axis=1)
        # XGBClassifier.predict: class 1 where its float32 probability exceeds 0.5
        above = g.op("Greater", [p1, g.const(f32(0.5), "half_f")])
        index = g.op(
            "Reshape",
            [g.op("Cast", [above], to=7), g.const(np.array([-1], dtype=np.int64))],
            "label_index",
        )
        return {"scores": _double(g, scores), "label_index": index}
    if is_clf and objective == "multi:softprob" and k > 1:
        proba = _softmax(g, margin)
        return {"scores": _double(g, proba), "raw": proba, "label_rule": "argmax_raw"}
    if not is_clf and k == 1:
        if objective in _XGB_IDENTITY:
            return {"prediction": _double(g, margin)}
        if objective in _XGB_EXP:
            return {"prediction": _double(g, g.op("Exp", [margin]))}
        if objective == "reg:logistic":
            return {"prediction": _double(g, _sigmoid(g, margin, f32))}
    supported = sorted(_XGB_IDENTITY | _XGB_EXP | _XGB_LOGISTIC | {"multi:softprob"})
    raise ExportError(
        f"{name} with objective {objective!r} is not supported: featurekit exports "
        f"{supported!r}."
    )


# -- shared ----------------------------------------------------------------------------


def _double(g: Graph, name: str) -> str:
    out: str = g.op("Cast", [name], to=11)
    return out


def _sigmoid(g: Graph, z: str, dtype: type) -> str:
    """1 / (1 + exp(-z)) with the operations the libraries use, in `dtype`.

    XGBoost clamps -z at 88.7 and adds 1e-16 (a no-op in float32 beside 1).
    """
    neg = g.op("Neg", [z])
    if dtype is np.float32:
        neg = g.op("Min", [neg, g.const(np.float32(88.7))])
    denom = g.op("Add", [g.op("Exp", [neg]), g.const(dtype(1.0))])
    if dtype is np.float32:
        denom = g.op("Add", [denom, g.const(np.float32(1e-16))])
    out: str = g.op("Div", [g.const(dtype(1.0)), denom], "p1")
    return out


def _softmax(g: Graph, z: str) -> str:
    """exp(z - max) / sum, row by row, as LightGBM and XGBoost compute it."""
    axes = g.const(np.array([1], dtype=np.int64), "axis1")
    shifted = g.op("Sub", [z, g.op("ReduceMax", [z, axes], keepdims=1)])
    e = g.op("Exp", [shifted])
    out: str = g.op("Div", [e, g.op("ReduceSum", [e, axes], keepdims=1)], "proba")
    return out


def emit_boosting(
    g: Graph, x: str, model: Any, pushed: dict[int, Any]
) -> dict[str, str]:
    """Add a LightGBM or XGBoost model to `g`; outputs as `emit_tree_model` gives them.

    Also ``"converter"``: how the trees were emitted, for the manifest.
    """
    if isinstance(model, LightGBMModel):
        out = _emit_lightgbm(g, x, model, pushed)
        out["converter"] = "featurekit.TreeEnsemble(double, LightGBM rules)"
    else:
        out = _emit_xgboost(g, x, model, pushed)
        sums = "double" if pushed else "float32"
        out["converter"] = f"featurekit.TreeEnsemble(float32 inputs, {sums} sums)"
    return out


def boosting_splits(model: Any) -> list[tuple[int, float]]:
    """(feature, threshold) of every split, as the library states it; [] otherwise."""
    out: list[tuple[int, float]] = []
    if isinstance(model, LightGBMModel):
        for info in _lgbm_dump(model)["tree_info"]:
            out += [
                (int(n["split_feature"]), float(n["threshold"]))
                for n in _lgbm_flat(info["tree_structure"])
                if "split_index" in n and n["decision_type"] == "<="
            ]
    elif isinstance(model, XGBoostModel):
        _, raw = _xgb_model(model)
        for tree in raw["learner"]["gradient_booster"]["model"]["trees"]:
            inner = np.asarray(tree["left_children"]) != -1
            out += zip(
                np.asarray(tree["split_indices"])[inner].tolist(),
                np.asarray(tree["split_conditions"], dtype=np.float64)[inner].tolist(),
                strict=True,
            )
    return out
