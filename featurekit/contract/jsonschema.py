"""The contract as a JSON Schema (draft 2020-12) of one record, for client authors.

`record_schema` says what `featurekit.contract.columns.Columns.coerce` accepts in one
JSON record, as far as JSON Schema can say it: each raw input's JSON type, whether
``null`` (a missing value) is accepted, the hard bounds (declared ``bounds``, the
range a float32 tree model can represent, and an observed range declared
``observed_range="error"``), the categories of a column that refuses unknown ones,
every declared input required, and no other keys when the feature set is strict.

What it cannot say is left to the server, which still refuses it with a 422: a
date-time string that does not parse or carries the wrong kind of offset, an integer
beyond int64, a string that is not valid UTF-8. The soft observed range (counted,
not refused) is only mentioned in the description.

Light core: no scikit-learn, no web framework.
"""

from __future__ import annotations

import math
from typing import Any

from featurekit.contract.schema import Contract

__all__ = ["DIALECT", "record_schema"]

#: The JSON Schema dialect of `record_schema` (OpenAPI 3.1's own).
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def record_schema(contract: Contract) -> dict[str, Any]:
    """The JSON Schema of one record the contract accepts.

    Parameters
    ----------
    contract : Contract
        The artifact's contract.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12) object schema: one property per raw input
        column, all required; ``additionalProperties`` is False exactly when the
        feature set is strict.

    Examples
    --------
    >>> import featurekit as fk
    >>> fs = fk.FeatureSet("demo", [fk.Numeric("age", dtype="int", bounds=(18, 120)),
    ...                             fk.Categorical("plan", impute="missing")])
    >>> schema = record_schema(Contract(fs, categories={"plan": ["a", "b"]}))
    >>> schema["properties"]["age"]["type"], schema["properties"]["age"]["minimum"]
    ('integer', 18)
    >>> schema["properties"]["plan"]["enum"]
    ['a', 'b', None]
    >>> schema["required"]
    ['age', 'plan']
    """
    fs = contract.features
    properties = {f.name: _property(contract, f) for f in fs.inputs}
    extra = (
        "Keys not declared here are refused (strict)."
        if fs.strict
        else "Keys not declared here are ignored (and counted in the metrics)."
    )
    return {
        "$schema": DIALECT,
        "title": f"{fs.name} v{fs.version} record",
        "description": (
            f"One record for feature set {fs.name!r} version {fs.version}: every "
            f"declared input is required (null where a missing value is accepted). "
            f"{extra}"
        ),
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": not fs.strict,
    }


def _property(contract: Contract, f: Any) -> dict[str, Any]:
    nullable = bool(f.accepts_missing)
    notes = [f"Declared as {f!r}."]
    prop: dict[str, Any]
    if f.kind == "datetime":
        prop = {"type": "string", "format": "date-time"}
        offset = (
            "with an offset or a time zone (converted to UTC)"
            if f.timezone == "UTC"
            else "without an offset or a time zone (wall-clock time)"
        )
        notes.append(
            f"A date-time as ISO-8601 text {offset}; an ISO-8601 date "
            "(YYYY-MM-DD) is accepted too."
        )
    elif f.kind in ("categorical", "text"):
        prop = {"type": "string"}
        allowed = contract.allowed(f.name)
        if allowed is not None:
            prop["enum"] = [*allowed, *([None] if nullable else [])]
            notes.append("Categories not seen in training are refused.")
        elif f.kind == "categorical":
            notes.append("Any string is accepted.")
    else:
        prop = {"type": "integer" if f.dtype == "int" else "number"}
        lo, hi = _hard_range(contract, f.name)
        if lo is not None:
            prop["minimum"] = lo
        if hi is not None:
            prop["maximum"] = hi
        soft = contract.soft(f.name)
        if soft is not None:
            notes.append(
                f"Values outside the observed range [{soft[0]:g}, {soft[1]:g}] are "
                "accepted and counted as drift."
            )
    if nullable:
        prop["type"] = [prop["type"], "null"]
        notes.append("null is a missing value.")
    else:
        notes.append("Required: null is refused.")
    return {"description": " ".join(notes), **prop}


def _hard_range(contract: Contract, name: str) -> tuple[float | None, float | None]:
    """The intersection of the checks that refuse; None for an open end."""
    lo, hi = -math.inf, math.inf
    for check in contract.ranges(name):
        if check.lo is not None:
            lo = max(lo, check.lo)
        if check.hi is not None:
            hi = min(hi, check.hi)
    return (None if math.isinf(lo) else lo, None if math.isinf(hi) else hi)
