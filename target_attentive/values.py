"""Scalar values into the forms Attentive accepts, or a reason without the value (pure).

Taps hand over `Decimal` numbers, `date`/`datetime` objects or strings, padded strings and
phone numbers in every local format. Each function here turns one value into text, a
number, a date, an email or an E.164 phone, returns None for an empty one, or raises
`Invalid` saying what to change (never quoting the value). normalize.py applies them to
the fields of a payload, as the field table says.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from target_attentive.phones import e164
from target_attentive.problems import Invalid

# One @, no spaces, a domain of non-empty labels with at least one dot (a@b..c is refused).
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", ""})
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
# A JSON number Attentive can store as a whole number: within 64 bits (orjson's limit too).
_INT64 = 2**63
_INFINITIES = (float("inf"), float("-inf"))
# Digits a number may have to be sent as text (an identifier holds at most 100 characters).
_MAX_TEXT_DIGITS = 200


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


def unicode_text(text: str) -> str:
    """`text`, or `Invalid` when it holds a lone surrogate: a tap's JSON can carry one (the
    escape `\\ud800`), but no UTF-8 body can, and Attentive would get a mangled value."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(
                "holds a character that is not text (a lone surrogate, written \\ud800 to "
                "\\udfff in JSON); fix how the tap reads this column"
            ) from None
    return text


def to_text(value: Any) -> str | None:
    """A scalar as trimmed text; numbers without a trailing `.0`; None when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return (text if text.isascii() else unicode_text(text)) or None
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
        number = float(value)
        if not number.is_integer() and number not in _INFINITIES:
            return number  # a fraction (a whole number never makes one): its double
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
        text = value.strip()
        return (text if text.isascii() else unicode_text(text)) or None
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


def normalize_phone(value: Any, region: str) -> str | None:
    """E.164, or `Invalid`: a number phonenumbers calls invalid is never sent."""
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = to_number(value)
        if not isinstance(number, int) or number <= 0:
            raise Invalid("is not a phone number (a number with a fraction or sign)")
        return e164(str(number), region, True)
    text = to_text(value)
    if text is None:
        return None
    return e164(text, region)


def to_boolean(value: Any) -> bool | None:
    """True/false as the sources write it ("yes", "N", 1); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return is_truthy(value)


def _kind(value: Any) -> str:
    """The kind of a value with its article, for messages that must not quote the value."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"
