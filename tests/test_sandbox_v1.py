"""The sandbox's v1 endpoints (events, ecommerce, unsubscribe), through the app without sockets.

The arrival time is the test's to choose here, so the 12-hour rule and one-second windows are
checked exactly; ``test_sandbox_v1_http.py`` checks the same endpoints over loopback HTTP.
Each rule of the v1 contract is refused with a 400 naming the field; valid bodies are
accepted; the counters the target's tests read (events per type, repeated ids, old
events, repeated opt-outs, confirmation texts) count what arrived; every answer carries
the rate-limit headers and the unsubscribe endpoint holds its 5 requests per second.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from target_attentive.sandbox.app import SandboxApp
from target_attentive.sandbox.config import SandboxConfig
from target_attentive.sandbox.reply import Reply
from target_attentive.sandbox.v1 import V1Endpoints
from target_attentive.sandbox.v1_rules import occurred_at

T = 1_700_000_000.25  # 2023-11-14T22:13:20.25Z, the arrival time of most requests
CUSTOM = "/v1/events/custom"
VIEW = "/v1/events/ecommerce/product-view"
CART = "/v1/events/ecommerce/add-to-cart"
PURCHASE = "/v1/events/ecommerce/purchase"
UNSUB = "/v1/subscriptions/unsubscribe"
PHONE = "+13115552368"
ITEM = {"productId": "P1", "productVariantId": "V1", "price": [{"value": 19.99, "currency": "USD"}]}


@pytest.fixture
def app() -> SandboxApp:
    return SandboxApp(SandboxConfig(seed=7))


@pytest.fixture
def config(app: SandboxApp) -> SandboxConfig:
    return app.config


@pytest.fixture
def v1(app: SandboxApp) -> V1Endpoints:
    return app.v1


def call(
    app: SandboxApp,
    path: str,
    body: Any,
    *,
    t: float = T,
    key: str | None = "sandbox-key",
    method: str = "POST",
) -> Reply:
    """One request through the app, as if it arrived at ``t``."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    auth = None if key is None else f"Bearer {key}"
    return app.handle(method, path, auth, raw, t)


def message(reply: Reply) -> str:
    return orjson.loads(reply.body)["message"]


def event(**extra: Any) -> dict[str, Any]:
    return {"type": "Order Shipped", "user": {"phone": PHONE}, **extra}


def cart(**extra: Any) -> dict[str, Any]:
    return {"items": [dict(ITEM)], "user": {"email": "ann@example.com"}, **extra}


def unsub(**extra: Any) -> dict[str, Any]:
    return {"user": {"phone": PHONE}, **extra}


def headers(reply: Reply) -> dict[str, str]:
    return dict(reply.headers)


# ------------------------------------------------------------------ refused bodies

BAD_USERS: list[tuple[Any, str]] = [
    ({}, "user"),
    ("+13115552368", "user"),
    ({"clientUserId": "u1"}, "user.clientUserId"),
    ({"phone": "13115552368"}, "user.phone"),
    ({"phone": None}, "user.phone"),
    ({"phone": 13115552368}, "user.phone"),
    ({"email": "not-an-email"}, "user.email"),
    ({"email": " "}, "user.email"),
    ({"externalIdentifiers": {}}, "user.externalIdentifiers"),
    ({"externalIdentifiers": {"shopifyId": "1"}}, "user.externalIdentifiers.shopifyId"),
    ({"externalIdentifiers": {"clientUserId": ""}}, "user.externalIdentifiers.clientUserId"),
    ({"externalIdentifiers": {"clientUserId": "x" * 101}}, "user.externalIdentifiers.clientUserId"),
    (
        {"externalIdentifiers": {"customIdentifiers": [{"key": "crm", "value": "1"}]}},
        "user.externalIdentifiers.customIdentifiers[0].key",
    ),
    (
        {"externalIdentifiers": {"customIdentifiers": [{"name": "crm"}]}},
        "user.externalIdentifiers.customIdentifiers[0].value",
    ),
    (
        {"externalIdentifiers": {"customIdentifiers": []}},
        "user.externalIdentifiers.customIdentifiers",
    ),
]

BAD_TIMES = [
    "2023-11-14T22:13:20",  # no offset
    "2023-11-14 22:13:20Z",  # no T
    "2023-11-14",
    "2023-02-30T10:00:00Z",
    "2023-11-14T24:00:00Z",
    "2023-11-14T10:00:00+25:00",
    "yesterday",
    1700000000,
]

REFUSED: list[tuple[str, Any, str]] = [
    (CUSTOM, b"{not json", "body"),
    (CUSTOM, b"", "body"),
    (CUSTOM, [event()], "body"),
    (CUSTOM, {"user": {"phone": PHONE}}, "type"),
    (CUSTOM, event(type=7), "type"),
    (CUSTOM, event(type="  "), "type"),
    *((CUSTOM, event(type=f"Order{c}Shipped"), "type") for c in "\"'(){}[]\\|,"),
    (CUSTOM, {"type": "Order Shipped"}, "user"),
    *((CUSTOM, event(user=user), where) for user, where in BAD_USERS),
    (CUSTOM, event(properties=["a"]), "properties"),
    (CUSTOM, event(properties={"": 1}), "properties"),
    *((CUSTOM, event(properties={f"a{c}b": 1}), f"properties.a{c}b") for c in '"{}[]\\|'),
    *((CUSTOM, event(occurredAt=when), "occurredAt") for when in BAD_TIMES),
    (CUSTOM, event(externalEventId=12), "externalEventId"),
    (CUSTOM, event(externalEventId=""), "externalEventId"),
    (CUSTOM, event(occured_at="2023-11-14T22:13:20Z"), "occured_at"),
    (VIEW, {"user": {"phone": PHONE}}, "items"),
    (VIEW, cart(items={"productId": "P1"}), "items"),
    (CART, cart(items=[]), "items"),
    (CART, cart(items=["P1"]), "items[0]"),
    *(
        (CART, cart(items=[{k: v for k, v in ITEM.items() if k != name}]), f"items[0].{name}")
        for name in ("productId", "productVariantId", "price")
    ),
    (CART, cart(items=[{**ITEM, "productId": ""}]), "items[0].productId"),
    (CART, cart(items=[{**ITEM, "productVariantId": 5}]), "items[0].productVariantId"),
    (CART, cart(items=[{**ITEM, "price": 19.99}]), "items[0].price"),
    (CART, cart(items=[{**ITEM, "price": []}]), "items[0].price"),
    (CART, cart(items=[{**ITEM, "price": [19.99]}]), "items[0].price[0]"),
    (CART, cart(items=[{**ITEM, "price": [{"currency": "USD"}]}]), "items[0].price[0].value"),
    (CART, cart(items=[{**ITEM, "price": [{"value": "19.99"}]}]), "items[0].price[0].value"),
    (CART, cart(items=[{**ITEM, "price": [{"value": True}]}]), "items[0].price[0].value"),
    (
        CART,
        cart(items=[{**ITEM, "price": [{"value": 1, "currency": "usd"}]}]),
        "items[0].price[0].currency",
    ),
    (
        CART,
        cart(items=[{**ITEM, "price": [{"value": 1, "amount": 1}]}]),
        "items[0].price[0].amount",
    ),
    (CART, cart(items=[{**ITEM, "quantity": 1.5}]), "items[0].quantity"),
    (CART, cart(items=[{**ITEM, "quantity": True}]), "items[0].quantity"),
    (CART, cart(items=[{**ITEM, "quantity": 2**63}]), "items[0].quantity"),
    (CART, cart(items=[{**ITEM, "sku": "S1"}]), "items[0].sku"),
    (CART, cart(items=[dict(ITEM), {**ITEM, "name": ""}]), "items[1].name"),
    (CART, {"items": [dict(ITEM)]}, "user"),
    *((CART, cart(user=user), where) for user, where in BAD_USERS),
    (CART, cart(orderId="o-1"), "orderId"),
    (VIEW, cart(orderId="o-1"), "orderId"),
    (PURCHASE, cart(orderId=1001), "orderId"),
    (PURCHASE, cart(salesChannel="WEB"), "salesChannel"),
    (PURCHASE, cart(salesChannel={"channelType": "FAX"}), "salesChannel.channelType"),
    *((PURCHASE, cart(occurredAt=when), "occurredAt") for when in BAD_TIMES),
    (UNSUB, {"subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]}, "user"),
    (UNSUB, unsub(user={}), "user"),
    (UNSUB, unsub(user=PHONE), "user"),
    (UNSUB, unsub(user={"phone": PHONE, "externalIdentifiers": {}}), "user.externalIdentifiers"),
    (UNSUB, unsub(user={"phone": PHONE, "clientUserId": "u1"}), "user.clientUserId"),
    (UNSUB, unsub(user={"phone": "(311) 555-2368"}), "user.phone"),
    (UNSUB, unsub(user={"email": "ann@"}), "user.email"),
    (UNSUB, unsub(subscriptions={"type": "MARKETING"}), "subscriptions"),
    (UNSUB, unsub(subscriptions=["TEXT"]), "subscriptions[0]"),
    (UNSUB, unsub(subscriptions=[{"channel": "TEXT"}]), "subscriptions[0].type"),
    (UNSUB, unsub(subscriptions=[{"type": "PROMO", "channel": "TEXT"}]), "subscriptions[0].type"),
    (UNSUB, unsub(subscriptions=[{"type": "MARKETING"}]), "subscriptions[0].channel"),
    (
        UNSUB,
        unsub(subscriptions=[{"type": "MARKETING", "channel": "ALL"}]),
        "subscriptions[0].channel",
    ),
    (
        UNSUB,
        unsub(subscriptions=[{"type": "MARKETING", "channel": "EMAIL"}]),
        "subscriptions[0].channel",
    ),
    (
        UNSUB,
        {"user": {"email": "a@b.co"}, "subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]},
        "subscriptions[0].channel",
    ),
    (
        UNSUB,
        unsub(subscriptions=[{"type": "MARKETING", "channel": "TEXT", "x": 1}]),
        "subscriptions[0].x",
    ),
    (UNSUB, unsub(notification=True), "notification"),
    (UNSUB, unsub(notification={"language": "en"}), "notification.language"),
    (UNSUB, unsub(notification={"language": "en-us"}), "notification.language"),
    (UNSUB, unsub(notification={"disabled": "true"}), "notification.disabled"),
    (UNSUB, unsub(notification={"silent": True}), "notification.silent"),
    (UNSUB, unsub(reason="moved"), "reason"),
]


@pytest.mark.parametrize(("path", "body", "where"), REFUSED)
def test_each_rule_is_refused_with_a_400_naming_the_field(
    app: SandboxApp, v1: V1Endpoints, path: str, body: Any, where: str
) -> None:
    reply = call(app, path, body)
    assert reply.status == 400, reply.body
    assert message(reply).startswith(f"{where}: "), message(reply)
    assert set(orjson.loads(reply.body)) == {"timestamp", "status", "error", "message", "path"}
    assert orjson.loads(reply.body)["path"] == path
    assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= headers(reply).keys()
    report = v1.report()
    assert v1.accepted_lines() == b""
    assert report["unsubscribes"] == 0 and report["events_by_type"] == {}
    assert sum(report["ecommerce"].values()) == 0


# ------------------------------------------------------------------ accepted bodies

ACCEPTED_EVENTS: list[tuple[str, Any]] = [
    (CUSTOM, event()),
    (CUSTOM, {"type": "Signed Up", "user": {"email": "Ann@Example.com"}}),
    (
        CUSTOM,
        {
            "type": "Order Shipped",
            "user": {
                "externalIdentifiers": {
                    "clientUserId": "u-1",
                    "customIdentifiers": [{"name": "crm", "value": "42"}],
                }
            },
            "properties": {
                "Order Id": "54321",
                "delivery_date": "May 10",
                "products": ["p1", "p2"],
                "shipment": {"carrier": "fedex", "[nested keys are not checked]": 1},
                "it's fine: (parentheses), commas": None,
            },
            "occurredAt": "2023-11-14T22:13:20.123456Z",
            "externalEventId": "37fb97a9-6cfd-4983-bd65-68d104d53b70",
        },
    ),
    (CUSTOM, event(occurredAt="2023-11-14T23:13:20+01:00")),
    (CUSTOM, event(occurredAt="2023-11-14T22:13:20+0000")),
    (CUSTOM, event(occurredAt="2016-12-31T23:59:60Z")),
    (CUSTOM, event(type="Ünïcode event — ok")),
    (VIEW, cart()),
    (VIEW, cart(items=[{**ITEM, "price": [{"value": 5}]}])),
    (CART, cart(occurredAt="2023-11-14T14:38:29-0800")),
    (
        CART,
        cart(
            items=[
                {
                    **ITEM,
                    "name": "T-Shirt",
                    "productImage": "http://cdn.example/p.png",
                    "productUrl": "http://shop.example/p",
                    "quantity": 2,
                },
                {"productId": "P2", "productVariantId": "V2", "price": [{"value": 0}]},
            ]
        ),
    ),
    (PURCHASE, cart(orderId="o-1", salesChannel={"channelType": "WEB"})),
    (PURCHASE, cart(salesChannel={"channelType": ""})),
    (PURCHASE, cart(user={"phone": PHONE, "email": "ann@example.com"})),
]


@pytest.mark.parametrize(("path", "body"), ACCEPTED_EVENTS)
def test_valid_events_are_answered_200_with_no_body(
    app: SandboxApp, v1: V1Endpoints, path: str, body: Any
) -> None:
    reply = call(app, path, body)
    assert (reply.status, reply.body) == (200, b""), reply.body
    line = orjson.loads(v1.accepted_lines())
    assert line["payload"] == body and line["t"] == pytest.approx(T)


def test_unsubscribe_without_subscriptions_ends_every_type_on_each_reachable_channel(
    app: SandboxApp,
    v1: V1Endpoints,
) -> None:
    reply = call(app, UNSUB, unsub())
    assert reply.status == 202
    answer = orjson.loads(reply.body)
    assert answer["user"] == {"phone": PHONE}
    assert [r["subscription"] for r in answer["subscriptionResponses"]] == [
        {"type": kind, "channel": "TEXT"}
        for kind in ("MARKETING", "TRANSACTIONAL", "CHECKOUT_ABANDONED")
    ]
    both = {"user": {"phone": "+13115550000", "email": "b@example.com"}, "subscriptions": []}
    answer = orjson.loads(call(app, UNSUB, both).body)
    assert {r["subscription"]["channel"] for r in answer["subscriptionResponses"]} == {
        "TEXT",
        "EMAIL",
    }
    assert len(answer["subscriptionResponses"]) == 6
    assert {r["subscriptionUnsubscribeStatus"] for r in answer["subscriptionResponses"]} == {
        "NEWLY_UNSUBSCRIBED"
    }
    report = v1.report()
    assert report["unsubscribes_from_everything"] == 2
    assert report["optouts"] == 9 and report["people_opted_out"] == 3


def test_unsubscribe_answers_only_what_was_asked(app: SandboxApp, v1: V1Endpoints) -> None:
    body = {
        "user": {"phone": PHONE, "email": "ann@example.com"},
        "subscriptions": [
            {"type": "MARKETING", "channel": "EMAIL"},
            {"type": "TRANSACTIONAL", "channel": "TEXT"},
        ],
        "notification": {"language": "fr-CA", "disabled": True},
    }
    reply = call(app, UNSUB, body)
    assert reply.status == 202
    assert orjson.loads(reply.body)["subscriptionResponses"] == [
        {
            "subscription": {"type": "MARKETING", "channel": "EMAIL"},
            "subscriptionUnsubscribeStatus": "NEWLY_UNSUBSCRIBED",
        },
        {
            "subscription": {"type": "TRANSACTIONAL", "channel": "TEXT"},
            "subscriptionUnsubscribeStatus": "NEWLY_UNSUBSCRIBED",
        },
    ]
    assert v1.report()["unsubscribes_from_everything"] == 0


# ------------------------------------------------------------------ counters


def test_events_are_counted_per_type_and_repeated_ids_once_per_repeat(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    for body in (
        event(externalEventId="e-1"),
        event(externalEventId="e-1"),
        event(externalEventId="e-1"),
        event(externalEventId="e-2"),
        event(type="Signed Up", externalEventId="e-3"),
        event(type="Signed Up"),
        event(type="signed up", properties={"tags": ["a"]}),
    ):
        assert call(app, CUSTOM, body).status == 200
    report = v1.report()
    assert report["events_by_type"] == {"Order Shipped": 4, "Signed Up": 2, "signed up": 1}
    assert report["repeated_event_ids"] == 2
    assert report["events_without_id"] == 2
    assert report["events_with_nested_properties"] == 1
    assert report["endpoints"]["custom_event"]["requests"] == 7
    assert report["endpoints"]["custom_event"]["counts"] == {"200": 7}


def test_event_types_past_200_property_keys_are_reported(app: SandboxApp, v1: V1Endpoints) -> None:
    for start in (0, 100):  # 250 distinct keys in all, no event with more than 150
        props = {f"key {n}": n for n in range(start, start + 150)}
        assert call(app, CUSTOM, event(properties=props)).status == 200
    assert v1.report()["event_types_over_property_keys"] == {"Order Shipped": 250}


def test_ecommerce_is_counted_per_kind_with_repeated_order_ids(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    two_items = [dict(ITEM), {**ITEM, "productVariantId": "V2"}]
    for path, body in (
        (VIEW, cart()),
        (CART, cart(items=two_items)),
        (PURCHASE, cart(orderId="o-1")),
        (PURCHASE, cart(orderId="o-1")),
        (PURCHASE, cart(orderId="o-2", items=two_items)),
        (PURCHASE, cart()),
    ):
        assert call(app, path, body).status == 200
    report = v1.report()
    assert report["ecommerce"] == {"product_view": 1, "add_to_cart": 1, "purchase": 4}
    assert report["ecommerce_items"] == {"product_view": 1, "add_to_cart": 2, "purchase": 5}
    assert report["repeated_order_ids"] == 1
    assert report["purchases_without_order_id"] == 1
    assert report["events_by_type"] == {}


HOUR = 3600.0


@pytest.mark.parametrize(
    ("occurred", "old"),
    [
        ("2023-11-14T10:13:19Z", True),  # 12 h 1.25 s before T
        ("2023-11-14T10:13:21Z", False),
        ("2023-11-14T15:13:19+05:00", True),  # the same instant as 10:13:19Z
        ("2023-11-14T05:13:21-05:00", False),
        ("2023-11-13T22:13:20Z", True),
        ("2023-11-15T22:13:20Z", False),  # in the future: not old
        (None, False),  # no time: Attentive takes it as now
    ],
)
def test_events_older_than_12_hours_are_accepted_and_counted(
    app: SandboxApp, v1: V1Endpoints, occurred: str | None, old: bool
) -> None:
    extra = {} if occurred is None else {"occurredAt": occurred}
    assert call(app, CUSTOM, event(**extra)).status == 200
    assert call(app, PURCHASE, cart(**extra)).status == 200
    report = v1.report()
    assert report["old_events"]["custom_event"] == int(old)
    assert report["old_events"]["purchase"] == int(old)
    assert report["old_events_total"] == 2 * int(old)


def test_occurred_at_reads_offsets_fractions_and_leap_seconds() -> None:
    assert occurred_at("2023-11-14T22:13:20.25Z") == (pytest.approx(T), None)
    assert occurred_at("2023-11-15T00:13:20.25+02:00") == (pytest.approx(T), None)
    assert occurred_at("2023-11-14T20:13:20.25-0200") == (pytest.approx(T), None)
    assert occurred_at("2016-12-31T23:59:60Z")[0] == pytest.approx(1483228800.0)


def test_a_repeated_opt_out_answers_previously_and_is_counted(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    text = {"subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]}
    statuses = []
    for body in (
        unsub(**text),
        unsub(**text),
        {"user": {"phone": PHONE, "email": "ann@example.com"}, **text},  # same phone
        {
            "user": {"email": "Ann@Example.com"},
            "subscriptions": [{"type": "MARKETING", "channel": "EMAIL"}],
        },
        {
            "user": {"email": "ann@example.com"},
            "subscriptions": [{"type": "MARKETING", "channel": "EMAIL"}],
        },
        unsub(subscriptions=[{"type": "TRANSACTIONAL", "channel": "TEXT"}]),
    ):
        reply = call(app, UNSUB, body, t=T + len(statuses))
        assert reply.status == 202
        statuses += [
            r["subscriptionUnsubscribeStatus"][0]
            for r in orjson.loads(reply.body)["subscriptionResponses"]
        ]
    assert statuses == ["N", "P", "P", "N", "P", "N"]
    report = v1.report()
    assert (report["optouts"], report["repeated_optouts"]) == (3, 3)
    assert report["people_opted_out"] == 2
    assert sorted((o["channel"], o["type"], o["count"]) for o in v1.optouts_json()) == [
        ("EMAIL", "MARKETING", 2),
        ("TEXT", "MARKETING", 3),
        ("TEXT", "TRANSACTIONAL", 1),
    ]


def test_an_opt_in_makes_the_next_marketing_opt_out_new_again(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    body = unsub(subscriptions=[{"type": "MARKETING", "channel": "TEXT"}])
    assert b"NEWLY" in call(app, UNSUB, body).body
    with v1.lock:
        v1.note_optin_locked({"email": "ann@example.com"}, "TEXT")  # no phone: nothing changes
    assert b"PREVIOUSLY" in call(app, UNSUB, body).body
    with v1.lock:
        v1.note_optin_locked({"phone": PHONE}, "TEXT")
    assert b"NEWLY" in call(app, UNSUB, body).body
    assert v1.report()["repeated_optouts"] == 1


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        (unsub(), 1),
        (unsub(notification={"disabled": False}), 1),
        (unsub(notification={"language": "en-US"}), 1),
        (unsub(notification={"disabled": True}), 0),
        (unsub(notification={"disabled": True, "language": "fr-CA"}), 0),
        (unsub(subscriptions=[{"type": "MARKETING", "channel": "TEXT"}]), 1),
        ({"user": {"email": "ann@example.com"}}, 0),  # email only: no text to send
        (
            {
                "user": {"email": "ann@example.com", "phone": PHONE},
                "subscriptions": [{"type": "MARKETING", "channel": "EMAIL"}],
            },
            0,
        ),
    ],
)
def test_confirmation_texts_are_counted_only_when_not_disabled(
    app: SandboxApp, v1: V1Endpoints, body: dict[str, Any], texts: int
) -> None:
    assert call(app, UNSUB, body).status == 202
    assert call(app, UNSUB, body, t=T + 1).status == 202
    report = v1.report()
    assert report["confirmation_texts"] == 2 * texts
    assert report["confirmation_texts_to_unsubscribed"] == texts  # the repeat texts again


# ------------------------------------------------------------------ limits and headers


def test_unsubscribe_holds_5_per_second_with_429_past_it(app: SandboxApp, v1: V1Endpoints) -> None:
    replies = [call(app, UNSUB, unsub(), t=T + n / 100) for n in range(8)]  # all in one second
    assert [r.status for r in replies] == [202] * 5 + [429] * 3
    assert [headers(r)["x-ratelimit-limit"] for r in replies] == ["5"] * 8
    remaining = [headers(r)["x-ratelimit-remaining"] for r in replies]
    assert remaining == ["4", "3", "2", "1"] + ["0"] * 4
    assert all("Retry-After" not in headers(r) for r in replies)
    assert message(replies[5]) == "Too many requests: at most 5 per second on this endpoint"
    assert call(app, CUSTOM, event(), t=T).status == 200  # the events have their own window
    assert call(app, UNSUB, unsub(), t=T + 1).status == 202  # the next second
    report = v1.report()
    assert report["unsubscribes"] == 6
    assert report["endpoints"]["unsubscribe"]["counts"] == {"202": 6, "429": 3}
    assert (report["endpoints"]["unsubscribe"]["busiest_second"]["accepted"]) == 5


def test_limits_and_retry_after_follow_the_config_at_run_time(
    app: SandboxApp, v1: V1Endpoints, config: SandboxConfig
) -> None:
    config.unsubscribe_rate_limit = 2
    config.retry_after = True
    replies = [call(app, UNSUB, unsub()) for _ in range(3)]
    assert [r.status for r in replies] == [202, 202, 429]
    assert headers(replies[2]) == {
        "x-ratelimit-limit": "2",
        "x-ratelimit-remaining": "0",
        "Retry-After": "1",
    }
    assert "Retry-After" not in headers(replies[0])


def test_each_events_path_has_its_own_150_per_second_window(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    replies = [call(app, CUSTOM, event()) for _ in range(151)]
    assert [r.status for r in replies[:150]] == [200] * 150
    assert replies[150].status == 429
    assert headers(replies[0]) == {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "149"}
    assert v1.report()["events_by_type"] == {"Order Shipped": 150}
    assert call(app, PURCHASE, cart()).status == 200
    assert call(app, CUSTOM, event(), key="another-key").status == 401


def test_refused_requests_report_the_window_without_spending_it(
    app: SandboxApp, v1: V1Endpoints
) -> None:
    assert headers(call(app, UNSUB, unsub()))["x-ratelimit-remaining"] == "4"
    for key, method, path, status in (
        (None, "POST", UNSUB, 401),
        ("wrong", "POST", UNSUB, 401),
        ("sandbox-key-without-scopes", "POST", UNSUB, 403),
        ("sandbox-key", "GET", UNSUB, 405),
        ("sandbox-key", "POST", "/v1/events/unknown", 404),
    ):
        reply = call(app, path, unsub(), key=key, method=method)
        assert reply.status == status
        assert orjson.loads(reply.body)["status"] == status
        assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= headers(reply).keys()
    assert "subscriptions:write" in message(
        call(app, UNSUB, unsub(), key="sandbox-key-without-scopes")
    )
    assert headers(call(app, UNSUB, unsub()))["x-ratelimit-remaining"] == "3"
    assert v1.report()["endpoints"]["other"]["counts"] == {"404": 1}


def test_injected_faults_apply_nothing_except_a_slow_answer(
    app: SandboxApp, v1: V1Endpoints, config: SandboxConfig
) -> None:
    config.fault_5xx_rate = 1.0
    config.fault_status = 503
    reply = call(app, CUSTOM, event())
    assert reply.status == 503 and "x-ratelimit-remaining" in headers(reply)
    config.fault_5xx_rate = 0.0
    config.fault_drop_rate = 1.0
    assert call(app, UNSUB, unsub()).drop
    config.fault_drop_rate = 0.0
    config.fault_slow_rate = 1.0
    config.slow_seconds = 7.0
    config.latency_ms = 250.0
    reply = call(app, PURCHASE, cart())
    assert (reply.status, reply.delay) == (200, 7.25)
    report = v1.report()
    assert report["events_by_type"] == {} and report["unsubscribes"] == 0
    assert report["ecommerce"]["purchase"] == 1
    assert report["endpoints"]["unsubscribe"]["counts"] == {"dropped": 1}


def test_reset_forgets_counters_windows_and_opt_outs(app: SandboxApp, v1: V1Endpoints) -> None:
    for _ in range(5):
        call(app, UNSUB, unsub())
    call(app, CUSTOM, event(externalEventId="e-1"))
    app.reset()
    report = v1.report()
    assert report["unsubscribes"] == 0 and report["events_by_type"] == {}
    assert v1.accepted_lines() == b"" and v1.optouts_json() == []
    reply = call(app, UNSUB, unsub())
    assert headers(reply)["x-ratelimit-remaining"] == "4"
    assert b"NEWLY" in reply.body
    call(app, CUSTOM, event(externalEventId="e-1"))
    assert v1.report()["repeated_event_ids"] == 0


def test_accepted_lines_page_by_offset(app: SandboxApp, v1: V1Endpoints) -> None:
    call(app, CUSTOM, event())
    call(app, UNSUB, unsub())
    call(app, PURCHASE, cart(orderId="o-1"))
    lines = [orjson.loads(line) for line in v1.accepted_lines(1).splitlines()]
    assert [line["endpoint"] for line in lines] == ["unsubscribe", "purchase"]
    assert lines[1]["payload"]["orderId"] == "o-1"
