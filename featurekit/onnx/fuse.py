"""Fuse the per-column chains of the feature transforms into one chain over a block.

The transforms emit each raw column's chain on its own ``[N, 1]`` tensor: four numeric
columns with median impute and standard scaling are sixteen nodes (``IsNaN``,
``Where``, ``Sub``, ``Div`` each). onnxruntime pays a fixed cost per node, which is
most of the time of a one-row request. Where consecutive columns run the same chain
of exact IEEE operations and differ only in their scalar constants, `fuse_chains`
concatenates their inputs and runs the chain once on ``[N, k]`` with ``[1, k]``
constants: four nodes plus a ``Concat`` instead of sixteen.

Every element still goes through the same operations with the same constants, and
only operations whose result depends on nothing but their operands are fused
(``+ - * /``, ``sqrt``, comparisons, ``Where``, ``IsNaN``, ``Max``/``Min``, ``Abs``,
``Neg``, ``Floor``/``Ceil``, ``Cast``, logic): no ``Log``, ``Exp`` or other
vectorised library kernels, whose last bit can depend on an element's position in a
batch. The fused features are therefore the same bits as the per-column ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from featurekit.onnx.graph import Graph

__all__ = ["Chain", "fuse_chains"]

#: Element-wise operations whose result depends on the operands alone.
EXACT_OPS = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Sqrt",
        "Where",
        "IsNaN",
        "IsInf",
        "Max",
        "Min",
        "Abs",
        "Neg",
        "Floor",
        "Ceil",
        "Cast",
        "Equal",
        "Greater",
        "Less",
        "GreaterOrEqual",
        "LessOrEqual",
        "And",
        "Or",
        "Not",
    }
)


@dataclass
class Chain:
    """One column's chain: its nodes are ``g.nodes[start:stop]``, `x` in, `y` out."""

    start: int
    stop: int
    x: str
    y: str


def _signature(
    g: Graph, chain: Chain, inits: dict[str, np.ndarray], outside: set[str]
) -> tuple[Any, ...] | None:
    """The chain's structure with its constants left out; None if it cannot fuse."""
    nodes = g.nodes[chain.start : chain.stop]
    if not nodes or chain.y != nodes[-1].output[0]:
        return None
    made: dict[str, int] = {}
    sig: list[Any] = []
    for j, node in enumerate(nodes):
        if node.op_type not in EXACT_OPS or node.domain or len(node.output) != 1:
            return None
        ins: list[Any] = []
        for name in node.input:
            if name == chain.x:
                ins.append("x")
            elif name in made:
                ins.append(made[name])
            elif name in inits and inits[name].size == 1:
                ins.append(("c", inits[name].dtype.str, inits[name].shape))
            else:
                return None
        out = node.output[0]
        if out != chain.y and out in outside:  # an intermediate read elsewhere
            return None
        made[out] = j
        attrs = tuple(sorted((a.name, a.SerializeToString()) for a in node.attribute))
        sig.append((node.op_type, attrs, tuple(ins)))
    return tuple(sig)


def fuse_chains(g: Graph, chains: list[Chain | None]) -> list[str | None]:
    """Fuse runs of consecutive chains with one structure; return the new block tensors.

    `chains` holds, in the order of the features, each single-column block's chain, or
    None for a block that is not such a chain (it is left alone, as is a run of one).
    Returns, for each entry, the tensor that now holds its columns: the fused
    ``[N, k]`` tensor for the first of a run and None for the rest of it, or the
    chain's own output.

    Examples
    --------
    >>> import numpy as np
    >>> g = Graph()
    >>> chains = []
    >>> for col, mean in (("a", 1.0), ("b", 2.0)):
    ...     x = g.add_input(col, "double", ["N", 1])
    ...     start = len(g.nodes)
    ...     y = g.op("Sub", [x, g.const(np.float64(mean), f"{col}_mean")])
    ...     chains.append(Chain(start, len(g.nodes), x, y))
    >>> out = fuse_chains(g, chains)
    >>> out[1] is None, [n.op_type for n in g.nodes]
    (True, ['Concat', 'Sub'])
    """
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializers}
    inside = {
        o
        for c in chains
        if c is not None
        for n in g.nodes[c.start : c.stop]
        for o in n.output
    }
    outside: set[str] = set(g.notes.values())
    for i, node in enumerate(g.nodes):
        if not any(c is not None and c.start <= i < c.stop for c in chains):
            outside.update(node.input)
    for c in chains:
        if c is not None:
            for node in g.nodes[c.start : c.stop]:
                outside.update(n for n in node.input if n not in inside)
    sigs = [None if c is None else _signature(g, c, inits, outside) for c in chains]
    out: list[str | None] = [None if c is None else c.y for c in chains]
    runs: list[list[int]] = []
    for i, sig in enumerate(sigs):
        if sig is None:
            continue
        if runs and runs[-1][-1] == i - 1 and sigs[runs[-1][0]] == sig:
            runs[-1].append(i)
        else:
            runs.append([i])
    replaced: dict[int, list[onnx.NodeProto]] = {}  # first node index -> new nodes
    dropped: set[int] = set()
    unused: set[str] = set()
    for run in (r for r in runs if len(r) > 1):
        group = [chains[i] for i in run]
        assert all(c is not None for c in group)
        out[run[0]] = _fused(g, group, inits, replaced, dropped, unused)  # type: ignore[arg-type]
        for i in run[1:]:
            out[i] = None
    if replaced:
        nodes: list[onnx.NodeProto] = []
        for i, node in enumerate(g.nodes):
            nodes.extend(replaced.get(i, []))
            if i not in dropped:
                nodes.append(node)
        g.nodes = nodes
        still = {name for node in g.nodes for name in node.input}
        g.initializers = [
            t for t in g.initializers if t.name not in unused or t.name in still
        ]
    return out


def _fused(
    g: Graph,
    group: list[Chain],
    inits: dict[str, np.ndarray],
    replaced: dict[int, list[onnx.NodeProto]],
    dropped: set[int],
    unused: set[str],
) -> str:
    """Emit one chain over the group's concatenated inputs; mark the old nodes."""
    first, last = group[0], group[-1]
    mark = len(g.nodes)
    x = g.op("Concat", [c.x for c in group], f"{first.x}_to_{last.x}", axis=1)
    made: dict[int, str] = {}
    for j, node in enumerate(g.nodes[first.start : first.stop]):
        ins = []
        for k, name in enumerate(node.input):
            if name == first.x:
                ins.append(x)
            elif name in inits:
                column = [
                    inits[g.nodes[c.start + j].input[k]].reshape(()) for c in group
                ]
                unused.update(g.nodes[c.start + j].input[k] for c in group)
                ins.append(g.const(np.stack(column).reshape(1, -1), name + "_fused"))
            else:
                ins.append(made[_producer(g.nodes, first, name)])
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        made[j] = g.op(node.op_type, ins, node.output[0] + "_fused", **attrs)
    new = g.nodes[mark:]
    del g.nodes[mark:]
    replaced[first.start] = new
    for c in group:
        dropped.update(range(c.start, c.stop))
    return made[first.stop - first.start - 1]


def _producer(nodes: list[onnx.NodeProto], chain: Chain, name: str) -> int:
    """The position in `chain` of the node that makes `name`."""
    return next(
        j
        for j, node in enumerate(nodes[chain.start : chain.stop])
        if name in node.output
    )
