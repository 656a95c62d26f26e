"""The sandbox's own reading of what Attentive refuses with a 400.

Written from the API contract (docs: attentive-api.md), independently of the target's own
validation, so that the target's checks are tested against a second implementation.
Every function here is pure: it returns an error message (``"<field path>: <problem>"``)
or ``None``. The stateful rules (custom attribute registry) take the registry as an argument
and return what should be created; the caller applies it under its lock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from .checks import contact, custom_identifiers, kind_of, object_with

MAX_BULK_USERS = 256
MAX_CUSTOM_ATTRIBUTES = 100

TOP_LEVEL_KEYS = frozenset({"identifiers", "attributes", "subscriptions"})
SCALAR_IDENTIFIERS = ("email", "phone", "clientUserId", "shopifyId", "klaviyoId")
IDENTIFIER_KEYS = frozenset((*SCALAR_IDENTIFIERS, "customIdentifiers"))
CHANNELS = frozenset({"TEXT", "EMAIL"})
SUBSCRIPTION_KEYS = frozenset({"signUpSourceId", "channel", "singleOptIn"})

# Known keys of the nested attribute objects; value kind "str", "date" or "int".
DEMOGRAPHIC_KEYS: dict[str, str] = {
    "language": "str",
    "dateOfBirth": "date",
    "age": "int",
    "organization": "str",
    "title": "str",
    "website": "str",
}
LOCATION_KEYS: dict[str, str] = dict.fromkeys(
    (
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "latitude",
        "longitude",
        "country",
        "region",
        "timezone",
    ),
    "str",
)
LOCALE_KEYS: dict[str, str] = {"language": "str", "country": "str"}
NESTED_ATTRIBUTES: dict[str, dict[str, str]] = {
    "demographic": DEMOGRAPHIC_KEYS,
    "location": LOCATION_KEYS,
    "locale": LOCALE_KEYS,
}
ATTRIBUTE_KEYS = frozenset({"firstName", "lastName", "custom", *NESTED_ATTRIBUTES})

DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
DATETIME_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})"
    r"(?:T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?"
)

# Custom attribute types, as the sandbox's registry stores them.
BOOLEAN = "boolean"
NUMBER = "number"
DATE = "date"
STRING = "string"
ENUM = "enum"


def is_calendar_day(text: str) -> bool:
    """True for an existing YYYY-MM-DD day (the regex alone would accept 2023-02-30)."""
    if not DAY_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def is_iso_datetime(text: str) -> bool:
    """True for an ISO-8601 date or date-time (``T`` separator, optional offset)."""
    match = DATETIME_RE.fullmatch(text)
    return bool(match) and is_calendar_day(match.group(1))


def is_numeric_string(text: str) -> bool:
    """True for a decimal number written as text, like ``'24'`` or ``'-1.5e3'``."""
    return NUMBER_RE.fullmatch(text) is not None


def validate_identifiers(value: Any) -> str | None:
    """Check ``identifiers``: present, known keys, at least one usable value, right shapes."""
    if value is None:
        return "identifiers: required, and must be an object"
    error = object_with("identifiers", value, IDENTIFIER_KEYS)
    if error:
        return error
    if not value:
        return (
            "identifiers: at least one of email, phone, clientUserId, shopifyId, klaviyoId, "
            "customIdentifiers is required"
        )
    for name in SCALAR_IDENTIFIERS:
        if name in value:
            error = contact(f"identifiers.{name}", name, value[name])
            if error:
                return error
    if "customIdentifiers" in value:
        path = "identifiers.customIdentifiers"
        return custom_identifiers(path, value["customIdentifiers"], "key", "name", "v2")
    return None


def validate_attributes(value: Any) -> str | None:
    """Check the shape of ``attributes`` (custom values' types are checked against the registry
    separately, by :func:`plan_custom_attributes`)."""
    error = object_with("attributes", value, ATTRIBUTE_KEYS)
    if error:
        return error
    for name in ("firstName", "lastName"):
        if name in value and not isinstance(value[name], str):
            return f"attributes.{name}: must be a string, got {kind_of(value[name])}"
    for group, known in NESTED_ATTRIBUTES.items():
        if group in value:
            error = _nested(f"attributes.{group}", value[group], known)
            if error:
                return error
    if "custom" in value:
        return _custom_shape(value["custom"])
    return None


def _nested(path: str, value: Any, known: Mapping[str, str]) -> str | None:
    error = object_with(path, value, known)
    if error:
        return error
    for key, item in value.items():
        kind = known[key]
        where = f"{path}.{key}"
        if kind == "int":
            if isinstance(item, bool) or not isinstance(item, int):
                return f"{where}: must be an integer, got {kind_of(item)}"
        elif not isinstance(item, str):
            return f"{where}: must be a string, got {kind_of(item)}"
        elif kind == "date" and not is_calendar_day(item):
            return f"{where}: {item!r} is not a date in YYYY-MM-DD form"
    return None


def _custom_shape(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"attributes.custom: must be an object, got {kind_of(value)}"
    for key, item in value.items():
        if not key.strip():
            return "attributes.custom: attribute names must not be empty"
        if item is None or isinstance(item, (list, dict)):
            return (
                f"attributes.custom.{key}: must be a string, number or boolean, got {kind_of(item)}"
            )
    return None


def validate_subscriptions(value: Any, sign_up_sources: Collection[str] = ()) -> str | None:
    """Check ``subscriptions``; when ``sign_up_sources`` is not empty, only those ids exist."""
    if not isinstance(value, list):
        return f"subscriptions: must be an array, got {kind_of(value)}"
    for index, item in enumerate(value):
        where = f"subscriptions[{index}]"
        error = object_with(where, item, SUBSCRIPTION_KEYS)
        if error:
            return error
        source = item.get("signUpSourceId")
        if not isinstance(source, str) or not source.strip():
            got = "missing" if "signUpSourceId" not in item else f"got {kind_of(source)} {source!r}"
            return f"{where}.signUpSourceId: required non-empty string ({got})"
        if sign_up_sources and source not in sign_up_sources:
            return f"{where}.signUpSourceId: unknown sign-up source {source!r}"
        channel = item.get("channel")
        if channel not in CHANNELS:
            return f"{where}.channel: must be TEXT or EMAIL, got {channel!r}"
        if "singleOptIn" in item and not isinstance(item["singleOptIn"], bool):
            return f"{where}.singleOptIn: must be a boolean, got {kind_of(item['singleOptIn'])}"
    return None


def validate_user(body: Any, sign_up_sources: Collection[str] = ()) -> str | None:
    """Everything about one upsert body that needs no state."""
    error = object_with("", body, TOP_LEVEL_KEYS)
    if error:
        return error
    error = validate_identifiers(body.get("identifiers"))
    if error:
        return error
    if "attributes" in body:
        error = validate_attributes(body["attributes"])
        if error:
            return error
    if "subscriptions" in body:
        return validate_subscriptions(body["subscriptions"], sign_up_sources)
    return None


def validate_bulk_envelope(body: Any) -> str | None:
    """The part of a bulk request checked before the job is created; items are checked later."""
    error = object_with("", body, ("users",))
    if error:
        return error
    users = body.get("users")
    if not isinstance(users, list):
        return f"users: must be an array of 1 to {MAX_BULK_USERS} users, got {kind_of(users)}"
    if not users:
        return "users: must not be empty"
    if len(users) > MAX_BULK_USERS:
        return f"users: at most {MAX_BULK_USERS} users per request, got {len(users)}"
    return None


def infer_custom_type(value: Any) -> str:
    """The type a first value gives a custom attribute: ``'24'`` makes a number, like the API."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER
    if is_numeric_string(value):
        return NUMBER
    if is_iso_datetime(value):
        return DATE
    return STRING


def custom_value_error(name: str, stored: Mapping[str, Any], value: Any) -> str | None:
    """Whether an existing attribute takes this value.

    The value's inferred type must equal the stored one, with two allowances: numbers and
    numeric strings are both numbers, and a string attribute takes any JSON string (numeric
    or date-shaped text included). Enum attributes take only their listed string values.
    """
    kind = stored["type"]
    path = f"attributes.custom.{name}"
    if kind == ENUM:
        values = stored.get("values") or ()
        if isinstance(value, str) and value in values:
            return None
        return (
            f"{path}: attribute {name!r} is an enum; {value!r} is not one of its values "
            f"({', '.join(values)})"
        )
    if kind == STRING and isinstance(value, str):
        return None
    given = infer_custom_type(value)
    if given == kind:
        return None
    return f"{path}: attribute {name!r} is a {kind}; got a {given} value {value!r}"


def plan_custom_attributes(
    custom: Mapping[str, Any],
    registry: Mapping[str, Mapping[str, Any]],
    max_attributes: int = MAX_CUSTOM_ATTRIBUTES,
) -> tuple[str | None, dict[str, str]]:
    """Check custom values against the registry; return (error, attributes to create).

    Nothing is created when there is an error, so a refused upsert leaves the registry as it was.
    """
    new: dict[str, str] = {}
    for name, value in custom.items():
        stored = registry.get(name)
        if stored is None:
            new[name] = infer_custom_type(value)
            continue
        error = custom_value_error(name, stored, value)
        if error:
            return error, {}
    if new and len(registry) + len(new) > max_attributes:
        first = next(iter(new))
        return (
            f"attributes.custom.{first}: cannot create attribute {first!r}: the account already "
            f"has {len(registry)} of at most {max_attributes} custom attributes"
        ), {}
    return None, new
