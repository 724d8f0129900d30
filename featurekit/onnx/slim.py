"""Drop the nodes of a finished graph that compute nothing: an output's ``Identity``.

onnxruntime pays a fixed cost per node, and more when a server's own work has pushed
its kernels out of the CPU's caches between two requests (a one-row request's graph
ran 1.6 to 2.5 times slower so, in a measurement of this project). Each graph output
was an ``Identity`` of the tensor that holds it; the producing node can name its output
so instead. Nothing computed changes: a tensor gets another name.
"""

from __future__ import annotations

from collections.abc import Iterable

from featurekit.onnx.graph import Graph

__all__ = ["drop_output_identities"]


def drop_output_identities(g: Graph, keep: Iterable[str] = ()) -> int:
    """Let the node that makes an output's tensor name it; return the nodes dropped.

    An ``Identity`` stays where its input is a graph input, an initializer, another
    output or a tensor in `keep` (names the exporter refers to by name, such as the
    features), or where two outputs read the same tensor.

    Examples
    --------
    >>> import numpy as np
    >>> g = Graph()
    >>> x = g.add_input("x", "double", ["N", 1])
    >>> y = g.op("Add", [x, g.const(np.float64(1.0))], "y")
    >>> g.nodes.append(__import__("onnx").helper.make_node("Identity", [y], ["out"]))
    >>> g.add_output("out", "double", ["N", 1])
    >>> drop_output_identities(g), [(n.op_type, list(n.output)) for n in g.nodes]
    (1, [('Add', ['out'])])
    """
    outputs = {o.name for o in g.outputs}
    fixed = (
        outputs
        | {i.name for i in g.inputs}
        | {t.name for t in g.initializers}
        | set(keep)
    )
    made = {o: n for n in g.nodes for o in n.output}
    read: dict[str, int] = {}
    for n in g.nodes:
        if n.op_type == "Identity" and n.output and n.output[0] in outputs:
            read[n.input[0]] = read.get(n.input[0], 0) + 1
    renamed: dict[str, str] = {}
    dropped = []
    for n in g.nodes:
        if n.op_type != "Identity" or n.domain or n.output[0] not in outputs:
            continue
        src = n.input[0]
        if src in fixed or src not in made or read[src] != 1 or src in renamed:
            continue
        renamed[src] = n.output[0]
        dropped.append(n)
    if not renamed:
        return 0
    gone = {id(n) for n in dropped}
    nodes = []
    for n in g.nodes:
        if id(n) in gone:
            continue
        n.input[:] = [renamed.get(i, i) for i in n.input]
        n.output[:] = [renamed.get(o, o) for o in n.output]
        nodes.append(n)
    g.nodes = nodes
    return len(dropped)
