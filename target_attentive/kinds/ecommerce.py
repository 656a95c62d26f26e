"""A record as the body of a product view, an add to cart or a purchase (pure).

Products come from a list field of the record (an order with its lines) or, without
one, from the record itself (one product per record). A product that lacks its id, its
variant id or a readable price rejects the whole event rather than dropping the product:
a purchase sent with a line missing would tell Attentive a wrong order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_attentive.kinds.custom_event import occurred_at
from target_attentive.kinds.ledger_keys import derive_event_id, event_id, event_key
from target_attentive.kinds.outcome import Built, KindContext
from target_attentive.kinds.people import NO_IDENTIFIER, build_user
from target_attentive.kinds.shapes import PURCHASE, REQUIRED_ITEM_FIELDS, EcommerceMapping
from target_attentive.kinds.values import to_currency, to_whole
from target_attentive.normalize import Invalid, to_number, to_text
from target_attentive.problems import Problem
from target_attentive.reading import first_value

_OPTIONAL_TEXT = ("name", "productImage", "productUrl")


def build_ecommerce_event(
    record: Mapping, mapping: EcommerceMapping, context: KindContext
) -> Built:
    """The ecommerce body of one record, with its omissions and problems."""
    omissions: list[Problem] = []
    problems: list[Problem] = []
    payload: dict[str, Any] = {}
    currency = _record_currency(record, mapping, context, problems)
    payload["items"] = _items(record, mapping, currency, omissions, problems)
    payload["user"] = build_user(record, mapping.user, context.phone_region, omissions)
    if not payload["user"]:
        problems.append(Problem("user", NO_IDENTIFIER))
    occurred = occurred_at(record, mapping.occurred_at, problems)
    if occurred is not None:
        payload["occurredAt"] = occurred
    if mapping.kind == PURCHASE and mapping.order_id:
        try:
            order = to_text(first_value(record, mapping.order_id))
        except Invalid as exc:
            omissions.append(Problem("orderId", str(exc)))
            order = None
        if order is not None:
            payload["orderId"] = order
    derived = derive_event_id(context.stream, record, context.key_properties)
    built = Built(mapping.kind, payload, omissions)
    built.event_id = event_id(mapping.kind, payload, derived, mapping.one_item_per_record)
    built.event_key = event_key(mapping.kind, built.event_id)
    return built.reject(problems) if problems else built


def _record_currency(
    record: Mapping, mapping: EcommerceMapping, context: KindContext, problems: list[Problem]
) -> str:
    """The currency of every price without its own: a wrong one would misstate the money,
    so an unreadable currency rejects the event instead of falling back to the default."""
    if mapping.currency_field:
        try:
            found = to_currency(first_value(record, mapping.currency_field))
        except Invalid as exc:
            problems.append(Problem("items.price.currency", str(exc)))
            found = None
        if found is not None:
            return found
    return mapping.currency or context.default_currency


def _items(
    record: Mapping,
    mapping: EcommerceMapping,
    currency: str,
    omissions: list[Problem],
    problems: list[Problem],
) -> list[dict[str, Any]]:
    if mapping.one_item_per_record:
        sources: list[Any] = [record]
    else:
        sources = first_value(record, mapping.items)
        if not isinstance(sources, (list, tuple)) or not sources:
            what = "missing or empty" if not sources else "not a list"
            problems.append(Problem("items", f"{what}; the items field must hold the products"))
            return []
    items = []
    for index, source in enumerate(sources):
        where = f"items[{index}]"
        if not isinstance(source, Mapping):
            problems.append(Problem(where, "is not an object of product fields"))
            continue
        items.append(_item(source, mapping, currency, where, omissions, problems))
    return items


def _item(
    source: Mapping,
    mapping: EcommerceMapping,
    currency: str,
    where: str,
    omissions: list[Problem],
    problems: list[Problem],
) -> dict[str, Any]:
    fields = dict(mapping.item)
    item: dict[str, Any] = {}
    for name in REQUIRED_ITEM_FIELDS[:2]:
        try:
            value = to_text(first_value(source, fields[name]))
        except Invalid as exc:
            problems.append(Problem(f"{where}.{name}", str(exc)))
            continue
        if value is None:
            problems.append(Problem(f"{where}.{name}", "missing; every product needs it"))
        else:
            item[name] = value
    price = _price(source, fields, currency, where, problems)
    if price is not None:
        item["price"] = [price]
    if "quantity" in fields:
        try:
            quantity = to_whole(first_value(source, fields["quantity"]))
        except Invalid as exc:
            omissions.append(Problem(f"{where}.quantity", str(exc)))
            quantity = None
        if quantity is not None:
            item["quantity"] = quantity
    for name in _OPTIONAL_TEXT:
        if name in fields:
            try:
                text = to_text(first_value(source, fields[name]))
            except Invalid as exc:
                omissions.append(Problem(f"{where}.{name}", str(exc)))
                text = None
            if text is not None:
                item[name] = text
    return item


def _price(
    source: Mapping, fields: dict, currency: str, where: str, problems: list[Problem]
) -> dict[str, Any] | None:
    raw = first_value(source, fields["price"])
    if raw is None:
        problems.append(Problem(f"{where}.price", "missing; every product needs a price"))
        return None
    try:
        value = to_number(raw)
    except Invalid as exc:
        problems.append(Problem(f"{where}.price", str(exc)))
        return None
    if "currency" in fields:
        try:
            currency = to_currency(first_value(source, fields["currency"])) or currency
        except Invalid as exc:
            problems.append(Problem(f"{where}.price.currency", str(exc)))
    return {"value": value, "currency": currency}
