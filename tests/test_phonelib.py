"""rphonenumbers (the `fast` extra) reads every phone exactly as phonenumbers does.

For every region phonenumbers knows: its example number of each type, written in the forms
exports carry (E.164, international, national, RFC 3966, bare digits, with the country
code but no +), the invalid example, and each example with a digit dropped or added; read
with the region itself and with the US as the default region. Both libraries must give the
same E.164, or refuse with the same reason. Skipped (failed with CI set) when the extra
is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import phonenumbers
import pytest

try:
    import rphonenumbers
except ImportError:  # pragma: no cover - the extra is optional
    rphonenumbers = None

from target_attentive import phonelib

TYPES = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


def _require_fast() -> ModuleType:
    if rphonenumbers is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("rphonenumbers is not installed; .ci/run installs the fast extra")
        pytest.skip("rphonenumbers (the fast extra) is not installed")
    return rphonenumbers


def written_forms(region: str) -> Iterator[str]:
    for kind in TYPES:
        number = phonenumbers.example_number_for_type(region, kind)
        if number is None:
            continue
        for form in FORMATS:
            yield phonenumbers.format_number(number, form)
        national = phonenumbers.national_significant_number(number)
        yield national
        yield f"{number.country_code}{national}"
        yield f"+{number.country_code}{national[:-1]}"  # a digit short
        yield f"+{number.country_code}{national}7"  # a digit too many
        yield f"00{number.country_code} {national}"
    invalid = phonenumbers.invalid_example_number(region)
    if invalid is not None:
        yield phonenumbers.format_number(invalid, phonenumbers.PhoneNumberFormat.E164)


def read(lib: ModuleType, text: str, region: str) -> str:
    """What the target would make of `text`: its E.164, or why not."""
    try:
        number = lib.parse(text, region)
    except lib.NumberParseException as exc:
        return f"unreadable: {int(exc.error_type)}"
    if not lib.is_valid_number(number):
        return "invalid"
    return lib.format_number(number, lib.PhoneNumberFormat.E164)


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_both_libraries_read_every_written_form_alike(region: str) -> None:
    fast = _require_fast()
    disagreements = []
    for text in written_forms(region):
        for default in (region, "US"):
            expected, got = read(phonenumbers, text, default), read(fast, text, default)
            if expected != got:
                disagreements.append((text, default, expected, got))
    assert not disagreements


AWKWARD = [
    "",
    "+",
    "++1 914 844 0001",
    "0",
    "911",
    "+1 (914) 844-0001 ext. 12",
    "914.844.0001 x3",
    "1-800-FLOWERS",
    "+44 (0) 20 7183 8750",
    "+4420718387500000000000",
    "(((914))) 844--0001",
    "+1\u00a0914\u00a0844\u00a00001",
    "\uff0b\uff11\uff19\uff11\uff14\uff18\uff14\uff14\uff10\uff10\uff10\uff11",
    "tel:+1-914-844-0001",
    "+1 914 844 0001;phone-context=example.com",
    "9" * 40,
]


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize("region", ["US", "GB", "DE", "IN", "BR"])
def test_both_libraries_agree_on_awkward_text(text: str, region: str) -> None:
    fast = _require_fast()
    assert read(fast, text, region) == read(phonenumbers, text, region)


def test_the_target_uses_the_fast_library_when_it_is_installed() -> None:
    _require_fast()
    assert phonelib.IMPLEMENTATION == "rphonenumbers"
    assert phonelib.phonenumbers is rphonenumbers
