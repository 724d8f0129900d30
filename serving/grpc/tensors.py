"""Translate gRPC inference messages to and from the payloads `serving.oip` reads.

A ``ModelInferRequest`` becomes the JSON form of a REST inference request
(`to_payload`), so that `serving.oip.decode_infer` reads both protocols by the same
rules, with the same messages: datatypes, shapes ``[N]`` or ``[N, 1]``, value
checks. Where the values come from is the only difference:

- ``raw_input_contents`` (what tritonclient sends): read by
  `serving.binary.read_raw`, exactly as the REST binary tensor extension reads its
  data;
- ``contents``: the repeated field of the tensor's datatype (``fp64_contents`` for
  FP64, ``bytes_contents`` for BYTES, ...); a value in another field is refused.

Either way a NaN in an FP32/FP64 tensor is a missing value, as ``null`` is in JSON,
and an infinity is refused. The answer (`to_response`) carries raw outputs
(``raw_output_contents``, as Triton answers) when the request sent raw inputs, and
typed ``contents`` when it sent typed ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..binary import read_raw, write_raw
from ..oip import RequestError, encode_outputs, model_metadata
from . import grpc_predict_v2_pb2 as pb

__all__ = ["FIELDS", "metadata_response", "to_payload", "to_response"]

#: The ``InferTensorContents`` field of each datatype featurekit reads and writes.
FIELDS = {
    "BOOL": "bool_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
#: Input parameters that ask for what featurekit does not do.
_UNSUPPORTED = (
    "shared_memory_region",
    "shared_memory_byte_size",
    "shared_memory_offset",
)


def to_payload(request: pb.ModelInferRequest) -> dict[str, Any]:
    """The REST form of `request`: ``{"id", "inputs": [{..., "data"}], "outputs"}``.

    Raises
    ------
    RequestError
        Values that do not fit the tensor's datatype and shape, raw contents that
        do not match the inputs, or both kinds of contents in one request.

    Examples
    --------
    >>> request = pb.ModelInferRequest(model_name="loans", id="r1")
    >>> x = request.inputs.add(name="age", datatype="FP64", shape=[2])
    >>> x.contents.fp64_contents.extend([31.0, float("nan")])
    >>> to_payload(request)["inputs"]
    [{'name': 'age', 'datatype': 'FP64', 'shape': [2], 'data': [31.0, None]}]
    """
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise RequestError(
            f"The request has {len(request.inputs)} inputs but {len(raw)} "
            "raw_input_contents; send one raw_input_contents per input, in the "
            "order of 'inputs'."
        )
    inputs: list[dict[str, Any]] = []
    for k, tensor in enumerate(request.inputs):
        label = f"Input {tensor.name!r}"
        shared = [p for p in _UNSUPPORTED if p in tensor.parameters]
        if shared:
            raise RequestError(
                f"{label} asks for shared memory ({shared[0]}); this server reads "
                "values from raw_input_contents or contents only."
            )
        t: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if raw:
            if tensor.HasField("contents"):
                raise RequestError(
                    f"{label} has contents, but the request has raw_input_contents; "
                    "send every input's values one way."
                )
            t["data"] = read_raw(label, t, raw[k], f"raw_input_contents[{k}] size")
        else:
            t["data"] = _typed(label, tensor)
        inputs.append(t)
    payload: dict[str, Any] = {"inputs": inputs}
    if request.id:
        payload["id"] = request.id
    if request.outputs:
        payload["outputs"] = [{"name": o.name} for o in request.outputs]
    return payload


def _typed(label: str, tensor: pb.ModelInferRequest.InferInputTensor) -> list[Any]:
    """The values of a tensor sent in ``contents``; NaN (FP32/FP64) is None."""
    field = FIELDS.get(tensor.datatype)
    if field is None:
        return []  # decode_infer names the datatype and the ones it takes
    sent = [f.name for f, _ in tensor.contents.ListFields() if f.name != field]
    if sent:
        raise RequestError(
            f"{label} is {tensor.datatype}, so its values go in contents.{field}; "
            f"got {', '.join(sent)}."
        )
    values: list[Any] = list(getattr(tensor.contents, field))
    if tensor.datatype == "BYTES":
        return [_text(label, i, v) for i, v in enumerate(values)]
    if tensor.datatype in ("FP32", "FP64"):
        for i, v in enumerate(values):
            if math.isinf(v):
                raise RequestError(
                    f"{label} is {tensor.datatype} but value {i} is {v!r}; send "
                    "finite numbers (NaN for a missing value)."
                )
        return [None if math.isnan(v) else v for v in values]
    return values


def _text(label: str, i: int, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            f"{label} is BYTES, but value {i} is not UTF-8 text."
        ) from None


def to_response(
    model_name: str,
    model_version: str,
    scores: Mapping[str, np.ndarray],
    request_id: str | None,
    *,
    raw: bool,
) -> pb.ModelInferResponse:
    """The ``ModelInferResponse`` for `scores`: raw outputs if `raw`, else contents.

    Examples
    --------
    >>> r = to_response("m", "1", {"label": np.array([0, 1])}, None, raw=False)
    >>> list(r.outputs[0].contents.int64_contents), r.outputs[0].datatype
    ([0, 1], 'INT64')
    """
    response = pb.ModelInferResponse(
        model_name=model_name, model_version=model_version, id=request_id or ""
    )
    for out in encode_outputs(scores):
        tensor = response.outputs.add(
            name=out["name"], datatype=out["datatype"], shape=out["shape"]
        )
        if raw:
            response.raw_output_contents.append(
                write_raw(out["datatype"], scores[out["name"]])
            )
        elif out["datatype"] == "BYTES":
            tensor.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode() for v in out["data"]
            )
        else:
            getattr(tensor.contents, FIELDS[out["datatype"]]).extend(out["data"])
    return response


def metadata_response(predictor: Any) -> pb.ModelMetadataResponse:
    """``ModelMetadata``'s answer: what ``GET /v2/models/{name}`` says, as a message.

    The message has no parameters (the contract, the classes); those stay at
    ``GET /v2/models/{name}`` and ``/v2/models/{name}/contract`` over HTTP.
    """
    meta = model_metadata(predictor)
    return pb.ModelMetadataResponse(
        name=meta["name"],
        versions=meta["versions"],
        platform=meta["platform"],
        inputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["inputs"]],
        outputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["outputs"]],
    )
