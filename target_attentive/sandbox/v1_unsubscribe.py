"""What the sandbox's v1 unsubscribe endpoint refuses: the user, channels, notification.

Part of the sandbox's own reading of the v1 contract (``v1_rules``): pure functions that
return an error message (``"<field path>: <problem>"``) or ``None``.
"""

from __future__ import annotations

from typing import Any

from .checks import kind_of, object_with, unknown
from .v1_common import address, body_with, what

SUBSCRIPTION_TYPES = ("MARKETING", "TRANSACTIONAL", "CHECKOUT_ABANDONED")
CHANNELS = ("TEXT", "EMAIL")
ADDRESS_OF_CHANNEL = {"TEXT": "phone", "EMAIL": "email"}
NOTIFICATION_LANGUAGES = ("en-US", "fr-CA")
UNSUBSCRIBE_KEYS = ("user", "subscriptions", "notification")


def validate_unsubscribe(body: Any) -> str | None:
    """``POST /v1/subscriptions/unsubscribe``; a channel needs the address that finds it."""
    error = body_with(body, UNSUBSCRIBE_KEYS)
    if error:
        return error
    user = body.get("user")
    if not isinstance(user, dict):
        return f"user: required object with phone or email ({what(user)})"
    if "externalIdentifiers" in user:
        return "user.externalIdentifiers: unknown field (an unsubscribe takes phone or email)"
    error = unknown("user", user, ("phone", "email")) or address("user", user)
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
