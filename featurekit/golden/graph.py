"""Extra graph outputs for an onnxruntime session, without importing ``onnx``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["with_outputs"]


def with_outputs(model: bytes, names: Sequence[str]) -> bytes:
    """`model` with the float64 tensors `names` added to the graph's outputs.

    Serving does not import the ``onnx`` package (it costs ~90 ms), so the outputs are
    appended in protobuf's wire format: a second ``graph`` field (ModelProto field 7)
    holding only ``output`` entries (GraphProto field 12). Protobuf parsers merge a
    repeated embedded message into the first and concatenate repeated fields, so
    onnxruntime reads one graph with the extra outputs.

    Examples
    --------
    >>> import onnx  # to show the result; with_outputs itself does not need it
    >>> empty = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    >>> grown = with_outputs(empty.SerializeToString(), ["features"])
    >>> [o.name for o in onnx.load_from_string(grown).graph.output]
    ['features']
    """
    tensor = _tag(1, 0) + _varint(11)  # TypeProto.Tensor.elem_type = DOUBLE
    extra = b"".join(
        _field(12, _field(1, name.encode()) + _field(2, _field(1, tensor)))
        for name in names
    )
    return model + _field(7, extra) if names else model


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _field(number: int, payload: bytes) -> bytes:
    return _tag(number, 2) + _varint(len(payload)) + payload
