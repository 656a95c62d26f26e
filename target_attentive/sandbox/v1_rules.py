"""The sandbox's own reading of what Attentive's v1 event and unsubscribe endpoints refuse.

Written from the v1 contract (docs: attentive-api.md, v1 section), independently of the
target's ``kinds`` package, so that the target's checks meet a second implementation. Every
function is pure and returns an error message (``"<field path>: <problem>"``) or ``None``.

Choices where the contract is silent, made strict so that a client's slip fails loudly:
unknown fields are refused everywhere (the spec closes only ``user``); ``occurredAt`` needs an
offset on every endpoint (``Z``, ``+hh:mm`` or the ``+hhmm`` of the ecommerce examples);
``items`` may not be empty; a subscription needs both ``type`` and ``channel``.

The custom event's rules are here; what every endpoint checks alike is in ``v1_common``, the
ecommerce and unsubscribe rules in ``v1_ecommerce`` and ``v1_unsubscribe``.
"""

from __future__ import annotations

from typing import Any

from .checks import kind_of, text
from .v1_common import body_with, occurred, occurred_at, validate_event_user
from .v1_ecommerce import validate_ecommerce
from .v1_unsubscribe import ADDRESS_OF_CHANNEL, CHANNELS, SUBSCRIPTION_TYPES, validate_unsubscribe

__all__ = [
    "ADDRESS_OF_CHANNEL",
    "CHANNELS",
    "MAX_PROPERTY_KEYS",
    "SUBSCRIPTION_TYPES",
    "occurred_at",
    "validate_custom_event",
    "validate_ecommerce",
    "validate_event_user",
    "validate_unsubscribe",
]

EVENT_TYPE_FORBIDDEN = frozenset("\"'(){}[]\\|,")
PROPERTY_KEY_FORBIDDEN = frozenset('"{}[]\\|')
MAX_PROPERTY_KEYS = 200  # per event type; more are saved but not usable in journeys
CUSTOM_EVENT_KEYS = ("type", "user", "properties", "occurredAt", "externalEventId")


def validate_custom_event(body: Any) -> str | None:
    """``POST /v1/events/custom``."""
    error = body_with(body, CUSTOM_EVENT_KEYS)
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
    return occurred(body)


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
