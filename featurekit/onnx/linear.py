"""Linear classifiers: scikit-learn's decision function, and its labels and probabilities.

The decision function is ``X @ coef_.T + intercept_`` in double, as scikit-learn
computes it; the label follows it as scikit-learn's ``LinearClassifierMixin.predict``
does (``decision > 0`` for two classes, else the first maximum), never the
probabilities: two classes whose probabilities both round to 1.0 are still told apart
by their decision values. Probabilities, where the model has them, follow its own
formula: the logistic function (two classes) or softmax (more) for
``LogisticRegression``; one-vs-rest normalised logistic or clipped-linear scores for
``SGDClassifier(loss="log_loss" | "modified_huber")``. Models without
``predict_proba`` (``LinearSVC``, ``RidgeClassifier``, ``Perceptron``, hinge-loss
``SGDClassifier``) export their ``decision_function`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import (
    LogisticRegression,
    Perceptron,
    RidgeClassifier,
    RidgeClassifierCV,
    SGDClassifier,
)
from sklearn.svm import LinearSVC

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph, row_sum

__all__ = ["LINEAR", "decision", "emit_linear"]

#: LogisticRegressionCV is a LogisticRegression, so it is covered too.
LINEAR = (
    LogisticRegression,
    SGDClassifier,
    Perceptron,
    RidgeClassifier,
    RidgeClassifierCV,
    LinearSVC,
)


def decision(g: Graph, x: str, model: Any) -> str:
    """``x @ coef_.T + intercept_``: (N, 1) for two classes, else (N, n_classes)."""
    coef = model.coef_
    if hasattr(coef, "toarray"):  # after model.sparsify()
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 1:  # RidgeClassifier with two classes keeps one flat row
        coef = coef[np.newaxis, :]
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    if coef.ndim != 2 or intercept.size not in (1, coef.shape[0]):
        raise ExportError(
            f"{type(model).__name__} has coef_ of shape {coef.shape} and intercept_ of "
            f"shape {intercept.shape}; featurekit exports single-output linear "
            "classifiers only."
        )
    scores = g.op("MatMul", [x, g.const(coef.T, "coef")], "linear_scores")
    return g.op("Add", [scores, g.const(intercept, "intercept")], "decision")


def emit_linear(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    *,
    exp: Callable[..., str] | None = None,
    **_: Any,
) -> dict[str, str]:
    """The decision function, the label rule and, where the model has them, probabilities.

    With featurekit's exact ``exp`` kernel (the exporter passes it), the logistic and
    softmax functions are built from it: onnxruntime's own ``Sigmoid`` rounds a row
    differently depending on the batch it comes in, which would make one record's
    answer depend on its neighbours.
    """
    if getattr(getattr(model, "_label_binarizer", None), "y_type_", "").startswith(
        "multilabel"
    ):
        raise ExportError(
            f"{type(model).__name__} fitted on a multilabel target is not supported; "
            "featurekit exports one label per row."
        )
    d = decision(g, x, model)
    binary = len(model.classes_) == 2
    out = {
        "decision": d,
        "raw": d,
        "label_rule": "raw_gt_zero" if binary else "argmax_raw",
    }
    if hasattr(model, "predict_proba"):
        out["scores"] = _proba(g, d, model, binary, exp)
    return out


def _expit(g: Graph, d: str, exp: Callable[..., str] | None) -> str:
    """``1 / (1 + exp(-d))``; from the exact kernel where it is given."""
    if exp is None:
        return g.op("Sigmoid", [d], "expit")
    one = g.const(np.float64(1.0), "one")
    # beyond these bounds the answer is the same, or within 1e-308 of it: below -40,
    # 1 + exp(x) rounds to 1; above 709, 1 / (1 + exp(x)) is under 1.3e-308
    e = exp(g, g.op("Neg", [d]), within=(-40.0, 709.0))
    return g.op("Div", [one, g.op("Add", [one, e])], "expit")


def _softmax(g: Graph, d: str, k: int, exp: Callable[..., str] | None) -> str:
    """``exp(d - max d) / sum``, per row; from the exact kernel where it is given."""
    if exp is None:
        return g.op("Softmax", [d], "proba", axis=1)
    axis = g.const(np.array([1], dtype=np.int64), "axis1")
    top = g.op("ReduceMax", [d, axis], keepdims=1)
    # d - max d <= 0; below -700 each share is under 1e-304 of a sum >= 1 either way
    e = exp(g, g.op("Sub", [d, top]), within=(-700.0, 0.0))
    return g.op("Div", [e, row_sum(g, e, k)], "proba")


def _proba(
    g: Graph, d: str, model: Any, binary: bool, exp: Callable[..., str] | None
) -> str:
    one = g.const(np.float64(1.0), "one")
    loss = "log_loss" if isinstance(model, LogisticRegression) else model.loss
    if loss == "log_loss":
        if not binary and isinstance(model, LogisticRegression):
            return _softmax(g, d, len(model.classes_), exp)
        p = _expit(g, d, exp)
    elif loss == "modified_huber":
        p = g.op(
            "Clip",
            [d, g.const(np.float64(-1.0), "lo"), g.const(np.float64(1.0), "hi")],
        )
        p = g.op("Div", [g.op("Add", [p, one]), g.const(np.float64(2.0), "two")])
    else:  # pragma: no cover - predict_proba exists only for the two losses above
        raise ExportError(
            f"{type(model).__name__}(loss={loss!r}) has no probabilities."
        )
    if binary:
        return g.op("Concat", [g.op("Sub", [one, p]), p], "proba", axis=1)
    # one-vs-rest normalisation; a row whose scores are all zero becomes uniform
    total = row_sum(g, p, len(model.classes_))
    zero = g.op("Equal", [total, g.const(np.float64(0.0), "zero")], "all_zero")
    p = g.op("Where", [zero, one, p])
    k = g.const(np.float64(len(model.classes_)), "n_classes")
    return g.op("Div", [p, g.op("Where", [zero, k, total])], "proba")
