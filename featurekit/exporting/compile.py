"""Emit the fitted feature transforms as ONNX nodes that compute exactly what sklearn does.

Every numeric step runs in double precision with the same operation scikit-learn uses
(``(x - mean) / scale``, not a multiplication by ``1 / scale``), so the features
tensor is bit-for-bit the matrix scikit-learn hands to the model.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
)

from featurekit.contract.columns import Columns
from featurekit.declare.computed import Custom
from featurekit.errors import ExportError
from featurekit.onnx.fuse import Chain, fuse_chains
from featurekit.onnx.graph import Graph
from featurekit.transforms import (  # noqa: F401  (they register their emitters)
    basic,
    encoders,
    impute,
    polynomial,
    power,
    quantile,
    scikit,
    spline,
    text,
)
from featurekit.transforms.basic import Log1p
from featurekit.transforms.custom import emit_custom
from featurekit.transforms.registry import emitter_for

__all__ = ["Emitted", "emit_features", "features_graph"]


class Emitted(NamedTuple):
    """What `emit_features` built."""

    #: The (N, width) double features tensor the model reads.
    tensor: str
    width: int
    #: Output column index -> the scikit-learn steps left for the tree thresholds.
    pushed: dict[int, Any]
    #: In `checked`: the features with one Concat input per ColumnTransformer block.
    blocks: str
    #: The transforms' graph with `blocks` as its output, each block's chain apart
    #: (`featurekit.exporting.split_features` cuts one column's nodes out of it).
    checked: bytes


def emit_features(
    g: Graph, columns: Columns, ct: ColumnTransformer, *, tree: str | None = None
) -> Emitted:
    """Add one graph input per raw column and the transforms.

    Parameters
    ----------
    tree : {None, "float32", "float64"}
        When a tree model follows: the precision its splits compare in. Each output
        column is then rounded to float32 here when scikit-learn's trees do so, and
        numeric chains stop before ``Log1p``: onnxruntime's vectorised ``Log``
        differs from numpy's in the last bit for some inputs, so those columns reach
        the trees raw and their split thresholds move into raw space instead
        (`featurekit.onnx.trees.raw_thresholds`).

    Runs of single-column chains of the same exact operations are fused into one
    chain over their block (`featurekit.onnx.fuse`): onnxruntime's cost per node is
    most of a one-row call. Before trees whose every block is rounded to float32,
    one ``Cast`` pair rounds the whole matrix.
    """
    from featurekit.declare.computed import Bucketized, Derived

    tensors: dict[str, str] = {}  # column -> [N, 1] tensor: double or string
    for feature in columns.features.inputs:
        elem = columns.onnx_type(feature)
        x = g.add_input(feature.name, elem, ["N", 1])
        if elem == "int64":
            x = g.op("Cast", [x], f"{feature.name}_double", to=11)
        tensors[feature.name] = x
    for feature in columns.features.features:
        if isinstance(feature, Derived | Bucketized):
            from featurekit.expr.emitter import emit_expr

            source = (
                feature.expression if isinstance(feature, Derived) else feature.source
            )
            kinds = {
                f.name: "category" if f.kind == "categorical" else f.kind
                for f in columns.features.inputs
            }
            tensors[feature.name] = emit_expr(g, source, tensors, kinds=kinds)  # type: ignore[arg-type]
    exact: list[str] = []  # each block's float64 tensor
    rounded: list[bool] = []  # whether it is rounded to float32 for the trees
    pushed: dict[int, Any] = {}
    chains: list[Chain | None] = []
    width = 0
    for name, transformer, cols in ct.transformers_:
        if transformer == "drop" or len(cols) == 0:
            continue
        col = cols[0] if len(cols) == 1 else name
        x = (
            tensors[cols[0]]
            if len(cols) == 1
            else g.op("Concat", [tensors[c] for c in cols], f"{name}_inputs", axis=1)
        )
        steps = (
            _custom_steps(transformer)
            if isinstance(columns.features[name], Custom)
            else transformer.steps
            if isinstance(transformer, Pipeline)
            else [("", transformer)]
        )
        block = ct.output_indices_[name]
        n_out = block.stop - block.start
        cut = len(steps)
        if tree is not None:
            cut = next(
                (i for i, (_, s) in enumerate(steps) if isinstance(s, Log1p)), cut
            )
        # fk.Custom's inputs are all numbers or all strings (the FeatureSet checks);
        # its transformer reads them after their declared impute and clip, which
        # featurekit emits itself (pipeline._prepare), as for any other feature
        strings = (
            columns.onnx_type(columns.features[cols[0]]) == "string"
            if isinstance(columns.features[name], Custom)
            else None
        )
        start, x_in = len(g.nodes), x
        for step_name, step in steps[:cut]:
            if strings is not None and step_name in ("", "custom"):
                where = f"{col}.{step_name}" if step_name else col
                x = emit_custom(g, x, step, where, strings=strings, columns=cols)
                continue
            x = _emit_step(g, x, col, step_name, step)
        if cut < len(steps):
            pushed[width] = Pipeline(steps[cut:])
        single = len(cols) == 1 and n_out == 1 and strings is None
        chains.append(Chain(start, len(g.nodes), x_in, x) if single else None)
        exact.append(x)
        # scikit-learn's trees compare float32(x) with float64 thresholds
        rounded.append(cut == len(steps) and tree == "float32")
        width += n_out
    if tree is None:
        parts = [x for x, _ in _fused(g, exact, chains)]
        out = _concat(g, parts, "features")
        g.notes["features_exact"] = out
        return Emitted(out, width, pushed, out, features_graph(g, [out]))
    # the split checks cut one block per column out of these features: they read a
    # graph taken before the chains fuse (fusing changes no bit: `featurekit.onnx.fuse`)
    blocks = _concat(g, exact, "feature_blocks")
    checked = features_graph(g, [blocks])
    g.nodes.pop()  # the graph served reads the fused blocks instead
    if tree != "float32" or all(rounded):
        # the float64 features before any float32 rounding: what the certificate
        # compares with scikit-learn's matrix for tree models (``features_exact``)
        name = "features_exact" if tree == "float32" else "features"
        exact_t = _concat(g, [x for x, _ in _fused(g, exact, chains)], name)
        out = exact_t
        if tree == "float32":  # every block rounded: one Cast pair for all of them
            out = _round(g, exact_t, "features")
    else:  # some blocks reach the trees raw (their thresholds moved): each its own
        ours = [c if r else None for c, r in zip(chains, rounded, strict=True)]
        pieces = [(x, rounded[i]) for x, i in _fused(g, exact, ours)]
        exact_t = _concat(g, [x for x, _ in pieces], "features_exact")
        out = _concat(g, [_round(g, x) if r else x for x, r in pieces], "features")
    g.notes["features_exact"] = exact_t
    return Emitted(out, width, pushed, blocks, checked)


def _fused(
    g: Graph, parts: list[str], chains: list[Chain | None]
) -> list[tuple[str, int]]:
    """`parts` with runs of like single-column chains fused (`fuse_chains`).

    Each tensor left comes with the position of the first block it holds.
    """
    kept: list[tuple[str, int]] = []
    for i, (part, chain, f) in enumerate(
        zip(parts, chains, fuse_chains(g, chains), strict=True)
    ):
        if chain is None:
            kept.append((part, i))
        elif f is not None:  # None: fused into the block before it
            kept.append((f, i))
    return kept


def _round(g: Graph, x: str, name: str = "block_tree") -> str:
    """`x` rounded to float32 and back: what scikit-learn's trees compare."""
    return g.op("Cast", [g.op("Cast", [x], f"{name}_f32", to=1)], name, to=11)


def _concat(g: Graph, parts: list[str], name: str) -> str:
    """The blocks side by side (an Identity of the only one)."""
    if len(parts) > 1:
        return g.op("Concat", parts, name, axis=1)
    return g.op("Identity", parts, name)


def features_graph(g: Graph, tensors: list[str]) -> bytes:
    """The graph built so far (the transforms), with `tensors` as its outputs."""
    import onnx

    proto = g.model()
    del proto.graph.output[:]
    for name in dict.fromkeys(tensors):
        proto.graph.output.append(
            onnx.helper.make_tensor_value_info(
                name, onnx.TensorProto.DOUBLE, ["N", None]
            )
        )
    return bytes(proto.SerializeToString())


def _custom_steps(block: Any) -> list[tuple[str, Any]]:
    """An fk.Custom block's steps: featurekit's imputer, then the custom transformer.

    make_pipeline wraps the transformer as ``Pipeline([("impute", ColumnImputer),
    ("custom", transformer)])`` (the imputer only when an input declares impute or
    clip); a pipeline fitted before that holds the bare transformer, which may be a
    Pipeline of its own: it is the custom step, whole.
    """
    from featurekit.transforms.impute import ColumnImputer

    steps = block.steps if isinstance(block, Pipeline) else []
    names = [name for name, _ in steps]
    if names == ["custom"] or (
        names == ["impute", "custom"] and isinstance(steps[0][1], ColumnImputer)
    ):
        return list(steps)
    return [("", block)]


def _emit_step(g: Graph, x: str, col: str, step_name: str, step: Any) -> str:
    where = f"{col}.{step_name}" if step_name else col
    if step == "passthrough" or (
        isinstance(step, FunctionTransformer)
        and step.func is None
        and step.inverse_func is None
    ):  # ColumnTransformer stores "passthrough" as an identity FunctionTransformer
        return x
    emit = emitter_for(step)
    if emit is not None:
        return emit(g, x, step, where)
    raise ExportError(
        f"{where}: featurekit cannot export {type(step).__name__} yet; "
        "declare the transform with fk.Numeric / fk.Categorical options instead."
    )
