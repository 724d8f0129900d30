"""k-nearest neighbours in double, with scikit-learn's distances and its tie rules.

The graph measures every row against every training row, as scikit-learn does:

- brute force (``algorithm="brute"``) with the euclidean metric ranks rows by
  scikit-learn's surrogate ``max(0, (|x|^2 - 2 x.y) + |y|^2)``; the kd-tree and ball-tree
  rank by ``sum((x - y)^2)`` feature by feature, as their ``rdist`` does; manhattan
  sums ``|x - y|`` feature by feature in both;
- ``TopK`` keeps the k smallest, the earlier training row first where distances tie
  (brute force's heap keeps the first it met); a training row at an infinite
  distance is never kept, so the slot holds training row 0, exactly as
  scikit-learn's heap starts (at distance ``DBL_MAX`` for brute force, ``inf`` for
  the trees);
- then scikit-learn's mean (regression), class counts (classification) or
  inverse-distance weights, with its rule for a zero distance. Brute force weighs
  by the surrogate, whose cancellation noise near a zero distance no two runtimes
  share; the graph weighs by the chosen neighbours' exact distances, so a row at a
  training row gets that row's answer (scikit-learn's differs from it by ~1e-8).

Two kinds of tie no graph can follow: a kd-tree or ball-tree breaks exact ties in the
order it visits its nodes, and far outside the training range whole groups of rows
tie in scikit-learn's surrogate by BLAS rounding. Where the certificate finds one, the
refusal says what to do (`tie_advice`): brute force, and bounds on the inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph
from featurekit.onnx.nested import held_estimators
from featurekit.onnx.svm import MAX_VECTORS

__all__ = ["NEIGHBORS", "emit_neighbors"]

NEIGHBORS = (KNeighborsClassifier, KNeighborsRegressor)
_AXIS1 = np.array([1], dtype=np.int64)
_METRICS = ("euclidean", "manhattan")
#: What a refusal of a neighbours model advises (see the module docstring).
ADVICE = (
    "{name} answers by its nearest training rows, and where several tie at the k-th "
    "distance its answer depends on which of them it keeps: far outside the training "
    "range one column's distance swamps the others and whole groups of training rows "
    "tie, broken by the float rounding of scikit-learn's BLAS, which no graph "
    "shares. Declare bounds=(lo, hi) or observed_range='error' on its numeric "
    "columns, so that the contract refuses such rows.{tree}"
)
TREE_ADVICE = (
    " It also searches a {method}, which breaks exact ties (duplicated training "
    "rows) in the order it visits the tree: fit it with algorithm='brute', whose "
    "ties featurekit follows (the same neighbours, except at ties)."
)


def emit_neighbors(
    g: Graph, x: str, width: int, model: Any, **_: Any
) -> dict[str, str]:
    """The tensors of a fitted k-nearest-neighbours model."""
    name = type(model).__name__
    metric = model.effective_metric_
    if metric not in _METRICS or model.effective_metric_params_:
        raise ExportError(
            f"{name}(metric={model.metric!r}, p={model.p!r}) is not supported; "
            "featurekit exports the euclidean (p=2) and manhattan (p=1) metrics."
        )
    if model.weights not in ("uniform", "distance"):
        raise ExportError(
            f"{name}(weights={model.weights!r}) is not supported; use 'uniform' or "
            "'distance'."
        )
    if hasattr(model._fit_X, "toarray"):
        raise ExportError(f"{name} fitted on sparse data is not supported.")
    fit_x = np.asarray(model._fit_X, dtype=np.float64)
    if len(fit_x) > MAX_VECTORS:
        raise ExportError(
            f"{name} keeps {len(fit_x)} training rows; featurekit exports at most "
            f"{MAX_VECTORS} (the graph holds a rows x training rows distance "
            "matrix). Fit it on fewer rows."
        )
    y = np.asarray(model._y)
    if y.ndim != 1:
        raise ExportError(
            f"{name} fitted on several targets is not supported; featurekit exports "
            "one answer per row."
        )
    brute = model._fit_method == "brute"
    k = int(model.n_neighbors)
    rank = _rank(g, x, fit_x, metric, brute)
    values, index = g.name("neighbor_rank"), g.name("neighbor_index")
    from onnx import helper

    g.nodes.append(
        helper.make_node(
            "TopK",
            [rank, g.const(np.array([k], dtype=np.int64), "k")],
            [values, index],
            name=g.name("n_TopK"),
            axis=1,
            largest=0,
            sorted=1,
        )
    )
    unreached = g.op("IsInf", [values], detect_negative=0)
    index = g.op("Where", [unreached, g.const(np.int64(0)), index], "neighbors")
    weights = None
    if model.weights == "distance":
        if brute and metric == "euclidean":
            # the surrogate's cancellation noise (which no two runtimes share) would
            # decide a zero distance; the neighbours' exact distances do not
            values = _exact_sq_distances(g, x, fit_x, index)
        start = float(np.finfo(np.float64).max) if brute else np.inf
        values = g.op("Where", [unreached, g.const(np.float64(start)), values])
        weights = _inverse_distance(g, values, metric)
    if isinstance(model, KNeighborsRegressor):
        near = g.op("Gather", [g.const(y.astype(np.float64), "targets"), index], axis=0)
        if weights is None:
            total = g.op("ReduceSum", [near, g.const(_AXIS1)], keepdims=0)
            return {"prediction": g.op("Div", [total, g.const(np.float64(k))])}
        num = g.op(
            "ReduceSum", [g.op("Mul", [near, weights]), g.const(_AXIS1)], keepdims=0
        )
        den = g.op("ReduceSum", [weights, g.const(_AXIS1)], keepdims=0)
        return {"prediction": g.op("Div", [num, den], "prediction")}
    n_classes = len(model.classes_)
    near = g.op("Gather", [g.const(y.astype(np.int64), "class_index"), index], axis=0)
    hits = g.op(
        "Cast",
        [
            g.op(
                "Equal",
                [
                    g.op("Unsqueeze", [near, g.const(np.array([2], dtype=np.int64))]),
                    g.const(np.arange(n_classes, dtype=np.int64).reshape(1, 1, -1)),
                ],
            )
        ],
        to=11,
    )
    if weights is not None:
        hits = g.op(
            "Mul",
            [
                hits,
                g.op("Unsqueeze", [weights, g.const(np.array([2], dtype=np.int64))]),
            ],
        )
    counts = g.op("ReduceSum", [hits, g.const(_AXIS1)], "class_weight", keepdims=0)
    total = g.op("ReduceSum", [counts, g.const(_AXIS1)], keepdims=1)
    zero = g.op("Equal", [total, g.const(np.float64(0.0))])
    total = g.op("Where", [zero, g.const(np.float64(1.0)), total])
    proba = g.op("Div", [counts, total], "proba")
    return {"scores": proba, "raw": counts, "label_rule": "argmax_raw"}


def tie_advice(model: Any) -> str | None:
    """What to do when the certificate finds a tie broken otherwise, if it can."""
    found = [model] if isinstance(model, NEIGHBORS) else []
    found += [e for e in held_estimators(model) if isinstance(e, NEIGHBORS)]
    if not found:
        return None
    tree = next((e._fit_method for e in found if e._fit_method != "brute"), None)
    return ADVICE.format(
        name=type(found[0]).__name__,
        tree=TREE_ADVICE.format(method=tree.replace("_", "-")) if tree else "",
    )


def _rank(g: Graph, x: str, fit_x: np.ndarray, metric: str, brute: bool) -> str:
    """(N, n_train): what scikit-learn ranks neighbours by, computed its way."""
    if metric == "euclidean" and brute:
        xx = g.op(
            "ReduceSum", [g.op("Mul", [x, x]), g.const(_AXIS1)], "row_norms", keepdims=1
        )
        xy = g.op("MatMul", [x, g.const(fit_x.T, "fit_x_t")])
        middle = g.op("Mul", [g.const(np.float64(-2.0)), xy])
        from scipy.linalg.blas import ddot

        # the training rows' norms with the BLAS dot scikit-learn computes them with
        yy = np.array([[ddot(row, row) for row in fit_x]], dtype=np.float64)
        rank = g.op("Add", [g.op("Add", [xx, middle]), g.const(yy, "fit_norms")])
        # scikit-learn clamps the surrogate at 0 before it ranks (cancellation)
        return g.op("Max", [rank, g.const(np.float64(0.0))], "sq_distances")
    total = None
    for j in range(fit_x.shape[1]):
        col = g.op(
            "Slice",
            [
                x,
                g.const(np.array([j], dtype=np.int64)),
                g.const(np.array([j + 1], dtype=np.int64)),
                g.const(_AXIS1),
            ],
        )
        d = g.op("Sub", [col, g.const(fit_x[:, j][np.newaxis, :])])
        term = g.op("Mul", [d, d]) if metric == "euclidean" else g.op("Abs", [d])
        total = term if total is None else g.op("Add", [total, term])
    assert total is not None
    return total


def _exact_sq_distances(g: Graph, x: str, fit_x: np.ndarray, index: str) -> str:
    """(N, k): ``sum((x - y)^2)`` between each row and its k chosen neighbours."""
    near = g.op("Gather", [g.const(fit_x, "fit_x"), index], axis=0)  # (N, k, d)
    d = g.op("Sub", [g.op("Unsqueeze", [x, g.const(_AXIS1)]), near], "neighbor_offsets")
    return g.op(
        "ReduceSum",
        [g.op("Mul", [d, d]), g.const(np.array([2], dtype=np.int64))],
        "neighbor_sq_distances",
        keepdims=0,
    )


def _inverse_distance(g: Graph, values: str, metric: str) -> str:
    """scikit-learn's _get_weights(dist, "distance")."""
    dist = values
    if metric == "euclidean":  # the rank is the squared distance
        dist = g.op("Sqrt", [g.op("Max", [values, g.const(np.float64(0.0))])])
    w = g.op("Div", [g.const(np.float64(1.0)), dist], "inverse_distance")
    inf = g.op("IsInf", [w])
    inf_f = g.op("Cast", [inf], to=11)
    any_inf = g.op(
        "Greater",
        [
            g.op("ReduceMax", [inf_f, g.const(_AXIS1)], keepdims=1),
            g.const(np.float64(0.0)),
        ],
    )
    return g.op("Where", [any_inf, inf_f, w], "weights")
