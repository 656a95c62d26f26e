"""validation.py: every rule of the body schema, each with its field path and plain words."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from target_attentive.problems import Problem, describe
from target_attentive.validation import SCHEMA, validate_payload

NO_IDENTIFIER = (
    "no identifier; map at least one of email, phone, clientUserId, shopifyId, klaviyoId "
    "or customIdentifiers"
)
# What raw jsonschema messages look like: none of it may reach a reason.
JARGON = re.compile(
    r"is not of type|is a required property|does not match|additional properties|"
    r"was unexpected|is shorter than|is longer than|less than the minimum|is not one of|"
    r"breaks rule|has less than|\^|\$",
    re.IGNORECASE,
)


def ok(**parts: object) -> dict:
    payload: dict = {"identifiers": {"email": "a@b.co"}}
    payload.update(parts)
    return payload


def problems_of(payload: dict) -> list[Problem]:
    problems = validate_payload(payload)
    for problem in problems:
        assert not JARGON.search(problem.message), problem
    return problems


def only(payload: dict) -> Problem:
    problems = problems_of(payload)
    assert len(problems) == 1, problems
    return problems[0]


def test_schema_is_draft_2020_12_and_closed() -> None:
    assert SCHEMA["$schema"].endswith("2020-12/schema")
    assert SCHEMA["additionalProperties"] is False


def test_full_valid_payload_has_no_problems() -> None:
    payload = {
        "identifiers": {
            "email": "a@b.co",
            "phone": "+12025550123",
            "clientUserId": "c" * 100,
            "shopifyId": "1",
            "klaviyoId": "k",
            "customIdentifiers": [{"key": "loyalty", "value": "L1"}],
        },
        "attributes": {
            "firstName": "Jane",
            "lastName": "Doe",
            "demographic": {
                "language": "en",
                "dateOfBirth": "1990-05-01",
                "age": 0,
                "organization": "Acme",
                "title": "Dr",
                "website": "https://x.io",
            },
            "location": {
                "address1": "1 Main St",
                "address2": "Apt 2",
                "city": "Brooklyn",
                "state": "NY",
                "zip": "11222",
                "latitude": "40.73",
                "longitude": "-73.93",
                "country": "US",
                "region": "US-NY",
                "timezone": "EST",
            },
            "locale": {"language": "en", "country": "US"},
            "custom": {"VIP": True, "LTV": 19.5, "Orders": 3, "Tier": "gold", "app.version": "1"},
        },
        "subscriptions": [
            {"channel": "TEXT", "signUpSourceId": "1", "singleOptIn": False},
            {"channel": "EMAIL", "signUpSourceId": "2"},
        ],
    }
    assert validate_payload(payload) == []


@pytest.mark.parametrize(
    "identifiers",
    [
        {"phone": "+447911123456"},
        {"clientUserId": "c1"},
        {"shopifyId": "s1"},
        {"klaviyoId": "k1"},
        {"customIdentifiers": [{"key": "loyalty", "value": "L1"}]},
    ],
)
def test_any_one_identifier_is_enough(identifiers: dict) -> None:
    assert validate_payload({"identifiers": identifiers}) == []


@pytest.mark.parametrize(
    "payload", [{}, {"attributes": {"firstName": "Jane"}}, {"identifiers": {}}]
)
def test_no_identifier(payload: dict) -> None:
    assert only(payload) == Problem("identifiers", NO_IDENTIFIER)


@pytest.mark.parametrize(
    "phone",
    ["19148440001", "+1---914---844---0001", "1 () 914 844 0001", "+0123456789", "+1234", "+1" * 9],
)
def test_phone_not_e164(phone: str) -> None:
    problem = only({"identifiers": {"phone": phone}})
    assert problem == Problem(
        "identifiers.phone", "not in E.164 (+<country code><number>, digits only)"
    )
    assert phone not in problem.message


def test_phone_not_text() -> None:
    assert only({"identifiers": {"phone": 12025550123}}).field == "identifiers.phone"


@pytest.mark.parametrize(
    ("identifiers", "field"),
    [
        ({"clientUserId": "x" * 101}, "identifiers.clientUserId"),
        ({"email": "a" * 95 + "@b.com"}, "identifiers.email"),
        ({"shopifyId": "1" * 101}, "identifiers.shopifyId"),
        ({"klaviyoId": "k" * 101}, "identifiers.klaviyoId"),
        (
            {"customIdentifiers": [{"key": "k", "value": "v" * 101}]},
            "identifiers.customIdentifiers[0].value",
        ),
    ],
)
def test_identifier_longer_than_100(identifiers: dict, field: str) -> None:
    problem = only({"identifiers": identifiers})
    assert problem == Problem(field, "longer than Attentive's 100 characters for an identifier")


def test_identifier_of_exactly_100_is_fine() -> None:
    assert validate_payload({"identifiers": {"clientUserId": "x" * 100}}) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"identifiers": {"email": ""}}, "identifiers.email"),
        ({"identifiers": {"email": "a@b.co", "clientUserId": ""}}, "identifiers.clientUserId"),
        (
            {"identifiers": {"customIdentifiers": [{"key": "", "value": "v"}]}},
            "identifiers.customIdentifiers[0].key",
        ),
        (ok(attributes={"firstName": ""}), "attributes.firstName"),
        (ok(attributes={"location": {"city": ""}}), "attributes.location.city"),
        (
            ok(subscriptions=[{"channel": "TEXT", "signUpSourceId": ""}]),
            "subscriptions[0].signUpSourceId",
        ),
    ],
)
def test_empty_string(payload: dict, field: str) -> None:
    assert only(payload) == Problem(field, "is empty; leave the field out instead")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (ok(attributes={}), "attributes"),
        (ok(attributes={"location": {}}), "attributes.location"),
        (ok(attributes={"custom": {}}), "attributes.custom"),
        (ok(subscriptions=[]), "subscriptions"),
        (
            {"identifiers": {"email": "a@b.co", "customIdentifiers": []}},
            "identifiers.customIdentifiers",
        ),
    ],
)
def test_empty_section(payload: dict, field: str) -> None:
    assert only(payload) == Problem(field, "is empty; leave it out instead")


@pytest.mark.parametrize("value", [["a", "b"], {"a": 1}, None])
def test_custom_value_not_scalar(value: object) -> None:
    problem = only(ok(attributes={"custom": {"Tags": value}}))
    assert problem == Problem(
        "attributes.custom.Tags", "custom attributes take only text, numbers and true/false"
    )


def test_blank_custom_attribute_name() -> None:
    problem = only(ok(attributes={"custom": {" ": 1}}))
    assert problem.field == "attributes.custom"
    assert "name is empty" in problem.message


@pytest.mark.parametrize(
    ("subscription", "field"),
    [
        ({"signUpSourceId": "1"}, "subscriptions[0].channel"),
        ({"channel": "TEXT"}, "subscriptions[0].signUpSourceId"),
    ],
)
def test_subscription_missing_channel_or_source(subscription: dict, field: str) -> None:
    assert only(ok(subscriptions=[subscription])) == Problem(field, "missing; it is required here")


def test_subscription_missing_both() -> None:
    problems = problems_of(ok(subscriptions=[{}]))
    assert sorted(p.field for p in problems) == [
        "subscriptions[0].channel",
        "subscriptions[0].signUpSourceId",
    ]


@pytest.mark.parametrize("channel", ["SMS", "text", "PUSH", ""])
def test_bad_channel(channel: str) -> None:
    problem = only(ok(subscriptions=[{"channel": channel, "signUpSourceId": "1"}]))
    assert problem == Problem("subscriptions[0].channel", "must be TEXT or EMAIL")


def test_second_subscription_is_named_by_index() -> None:
    payload = ok(
        subscriptions=[
            {"channel": "TEXT", "signUpSourceId": "1"},
            {"channel": "SMS", "signUpSourceId": "1"},
        ]
    )
    assert only(payload).field == "subscriptions[1].channel"


@pytest.mark.parametrize(
    ("payload", "field", "known"),
    [
        (ok(extra=1), "extra", "identifiers, attributes, subscriptions"),
        ({"identifiers": {"email": "a@b.co", "userId": "1"}}, "identifiers.userId", "clientUserId"),
        (ok(attributes={"nickname": "J"}), "attributes.nickname", "firstName, lastName"),
        (ok(attributes={"location": {"planet": "Mars"}}), "attributes.location.planet", "city"),
        (ok(attributes={"demographic": {"gender": "x"}}), "attributes.demographic.gender", "age"),
        (ok(attributes={"locale": {"currency": "EUR"}}), "attributes.locale.currency", "language"),
        (
            ok(subscriptions=[{"channel": "TEXT", "signUpSourceId": "1", "when": "x"}]),
            "subscriptions[0].when",
            "singleOptIn",
        ),
        (
            {"identifiers": {"customIdentifiers": [{"name": "k", "key": "k", "value": "v"}]}},
            "identifiers.customIdentifiers[0].name",
            "key, value",
        ),
    ],
)
def test_unknown_field(payload: dict, field: str, known: str) -> None:
    problem = only(payload)
    assert problem.field == field
    assert problem.message.startswith("Attentive has no such field (known: ")
    assert known in problem.message


def test_each_unknown_field_is_named() -> None:
    fields = {p.field for p in problems_of(ok(attributes={"a": 1, "b": 2}))}
    assert fields == {"attributes.a", "attributes.b"}


@pytest.mark.parametrize(
    "dob", ["1990/05/01", "05-01-1990", "1990-5-1", "1990-13-01", "1990-05-32", "1990-05-01T00:00"]
)
def test_bad_date_of_birth(dob: str) -> None:
    problem = only(ok(attributes={"demographic": {"dateOfBirth": dob}}))
    assert problem == Problem(
        "attributes.demographic.dateOfBirth", "not a date in the form YYYY-MM-DD"
    )


def test_date_of_birth_not_text() -> None:
    problem = only(ok(attributes={"demographic": {"dateOfBirth": 19900501}}))
    assert problem.field == "attributes.demographic.dateOfBirth"


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"identifiers": "a@b.co"}, "identifiers", "an object"),
        ({"identifiers": {"email": 5}}, "identifiers.email", "text"),
        (
            {"identifiers": {"email": "a@b.co", "customIdentifiers": {"k": "v"}}},
            "identifiers.customIdentifiers",
            "a list",
        ),
        (ok(attributes={"firstName": 5}), "attributes.firstName", "text"),
        (
            ok(attributes={"demographic": {"age": "29"}}),
            "attributes.demographic.age",
            "a whole number",
        ),
        (
            ok(attributes={"demographic": {"age": 29.5}}),
            "attributes.demographic.age",
            "a whole number",
        ),
        (ok(attributes={"location": {"latitude": 40.7}}), "attributes.location.latitude", "text"),
        (ok(attributes=["x"]), "attributes", "an object"),
        (ok(subscriptions={"channel": "TEXT"}), "subscriptions", "a list"),
        (ok(subscriptions=["TEXT"]), "subscriptions[0]", "an object"),
        (
            ok(subscriptions=[{"channel": "TEXT", "signUpSourceId": "1", "singleOptIn": "yes"}]),
            "subscriptions[0].singleOptIn",
            "true/false",
        ),
    ],
)
def test_wrong_type(payload: dict, field: str, expected: str) -> None:
    assert only(payload) == Problem(field, f"has the wrong type ({expected} expected)")


def test_negative_age() -> None:
    assert only(ok(attributes={"demographic": {"age": -1}})) == Problem(
        "attributes.demographic.age", "must be 0 or more"
    )


def test_several_problems_all_reported_once() -> None:
    payload = {
        "identifiers": {"phone": "202", "clientUserId": ""},
        "attributes": {"custom": {"A": [1]}, "demographic": {"dateOfBirth": "x"}},
        "subscriptions": [{"channel": "SMS"}],
    }
    problems = problems_of(payload)
    assert {p.field for p in problems} == {
        "identifiers.phone",
        "identifiers.clientUserId",
        "attributes.custom.A",
        "attributes.demographic.dateOfBirth",
        "subscriptions[0].channel",
        "subscriptions[0].signUpSourceId",
    }
    assert len(problems) == len(set(problems))


def test_reasons_never_quote_personal_values() -> None:
    payload = {
        "identifiers": {"phone": "2025550123", "email": "jane.doe@example.com" + "x" * 90},
        "attributes": {"demographic": {"dateOfBirth": "01/05/1990"}, "firstName": 42},
    }
    text = describe(problems_of(payload))
    for secret in ("2025550123", "jane.doe", "1990", "42"):
        assert secret not in text


@pytest.mark.parametrize(
    ("value", "kind"),
    [(dt.date(2024, 1, 2), "date"), ({1, 2}, "set"), (b"x", "bytes"), (object(), "object")],
)
def test_values_json_cannot_carry_are_named_not_raised(value: object, kind: str) -> None:
    payload = ok(attributes={"custom": {"When": value}})
    assert validate_payload(payload) == [
        Problem("attributes.custom.When", f"is a {kind}, which JSON cannot carry; map text")
    ]


def test_non_text_field_name_is_named_not_raised() -> None:
    problems = validate_payload({"identifiers": {"email": "a@b.co", 7: "x"}})
    assert problems == [Problem("identifiers", "has a field name that is not text")]


def test_decimal_custom_value_is_a_number() -> None:
    assert validate_payload(ok(attributes={"custom": {"LTV": Decimal("1.5")}})) == []
