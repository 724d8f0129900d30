"""Emit scikit-learn's ``PolynomialFeatures`` so that the graph multiplies in its order.

A product of three or more doubles depends on its grouping: ``(a * b) * c`` and ``a *
(b * c)`` may differ in the last bit. ``PolynomialFeatures.transform`` (dense input)
builds each degree from the previous one: the block of degree ``d`` for feature ``f`` is
``XP[:, start:end] * X[:, f]``, where ``XP[:, start:end]`` are the terms of degree ``d -
1`` over features ``f`` and above (above only, with ``interaction_only``). The emitter
follows the same index bookkeeping, block by block, so that every product has the same
operands in the same order: the graph is bit for bit scikit-learn's, and
``fk.Polynomial`` uses scikit-learn's own transformer in training.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import PolynomialFeatures

from featurekit.onnx.graph import Graph
from featurekit.transforms.registry import emits, hint

__all__ = ["emit_polynomial_features"]


def _columns(g: Graph, x: str, start: int, stop: int, col: str) -> str:
    return g.op(
        "Slice",
        [
            x,
            g.const(np.array([start], dtype=np.int64)),
            g.const(np.array([stop], dtype=np.int64)),
            g.const(np.array([1], dtype=np.int64)),
        ],
        f"{col}_cols",
    )


@emits(PolynomialFeatures)
def emit_polynomial_features(
    g: Graph, x: str, step: PolynomialFeatures, where: str
) -> str:
    """PolynomialFeatures over any number of columns, in its own order of products."""
    col = hint(where)
    n_features = int(step.n_features_in_)
    min_degree, max_degree = step._min_degree, step._max_degree
    # the degree blocks of XP, in order: (first column in XP, tensor)
    blocks: list[tuple[int, str]] = []
    current = 1 if step.include_bias else 0
    if max_degree > 0:
        blocks.append((current, x))
        index = [*range(current, current + n_features), current + n_features]
        current += n_features
        for _ in range(2, max_degree + 1):
            first, previous = blocks[-1]
            parts, new_index, end = [], [], index[-1]
            for f in range(n_features):
                start = index[f]
                new_index.append(current)
                if step.interaction_only:
                    start += index[f + 1] - index[f]
                stop = current + end - start
                if stop <= current:
                    break
                factor = _columns(g, x, f, f + 1, f"{col}_x{f}")
                terms = _columns(g, previous, start - first, end - first, col)
                parts.append(g.op("Mul", [terms, factor], f"{col}_deg"))
                current = stop
            new_index.append(current)
            index = new_index
            if not parts:
                break
            block = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)
            blocks.append((index[0], block))
    tensors = [t for _, t in blocks]
    if min_degree > 1:  # drop the terms of lower degrees, as transform does
        full, kept = int(step._n_out_full), int(step.n_output_features_)
        skip = full - kept + (1 if step.include_bias else 0)
        offset = 1 if step.include_bias else 0
        whole = tensors[0] if len(tensors) == 1 else g.op("Concat", tensors, axis=1)
        tensors = [_columns(g, whole, skip - offset, full - offset, col)]
    if step.include_bias:
        one = g.const(np.ones((1, 1)), f"{col}_one")
        first_column = _columns(g, x, 0, 1, f"{col}_x0")
        tensors.insert(0, g.op("Where", [g.op("IsNaN", [first_column]), one, one]))
    if len(tensors) == 1:
        return g.op("Identity", tensors, f"{col}_poly")
    return g.op("Concat", tensors, f"{col}_poly", axis=1)
