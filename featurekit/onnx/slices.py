"""Small reshapes of 2-D tensors that the model emitters share."""

from __future__ import annotations

import numpy as np
from onnx import helper

from featurekit.onnx.graph import Graph

__all__ = ["as_column", "column", "zero_column"]

_AXIS1 = np.array([1], dtype=np.int64)


def column(g: Graph, t: str, j: int, stop: int | None = None) -> str:
    """Columns ``j:stop`` (default: column `j` alone) of the 2-D tensor `t`."""
    return g.op(
        "Slice",
        [
            t,
            g.const(np.array([j], dtype=np.int64)),
            g.const(np.array([j + 1 if stop is None else stop], dtype=np.int64)),
            g.const(_AXIS1),
        ],
    )


def as_column(g: Graph, t: str) -> str:
    """`t` reshaped to (N, 1)."""
    return g.op("Reshape", [t, g.const(np.array([-1, 1], dtype=np.int64))])


def zero_column(g: Graph, like: str) -> str:
    """An (N, 1) column of exact zeros, N the rows of `like` (whatever it holds)."""
    rows = g.op("Shape", [like], "n_rows", start=0, end=1)
    shape = g.op("Concat", [rows, g.const(np.array([1], dtype=np.int64))], axis=0)
    zero = helper.make_tensor("zero", 11, [1], [0.0])
    return g.op("ConstantOfShape", [shape], "zeros", value=zero)
