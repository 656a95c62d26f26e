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
import json

import orjson

from target_attentive.fields import CHANNEL_IDENTIFIER, CUSTOM_IDENTIFIERS, KEY_ORDER


def person_key(identifiers: dict) -> str:
    """`name:value` of the strongest identifier; identifiers are already normalised."""
    for name in KEY_ORDER:
        value = identifiers.get(name)
        if value:
            return f"{name}:{value}"
    for item in identifiers.get(CUSTOM_IDENTIFIERS) or ():
        return custom_key(item["key"], item["value"])
    raise ValueError("a payload without identifiers has no key")


def custom_key(name: str, value: str) -> str:
    return f"custom:{name}={value}"


def identity_keys(identifiers: dict) -> dict[str, str]:
    """Every identifier as `{kind: key}`, keys written like person keys (`phone:+1...`).

    Two records are one person only when no kind disagrees; a person key is one of its
    own identity keys, so "last sent with person K" can be checked against a payload.
    """
    keys = {}
    for name, value in identifiers.items():
        if name == CUSTOM_IDENTIFIERS:
            for item in value or ():
                keys[f"custom:{item['key']}"] = custom_key(item["key"], item["value"])
        else:
            keys[name] = f"{name}:{value}"
    return keys


def identity_kind(key: str) -> str:
    """The kind of an identity key (`phone` of `phone:+1...`, `custom:x` of `custom:x=1`),
    as `identity_keys` names it."""
    if key.startswith("custom:"):
        return key.split("=", 1)[0]
    return key.split(":", 1)[0]


def optin_key(payload: dict, channel: str) -> str:
    """The address an opt-in subscribes: phone for TEXT, email for EMAIL."""
    identifiers = payload["identifiers"]
    name = CHANNEL_IDENTIFIER.get(channel, "")
    address = identifiers.get(name)
    if address:
        return f"{name}:{address}"
    return person_key(identifiers)


def payload_hash(payload: dict) -> str:
    """A digest of what the payload says about the person, opt-ins left out.

    Normalised payloads hold only what orjson writes; anything else (a whole number
    beyond 64 bits from a caller that skipped normalising) is digested through the
    standard library instead of stopping the run.
    """
    content = {k: v for k, v in payload.items() if k != "subscriptions"}
    try:
        text = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(content, sort_keys=True, default=str, allow_nan=True).encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()
