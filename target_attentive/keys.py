"""Who a payload is about, and whether it changed (pure).

A person's key is the strongest identifier the payload carries, in this order:
clientUserId, email, phone, shopifyId, klaviyoId, then the first custom identifier. It is
what the ledger remembers the last accepted payload under. When a person gains a stronger
identifier (a clientUserId appears where there was only an email), the key changes and the
person is sent once more: a harmless repeat of an upsert.

Opt-ins are remembered under the address they subscribe, not under the person key: a TEXT
opt-in under the phone number, an EMAIL opt-in under the email address (the person key
when the payload lacks it). So an opt-in is never sent twice because a key changed.
"""

from __future__ import annotations

import hashlib

import orjson

KEY_ORDER = ("clientUserId", "email", "phone", "shopifyId", "klaviyoId")


def person_key(identifiers: dict) -> str:
    """`name:value` of the strongest identifier; identifiers are already normalised."""
    for name in KEY_ORDER:
        value = identifiers.get(name)
        if value:
            return f"{name}:{value}"
    for item in identifiers.get("customIdentifiers") or ():
        return f"custom:{item['key']}={item['value']}"
    raise ValueError("a payload without identifiers has no key")


def identity_values(identifiers: dict) -> list[tuple]:
    """Every identifier as `(name, value)`: records sharing one are the same person."""
    custom = identifiers.get("customIdentifiers")
    values = [item for item in identifiers.items() if item[0] != "customIdentifiers"]
    if custom:
        values += [("custom", c["key"], c["value"]) for c in custom]
    return values


def optin_key(payload: dict, channel: str) -> str:
    """The address an opt-in subscribes: phone for TEXT, email for EMAIL."""
    identifiers = payload["identifiers"]
    address = identifiers.get("phone" if channel == "TEXT" else "email")
    if address:
        return f"{'phone' if channel == 'TEXT' else 'email'}:{address}"
    return person_key(identifiers)


def payload_hash(payload: dict) -> str:
    """A digest of what the payload says about the person, opt-ins left out."""
    content = {k: v for k, v in payload.items() if k != "subscriptions"}
    return hashlib.blake2b(
        orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()
