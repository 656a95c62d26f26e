"""Read source fields and bring their values into the forms the v1 endpoints take (pure).

Conversions raise `Invalid` with words that name no value, as in `normalize.py`, whose
text and number rules they reuse; what is new here is what events need: RFC 3339 times
with an offset, ISO 4217 currencies and event properties, which may be lists and objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from target_attentive.normalize import Invalid, to_number
from target_attentive.values import unicode_text

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_DEPTH = 32
# RFC 3339, with the "+0000" and space-separated forms taps also write.
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def to_whole(value: Any) -> int | None:
    """A whole number within 64 bits (Attentive's int64); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = value if isinstance(value, int) and not isinstance(value, bool) else to_number(value)
    if isinstance(number, float):
        # to_number gives ints within 64 bits: an integral double is a whole number beyond
        if number.is_integer():
            raise Invalid("is too large a whole number to send")
        raise Invalid("has a fraction; a whole number is needed here")
    if not INT64_MIN <= number <= INT64_MAX:
        raise Invalid("is too large a whole number to send")
    return number


def to_currency(value: Any) -> str | None:
    """An ISO 4217 code in capitals; None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("is not a currency code; write it as three letters (USD)")
    text = value.strip().upper()
    if not text:
        return None
    if not _CURRENCY.match(text):
        raise Invalid("is not an ISO 4217 currency code; write it as three letters (USD)")
    return text


def to_occurred_at(value: Any) -> str | None:
    """RFC 3339 in UTC (`...Z`); a time without an offset is read as UTC, as Singer taps mean it.

    A date alone or a number is refused rather than guessed: the time decides whether a
    journey starts, and a guessed one would start it for the wrong people.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        raise Invalid("is a date without a time; map a date-time (RFC 3339)")
    elif isinstance(value, str):
        if not value.strip():
            return None
        moment = parse_date_time(value.strip())
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        raise Invalid("is a number; map a date-time written as RFC 3339 text")
    else:
        raise Invalid("is not a date-time; map RFC 3339 text such as 2024-05-01T14:30:00Z")
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    try:
        utc = moment.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        raise Invalid("is outside the range of dates that can be sent") from None
    return utc.replace(tzinfo=None).isoformat() + "Z"


def parse_date_time(text: str) -> dt.datetime:
    """RFC 3339 text as a datetime (naive when it has no offset); `Invalid` otherwise."""
    match = _DATE_TIME.match(text)
    if not match:
        raise Invalid("is not a date-time; write it as RFC 3339 (2024-05-01T14:30:00Z)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_hours, off_minutes = match.groups()[6:]
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: dt.tzinfo | None = None
    if zulu:
        tz = dt.timezone.utc
    elif sign:
        if int(off_hours) > 23 or int(off_minutes) > 59:
            raise Invalid("has an offset out of range; write it as +hh:mm")
        offset = dt.timedelta(hours=int(off_hours), minutes=int(off_minutes))
        tz = dt.timezone(-offset if sign == "-" else offset)
    try:
        # A leap second (:60) is RFC 3339 but not a Python time: it is the next second.
        leap = second == 60
        moment = dt.datetime(year, month, day, hour, minute, 59 if leap else second, micro, tz)
        return moment + dt.timedelta(seconds=1) if leap else moment
    except (ValueError, OverflowError):
        raise Invalid("is not a real date and time (a month, day or hour out of range)") from None


def to_property(value: Any, depth: int = 0) -> Any:
    """An event property as JSON: scalars, and lists and objects (which reach email only).

    None at the top is absent; inside a list or object it stays a JSON null.
    """
    if depth > MAX_DEPTH:
        raise Invalid(f"nests deeper than {MAX_DEPTH} levels; flatten it with a stream map")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return unicode_text(value)
    if isinstance(value, (int, float, Decimal)):
        return to_number(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_property(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise Invalid("is an object with a key that is not text")
        return {unicode_text(key): to_property(item, depth + 1) for key, item in value.items()}
    raise Invalid(f"is a {type(value).__name__}, which JSON cannot carry; map text or numbers")
