"""Attentive's rules for v1 bodies that a JSON Schema cannot say in useful words (pure).

Each returns `Problem`s naming the field and what to change, never the value. The age of
an event is not a problem: an event older than 12 hours is accepted but starts no
journey, so it is flagged for the report, and set aside only when `max_event_age_hours`
asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_attentive.kinds.shapes import (
    EVENT_TYPE_FORBIDDEN,
    JOURNEY_WINDOW_HOURS,
    PROPERTY_KEY_FORBIDDEN,
    PURCHASE,
)
from target_attentive.kinds.values import parse_date_time
from target_attentive.normalize import Invalid
from target_attentive.problems import Problem

_ADDRESS = {"TEXT": "phone", "EMAIL": "email"}


def custom_event_rules(payload: Mapping) -> list[Problem]:
    """The characters Attentive refuses in an event type and in property names."""
    problems = []
    event_type = payload.get("type")
    if isinstance(event_type, str) and EVENT_TYPE_FORBIDDEN & set(event_type):
        problems.append(
            Problem(
                "type",
                "has a character Attentive refuses in an event type "
                "(\" ' ( ) { } [ ] \\ | ,); remove it at the source or with a stream map",
            )
        )
    properties = payload.get("properties")
    if isinstance(properties, Mapping):
        for key in properties:
            if isinstance(key, str) and PROPERTY_KEY_FORBIDDEN & set(key):
                problems.append(
                    Problem(
                        f"properties.{key}",
                        'the name has a character Attentive refuses (" { } [ ] \\ |); rename it',
                    )
                )
            problems += not_json(properties[key], f"properties.{key}")
    return problems + occurred_at_rules(payload)


def not_json(value: Any, where: str) -> list[Problem]:
    """Values a JSON body cannot carry, wherever they nest (the schema leaves values open)."""
    if isinstance(value, Mapping):
        problems = []
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(Problem(where, "has a field name that is not text"))
            else:
                problems += not_json(item, f"{where}.{key}")
        return problems
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in not_json(item, f"{where}[{index}]")]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return [Problem(where, "is not a finite number (NaN or infinity)")]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return [Problem(where, "is a whole number beyond 64 bits; send it as text or a double")]
    if value is None or isinstance(value, (str, int, float)):
        return []
    return [Problem(where, f"is a {type(value).__name__}, which JSON cannot carry")]


def ecommerce_rules(payload: Mapping, kind: str) -> list[Problem]:
    """Only purchases carry an order id; times as for every event."""
    problems = []
    if kind != PURCHASE and "orderId" in payload:
        problems.append(Problem("orderId", "only a purchase carries an order id; leave it out"))
    return problems + occurred_at_rules(payload)


def unsubscribe_rules(payload: Mapping) -> list[Problem]:
    """Attentive finds TEXT subscriptions by phone only and EMAIL ones by email only."""
    user = payload.get("user")
    subscriptions = payload.get("subscriptions")
    if not isinstance(user, Mapping) or not isinstance(subscriptions, list):
        return []
    problems = []
    for index, item in enumerate(subscriptions):
        channel = item.get("channel") if isinstance(item, Mapping) else None
        address = _ADDRESS.get(channel) if isinstance(channel, str) else None
        if address and not user.get(address):
            problems.append(
                Problem(
                    f"subscriptions[{index}].channel",
                    f"a {channel} opt-out needs user.{address}; Attentive finds it by that only",
                )
            )
    return problems


def occurred_at_rules(payload: Mapping) -> list[Problem]:
    """A time with its offset that is a real date (the schema checks only its shape)."""
    value = payload.get("occurredAt")
    if value is None:
        return []
    if not isinstance(value, str):
        return []  # the schema names the wrong type
    try:
        moment = parse_date_time(value)
    except Invalid as exc:
        return [Problem("occurredAt", str(exc))]
    if moment.tzinfo is None:
        return [Problem("occurredAt", "has no UTC offset; write it with Z or +hh:mm")]
    return []


@dataclass(frozen=True)
class EventAge:
    """Whether an event is past the journey window, and whether the run sets it aside."""

    old: bool
    filtered: str | None


def event_age(
    payload: Mapping[str, Any], now: dt.datetime, max_event_age_hours: float | None = None
) -> EventAge:
    """An event without `occurredAt` happens now, as Attentive reads it: never old."""
    value = payload.get("occurredAt")
    if not isinstance(value, str):
        return EventAge(False, None)
    try:
        moment = parse_date_time(value)
    except Invalid:
        return EventAge(False, None)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    hours_ago = (now - moment).total_seconds() / 3600
    old = hours_ago > JOURNEY_WINDOW_HOURS
    if max_event_age_hours is not None and hours_ago > max_event_age_hours:
        hours = f"{max_event_age_hours:g}"
        return EventAge(old, f"occurred more than {hours} hours ago (max_event_age_hours)")
    return EventAge(old, None)
