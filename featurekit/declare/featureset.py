"""The `FeatureSet`: a named, versioned list of declarations, and its JSON/YAML forms.

It resolves the raw inputs (declared columns and those expressions read) and reads
every declaration kind back from its dictionary form. Light core: no scikit-learn.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from featurekit.declare.base import Feature, RawInput
from featurekit.declare.columns import Categorical, Datetime, Numeric, Text
from featurekit.declare.computed import Bucketized, Custom, Derived
from featurekit.declare.expansions import Polynomial, Splines
from featurekit.errors import SpecError

__all__ = ["FeatureSet"]


def _kinds() -> dict[str, type]:
    return {
        "numeric": Numeric,
        "categorical": Categorical,
        "datetime": Datetime,
        "text": Text,
        "derived": Derived,
        "bucketized": Bucketized,
        "custom": Custom,
        "splines": Splines,
        "polynomial": Polynomial,
    }


#: The computed features that read declared columns after their impute and clip.
READERS = (Custom, Splines, Polynomial)


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
        elif isinstance(f, Splines | Polynomial):
            wanted = dict.fromkeys(f.inputs, "number")
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
    _check_prepared_inputs(name, feats, raw)
    # declared raw columns nothing reads still come in declaration order
    for f in feats:
        if f.name in raw:
            out.setdefault(f.name, f)
    order = [f.name for f in feats if f.name in raw]
    implicit_names = [c for c in out if c not in raw]
    return tuple(out[c] for c in order) + tuple(out[c] for c in implicit_names)


def _check_prepared_inputs(
    name: str, feats: tuple[Feature, ...], raw: dict[str, RawInput]
) -> None:
    """An input_only column's impute and clip must have a reader that applies them."""
    read = {c for f in feats if isinstance(f, READERS) for c in f.inputs}
    for f in raw.values():
        prepared = getattr(f, "impute", None) is not None or getattr(f, "clip", None)
        if getattr(f, "input_only", False) and prepared and f.name not in read:
            raise SpecError(
                f"FeatureSet({name!r}): {type(f).__name__}({f.name!r}) is input_only "
                "with impute or clip, which apply where fk.Custom, fk.Splines or "
                "fk.Polynomial read the column, and none does (fk.Derived and "
                "fk.Bucketized read raw values). Move them to the feature that uses "
                "the column, or drop input_only."
            )


@dataclasses.dataclass(frozen=True, repr=False)
class FeatureSet:
    """A named, versioned list of feature declarations.

    Parameters
    ----------
    name : str
        Names the artifact, the contract and the served model.
    features : list of declarations
        `Numeric`, `Categorical`, `Datetime` and `Text` declare raw columns;
        `Derived`, `Bucketized`, `Custom`, `Splines` and `Polynomial` compute model
        features from them. Names must be unique. A column an expression reads without a
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
                    "fk.Categorical, fk.Datetime, fk.Text, fk.Derived, fk.Bucketized, "
                    "fk.Custom, fk.Splines or fk.Polynomial."
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
    def from_json(cls, source: str | os.PathLike[str]) -> FeatureSet:
        """Parse `to_json` output: JSON text, or the path of a file holding it.

        Examples
        --------
        >>> fs = FeatureSet("credit", [Numeric("age")])
        >>> FeatureSet.from_json(fs.to_json()) == fs
        True
        """
        text = _read(source, (".json",))
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
    def from_yaml(cls, source: str | os.PathLike[str]) -> FeatureSet:
        """Parse YAML such as `to_yaml` writes: the text, or the path of a file.

        Examples
        --------
        >>> path = getfixture("tmp_path") / "features.yaml"  # in pytest
        >>> _ = path.write_text(FeatureSet("credit", [Numeric("age")]).to_yaml())
        >>> FeatureSet.from_yaml(path).name, FeatureSet.from_yaml(str(path)).name
        ('credit', 'credit')
        """
        text = _read(source, (".yaml", ".yml"))
        yaml = _yaml()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"FeatureSet YAML is malformed: {exc}") from None
        return cls.from_dict(data)


def _read(source: str | os.PathLike[str], suffixes: tuple[str, ...]) -> str:
    """The text itself, or a file's content when `source` names a file."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str)
        and "\n" not in source
        and (source.lower().endswith(suffixes) or os.path.isfile(source))
    ):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(
                f"Cannot read the FeatureSet file {str(path)!r}: {exc.strerror}."
            ) from None
    if not isinstance(source, str):
        raise SpecError(
            f"Expected the FeatureSet's text or a file path, got "
            f"{type(source).__name__}."
        )
    return source


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a hard dependency
        raise SpecError("YAML needs PyYAML: pip install pyyaml") from None
    return yaml
