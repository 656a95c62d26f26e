"""normalize.py: tap values into the forms Attentive accepts, or a reason without the value."""

from __future__ import annotations

import datetime as dt
import gc
import re
import weakref
from decimal import Decimal

import pytest

from target_attentive.normalize import (
    Invalid,
    is_truthy,
    normalize_email,
    normalize_payload,
    normalize_phone,
    to_custom_value,
    to_date,
    to_number,
    to_text,
)
from target_attentive.problems import Problem


def assert_no_digits_of(value: object, message: str) -> None:
    """The reason must not carry the number: no run of 4 of its digits appears in it."""
    digits = re.sub(r"\D", "", str(value))
    shown = re.sub(r"\D", "", message)
    for start in range(max(len(digits) - 3, 0)):
        assert digits[start : start + 4] not in shown, message


def normalized(payload: dict, region: str = "US") -> tuple[dict, list[Problem]]:
    return normalize_payload(payload, region)


# --- phones

VALID_PHONES = [
    # United States: national forms with the default region, and with the trunk 1
    ("(202) 555-0123", "US", "+12025550123"),
    ("202.555.0123", "US", "+12025550123"),
    ("202 555 0123", "US", "+12025550123"),
    ("1-202-555-0123", "US", "+12025550123"),
    ("  +1 (202) 555-0123  ", "US", "+12025550123"),
    ("+12025550123", "US", "+12025550123"),
    ("011 44 20 7946 0958", "US", "+442079460958"),  # the US international prefix
    ("0044 20 7946 0958", "US", "+442079460958"),  # 00 prefix, though the US dials 011
    # Canada
    ("416-555-0123", "CA", "+14165550123"),
    # United Kingdom
    ("020 7946 0958", "GB", "+442079460958"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 (0)7911 123456", "US", "+447911123456"),
    ("0044 7911 123456", "GB", "+447911123456"),
    # Germany
    ("030 12345678", "DE", "+493012345678"),
    ("+49 (0)30 12345678", "US", "+493012345678"),
    ("0049-30-12345678", "FR", "+493012345678"),
    # France
    ("01 23 45 67 89", "FR", "+33123456789"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("0033 6 12 34 56 78", "DE", "+33612345678"),
    # Japan
    ("03-1234-5678", "JP", "+81312345678"),
    ("090-1234-5678", "JP", "+819012345678"),
    # Australia
    ("0412 345 678", "AU", "+61412345678"),
    ("(02) 9876 5432", "AU", "+61298765432"),
    # India
    ("98765 43210", "IN", "+919876543210"),
    ("+91 98765-43210", "GB", "+919876543210"),
    # Brazil
    ("(11) 98765-4321", "BR", "+5511987654321"),
    # China
    ("138 0013 8000", "CN", "+8613800138000"),
    # Mexico
    ("55 1234 5678", "MX", "+525512345678"),
    # Netherlands, Italy, Spain, Sweden, South Korea, Russia, South Africa
    ("06 12345678", "NL", "+31612345678"),
    ("312 345 6789", "IT", "+393123456789"),
    ("612 34 56 78", "ES", "+34612345678"),
    ("070-123 45 67", "SE", "+46701234567"),
    ("010-1234-5678", "KR", "+821012345678"),
    ("8 (912) 345-67-89", "RU", "+79123456789"),
    ("+27 82 123 4567", "US", "+27821234567"),
]


@pytest.mark.parametrize(("raw", "region", "e164"), VALID_PHONES)
def test_phone_to_e164(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


def test_phone_fixtures_cover_ten_countries() -> None:
    import phonenumbers

    countries = {
        phonenumbers.region_code_for_number(phonenumbers.parse(e164)) for _, _, e164 in VALID_PHONES
    }
    assert len(countries) >= 10


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        (2025550123, "US", "+12025550123"),  # a national number stored as an integer
        (12025550123, "US", "+12025550123"),  # with its country code
        (Decimal("12025550123"), "US", "+12025550123"),  # as the SDK hands numbers over
        (Decimal("2025550123.0"), "US", "+12025550123"),
        (447911123456, "US", "+447911123456"),  # an integer lost its "+"
        (7911123456, "GB", "+447911123456"),  # an integer lost its leading 0
        (13800138000, "CN", "+8613800138000"),  # 11 national digits: not read as +1
        (Decimal("4930123456789"), "US", "+4930123456789"),
        (2025550123.0, "US", "+12025550123"),
    ],
)
def test_phone_from_numbers(raw: object, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


INVALID_PHONES = [
    ("12345", "US"),  # too short
    ("555-0123", "US"),  # no area code
    ("abc", "US"),  # no digits
    ("202-555-CALL", "US"),  # letters are not read as keypad digits
    ("+1 202 555 0123 ext. 4", "US"),  # an extension cannot take a text
    ("call 2025550123", "US"),
    ("+1 (555) 555-5555", "US"),  # impossible: 555 is no area code
    ("+1 202 555 01234", "US"),  # one digit too many
    ("+44 20 7946 095", "US"),  # one digit too few
    ("+999 1234567", "US"),  # no such country code
    ("1" * 30, "US"),  # too long
    ("020 7946 0958", "US"),  # a London number read as a US one
    ("07911 123456", "US"),  # a UK mobile read as a US one
    ("(202) 555-0123", "GB"),  # a US number read as a UK one
    ("0000000000", "US"),
    (Decimal("2025550123.5"), "US"),  # a fraction
    (-2025550123, "US"),
    (123, "US"),
]


@pytest.mark.parametrize(("raw", "region"), INVALID_PHONES)
def test_invalid_phone_is_refused_without_its_digits(raw: object, region: str) -> None:
    with pytest.raises(Invalid) as caught:
        normalize_phone(raw, region)
    message = str(caught.value)
    assert message.startswith("is not a") or message.startswith("has letters")
    assert_no_digits_of(raw, message)


def test_wrong_region_message_names_the_region_and_setting() -> None:
    with pytest.raises(Invalid, match=r"region US.*phone_region.*default_phone_region"):
        normalize_phone("020 7946 0958", "US")


def test_international_invalid_message_does_not_blame_the_region() -> None:
    with pytest.raises(Invalid) as caught:
        normalize_phone("+1 202 555 01234", "US")
    assert "default region" not in str(caught.value)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_blank_phone_is_none(raw: object) -> None:
    assert normalize_phone(raw, "US") is None


def test_phone_problem_in_payload_names_field_and_drops_value() -> None:
    payload, problems = normalized({"identifiers": {"phone": "555-0123", "email": "a@b.co"}})
    assert problems == [Problem("identifiers.phone", problems[0].message)]
    assert "phone" not in payload["identifiers"]
    assert_no_digits_of("5550123", problems[0].message)


# --- emails


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
        ("\tX@Y.IO\n", "x@y.io"),
    ],
)
def test_email_trimmed_and_lowercased(raw: str, clean: str) -> None:
    assert normalize_email(raw) == clean
    payload, problems = normalized({"identifiers": {"email": raw}})
    assert problems == []
    assert payload == {"identifiers": {"email": clean}}


@pytest.mark.parametrize(
    "raw",
    [
        "jane.doe",
        "jane@",
        "@example.com",
        "jane@example",
        "jane@@example.com",
        "jane doe@example.com",
        "jane@example.",
        "jane@.example.com",
        "jane@example..com",
        "Jane <jane@example.com>",
        12345,
    ],
)
def test_email_shape_checked(raw: object) -> None:
    with pytest.raises(Invalid, match="not an email address") as caught:
        normalize_email(raw)
    assert "jane" not in str(caught.value).lower()
    payload, problems = normalized({"identifiers": {"email": raw, "clientUserId": "7"}})
    assert [p.field for p in problems] == ["identifiers.email"]
    assert payload == {"identifiers": {"clientUserId": "7"}}


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_blank_email_is_dropped(raw: object) -> None:
    assert normalize_email(raw) is None


# --- numbers, text, dates


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        (Decimal("42"), 42),
        (Decimal("42.0"), 42),
        (Decimal("1E+2"), 100),
        (Decimal("19.99"), 19.99),
        (Decimal("-0.5"), -0.5),
        (7, 7),
        (2.0, 2),
        (2.5, 2.5),
        ("12", 12),
        (" 3.25 ", 3.25),
    ],
)
def test_to_number(raw: object, number: float) -> None:
    result = to_number(raw)
    assert result == number
    assert type(result) is type(number)


@pytest.mark.parametrize(
    "raw", [True, "12abc", "", [1], Decimal("NaN"), Decimal("Infinity"), float("nan"), float("inf")]
)
def test_to_number_refuses(raw: object) -> None:
    with pytest.raises(Invalid):
        to_number(raw)


def test_decimals_in_payload_become_json_numbers() -> None:
    payload, problems = normalized(
        {
            "identifiers": {"clientUserId": Decimal("1001")},
            "attributes": {
                "demographic": {"age": Decimal("29")},
                "custom": {"LTV": Decimal("199.95"), "Orders": Decimal("3")},
            },
        }
    )
    assert problems == []
    assert payload["identifiers"] == {"clientUserId": "1001"}
    age = payload["attributes"]["demographic"]["age"]
    assert age == 29 and type(age) is int
    custom = payload["attributes"]["custom"]
    assert custom == {"LTV": 199.95, "Orders": 3}
    assert type(custom["LTV"]) is float and type(custom["Orders"]) is int


def test_age_with_fraction_is_a_problem() -> None:
    _, problems = normalized(
        {
            "identifiers": {"email": "a@b.co"},
            "attributes": {"demographic": {"age": Decimal("29.5")}},
        }
    )
    assert [p.field for p in problems] == ["attributes.demographic.age"]
    assert "whole number" in problems[0].message


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("  Jane  ", "Jane"),
        (Decimal("40.730610"), "40.730610"),  # exact, no float rounding
        (Decimal("12345678901234567890.123"), "12345678901234567890.123"),
        (Decimal("10001"), "10001"),
        (Decimal("1E+3"), "1000"),
        (5, "5"),
        (True, "true"),
        (dt.date(2024, 1, 2), "2024-01-02"),
    ],
)
def test_to_text(raw: object, text: str) -> None:
    assert to_text(raw) == text


@pytest.mark.parametrize(("raw", "kind"), [([1], "a list"), ({"a": 1}, "an object")])
def test_to_text_refuses_containers(raw: object, kind: str) -> None:
    with pytest.raises(Invalid, match=f"is {kind}; Attentive takes text here"):
        to_text(raw)


def test_strings_trimmed_everywhere() -> None:
    payload, problems = normalized(
        {
            "identifiers": {"clientUserId": "  c-1 ", "shopifyId": " 77 ", "klaviyoId": " k "},
            "attributes": {
                "firstName": " Jane ",
                "lastName": "Doe\n",
                "location": {"city": "  Brooklyn ", "latitude": Decimal("40.730610")},
                "locale": {"country": " CA "},
                "custom": {"Color": " green "},
            },
        }
    )
    assert problems == []
    assert payload == {
        "identifiers": {"clientUserId": "c-1", "shopifyId": "77", "klaviyoId": "k"},
        "attributes": {
            "firstName": "Jane",
            "lastName": "Doe",
            "location": {"city": "Brooklyn", "latitude": "40.730610"},
            "locale": {"country": "CA"},
            "custom": {"Color": "green"},
        },
    }


@pytest.mark.parametrize(
    "raw",
    [
        dt.date(1990, 5, 1),
        dt.datetime(1990, 5, 1, 10, 30),
        dt.datetime(1990, 5, 1, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "1990-05-01",
        " 1990-05-01 ",
        "1990-05-01T10:30:00Z",
        "1990-05-01T23:30:00-05:00",
        "1990-05-01 08:00:00",
        "1990-05-01T00:00:00.123456+00:00",
    ],
)
def test_date_of_birth_to_calendar_day(raw: object) -> None:
    assert to_date(raw) == "1990-05-01"
    payload, problems = normalized(
        {"identifiers": {"email": "a@b.co"}, "attributes": {"demographic": {"dateOfBirth": raw}}}
    )
    assert problems == []
    assert payload["attributes"]["demographic"]["dateOfBirth"] == "1990-05-01"


@pytest.mark.parametrize("raw", ["05/01/1990", "1990-02-30", "1990-13-01", "yesterday", 19900501])
def test_bad_date_of_birth(raw: object) -> None:
    with pytest.raises(Invalid, match="YYYY-MM-DD"):
        to_date(raw)
    payload, problems = normalized(
        {"identifiers": {"email": "a@b.co"}, "attributes": {"demographic": {"dateOfBirth": raw}}}
    )
    assert [p.field for p in problems] == ["attributes.demographic.dateOfBirth"]
    assert "1990" not in problems[0].message
    assert "attributes" not in payload  # the bad value is not kept, nor its empty section


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_blank_date_is_none(raw: object) -> None:
    assert to_date(raw) is None


# --- custom attribute values


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (dt.datetime(2024, 3, 4, 5, 6, 7), "2024-03-04T05:06:07"),
        (
            dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc),
            "2024-03-04T05:06:07+00:00",
        ),
        (dt.date(2024, 3, 4), "2024-03-04"),
        (dt.time(9, 30), "09:30:00"),
        (True, True),
        (False, False),
        (Decimal("3"), 3),
        (Decimal("3.5"), 3.5),
        (" gold ", "gold"),
        ("", None),
        (None, None),
    ],
)
def test_custom_values(raw: object, value: object) -> None:
    result = to_custom_value(raw)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(("raw", "kind"), [(["a", "b"], "a list"), ({"a": 1}, "an object")])
def test_custom_containers_rejected_with_clear_message(raw: object, kind: str) -> None:
    payload, problems = normalized(
        {"identifiers": {"email": "a@b.co"}, "attributes": {"custom": {"Tags": raw, "VIP": True}}}
    )
    assert len(problems) == 1
    assert problems[0].field == "attributes.custom.Tags"
    message = problems[0].message
    assert message.startswith(
        f"is {kind}; custom attributes take only text, numbers and true/false"
    )
    assert "stream map" in message
    assert payload["attributes"]["custom"] == {"VIP": True}


def test_custom_nan_rejected() -> None:
    _, problems = normalized(
        {"identifiers": {"email": "a@b.co"}, "attributes": {"custom": {"Score": Decimal("NaN")}}}
    )
    assert problems == [
        Problem("attributes.custom.Score", "is not a finite number (NaN or infinity)")
    ]


# --- empties


def test_none_and_empty_values_dropped_and_empty_sections_removed() -> None:
    payload, problems = normalized(
        {
            "identifiers": {"email": " ", "phone": None, "clientUserId": "c1"},
            "attributes": {
                "firstName": "",
                "lastName": None,
                "demographic": {"age": None, "dateOfBirth": ""},
                "location": {"city": "   "},
                "locale": None,
                "custom": {"A": None, "B": ""},
            },
            "subscriptions": [],
        }
    )
    assert problems == []
    assert payload == {"identifiers": {"clientUserId": "c1"}}


def test_identifier_is_never_sent_empty() -> None:
    payload, problems = normalized(
        {
            "identifiers": {
                "email": "",
                "phone": "  ",
                "clientUserId": None,
                "customIdentifiers": [{"key": "loyalty", "value": " "}],
            },
            "attributes": {"firstName": "Jane"},
        }
    )
    assert problems == []
    assert "identifiers" not in payload  # validation then names the missing identifier
    assert payload == {"attributes": {"firstName": "Jane"}}


def test_custom_identifiers_trimmed_and_empty_ones_dropped() -> None:
    payload, problems = normalized(
        {
            "identifiers": {
                "customIdentifiers": [
                    {"key": "loyalty", "value": Decimal("12345")},
                    {"key": "member", "value": ""},
                    {"key": "crm", "value": "  ab-1 "},
                ]
            }
        }
    )
    assert problems == []
    assert payload["identifiers"]["customIdentifiers"] == [
        {"key": "loyalty", "value": "12345"},
        {"key": "crm", "value": "ab-1"},
    ]


def test_custom_identifier_container_value_is_a_problem() -> None:
    payload, problems = normalized(
        {"identifiers": {"customIdentifiers": [{"key": "loyalty", "value": ["x"]}]}}
    )
    assert [p.field for p in problems] == ["identifiers.customIdentifiers.loyalty"]
    assert "identifiers" not in payload


def test_subscriptions_normalized() -> None:
    payload, problems = normalized(
        {
            "identifiers": {"email": "a@b.co"},
            "subscriptions": [
                {"channel": " text ", "signUpSourceId": Decimal("12345"), "singleOptIn": "yes"},
                {"channel": "email", "signUpSourceId": " 678 ", "singleOptIn": 0},
            ],
        }
    )
    assert problems == []
    assert payload["subscriptions"] == [
        {"channel": "TEXT", "signUpSourceId": "12345", "singleOptIn": True},
        {"channel": "EMAIL", "signUpSourceId": "678", "singleOptIn": False},
    ]


def test_unreadable_single_opt_in_is_a_problem() -> None:
    _, problems = normalized(
        {
            "identifiers": {"email": "a@b.co"},
            "subscriptions": [{"channel": "TEXT", "signUpSourceId": "1", "singleOptIn": "maybe"}],
        }
    )
    assert [p.field for p in problems] == ["subscriptions[0].singleOptIn"]


def test_valid_payload_passes_unchanged_and_returns_same_object() -> None:
    original = {
        "identifiers": {"email": "a@b.co", "phone": "+12025550123"},
        "attributes": {"firstName": "Jane", "custom": {"VIP": True, "LTV": 10}},
        "subscriptions": [{"channel": "TEXT", "signUpSourceId": "1"}],
    }
    payload, problems = normalized(original)
    assert problems == []
    assert payload is original
    assert payload == {
        "identifiers": {"email": "a@b.co", "phone": "+12025550123"},
        "attributes": {"firstName": "Jane", "custom": {"VIP": True, "LTV": 10}},
        "subscriptions": [{"channel": "TEXT", "signUpSourceId": "1"}],
    }


def test_several_problems_reported_together() -> None:
    _, problems = normalized(
        {
            "identifiers": {"email": "nope", "phone": "12"},
            "attributes": {"demographic": {"dateOfBirth": "soon"}, "custom": {"X": [1]}},
        }
    )
    assert [p.field for p in problems] == [
        "identifiers.email",
        "identifiers.phone",
        "attributes.demographic.dateOfBirth",
        "attributes.custom.X",
    ]


# --- is_truthy


@pytest.mark.parametrize(
    "raw", [True, "true", "TRUE", " True ", "t", "yes", "Y", "y", "1", "on", 1, Decimal("1"), 1.0]
)
def test_is_truthy_yes(raw: object) -> None:
    assert is_truthy(raw) is True


@pytest.mark.parametrize(
    "raw", [False, None, "false", "F", "no", "N", "0", "off", "", "  ", 0, Decimal("0"), 0.0]
)
def test_is_truthy_no(raw: object) -> None:
    assert is_truthy(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "si", "2", 2, Decimal("0.5"), -1, [True], {"a": 1}])
def test_is_truthy_refuses_what_is_not_yes_or_no(raw: object) -> None:
    with pytest.raises(Invalid, match=r"is not a yes/no value; use true/false, yes/no or 1/0"):
        is_truthy(raw)


@pytest.mark.parametrize(
    ("raw", "age"), [("31", 31), (" 31 ", 31), (31.0, 31), ("", None), (None, None)]
)
def test_age_read_from_text_and_blank_dropped(raw: object, age: int | None) -> None:
    payload, problems = normalized(
        {"identifiers": {"email": "a@b.co"}, "attributes": {"demographic": {"age": raw}}}
    )
    assert problems == []
    if age is None:
        assert "attributes" not in payload
    else:
        assert payload["attributes"]["demographic"]["age"] == age


@pytest.mark.parametrize("phone", ["+1 999 555 0000", "0012", 19995550000, "555"])
def test_a_refused_phone_leaves_no_reference_cycle(phone: object) -> None:
    """The cyclic collector is paused during a load (collector.py): a cycle through an
    exception's traceback would keep the frames above it, and the batch they hold, alive."""

    class Batch:
        pass

    def read(batch: Batch) -> list:  # a frame holding the batch, as process_record's does
        return normalize_payload({"identifiers": {"phone": phone}}, "US")[1]

    gc.collect()
    gc.disable()
    try:
        batch = Batch()
        alive = weakref.ref(batch)
        assert read(batch), "the phone was not refused"
        del batch
        assert alive() is None
    finally:
        gc.enable()
