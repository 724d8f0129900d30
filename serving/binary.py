"""The Open Inference Protocol's binary tensor data extension: split and join bodies.

A request with the header ``Inference-Header-Content-Length: N`` carries its JSON
inference header in the first N bytes of the body; the rest is the raw data of the
inputs whose ``parameters.binary_data_size`` is set, one after the other in input
order (the layout Triton and KServe use, and tritonclient sends by default):

- FP64, FP32, INT64, INT32: little-endian, row-major;
- BOOL: one byte per value, 0 or 1;
- BYTES: per value, a 4-byte little-endian length and then that many bytes (UTF-8).

`inline` reads that data into each tensor's ``data``, so `serving.oip.decode_infer`
then reads binary and JSON tensors by the same rules. A NaN in an FP32/FP64 tensor is
a missing value, as ``null`` is in JSON (binary data has no null). Every size is
checked against the body before a byte is read: a request that does not add up is a
`RequestError` naming what is wrong.

Outputs go back binary when the request asks (``parameters.binary_data_output`` for
all, ``outputs[i].parameters.binary_data`` for one, which wins): `binary_outputs`
says which, and `join` builds the answer.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from .oip import DATATYPES, RequestError

__all__ = [
    "HEADER",
    "binary_outputs",
    "header_length",
    "inline",
    "join",
    "read_raw",
    "write_raw",
]

#: The header that marks a binary body (HTTP header names are case-insensitive).
HEADER = "Inference-Header-Content-Length"
_FIXED = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "INT32": "<i4", "BOOL": "u1"}
_LENGTH = struct.Struct("<I")


def header_length(value: str, body_size: int) -> int:
    """The JSON header's length from the `HEADER` value; it must fit in the body."""
    if not value.isascii() or not value.isdigit():
        raise RequestError(
            f"{HEADER} must be the JSON header's length in bytes (a non-negative "
            f"integer); got {value[:40]!r}."
        )
    n = int(value)
    if n > body_size:
        raise RequestError(
            f"{HEADER} is {n}, but the body has only {body_size} bytes; it must be "
            "the length of the JSON header at the start of the body."
        )
    return n


def inline(payload: Any, tail: bytes | None) -> Any:
    """`payload` with each binary input's values read from `tail` into its ``data``.

    Parameters
    ----------
    payload : Any
        The decoded JSON header (anything: `decode_infer` judges its form).
    tail : bytes or None
        The body after the JSON header; None when the request had no `HEADER`.

    Returns
    -------
    Any
        `payload` itself if no input is binary, else a copy whose binary inputs hold
        ``data`` (a NaN read as None) and no ``binary_data_size``.

    Raises
    ------
    RequestError
        A size that is not a non-negative integer, that disagrees with the tensor's
        shape and datatype, or sizes that do not add up to the body exactly.

    Examples
    --------
    >>> header = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [2],
    ...                       "parameters": {"binary_data_size": 16}}]}
    >>> inline(header, struct.pack("<2d", 1.5, float("nan")))["inputs"][0]["data"]
    [1.5, None]
    """
    tensors = payload.get("inputs") if isinstance(payload, Mapping) else None
    if not isinstance(tensors, list):
        tensors = []
    offset = 0
    changed = False
    inlined: list[Any] = []
    for k, tensor in enumerate(tensors):
        params = tensor.get("parameters") if isinstance(tensor, Mapping) else None
        if not isinstance(params, Mapping) or "binary_data_size" not in params:
            inlined.append(tensor)
            continue
        name = tensor.get("name")
        label = f"Input {name!r}" if isinstance(name, str) else f"inputs[{k}]"
        if tail is None:
            raise RequestError(
                f"{label} has parameters.binary_data_size, but the request has no "
                f"{HEADER} header; send the header with the JSON header's length, or "
                "the values as JSON in 'data'."
            )
        size = params["binary_data_size"]
        if type(size) is not int or size < 0:
            raise RequestError(
                f"{label} has parameters.binary_data_size = {size!r:.40}; it must be "
                "a non-negative integer (the byte size of its data)."
            )
        if "data" in tensor:
            raise RequestError(
                f"{label} has both 'data' and parameters.binary_data_size; send its "
                "values one way."
            )
        left = len(tail) - offset
        if size > left:
            raise RequestError(
                f"{label} has binary_data_size {size}, but only {left} bytes of "
                f"binary data are left after the inputs before it ({len(tail)} after "
                "the JSON header in all)."
            )
        data = read_raw(label, tensor, tail[offset : offset + size])
        offset += size
        changed = True
        rest = {p: v for p, v in params.items() if p != "binary_data_size"}
        inlined.append({**tensor, "parameters": rest, "data": data})
    if offset != len(tail or b""):
        raise RequestError(
            f"The body has {len(tail or b'')} bytes after the JSON header, but the "
            f"inputs' binary_data_size add up to {offset}; they must match exactly."
        )
    return {**payload, "inputs": inlined} if changed else payload


def read_raw(
    label: str, tensor: Mapping[str, Any], raw: bytes, source: str = "binary_data_size"
) -> list[Any]:
    """The values of one tensor from its raw bytes, checked against its shape.

    `label` names the tensor and `source` where its byte count came from, in the
    messages (gRPC's ``raw_input_contents`` uses it too). A NaN in FP32/FP64 is
    None (a missing value); anything that does not add up is a `RequestError`.

    Examples
    --------
    >>> read_raw("x", {"datatype": "INT32", "shape": [2]}, struct.pack("<2i", 7, -1))
    [7, -1]
    """
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise RequestError(
            f"{label} has datatype {datatype!r}; expected one of {list(DATATYPES)}."
        )
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(type(d) is int and d >= 0 for d in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise RequestError(
            f"{label} has shape {shape!r:.40}; expected [N] or [N, 1] (one value per "
            "row)."
        )
    n = math.prod(shape)
    if datatype == "BYTES":
        return _strings(label, raw, n, source)
    dtype = np.dtype(_FIXED[datatype])
    if len(raw) != n * dtype.itemsize:
        raise RequestError(
            f"{label} is {datatype} of shape {shape!r}: {n} values of "
            f"{dtype.itemsize} bytes make {n * dtype.itemsize}, but its "
            f"{source} is {len(raw)}."
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    if datatype == "BOOL":
        bad = next((i for i, v in enumerate(values) if v > 1), None)
        if bad is not None:
            raise RequestError(
                f"{label} is BOOL but byte {bad} is {values[bad]}; a BOOL is one byte, "
                "0 or 1."
            )
        return [bool(v) for v in values]
    if datatype in ("FP32", "FP64"):
        for i, v in enumerate(values):
            if math.isinf(v):
                raise RequestError(
                    f"{label} is {datatype} but value {i} is {v!r}; send finite "
                    "numbers (NaN for a missing value)."
                )
        return [None if math.isnan(v) else v for v in values]
    return values


def _strings(label: str, raw: bytes, n: int, source: str) -> list[str]:
    out: list[str] = []
    at = 0
    while at < len(raw):
        if len(out) == n:
            raise RequestError(
                f"{label} is BYTES of {n} values, but {len(raw) - at} bytes of its "
                f"{source} {len(raw)} are left after them."
            )
        if len(raw) - at < _LENGTH.size:
            raise RequestError(
                f"{label} is BYTES, but value {len(out)} has only {len(raw) - at} "
                "bytes for its 4-byte length; each value is a 4-byte little-endian "
                "length and then that many bytes."
            )
        (size,) = _LENGTH.unpack_from(raw, at)
        at += _LENGTH.size
        if size > len(raw) - at:
            raise RequestError(
                f"{label} is BYTES, and value {len(out)} says it has {size} bytes, "
                f"but only {len(raw) - at} of its {source} are left."
            )
        try:
            out.append(raw[at : at + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                f"{label} is BYTES, but value {len(out)} is not UTF-8 text."
            ) from None
        at += size
    if len(out) != n:
        raise RequestError(
            f"{label} is BYTES of {n} values, but its {source} {len(raw)} "
            f"holds {len(out)}."
        )
    return out


def binary_outputs(payload: Mapping[str, Any], selected: list[str]) -> list[str]:
    """The selected outputs the request asks for as binary data, in order."""
    params = payload.get("parameters")
    default = isinstance(params, Mapping) and params.get("binary_data_output") is True
    asked: dict[str, Any] = {}
    requested = payload.get("outputs")
    for o in requested if isinstance(requested, list) else []:
        p = o.get("parameters") if isinstance(o, Mapping) else None
        if isinstance(p, Mapping) and isinstance(p.get("binary_data"), bool):
            asked[o["name"]] = p["binary_data"]
    return [n for n in selected if asked.get(n, default)]


def join(header: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> tuple[bytes, int]:
    """The response body: `header` as JSON, then the raw data of `arrays`.

    Each output of ``header["outputs"]`` named in `arrays` loses its ``data`` and
    gains ``parameters.binary_data_size``. Returns the body and the header's length.
    """
    chunks: list[bytes] = []
    for out in header["outputs"]:
        if out["name"] not in arrays:
            continue
        raw = write_raw(out["datatype"], arrays[out["name"]])
        del out["data"]
        out["parameters"] = {**out.get("parameters", {}), "binary_data_size": len(raw)}
        chunks.append(raw)
    head = orjson.dumps(header)
    return head + b"".join(chunks), len(head)


def write_raw(datatype: str, arr: np.ndarray) -> bytes:
    """`arr` as raw tensor data of `datatype`, laid out as `read_raw` reads it."""
    if datatype == "BYTES":
        parts = []
        for v in arr.ravel().tolist():
            b = v if isinstance(v, bytes) else str(v).encode()
            parts.append(_LENGTH.pack(len(b)) + b)
        return b"".join(parts)
    return np.ascontiguousarray(arr, dtype=_FIXED[datatype]).tobytes()
