"""ONNX emitters for scikit-learn's own transformers, in scikit-learn's own arithmetic.

Every numeric step runs in double precision with the operation scikit-learn uses
(``(x - mean) / scale``, not a multiplication by ``1 / scale``), so the features tensor
is bit for bit the matrix scikit-learn hands to the model.
"""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from featurekit.errors import ExportError
from featurekit.onnx.graph import ML, Graph
from featurekit.transforms.registry import emits, hint

__all__: list[str] = []  # importing the module registers the emitters


@emits(SimpleImputer)
def emit_simple_imputer(g: Graph, x: str, step: SimpleImputer, where: str) -> str:
    col = hint(where)
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


@emits(StandardScaler)
def emit_standard_scaler(g: Graph, x: str, step: StandardScaler, where: str) -> str:
    col = hint(where)
    if step.with_mean:
        x = g.op("Sub", [x, g.const(step.mean_, f"{col}_mean")])
    if step.with_std:
        x = g.op("Div", [x, g.const(step.scale_, f"{col}_scale")], f"{col}_scaled")
    return x


@emits(RobustScaler)
def emit_robust_scaler(g: Graph, x: str, step: RobustScaler, where: str) -> str:
    col = hint(where)
    if step.with_centering:
        x = g.op("Sub", [x, g.const(step.center_, f"{col}_center")])
    if step.with_scaling:
        x = g.op("Div", [x, g.const(step.scale_, f"{col}_scale")], f"{col}_scaled")
    return x


@emits(MinMaxScaler)
def emit_minmax_scaler(g: Graph, x: str, step: MinMaxScaler, where: str) -> str:
    col = hint(where)
    x = g.op("Mul", [x, g.const(step.scale_, f"{col}_scale")])
    x = g.op("Add", [x, g.const(step.min_, f"{col}_min")], f"{col}_scaled")
    if step.clip:
        lo, hi = step.feature_range
        x = g.op(
            "Min", [g.op("Max", [x, g.const([float(lo)])]), g.const([float(hi)])]
        )
    return x


@emits(OneHotEncoder)
def emit_onehot_encoder(g: Graph, x: str, step: OneHotEncoder, where: str) -> str:
    col = hint(where)
    if step.drop is not None or (
        getattr(step, "infrequent_categories_", None) is not None
        and any(c is not None for c in step.infrequent_categories_)
    ):
        raise ExportError(
            f"{where}: OneHotEncoder with drop or infrequent categories is not supported."
        )
    labels = [str(c) for c in step.categories_[0]]
    if len(set(labels)) < len(labels):  # two categories print alike: both light up
        cats = g.const(np.array([labels], dtype=object), f"{col}_categories")
        return g.op("Cast", [g.op("Equal", [x, cats])], f"{col}_onehot", to=11)
    # a hash lookup per row, then integer compares: comparing every row's string
    # with every category costs N x K string compares (most of a large batch's time)
    codes = g.op(
        "LabelEncoder",
        [x],
        f"{col}_codes",
        domain=ML,
        keys_strings=labels,
        values_int64s=list(range(len(labels))),
        default_int64=-1,
    )
    ids = g.const(np.arange(len(labels), dtype=np.int64)[None, :], f"{col}_ids")
    return g.op("Cast", [g.op("Equal", [codes, ids])], f"{col}_onehot", to=11)


@emits(OrdinalEncoder)
def emit_ordinal_encoder(g: Graph, x: str, step: OrdinalEncoder, where: str) -> str:
    col = hint(where)
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
