"""kinds.ecommerce via plan_record: product views, cart additions and purchases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from target_attentive.kinds import (
    REJECTED,
    SEND,
    Built,
    EcommerceMapping,
    KindContext,
    compile_kind_mapping,
    derive_event_id,
    plan_record,
)
from target_attentive.problems import Problem

ITEM = {"productId": "product_id", "productVariantId": "variant_id", "price": "price"}
CONTEXT = KindContext(stream="orders", key_properties=("id",))


def mapping(kind: str = "purchase", **extra: object) -> EcommerceMapping:
    compiled = compile_kind_mapping({"kind": kind, **extra})
    assert isinstance(compiled, EcommerceMapping)
    return compiled


def order(**extra: object) -> dict:
    return {
        "id": 1001,
        "email": "a@b.co",
        "created_at": "2024-05-01T14:30:00Z",
        "lines": [
            {"product_id": 1, "variant_id": 11, "price": Decimal("19.99"), "qty": 2, "title": "T"},
            {"product_id": "2", "variant_id": "22", "price": "5", "currency": "eur"},
        ],
        **extra,
    }


def purchase(record: dict, context: KindContext = CONTEXT, **extra: object) -> Built:
    item = {**ITEM, "quantity": "qty", "name": "title", "currency": "currency"}
    raw = {"items": "lines", "item": item, "order_id": "id", "occurred_at": "created_at"}
    return plan_record(record, mapping("purchase", **{**raw, **extra}), context)


def test_purchase_from_an_order_with_lines() -> None:
    built = purchase(order())
    assert built.outcome == SEND, built
    assert built.payload == {
        "items": [
            {
                "productId": "1",
                "productVariantId": "11",
                "price": [{"value": 19.99, "currency": "USD"}],
                "quantity": 2,
                "name": "T",
            },
            {
                "productId": "2",
                "productVariantId": "22",
                "price": [{"value": 5, "currency": "EUR"}],  # the line's own currency wins
            },
        ],
        "user": {"email": "a@b.co"},
        "occurredAt": "2024-05-01T14:30:00Z",
        "orderId": "1001",
    }
    assert built.event_id == "1001"
    assert built.event_key == "purchase:1001"


def test_currency_precedence() -> None:
    """The line's currency, else the record's field, else the fixed one, else the default."""
    record = order(cur="gbp")
    record["lines"][1].pop("currency")
    built = purchase(record, currency_field="cur")
    assert [i["price"][0]["currency"] for i in built.payload["items"]] == ["GBP", "GBP"]
    built = purchase(order(), currency="CAD")
    assert [i["price"][0]["currency"] for i in built.payload["items"]] == ["CAD", "EUR"]
    built = purchase(order(), KindContext(stream="orders", default_currency="JPY"))
    assert built.payload["items"][0]["price"][0]["currency"] == "JPY"


@pytest.mark.parametrize("currency", ["dollars", "$", 840])
def test_unreadable_currency_rejects_rather_than_falling_back(currency: object) -> None:
    record = order()
    record["lines"][1]["currency"] = currency
    built = purchase(record)
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["items[1].price.currency"]


def test_one_item_per_record() -> None:
    compiled = mapping("add_to_cart", item={**ITEM, "quantity": "qty"})
    record = {"id": 5, "phone": "+12025550123", "product_id": "p", "variant_id": "v", "price": 3}
    built = plan_record(record, compiled, CONTEXT)
    assert built.outcome == SEND
    assert built.payload == {
        "items": [
            {"productId": "p", "productVariantId": "v", "price": [{"value": 3, "currency": "USD"}]}
        ],
        "user": {"phone": "+12025550123"},
    }
    assert built.event_id == derive_event_id("orders", record, ("id",))
    assert built.event_key == f"add_to_cart:{built.event_id}"


def test_purchase_lines_one_per_record_keep_their_own_ledger_ids() -> None:
    """Lines of one order share its order id; each line is still its own event."""
    compiled = mapping("purchase", item=ITEM, order_id="order")
    first = {"id": 1, "order": "A", "email": "a@b.co", "product_id": 1, "variant_id": 1, "price": 1}
    second = {**first, "id": 2, "product_id": 2}
    one = plan_record(first, compiled, CONTEXT)
    two = plan_record(second, compiled, CONTEXT)
    assert one.payload["orderId"] == two.payload["orderId"] == "A"
    assert one.event_id != two.event_id
    assert one.event_id.startswith("A/")


@pytest.mark.parametrize("kind", ["product_view", "add_to_cart", "purchase"])
def test_body_without_order_id_for_any_kind(kind: str) -> None:
    record = {"id": 1, "email": "a@b.co", "product_id": 1, "variant_id": 1, "price": 1}
    built = plan_record(record, mapping(kind, item=ITEM), CONTEXT)
    assert built.outcome == SEND
    assert "orderId" not in built.payload
    assert built.event_id == derive_event_id("orders", record, ("id",))


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"variant_id": 1, "price": 1}, "items[0].productId"),
        ({"product_id": 1, "price": 1}, "items[0].productVariantId"),
        ({"product_id": 1, "variant_id": 1}, "items[0].price"),
        ({"product_id": 1, "variant_id": 1, "price": "$9.99"}, "items[0].price"),
        ({"product_id": 1, "variant_id": 1, "price": float("nan")}, "items[0].price"),
        ({"product_id": [1], "variant_id": 1, "price": 1}, "items[0].productId"),
    ],
)
def test_a_product_that_cannot_be_sent_rejects_the_event(line: dict, field: str) -> None:
    built = purchase(order(lines=[line]))
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == [field]


@pytest.mark.parametrize("lines", [[], None, "not a list", {"a": 1}])
def test_items_field_without_a_list_rejects(lines: object) -> None:
    built = purchase(order(lines=lines))
    assert built.outcome == REJECTED
    assert [p.field for p in built.problems] == ["items"]


def test_an_item_that_is_not_an_object_rejects() -> None:
    built = purchase(order(lines=["sku-1"]))
    assert built.problems == [Problem("items[0]", "is not an object of product fields")]


@pytest.mark.parametrize(
    ("qty", "reason"), [("two", "a number"), (1.5, "fraction"), (2**64, "too large")]
)
def test_bad_quantity_is_omitted(qty: object, reason: str) -> None:
    record = order()
    record["lines"][0]["qty"] = qty
    built = purchase(record)
    assert built.outcome == SEND
    assert [p.field for p in built.omissions] == ["items[0].quantity"]
    assert reason in built.omissions[0].message
    assert "quantity" not in built.payload["items"][0]


def test_bad_order_id_is_omitted_and_the_derived_id_used() -> None:
    built = purchase(order(id={"x": 1}))
    assert built.outcome == SEND
    assert [p.field for p in built.omissions] == ["orderId"]
    assert "orderId" not in built.payload
    assert built.event_id == derive_event_id("orders", order(id={"x": 1}), ("id",))


def test_a_price_beyond_64_bits_is_the_nearest_double() -> None:
    record = order()
    record["lines"][0]["price"] = 10**20
    assert purchase(record).payload["items"][0]["price"][0]["value"] == 1e20
