"""record_schema against the compiled contract: what one accepts, the other accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.contract.jsonschema import record_schema
from featurekit.contract.schema import Contract
from featurekit.errors import ContractError


def contract(strict: bool) -> Contract:
    fs = fk.FeatureSet(
        "shop",
        [
            fk.Numeric("income", impute="median", bounds=(0, None)),
            # a hard bound, a tree domain and an observed range that refuses
            fk.Numeric("age", dtype="int", bounds=(18, 120), observed_range="error"),
            fk.Numeric("debt"),  # only a soft observed range: never refused
            fk.Categorical("plan", unknown="error"),
            fk.Categorical("region", impute="missing", unknown="error"),
            fk.Categorical("channel", unknown="ignore"),
            fk.Text("review"),
            fk.Datetime("signup", nullable=True),
            fk.Datetime("seen", timezone="UTC"),
        ],
        strict=strict,
    )
    return Contract(
        fs,
        categories={
            "plan": ["basic", "plus"],
            "region": ["north", "south"],
            "channel": ["app", "web"],
        },
        domains={"age": (-1e9, 100.5)},
        observed={"age": (10.0, 110.0), "debt": (0.0, 5000.0)},
    )


GOOD = {
    "income": 52000.5,
    "age": 37,
    "debt": 9100.0,
    "plan": "plus",
    "region": None,
    "channel": "other",
    "review": "fine",
    "signup": "2024-02-29",
    "seen": "2024-02-29T10:00:00+01:00",
}


def accepts(c: Contract, record: dict[str, Any]) -> bool:
    try:
        Columns(c).coerce(record)
    except ContractError:
        return False
    return True


def valid(c: Contract, record: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(record_schema(c)).is_valid(record)


def test_record_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = record_schema(contract(strict=True))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_record_schema_states_types_bounds_categories_and_nulls() -> None:
    props = record_schema(contract(strict=True))["properties"]
    # the tightest of bounds, tree domain and refusing observed range
    assert props["age"] | {"description": ""} == {
        "description": "",
        "type": "integer",
        "minimum": 18,
        "maximum": 100.5,
    }
    assert props["income"]["type"] == ["number", "null"]
    assert props["income"]["minimum"] == 0 and "maximum" not in props["income"]
    assert (
        "minimum" not in props["debt"]
        and "observed range" in (props["debt"]["description"])
    )
    assert props["plan"] == props["plan"] | {
        "type": "string",
        "enum": ["basic", "plus"],
    }
    assert props["region"]["enum"] == ["north", "south", None]
    assert "enum" not in props["channel"]  # unknown="ignore": any string
    assert props["review"]["type"] == ["string", "null"]
    assert props["signup"]["format"] == "date-time"
    assert "ISO-8601 date" in props["signup"]["description"]
    assert all(p["description"] for p in props.values())


@pytest.mark.parametrize("strict", [True, False])
def test_record_schema_requires_every_input_and_closes_only_when_strict(
    strict: bool,
) -> None:
    schema = record_schema(contract(strict))
    assert schema["required"] == list(GOOD)
    assert schema["additionalProperties"] is (not strict)


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"income": "52000"}, "type"),
        ({"age": 37.5}, "type"),
        ({"plan": 3}, "type"),
        ({"income": True}, "type"),
        ({"signup": 1700000000}, "type"),
        ({"age": 17}, "bound"),
        ({"age": 101}, "bound"),  # the tree domain
        ({"income": -0.5}, "bound"),
        ({"plan": "gold"}, "category"),
        ({"region": "west"}, "category"),
        ({"plan": None}, "null"),
        ({"age": None}, "null"),
        ({"seen": None}, "null"),
        ({"plan": ...}, "missing key"),
        ({"review": ...}, "missing key"),
        ({"extra": 1}, "extra key when strict"),
    ],
)
def test_schema_refuses_what_the_contract_refuses(
    change: dict[str, Any], kind: str
) -> None:
    c = contract(strict=True)
    record = {**GOOD, **change}
    record = {k: v for k, v in record.items() if v is not ...}
    assert not accepts(c, record), kind
    assert not valid(c, record), kind


def test_schema_and_contract_accept_the_good_record_and_extra_keys_unless_strict() -> (
    None
):
    loose = contract(strict=False)
    assert accepts(loose, GOOD) and valid(loose, GOOD)
    assert accepts(loose, {**GOOD, "extra": 1}) and valid(loose, {**GOOD, "extra": 1})
    assert accepts(contract(strict=True), GOOD) and valid(contract(strict=True), GOOD)


_NON_STRINGS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-200, 200),
    st.floats(-200, 200, allow_nan=False),
)
_SCALARS = st.one_of(
    _NON_STRINGS,
    st.sampled_from(["basic", "plus", "gold", "north", "west", "app", ""]),
)
_VALUES = {
    "income": st.one_of(_SCALARS, st.floats(-1e6, 1e6, allow_nan=False)),
    "age": _SCALARS,
    "debt": _SCALARS,
    "plan": _SCALARS,
    "region": _SCALARS,
    "channel": _SCALARS,
    "review": st.one_of(_SCALARS, st.text(st.characters(codec="utf-8"))),
    # only date-times that parse with the right kind of offset: the schema's
    # "format" is an annotation, so the server alone checks the rest
    "signup": st.one_of(
        _NON_STRINGS, st.dates().map(str), st.datetimes().map(lambda d: d.isoformat())
    ),
    "seen": st.one_of(
        _NON_STRINGS,
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.datetimes().map(lambda d: d.isoformat() + "+02:00"),
    ),
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    # a good record with a few values redrawn, so that both verdicts come up often
    out = dict(GOOD)
    for name, values in _VALUES.items():
        roll = draw(st.integers(0, 39))
        if roll < 4:
            out[name] = draw(values)
        elif roll == 4:  # now and then a key goes missing
            del out[name]
    if not draw(st.integers(0, 9)):
        out["extra"] = draw(_SCALARS)
    return out


@pytest.mark.parametrize("strict", [True, False])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records())
def test_schema_accepts_exactly_what_the_compiled_contract_accepts(
    strict: bool, record: dict[str, Any]
) -> None:
    c = contract(strict)
    assert valid(c, record) == accepts(c, record), record
