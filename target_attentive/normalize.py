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
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers

from target_attentive.fields import (
    ATTRIBUTE_BY_PATH,
    ATTRIBUTE_GROUPS,
    CUSTOM_ATTRIBUTES,
    CUSTOM_IDENTIFIERS,
    IDENTIFIERS,
)
from target_attentive.problems import Path, Problem

# One @, no spaces, a domain of non-empty labels with at least one dot (a@b..c is refused).
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
# Letters in a phone field are never a person's number: phonenumbers would read the
# vanity letters of "202-555-CALL" as digits and text whoever has them.
_LETTERS = re.compile(r"[^\W\d_]")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", ""})
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
# A JSON number Attentive can store as a whole number: within 64 bits (orjson's limit too).
_INT64 = 2**63
# Digits a number may have to be sent as text (an identifier holds at most 100 characters).
_MAX_TEXT_DIGITS = 200


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
    if isinstance(value, (int, Decimal, float)):
        return _number_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise Invalid(f"is {_kind(value)}; Attentive takes text here")


def _number_text(value: int | Decimal | float) -> str:
    """A number as the tap wrote it (no float rounding, no exponent), or `Invalid`."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Invalid("is not a finite number (NaN or infinity)")
        value = Decimal(repr(value))
    if isinstance(value, int):
        if value.bit_length() > _MAX_TEXT_DIGITS * 3:
            raise Invalid(f"has more than {_MAX_TEXT_DIGITS} digits; map a shorter field")
        return str(value)
    if not value.is_finite():
        raise Invalid("is not a finite number (NaN or infinity)")
    if abs(value.adjusted()) > _MAX_TEXT_DIGITS:
        raise Invalid(f"has more than {_MAX_TEXT_DIGITS} digits; map a shorter field")
    if value == value.to_integral_value():
        return str(int(value))
    return format(value, "f")


def to_number(value: Any) -> int | float:
    """The JSON number a value stands for: integral ones as int within 64 bits, else a double.

    `Decimal` comes from the SDK. A whole number beyond 64 bits becomes the nearest double
    (JSON has one number type; Attentive and orjson hold 64 bits); NaN, infinities and
    numbers beyond a double's range raise `Invalid`, since no JSON number can carry them.
    """
    if isinstance(value, bool):
        raise Invalid("is true/false; a number is needed here")
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else _double(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Invalid("is not a finite number (NaN or infinity)")
        # adjusted() first: int() of 1E+999999999 would build a billion digits.
        if value.adjusted() < 19 and value == value.to_integral_value():
            whole = int(value)
            return whole if -_INT64 <= whole < _INT64 else _double(value)
        return _double(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Invalid("is not a finite number (NaN or infinity)")
        return int(value) if value.is_integer() and -_INT64 <= value < _INT64 else value
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        return to_number(Decimal(value.strip()))
    raise Invalid(f"is {_kind(value)}; a number is needed here")


def _double(value: int | Decimal) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = float("inf")
    if number in (float("inf"), float("-inf")):
        raise Invalid("is beyond the largest number JSON can carry (about 1.8e308)")
    return number


def to_int(value: Any) -> int | None:
    """A whole number (demographic.age is an integer in the API); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = to_number(value)
    if isinstance(number, float) and number.is_integer():
        raise Invalid("is beyond 64 bits; a whole number this large cannot be stored")
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
            f"is not a valid phone number when read in region {region}; write it in E.164 "
            "(+<country code><number>), or name the person's country with the mapping's "
            "phone_region, or set default_phone_region"
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


def to_boolean(value: Any) -> bool | None:
    """True/false as the sources write it ("yes", "N", 1); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return is_truthy(value)


# Converters by the name the field table (fields.py, `x-convert`) gives a field. Phones are
# read by `normalize_phone`, which also needs the region.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "email": normalize_email,
    "text": to_text,
    "date": to_date,
    "integer": to_int,
    "number": to_number,
    "boolean": to_boolean,
    "custom": to_custom_value,
}


_IDENTIFIER_CONVERTERS = tuple((spec.name, spec.convert) for spec in IDENTIFIERS)


def normalize_payload(payload: dict, region: str) -> tuple[dict, list[Problem]]:
    """Normalise a mapped payload in place; return it with the problems found.

    A value that cannot be brought into form is taken out of the payload, and its problem
    (with the field's path) says why: the caller decides whether that costs the field or
    the record. Empty values are taken out without a problem: they are not values.
    """
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
    elif attributes is None and "attributes" in payload:
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
    for key, convert in _IDENTIFIER_CONVERTERS:
        if key not in ids:
            continue
        where = ("identifiers", key)
        if convert == "phone":
            _convert(ids, key, lambda v: normalize_phone(v, region), where, problems)
        else:
            _convert(ids, key, CONVERTERS[convert], where, problems)
    custom = ids.get(CUSTOM_IDENTIFIERS)
    if isinstance(custom, list):
        kept = []
        for index, item in enumerate(custom):
            if not isinstance(item, dict):
                kept.append(item)  # left for validation to name
                continue
            name = item.get("key", index)
            try:
                value = to_text(item.get("value"))
            except Invalid as exc:
                where = ("identifiers", CUSTOM_IDENTIFIERS, index)
                field = f"identifiers.{CUSTOM_IDENTIFIERS}.{name}"
                problems.append(Problem(field, str(exc), where))
                continue
            if value is not None:
                kept.append({**item, "value": value})
        if kept:
            ids[CUSTOM_IDENTIFIERS] = kept
        else:
            del ids[CUSTOM_IDENTIFIERS]
    elif CUSTOM_IDENTIFIERS in ids and custom is None:
        del ids[CUSTOM_IDENTIFIERS]


def _normalize_attributes(attrs: dict, problems: list[Problem]) -> None:
    for key in list(attrs):
        value = attrs[key]
        if key == CUSTOM_ATTRIBUTES:
            continue
        spec = ATTRIBUTE_BY_PATH.get((key,))
        if spec is not None:
            _convert(attrs, key, CONVERTERS[spec.convert], ("attributes", key), problems)
        elif key in ATTRIBUTE_GROUPS and isinstance(value, dict):
            for sub in list(value):
                sub_spec = ATTRIBUTE_BY_PATH.get((key, sub))
                converter = CONVERTERS[sub_spec.convert] if sub_spec else to_text
                _convert(value, sub, converter, ("attributes", key, sub), problems)
            if not value:
                del attrs[key]
        elif value is None:
            del attrs[key]
    custom = attrs.get(CUSTOM_ATTRIBUTES)
    if isinstance(custom, dict):
        for key in list(custom):
            where = ("attributes", CUSTOM_ATTRIBUTES, key)
            if not isinstance(key, str) or not key.strip():
                del custom[key]
                problems.append(
                    Problem(
                        "attributes.custom",
                        "a custom attribute name is empty; name every attribute",
                        where,
                    )
                )
                continue
            _convert(custom, key, to_custom_value, where, problems)
        if not custom:
            del attrs[CUSTOM_ATTRIBUTES]


def _normalize_subscriptions(subs: list, problems: list[Problem]) -> None:
    """An opt-in with an unreadable sign-up source or single/double choice is not sent."""
    dropped = []
    for index, item in enumerate(subs):
        if not isinstance(item, dict):
            continue
        where = f"subscriptions[{index}]"
        if isinstance(item.get("channel"), str):
            item["channel"] = item["channel"].strip().upper()
        path = ("subscriptions", index)
        if "signUpSourceId" in item:
            found = len(problems)
            _convert(item, "signUpSourceId", to_text, path, problems, f"{where}.signUpSourceId")
            if len(problems) > found:
                dropped.append(index)
                continue
        if "singleOptIn" in item and not isinstance(item["singleOptIn"], bool):
            try:
                item["singleOptIn"] = is_truthy(item["singleOptIn"])
            except Invalid as exc:
                problems.append(Problem(f"{where}.singleOptIn", str(exc), path))
                dropped.append(index)
    for index in reversed(dropped):
        del subs[index]


def _convert(
    container: dict,
    key: Any,
    converter: Callable[[Any], Any],
    path: Path,
    problems: list[Problem],
    field: str | None = None,
) -> None:
    """Convert one value in place; a value that cannot be is taken out, with its problem."""
    try:
        value = converter(container[key])
    except Invalid as exc:
        problems.append(Problem(field or ".".join(str(p) for p in path), str(exc), path))
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
