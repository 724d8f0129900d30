"""Declare features once: `Numeric`, `Categorical` and the `FeatureSet` that holds them.

Declarations are plain, immutable data. They validate themselves when they are created,
so a mistake surfaces where it was written, and they round-trip through JSON and YAML.
This module is part of the light core: serving imports it, so it must not import
scikit-learn.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from featurekit.errors import SpecError

__all__ = ["Categorical", "Feature", "FeatureSet", "Numeric"]

Bound = tuple[float | None, float | None]
_SCALES = ("standard", "minmax", "robust")
_NUM_IMPUTES = ("mean", "median")
_ENCODES = ("onehot", "ordinal", "hash", "target")
_UNKNOWNS = ("error", "ignore", "other")


def _choice(owner: str, option: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise SpecError(
            f"{owner}: {option}={value!r} is not supported; "
            f"use one of {', '.join(repr(a) for a in allowed)}."
        )


def _finite_or_none(owner: str, option: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(
            f"{owner}: {option} ends must be numbers or None, got {value!r}."
        )
    if math.isnan(value):
        raise SpecError(f"{owner}: {option} ends must not be NaN; use None for open.")
    return float(value) if isinstance(value, float) else value


def _interval(owner: str, option: str, value: Any) -> Bound | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise SpecError(
            f"{owner}: {option} must be a pair (lo, hi) with None for an open end, "
            f"got {value!r}."
        )
    lo = _finite_or_none(owner, option, value[0])
    hi = _finite_or_none(owner, option, value[1])
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"{owner}: {option}=({lo!r}, {hi!r}) has lo > hi; swap them.")
    if lo is None and hi is None:
        raise SpecError(f"{owner}: {option}=(None, None) does nothing; drop it.")
    return (lo, hi)


def _check_flag(owner: str, option: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SpecError(f"{owner}: {option} must be True or False, got {value!r}.")


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"{kind} needs a non-empty column name, got {name!r}.")


class _Feature:
    """Shared behaviour of the feature declarations."""

    kind: ClassVar[str]
    name: str

    def to_dict(self) -> dict[str, Any]:
        """Return the declaration as plain JSON-able data, defaults omitted."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if field.name == "name":
                continue
            # a field without a default (an expression) is always written; compare
            # the others only, since expressions overload ``!=``
            if field.default is dataclasses.MISSING or value != field.default:
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    def __repr__(self) -> str:
        args = [repr(self.name)]
        for key, value in self.to_dict().items():
            if key not in ("kind", "name"):
                args.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"


@dataclasses.dataclass(frozen=True, repr=False)
class Numeric(_Feature):
    """A numeric input column and the transforms fitted on it.

    The transforms run in this order: ``impute``, ``clip``, ``log1p``, ``scale``.

    Parameters
    ----------
    name : str
        The raw input column.
    dtype : {"float", "int"}
        What the contract accepts. Integers are always accepted for a float column.
    impute : {None, "mean", "median"} or number
        How missing values are filled. With an imputer the column is nullable.
    scale : {None, "standard", "minmax", "robust"}
        Scaling fitted on the training data.
    clip : (lo, hi), optional
        Clip values into this range before scaling; either end may be None.
    log1p : bool
        Apply ``log(1 + x)`` after clipping. Values must stay above -1, so declare
        a lower ``clip`` or ``bounds`` above -1.
    bounds : (lo, hi), optional
        Hard contract bounds: a value outside them is rejected at serving time.
    nullable : bool, optional
        Whether missing values are accepted. Defaults to True exactly when
        ``impute`` is set.
    allow_inf : bool
        Accept ±inf. Rejected by default.
    observed_range : {"count", "error"}
        What the contract does with a value outside the range seen in the reference
        data (widened by 10 % of its span on each side): accept and count it
        (default), or reject it like a hard bound.
    input_only : bool
        The column is read and checked, but only derived features use it; the model
        does not see it itself.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Numeric("income", impute="median", scale="standard", clip=(0, None))
    Numeric('income', impute='median', scale='standard', clip=[0, None])
    """

    kind: ClassVar[str] = "numeric"
    name: str
    dtype: Literal["float", "int"] = "float"
    impute: str | float | None = None
    scale: str | None = None
    clip: Bound | None = None
    log1p: bool = False
    bounds: Bound | None = None
    nullable: bool | None = None
    allow_inf: bool = False
    observed_range: str = "count"
    input_only: bool = False

    def __post_init__(self) -> None:
        _check_name("Numeric", self.name)
        owner = f"Numeric({self.name!r})"
        _choice(owner, "dtype", self.dtype, ("float", "int"))
        if isinstance(self.impute, str):
            _choice(owner, "impute", self.impute, _NUM_IMPUTES)
        elif self.impute is not None:
            value = _finite_or_none(owner, "impute", self.impute)
            if value is None or math.isinf(value):
                raise SpecError(f"{owner}: impute={self.impute!r} must be finite.")
        _choice(owner, "scale", self.scale, (None, *_SCALES))
        object.__setattr__(self, "clip", _interval(owner, "clip", self.clip))
        object.__setattr__(self, "bounds", _interval(owner, "bounds", self.bounds))
        if not isinstance(self.log1p, bool):
            raise SpecError(
                f"{owner}: log1p must be True or False, got {self.log1p!r}."
            )
        if self.nullable is not None and not isinstance(self.nullable, bool):
            raise SpecError(f"{owner}: nullable must be a bool, got {self.nullable!r}.")
        if not isinstance(self.allow_inf, bool):
            raise SpecError(
                f"{owner}: allow_inf must be a bool, got {self.allow_inf!r}."
            )
        _choice(owner, "observed_range", self.observed_range, ("count", "error"))
        _check_flag(owner, "input_only", self.input_only)
        if self.input_only and (self.impute, self.scale, self.clip, self.log1p) != (
            None,
            None,
            None,
            False,
        ):
            raise SpecError(
                f"{owner}: input_only=True means the model never sees this column, so "
                "impute, scale, clip and log1p would do nothing; move them to the "
                "fk.Derived feature that uses it."
            )
        if self.allow_inf and self.dtype == "int":
            raise SpecError(
                f"{owner}: allow_inf=True contradicts dtype='int'; integers have no "
                "infinity. Use dtype='float' or drop allow_inf."
            )
        if self.log1p and self.lower_domain() is None:
            raise SpecError(
                f"{owner}: log1p needs values above -1, but nothing keeps them there; "
                "add clip=(0, None) or bounds=(0, None)."
            )
        if self.bounds and self.clip:
            lo, hi = self.bounds
            clo, chi = self.clip
            if (lo is not None and chi is not None and chi < lo) or (
                hi is not None and clo is not None and clo > hi
            ):
                raise SpecError(
                    f"{owner}: clip={list(self.clip)!r} lies outside "
                    f"bounds={list(self.bounds)!r}; every value would be clipped "
                    "to a constant. Fix one of them."
                )

    @property
    def accepts_missing(self) -> bool:
        """Whether the contract lets a missing value through."""
        return self.impute is not None if self.nullable is None else self.nullable

    def lower_domain(self) -> float | None:
        """The lowest value log1p can see, or None when nothing bounds it above -1."""
        for interval in (self.clip, self.bounds):
            if interval is not None and interval[0] is not None and interval[0] > -1:
                return interval[0]
        return None


@dataclasses.dataclass(frozen=True, repr=False)
class Categorical(_Feature):
    """A string input column, imputed, folded and encoded.

    Parameters
    ----------
    name : str
        The raw input column.
    impute : None, "most_frequent" or str
        How missing values are filled; any other string is a constant.
    encode : {"onehot", "ordinal", "hash", "target"}
        One column per category; one integer code; ``n_buckets`` columns by
        scikit-learn's murmurhash3 feature hashing (any string is accepted, so
        ``unknown`` does not apply); or the target statistics of scikit-learn's
        ``TargetEncoder`` (out-of-fold while fitting, the full fit when predicting).
    n_buckets : int, optional
        With ``encode="hash"``: the number of hash buckets.
    unknown : {"error", "ignore", "other"}
        A category not seen in training is rejected ("error"), encoded as all
        zeros or code -1 ("ignore"), or put in the "other" bucket ("other").
    min_frequency : int or float, optional
        Categories seen fewer times (or less than this fraction) fold into "other".
    max_categories : int, optional
        Keep at most this many categories, counting "other"; the rest fold into it.
    nullable : bool, optional
        Whether missing values are accepted. Defaults to True exactly when
        ``impute`` is set. Without an imputer, missing becomes its own category.
    input_only : bool
        The column is read and checked, but only derived features use it.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Categorical("channel", impute="missing", unknown="other")
    Categorical('channel', impute='missing', unknown='other')
    """

    kind: ClassVar[str] = "categorical"
    name: str
    impute: str | None = None
    encode: str = "onehot"
    unknown: str = "error"
    min_frequency: int | float | None = None
    max_categories: int | None = None
    nullable: bool | None = None
    n_buckets: int | None = None
    input_only: bool = False

    def __post_init__(self) -> None:
        _check_name("Categorical", self.name)
        owner = f"Categorical({self.name!r})"
        if self.impute is not None and not isinstance(self.impute, str):
            raise SpecError(
                f"{owner}: impute must be 'most_frequent' or a constant string such as "
                f"'missing', got {self.impute!r}."
            )
        if self.impute == "":
            raise SpecError(
                f"{owner}: impute='' is ambiguous; use a word like 'missing'."
            )
        _choice(owner, "encode", self.encode, _ENCODES)
        _choice(owner, "unknown", self.unknown, _UNKNOWNS)
        mf = self.min_frequency
        if mf is not None:
            ok_int = isinstance(mf, int) and not isinstance(mf, bool) and mf >= 1
            ok_float = isinstance(mf, float) and 0.0 < mf < 1.0
            if not (ok_int or ok_float):
                raise SpecError(
                    f"{owner}: min_frequency={mf!r} must be a count >= 1 or a "
                    "fraction in (0, 1)."
                )
        mc = self.max_categories
        if mc is not None and (
            isinstance(mc, bool) or not isinstance(mc, int) or mc < 2
        ):
            raise SpecError(
                f"{owner}: max_categories={mc!r} must be an int >= 2 "
                "(one slot is the 'other' bucket)."
            )
        if self.nullable is not None and not isinstance(self.nullable, bool):
            raise SpecError(f"{owner}: nullable must be a bool, got {self.nullable!r}.")
        nb = self.n_buckets
        if self.encode == "hash":
            if isinstance(nb, bool) or not isinstance(nb, int) or nb < 2:
                raise SpecError(
                    f"{owner}: encode='hash' needs n_buckets, an int >= 2, got {nb!r}; "
                    "e.g. n_buckets=1024."
                )
            if self.unknown != "error" or self.folds:
                raise SpecError(
                    f"{owner}: encode='hash' takes any string, so unknown, "
                    "min_frequency and max_categories do not apply; drop them."
                )
        elif nb is not None:
            raise SpecError(
                f"{owner}: n_buckets={nb!r} needs encode='hash' (got "
                f"encode={self.encode!r})."
            )
        if self.encode == "target" and self.folds:
            raise SpecError(
                f"{owner}: encode='target' gives unseen categories the target mean; "
                "unknown='other', min_frequency and max_categories do not apply."
            )
        _check_flag(owner, "input_only", self.input_only)
        if self.input_only and (
            self.impute is not None
            or self.encode != "onehot"
            or self.unknown != "error"
            or self.folds
        ):
            raise SpecError(
                f"{owner}: input_only=True means the model never sees this column, so "
                "impute, encode and unknown would do nothing; move them to the "
                "fk.Derived feature that uses it."
            )

    @property
    def accepts_missing(self) -> bool:
        """Whether the contract lets a missing value through."""
        return self.impute is not None if self.nullable is None else self.nullable

    @property
    def checks_categories(self) -> bool:
        """Whether the contract rejects categories not seen in training."""
        return self.unknown == "error" and self.encode != "hash" and not self.input_only

    @property
    def folds(self) -> bool:
        """Whether an "other" bucket exists: rare or unseen categories go there."""
        return (
            self.unknown == "other"
            or self.min_frequency is not None
            or self.max_categories is not None
        )


Feature = Any  # Numeric | Categorical | the kinds in featurekit.declare.computed
RawInput = Any  # Numeric | Categorical | Datetime | Text


def _kinds() -> dict[str, type]:
    from featurekit.declare.computed import Bucketized, Custom, Datetime, Derived, Text

    return {
        "numeric": Numeric,
        "categorical": Categorical,
        "datetime": Datetime,
        "text": Text,
        "derived": Derived,
        "bucketized": Bucketized,
        "custom": Custom,
    }


def _feature_from_dict(data: Mapping[str, Any]) -> Feature:
    if not isinstance(data, Mapping):
        raise SpecError(f"A feature must be a mapping, got {data!r}.")
    data = dict(data)
    kind = data.pop("kind", None)
    kinds = _kinds()
    cls = kinds.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SpecError(
            f"Unknown feature kind {kind!r}; expected one of {sorted(kinds)}."
        )
    known = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(data) - known)
    if extra:
        raise SpecError(
            f"{cls.__name__}({data.get('name')!r}) got unknown options {extra}; "
            f"known options are {sorted(known)}."
        )
    return cls(**data)


_RAW_FOR = {"number": "numeric", "condition": "numeric", "category": "categorical"}


def _resolve_inputs(name: str, feats: tuple[Feature, ...]) -> tuple[RawInput, ...]:
    """The raw input columns: the declared ones and those expressions read."""
    from featurekit.declare.computed import Bucketized, Custom, Datetime, Derived, Text

    raw = {
        f.name: f
        for f in feats
        if isinstance(f, Numeric | Categorical | Datetime | Text)
    }
    computed = {f.name for f in feats if f.name not in raw}
    out: dict[str, RawInput] = {}
    for f in feats:
        if f.name in raw:
            out.setdefault(f.name, f)
            continue
        if isinstance(f, Derived):
            wanted = f.expression.columns()
        elif isinstance(f, Bucketized):
            wanted = f.source.columns()  # type: ignore[union-attr]
        else:
            assert isinstance(f, Custom)
            wanted = {
                c: "category" if isinstance(raw.get(c), Categorical) else "number"
                for c in f.inputs
            }
            kinds = {type(raw[c]).__name__ for c in f.inputs if c in raw}
            if len(set(wanted.values())) > 1 or kinds - {"Numeric", "Categorical"}:
                raise SpecError(
                    f"FeatureSet({name!r}): Custom({f.name!r}) reads {list(f.inputs)!r}, "
                    "which mixes kinds; its inputs must be all numeric or all "
                    "categorical columns (no Datetime or Text)."
                )
        for column, kind in wanted.items():
            if column in computed:
                raise SpecError(
                    f"FeatureSet({name!r}): {type(f).__name__}({f.name!r}) reads "
                    f"{column!r}, which is itself a computed feature; expressions read "
                    "raw columns only, so repeat its expression instead."
                )
            declared = raw.get(column)
            if kind == "any":  # only isnull(): any declared kind will do
                if declared is None:
                    kind = "number"
                else:
                    out.setdefault(column, declared)
                    continue
            if declared is None:
                implicit: RawInput = (
                    Datetime(column)
                    if kind == "datetime"
                    else Categorical(column, input_only=True)
                    if kind == "category"
                    else Numeric(column, input_only=True)
                )
                out.setdefault(column, implicit)
                continue
            # a text column holds strings too: expressions may compare or cross it
            expected: tuple[type, ...] = {
                "number": (Numeric,),
                "condition": (Numeric,),
                "category": (Categorical, Text),
                "datetime": (Datetime,),
            }[kind]
            if not isinstance(declared, expected):
                raise SpecError(
                    f"FeatureSet({name!r}): {type(f).__name__}({f.name!r}) uses "
                    f"{column!r} as a {kind}, but it is declared as "
                    f"{type(declared).__name__}; declare it as "
                    f"{expected[0].__name__} or change the expression."
                )
            out.setdefault(column, declared)
    # declared raw columns nothing reads still come in declaration order
    for f in feats:
        if f.name in raw:
            out.setdefault(f.name, f)
    order = [f.name for f in feats if f.name in raw]
    implicit_names = [c for c in out if c not in raw]
    return tuple(out[c] for c in order) + tuple(out[c] for c in implicit_names)


@dataclasses.dataclass(frozen=True, repr=False)
class FeatureSet:
    """A named, versioned list of feature declarations.

    Parameters
    ----------
    name : str
        Names the artifact, the contract and the served model.
    features : list of declarations
        `Numeric`, `Categorical`, `Datetime` and `Text` declare raw columns;
        `Derived`, `Bucketized` and `Custom` compute model features from raw
        columns. Names must be unique. A column an expression reads without a
        declaration becomes an implicit input (a non-nullable float, a category or a
        date-time, by use): see ``inputs``.
    version : int
        Bump it when the declarations change.
    strict : bool
        Reject requests that carry columns not declared here. By default extra
        columns are ignored and counted.

    Examples
    --------
    >>> import featurekit as fk
    >>> fs = fk.FeatureSet("credit", [fk.Numeric("age"), fk.Categorical("country")])
    >>> fk.FeatureSet.from_json(fs.to_json()) == fs
    True
    >>> fs.columns
    ['age', 'country']
    """

    name: str
    features: tuple[Feature, ...]
    version: int = 1
    strict: bool = False
    inputs: tuple[RawInput, ...] = dataclasses.field(default=(), compare=False)

    def __init__(
        self,
        name: str,
        features: Iterable[Feature],
        version: int = 1,
        *,
        strict: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise SpecError(
                f"FeatureSet needs a non-empty name without '/', got {name!r}."
            )
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SpecError(
                f"FeatureSet({name!r}): version must be an int >= 1, got {version!r}."
            )
        feats = tuple(features)
        if not feats:
            raise SpecError(
                f"FeatureSet({name!r}) has no features; declare at least one."
            )
        kinds = tuple(_kinds().values())
        for f in feats:
            if not isinstance(f, kinds):
                raise SpecError(
                    f"FeatureSet({name!r}): {f!r} is not a feature; use fk.Numeric, "
                    "fk.Categorical, fk.Datetime, fk.Text, fk.Derived, fk.Bucketized "
                    "or fk.Custom."
                )
        seen: set[str] = set()
        dupes = sorted({f.name for f in feats if f.name in seen or seen.add(f.name)})  # type: ignore[func-returns-value]
        if dupes:
            raise SpecError(
                f"FeatureSet({name!r}) declares {dupes} more than once; each column "
                "may be declared once."
            )
        inputs = _resolve_inputs(name, feats)
        if all(getattr(f, "input_only", False) for f in feats):
            raise SpecError(
                f"FeatureSet({name!r}) gives the model nothing: every declaration is "
                "input_only (or a Datetime); add a feature the model sees."
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "inputs", inputs)
        if not isinstance(strict, bool):
            raise SpecError(
                f"FeatureSet({name!r}): strict must be a bool, got {strict!r}."
            )
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "strict", strict)

    def __repr__(self) -> str:
        inner = ", ".join(repr(f) for f in self.features)
        strict = ", strict=True" if self.strict else ""
        return f"FeatureSet({self.name!r}, [{inner}], version={self.version}{strict})"

    @property
    def columns(self) -> list[str]:
        """The raw input columns a request carries: declared first, then implied."""
        return [f.name for f in self.inputs]

    @property
    def model_features(self) -> tuple[Feature, ...]:
        """The declarations the model sees, in declaration order."""
        return tuple(f for f in self.features if not getattr(f, "input_only", False))

    def __getitem__(self, name: str) -> Feature:
        for f in self.inputs:
            if f.name == name:
                return f
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data, the same shape the JSON and YAML forms have."""
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.strict:
            out["strict"] = True
        out["features"] = [f.to_dict() for f in self.features]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        """Build a FeatureSet from `to_dict` output, rejecting unknown keys."""
        if not isinstance(data, Mapping):
            raise SpecError(
                f"A FeatureSet must be a mapping, got {type(data).__name__}."
            )
        extra = sorted(set(data) - {"name", "version", "strict", "features"})
        if extra:
            raise SpecError(
                f"FeatureSet got unknown keys {extra}; expected name, version, strict, "
                "features."
            )
        feats = data.get("features")
        if not isinstance(feats, list):
            raise SpecError("FeatureSet 'features' must be a list of feature mappings.")
        return cls(
            data.get("name"),  # type: ignore[arg-type]
            [_feature_from_dict(f) for f in feats],
            version=data.get("version", 1),
            strict=data.get("strict", False),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> FeatureSet:
        """Parse `to_json` output."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"FeatureSet JSON is malformed: {exc}") from None
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        """Serialise to YAML text (needs PyYAML)."""
        yaml = _yaml()
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, text: str) -> FeatureSet:
        """Parse YAML text such as `to_yaml` writes."""
        yaml = _yaml()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"FeatureSet YAML is malformed: {exc}") from None
        return cls.from_dict(data)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a hard dependency
        raise SpecError("YAML needs PyYAML: pip install pyyaml") from None
    return yaml
