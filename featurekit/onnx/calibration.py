"""``CalibratedClassifierCV``: calibrated probabilities, per leaf or in the graph.

- Over a single tree, a calibrated classifier's answer is constant per leaf, so
  scikit-learn's own code calibrates every leaf's probabilities at export (any
  method: sigmoid, isotonic, temperature); the mean over the cross-validation folds
  is then a sum of trees in featurekit's ``TreeEnsemble``, added in scikit-learn's
  order, and exact.
- Over any other model featurekit exports, sigmoid calibration is emitted from that
  model's decision function (or its probabilities, without one), normalised and
  averaged as scikit-learn does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV

from featurekit.errors import ExportError
from featurekit.onnx.ensemble import Tree, ensemble_node, push
from featurekit.onnx.graph import Graph
from featurekit.onnx.slices import column, zero_column
from featurekit.onnx.trees import _SINGLE, _class_proba, _sk_tree

__all__ = ["CALIBRATED", "emit_calibrated"]

CALIBRATED = (CalibratedClassifierCV,)
Sub = Callable[..., dict[str, str]]


def emit_calibrated(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    *,
    sub: Sub,
    pushed: dict[int, Any],
    **_: Any,
) -> dict[str, str]:
    """The probabilities and label rule of a fitted ``CalibratedClassifierCV``."""
    return _calibrated(g, x, model, sub, pushed)


class _LeafProbabilities(ClassifierMixin, BaseEstimator):
    """Answers ``predict_proba`` with its input: the per-leaf probabilities of a tree.

    Put in a copy of a fitted ``_CalibratedClassifier`` in place of its tree, it lets
    scikit-learn's own code calibrate every leaf's probabilities.
    """

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)


def _calibrated(
    g: Graph, x: str, model: Any, sub: Sub, pushed: dict[int, Any]
) -> dict[str, str]:
    k = len(model.classes_)
    ccs = list(model.calibrated_classifiers_)
    if all(isinstance(cc.estimator, _SINGLE) for cc in ccs):
        trees: list[Tree] = []
        for cc in ccs:
            stub = _LeafProbabilities()
            stub.classes_ = cc.estimator.classes_
            calibrated = copy.copy(cc)
            calibrated.estimator = stub
            per_node = calibrated.predict_proba(_class_proba(cc.estimator))
            trees.extend(
                _sk_tree(cc.estimator, per_node[:, c].astype(np.float64), c)
                for c in range(k)
            )
        push(trees, pushed, "float32")
        total = ensemble_node(g, x, trees, k, "calibrated_sum")
    else:
        total = None
        for cc in ccs:
            part = _sigmoid_calibrated(g, x, cc, k, sub)
            total = part if total is None else g.op("Add", [total, part])
    assert total is not None
    mean = g.op("Div", [total, g.const(np.float64(len(ccs)), "n_calibrated")])
    out = {"scores": mean, "raw": mean, "label_rule": "argmax_proba"}
    if not all(isinstance(cc.estimator, _SINGLE) for cc in ccs):
        out["converter"] = "featurekit.meta(double)"
    return out


def _sigmoid_calibrated(g: Graph, x: str, cc: Any, k: int, sub: Sub) -> str:
    """One ``_CalibratedClassifier`` with sigmoid calibrators over any emitted model."""
    est = cc.estimator
    name = type(est).__name__
    if cc.method != "sigmoid":
        raise ExportError(
            f"CalibratedClassifierCV(method={cc.method!r}) over {name} is not "
            "supported; featurekit exports method='sigmoid' over any model it "
            "exports, and every method over a single decision tree."
        )
    out = sub(est)
    if hasattr(est, "decision_function"):
        response = out.get("decision")
        if response is None:
            raise ExportError(
                f"CalibratedClassifierCV over {name} is not supported: it calibrates "
                f"{name}'s decision_function, which featurekit does not export. "
                "Calibrate a linear model, an SVM or a tree instead."
            )
    else:
        response = out["scores"]
        if k == 2:  # the positive class's probability
            response = column(g, response, 1)
    from sklearn.preprocessing import LabelEncoder

    positions = LabelEncoder().fit(cc.classes).transform(est.classes_)
    columns: dict[int, str] = {}
    for j, (position, calibrator) in enumerate(
        zip(positions, cc.calibrators, strict=False)
    ):
        t = response if k == 2 else column(g, response, j)
        a = g.const(np.float64(calibrator.a_), "sigmoid_a")
        b = g.const(np.float64(calibrator.b_), "sigmoid_b")
        lin = g.op("Add", [g.op("Mul", [a, t]), b])
        columns[int(position) + (1 if k == 2 else 0)] = g.op(
            "Sigmoid", [g.op("Neg", [lin])]
        )
    one = g.const(np.float64(1.0), "one")
    if k == 2:
        p1 = g.op("Reshape", [columns[1], g.const(np.array([-1, 1], dtype=np.int64))])
        proba = g.op("Concat", [g.op("Sub", [one, p1]), p1], axis=1)
    else:
        parts = [
            g.op("Reshape", [columns[c], g.const(np.array([-1, 1], dtype=np.int64))])
            if c in columns
            else zero_column(g, response)
            for c in range(k)
        ]
        proba = g.op("Concat", parts, axis=1)
        total = g.op(
            "ReduceSum", [proba, g.const(np.array([1], dtype=np.int64))], keepdims=1
        )
        nonzero = g.op("Not", [g.op("Equal", [total, g.const(np.float64(0.0))])])
        proba = g.op(
            "Where",
            [
                nonzero,
                g.op("Div", [proba, total]),
                g.const(np.float64(1 / k), "uniform"),
            ],
        )
    # scikit-learn sets a probability just above 1 (by at most 1e-5) to exactly 1
    above = g.op(
        "And",
        [
            g.op("Greater", [proba, one]),
            g.op("LessOrEqual", [proba, g.const(np.float64(1.0 + 1e-5))]),
        ],
    )
    return g.op("Where", [above, one, proba], "calibrated")
