"""The keys the ledger records events and opt-outs under (pure).

Attentive has no idempotency key and does not document deduplicating `externalEventId`,
so the ledger is what keeps a rerun from sending an event twice. An event needs an id
that a replay of the same record reproduces: the mapped id, the order id of a purchase,
else one derived from the stream and the record's key properties (or its whole content
when the stream declares none). An opt-out is keyed by the address it applies to, in the
form `keys.optin_key` uses for opt-ins, so the two can re-arm each other.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from target_attentive.kinds.shapes import CUSTOM_EVENT, PURCHASE

# This project's own namespace for derived event ids (uuid5, as Attentive recommends UUIDs).
EVENT_ID_NAMESPACE = uuid.UUID("5b0f7c55-2d0e-4f0b-9a43-7a7c1e0b6d21")


class OptOutKey(NamedTuple):
    """One opt-out: the address it applies to (`phone:+1...`, `email:...`), channel and type."""

    person: str
    channel: str
    type: str


def derive_event_id(stream: str, record: Mapping, key_properties: tuple[str, ...] = ()) -> str:
    """A UUID that the same record of the same stream always gets, in any run.

    With key properties that all have a value, the id follows them alone, so a record
    re-emitted with a changed column is still the one event; otherwise it follows the
    record's whole content.
    """
    values = [record.get(name) for name in key_properties]
    if key_properties and all(value is not None for value in values):
        name: Any = ["keys", stream, list(key_properties), values]
    else:
        name = ["record", stream, record]
    text = json.dumps(_canonical(name), ensure_ascii=True, separators=(",", ":"))
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, text))


def _canonical(value: Any) -> Any:
    """One form per value, whichever Python type a tap's number or time arrived as."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return ["n", _number_text(value)]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        pairs = [[str(key), _canonical(item)] for key, item in value.items()]
        return ["o", sorted(pairs, key=lambda pair: json.dumps(pair, ensure_ascii=True))]
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted(json.dumps(_canonical(item)) for item in value)]
    return ["?", type(value).__name__, repr(value)]


def _number_text(value: int | float | Decimal) -> str:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return repr(value)  # nan, inf
    if not number.is_finite():
        return str(number)
    if not number:
        return "0"
    number = number.normalize()
    # Written out in full only while that stays short: 1e999999 must not become a megabyte.
    return format(number, "f") if abs(number.adjusted()) <= 40 else str(number)


def event_id(kind: str, payload: Mapping, derived_id: str, one_item_per_record: bool) -> str:
    """The id a sent event is recorded under.

    A purchase with one product per record shares its order id with the order's other
    lines, so its id is the order id and the line's derived id together.
    """
    if kind == CUSTOM_EVENT and payload.get("externalEventId"):
        return str(payload["externalEventId"])
    if kind == PURCHASE and payload.get("orderId"):
        order = str(payload["orderId"])
        return f"{order}/{derived_id}" if one_item_per_record else order
    return derived_id


def event_key(kind: str, event_id: str) -> str:
    """The ledger key of an event: ids of different kinds may collide, so the kind leads."""
    return f"{kind}:{event_id}"


def optout_keys(payload: Mapping) -> list[OptOutKey]:
    """One key per subscription an unsubscribe body ends: TEXT by phone, EMAIL by email."""
    user = payload.get("user") or {}
    keys = []
    for item in payload.get("subscriptions") or ():
        channel = item.get("channel")
        field = "phone" if channel == "TEXT" else "email"
        address = user.get(field)
        if address:
            keys.append(OptOutKey(f"{field}:{address}", channel, item.get("type")))
    return keys
