"""A small builder for ONNX graphs with unique names and typed constants."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["ML", "OPSET", "Graph", "splice"]

#: ai.onnx 21 has string Equal; ai.onnx.ml 5 has the double-precision TreeEnsemble;
#: com.microsoft (built into onnxruntime) has MurmurHash3 and Tokenizer.
#: The ONNX-ML operator domain (TreeEnsemble, LabelEncoder, Imputer...).
ML = "ai.onnx.ml"
OPSET = {"": 21, ML: 5, "com.microsoft": 1}
_ELEM = {
    "double": TensorProto.DOUBLE,
    "float": TensorProto.FLOAT,
    "int64": TensorProto.INT64,
    "string": TensorProto.STRING,
    "bool": TensorProto.BOOL,
}


class Graph:
    """Collects nodes, initializers, inputs and outputs of one ONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._used: set[str] = set()
        #: tensors of interest to the exporter, by role (e.g. "features_exact")
        self.notes: dict[str, str] = {}

    def name(self, hint: str) -> str:
        """A tensor name based on `hint` that is not used yet."""
        base = hint.replace(" ", "_") or "t"
        candidate, i = base, 0
        while candidate in self._used:
            i += 1
            candidate = f"{base}_{i}"
        self._used.add(candidate)
        return candidate

    def add_input(self, name: str, elem: str, shape: list[Any]) -> str:
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, _ELEM[elem], shape))
        return name

    def add_output(self, name: str, elem: str, shape: list[Any]) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, _ELEM[elem], shape))

    def const(self, value: Any, hint: str = "c", dtype: Any = None) -> str:
        """Add an initializer; strings become a string tensor."""
        arr = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        if arr.dtype.kind in "OU":
            tensor = helper.make_tensor(
                name,
                TensorProto.STRING,
                arr.shape,
                [str(v).encode() for v in arr.ravel()],  # type: ignore[misc]
            )
        else:
            tensor = numpy_helper.from_array(arr, name)
        self.initializers.append(tensor)
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        hint: str = "",
        *,
        n_out: int = 1,
        domain: str = "",
        **attrs: Any,
    ) -> str:
        """Add a node and return its (first) output name."""
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(
            helper.make_node(
                op_type,
                inputs,
                outs,
                name=self.name("n_" + op_type),
                domain=domain,
                **attrs,
            )
        )
        return outs[0]

    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "featurekit", self.inputs, self.outputs, self.initializers
        )
        opsets = [helper.make_opsetid(d, v) for d, v in OPSET.items()]
        model = helper.make_model(
            graph, opset_imports=opsets, producer_name="featurekit"
        )
        model.ir_version = 10
        model.doc_string = doc
        return model


def splice(
    g: Graph, sub: onnx.ModelProto, feeds: dict[str, str], prefix: str
) -> list[str]:
    """Copy `sub`'s nodes and initializers into `g`; return its outputs' new names.

    `feeds` maps the sub-graph's input names to tensors of `g`.
    """
    for imp in sub.opset_import:
        if imp.domain not in OPSET:
            from featurekit.errors import ExportError

            raise ExportError(
                f"{prefix}: the conversion uses the operator domain {imp.domain!r}, "
                "which onnxruntime alone may not run; it is not supported."
            )
    rename = dict(feeds)
    base = g.name(prefix) + "/"

    def new(name: str) -> str:
        if not name:
            return name
        if name not in rename:
            rename[name] = g.name(base + name)
        return rename[name]

    for init in sub.graph.initializer:
        t = onnx.TensorProto()
        t.CopyFrom(init)
        t.name = new(init.name)
        g.initializers.append(t)
    for node in sub.graph.node:
        n = onnx.NodeProto()
        n.CopyFrom(node)
        n.name = g.name(base + (node.name or node.op_type))
        del n.input[:]
        n.input.extend(new(i) for i in node.input)
        del n.output[:]
        n.output.extend(new(o) for o in node.output)
        g.nodes.append(n)
    return [rename[o.name] for o in sub.graph.output]


def row_sum(g: Graph, x: str, k: int, hint: str = "row_sum") -> str:
    """Each row's sum of the (N, k) double tensor `x`, (N, 1), added left to right.

    onnxruntime's ``ReduceSum`` adds a row in another order when the batch holds one
    row than when it holds several, so one record's probabilities would depend on its
    neighbours (and dynamic batching would be off for the model). A ``Split`` and
    ``k - 1`` additions give every row the same sum in any batch.

    Examples
    --------
    >>> import numpy as np
    >>> g = Graph()
    >>> x = g.add_input("x", "double", ["N", 3])
    >>> total = row_sum(g, x, 3)
    >>> [n.op_type for n in g.nodes]
    ['Split', 'Add', 'Add']
    """
    if k == 1:
        return x
    g.op("Split", [x], hint + "_part", n_out=k, axis=1, num_outputs=k)
    parts: list[str] = list(g.nodes[-1].output)
    total = parts[0]
    for part in parts[1:]:
        total = g.op("Add", [total, part], hint)
    return total
