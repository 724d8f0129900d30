"""Read and write Open Inference Protocol (KServe v2) REST payloads.

Pure functions over decoded JSON: no web framework here, so the protocol rules are
tested on their own and the app only maps `RequestError` to a status code.

Tensors become records: one input tensor per raw column, the same list-of-dicts form
that ``POST /predict`` takes, so both endpoints read values through the contract in
exactly the same way. The protocol adds only what its types say:

- FP32/FP64 data must be JSON numbers (an int is a number; a bool is not); FP32 values
  are rounded to float32 first, as a Triton server would.
- INT32/INT64 data must be JSON integers within the type's range.
- BYTES data must be strings; BOOL data must be true/false (the contract then decides
  whether the column takes them: numeric and categorical columns don't).
- ``null`` is a missing value in any tensor, as in ``/predict``.
- Shapes are ``[N]`` or ``[N, 1]``; data is flat or nested row-major.

Binary tensors (the binary tensor data extension) are read into ``data`` by
`serving.binary` first, so the same rules apply to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import numpy as np

from featurekit.contract.jsonschema import record_schema

__all__ = [
    "DATATYPES",
    "RequestError",
    "decode_infer",
    "encode_outputs",
    "model_metadata",
]

#: Datatypes accepted on input, with the Python types their JSON values may have.
DATATYPES = ("BOOL", "BYTES", "FP32", "FP64", "INT32", "INT64")
_INT_RANGES = {"INT32": (-(2**31), 2**31 - 1), "INT64": (-(2**63), 2**63 - 1)}


class RequestError(ValueError):
    """A request the protocol cannot read; the app answers 400 (or `status`)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TensorMetadata(TypedDict):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(TypedDict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


def model_metadata(predictor: Any) -> ModelMetadata:
    """The ``GET /v2/models/{name}`` answer: inputs and outputs with OIP types."""
    inputs: list[TensorMetadata] = [
        {
            "name": name,
            # a date-time travels as ISO-8601 text and becomes seconds in the graph
            "datatype": "BYTES"
            if spec.get("kind") == "datetime"
            else {"double": "FP64", "int64": "INT64", "string": "BYTES"}[spec["type"]],
            "shape": [-1],
        }
        for name, spec in predictor.manifest["inputs"].items()
    ]
    outputs: list[TensorMetadata] = []
    for name in predictor.outputs:
        if name == "probabilities" or (
            # scikit-learn's decision_function is (N,) for two classes, else (N, K)
            name == "decision_function" and len(predictor.classes_) > 2
        ):
            outputs.append(
                {
                    "name": name,
                    "datatype": "FP64",
                    "shape": [-1, len(predictor.classes_)],
                }
            )
        elif name == "label":
            outputs.append(
                {"name": name, "datatype": _datatype(predictor.classes_), "shape": [-1]}
            )
        else:
            outputs.append({"name": name, "datatype": "FP64", "shape": [-1]})
    params: dict[str, Any] = {
        "sha256": predictor.sha256,
        "kind": predictor.kind,
        "strict": predictor.features.strict,
        # what the model answers, as scikit-learn's pipeline did: a classifier
        # without predict_proba has a decision_function (or only its label)
        "answers": predictor.outputs,
    }
    if predictor.kind == "classifier":
        params["classes"] = predictor.classes_.tolist()
    # what a record may hold, for client authors: types, nullability, bounds and
    # categories as a JSON Schema (also at GET /v2/models/{name}/contract)
    params["contract"] = record_schema(predictor.contract)
    return {
        "name": predictor.name,
        "versions": [str(predictor.version)],
        "platform": "featurekit_onnx",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": params,
    }


def _datatype(values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def decode_infer(
    payload: Any, outputs: list[str]
) -> tuple[list[dict[str, Any]], list[str], Any]:
    """Turn an inference request into records.

    Parameters
    ----------
    payload : Any
        The decoded JSON body.
    outputs : list of str
        The model's output names, to check the request's ``outputs`` against.

    Returns
    -------
    records : list of dict
        One dict per row, keyed by input name.
    selected : list of str
        The outputs to return.
    request_id : str or None
        The request's ``id``, to echo.

    Raises
    ------
    RequestError
        The request is malformed; the message says what and how to fix it.

    Examples
    --------
    >>> body = {"inputs": [{"name": "age", "datatype": "INT64", "shape": [2],
    ...                     "data": [31, None]}]}
    >>> decode_infer(body, ["prediction"])
    ([{'age': 31}, {'age': None}], ['prediction'], None)
    """
    if not isinstance(payload, Mapping):
        raise RequestError(
            f"An inference request is a JSON object with an 'inputs' list; got a "
            f"{_json_type(payload)}."
        )
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"'id' must be a string; got {_json_type(request_id)}.")
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise RequestError(
            "'inputs' must be a non-empty list of tensors, one per input column: "
            '{"name": ..., "datatype": ..., "shape": [N], "data": [...]}.'
        )
    columns: dict[str, list[Any]] = {}
    n_rows: int | None = None
    for k, tensor in enumerate(tensors):
        name, values = _tensor(tensor, k)
        if name in columns:
            raise RequestError(f"Input {name!r} appears twice in 'inputs'.")
        if n_rows is not None and len(values) != n_rows:
            first = next(iter(columns))
            raise RequestError(
                f"Input {name!r} has {len(values)} rows but {first!r} has {n_rows}; "
                "every input tensor must have the same first dimension."
            )
        n_rows = len(values)
        columns[name] = values
    if not n_rows:
        raise RequestError("The request has 0 rows; send at least one.")
    selected = _selected(payload.get("outputs"), outputs)
    names = list(columns)
    records = [
        dict(zip(names, row, strict=True))
        for row in zip(*columns.values(), strict=True)
    ]
    return records, selected, request_id


def _tensor(tensor: Any, k: int) -> tuple[str, list[Any]]:
    if not isinstance(tensor, Mapping):
        raise RequestError(f"inputs[{k}] must be an object; got {_json_type(tensor)}.")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise RequestError(f"inputs[{k}] needs a string 'name'.")
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise RequestError(
            f"Input {name!r} has datatype {datatype!r}; expected one of "
            f"{list(DATATYPES)}."
        )
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(type(d) is int and d >= 0 for d in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise RequestError(
            f"Input {name!r} has shape {shape!r}; expected [N] or [N, 1] (one value "
            "per row)."
        )
    if "data" not in tensor:
        raise RequestError(
            f"Input {name!r} has no 'data'; send its values as a JSON list in 'data', "
            "or as binary data (parameters.binary_data_size and the "
            "Inference-Header-Content-Length header)."
        )
    values = _flatten(tensor["data"], shape, name)
    check = _CHECKS[datatype]
    for i, v in enumerate(values):
        if v is not None and not check(v):
            raise RequestError(
                f"Input {name!r} is {datatype} but data[{i}] is {_json_type(v)} "
                f"{_short(v)}; send {_EXPECT[datatype]} (null for a missing value)."
            )
    if datatype in _INT_RANGES:
        lo, hi = _INT_RANGES[datatype]
        for i, v in enumerate(values):
            if v is not None and not lo <= v <= hi:
                raise RequestError(
                    f"Input {name!r} is {datatype} but data[{i}] = {_short(v)} is "
                    f"outside [{lo}, {hi}]."
                )
    elif datatype == "FP32":
        values = [
            None if v is None else _fp32(v, name, i) for i, v in enumerate(values)
        ]
    elif datatype == "FP64":
        values = [
            None if v is None else _fp64(v, name, i) for i, v in enumerate(values)
        ]
    return name, values


def _flatten(data: Any, shape: list[int], name: str) -> list[Any]:
    n = shape[0]
    if not isinstance(data, list):
        raise RequestError(
            f"Input {name!r}: 'data' must be a list; got {_json_type(data)}."
        )
    if len(shape) == 2 and data and isinstance(data[0], list):
        # nested row-major: one single-element list per row
        if not all(isinstance(row, list) and len(row) == 1 for row in data):
            raise RequestError(
                f"Input {name!r}: nested 'data' must hold one one-element list per row "
                f"for shape {shape!r}."
            )
        data = [row[0] for row in data]
    values: list[Any] = data
    if len(values) != n:
        raise RequestError(
            f"Input {name!r} has shape {shape!r} but {len(values)} values; the data must "
            f"hold exactly {n}."
        )
    if any(isinstance(v, list | dict) for v in values):
        raise RequestError(
            f"Input {name!r}: 'data' must hold scalars for shape {shape!r}, not lists "
            "or objects."
        )
    return values


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int


def _is_int(v: Any) -> bool:
    return type(v) is int


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "FP32": _is_number,
    "FP64": _is_number,
    "INT32": _is_int,
    "INT64": _is_int,
    "BOOL": lambda v: type(v) is bool,
    "BYTES": lambda v: type(v) is str,
}
_EXPECT = {
    "FP32": "JSON numbers",
    "FP64": "JSON numbers",
    "INT32": "JSON integers",
    "INT64": "JSON integers",
    "BOOL": "true or false",
    "BYTES": "strings",
}


def _fp32(v: float, name: str, i: int) -> float:
    with np.errstate(over="ignore"):
        f = float(np.float32(v))
    if math.isinf(f) and not math.isinf(v):
        raise RequestError(
            f"Input {name!r} is FP32 but data[{i}] = {v!r} does not fit a float32; "
            "send it as FP64."
        )
    return f


def _fp64(v: float, name: str, i: int) -> float:
    try:
        return float(v)
    except OverflowError:  # an int beyond the float range
        raise RequestError(
            f"Input {name!r} is FP64 but data[{i}] = {_short(v)} does not fit a double."
        ) from None


def _selected(requested: Any, outputs: list[str]) -> list[str]:
    if requested is None:
        return list(outputs)
    if not isinstance(requested, list) or not all(
        isinstance(o, Mapping) and isinstance(o.get("name"), str) for o in requested
    ):
        raise RequestError(
            "'outputs' must be a list of objects with a 'name', e.g. "
            '[{"name": "label"}].'
        )
    names = [o["name"] for o in requested]
    unknown = [n for n in names if n not in outputs]
    if unknown:
        raise RequestError(
            f"Unknown output(s) {unknown!r}; this model has {outputs!r}."
        )
    if not names:
        return list(outputs)
    return list(dict.fromkeys(names))


def encode_outputs(scores: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Output tensors as OIP JSON: name, datatype, shape and flat row-major data."""
    out = []
    for name, arr in scores.items():
        out.append(
            {
                "name": name,
                "datatype": _datatype(arr),
                "shape": list(arr.shape),
                "data": arr.ravel().tolist(),
            }
        )
    return out


def _json_type(v: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
