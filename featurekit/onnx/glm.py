"""Generalized linear models: the linear predictor, then scikit-learn's inverse link.

``PoissonRegressor``, ``GammaRegressor`` and ``TweedieRegressor`` predict
``inverse_link(X @ coef_ + intercept_)``. With the log link the inverse is ``exp``,
emitted with featurekit's exact kernel (`featurekit.expr.emitter.emit_exp`, the twin
of `featurekit.expr.evaluator.exp`) rather than onnxruntime's ``Exp``, whose last bit
depends on the CPU: the exported answer is then the same on every machine, within an
ulp of numpy's ``exp``, and infinite exactly where it overflows (beyond 709.78), as
scikit-learn's is. The exporter hands the kernel in (``featurekit.onnx`` sits below
``featurekit.expr``); without it, skl2onnx converts the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from featurekit.onnx.graph import Graph

__all__ = ["GLM", "emit_glm"]

GLM = (PoissonRegressor, GammaRegressor, TweedieRegressor)


def emit_glm(
    g: Graph,
    x: str,
    width: int,
    model: Any,
    *,
    exp: Callable[[Graph, str], str] | None = None,
    **_: Any,
) -> dict[str, str] | None:
    """The prediction of a fitted GLM; None (skl2onnx's) without an ``exp`` kernel."""
    link = type(model._base_loss.link).__name__
    if link not in ("IdentityLink", "LogLink") or (link == "LogLink" and exp is None):
        return None
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1, 1)
    raw = g.op("MatMul", [x, g.const(coef, "glm_coef")], "glm_dot")
    raw = g.op(
        "Add", [raw, g.const(np.float64(model.intercept_), "glm_intercept")], "glm_raw"
    )
    if link == "IdentityLink":
        return {"prediction": raw}
    assert exp is not None
    return {"prediction": exp(g, raw)}
