"""The sandbox's own reading of what Attentive's v1 event and unsubscribe endpoints refuse.

Written from the v1 contract (docs: attentive-api.md, v1 section), independently of the
target's ``kinds`` package, so that the target's checks meet a second implementation. Every
function is pure and returns an error message (``"<field path>: <problem>"``) or ``None``.

Choices where the contract is silent, made strict so that a client's slip fails loudly:
unknown fields are refused everywhere (the spec closes only ``user``); ``occurredAt`` needs an
offset on every endpoint (``Z``, ``+hh:mm`` or the ``+hhmm`` of the ecommerce examples);
``items`` may not be empty; a subscription needs both ``type`` and ``channel``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Any

from .checks import contact, custom_identifiers, identifier, kind_of, object_with, text, unknown

EVENT_TYPE_FORBIDDEN = frozenset("\"'(){}[]\\|,")
PROPERTY_KEY_FORBIDDEN = frozenset('"{}[]\\|')
MAX_PROPERTY_KEYS = 200  # per event type; more are saved but not usable in journeys
SUBSCRIPTION_TYPES = ("MARKETING", "TRANSACTIONAL", "CHECKOUT_ABANDONED")
CHANNELS = ("TEXT", "EMAIL")
ADDRESS_OF_CHANNEL = {"TEXT": "phone", "EMAIL": "email"}
NOTIFICATION_LANGUAGES = ("en-US", "fr-CA")
SALES_CHANNEL_TYPES = ("WEB", "IOS_APP", "ANDROID_APP", "IN_STORE", "PHONE", "OTHER", "")
INT64 = (-(2**63), 2**63 - 1)

CUSTOM_EVENT_KEYS = ("type", "user", "properties", "occurredAt", "externalEventId")
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
EVENT_USER_KEYS = ("phone", "email", "externalIdentifiers")
UNSUBSCRIBE_KEYS = ("user", "subscriptions", "notification")

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def occurred_at(value: Any, path: str = "occurredAt") -> tuple[float | None, str | None]:
    """An RFC 3339 date-time with its offset as epoch seconds, or the error."""
    if not isinstance(value, str):
        return None, f"{path}: must be an RFC 3339 date-time string, got {kind_of(value)}"
    match = _DATE_TIME.fullmatch(value)
    if not match:
        return None, f"{path}: {value!r} is not an RFC 3339 date-time (2024-05-01T14:30:00Z)"
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_h, off_m = match.groups()[6:]
    if not zulu and not sign:
        return None, f"{path}: {value!r} has no UTC offset (end it with Z or +hh:mm)"
    offset = timedelta(0)
    if sign:
        if int(off_h) > 23 or int(off_m) > 59:
            return None, f"{path}: {value!r} has an offset out of range"
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        offset = -offset if sign == "-" else offset
    try:
        leap = second == 60
        moment = datetime(
            year, month, day, hour, minute, 59 if leap else second, tzinfo=timezone(offset)
        )
    except ValueError:
        return None, f"{path}: {value!r} is not a real date and time"
    extra = (1 if leap else 0) + float("0." + fraction if fraction else 0)
    return moment.timestamp() + extra, None


def validate_event_user(value: Any, path: str = "user") -> str | None:
    """``EventUser``: phone (E.164), email or an external identifier; nothing else."""
    if not isinstance(value, dict):
        what = "missing" if value is None else f"got {kind_of(value)}"
        return f"{path}: required object with phone, email or externalIdentifiers ({what})"
    error = unknown(path, value, EVENT_USER_KEYS) or _address(path, value)
    if error:
        return error
    external = value.get("externalIdentifiers")
    if "externalIdentifiers" in value:
        error = _external(f"{path}.externalIdentifiers", external)
        if error:
            return error
    if not ({"phone", "email"} & value.keys() or external):
        return f"{path}: needs phone, email or externalIdentifiers"
    return None


def _address(path: str, user: dict[str, Any]) -> str | None:
    """The phone and email of a user object, when present."""
    for name in ("phone", "email"):
        if name in user:
            error = contact(f"{path}.{name}", name, user[name])
            if error:
                return error
    return None


def _external(path: str, value: Any) -> str | None:
    error = object_with(path, value, ("clientUserId", "customIdentifiers"))
    if error:
        return error
    if not value:
        return f"{path}: needs clientUserId or customIdentifiers (omit it instead)"
    if "clientUserId" in value:
        error = identifier(f"{path}.clientUserId", value["clientUserId"])
        if error:
            return error
    if "customIdentifiers" not in value:
        return None
    where = f"{path}.customIdentifiers"
    return custom_identifiers(where, value["customIdentifiers"], "name", "key", "v1")


def _body(body: Any, allowed: Collection[str]) -> str | None:
    return object_with("", body, allowed)


def _occurred(body: dict[str, Any]) -> str | None:
    return occurred_at(body["occurredAt"])[1] if "occurredAt" in body else None


def validate_custom_event(body: Any) -> str | None:
    """``POST /v1/events/custom``."""
    error = _body(body, CUSTOM_EVENT_KEYS)
    if error:
        return error
    if "type" not in body:
        return "type: required"
    event_type = body["type"]
    error = text("type", event_type)
    if error:
        return error
    bad = sorted(EVENT_TYPE_FORBIDDEN & set(event_type))
    if bad:
        return f"type: {event_type!r} contains {' '.join(bad)} (not allowed in an event type)"
    error = validate_event_user(body.get("user"))
    if error:
        return error
    if "properties" in body:
        error = _properties(body["properties"])
        if error:
            return error
    if "externalEventId" in body:
        error = text("externalEventId", body["externalEventId"])
        if error:
            return error
    return _occurred(body)


def _properties(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"properties: must be an object, got {kind_of(value)}"
    for key in value:
        if not key.strip():
            return "properties: property names must not be empty"
        bad = sorted(PROPERTY_KEY_FORBIDDEN & set(key))
        if bad:
            return f"properties.{key}: the name contains {' '.join(bad)} (not allowed)"
    return None


def validate_ecommerce(body: Any, purchase: bool) -> str | None:
    """``POST /v1/events/ecommerce/{product-view,add-to-cart,purchase}``."""
    error = _body(body, PURCHASE_KEYS if purchase else ECOMMERCE_KEYS)
    if error:
        return error
    items = body.get("items")
    if not isinstance(items, list):
        what = "missing" if items is None else f"got {kind_of(items)}"
        return f"items: required array of products ({what})"
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
    return _occurred(body)


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


def validate_unsubscribe(body: Any) -> str | None:
    """``POST /v1/subscriptions/unsubscribe``; a channel needs the address that finds it."""
    error = _body(body, UNSUBSCRIBE_KEYS)
    if error:
        return error
    user = body.get("user")
    if not isinstance(user, dict):
        what = "missing" if user is None else f"got {kind_of(user)}"
        return f"user: required object with phone or email ({what})"
    if "externalIdentifiers" in user:
        return "user.externalIdentifiers: unknown field (an unsubscribe takes phone or email)"
    error = unknown("user", user, ("phone", "email")) or _address("user", user)
    if error:
        return error
    if not user:
        return "user: needs phone or email"
    if "subscriptions" in body:
        error = _subscriptions(body["subscriptions"], user)
        if error:
            return error
    if "notification" in body:
        return _notification(body["notification"])
    return None


def _subscriptions(value: Any, user: dict[str, Any]) -> str | None:
    if not isinstance(value, list):
        return f"subscriptions: must be an array of {{type, channel}}, got {kind_of(value)}"
    for index, item in enumerate(value):
        here = f"subscriptions[{index}]"
        error = object_with(here, item, ("type", "channel"))
        if error:
            return error
        if item.get("type") not in SUBSCRIPTION_TYPES:
            choices = ", ".join(SUBSCRIPTION_TYPES)
            return f"{here}.type: must be one of {choices}, got {item.get('type')!r}"
        channel = item.get("channel")
        if channel not in CHANNELS:
            return f"{here}.channel: must be TEXT or EMAIL, got {channel!r}"
        address = ADDRESS_OF_CHANNEL[channel]
        if address not in user:
            return f"{here}.channel: a {channel} subscription is found by user.{address} only"
    return None


def _notification(value: Any) -> str | None:
    error = object_with("notification", value, ("language", "disabled"))
    if error:
        return error
    if "language" in value and value["language"] not in NOTIFICATION_LANGUAGES:
        return f"notification.language: must be en-US or fr-CA, got {value['language']!r}"
    if "disabled" in value and not isinstance(value["disabled"], bool):
        return f"notification.disabled: must be a boolean, got {kind_of(value['disabled'])}"
    return None
