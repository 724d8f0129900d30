"""Emit an `fk.Custom` transformer: featurekit's own emitter if any, else skl2onnx.

A transformer featurekit emits over any number of columns (`own_emitter`) is emitted by
featurekit: bit for bit scikit-learn's for ``QuantileTransformer`` with a uniform
output, ``SplineTransformer``, ``PolynomialFeatures`` and the scalers; within a few ulp
for ``PowerTransformer``, which scikit-learn computes with the C library's kernels. A
``Pipeline`` is emitted step by step, so that those steps keep that precision. Any
other step is converted by skl2onnx on its own input (double for numeric columns,
string for categorical ones) and spliced into the main graph. Whether the result
computes what scikit-learn does is not assumed: the parity certificate compares the
two on every certified row and refuses the export otherwise (for a tree model, on any
bit of a feature).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
    TargetEncoder,
)

from featurekit.errors import ExportError
from featurekit.onnx.graph import ML, OPSET, Graph, splice
from featurekit.transforms import (  # noqa: F401  (they register their emitters)
    polynomial,
    power,
    quantile,
    scikit,
    spline,
)
from featurekit.transforms.registry import Emitter, emitter_for

__all__ = ["emit_custom", "own_emitter"]

#: The scikit-learn transformers whose registered emitter handles any number of
#: columns, and when (the emitters of featurekit's declarations that assume one
#: column are not listed): exact, or within a few ulp for PowerTransformer.
_OWN: tuple[tuple[type, Callable[[Any], bool]], ...] = (
    (QuantileTransformer, lambda s: s.output_distribution == "uniform"),
    (PowerTransformer, lambda s: True),
    (SplineTransformer, lambda s: not s.sparse_output and s.extrapolation != "error"),
    (PolynomialFeatures, lambda s: True),
    (StandardScaler, lambda s: True),
    (RobustScaler, lambda s: True),
    (MinMaxScaler, lambda s: True),
)


#: The closest featurekit declaration to a transformer fk.Custom cannot export.
_ALTERNATIVES: tuple[tuple[type, str], ...] = (
    (
        QuantileTransformer,
        "fk.Numeric(..., transform='quantile') or transform='quantile-normal', exact "
        "in both runtimes",
    ),
    (SplineTransformer, "fk.Splines(name, source, n_knots=..., degree=...)"),
    (PolynomialFeatures, "fk.Polynomial(name, inputs=[...], degree=...)"),
    (KBinsDiscretizer, "fk.Bucketized(name, source, bins=..., strategy=...)"),
    (TargetEncoder, "fk.Categorical(..., encode='target')"),
    (OneHotEncoder, "fk.Categorical(..., encode='onehot')"),
    (OrdinalEncoder, "fk.Categorical(..., encode='ordinal')"),
    (SimpleImputer, "impute=... on the columns it reads"),
)


def own_emitter(step: Any) -> Emitter | None:
    """The featurekit emitter for the fitted `step` inside fk.Custom, if it has one."""
    for cls, applies in _OWN:
        if isinstance(step, cls) and applies(step):
            return emitter_for(step)
    return None


def emit_custom(
    g: Graph,
    x: str,
    step: Any,
    where: str,
    *,
    strings: bool,
    columns: Sequence[str] = (),
) -> str:
    """The fitted transformer `step` applied to `x` (N, k), as a double (N, m) tensor.

    `columns` names the inputs, for the messages.
    """
    if isinstance(step, Pipeline):
        for i, (name, inner) in enumerate(step.steps):
            if inner is None or inner == "passthrough":
                continue
            x = emit_custom(
                g,
                x,
                inner,
                f"{where}.{name}",
                strings=strings and i == 0,
                columns=columns if i == 0 else (),
            )
        return x
    own = None if strings else own_emitter(step)
    if own is not None:
        return own(g, x, step, where)
    _refuse_functions(step, where, columns)
    width = int(getattr(step, "n_features_in_", 1))
    errors: list[str] = []
    for precision in ("string",) if strings else ("double", "float"):
        sub = _convert(step, width, precision, errors)
        if sub is not None:
            break
    else:
        raise ExportError(
            f"{where}: skl2onnx cannot convert {type(step).__name__}: "
            + " | ".join(e.rstrip(".") for e in errors)
            + ". "
            + _alternative(step)
        )
    if precision == "float":
        x = g.op("Cast", [x], f"{where}_f32", to=1)
    if len(sub.graph.output) != 1:
        raise ExportError(
            f"{where}: {type(step).__name__} converts to {len(sub.graph.output)} "
            "outputs; fk.Custom needs a transformer with one output matrix."
        )
    (out,) = splice(g, sub, {"X": x}, where)
    elem = sub.graph.output[0].type.tensor_type.elem_type
    if elem != onnx.TensorProto.DOUBLE:
        out = g.op("Cast", [out], f"{where}_double", to=11)
    n_out = _width(step, width)
    return g.op(
        "Reshape", [out, g.const(np.array([-1, n_out], dtype=np.int64))], f"{where}_out"
    )


#: numpy functions a FunctionTransformer may wrap -> the fk.col method computing them
_EXPRESSIONS = {
    "log1p": "log1p",
    "log": "log",
    "exp": "exp",
    "sqrt": "sqrt",
    "abs": "abs",
    "absolute": "abs",
}


def _refuse_functions(step: Any, where: str, columns: Sequence[str]) -> None:
    """A FunctionTransformer wraps Python code, which no graph holds: name the way."""
    if not isinstance(step, FunctionTransformer) or step.func is None:
        return
    func = getattr(step.func, "__name__", type(step.func).__name__)
    first = columns[0] if columns else "x"
    method = _EXPRESSIONS.get(func)
    expr = f"fk.col({first!r}).{method}()" if method else f"... fk.col({first!r}) ..."
    each = f", one per column of {list(columns)!r}" if len(columns) > 1 else ""
    raise ExportError(
        f"{where}: skl2onnx cannot convert FunctionTransformer({func}): it runs Python "
        "code, which the ONNX graph cannot hold. Declare it as an expression instead: "
        f"use fk.Derived({first + '_' + func!r}, {expr}){each} (see "
        "docs/expressions.md)."
    )


def _alternative(step: Any) -> str:
    """What to declare instead of a transformer featurekit cannot export."""
    for cls, advice in _ALTERNATIVES:
        if isinstance(step, cls):
            return f"Declare it instead: {advice}."
    return (
        "No featurekit declaration computes it: write it as fk.Derived expressions, "
        "or, if it fails on missing values, declare the inputs non-nullable "
        "(nullable=False) or give them impute=…."
    )


def _convert(
    step: Any, width: int, precision: str, errors: list[str]
) -> onnx.ModelProto | None:
    """skl2onnx's conversion of `step`, if it converts and onnxruntime runs it."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        StringTensorType,
    )

    kind = {
        "double": DoubleTensorType,
        "float": FloatTensorType,
        "string": StringTensorType,
    }[precision]
    try:
        sub = convert_sklearn(
            step,
            initial_types=[("X", kind([None, width]))],
            target_opset={"": OPSET[""], ML: OPSET[ML]},
        )
        # a conversion onnxruntime refuses to load is no conversion
        ort.InferenceSession(
            sub.SerializeToString(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # skl2onnx and onnxruntime raise many types
        errors.append(f"in {precision}: {str(exc).splitlines()[0][:300]}")
        return None
    return sub  # type: ignore[no-any-return]


def _width(step: Any, width: int) -> int:
    try:
        return len(step.get_feature_names_out())
    except Exception:  # a transformer without feature names: ask it
        probe = np.zeros((1, width))
        return int(np.asarray(step.transform(probe)).shape[1])
