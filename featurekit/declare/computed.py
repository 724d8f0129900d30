"""Computed features: `Derived`, `Bucketized` and `Custom`.

`Derived`, `Bucketized` and `Custom` compute a model feature from raw columns; the
columns they read become inputs of the FeatureSet (implicitly, when not declared), and
the contract and the drift profile cover those raw inputs only. `Derived` and
`Bucketized` read raw values (an expression decides what missing means); `Custom`
reads each column after its declared ``impute`` and ``clip``.

Light core, like `featurekit.declare.columns`: no scikit-learn at import time.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from featurekit.declare.base import (
    Bound,
    Encode,
    Scale,
    Transform,
    Unknown,
    _check_name,
    _choice,
    _column_list,
    _Feature,
    _interval,
)
from featurekit.declare.columns import Categorical, Numeric
from featurekit.errors import SpecError
from featurekit.expr.tree import Expr, col

__all__ = ["Bucketized", "Custom", "Derived"]


def _expression(owner: str, value: Any) -> Expr:
    """An expression from an Expr, its JSON tree, or its source text (parsed, never run)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, Mapping):
        return Expr.from_dict(value)
    if isinstance(value, str):
        from featurekit.expr.parse import parse

        try:
            return parse(value)
        except SpecError as exc:
            raise SpecError(f"{owner}: {exc}") from None
    raise SpecError(
        f"{owner}: expected an expression built from fk.col(...), got {value!r}."
    )


def _expression_data(expr: Expr) -> Any:
    """What JSON and YAML hold: the source text when it reads back the same, else the tree."""
    from featurekit.expr.parse import parse

    text = repr(expr)
    try:
        if parse(text).equals(expr):
            return text
    except SpecError:
        pass
    return expr.to_dict()


class _ByValue:
    """Equality by the JSON form: expressions overload ``==`` to build conditions."""

    def __eq__(self, other: object) -> bool:
        mine, theirs = self.to_dict(), other.to_dict()  # type: ignore[attr-defined]
        return type(other) is type(self) and bool(mine == theirs)

    def __hash__(self) -> int:
        import json

        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Derived(_ByValue, _Feature):
    """A feature computed from raw columns by an expression, in training and in the graph.

    Numeric expressions take the `Numeric` transforms (``impute``, ``clip``,
    ``log1p``, ``transform``, ``scale``); categorical ones (equality is a condition, a number;
    ``fk.cross`` and ``fk.where`` over categories give categories) take the
    `Categorical` encodings (``impute``, ``encode``, ``unknown``, ``n_buckets``,
    ``min_frequency``, ``max_categories``).

    Parameters
    ----------
    name : str
        The feature's name; it must differ from every raw column.
    expression : Expr
        Built from ``fk.col``; see `featurekit.expr.tree` for the operators and the rules
        for division by zero, logs of negatives and overflow (the value is missing).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Derived("debt_ratio", fk.col("debt") / fk.col("income"), impute="median")
    Derived('debt_ratio', fk.col('debt') / fk.col('income'), impute='median')
    """

    kind: ClassVar[str] = "derived"
    name: str
    expression: Expr
    impute: str | float | None = None
    scale: Scale | None = None
    clip: Bound | None = None
    log1p: bool = False
    encode: Encode = "onehot"
    unknown: Unknown = "ignore"
    n_buckets: int | None = None
    min_frequency: int | float | None = None
    max_categories: int | None = None
    transform: Transform | None = None
    n_quantiles: int | None = None

    input_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_name("Derived", self.name)
        owner = f"Derived({self.name!r})"
        expr = _expression(owner, self.expression)
        object.__setattr__(self, "expression", expr)
        if expr.op == "col":
            raise SpecError(
                f"{owner}: the expression is the bare column {expr!r}; declare the "
                "column itself (fk.Numeric / fk.Categorical) instead."
            )
        if expr.kind == "datetime":
            raise SpecError(
                f"{owner}: the expression is a date-time; models take numbers. Derive a "
                "part (.dt.year, .dt.day_of_week, ...) or fk.days_between(a, b)."
            )
        object.__setattr__(self, "clip", _interval(owner, "clip", self.clip))
        if self.is_categorical:
            numeric_opts = {
                "scale": None,
                "clip": None,
                "log1p": False,
                "transform": None,
                "n_quantiles": None,
            }
            used = [k for k, v in numeric_opts.items() if getattr(self, k) != v]
            if used:
                raise SpecError(
                    f"{owner}: {used} apply to numbers, but the expression gives "
                    "categories; use encode/impute/unknown."
                )
            if self.unknown == "error":
                raise SpecError(
                    f"{owner}: unknown='error' cannot hold for a computed category: the "
                    "contract checks raw inputs only. Use unknown='ignore' (all zeros) "
                    "or 'other'."
                )
        else:
            cat_opts = {
                "encode": "onehot",
                "unknown": "ignore",
                "n_buckets": None,
                "min_frequency": None,
                "max_categories": None,
            }
            used = [k for k, v in cat_opts.items() if getattr(self, k) != v]
            if used:
                raise SpecError(
                    f"{owner}: {used} apply to categories, but the expression gives "
                    "numbers; use impute/clip/log1p/transform/scale."
                )
        self.as_feature()  # validates the transform options with the column rules

    @property
    def is_categorical(self) -> bool:
        return self.expression.kind == "category"

    def as_feature(self) -> Numeric | Categorical:
        """The plain declaration whose transforms this feature takes."""
        try:
            if self.is_categorical:
                if self.impute is not None and not isinstance(self.impute, str):
                    raise SpecError(
                        f"Derived({self.name!r}): impute for categories is "
                        f"'most_frequent' or a string, got {self.impute!r}."
                    )
                return Categorical(
                    self.name,
                    impute=self.impute,
                    encode=self.encode,
                    # hashing and target encoding take any value by construction
                    unknown="error"
                    if self.encode in ("hash", "target")
                    else self.unknown,
                    min_frequency=self.min_frequency,
                    max_categories=self.max_categories,
                    n_buckets=self.n_buckets,
                    nullable=True,
                )
            return Numeric(
                self.name,
                impute=self.impute,  # type: ignore[arg-type]  # checked when built
                scale=self.scale,
                clip=self.clip,
                log1p=self.log1p,
                transform=self.transform,
                n_quantiles=self.n_quantiles,
                nullable=True,
                allow_inf=False,
            )
        except SpecError as exc:
            raise SpecError(
                str(exc)
                .replace("Numeric(", "Derived(")
                .replace("Categorical(", "Derived(")
            ) from None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["expression"] = _expression_data(self.expression)
        return out

    def __repr__(self) -> str:
        args = [repr(self.name), repr(self.expression)]
        for key, value in super().to_dict().items():
            if key not in ("kind", "name", "expression"):
                args.append(f"{key}={value!r}")
        return f"Derived({', '.join(args)})"


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Bucketized(_ByValue, _Feature):
    """A number cut into bins: by quantiles, a uniform grid or explicit edges.

    A value exactly on an edge goes to the bin above it, in both runtimes; missing
    values get a bin of their own, and ±inf the outermost bins.

    Parameters
    ----------
    name : str
        The feature's name.
    source : str or Expr
        The raw numeric column, or a numeric expression, to cut.
    bins : int
        The number of bins for "quantile" and "uniform" (duplicate quantile edges
        merge, so skewed data may get fewer).
    strategy : {"quantile", "uniform"}
        Where the edges go when ``edges`` is not given.
    edges : list of float, optional
        Explicit interior edges, increasing.
    encode : {"onehot", "ordinal"}
        One column per bin (plus the missing bin), or the bin number.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Bucketized("age_band", "age", edges=[18, 30, 45, 65])
    Bucketized('age_band', fk.col('age'), edges=[18, 30, 45, 65])
    """

    kind: ClassVar[str] = "bucketized"
    name: str
    source: Expr | str
    bins: int = 5
    strategy: Literal["quantile", "uniform"] = "quantile"
    edges: tuple[float, ...] | None = None
    encode: Literal["onehot", "ordinal"] = "onehot"

    input_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_name("Bucketized", self.name)
        owner = f"Bucketized({self.name!r})"
        # a string is a column name, or source text when it calls col(...)
        source = (
            col(self.source)
            if isinstance(self.source, str) and "col(" not in self.source
            else _expression(owner, self.source)
        )
        if source.kind not in ("number", "condition", "any"):
            raise SpecError(
                f"{owner}: the source must be a number, but {source!r} is a "
                f"{source.kind}."
            )
        object.__setattr__(self, "source", source)
        b = self.bins
        if isinstance(b, bool) or not isinstance(b, int) or b < 2:
            raise SpecError(f"{owner}: bins must be an int >= 2, got {b!r}.")
        _choice(owner, "strategy", self.strategy, ("quantile", "uniform"))
        _choice(owner, "encode", self.encode, ("onehot", "ordinal"))
        if self.edges is not None:
            e = self.edges
            if isinstance(e, str) or not isinstance(e, Sequence) or not e:
                raise SpecError(
                    f"{owner}: edges must be a non-empty list of numbers, got {e!r}."
                )
            for v in e:
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not math.isfinite(v)
                ):
                    raise SpecError(
                        f"{owner}: edges must be finite numbers, got {v!r}."
                    )
            if any(a >= b for a, b in itertools.pairwise(e)):
                raise SpecError(
                    f"{owner}: edges must increase strictly, got {list(e)!r}."
                )
            object.__setattr__(self, "edges", tuple(e))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        src = self.source
        assert isinstance(src, Expr)
        out["source"] = src.params[0] if src.op == "col" else _expression_data(src)
        if self.edges is not None:
            out.pop("bins", None)
            out.pop("strategy", None)
        return out

    def __repr__(self) -> str:
        args = [repr(self.name), repr(self.source)]
        for key, value in self.to_dict().items():
            if key not in ("kind", "name", "source"):
                args.append(f"{key}={value!r}")
        return f"Bucketized({', '.join(args)})"


def _transformer_spec(owner: str, transformer: Any) -> dict[str, Any]:
    """A JSON form of a scikit-learn transformer: its class path and plain parameters."""
    if isinstance(transformer, Mapping):
        if set(transformer) != {"class", "params"} or not isinstance(
            transformer["class"], str
        ):
            raise SpecError(
                f"{owner}: a serialised transformer is {{'class': ..., 'params': ...}}, "
                f"got {dict(transformer)!r}."
            )
        return dict(transformer)
    if isinstance(transformer, type) or not hasattr(transformer, "get_params"):
        raise SpecError(
            f"{owner}: expected a scikit-learn transformer instance, got {transformer!r}."
        )
    import json

    params = transformer.get_params(deep=False)
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError):
        params = None  # kept in memory only; features.json records the repr
    cls = type(transformer)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": params}


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Custom(_ByValue, _Feature):
    """An escape hatch: any scikit-learn transformer over declared columns.

    It reads each input after that column's declared ``impute`` and ``clip`` (as the
    column's own feature does; ``log1p``, ``transform`` and ``scale`` are the
    feature's, not the input's). A numeric input that accepts missing values needs an
    imputer, unless the transformer is itself an imputer.

    It is exported with featurekit's exact emitter where there is one
    (``QuantileTransformer`` with a uniform output, ``SplineTransformer``,
    ``PolynomialFeatures``, the scalers), otherwise through skl2onnx, step by step
    inside a ``Pipeline``; the parity certificate decides whether it may ship: a
    transformer that cannot be converted, or whose conversion does not match
    scikit-learn, is refused at export.

    Parameters
    ----------
    name : str
        The feature block's name.
    transformer : estimator
        An unfitted scikit-learn transformer (it is cloned when the pipeline is built).
    inputs : list of str
        The columns it reads, all numeric or all categorical.

    Examples
    --------
    >>> import featurekit as fk
    >>> from sklearn.preprocessing import PolynomialFeatures
    >>> fk.Custom("poly", PolynomialFeatures(2), inputs=["a", "b"])
    Custom('poly', PolynomialFeatures(), inputs=['a', 'b'])
    """

    kind: ClassVar[str] = "custom"
    name: str
    transformer: Any
    inputs: tuple[str, ...] = ()

    input_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_name("Custom", self.name)
        owner = f"Custom({self.name!r})"
        object.__setattr__(self, "inputs", _column_list(owner, self.inputs))
        _transformer_spec(owner, self.transformer)

    @property
    def spec(self) -> dict[str, Any]:
        return _transformer_spec(f"Custom({self.name!r})", self.transformer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "transformer": self.spec,
            "inputs": list(self.inputs),
        }

    def __repr__(self) -> str:
        t = self.transformer
        shown = (
            f"{t['class'].rpartition('.')[2]}(**{t['params']!r})"
            if isinstance(t, Mapping)
            else repr(t)
        )
        return f"Custom({self.name!r}, {shown}, inputs={list(self.inputs)!r})"
