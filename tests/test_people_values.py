"""Values a person is sent with: custom attribute types and conversions, phone regions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from target_attentive.custom_types import AttributeTypes, convert, schema_kind, value_kind
from target_attentive.mapping import compile_mapping
from target_attentive.normalize import Invalid, to_number, to_text
from target_attentive.reading import phone_region
from target_attentive.settings import Settings, check_settings


@pytest.mark.parametrize(
    ("kind", "value", "sent"),
    [
        ("number", "1517.01", 1517.01),
        ("number", "-3", -3),
        ("number", Decimal("1E+20"), 1e20),
        ("number", 10**30, 1e30),
        ("boolean", "false", False),
        ("boolean", "yes", True),
        ("boolean", "N", False),
        ("string", 12.5, "12.5"),
        ("string", True, "true"),
        ("date", "2024-05-01", "2024-05-01"),
    ],
)
def test_values_that_plainly_are_of_the_type_are_converted(kind, value, sent) -> None:
    assert convert(kind, value) == sent
    assert type(convert(kind, value)) is type(sent)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", "$99"),
        ("number", "1,234.50"),
        ("number", "NaN"),
        ("number", "inf"),
        ("number", True),
        ("boolean", "maybe"),
        ("boolean", 2),
        ("date", "12/31/1990"),
    ],
)
def test_values_that_are_not_are_refused_without_being_quoted(kind, value) -> None:
    with pytest.raises(Invalid) as caught:
        convert(kind, value)
    if str(value) not in ("NaN", "inf", "True", "2"):  # words the reasons use
        assert str(value) not in str(caught.value)


def test_enum_takes_only_its_values() -> None:
    assert convert("enum", "gold", frozenset({"gold"})) == "gold"
    with pytest.raises(Invalid, match="existing values"):
        convert("enum", "tin", frozenset({"gold"}))


def test_the_type_comes_from_config_then_ledger_then_schema_then_first_value() -> None:
    fixed = {"Pinned": "string"}
    types = AttributeTypes(lambda: fixed, {})
    assert types.kind("Pinned", "12", "number") == "string"
    assert types.kind("LTV", "12", "boolean") == "boolean"  # the schema said so
    assert types.kind("LTV", "12", None) == "number"
    assert types.kind("LTV", "NaN", None) is None  # decides nothing
    types.decide("LTV", "number")
    assert types.kind("LTV", "abc", None) == "number"
    types.decide("Pinned", "number")
    assert types.kind("Pinned", 1, None) == "string"


@pytest.mark.parametrize(
    ("prop", "kind"),
    [
        ({"type": ["number", "null"]}, "number"),
        ({"type": "integer"}, "number"),
        ({"type": ["boolean", "null"]}, "boolean"),
        ({"type": ["string", "null"]}, None),
        ({"type": ["string", "number"]}, None),
        ({"anyOf": [{"type": "number"}]}, None),
        (None, None),
    ],
)
def test_schema_kind(prop, kind) -> None:
    assert schema_kind(prop) == kind


def test_value_kind_of_csv_text() -> None:
    assert [value_kind(v) for v in ("1517.01", "-3", "true", "FALSE", "2024-01-02", "x")] == [
        "number",
        "number",
        "boolean",
        "boolean",
        "date",
        "string",
    ]


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        (" uk ", "GB"),
        ("De", "DE"),
        ("ZZ", None),
        ("", None),
        (44, None),
    ],
)
def test_phone_region_reads_iso_codes_in_any_case(value, region) -> None:
    mapping = compile_mapping({"identifiers": {"phone": "p"}, "phone_region": ["c", "c2"]})
    assert phone_region({"c": value}, mapping) == region
    assert phone_region({"c": None, "c2": "fr"}, mapping) == "FR", "the first present wins"


def test_numbers_beyond_64_bits_become_the_nearest_double_or_are_refused() -> None:
    assert to_number(2**63 - 1) == 2**63 - 1 and isinstance(to_number(2**63), float)
    assert to_number(Decimal("9223372036854775808")) == 9.223372036854776e18
    assert to_number(Decimal("1e-400")) == 0.0
    for value in (Decimal("1e400"), Decimal("NaN"), float("inf"), 10**400):
        with pytest.raises(Invalid):
            to_number(value)
    assert to_text(Decimal("1E+20")) == "100000000000000000000"
    with pytest.raises(Invalid):
        to_text(Decimal("1E+999999999"))


def test_the_new_settings_are_checked_and_default_to_omit() -> None:
    assert check_settings({"dry_run": True}) == []
    assert Settings.from_config({}).invalid_fields == "omit"
    assert Settings.from_config({}).shared_identifiers == "omit"
    errors = check_settings({"dry_run": True, "invalid_fields": "drop", "shared_identifiers": 1})
    assert errors == [
        "invalid_fields: 'drop' is not a choice; use omit or reject",
        "shared_identifiers: 1 is not a choice; use omit or send",
    ]
    bad = {"dry_run": True, "mapping": {"phone_region": ["", 3]}}
    assert check_settings(bad) == [
        "mapping.phone_region: must name a source field (text) or a list of them"
    ]
