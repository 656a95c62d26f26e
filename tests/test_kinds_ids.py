"""kinds.ledger_keys: ids a replay reproduces, and the keys the ledger records."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from decimal import Decimal

from target_attentive.kinds import OptOutKey, derive_event_id, event_id, event_key, optout_keys

RECORD = {"id": 7, "email": "a@b.co", "total": Decimal("19.90"), "at": "2024-05-01T00:00:00Z"}


def test_derived_id_is_a_uuid5() -> None:
    assert uuid.UUID(derive_event_id("s", RECORD)).version == 5


def test_same_record_same_id_in_any_run() -> None:
    """Pinned: a change to how ids are derived would resend every event once."""
    assert derive_event_id("s", RECORD) == derive_event_id("s", copy.deepcopy(RECORD))
    assert derive_event_id("s", RECORD) == "985b2f4c-96ad-5fe8-bab9-fd5ebc1b5a6b"
    assert derive_event_id("s", RECORD, ("id",)) == "21f3b16a-1f01-5d47-805a-d1c73ff596a5"


def test_field_order_and_number_types_do_not_change_the_id() -> None:
    reordered = dict(reversed(list(RECORD.items())))
    assert derive_event_id("s", reordered) == derive_event_id("s", RECORD)
    as_float = {**RECORD, "total": 19.9, "id": Decimal("7.0")}
    assert derive_event_id("s", as_float) == derive_event_id("s", RECORD)


def test_different_content_different_id() -> None:
    base = derive_event_id("s", RECORD)
    assert derive_event_id("s", {**RECORD, "total": Decimal("19.91")}) != base
    assert derive_event_id("s", {**RECORD, "extra": None}) != base
    assert derive_event_id("other", RECORD) != base
    assert derive_event_id("s", {**RECORD, "id": "7"}) != base  # text is not a number


def test_key_properties_decide_when_all_have_a_value() -> None:
    keyed = derive_event_id("s", RECORD, ("id",))
    assert derive_event_id("s", {**RECORD, "total": 1}, ("id",)) == keyed
    assert derive_event_id("s", {**RECORD, "id": 8}, ("id",)) != keyed
    assert derive_event_id("other", RECORD, ("id",)) != keyed
    # a key without a value cannot tell records apart: the content decides
    missing = {**RECORD, "id": None}
    assert derive_event_id("s", missing, ("id",)) == derive_event_id("s", missing)
    assert derive_event_id("s", missing, ("id",)) != derive_event_id("s", {**missing, "total": 1})


def test_awkward_values_still_give_an_id() -> None:
    record = {
        "nan": float("nan"),
        "huge": Decimal("1e999999"),
        "set": {3, 1},
        "bytes": b"x",
        "surrogate": "\ud800",
        "when": dt.datetime(2024, 1, 1),
        1: "non-text key",
    }
    assert derive_event_id("s", record) == derive_event_id("s", copy.deepcopy(record))


def test_event_ids() -> None:
    custom = {"externalEventId": "evt"}
    assert event_id("custom_event", custom, "derived", False) == "evt"
    assert event_id("custom_event", {}, "derived", False) == "derived"
    assert event_id("purchase", {"orderId": "A1"}, "derived", False) == "A1"
    assert event_id("purchase", {"orderId": "A1"}, "derived", True) == "A1/derived"
    assert event_id("purchase", {}, "derived", False) == "derived"
    assert event_id("add_to_cart", {"orderId": "A1"}, "derived", False) == "derived"
    assert event_key("purchase", "A1") == "purchase:A1"


def test_optout_keys_by_the_address_of_each_channel() -> None:
    payload = {
        "user": {"phone": "+12025550123", "email": "a@b.co"},
        "subscriptions": [
            {"type": "MARKETING", "channel": "TEXT"},
            {"type": "TRANSACTIONAL", "channel": "EMAIL"},
        ],
    }
    assert optout_keys(payload) == [
        OptOutKey("phone:+12025550123", "TEXT", "MARKETING"),
        OptOutKey("email:a@b.co", "EMAIL", "TRANSACTIONAL"),
    ]
    assert optout_keys(
        {"user": {"email": "a@b.co"}, "subscriptions": payload["subscriptions"]}
    ) == [OptOutKey("email:a@b.co", "EMAIL", "TRANSACTIONAL")]
