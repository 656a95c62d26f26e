"""What the sandbox's v1 ecommerce endpoints refuse: products, prices, the sales channel.

Part of the sandbox's own reading of the v1 contract (``v1_rules``): pure functions that
return an error message (``"<field path>: <problem>"``) or ``None``.
"""

from __future__ import annotations

import re
from typing import Any

from .checks import kind_of, object_with, text
from .v1_common import body_with, occurred, validate_event_user, what

SALES_CHANNEL_TYPES = ("WEB", "IOS_APP", "ANDROID_APP", "IN_STORE", "PHONE", "OTHER", "")
INT64 = (-(2**63), 2**63 - 1)

ECOMMERCE_KEYS = ("items", "user", "occurredAt")
PURCHASE_KEYS = (*ECOMMERCE_KEYS, "orderId", "salesChannel")
ITEM_KEYS = (
    "productId",
    "productVariantId",
    "productImage",
    "productUrl",
    "name",
    "price",
    "quantity",
)


def validate_ecommerce(body: Any, purchase: bool) -> str | None:
    """``POST /v1/events/ecommerce/{product-view,add-to-cart,purchase}``."""
    error = body_with(body, PURCHASE_KEYS if purchase else ECOMMERCE_KEYS)
    if error:
        return error
    items = body.get("items")
    if not isinstance(items, list):
        return f"items: required array of products ({what(items)})"
    if not items:
        return "items: must not be empty"
    for index, item in enumerate(items):
        error = _item(f"items[{index}]", item)
        if error:
            return error
    error = validate_event_user(body.get("user"))
    if error:
        return error
    if "orderId" in body:
        error = text("orderId", body["orderId"])
        if error:
            return error
    if "salesChannel" in body:
        error = _sales_channel(body["salesChannel"])
        if error:
            return error
    return occurred(body)


def _item(path: str, item: Any) -> str | None:
    error = object_with(path, item, ITEM_KEYS)
    if error:
        return error
    for name in ("productId", "productVariantId", "price"):
        if name not in item:
            return f"{path}.{name}: required"
    for name in ("productId", "productVariantId", "productImage", "productUrl", "name"):
        if name in item:
            error = text(f"{path}.{name}", item[name])
            if error:
                return error
    if "quantity" in item:
        quantity = item["quantity"]
        whole = isinstance(quantity, int) and not isinstance(quantity, bool)
        if not whole or not INT64[0] <= quantity <= INT64[1]:
            return f"{path}.quantity: must be a whole number (int64), got {quantity!r}"
    return _price(f"{path}.price", item["price"])


def _price(path: str, value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"{path}: must be a non-empty array of {{value, currency}}, got {kind_of(value)}"
    for index, price in enumerate(value):
        here = f"{path}[{index}]"
        error = object_with(here, price, ("value", "currency"))
        if error:
            return error
        if "value" not in price:
            return f"{here}.value: required"
        amount = price["value"]
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            return f"{here}.value: must be a number, got {kind_of(amount)}"
        currency = price.get("currency", "USD")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            return f"{here}.currency: {currency!r} is not an ISO 4217 code (like USD)"
    return None


def _sales_channel(value: Any) -> str | None:
    error = object_with("salesChannel", value, ("channelType",))
    if error:
        return error
    if "channelType" in value and value["channelType"] not in SALES_CHANNEL_TYPES:
        kinds = ", ".join(t for t in SALES_CHANNEL_TYPES if t)
        return f"salesChannel.channelType: must be one of {kinds}, got {value['channelType']!r}"
    return None
