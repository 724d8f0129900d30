"""What every feature declaration shares: option checks and the `_Feature` base.

Light core: serving imports the declarations, so nothing here imports scikit-learn.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, get_args

from featurekit.errors import SpecError

Bound = tuple[float | None, float | None]
# each option's values, once: as a type for checkers, and as a tuple for the checks
Scale = Literal["standard", "minmax", "robust"]
#: fk.Numeric(transform=...): scikit-learn's QuantileTransformer and PowerTransformer
Transform = Literal["quantile", "quantile-normal", "yeo-johnson", "box-cox"]
NumericImpute = Literal["mean", "median"]
Encode = Literal["onehot", "ordinal", "hash", "target"]
Unknown = Literal["error", "ignore", "other"]
ObservedRange = Literal["count", "error"]
_SCALES: tuple[str, ...] = get_args(Scale)
_TRANSFORMS: tuple[str, ...] = get_args(Transform)
_NUM_IMPUTES: tuple[str, ...] = get_args(NumericImpute)
_ENCODES: tuple[str, ...] = get_args(Encode)
_UNKNOWNS: tuple[str, ...] = get_args(Unknown)
_OBSERVED: tuple[str, ...] = get_args(ObservedRange)


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


def _column_list(owner: str, value: Any, what: str = "raw") -> tuple[str, ...]:
    """A non-empty list of distinct column names, as a tuple; else a SpecError."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise SpecError(
            f"{owner}: inputs must be a non-empty list of {what} column names, got "
            f"{value!r}."
        )
    for c in value:
        _check_name(owner, c)
    if len(set(value)) != len(value):
        raise SpecError(f"{owner}: inputs {list(value)!r} repeat a column.")
    return tuple(value)


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


#: Any declaration: a raw column (featurekit.declare.columns) or a computed feature
#: (featurekit.declare.computed).
Feature = Any
RawInput = Any  # Numeric | Categorical | Datetime | Text
