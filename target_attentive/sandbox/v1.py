"""The sandbox's v1 endpoints: custom events, ecommerce events and unsubscribes.

The app hands every ``/v1/`` request to ``gate.Gate`` with this module's endpoint table, as
it does ``/v2`` ones: auth (401/403), route (404/405), rate limit (429), injected fault, and
then here the body (400, rules in ``v1_rules``).

- Limits are fixed one-second windows per endpoint and key: each events path takes
  ``event_rate_limit`` (150/s), unsubscribe ``unsubscribe_rate_limit`` (5/s).
- Events answer 200 with no body, as the spec documents. Unsubscribes answer 202 with
  ``{"user", "subscriptionResponses": [{"subscription", "subscriptionUnsubscribeStatus"}]}``.
- Opt-outs are kept per address and channel: a TEXT subscription by phone, an EMAIL one by
  email (case-insensitively), each per type. No ``subscriptions`` (or an empty list) ends
  every type on each channel the user has an address for. A repeat answers
  ``PREVIOUSLY_UNSUBSCRIBED`` and counts in ``repeated_optouts``; an opt-in seen by the v2
  upsert (:meth:`V1Endpoints.note_optin_locked`) makes the next MARKETING opt-out new again.
- A TEXT unsubscribe whose ``notification.disabled`` is not true counts one confirmation
  text (``confirmation_texts``), also when everything in it was already unsubscribed
  (``confirmation_texts_to_unsubscribed``), as the spec says Attentive texts every time.
- An event whose ``occurredAt`` is more than 12 hours before its arrival is accepted and
  counted in ``old_events`` (Attentive starts no journey for it).
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from . import v1_rules
from .encoding import dumps_line
from .gate import Route
from .reply import NO_CONTENT_TYPE, Reply
from .reply import error as reply_error
from .traffic import Traffic

CUSTOM_EVENT = "custom_event"
PRODUCT_VIEW = "product_view"
ADD_TO_CART = "add_to_cart"
PURCHASE = "purchase"
UNSUBSCRIBE = "unsubscribe"
OTHER = "other"
ECOMMERCE = (PRODUCT_VIEW, ADD_TO_CART, PURCHASE)
EVENTS = (CUSTOM_EVENT, *ECOMMERCE)
ENDPOINTS = (*EVENTS, UNSUBSCRIBE, OTHER)
EVENTS_LIMIT = "event_rate_limit"
ECOMMERCE_SCOPE = "ecommerce:write"
ROUTES: dict[str, Route] = {
    "/v1/events/custom": Route(CUSTOM_EVENT, "POST", EVENTS_LIMIT, "events:write"),
    "/v1/events/ecommerce/product-view": Route(PRODUCT_VIEW, "POST", EVENTS_LIMIT, ECOMMERCE_SCOPE),
    "/v1/events/ecommerce/add-to-cart": Route(ADD_TO_CART, "POST", EVENTS_LIMIT, ECOMMERCE_SCOPE),
    "/v1/events/ecommerce/purchase": Route(PURCHASE, "POST", EVENTS_LIMIT, ECOMMERCE_SCOPE),
    "/v1/subscriptions/unsubscribe": Route(
        UNSUBSCRIBE, "POST", "unsubscribe_rate_limit", "subscriptions:write"
    ),
}
UNKNOWN = Route(OTHER, None, EVENTS_LIMIT, "any")
JOURNEY_WINDOW_SECONDS = 12 * 3600
NEWLY = "NEWLY_UNSUBSCRIBED"
PREVIOUSLY = "PREVIOUSLY_UNSUBSCRIBED"
RE_ARMED_TYPE = "MARKETING"  # what a v2 sign-up source opt-in subscribes a person to


class V1Endpoints:
    """The v1 request bodies and their counters, apart from the v2 state they share nothing
    with but the lock (so that a report is consistent)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        with lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.traffic = Traffic(ENDPOINTS)
        self.accepted: list[tuple[float, str, bytes]] = []
        self.events_by_type: dict[str, int] = {}
        self.property_keys: dict[str, set[str]] = {}
        self.event_ids: dict[str, int] = {}
        self.order_ids: dict[str, int] = {}
        self.optouts: dict[tuple[str, str, str], int] = {}  # (address, channel, type)
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "events_without_id",
                "events_with_nested_properties",
                "repeated_event_ids",
                "repeated_order_ids",
                "purchases_without_order_id",
                "unsubscribes",
                "unsubscribes_from_everything",
                "optouts",
                "repeated_optouts",
                "confirmation_texts",
                "confirmation_texts_to_unsubscribed",
            ),
            0,
        )
        self.ecommerce: dict[str, int] = dict.fromkeys(ECOMMERCE, 0)
        self.ecommerce_items: dict[str, int] = dict.fromkeys(ECOMMERCE, 0)
        self.old_events: dict[str, int] = dict.fromkeys(EVENTS, 0)

    def reset(self) -> None:
        """Forget every request count, event and opt-out (the gate keeps the windows)."""
        with self.lock:
            self._reset_locked()

    # ----------------------------------------------------------------- bodies

    def route(self, path: str) -> tuple[Route, str]:
        return ROUTES.get(path, UNKNOWN), ""

    def serve(self, endpoint: str, _arg: str, body: bytes, path: str, t: float) -> Reply:
        """Answer an admitted request and count its answer, under the lock that applies it."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            error: str | None = f"body: not valid JSON ({exc})"
        else:
            if endpoint == CUSTOM_EVENT:
                error = v1_rules.validate_custom_event(payload)
            elif endpoint == UNSUBSCRIBE:
                error = v1_rules.validate_unsubscribe(payload)
            else:
                error = v1_rules.validate_ecommerce(payload, endpoint == PURCHASE)
        if error:
            with self.lock:
                self.traffic.record_locked(endpoint, "400", t)
            return reply_error(400, error, path)
        line = dumps_line(payload)
        with self.lock:
            self.accepted.append((t, endpoint, line))
            if endpoint == UNSUBSCRIBE:
                self.traffic.record_locked(endpoint, "202", t)
                return Reply(202, orjson.dumps(self._unsubscribe_locked(payload)))
            self.traffic.record_locked(endpoint, "200", t)
            self._event_locked(endpoint, payload, t)
        return Reply(200, b"", NO_CONTENT_TYPE)

    def _event_locked(self, endpoint: str, payload: dict[str, Any], t: float) -> None:
        if "occurredAt" in payload:
            moment, _ = v1_rules.occurred_at(payload["occurredAt"])
            if moment is not None and t - moment > JOURNEY_WINDOW_SECONDS:
                self.old_events[endpoint] += 1
        counts = self.counts
        if endpoint == CUSTOM_EVENT:
            event_type = payload["type"]
            self.events_by_type[event_type] = self.events_by_type.get(event_type, 0) + 1
            properties = payload.get("properties") or {}
            self.property_keys.setdefault(event_type, set()).update(properties)
            if any(isinstance(v, (list, dict)) for v in properties.values()):
                counts["events_with_nested_properties"] += 1
            event_id = payload.get("externalEventId")
            if event_id is None:
                counts["events_without_id"] += 1
            elif _seen_again(self.event_ids, event_id):
                counts["repeated_event_ids"] += 1
            return
        self.ecommerce[endpoint] += 1
        self.ecommerce_items[endpoint] += len(payload["items"])
        if endpoint == PURCHASE:
            order_id = payload.get("orderId")
            if order_id is None:
                counts["purchases_without_order_id"] += 1
            elif _seen_again(self.order_ids, order_id):
                counts["repeated_order_ids"] += 1

    def _unsubscribe_locked(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Record the opt-outs of one accepted body; the 202 body that answers it."""
        user = payload["user"]
        counts = self.counts
        counts["unsubscribes"] += 1
        asked = payload.get("subscriptions")
        if asked:
            pairs = [(item["type"], item["channel"]) for item in asked]
        else:
            counts["unsubscribes_from_everything"] += 1
            pairs = [
                (kind, channel)
                for channel in v1_rules.CHANNELS
                if v1_rules.ADDRESS_OF_CHANNEL[channel] in user
                for kind in v1_rules.SUBSCRIPTION_TYPES
            ]
        responses = []
        texted = texted_new = False
        for kind, channel in pairs:
            repeat = _seen_again(self.optouts, (_address(user, channel), channel, kind))
            counts["repeated_optouts" if repeat else "optouts"] += 1
            if channel == "TEXT":
                texted = True
                texted_new = texted_new or not repeat
            responses.append(
                {
                    "subscription": {"type": kind, "channel": channel},
                    "subscriptionUnsubscribeStatus": PREVIOUSLY if repeat else NEWLY,
                }
            )
        if texted and (payload.get("notification") or {}).get("disabled") is not True:
            counts["confirmation_texts"] += 1
            if not texted_new:
                counts["confirmation_texts_to_unsubscribed"] += 1
        return {"user": user, "subscriptionResponses": responses}

    def note_optin_locked(self, identifiers: dict[str, Any], channel: str) -> None:
        """A v2 opt-in arrived for this person and channel: their next MARKETING opt-out on it
        is new again. Call with the lock held, from where the upsert applies subscriptions."""
        address = v1_rules.ADDRESS_OF_CHANNEL.get(channel)
        if address and identifiers.get(address):
            self.optouts.pop((_address(identifiers, channel), channel, RE_ARMED_TYPE), None)

    # ----------------------------------------------------------------- reading

    def report(self) -> dict[str, Any]:
        """The counters, for ``/_sandbox/report`` (under a ``v1`` key)."""
        with self.lock:
            over = {
                kind: len(keys)
                for kind, keys in self.property_keys.items()
                if len(keys) > v1_rules.MAX_PROPERTY_KEYS
            }
            return {
                **self.traffic.as_json(),
                "events_by_type": dict(sorted(self.events_by_type.items())),
                "event_types_over_property_keys": over,
                "ecommerce": dict(self.ecommerce),
                "ecommerce_items": dict(self.ecommerce_items),
                "old_events": dict(self.old_events),
                "old_events_total": sum(self.old_events.values()),
                "people_opted_out": len({address for address, _, _ in self.optouts}),
                **self.counts,
            }

    def optouts_json(self) -> list[dict[str, Any]]:
        """Every (address, channel, type) opted out, with how many requests asked for it."""
        with self.lock:
            return [
                {"address": address, "channel": channel, "type": kind, "count": count}
                for (address, channel, kind), count in self.optouts.items()
            ]

    def accepted_lines(self, offset: int = 0) -> bytes:
        """Accepted bodies from ``offset`` on, one JSON line each: ``{t, endpoint, payload}``."""
        with self.lock:
            rows = self.accepted[offset:]
        out = bytearray()
        for t, endpoint, line in rows:
            out += b'{"t":%.6f,"endpoint":"%s","payload":' % (t, endpoint.encode())
            out += line + b"}\n"
        return bytes(out)


def _address(user: dict[str, Any], channel: str) -> str:
    """The address that finds a channel's subscriptions: the phone, or the email lowercased."""
    if channel == "TEXT":
        return str(user["phone"])
    return str(user["email"]).lower()


def _seen_again(seen: dict[Any, int], key: Any) -> bool:
    """Count one arrival of ``key``; True when it had arrived before."""
    count = seen.get(key, 0)
    seen[key] = count + 1
    return count > 0
