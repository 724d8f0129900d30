"""Kernel machines in double: SVC and NuSVC without probabilities, SVR, NuSVR, KernelRidge.

onnxruntime has no double kernel for ``SVMRegressor``, and skl2onnx's SVC graph without
probabilities fails to load, so featurekit writes them out of plain operators:

- the kernel between the rows and the stored vectors (support vectors, or the
  training rows of ``KernelRidge``) in double: linear, polynomial, RBF, sigmoid, and
  for ``KernelRidge`` also laplacian. Squared distances are scikit-learn's
  ``-2 x.y + |x|^2 + |y|^2``, clipped at zero;
- SVR and KernelRidge: the dual coefficients times the kernel, plus the intercept;
- SVC: libsvm's one-vs-one decision values, its votes and its label (the first class
  with most votes, as libsvm counts them), and scikit-learn's one-vs-rest
  ``decision_function`` built from them exactly as ``_ovr_decision_function`` does.

Sums run in another order than libsvm's, so values differ in the last bits; the
certificate bounds them. SVC and NuSVC with ``probability=True`` go through skl2onnx.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.svm import SVC, SVR, NuSVC, NuSVR

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph

__all__ = ["KERNEL_MODELS", "emit_kernel_model", "kernel"]

KERNEL_MODELS = (SVC, NuSVC, SVR, NuSVR, KernelRidge)

#: Stored vectors beyond which the (rows x vectors) kernel matrix gets too large to
#: certify 20,000 reference rows in memory.
MAX_VECTORS = 20000


def emit_kernel_model(
    g: Graph, x: str, width: int, model: Any, **_: Any
) -> dict[str, str] | None:
    """The kernel model's tensors; None for SVC with probabilities (skl2onnx's)."""
    name = type(model).__name__
    if isinstance(model, KernelRidge):
        dual = np.asarray(model.dual_coef_, dtype=np.float64)
        if dual.ndim != 1:
            raise ExportError(
                f"{name} fitted on {dual.shape[1]} targets is not supported; "
                "featurekit exports one prediction per row."
            )
        if callable(model.kernel) or model.kernel not in _KERNELS:
            raise ExportError(
                f"{name}(kernel={model.kernel!r}) is not supported; featurekit exports "
                f"the kernels {sorted(_KERNELS)}."
            )
        vectors = np.asarray(model.X_fit_, dtype=np.float64)
        params = {
            "gamma": model.gamma,
            "degree": model.degree,
            "coef0": model.coef0,
        }
        k = kernel(g, x, vectors, model.kernel, params, name)
        pred = g.op("MatMul", [k, g.const(dual.reshape(-1, 1), "dual_coef")])
        return {"prediction": pred}
    if isinstance(model, SVC | NuSVC) and hasattr(model, "predict_proba"):
        return None
    if callable(model.kernel) or model.kernel == "precomputed":
        raise ExportError(
            f"{name}(kernel={model.kernel!r}) is not supported: the graph needs the "
            "kernel itself. Use kernel='linear', 'poly', 'rbf' or 'sigmoid'."
        )
    if hasattr(model.support_vectors_, "toarray"):
        raise ExportError(f"{name} fitted on sparse data is not supported.")
    vectors = np.asarray(model.support_vectors_, dtype=np.float64)
    params = {"gamma": model._gamma, "degree": model.degree, "coef0": model.coef0}
    k = kernel(g, x, vectors, model.kernel, params, name, libsvm=True)
    dual = np.asarray(model._dual_coef_, dtype=np.float64)
    intercept = np.asarray(model._intercept_, dtype=np.float64)
    if isinstance(model, SVR | NuSVR):
        pred = g.op("MatMul", [k, g.const(dual.T, "dual_coef")])
        return {"prediction": g.op("Add", [pred, g.const(intercept, "intercept")])}
    return _svc(g, k, model, dual, intercept)


def _svc(
    g: Graph, k: str, model: Any, dual: np.ndarray, intercept: np.ndarray
) -> dict[str, str]:
    """The one-vs-one decision values, votes and label as libsvm counts them.

    Plus scikit-learn's one-vs-rest decision function built from them.
    """
    n_classes = len(model.classes_)
    n_sv = np.asarray(model._n_support, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(n_sv)[:-1]])
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    coef = np.zeros((dual.shape[1], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        si, sj = start[i], start[j]
        # libsvm: sv_coef[j - 1] for class i's vectors, sv_coef[i] for class j's
        coef[si : si + n_sv[i], p] = dual[j - 1, si : si + n_sv[i]]
        coef[sj : sj + n_sv[j], p] = dual[i, sj : sj + n_sv[j]]
    dec = g.op("MatMul", [k, g.const(coef, "ovo_coef")], "ovo_sum")
    dec = g.op("Add", [dec, g.const(intercept, "ovo_intercept")], "ovo_decision")
    zero = g.const(np.float64(0.0), "zero")
    if n_classes == 2:
        # scikit-learn flips the sign for two classes; libsvm votes class 0 where the
        # value is > 0, so class 1 wins where scikit-learn's decision is >= 0
        flipped = g.op("Neg", [dec], "decision")
        return {"decision": flipped, "raw": flipped, "label_rule": "raw_ge_zero"}
    first = np.zeros((len(pairs), n_classes))
    second = np.zeros((len(pairs), n_classes))
    for p, (i, j) in enumerate(pairs):
        first[p, i] = second[p, j] = 1.0
    first_c, second_c = g.const(first, "vote_i"), g.const(second, "vote_j")

    def votes(to_first: str) -> str:
        a = g.op("Cast", [to_first], to=11)
        b = g.op("Sub", [g.const(np.float64(1.0), "one"), a])
        return g.op(
            "Add",
            [g.op("MatMul", [a, first_c]), g.op("MatMul", [b, second_c])],
            "votes",
        )

    # libsvm's predict: class i gets the vote where the value is > 0
    libsvm_votes = votes(g.op("Greater", [dec, zero]))
    # scikit-learn's _ovr_decision_function(dec < 0, -dec, n_classes): class i gets
    # the vote where dec >= 0, and sums the confidences pair by pair, in pair order
    ovr_votes = votes(g.op("Not", [g.op("Less", [dec, zero])]))
    conf = g.op("Neg", [dec], "confidence")
    sums: list[str | None] = [None] * n_classes
    for p, (i, j) in enumerate(pairs):
        c = g.op(
            "Slice",
            [
                conf,
                g.const(np.array([p], dtype=np.int64)),
                g.const(np.array([p + 1], dtype=np.int64)),
                g.const(np.array([1], dtype=np.int64)),
            ],
        )
        prev_i, prev_j = sums[i], sums[j]
        sums[i] = g.op("Sub", [prev_i or zero, c])
        sums[j] = c if prev_j is None else g.op("Add", [prev_j, c])
    total = g.op("Concat", [s for s in sums if s is not None], "confidences", axis=1)
    scaled = g.op(
        "Mul",
        [
            g.const(np.float64(3.0), "three"),
            g.op("Add", [g.op("Abs", [total]), g.const(np.float64(1.0), "one")]),
        ],
    )
    ovr = g.op("Add", [ovr_votes, g.op("Div", [total, scaled])], "decision")
    if model.break_ties:
        return {"decision": ovr, "raw": ovr, "label_rule": "argmax_raw"}
    # ArgMax keeps the first maximum, as libsvm's vote count does
    index = g.op("ArgMax", [libsvm_votes], "label_index", axis=1, keepdims=0)
    return {"decision": ovr, "label_index": index}


def kernel(
    g: Graph,
    x: str,
    vectors: np.ndarray,
    name: str,
    params: dict[str, Any],
    model: str,
    *,
    libsvm: bool = False,
) -> str:
    """The (N, len(vectors)) kernel between the rows of `x` and `vectors`.

    `libsvm` gives libsvm's parameters (gamma already resolved); otherwise they are
    scikit-learn's ``pairwise_kernels`` parameters (gamma None is 1 / n_features).
    """
    if len(vectors) > MAX_VECTORS:
        raise ExportError(
            f"{model} keeps {len(vectors)} vectors; featurekit exports at most "
            f"{MAX_VECTORS} (the graph holds a rows x vectors kernel matrix). Fit it "
            "on fewer rows, or use a linear or tree model."
        )
    if name not in _KERNELS:
        raise ExportError(f"{model}(kernel={name!r}) is not supported.")
    gamma = params.get("gamma")
    if gamma is None or (isinstance(gamma, str) and not libsvm):
        gamma = 1.0 / vectors.shape[1]
    params = {**params, "gamma": float(gamma)}
    return _KERNELS[name](g, x, vectors, params, libsvm)


def _dot(g: Graph, x: str, vectors: np.ndarray) -> str:
    return g.op("MatMul", [x, g.const(vectors.T, "vectors_t")], "dot")


def _linear(g: Graph, x: str, v: np.ndarray, p: dict[str, Any], libsvm: bool) -> str:
    return _dot(g, x, v)


def _affine(g: Graph, x: str, v: np.ndarray, p: dict[str, Any]) -> str:
    scaled = g.op("Mul", [_dot(g, x, v), g.const(np.float64(p["gamma"]), "gamma")])
    return g.op("Add", [scaled, g.const(np.float64(p["coef0"]), "coef0")])


def _poly(g: Graph, x: str, v: np.ndarray, p: dict[str, Any], libsvm: bool) -> str:
    return g.op(
        "Pow", [_affine(g, x, v, p), g.const(np.float64(p["degree"]), "degree")]
    )


def _sigmoid(g: Graph, x: str, v: np.ndarray, p: dict[str, Any], libsvm: bool) -> str:
    return g.op("Tanh", [_affine(g, x, v, p)])


def _rbf(g: Graph, x: str, v: np.ndarray, p: dict[str, Any], libsvm: bool) -> str:
    # scikit-learn's euclidean_distances: -2 x.y, plus |x|^2, plus |y|^2, at least 0
    xx = g.op(
        "ReduceSum",
        [g.op("Mul", [x, x]), g.const(np.array([1], dtype=np.int64))],
        "row_norms",
        keepdims=1,
    )
    yy = np.einsum("ij,ij->i", v, v)[np.newaxis, :]
    d = g.op("Mul", [g.const(np.float64(-2.0), "minus_two"), _dot(g, x, v)])
    d = g.op("Add", [g.op("Add", [d, xx]), g.const(yy, "vector_norms")])
    d = g.op("Max", [d, g.const(np.float64(0.0), "zero")], "sq_distances")
    scaled = g.op("Mul", [d, g.const(np.float64(-p["gamma"]), "minus_gamma")])
    return g.op("Exp", [scaled], "rbf")


def _laplacian(g: Graph, x: str, v: np.ndarray, p: dict[str, Any], libsvm: bool) -> str:
    # manhattan distances, summed feature by feature as scipy's cdist does
    total = None
    for j in range(v.shape[1]):
        col = g.op(
            "Slice",
            [
                x,
                g.const(np.array([j], dtype=np.int64)),
                g.const(np.array([j + 1], dtype=np.int64)),
                g.const(np.array([1], dtype=np.int64)),
            ],
        )
        term = g.op("Abs", [g.op("Sub", [col, g.const(v[:, j][np.newaxis, :])])])
        total = term if total is None else g.op("Add", [total, term])
    assert total is not None
    scaled = g.op("Mul", [total, g.const(np.float64(-p["gamma"]), "minus_gamma")])
    return g.op("Exp", [scaled], "laplacian")


_KERNELS = {
    "linear": _linear,
    "poly": _poly,
    "polynomial": _poly,
    "rbf": _rbf,
    "sigmoid": _sigmoid,
    "laplacian": _laplacian,
}
