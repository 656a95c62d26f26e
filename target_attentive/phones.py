"""Phone text into E.164, the only form Attentive takes, or a reason (pure).

Read with the phonenumbers library in the person's region (the mapping's `phone_region`,
else `default_phone_region`), several readings tried in order; a number the library
calls invalid is never sent, since a wrong number texts a stranger. normalize.py turns a
tap's value (text, a JSON number) into the text read here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from target_attentive.phonelib import phonenumbers
from target_attentive.problems import Invalid

# Letters in a phone field are never a person's number: phonenumbers would read the
# vanity letters of "202-555-CALL" as digits and text whoever has them.
_LETTERS = re.compile(r"[^\W\d_]")


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


@lru_cache(maxsize=4096)  # repeats within a load are near each other; memory stays flat
def e164(text: str, region: str, bare_digits: bool = False) -> str:
    """Read one phone text; `bare_digits` for numbers that came as integers.

    Readings tried in order, the first valid one wins: as written (national numbers in
    `region`); then, for a leading 00, as international (00 is the international prefix
    in most of the world, though not in the US); then, for an integer, with a "+" put
    back, since an integer cannot keep the "+" of a number stored with its country code.
    The reason given is the first reading's.
    """
    # ASCII letters are the characters with two cases (fast); any other text, the pattern.
    if text.lower() != text.upper() if text.isascii() else _LETTERS.search(text):
        raise Invalid("has letters; a phone number is digits, with an optional leading +")
    number, reason = _parse_valid(text, region)
    if number is None and bare_digits:
        number, _ = _parse_valid("+" + text, region)
    elif number is None and text.startswith("00"):
        number, _ = _parse_valid("+" + text[2:], region)
    if number is None:
        raise Invalid(reason)
    return number
