"""Bring mapped values into the forms Attentive accepts (pure).

Taps hand over `Decimal` numbers, `date`/`datetime` objects or strings, padded strings and
phone numbers in every local format. Attentive wants E.164 phones, ISO-8601 dates, JSON
scalars and no empty values, so this module turns one into the other or says why it
cannot. Empty and null values are dropped, never sent: a blank would clear nothing
(Attentive keeps omitted attributes) and a blank identifier can merge two people.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers

from target_attentive.problems import Problem

SCALAR_IDENTIFIERS = ("email", "phone", "clientUserId", "shopifyId", "klaviyoId")
# One @, no spaces, a domain of non-empty labels with at least one dot (a@b..c is refused).
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
# Letters in a phone field are never a person's number: phonenumbers would read the
# vanity letters of "202-555-CALL" as digits and text whoever has them.
_LETTERS = re.compile(r"[^\W\d_]")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", ""})
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?$")


class Invalid(ValueError):
    """A value that cannot be brought into Attentive's form; the message says what to change."""


_NOT_YES_NO = "is not a yes/no value; use true/false, yes/no or 1/0"


def is_truthy(value: Any) -> bool:
    """Read an opt-in flag the way source systems write them (true, "yes", 1, "Y").

    Strict on purpose: a flag decides whether a person is texted, so anything that is not
    plainly yes or no (2, "maybe", a list) raises `Invalid` instead of being guessed.
    Missing (None) and empty text mean no.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise Invalid(_NOT_YES_NO)
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return value == 1
    raise Invalid(_NOT_YES_NO)


def to_text(value: Any) -> str | None:
    """A scalar as trimmed text; numbers without a trailing `.0`; None when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal) and value.is_finite() and value != value.to_integral_value():
        return format(value, "f")  # exact, as the tap wrote it: no float rounding, no exponent
    if isinstance(value, (int, Decimal, float)):
        return str(to_number(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise Invalid(f"is {_kind(value)}; Attentive takes text here")


def to_number(value: Any) -> int | float:
    """`Decimal` from the SDK to the JSON number it stands for (integral ones as int)."""
    if isinstance(value, bool):
        raise Invalid("is true/false; a number is needed here")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Invalid("is not a finite number")
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Invalid("is not a finite number")
        return int(value) if value.is_integer() else value
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        return to_number(Decimal(value.strip()))
    raise Invalid(f"is {_kind(value)}; a number is needed here")


def to_int(value: Any) -> int | None:
    """A whole number (demographic.age is an integer in the API); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = to_number(value)
    if not isinstance(number, int):
        raise Invalid("has a fraction; a whole number is needed here")
    return number


def to_date(value: Any) -> str | None:
    """A calendar date as YYYY-MM-DD, from a date, a datetime or ISO-8601 text."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text).isoformat()
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
    raise Invalid("is not a date; write it as YYYY-MM-DD (ISO-8601)")


def to_custom_value(value: Any) -> str | int | float | bool | None:
    """A custom attribute value: Attentive takes only text, numbers and true/false."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float, Decimal)):
        return to_number(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()  # Attentive reads ISO-8601 text as a date
    raise Invalid(
        f"is {_kind(value)}; custom attributes take only text, numbers and true/false. "
        "Map a scalar field, or join the values into text with a stream map"
    )


def normalize_email(value: Any) -> str | None:
    """Trimmed and lowercased, so one person is one email; `Invalid` when not shaped like one."""
    text = to_text(value)
    if text is None:
        return None
    text = text.lower()
    if not _EMAIL_SHAPE.match(text):
        raise Invalid("is not an email address (it needs a name, one @ and a domain with a dot)")
    return text


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no valid country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def _parse_valid(text: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") of a number phonenumbers calls valid, else (None, the reason).

    The reason is text, not an exception: an exception kept in a local and raised later
    makes a reference cycle through its traceback, which holds the whole batch being read
    until the cyclic collector runs (paused during a load: collector.py).
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return None, f"is not a phone number ({_PARSE_REASONS.get(exc.error_type, 'unreadable')})"
    if not phonenumbers.is_valid_number(number):
        if text.startswith("+"):
            return None, (
                "is not a valid phone number: no number in use has these digits for its "
                "country code; check the number"
            )
        return None, (
            f"is not a valid phone number when read with default region {region}; "
            "write it in E.164 (+<country code><number>) or set default_phone_region"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


@lru_cache(maxsize=65536)
def _e164(text: str, region: str, bare_digits: bool = False) -> str:
    """Read one phone text; `bare_digits` for numbers that came as integers.

    Readings tried in order, the first valid one wins: as written (national numbers in
    `region`); then, for a leading 00, as international (00 is the international prefix
    in most of the world, though not in the US); then, for an integer, with a "+" put
    back, since an integer cannot keep the "+" of a number stored with its country code.
    The reason given is the first reading's.
    """
    if _LETTERS.search(text):
        raise Invalid("has letters; a phone number is digits, with an optional leading +")
    number, reason = _parse_valid(text, region)
    if number is None and bare_digits:
        number, _ = _parse_valid("+" + text, region)
    elif number is None and text.startswith("00"):
        number, _ = _parse_valid("+" + text[2:], region)
    if number is None:
        raise Invalid(reason)
    return number


def normalize_phone(value: Any, region: str) -> str | None:
    """E.164, or `Invalid`: a number phonenumbers calls invalid is never sent."""
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = to_number(value)
        if not isinstance(number, int) or number <= 0:
            raise Invalid("is not a phone number (a number with a fraction or sign)")
        return _e164(str(number), region, True)
    text = to_text(value)
    if text is None:
        return None
    return _e164(text, region)


_DEMOGRAPHIC_CONVERTERS = {"dateOfBirth": to_date, "age": to_int}
_LOCATION_CONVERTERS: dict[str, Any] = {}


def normalize_payload(payload: dict, region: str) -> tuple[dict, list[Problem]]:
    """Normalise a mapped payload in place; return it with the problems found."""
    problems: list[Problem] = []
    identifiers = payload.get("identifiers")
    if isinstance(identifiers, dict):
        _normalize_identifiers(identifiers, region, problems)
        if not identifiers:
            del payload["identifiers"]
    attributes = payload.get("attributes")
    if isinstance(attributes, dict):
        _normalize_attributes(attributes, problems)
        if not attributes:
            del payload["attributes"]
    subscriptions = payload.get("subscriptions")
    if isinstance(subscriptions, list):
        _normalize_subscriptions(subscriptions, problems)
        if not subscriptions:
            del payload["subscriptions"]
    elif subscriptions is None and "subscriptions" in payload:
        del payload["subscriptions"]
    return payload, problems


def _normalize_identifiers(ids: dict, region: str, problems: list[Problem]) -> None:
    for key in SCALAR_IDENTIFIERS:
        if key not in ids:
            continue
        try:
            if key == "email":
                value = normalize_email(ids[key])
            elif key == "phone":
                value = normalize_phone(ids[key], region)
            else:
                value = to_text(ids[key])
        except Invalid as exc:
            problems.append(Problem(f"identifiers.{key}", str(exc)))
            value = None
        if value is None:
            del ids[key]
        else:
            ids[key] = value
    custom = ids.get("customIdentifiers")
    if isinstance(custom, list):
        kept = []
        for index, item in enumerate(custom):
            if not isinstance(item, dict):
                kept.append(item)  # left for validation to name
                continue
            try:
                value = to_text(item.get("value"))
            except Invalid as exc:
                name = item.get("key", index)
                problems.append(Problem(f"identifiers.customIdentifiers.{name}", str(exc)))
                continue
            if value is not None:
                kept.append({**item, "value": value})
        if kept:
            ids["customIdentifiers"] = kept
        else:
            del ids["customIdentifiers"]
    elif "customIdentifiers" in ids and custom is None:
        del ids["customIdentifiers"]


def _normalize_attributes(attrs: dict, problems: list[Problem]) -> None:
    for key in ("firstName", "lastName"):
        if key in attrs:
            _convert(attrs, key, to_text, f"attributes.{key}", problems)
    for group, converters in (
        ("demographic", _DEMOGRAPHIC_CONVERTERS),
        ("location", _LOCATION_CONVERTERS),
        ("locale", _LOCATION_CONVERTERS),
    ):
        section = attrs.get(group)
        if isinstance(section, dict):
            for key in list(section):
                converter = converters.get(key, to_text)
                _convert(section, key, converter, f"attributes.{group}.{key}", problems)
            if not section:
                del attrs[group]
        elif section is None and group in attrs:
            del attrs[group]
    custom = attrs.get("custom")
    if isinstance(custom, dict):
        for key in list(custom):
            _convert(custom, key, to_custom_value, f"attributes.custom.{key}", problems)
        if not custom:
            del attrs["custom"]
    elif custom is None and "custom" in attrs:
        del attrs["custom"]


def _normalize_subscriptions(subs: list, problems: list[Problem]) -> None:
    for index, item in enumerate(subs):
        if not isinstance(item, dict):
            continue
        where = f"subscriptions[{index}]"
        if isinstance(item.get("channel"), str):
            item["channel"] = item["channel"].strip().upper()
        if "signUpSourceId" in item:
            _convert(item, "signUpSourceId", to_text, f"{where}.signUpSourceId", problems)
        if "singleOptIn" in item and not isinstance(item["singleOptIn"], bool):
            try:
                item["singleOptIn"] = is_truthy(item["singleOptIn"])
            except Invalid as exc:
                problems.append(Problem(f"{where}.singleOptIn", str(exc)))


def _convert(container: dict, key: str, converter: Any, where: str, problems: list) -> None:
    try:
        value = converter(container[key])
    except Invalid as exc:
        problems.append(Problem(where, str(exc)))
        value = None
    if value is None:
        del container[key]
    else:
        container[key] = value


def _kind(value: Any) -> str:
    """The kind of a value with its article, for messages that must not quote the value."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"
