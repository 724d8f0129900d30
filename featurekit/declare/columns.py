"""Declare raw input columns: `Numeric`, `Categorical`, `Datetime` and `Text`.

Declarations are plain, immutable data. They validate themselves when they are created,
so a mistake surfaces where it was written, and they round-trip through JSON and YAML.
Light core: serving imports this module, so it must not import scikit-learn.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from featurekit.declare.base import (
    _ENCODES,
    _NUM_IMPUTES,
    _OBSERVED,
    _SCALES,
    _TRANSFORMS,
    _UNKNOWNS,
    Bound,
    Encode,
    NumericImpute,
    ObservedRange,
    Scale,
    Transform,
    Unknown,
    _check_flag,
    _check_name,
    _choice,
    _Feature,
    _finite_or_none,
    _interval,
)
from featurekit.errors import SpecError

__all__ = ["Categorical", "Datetime", "Numeric", "Text"]

_TIMEZONES = (None, "UTC")


@dataclasses.dataclass(frozen=True, repr=False)
class Numeric(_Feature):
    """A numeric input column and the transforms fitted on it.

    The transforms run in this order: ``impute``, ``clip``, ``log1p``, ``transform``,
    ``scale``.

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
    transform : {None, "quantile", "quantile-normal", "yeo-johnson", "box-cox"}
        scikit-learn's ``QuantileTransformer`` (uniform or normal output) or
        ``PowerTransformer`` without its standardising (add ``scale="standard"``),
        computed exactly in both runtimes. "box-cox" needs values above 0: declare
        a lower ``clip`` or ``bounds`` above 0.
    n_quantiles : int, optional
        With a quantile transform: the most quantiles kept (default 1000, at most
        one per training row).
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
    pii : bool
        Personal data: the prediction log drops it or hashes it (docs/outcomes.md).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Numeric("income", impute="median", scale="standard", clip=(0, None))
    Numeric('income', impute='median', scale='standard', clip=[0, None])
    >>> fk.Numeric("mass", impute="median", transform="yeo-johnson", scale="standard")
    Numeric('mass', impute='median', scale='standard', transform='yeo-johnson')
    """

    kind: ClassVar[str] = "numeric"
    name: str
    dtype: Literal["float", "int"] = "float"
    impute: NumericImpute | float | None = None
    scale: Scale | None = None
    clip: Bound | None = None
    log1p: bool = False
    bounds: Bound | None = None
    nullable: bool | None = None
    allow_inf: bool = False
    observed_range: ObservedRange = "count"
    input_only: bool = False
    transform: Transform | None = None
    n_quantiles: int | None = None
    pii: bool = False

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
        _choice(owner, "observed_range", self.observed_range, _OBSERVED)
        _check_flag(owner, "input_only", self.input_only)
        _check_flag(owner, "pii", self.pii)
        _check_transform(owner, self.transform, self.n_quantiles)
        if self.input_only and (self.scale, self.log1p, self.transform) != (
            None,
            False,
            None,
        ):
            raise SpecError(
                f"{owner}: input_only=True means the model never sees this column, so "
                "scale, log1p and transform would do nothing; move them to the "
                "fk.Derived feature that uses it. (impute and clip apply where "
                "fk.Custom, fk.Splines or fk.Polynomial read the column.)"
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
        if self.transform == "box-cox" and not self.positive():
            raise SpecError(
                f"{owner}: transform='box-cox' needs values above 0, but nothing "
                "keeps them there; add clip=(lo, None) or bounds=(lo, None) with "
                "lo > 0, or use transform='yeo-johnson', which takes any number."
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

    def positive(self) -> bool:
        """Whether clip or bounds keep every value the transform sees above 0."""
        return any(
            interval is not None and interval[0] is not None and interval[0] > 0
            for interval in (self.clip, self.bounds)
        )


def _check_transform(owner: str, transform: str | None, n_quantiles: object) -> None:
    """The ``transform`` option and its ``n_quantiles``, shared by Numeric and Derived."""
    if transform is not None and not isinstance(transform, str):
        raise SpecError(
            f"{owner}: transform must be a string or None, got {transform!r}."
        )
    _choice(owner, "transform", transform, (None, *_TRANSFORMS))
    if n_quantiles is None:
        return
    if transform not in ("quantile", "quantile-normal"):
        raise SpecError(
            f"{owner}: n_quantiles={n_quantiles!r} needs transform='quantile' or "
            f"'quantile-normal' (got transform={transform!r})."
        )
    if (
        isinstance(n_quantiles, bool)
        or not isinstance(n_quantiles, int)
        or n_quantiles < 2
    ):
        raise SpecError(
            f"{owner}: n_quantiles must be an int >= 2, got {n_quantiles!r}."
        )


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
    pii : bool
        Personal data: the prediction log drops it or hashes it (docs/outcomes.md).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Categorical("channel", impute="missing", unknown="other")
    Categorical('channel', impute='missing', unknown='other')
    """

    kind: ClassVar[str] = "categorical"
    name: str
    impute: str | None = None
    encode: Encode = "onehot"
    unknown: Unknown = "error"
    min_frequency: int | float | None = None
    max_categories: int | None = None
    nullable: bool | None = None
    n_buckets: int | None = None
    input_only: bool = False
    pii: bool = False

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
        _check_flag(owner, "pii", self.pii)
        if self.input_only and (
            self.encode != "onehot" or self.unknown != "error" or self.folds
        ):
            raise SpecError(
                f"{owner}: input_only=True means the model never sees this column, so "
                "encode and unknown would do nothing; move them to the fk.Derived "
                "feature that uses it. (impute applies where fk.Custom reads the "
                "column.)"
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


@dataclasses.dataclass(frozen=True, repr=False)
class Datetime(_Feature):
    """A date-time input column, read into seconds since 1970-01-01T00:00:00.

    The model never sees it directly: derive parts from it with ``fk.col(name).dt``
    (``year``, ``month``, ``day``, ``day_of_week``, ``day_of_year``, ``hour``) or
    ``fk.days_between``. Values may be pandas/numpy datetime64, `datetime.datetime`,
    `datetime.date` or ISO-8601 strings; the same reader runs in training and serving.

    Parameters
    ----------
    name : str
        The raw input column.
    timezone : {None, "UTC"}
        None (default): values are wall-clock times without a time zone; a value that
        carries an offset or a time zone is refused, since its wall-clock reading and
        its UTC reading differ. "UTC": every value must carry an offset or a time
        zone and is converted to UTC; naive values are refused.
    nullable : bool
        Whether missing values are accepted (date parts of a missing value are
        missing).
    pii : bool
        Personal data: the prediction log drops it or hashes it (docs/outcomes.md).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Datetime("signup", timezone="UTC")
    Datetime('signup', timezone='UTC')
    """

    kind: ClassVar[str] = "datetime"
    name: str
    timezone: Literal["UTC"] | None = None
    nullable: bool = False
    pii: bool = False

    def __post_init__(self) -> None:
        _check_name("Datetime", self.name)
        owner = f"Datetime({self.name!r})"
        _choice(owner, "timezone", self.timezone, _TIMEZONES)
        _check_flag(owner, "nullable", self.nullable)
        _check_flag(owner, "pii", self.pii)

    @property
    def accepts_missing(self) -> bool:
        return self.nullable

    input_only: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True, repr=False)
class Text(_Feature):
    """A free-text input column, turned into TF-IDF features.

    Tokens are runs of characters between separators (whitespace and ASCII
    punctuation), lower-cased in the ASCII range only; see `featurekit.transforms.text` for the
    exact rule, which scikit-learn and onnxruntime both follow. Missing text counts
    as the empty string.

    Parameters
    ----------
    name : str
        The raw input column.
    ngram_range : (int, int)
        The smallest and largest n-gram.
    max_features : int, optional
        Keep only the most frequent terms.
    min_df, max_df : int or float
        Document-frequency limits, as in scikit-learn's ``TfidfVectorizer``.
    lowercase, binary, sublinear_tf : bool
        As in ``TfidfVectorizer``.
    norm : {"l2", "l1", None}
        Row normalisation.
    nullable : bool
        Whether missing values are accepted.
    pii : bool
        Personal data: the prediction log drops it or hashes it (docs/outcomes.md).

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.Text("review", ngram_range=(1, 2), max_features=500)
    Text('review', ngram_range=[1, 2], max_features=500)
    """

    kind: ClassVar[str] = "text"
    name: str
    ngram_range: tuple[int, int] = (1, 1)
    max_features: int | None = None
    min_df: int | float = 1
    max_df: int | float = 1.0
    lowercase: bool = True
    binary: bool = False
    sublinear_tf: bool = False
    norm: Literal["l2", "l1"] | None = "l2"
    nullable: bool = True
    pii: bool = False

    def __post_init__(self) -> None:
        _check_name("Text", self.name)
        owner = f"Text({self.name!r})"
        ng = self.ngram_range
        if (
            isinstance(ng, str)
            or not isinstance(ng, Sequence)
            or len(ng) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in ng)
            or not 1 <= ng[0] <= ng[1]
        ):
            raise SpecError(
                f"{owner}: ngram_range must be (lo, hi) with 1 <= lo <= hi, got {ng!r}."
            )
        object.__setattr__(self, "ngram_range", (int(ng[0]), int(ng[1])))
        mf = self.max_features
        if mf is not None and (
            isinstance(mf, bool) or not isinstance(mf, int) or mf < 1
        ):
            raise SpecError(f"{owner}: max_features must be an int >= 1, got {mf!r}.")
        for option in ("min_df", "max_df"):
            v = getattr(self, option)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise SpecError(
                    f"{owner}: {option} must be a count or a fraction, got {v!r}."
                )
            if isinstance(v, float) and v > 1.0:
                raise SpecError(f"{owner}: {option}={v!r}: a fraction is at most 1.0.")
        for option in ("lowercase", "binary", "sublinear_tf", "nullable", "pii"):
            _check_flag(owner, option, getattr(self, option))
        _choice(owner, "norm", self.norm, ("l2", "l1", None))

    @property
    def accepts_missing(self) -> bool:
        return self.nullable

    input_only: ClassVar[bool] = False
