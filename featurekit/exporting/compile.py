"""Emit the fitted feature transforms as ONNX nodes that compute exactly what sklearn does.

Every numeric step runs in double precision with the same operation scikit-learn uses
(``(x - mean) / scale``, not a multiplication by ``1 / scale``), so the features
tensor is bit-for-bit the matrix scikit-learn hands to the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from featurekit.contract.columns import Columns
from featurekit.declare.computed import Custom
from featurekit.errors import ExportError
from featurekit.onnx.graph import Graph
from featurekit.transforms.basic import OTHER, CategoryFolder, Clip, Log1p

__all__ = ["emit_features"]

ML = "ai.onnx.ml"


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
            transformer.steps
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
        # fk.Custom's inputs are all numbers or all strings (the FeatureSet checks)
        custom = (
            columns.onnx_type(columns.features[cols[0]]) == "string"
            if isinstance(columns.features[name], Custom)
            else None
        )
        for step_name, step in steps[:cut]:
            x = _emit_step(g, x, col, step_name, step, custom)
        if cut < len(steps):
            pushed[width] = Pipeline(steps[cut:])
        exact.append(x)
        if cut == len(steps) and tree == "float32":
            # scikit-learn's trees compare float32(x) with float64 thresholds
            x = g.op(
                "Cast", [g.op("Cast", [x], f"{col}_f32", to=1)], f"{col}_tree", to=11
            )
        parts.append(x)
        width += n_out
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


def _emit_step(
    g: Graph,
    x: str,
    col: str,
    step_name: str,
    step: Any,
    custom: bool | None = None,
) -> str:
    where = f"{col}.{step_name}" if step_name else col
    if custom is not None:  # fk.Custom: always skl2onnx, whatever the class; certified
        from featurekit.transforms.custom import emit_custom

        return emit_custom(g, x, step, where, strings=custom)
    if step == "passthrough" or (
        isinstance(step, FunctionTransformer)
        and step.func is None
        and step.inverse_func is None
    ):  # ColumnTransformer stores "passthrough" as an identity FunctionTransformer
        return x
    if isinstance(step, SimpleImputer):
        fill = step.statistics_[0]
        if step.add_indicator:
            raise ExportError(
                f"{where}: SimpleImputer(add_indicator=True) is not supported."
            )
        if isinstance(fill, str):
            missing = g.op(
                "Equal", [x, g.const([str(step.missing_values)], f"{col}_missing")]
            )
            return g.op(
                "Where", [missing, g.const([fill], f"{col}_fill"), x], f"{col}_imputed"
            )
        if fill != fill:
            raise ExportError(
                f"{where}: every training value of {col!r} was missing, so there is "
                "nothing to impute with; drop the column or give impute a constant."
            )
        isnan = g.op("IsNaN", [x])
        return g.op(
            "Where", [isnan, g.const([float(fill)], f"{col}_fill"), x], f"{col}_imputed"
        )
    if isinstance(step, Clip):
        if step.lo is not None:
            x = g.op(
                "Max", [x, g.const([float(step.lo)], f"{col}_lo")], f"{col}_clipped"
            )
        if step.hi is not None:
            x = g.op(
                "Min", [x, g.const([float(step.hi)], f"{col}_hi")], f"{col}_clipped"
            )
        return x
    if isinstance(step, Log1p):
        from featurekit.expr.emitter import emit_log

        # featurekit's exact log, not onnxruntime's Log: that one rounds some values
        # differently by their place in the batch (see featurekit.expr.tree)
        return emit_log(g, g.op("Add", [g.const([[1.0]], "one"), x], f"{col}_1p"))
    if isinstance(step, StandardScaler):
        if step.with_mean:
            x = g.op("Sub", [x, g.const(step.mean_, f"{col}_mean")])
        if step.with_std:
            x = g.op("Div", [x, g.const(step.scale_, f"{col}_scale")], f"{col}_scaled")
        return x
    if isinstance(step, RobustScaler):
        if step.with_centering:
            x = g.op("Sub", [x, g.const(step.center_, f"{col}_center")])
        if step.with_scaling:
            x = g.op("Div", [x, g.const(step.scale_, f"{col}_scale")], f"{col}_scaled")
        return x
    if isinstance(step, MinMaxScaler):
        x = g.op("Mul", [x, g.const(step.scale_, f"{col}_scale")])
        x = g.op("Add", [x, g.const(step.min_, f"{col}_min")], f"{col}_scaled")
        if step.clip:
            lo, hi = step.feature_range
            x = g.op(
                "Min", [g.op("Max", [x, g.const([float(lo)])]), g.const([float(hi)])]
            )
        return x
    if isinstance(step, CategoryFolder):
        kept = [str(c) for c in step.categories_[0]]
        if step.fold_unseen:
            members, when_in, when_out = kept, x, g.const([OTHER], "other")
        else:
            members = [str(c) for c in step.infrequent_categories_[0]]
            when_in, when_out = g.const([OTHER], "other"), x
        if not members:
            return x if not step.fold_unseen else g.op("Identity", [when_out])
        hit = _isin(g, x, members, col)
        return g.op("Where", [hit, when_in, when_out], f"{col}_folded")
    if isinstance(step, OneHotEncoder):
        if step.drop is not None or (
            getattr(step, "infrequent_categories_", None) is not None
            and any(c is not None for c in step.infrequent_categories_)
        ):
            raise ExportError(
                f"{where}: OneHotEncoder with drop or infrequent categories is not supported."
            )
        cats = g.const(
            np.array([[str(c) for c in step.categories_[0]]], dtype=object),
            f"{col}_categories",
        )
        hot = g.op("Equal", [x, cats])
        return g.op("Cast", [hot], f"{col}_onehot", to=11)
    if isinstance(step, OrdinalEncoder):
        labels = [str(c) for c in step.categories_[0]]
        unknown = step.unknown_value if step.unknown_value is not None else -1
        codes = g.op(
            "LabelEncoder",
            [x],
            f"{col}_codes",
            domain=ML,
            keys_strings=labels,
            values_int64s=list(range(len(labels))),
            default_int64=int(unknown),
        )
        return g.op("Cast", [codes], f"{col}_ordinal", to=11)
    kind = type(step).__name__
    if kind == "Bucketizer":
        from featurekit.transforms.encoders import emit_bucketizer

        return emit_bucketizer(g, x, step, where)
    if kind == "HashEncoder":
        from featurekit.transforms.encoders import emit_hash_encoder

        return emit_hash_encoder(g, x, step, where)
    if kind == "TargetEncoder":
        from featurekit.transforms.encoders import emit_target_encoder

        return emit_target_encoder(g, x, step, where)
    if kind == "TextTfidf":
        from featurekit.transforms.text import emit_text

        return emit_text(g, x, step, where)
    raise ExportError(
        f"{where}: featurekit cannot export {type(step).__name__} yet; "
        "declare the transform with fk.Numeric / fk.Categorical options instead."
    )


def _isin(g: Graph, x: str, members: list[str], col: str) -> str:
    hit = g.op(
        "LabelEncoder",
        [x],
        f"{col}_member",
        domain=ML,
        keys_strings=members,
        values_int64s=[1] * len(members),
        default_int64=0,
    )
    return g.op("Cast", [hit], to=9)
