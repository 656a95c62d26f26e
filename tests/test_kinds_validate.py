"""kinds.validate and kinds.rules: each kind's schema and the rules beyond it, in plain words.

The bodies are also checked against the spec's required fields, and, when Attentive's v1
OpenAPI document is beside this checkout (`../shared/reference/`, never copied into the
project), against its request schemas; without it those checks are skipped, except with
`CI` set, where they fail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from target_attentive.kinds import (
    KindContext,
    compile_kind_mapping,
    event_age,
    plan_record,
    validate_custom_event,
    validate_ecommerce_event,
    validate_kind_payload,
    validate_unsubscribe,
)
from target_attentive.kinds.validate import SCHEMAS
from target_attentive.problems import Problem

V1_SPEC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "attentive-v1-openapi.json"
JARGON = re.compile(
    r"is not of type|is a required property|does not match|additional properties|"
    r"was unexpected|is shorter than|is longer than|less than the minimum|is not one of|"
    r"\^|\$",
    re.IGNORECASE,
)
EVENT = {"type": "Order Shipped", "user": {"email": "a@b.co"}, "externalEventId": "e-1"}
ITEM = {"productId": "p", "productVariantId": "v", "price": [{"value": 1.5, "currency": "USD"}]}
ECOMMERCE = {"items": [ITEM], "user": {"phone": "+12025550123"}}
OPTOUT = {"user": {"email": "a@b.co"}, "subscriptions": [{"type": "MARKETING", "channel": "EMAIL"}]}
# The spec's required request fields, per endpoint (facts of the contract, not its text).
REQUIRED = {
    "custom_event": {"type", "user"},
    "purchase": {"items", "user"},
    "add_to_cart": {"items", "user"},
    "product_view": {"items", "user"},
    "unsubscribe": {"user"},
}
REQUIRED_ITEM = {"productId", "productVariantId", "price"}


def words(problems: list[Problem]) -> list[Problem]:
    for problem in problems:
        assert not JARGON.search(problem.message), problem
    return problems


def test_schemas_are_draft_2020_12_and_closed() -> None:
    for schema in SCHEMAS.values():
        assert schema["$schema"].endswith("2020-12/schema")
        assert schema["additionalProperties"] is False
        jsonschema.Draft202012Validator.check_schema(schema)


def test_valid_bodies() -> None:
    assert validate_custom_event(EVENT) == []
    for kind in ("purchase", "add_to_cart", "product_view"):
        assert validate_ecommerce_event(ECOMMERCE, kind) == []
    assert validate_unsubscribe(OPTOUT) == []


@pytest.mark.parametrize("char", list("\"'(){}[]\\|,"))
def test_event_type_characters(char: str) -> None:
    problems = words(validate_custom_event({**EVENT, "type": f"Order{char}Shipped"}))
    assert [p.field for p in problems] == ["type"]
    assert "Attentive refuses" in problems[0].message


@pytest.mark.parametrize("char", list('"{}[]\\|'))
def test_property_key_characters(char: str) -> None:
    problems = words(validate_custom_event({**EVENT, "properties": {f"a{char}b": 1}}))
    assert [p.field for p in problems] == [f"properties.a{char}b"]


@pytest.mark.parametrize("char", list("'(),. -_:/"))
def test_property_key_characters_attentive_takes(char: str) -> None:
    assert validate_custom_event({**EVENT, "properties": {f"a{char}b": [1, {"x": None}]}}) == []


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T14:30:00", "2024-05-01", "2024-05-01T14:30:00+0200", "yesterday", 1714573800],
)
def test_occurred_at_needs_rfc3339_with_offset(value: object) -> None:
    problems = words(validate_custom_event({**EVENT, "occurredAt": value}))
    assert [p.field for p in problems] == ["occurredAt"]


def test_occurred_at_shape_right_but_no_real_date() -> None:
    problems = validate_custom_event({**EVENT, "occurredAt": "2024-02-30T10:00:00Z"})
    assert [p.field for p in problems] == ["occurredAt"]
    assert "not a real date" in problems[0].message


@pytest.mark.parametrize("value", ["2024-05-01T14:30:00Z", "2024-05-01T14:30:00.5-07:00"])
def test_occurred_at_accepted(value: str) -> None:
    assert validate_custom_event({**EVENT, "occurredAt": value}) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": {"email": "a@b.co"}, "externalEventId": "e"}, "type"),
        ({"type": "T", "externalEventId": "e"}, "user"),
        ({**EVENT, "user": {}}, "user"),
        ({**EVENT, "user": {"phone": "2025550123"}}, "user.phone"),
        ({**EVENT, "user": {"externalIdentifiers": {}}}, "user.externalIdentifiers"),
        ({**EVENT, "type": ""}, "type"),
        ({**EVENT, "properties": {}}, "properties"),
        ({**EVENT, "extra": 1}, "extra"),
        (
            {
                **EVENT,
                "user": {
                    "externalIdentifiers": {"customIdentifiers": [{"key": "k", "value": "v"}]}
                },
            },
            "user.externalIdentifiers.customIdentifiers[0].name",
        ),
    ],
)
def test_custom_event_schema(body: dict, field: str) -> None:
    problems = words(validate_custom_event(body))
    assert field in [p.field for p in problems], problems


def test_unknown_field_suggests_the_known_ones() -> None:
    problems = validate_custom_event({**EVENT, "user": {"email": "a@b.co", "mail": "x"}})
    assert problems == [
        Problem(
            "user.mail", "Attentive has no such field (known: phone, email, externalIdentifiers)"
        )
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": {"email": "a@b.co"}}, "items"),
        ({**ECOMMERCE, "items": []}, "items"),
        ({**ECOMMERCE, "items": [{**ITEM, "price": []}]}, "items[0].price"),
        ({**ECOMMERCE, "items": [{**ITEM, "price": [{"value": "1"}]}]}, "items[0].price[0].value"),
        (
            {**ECOMMERCE, "items": [{**ITEM, "price": [{"value": 1, "currency": "usd"}]}]},
            "items[0].price[0].currency",
        ),
        ({**ECOMMERCE, "items": [{**ITEM, "quantity": 1.5}]}, "items[0].quantity"),
        ({**ECOMMERCE, "items": [{**ITEM, "quantity": 2**63}]}, "items[0].quantity"),
        (
            {**ECOMMERCE, "items": [{"productId": "p", "price": ITEM["price"]}]},
            "items[0].productVariantId",
        ),
    ],
)
def test_ecommerce_schema(body: dict, field: str) -> None:
    problems = words(validate_ecommerce_event(body, "purchase"))
    assert field in [p.field for p in problems], problems


@pytest.mark.parametrize("kind", ["add_to_cart", "product_view"])
def test_only_purchases_carry_an_order_id(kind: str) -> None:
    assert validate_ecommerce_event({**ECOMMERCE, "orderId": "1"}, "purchase") == []
    problems = validate_ecommerce_event({**ECOMMERCE, "orderId": "1"}, kind)
    assert [p.field for p in problems] == ["orderId"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**OPTOUT, "subscriptions": []}, "subscriptions"),
        ({"user": {"email": "a@b.co"}}, "subscriptions"),
        (
            {**OPTOUT, "subscriptions": [{"type": "ALL", "channel": "EMAIL"}]},
            "subscriptions[0].type",
        ),
        (
            {**OPTOUT, "subscriptions": [{"type": "MARKETING", "channel": "SMS"}]},
            "subscriptions[0].channel",
        ),
        (
            {**OPTOUT, "subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]},
            "subscriptions[0].channel",
        ),
        ({**OPTOUT, "user": {"clientUserId": "c"}}, "user.clientUserId"),
        ({**OPTOUT, "notification": {"language": "en"}}, "notification.language"),
        ({**OPTOUT, "notification": {"disabled": "yes"}}, "notification.disabled"),
    ],
)
def test_unsubscribe_schema_and_rules(body: dict, field: str) -> None:
    problems = words(validate_unsubscribe(body))
    assert field in [p.field for p in problems], problems


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (dt.date(2024, 1, 1), "properties.v"),
        ([1, float("nan")], "properties.v[1]"),
        ({"a": {"b": 2**64}}, "properties.v.a.b"),
        ({"a": {1: "x"}}, "properties.v.a"),
        ({"a": (1, 2)}, "properties.v.a"),
    ],
)
def test_property_values_json_cannot_carry(value: object, field: str) -> None:
    problems = words(validate_custom_event({**EVENT, "properties": {"v": value}}))
    assert [p.field for p in problems] == [field]


def test_values_json_cannot_carry_never_raise() -> None:
    problems = validate_unsubscribe({**OPTOUT, "user": {"email": dt.date(2024, 1, 1)}})
    assert [p.field for p in problems] == ["user.email"]


def test_unknown_kind_has_no_validator() -> None:
    with pytest.raises(ValueError, match="no v1 body"):
        validate_kind_payload("users", {})


def test_event_age() -> None:
    now = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    at = {"occurredAt": "2024-04-30T23:59:59Z"}
    assert event_age(at, now).old is True
    assert event_age({"occurredAt": "2024-05-01T00:00:01Z"}, now).old is False
    assert event_age({}, now).old is False
    assert event_age(at, now, 12.5).filtered is None
    assert (
        event_age(at, now, 12).filtered == "occurred more than 12 hours ago (max_event_age_hours)"
    )
    naive_now = now.replace(tzinfo=None)
    assert event_age(at, naive_now).old is True


def _bodies() -> dict[str, dict[str, Any]]:
    """One body per kind, built by the planner from mappings as a user writes them."""
    context = KindContext(stream="s", key_properties=("id",))
    record = {
        "id": 1,
        "email": "a@b.co",
        "phone": "+12025550123",
        "client_user_id": "c1",
        "at": "2024-05-01T14:30:00Z",
        "name": "Order Shipped",
        "total": 9.5,
        "lines": [{"pid": "p", "vid": "v", "price": 9.5, "qty": 1, "title": "T"}],
    }
    item = {
        "productId": "pid",
        "productVariantId": "vid",
        "price": "price",
        "quantity": "qty",
        "name": "title",
    }
    ids = {
        "email": "email",
        "phone": "phone",
        "clientUserId": "client_user_id",
        "customIdentifiers": {"loyalty": "id"},
    }
    raws = {
        "custom_event": {
            "event_type_field": "name",
            "identifiers": ids,
            "properties": {"total": "total", "lines": "lines"},
            "occurred_at": "at",
        },
        "purchase": {
            "items": "lines",
            "item": item,
            "order_id": "id",
            "occurred_at": "at",
            "identifiers": ids,
        },
        "add_to_cart": {"items": "lines", "item": item, "identifiers": ids},
        "product_view": {"items": "lines", "item": item, "identifiers": ids},
        "unsubscribe": {"channel": "ALL"},
    }
    bodies = {}
    for kind, raw in raws.items():
        built = plan_record(record, compile_kind_mapping({"kind": kind, **raw}), context)  # type: ignore[arg-type]
        assert built.outcome == "send", built
        bodies[kind] = built.payload
    return bodies


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_every_body_has_the_spec_required_fields(kind: str) -> None:
    body = _bodies()[kind]
    assert REQUIRED[kind] <= set(body)
    for item in body.get("items", ()):
        assert set(item) >= REQUIRED_ITEM
        assert all("value" in price for price in item["price"])
    user = body["user"]
    assert {"phone", "email", "externalIdentifiers"} & set(user)  # one of them, says the spec


SPEC_REQUESTS = {
    "custom_event": ("/events/custom", "post"),
    "purchase": ("/events/ecommerce/purchase", "post"),
    "add_to_cart": ("/events/ecommerce/add-to-cart", "post"),
    "product_view": ("/events/ecommerce/product-view", "post"),
    "unsubscribe": ("/subscriptions/unsubscribe", "post"),
}


@pytest.mark.parametrize("kind", sorted(SPEC_REQUESTS))
def test_every_body_passes_the_published_request_schema(kind: str) -> None:
    if not V1_SPEC.is_file():
        reason = f"Attentive's v1 OpenAPI document is not at {V1_SPEC}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    spec = json.loads(V1_SPEC.read_text())
    path, method = SPEC_REQUESTS[kind]
    request = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    schema = {**request, "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(_bodies()[kind])
