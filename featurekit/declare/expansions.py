"""Expansions of declared numeric columns into several features: `Splines`, `Polynomial`.

Each is a scikit-learn transformer given a declaration of its own (``SplineTransformer``
and ``PolynomialFeatures``), so that it reads well in YAML and exports exactly. Like
``fk.Custom``, they read each column after its declared ``impute`` and ``clip``.

Light core: no scikit-learn at import time.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from featurekit.declare.base import (
    _check_flag,
    _check_name,
    _choice,
    _column_list,
    _Feature,
)
from featurekit.errors import SpecError

__all__ = ["Polynomial", "Splines"]

_KNOTS = ("uniform", "quantile")
_EXTRAPOLATIONS = ("constant", "linear", "continue", "periodic")


def _positive_int(owner: str, option: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SpecError(f"{owner}: {option} must be an int >= {least}, got {value!r}.")


@dataclasses.dataclass(frozen=True, repr=False)
class Splines(_Feature):
    """A B-spline basis of one numeric column (scikit-learn's ``SplineTransformer``).

    ``n_knots + degree - 1`` features (``n_knots - 1`` when periodic; one fewer
    without ``include_bias``), computed bit for bit alike in training and in the
    graph. The column is read after its declared ``impute`` and ``clip``.

    Parameters
    ----------
    name : str
        The feature block's name.
    source : str
        The numeric column.
    n_knots : int
        Knots of the base interval, >= 2.
    degree : int
        The polynomial degree of the pieces.
    knots : {"uniform", "quantile"}
        Where the knots go: evenly between the training minimum and maximum, or at
        its quantiles.
    extrapolation : {"constant", "linear", "continue", "periodic"}
        Beyond the training range: the boundary values, a linear continuation, the
        polynomial pieces continued, or a repetition with the range as period.
    include_bias : bool
        Keep the last basis function (the bases sum to 1, so a model with an
        intercept does not need it).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Splines("mass_splines", "body_mass_g", n_knots=6)
    Splines('mass_splines', source='body_mass_g', n_knots=6)
    """

    kind: ClassVar[str] = "splines"
    name: str
    source: str
    n_knots: int = 5
    degree: int = 3
    knots: str = "uniform"
    extrapolation: str = "constant"
    include_bias: bool = True

    input_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_name("Splines", self.name)
        owner = f"Splines({self.name!r})"
        if not isinstance(self.source, str) or not self.source.strip():
            raise SpecError(
                f"{owner}: source must be the name of a numeric column, got "
                f"{self.source!r}."
            )
        _positive_int(owner, "n_knots", self.n_knots, 2)
        _positive_int(owner, "degree", self.degree, 0)
        _choice(owner, "knots", self.knots, _KNOTS)
        _choice(owner, "extrapolation", self.extrapolation, _EXTRAPOLATIONS)
        _check_flag(owner, "include_bias", self.include_bias)
        if self.extrapolation == "periodic" and self.n_knots <= self.degree:
            raise SpecError(
                f"{owner}: periodic splines need n_knots > degree, got "
                f"n_knots={self.n_knots} and degree={self.degree}."
            )
        if self.extrapolation == "constant" and self.degree == 0:
            raise SpecError(
                f"{owner}: extrapolation='constant' needs degree >= 1 (scikit-learn "
                "fails on degree 0 beyond the knots); use degree=1 or "
                "extrapolation='continue'."
            )

    @property
    def inputs(self) -> tuple[str, ...]:
        """The columns it reads."""
        return (self.source,)


@dataclasses.dataclass(frozen=True, repr=False)
class Polynomial(_Feature):
    """Products of numeric columns (scikit-learn's ``PolynomialFeatures``).

    Every product of the columns up to ``degree`` factors (the columns themselves
    included), or only those of distinct columns with ``interaction_only``; the graph
    multiplies in scikit-learn's order, so the features are bit for bit its own. The
    columns are read after their declared ``impute`` and ``clip``; bound them, or
    squares of extreme values overflow.

    Parameters
    ----------
    name : str
        The feature block's name.
    inputs : list of str
        The numeric columns.
    degree : int
        The most factors in a product, >= 1.
    interaction_only : bool
        Only products of distinct columns (no ``x ** 2``).
    include_bias : bool
        Add a column of ones.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Polynomial("bill", ["bill_length_mm", "bill_depth_mm"], interaction_only=True)
    Polynomial('bill', inputs=['bill_length_mm', 'bill_depth_mm'], interaction_only=True)
    """

    kind: ClassVar[str] = "polynomial"
    name: str
    inputs: tuple[str, ...]
    degree: int = 2
    interaction_only: bool = False
    include_bias: bool = False

    input_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_name("Polynomial", self.name)
        owner = f"Polynomial({self.name!r})"
        ins = _column_list(owner, self.inputs, "numeric")
        object.__setattr__(self, "inputs", ins)
        _positive_int(owner, "degree", self.degree, 1)
        _check_flag(owner, "interaction_only", self.interaction_only)
        _check_flag(owner, "include_bias", self.include_bias)
        if self.interaction_only and self.degree > len(ins):
            raise SpecError(
                f"{owner}: interaction_only=True with degree={self.degree} over "
                f"{len(ins)} columns; no product has more distinct columns than that. "
                f"Use degree={len(ins)}."
            )
