"""kinds.compile: each kind's mapping shape, and every start-up error with its setting path."""

from __future__ import annotations

import pytest

from target_attentive.kinds import (
    CustomEventMapping,
    EcommerceMapping,
    KindMappingError,
    UnsubscribeMapping,
    UsersKind,
    compile_kind_mapping,
)
from target_attentive.mapping import MappingError

WHERE = "stream_mappings.orders"
ITEM = {"productId": "product_id", "productVariantId": "variant_id", "price": "price"}


def errors(raw: object) -> list[str]:
    with pytest.raises(KindMappingError) as caught:
        compile_kind_mapping(raw, WHERE)  # type: ignore[arg-type]
    assert caught.value.problems, "an error must list its problems"
    for problem in caught.value.problems:
        assert problem.startswith(WHERE), problem
    return caught.value.problems


def only_error(raw: object) -> str:
    found = errors(raw)
    assert len(found) == 1, found
    return found[0]


def test_users_is_the_default_and_keeps_todays_path() -> None:
    assert compile_kind_mapping(None) == UsersKind(None)
    assert compile_kind_mapping({"kind": None}) == UsersKind(None)
    assert compile_kind_mapping({"kind": "users"}) == UsersKind(None)
    raw = {"identifiers": {"email": "mail"}}
    assert compile_kind_mapping(raw) == UsersKind(raw)
    marker = compile_kind_mapping({"kind": " Users ", **raw})
    assert isinstance(marker, UsersKind)
    assert marker.raw == raw  # without `kind`, which compile_mapping does not know


def test_kind_error_is_a_mapping_error() -> None:
    assert issubclass(KindMappingError, MappingError)


@pytest.mark.parametrize("kind", ["orders", 3, "", ["purchase"]])
def test_unknown_kind(kind: object) -> None:
    message = only_error({"kind": kind})
    assert message == (
        f"{WHERE}.kind: must be one of users, custom_event, purchase, add_to_cart, "
        "product_view, unsubscribe"
    )


def test_not_an_object() -> None:
    assert only_error(["kind"]) == f"{WHERE}: must be an object"


def test_custom_event_full_shape() -> None:
    mapping = compile_kind_mapping(
        {
            "kind": "custom_event",
            "event_type_field": ["event_name", "name"],
            "identifiers": {"email": "mail", "customIdentifiers": {"loyalty": "loyalty_id"}},
            "properties": {"Order Id": "order_id", "shipment": {"carrier": "carrier"}},
            "occurred_at": "created_at",
            "external_event_id": "event_id",
        },
        WHERE,
    )
    assert isinstance(mapping, CustomEventMapping)
    assert mapping.event_type is None
    assert mapping.event_type_field == ("event_name", "name")
    assert mapping.user.email == ("mail",)
    assert mapping.user.custom == (("loyalty", ("loyalty_id",)),)
    assert mapping.properties == (("Order Id", ("order_id",)), ("shipment.carrier", ("carrier",)))
    assert mapping.occurred_at == ("created_at",)
    assert mapping.external_event_id == ("event_id",)
    assert mapping.source_fields >= {"event_name", "mail", "loyalty_id", "carrier", "event_id"}


def test_custom_event_default_identifiers() -> None:
    mapping = compile_kind_mapping({"kind": "custom_event", "event_type": "Signed Up"})
    assert isinstance(mapping, CustomEventMapping)
    assert mapping.event_type == "Signed Up"
    assert mapping.user.email == ("email",)
    assert mapping.user.phone == ("phone",)
    assert mapping.user.client_user_id == ("clientUserId", "client_user_id")


def test_event_type_fixed_and_field_are_two_keys_never_both() -> None:
    message = only_error({"kind": "custom_event", "event_type": "A", "event_type_field": "t"})
    assert message == (
        f"{WHERE}: set event_type (a fixed value) or event_type_field (a source field), not both"
    )


def test_event_type_required() -> None:
    assert only_error({"kind": "custom_event"}) == (
        f"{WHERE}.event_type: required; set event_type (a fixed value) or event_type_field "
        "(a source field)"
    )


@pytest.mark.parametrize("bad", ['Order "Shipped"', "Order's", "a(b)", "a{b}", "a[b]", "a\\b"])
def test_event_type_with_refused_character_is_named(bad: str) -> None:
    message = only_error({"kind": "custom_event", "event_type": bad})
    assert message.startswith(f"{WHERE}.event_type: {bad!r} has a character Attentive refuses")


@pytest.mark.parametrize("bad", ["a|b", "a,b"])
def test_event_type_pipe_and_comma_refused(bad: str) -> None:
    assert "refuses" in only_error({"kind": "custom_event", "event_type": bad})


@pytest.mark.parametrize("name", ['Say "hi"', "a{b", "a}b", "a[0]", "back\\slash", "a|b"])
def test_property_name_attentive_refuses_is_a_startup_error_naming_it(name: str) -> None:
    raw = {"kind": "custom_event", "event_type": "E", "properties": {name: "col"}}
    message = only_error(raw)
    assert message.startswith(f"{WHERE}.properties.{name}: the property name {name!r}")


def test_property_names_attentive_takes() -> None:
    raw = {"kind": "custom_event", "event_type": "E", "properties": {"it's (ok), yes": "col"}}
    mapping = compile_kind_mapping(raw, WHERE)
    assert isinstance(mapping, CustomEventMapping)


def test_too_many_properties() -> None:
    properties = {f"p{i}": "col" for i in range(201)}
    message = only_error({"kind": "custom_event", "event_type": "E", "properties": properties})
    assert message == (
        f"{WHERE}.properties: 201 properties mapped; Attentive makes at most 200 usable per "
        "event type"
    )


def test_every_problem_listed_at_once() -> None:
    found = errors(
        {
            "kind": "custom_event",
            "event_type": "a,b",
            "identifiers": {"shopifyId": "shop"},
            "properties": {"x|y": "col", "ok": 5},
            "occurred_at": "",
            "attributes": {},
        }
    )
    assert len(found) == 7, found
    assert f"{WHERE}.identifiers: map at least one identifier (email, phone, clientUserId)" in found
    assert any(".attributes: attributes belongs to a users mapping" in p for p in found)
    assert any(
        ".identifiers.shopifyId: Attentive's v1 events take no identifier" in p for p in found
    )
    assert any(p.startswith(f"{WHERE}.properties.ok: must name a source field") for p in found)
    assert any(p.startswith(f"{WHERE}.occurred_at: must name a source field") for p in found)


def test_unknown_key_lists_what_the_kind_takes() -> None:
    message = only_error({"kind": "unsubscribe", "channel": "TEXT", "chanel": "x"})
    assert message == (
        f"{WHERE}.chanel: unknown key; unsubscribe mappings take channel, channel_field, "
        "identifiers, kind, subscription_type, subscription_type_field, when"
    )


def test_purchase_shape_with_items_list() -> None:
    mapping = compile_kind_mapping(
        {
            "kind": "purchase",
            "items": "line_items",
            "item": {**ITEM, "quantity": "qty", "name": "title", "currency": "cur"},
            "order_id": "id",
            "currency": "eur",
            "occurred_at": "created_at",
        },
        WHERE,
    )
    assert isinstance(mapping, EcommerceMapping)
    assert mapping.kind == "purchase"
    assert mapping.items == ("line_items",)
    assert not mapping.one_item_per_record
    assert dict(mapping.item)["quantity"] == ("qty",)
    assert mapping.currency == "EUR"
    assert mapping.order_id == ("id",)
    # item sources are read inside each line, so they are not the stream's fields
    assert mapping.source_fields >= {"line_items", "id", "created_at"}
    assert "qty" not in mapping.source_fields


def test_one_item_per_record() -> None:
    mapping = compile_kind_mapping({"kind": "add_to_cart", "item": ITEM}, WHERE)
    assert isinstance(mapping, EcommerceMapping)
    assert mapping.one_item_per_record
    assert {"product_id", "variant_id", "price"} <= mapping.source_fields


@pytest.mark.parametrize("kind", ["add_to_cart", "product_view"])
def test_only_purchases_take_order_id(kind: str) -> None:
    message = only_error({"kind": kind, "item": ITEM, "order_id": "id"})
    assert message.startswith(f"{WHERE}.order_id: only purchases carry an order id")


def test_item_mapping_required_with_its_required_fields() -> None:
    assert only_error({"kind": "product_view"}).startswith(f"{WHERE}.item: required")
    found = errors({"kind": "product_view", "item": {"name": "title", "sku": "sku"}})
    assert (
        f"{WHERE}.item.productId: required; name the source field of each product's productId"
        in found
    )
    assert any(p.startswith(f"{WHERE}.item.productVariantId: required") for p in found)
    assert any(p.startswith(f"{WHERE}.item.price: required") for p in found)
    assert any(
        p.startswith(f"{WHERE}.item.sku: Attentive has no product field 'sku'") for p in found
    )


@pytest.mark.parametrize("currency", ["US", "dollars", "U$D", 840])
def test_fixed_currency_must_be_iso_4217(currency: object) -> None:
    message = only_error({"kind": "purchase", "item": ITEM, "currency": currency})
    assert message == f"{WHERE}.currency: must be an ISO 4217 code of three letters (USD)"


def test_currency_fixed_and_field_never_both() -> None:
    message = only_error(
        {"kind": "purchase", "item": ITEM, "currency": "USD", "currency_field": "c"}
    )
    assert message.endswith(
        "set currency (a fixed value) or currency_field (a source field), not both"
    )


def test_unsubscribe_shape() -> None:
    mapping = compile_kind_mapping(
        {
            "kind": "unsubscribe",
            "channel": "all",
            "subscription_type_field": "type",
            "when": "opted_out",
        },
        WHERE,
    )
    assert isinstance(mapping, UnsubscribeMapping)
    assert mapping.channel == "ALL"
    assert mapping.subscription_type is None
    assert mapping.subscription_type_field == ("type",)
    assert mapping.when == ("opted_out",)
    assert mapping.user.email == ("email",) and mapping.user.phone == ("phone",)


def test_unsubscribe_channel_required_and_checked() -> None:
    assert only_error({"kind": "unsubscribe"}).startswith(f"{WHERE}.channel: required")
    assert only_error({"kind": "unsubscribe", "channel": "SMS"}) == (
        f"{WHERE}.channel: must be one of TEXT, EMAIL, ALL"
    )
    assert only_error({"kind": "unsubscribe", "channel": "TEXT", "subscription_type": "promo"}) == (
        f"{WHERE}.subscription_type: must be one of MARKETING, TRANSACTIONAL, CHECKOUT_ABANDONED"
    )


def test_unsubscribe_takes_only_phone_and_email() -> None:
    raw = {"kind": "unsubscribe", "channel": "TEXT", "identifiers": {"clientUserId": "id"}}
    found = errors(raw)
    assert found[0].startswith(
        f"{WHERE}.identifiers.clientUserId: Attentive's unsubscribe take no identifier"
    )
    assert found[1] == f"{WHERE}.identifiers: map at least one identifier (email, phone)"


def test_identifiers_must_be_an_object() -> None:
    raw = {"kind": "unsubscribe", "channel": "TEXT", "identifiers": "email"}
    assert only_error(raw) == (
        f"{WHERE}.identifiers: must be an object of identifier name to source field"
    )
