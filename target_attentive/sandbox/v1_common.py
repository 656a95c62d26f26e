"""What every v1 endpoint of the sandbox checks alike: the user a body is about, its time.

Part of the sandbox's own reading of the v1 contract (``v1_rules``): pure functions that
return an error message (``"<field path>: <problem>"``) or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Any

from .checks import contact, custom_identifiers, identifier, kind_of, object_with, unknown

EVENT_USER_KEYS = ("phone", "email", "externalIdentifiers")

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
        return f"{path}: required object with phone, email or externalIdentifiers ({what(value)})"
    error = unknown(path, value, EVENT_USER_KEYS) or address(path, value)
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


def address(path: str, user: dict[str, Any]) -> str | None:
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


def what(value: Any) -> str:
    """What a required value is instead: missing, or of another kind."""
    return "missing" if value is None else f"got {kind_of(value)}"


def body_with(body: Any, allowed: Collection[str]) -> str | None:
    """The body is an object of only these fields."""
    return object_with("", body, allowed)


def occurred(body: dict[str, Any]) -> str | None:
    """The ``occurredAt`` of a body, when present."""
    return occurred_at(body["occurredAt"])[1] if "occurredAt" in body else None
