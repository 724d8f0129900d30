"""Emit an `fk.Custom` transformer through skl2onnx, spliced into featurekit's graph.

skl2onnx converts the fitted transformer on its own input (double for numeric columns,
string for categorical ones); the nodes are renamed into the main graph. Whether the
conversion computes what scikit-learn does is not assumed: the parity certificate
compares the two on every certified row and refuses the export otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from featurekit.errors import ExportError
from featurekit.onnx.graph import ML, OPSET, Graph, splice

__all__ = ["emit_custom"]


def emit_custom(g: Graph, x: str, step: Any, where: str, *, strings: bool) -> str:
    """The fitted transformer `step` applied to `x` (N, k), as a double (N, m) tensor."""
    width = int(getattr(step, "n_features_in_", 1))
    errors: list[str] = []
    for precision in ("string",) if strings else ("double", "float"):
        sub = _convert(step, width, precision, errors)
        if sub is not None:
            break
    else:
        raise ExportError(
            f"{where}: skl2onnx cannot convert {type(step).__name__}: "
            + " | ".join(errors)
            + ". fk.Custom takes transformers that skl2onnx converts; declare the "
            "transform with featurekit options instead, if there is one."
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
