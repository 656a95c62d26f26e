"""kinds.custom_event via plan_record: the body of POST /v1/events/custom, field by field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from target_attentive.kinds import (
    FILTERED,
    REJECTED,
    SEND,
    Built,
    CustomEventMapping,
    KindContext,
    compile_kind_mapping,
    derive_event_id,
    plan_record,
)
from target_attentive.problems import Problem

NOW = dt.datetime(2024, 5, 1, 20, 0, tzinfo=dt.timezone.utc)
CONTEXT = KindContext(stream="app_events", key_properties=("id",), now=NOW)


def mapping(**extra: object) -> CustomEventMapping:
    raw = {"kind": "custom_event", "event_type": "Order Shipped", **extra}
    compiled = compile_kind_mapping(raw)
    assert isinstance(compiled, CustomEventMapping)
    return compiled


def plan(record: dict, context: KindContext = CONTEXT, **extra: object) -> Built:
    return plan_record(record, mapping(**extra), context)


def test_full_body() -> None:
    built = plan(
        {
            "id": 7,
            "email": " Jane@Example.COM ",
            "phone": "(202) 555-0123",
            "client_user_id": 42,
            "loyalty": "L-1",
            "order": "54321",
            "lines": [{"sku": "A"}, {"sku": "B"}],
            "created_at": "2024-05-01T14:30:00-04:00",
            "event_id": "evt-1",
        },
        identifiers={
            "email": "email",
            "phone": "phone",
            "clientUserId": "client_user_id",
            "customIdentifiers": {"loyalty": "loyalty"},
        },
        properties={"Order Id": "order", "products": "lines"},
        occurred_at="created_at",
        external_event_id="event_id",
    )
    assert built.outcome == SEND, built
    assert built.payload == {
        "type": "Order Shipped",
        "user": {
            "phone": "+12025550123",
            "email": "jane@example.com",
            "externalIdentifiers": {
                "clientUserId": "42",
                "customIdentifiers": [{"name": "loyalty", "value": "L-1"}],
            },
        },
        "properties": {"Order Id": "54321", "products": [{"sku": "A"}, {"sku": "B"}]},
        "occurredAt": "2024-05-01T18:30:00Z",
        "externalEventId": "evt-1",
    }
    assert built.omissions == []
    assert built.event_id == "evt-1"
    assert built.event_key == "custom_event:evt-1"
    assert built.old is False


def test_event_type_from_a_field() -> None:
    raw = {"kind": "custom_event", "event_type_field": ["event", "name"]}
    compiled = compile_kind_mapping(raw)
    assert isinstance(compiled, CustomEventMapping)
    built = plan_record({"name": "Signed Up", "email": "a@b.co"}, compiled, CONTEXT)
    assert built.payload["type"] == "Signed Up"
    built = plan_record({"email": "a@b.co"}, compiled, CONTEXT)
    assert built.outcome == REJECTED
    assert built.problems == [Problem("type", "missing; the event type field has no value")]


def test_event_type_from_a_record_with_a_refused_character_is_rejected() -> None:
    compiled = compile_kind_mapping({"kind": "custom_event", "event_type_field": "name"})
    assert isinstance(compiled, CustomEventMapping)
    built = plan_record({"name": "Shipped (late)", "email": "a@b.co"}, compiled, CONTEXT)
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["type"]
    assert "Shipped" not in str(built.problems[0])  # reasons never quote the value


def test_derived_id_when_no_id_is_mapped() -> None:
    record = {"id": 7, "email": "a@b.co"}
    built = plan(record)
    expected = derive_event_id("app_events", record, ("id",))
    assert built.payload["externalEventId"] == expected == built.event_id
    assert built.event_key == f"custom_event:{expected}"


def test_mapped_id_missing_falls_back_to_the_derived_id() -> None:
    record = {"id": 7, "email": "a@b.co", "event_id": "  "}
    built = plan(record, external_event_id="event_id")
    assert built.outcome == SEND
    assert built.payload["externalEventId"] == derive_event_id("app_events", record, ("id",))
    assert built.omissions == []


def test_mapped_id_unreadable_is_an_omission_and_derived_instead() -> None:
    record = {"id": 7, "email": "a@b.co", "event_id": {"nested": 1}}
    built = plan(record, external_event_id="event_id")
    assert built.outcome == SEND
    assert [p.field for p in built.omissions] == ["externalEventId"]
    assert "derived id" in built.omissions[0].message


def test_bad_optional_identifier_is_omitted_and_the_event_sent() -> None:
    built = plan({"id": 1, "email": "a@b.co", "phone": "202-555-CALL"})
    assert built.outcome == SEND
    assert built.payload["user"] == {"email": "a@b.co"}
    assert built.omissions == [
        Problem("user.phone", "has letters; a phone number is digits, with an optional leading +")
    ]


def test_no_valid_identifier_rejects_with_every_reason() -> None:
    built = plan({"id": 1, "email": "not-an-email", "phone": "12"})
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["user.phone", "user.email", "user"]
    assert built.omissions == []  # folded into the problems: one outcome, each reason once


def test_client_user_id_over_100_characters_is_omitted() -> None:
    built = plan({"id": 1, "email": "a@b.co", "client_user_id": "x" * 101})
    assert built.outcome == SEND
    assert [p.field for p in built.omissions] == ["user.externalIdentifiers.clientUserId"]


def test_external_identifier_alone_is_a_user() -> None:
    built = plan({"id": 1, "clientUserId": "c-1"})
    assert built.outcome == SEND
    assert built.payload["user"] == {"externalIdentifiers": {"clientUserId": "c-1"}}


def test_property_values_become_json() -> None:
    built = plan(
        {
            "id": 1,
            "email": "a@b.co",
            "total": Decimal("19.90"),
            "count": Decimal("3"),
            "huge": 2**70,
            "when": dt.date(2024, 5, 1),
            "flag": False,
            "blank": "   ",
            "nested": {"a": [1, None, {"b": Decimal("1.5")}]},
        },
        properties={
            "total": "total",
            "count": "count",
            "huge": "huge",
            "when": "when",
            "flag": "flag",
            "blank": "blank",
            "missing": "nowhere",
            "nested": "nested",
        },
    )
    assert built.outcome == SEND
    assert built.payload["properties"] == {
        "total": 19.9,
        "count": 3,
        "huge": float(2**70),
        "when": "2024-05-01",
        "flag": False,
        "nested": {"a": [1, None, {"b": 1.5}]},
    }


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), float("inf"), {1: "x"}, {"a", "b"}, b"bytes", 10**400]
)
def test_property_value_json_cannot_carry_is_omitted(value: object) -> None:
    built = plan({"id": 1, "email": "a@b.co", "v": value}, properties={"V": "v"})
    assert built.outcome == SEND
    assert [p.field for p in built.omissions] == ["properties.V"]
    assert "properties" not in built.payload


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T14:30:00Z", "2024-05-01T14:30:00Z"),
        ("2024-05-01T14:30:00.250+02:00", "2024-05-01T12:30:00.250000Z"),
        ("2024-05-01 14:30:00+0000", "2024-05-01T14:30:00Z"),
        ("2024-05-01T14:30:00", "2024-05-01T14:30:00Z"),  # no offset: read as UTC
        (dt.datetime(2024, 5, 1, 14, 30, tzinfo=dt.timezone.utc), "2024-05-01T14:30:00Z"),
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),  # a leap second
    ],
)
def test_occurred_at_rfc3339_in_utc(value: object, expected: str) -> None:
    built = plan({"id": 1, "email": "a@b.co", "at": value}, CONTEXT, occurred_at="at")
    assert built.payload["occurredAt"] == expected


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-05-01", dt.date(2024, 5, 1), 1714573800, "2024-13-01T00:00:00Z", None],
)
def test_mapped_time_missing_or_unreadable_rejects(value: object) -> None:
    """Without it Attentive would take an old event as happening now."""
    built = plan({"id": 1, "email": "a@b.co", "at": value}, occurred_at="at")
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["occurredAt"]
    assert "takes the event as now" in built.problems[0].message


def test_old_events_flagged_and_optionally_filtered() -> None:
    record = {"id": 1, "email": "a@b.co", "at": "2024-05-01T07:00:00Z"}  # 13 hours before NOW
    built = plan(record, occurred_at="at")
    assert (built.outcome, built.old) == (SEND, True)
    keep = KindContext(stream="s", now=NOW, max_event_age_hours=24)
    built = plan(record, keep, occurred_at="at")
    assert (built.outcome, built.old) == (SEND, True)
    drop = KindContext(stream="s", now=NOW, max_event_age_hours=12)
    built = plan(record, drop, occurred_at="at")
    assert (built.outcome, built.old) == (FILTERED, True)
    assert built.filtered == "occurred more than 12 hours ago (max_event_age_hours)"
    recent = {"id": 1, "email": "a@b.co", "at": "2024-05-01T19:00:00Z"}
    built = plan(recent, drop, occurred_at="at")
    assert (built.outcome, built.old) == (SEND, False)


def test_an_event_without_a_time_is_never_old() -> None:
    built = plan(
        {"id": 1, "email": "a@b.co"}, KindContext(stream="s", now=NOW, max_event_age_hours=0)
    )
    assert (built.outcome, built.old) == (SEND, False)
