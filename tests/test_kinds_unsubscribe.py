"""kinds.unsubscribe via plan_record: opt-outs, their channels, `when`, and no texts."""

from __future__ import annotations

import pytest

from target_attentive.kinds import (
    FILTERED,
    REJECTED,
    SEND,
    Built,
    KindContext,
    OptOutKey,
    UnsubscribeMapping,
    compile_kind_mapping,
    plan_record,
)
from target_attentive.problems import Problem

CONTEXT = KindContext(stream="consent")
PERSON = {"email": " A@B.co ", "phone": "(202) 555-0123"}


def optout(record: dict, context: KindContext = CONTEXT, **raw: object) -> Built:
    compiled = compile_kind_mapping({"kind": "unsubscribe", **raw})
    assert isinstance(compiled, UnsubscribeMapping)
    return plan_record(record, compiled, context)


def test_text_opt_out_sent_without_a_confirmation_text() -> None:
    built = optout(PERSON, channel="TEXT")
    assert built.outcome == SEND
    assert built.payload == {
        "user": {"phone": "+12025550123", "email": "a@b.co"},
        "subscriptions": [{"type": "MARKETING", "channel": "TEXT"}],
        "notification": {"disabled": True},
    }
    assert built.optout_keys == [OptOutKey("phone:+12025550123", "TEXT", "MARKETING")]


def test_confirmation_only_when_asked() -> None:
    asked = KindContext(stream="consent", unsubscribe_notifications=True)
    built = optout(PERSON, asked, channel="TEXT")
    assert "notification" not in built.payload


def test_all_lists_both_channels_never_an_empty_list() -> None:
    """No subscriptions would end every type, transactional messages included."""
    built = optout(PERSON, channel="ALL", subscription_type="transactional")
    assert built.payload["subscriptions"] == [
        {"type": "TRANSACTIONAL", "channel": "TEXT"},
        {"type": "TRANSACTIONAL", "channel": "EMAIL"},
    ]
    assert built.optout_keys == [
        OptOutKey("phone:+12025550123", "TEXT", "TRANSACTIONAL"),
        OptOutKey("email:a@b.co", "EMAIL", "TRANSACTIONAL"),
    ]


def test_all_with_one_address_lists_that_channel() -> None:
    built = optout({"email": "a@b.co"}, channel="ALL")
    assert built.payload["subscriptions"] == [{"type": "MARKETING", "channel": "EMAIL"}]


def test_all_with_a_bad_phone_opts_out_the_email_and_reports_the_phone() -> None:
    built = optout({"email": "a@b.co", "phone": "12"}, channel="ALL")
    assert built.outcome == SEND
    assert built.payload["subscriptions"] == [{"type": "MARKETING", "channel": "EMAIL"}]
    assert [p.field for p in built.omissions] == ["user.phone"]


def test_text_opt_out_without_a_phone_is_rejected() -> None:
    built = optout({"email": "a@b.co"}, channel="TEXT")
    assert built.outcome == REJECTED
    assert built.problems == [
        Problem("user.phone", "missing; Attentive finds TEXT subscriptions by phone only")
    ]


def test_email_opt_out_with_a_bad_email_is_rejected_with_both_reasons() -> None:
    built = optout({"email": "nope", "phone": "+12025550123"}, channel="EMAIL")
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["user.email", "user.email"]


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (True, SEND),
        ("yes", SEND),
        ("Y", SEND),
        (1, SEND),
        (False, FILTERED),
        ("no", FILTERED),
        (None, FILTERED),
        ("", FILTERED),
        (0, FILTERED),
    ],
)
def test_when_field_decides(value: object, outcome: str) -> None:
    built = optout({**PERSON, "opted_out": value}, channel="TEXT", when="opted_out")
    assert built.outcome == outcome
    if outcome == FILTERED:
        assert built.filtered == "opted_out does not say yes to opting out"
        assert built.optout_keys == []


def test_when_field_neither_yes_nor_no_rejects() -> None:
    built = optout({**PERSON, "opted_out": "maybe"}, channel="TEXT", when="opted_out")
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["when"]
    assert "maybe" not in str(built.problems[0])


def test_a_filtered_record_is_filtered_whatever_else_it_holds() -> None:
    built = optout({"phone": "bad", "opted_out": "no"}, channel="TEXT", when="opted_out")
    assert built.outcome == FILTERED
    assert built.omissions == [] and built.problems == []


def test_channel_and_type_from_fields() -> None:
    raw = {"channel_field": "channel", "subscription_type_field": "type"}
    built = optout({**PERSON, "channel": "email", "type": "checkout_abandoned"}, **raw)
    assert built.payload["subscriptions"] == [{"type": "CHECKOUT_ABANDONED", "channel": "EMAIL"}]
    built = optout({**PERSON, "channel": "email"}, **raw)
    assert built.payload["subscriptions"] == [{"type": "MARKETING", "channel": "EMAIL"}]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"channel": "SMS", "type": "MARKETING"}, "subscriptions.channel"),
        ({"type": "MARKETING"}, "subscriptions.channel"),
        ({"channel": "TEXT", "type": "PROMO"}, "subscriptions.type"),
        ({"channel": ["TEXT"]}, "subscriptions.channel"),
    ],
)
def test_unreadable_channel_or_type_rejects(record: dict, field: str) -> None:
    raw = {"channel_field": "channel", "subscription_type_field": "type"}
    built = optout({**PERSON, **record}, **raw)
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == [field]


def test_no_identifier() -> None:
    built = optout({"name": "x"}, channel="ALL")
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["user"]
