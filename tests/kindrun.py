"""Singer input and mappings for the v1 kinds (issue 15), and reading the sandbox's v1 side."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import orjson

NOW = dt.datetime.now(dt.timezone.utc)
RECENT = (NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
OLD = (NOW - dt.timedelta(hours=30)).isoformat().replace("+00:00", "Z")

_TEXT = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "string", "null"]}
SCHEMAS: dict[str, dict[str, Any]] = {
    "app_events": {
        "properties": {
            "id": {"type": "integer"},
            "email": _TEXT,
            "name": _TEXT,
            "at": _TEXT,
            "plan": _TEXT,
            "seats": _NUMBER,
        },
        "key_properties": ["id"],
    },
    "orders": {
        "properties": {
            "id": {"type": "integer"},
            "email": _TEXT,
            "phone": _TEXT,
            "created_at": _TEXT,
            "currency": _TEXT,
            "lines": {"type": ["array", "null"]},
        },
        "key_properties": ["id"],
    },
    "cart_lines": {
        "properties": {
            "id": {"type": "integer"},
            "email": _TEXT,
            "sku": _TEXT,
            "variant": _TEXT,
            "price": _NUMBER,
            "at": _TEXT,
        },
        "key_properties": ["id"],
    },
    "people": {
        "properties": {"email": _TEXT, "phone": _TEXT, "sms": {"type": ["boolean", "null"]}},
        "key_properties": [],
    },
    "consent": {
        "properties": {
            "id": {"type": "integer"},
            "email": _TEXT,
            "phone": _TEXT,
            "channel": _TEXT,
            "opted_out": {"type": ["boolean", "null"]},
        },
        "key_properties": ["id"],
    },
}

MAPPINGS: dict[str, dict[str, Any]] = {
    "app_events": {
        "kind": "custom_event",
        "event_type_field": "name",
        "identifiers": {"email": "email"},
        "occurred_at": "at",
        "properties": {"plan": "plan", "seats": "seats"},
    },
    "orders": {
        "kind": "purchase",
        "identifiers": {"email": "email", "phone": "phone"},
        "occurred_at": "created_at",
        "order_id": "id",
        "currency_field": "currency",
        "items": "lines",
        "item": {"productId": "sku", "productVariantId": "variant", "price": "price"},
    },
    "cart_lines": {
        "kind": "add_to_cart",
        "identifiers": {"email": "email"},
        "occurred_at": "at",
        "item": {"productId": "sku", "productVariantId": "variant", "price": "price"},
    },
    "views": {
        "kind": "product_view",
        "identifiers": {"email": "email"},
        "occurred_at": "at",
        "item": {"productId": "sku", "productVariantId": "variant", "price": "price"},
    },
    "consent": {
        "kind": "unsubscribe",
        "identifiers": {"email": "email", "phone": "phone"},
        "channel_field": "channel",
        "when": "opted_out",
    },
}


def schema_line(stream: str) -> str:
    spec = SCHEMAS["cart_lines" if stream == "views" else stream]
    return json.dumps(
        {
            "type": "SCHEMA",
            "stream": stream,
            "schema": {"type": "object", "properties": spec["properties"]},
            "key_properties": spec["key_properties"],
        }
    )


def lines_for(streams: dict[str, Iterable[dict[str, Any]]], *, state_every: int = 0) -> list[str]:
    """SCHEMA lines, then each stream's records, a STATE every `state_every` and at the end."""
    lines = [schema_line(stream) for stream in streams]
    count = 0
    for stream, records in streams.items():
        for record in records:
            lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
            count += 1
            if state_every and count % state_every == 0:
                lines.append(json.dumps({"type": "STATE", "value": {"n": count}}))
    lines.append(json.dumps({"type": "STATE", "value": {"n": count, "end": True}}))
    return lines


def interleaved(records: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Records of several streams in the given order (schemas first), a STATE at the end."""
    pairs = list(records)
    lines = [schema_line(stream) for stream in dict.fromkeys(s for s, _ in pairs)]
    lines += [json.dumps({"type": "RECORD", "stream": s, "record": r}) for s, r in pairs]
    lines.append(json.dumps({"type": "STATE", "value": {"n": len(pairs)}}))
    return lines


def v1_accepted(sandbox: Any) -> list[dict[str, Any]]:
    """The v1 bodies the sandbox accepted: `{t, endpoint, payload}` each."""
    raw = sandbox._control("GET", "/_sandbox/v1/accepted")
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def v1_report(sandbox: Any) -> dict[str, Any]:
    return sandbox.report()["v1"]


def v1_requests(report: dict[str, Any], endpoint: str) -> int:
    return report["endpoints"][endpoint]["requests"]
