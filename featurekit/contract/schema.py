"""The data contract: declarations plus fitted state, as a pandera schema and as fast checks.

A `Contract` is generated at export from three sources: the declarations (types, hard
bounds, nullability, the unknown-category policy, ``allow_inf``), the fitted pipeline
(the categories its encoders learned, the raw range a float32 tree model can represent)
and the reference data (the observed range of each numeric column, widened by
`WIDEN` of its span on each side).

It is stored as ``contract.json``: pandera's own serialisation of the
`DataFrameSchema` under ``"pandera"``, which pandera alone can load, and featurekit's
policy under ``"featurekit"``. The schema checks a *typed* frame, the one
`featurekit.contract.columns.Columns` reads from raw records with the documented coercion rules;
`featurekit.contract.reference.validate` runs exactly that (it is the reference), and the compiled checks
in `Columns.coerce` must accept and reject the same inputs with the same failure table.

Light core: pandera is imported only when the schema is built.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from featurekit.declare.columns import Categorical, Numeric
from featurekit.declare.featureset import FeatureSet

__all__ = ["WIDEN", "Contract", "RangeCheck"]

#: Observed ranges are widened by this fraction of their span on each side.
WIDEN = 0.1


@dataclass(frozen=True)
class RangeCheck:
    """A closed range check with pandera's name for it; either end may be None."""

    lo: float | None
    hi: float | None

    @property
    def name(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"in_range({self.lo}, {self.hi})"
        if self.lo is not None:
            return f"greater_than_or_equal_to({self.lo})"
        return f"less_than_or_equal_to({self.hi})"

    def pandera(self) -> Any:
        import pandera.pandas as pa

        if self.lo is not None and self.hi is not None:
            return pa.Check.in_range(self.lo, self.hi)
        if self.lo is not None:
            return pa.Check.ge(self.lo)
        return pa.Check.le(self.hi)


@dataclass
class Contract:
    """What an artifact accepts, column by column.

    Parameters
    ----------
    features : FeatureSet
        The declarations.
    categories : dict of str to list of str
        Categories each categorical column's encoder learned (missing excluded).
    domains : dict of str to (lo, hi)
        Raw ranges the model can represent (float32 trees); outside is rejected.
    observed : dict of str to (lo, hi)
        Widened reference ranges; outside is counted, or rejected when the
        declaration says ``observed_range="error"``.

    Examples
    --------
    >>> import featurekit as fk
    >>> fs = fk.FeatureSet("demo", [fk.Numeric("age", bounds=(18, 120))])
    >>> c = Contract(fs, observed={"age": (20.0, 70.0)})
    >>> [r.name for r in c.ranges("age")]
    ['in_range(18, 120)']
    >>> Contract.from_json(c.to_json()) == c
    True
    """

    features: FeatureSet
    categories: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, tuple[float, float]] = field(default_factory=dict)
    observed: dict[str, tuple[float, float]] = field(default_factory=dict)

    # -- the rules ------------------------------------------------------------------
    def dtype(self, f: Any) -> str:
        """The pandera dtype of the typed column (date-times: float64 seconds)."""
        if f.kind in ("categorical", "text"):
            return "str"
        if f.kind == "datetime":
            return "float64"
        return "Int64" if f.dtype == "int" else "float64"

    def ranges(self, name: str) -> list[RangeCheck]:
        """The failing range checks of a numeric column, in schema order."""
        f = self.features[name]
        out: list[RangeCheck] = []
        if not isinstance(f, Numeric):
            return out
        if f.bounds is not None:
            out.append(RangeCheck(*f.bounds))
        if name in self.domains:
            out.append(RangeCheck(*self.domains[name]))
        if name in self.observed and f.observed_range == "error":
            out.append(RangeCheck(*self.observed[name]))
        return out

    def allowed(self, name: str) -> list[str] | None:
        """The categories a column accepts, or None when any string is accepted."""
        f = self.features[name]
        if (
            isinstance(f, Categorical)
            and f.checks_categories
            and name in self.categories
        ):
            return list(self.categories[name])
        return None

    def soft(self, name: str) -> tuple[float, float] | None:
        """The observed range whose violations are counted, not rejected."""
        f = self.features[name]
        if isinstance(f, Numeric) and f.observed_range == "count":
            return self.observed.get(name)
        return None

    # -- pandera --------------------------------------------------------------------
    def schema(self) -> Any:
        """The pandera `DataFrameSchema` of the typed frame."""
        import numpy as np
        import pandera.pandas as pa

        columns = {}
        for f in self.features.inputs:
            checks = [r.pandera() for r in self.ranges(f.name)]
            if isinstance(f, Numeric) and not f.allow_inf:
                checks += [pa.Check.lt(np.inf), pa.Check.gt(-np.inf)]
            allowed = self.allowed(f.name)
            if allowed is not None:
                checks.append(pa.Check.isin(allowed))
            columns[f.name] = pa.Column(
                self.dtype(f), checks=checks, nullable=f.accepts_missing, required=True
            )
        return pa.DataFrameSchema(
            columns, strict=self.features.strict, name=self.features.name
        )

    # -- serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def ends(pair: tuple[float, float]) -> list[float | None]:
            return [None if math.isinf(v) else v for v in pair]

        return {
            "features": self.features.to_dict(),
            "categories": self.categories,
            "domains": {k: ends(v) for k, v in self.domains.items()},
            "observed": {k: list(v) for k, v in self.observed.items()},
            "widen": WIDEN,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contract:
        def pair(v: list[float | None]) -> tuple[float, float]:
            lo, hi = v
            return (-math.inf if lo is None else lo, math.inf if hi is None else hi)

        return cls(
            FeatureSet.from_dict(data["features"]),
            {k: list(v) for k, v in data.get("categories", {}).items()},
            {k: pair(v) for k, v in data.get("domains", {}).items()},
            {k: (v[0], v[1]) for k, v in data.get("observed", {}).items()},
        )

    def to_json(self) -> str:
        """``{"pandera": <pandera's JSON>, "featurekit": <policy>}``."""
        pandera_json = json.loads(self.schema().to_json())
        return json.dumps(
            {"pandera": pandera_json, "featurekit": self.to_dict()}, indent=1
        )

    @classmethod
    def from_json(cls, text: str) -> Contract:
        data = json.loads(text)
        return cls.from_dict(data["featurekit"])
