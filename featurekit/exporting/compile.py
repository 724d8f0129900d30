"""Emit the fitted feature transforms as ONNX nodes that compute exactly what sklearn does.

Every numeric step runs in double precision with the same operation scikit-learn uses
(``(x - mean) / scale``, not a multiplication by ``1 / scale``), so the features
tensor is bit-for-bit the matrix scikit-learn hands to the model.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["emit_features"]


def emit_features(
    g: Graph, columns: Columns, ct: ColumnTransformer, *, tree: str | None = None
) -> tuple[str, int, dict[int, Any]]:
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

    Returns
    -------
    tensor : str
        The (N, width) double features tensor.
    width : int
    pushed : dict of int to Pipeline
        Output column index -> the scikit-learn steps left for the tree thresholds.
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
    parts: list[str] = []
    exact: list[str] = []
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
        if cut == len(steps) and tree == "float32":
            # scikit-learn's trees compare float32(x) with float64 thresholds
            x = g.op(
                "Cast", [g.op("Cast", [x], f"{col}_f32", to=1)], f"{col}_tree", to=11
            )
        parts.append(x)
        width += n_out
    if tree is None:
        # the trees' split checks cut one block per column out of the features: only
        # other models get the columns' chains fused (onnxruntime's cost per node)
        kept: list[str] = []
        for part, chain, f in zip(parts, chains, fuse_chains(g, chains), strict=True):
            if chain is None:
                kept.append(part)
            elif f is not None:  # None: fused into the block before it
                kept.append(f)
        parts = kept
    out = (
        g.op("Concat", parts, "features", axis=1)
        if len(parts) > 1
        else g.op("Identity", parts, "features")
    )
    # the float64 features before any float32 rounding: what the certificate compares
    # with scikit-learn's matrix for tree models (not an output of the served graph)
    g.notes["features_exact"] = (
        out
        if tree != "float32"
        else g.op("Concat", exact, "features_exact", axis=1)
        if len(exact) > 1
        else g.op("Identity", exact, "features_exact")
    )
    return out, width, pushed


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
