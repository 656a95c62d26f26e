"""mapping.py: a record and the mapping setting become a payload; bad settings fail at start-up."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from target_attentive.mapping import (
    DEFAULT_MAPPING,
    MAX_CUSTOM_ATTRIBUTES,
    Mapping,
    MappingError,
    compile_mapping,
)
from target_attentive.normalize import Invalid, normalize_payload
from target_attentive.reading import build_payload, map_record
from target_attentive.validation import validate_payload

DESIGN_MAPPING = {
    "identifiers": {
        "email": "email",
        "phone": "phone",
        "clientUserId": "id",
        "customIdentifiers": {"loyalty_id": "loyalty_number"},
    },
    "attributes": {
        "firstName": "first_name",
        "lastName": "last_name",
        "location.city": "city",
        "demographic.dateOfBirth": "birthday",
    },
    "custom_attributes": {"Lifetime Value": "lifetime_value", "VIP": "vip"},
    "subscriptions": [{"channel": "TEXT", "signUpSourceId": "12345", "when": "sms_opt_in"}],
}


def build(record: dict, raw: dict | None = None) -> dict:
    return build_payload(record, compile_mapping(raw))


def compile_errors(raw: object, where: str = "mapping") -> list[str]:
    with pytest.raises(MappingError) as caught:
        compile_mapping(raw, where)  # type: ignore[arg-type]
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


# --- the default mapping


def test_default_mapping_reads_api_and_snake_case_names() -> None:
    record = {
        "email": "a@b.co",
        "phone": "+12025550123",
        "client_user_id": "c-1",
        "shopify_id": 42,
        "klaviyo_id": "k-9",
        "first_name": "Jane",
        "last_name": "Doe",
        "unrelated": "x",
    }
    assert build(record) == {
        "identifiers": {
            "email": "a@b.co",
            "phone": "+12025550123",
            "clientUserId": "c-1",
            "shopifyId": 42,
            "klaviyoId": "k-9",
        },
        "attributes": {"firstName": "Jane", "lastName": "Doe"},
    }


def test_default_mapping_prefers_camel_case_names() -> None:
    record = {
        "clientUserId": "camel",
        "client_user_id": "snake",
        "shopifyId": "s1",
        "klaviyoId": "k1",
        "firstName": "Ann",
        "first_name": "Anna",
        "lastName": "Lee",
    }
    assert build(record) == {
        "identifiers": {"clientUserId": "camel", "shopifyId": "s1", "klaviyoId": "k1"},
        "attributes": {"firstName": "Ann", "lastName": "Lee"},
    }


def test_default_mapping_is_used_when_unset() -> None:
    assert compile_mapping(None) == compile_mapping(DEFAULT_MAPPING)


def test_record_without_mapped_fields_gives_empty_identifiers() -> None:
    assert build({"id": 1, "name": "x"}) == {"identifiers": {}}


# --- the design's example, end to end


def test_design_mapping_end_to_end() -> None:
    record = {
        "email": " Jane@Example.com ",
        "phone": "(202) 555-0123",
        "id": 1001,
        "loyalty_number": "L-77",
        "first_name": "Jane",
        "last_name": "Doe",
        "city": "Brooklyn",
        "birthday": "1990-05-01",
        "lifetime_value": Decimal("199.50"),
        "vip": True,
        "sms_opt_in": "yes",
    }
    payload = build(record, DESIGN_MAPPING)
    payload, problems = normalize_payload(payload, "US")
    assert problems == []
    assert validate_payload(payload) == []
    assert payload == {
        "identifiers": {
            "email": "jane@example.com",
            "phone": "+12025550123",
            "clientUserId": "1001",
            "customIdentifiers": [{"key": "loyalty_id", "value": "L-77"}],
        },
        "attributes": {
            "firstName": "Jane",
            "lastName": "Doe",
            "location": {"city": "Brooklyn"},
            "demographic": {"dateOfBirth": "1990-05-01"},
            "custom": {"Lifetime Value": 199.5, "VIP": True},
        },
        "subscriptions": [{"signUpSourceId": "12345", "channel": "TEXT"}],
    }


def test_build_does_not_touch_the_record() -> None:
    record = {
        "email": " A@B.CO ",
        "identifiers": {"customIdentifiers": [{"key": "x", "value": " 1 "}]},
        "attributes": {"location": {"city": " Paris "}},
        "subscriptions": [{"channel": "text", "signUpSourceId": "1"}],
    }
    before = json.loads(json.dumps(record))
    normalize_payload(build(record), "US")
    assert record == before


# --- dotted and nested targets


def test_dotted_and_nested_targets_mean_the_same() -> None:
    dotted = {
        "identifiers": {"email": "email", "customIdentifiers.loyalty.id": "loyalty"},
        "attributes": {"location.city": "city", "demographic.age": "age", "locale.country": "cc"},
        "custom_attributes": {"Tier.Level": "tier"},
    }
    nested = {
        "identifiers": {"email": "email", "customIdentifiers": {"loyalty": {"id": "loyalty"}}},
        "attributes": {
            "location": {"city": "city"},
            "demographic": {"age": "age"},
            "locale": {"country": "cc"},
        },
        "custom_attributes": {"Tier": {"Level": "tier"}},
    }
    record = {"email": "a@b.co", "loyalty": "L1", "city": "Oslo", "age": 40, "cc": "NO", "tier": 2}
    assert compile_mapping(dotted) == compile_mapping(nested)
    expected = {
        "identifiers": {
            "email": "a@b.co",
            "customIdentifiers": [{"key": "loyalty.id", "value": "L1"}],
        },
        "attributes": {
            "location": {"city": "Oslo"},
            "demographic": {"age": 40},
            "locale": {"country": "NO"},
            "custom": {"Tier.Level": 2},
        },
    }
    assert build(record, dotted) == expected
    assert build(record, nested) == expected


def test_custom_identifiers_sent_as_key_value_list() -> None:
    raw = {"identifiers": {"customIdentifiers": {"loyalty_id": "loyalty", "crm_id": "crm"}}}
    assert build({"loyalty": "L1", "crm": 55}, raw) == {
        "identifiers": {
            "customIdentifiers": [
                {"key": "loyalty_id", "value": "L1"},
                {"key": "crm_id", "value": 55},
            ]
        }
    }
    assert build({"crm": 55}, raw)["identifiers"] == {
        "customIdentifiers": [{"key": "crm_id", "value": 55}]
    }
    assert build({}, raw) == {"identifiers": {}}


def test_custom_attribute_names_with_dots_come_back_whole() -> None:
    # What Meltano makes of {"custom_attributes": {"app.version": "v", "a.b.c": "x"}}
    expanded = {"custom_attributes": {"app": {"version": "v"}, "a": {"b": {"c": "x"}}}}
    mapping = compile_mapping(expanded)
    assert mapping.custom_attribute_names == ("app.version", "a.b.c")
    assert build_payload({"v": "1.2", "x": 0}, mapping) == {
        "identifiers": {},
        "attributes": {"custom": {"app.version": "1.2", "a.b.c": 0}},
    }


def test_custom_attribute_names_keep_their_case_and_spaces() -> None:
    raw = {"custom_attributes": {"Favorite color": "a", "Favorite Color": "b"}}
    assert build({"a": "red", "b": "blue"}, raw)["attributes"]["custom"] == {
        "Favorite color": "red",
        "Favorite Color": "blue",
    }


# --- sources


def test_list_of_candidate_sources_first_present_wins() -> None:
    raw = {"identifiers": {"email": ["work_email", "home_email", "email"]}}
    assert build({"home_email": "h@x.io", "email": "e@x.io"}, raw)["identifiers"] == {
        "email": "h@x.io"
    }
    assert build({"work_email": None, "home_email": "", "email": "e@x.io"}, raw)["identifiers"] == {
        "email": "e@x.io"
    }
    # blank text counts as absent, so the next candidate is still tried
    assert build({"work_email": "   ", "email": "e@x.io"}, raw)["identifiers"] == {
        "email": "e@x.io"
    }
    assert build({"other": 1}, raw)["identifiers"] == {}


def test_zero_and_false_are_values_not_absence() -> None:
    raw = {"custom_attributes": {"Orders": ["orders", "n"], "VIP": "vip"}}
    assert build({"orders": 0, "n": 5, "vip": False}, raw)["attributes"]["custom"] == {
        "Orders": 0,
        "VIP": False,
    }


def test_dotted_source_reaches_into_nested_objects() -> None:
    raw = {
        "identifiers": {"email": "contact.email"},
        "attributes": {"location.city": "address.city", "location.zip": "address.geo.zip"},
    }
    record = {"contact": {"email": "a@b.co"}, "address": {"city": "Rome", "geo": {"zip": "00100"}}}
    assert build(record, raw) == {
        "identifiers": {"email": "a@b.co"},
        "attributes": {"location": {"city": "Rome", "zip": "00100"}},
    }
    # a missing or non-object step is just absent
    assert build({"contact": "text", "address": None}, raw) == {"identifiers": {}}


def test_dotted_source_prefers_a_flattened_column_of_that_name() -> None:
    raw = {"identifiers": {"email": "contact.email"}}
    record = {"contact.email": "flat@b.co", "contact": {"email": "nested@b.co"}}
    assert build(record, raw)["identifiers"] == {"email": "flat@b.co"}


def test_source_fields_lists_top_level_fields_read() -> None:
    mapping = compile_mapping(
        {
            "identifiers": {"email": ["email", "contact.email"], "customIdentifiers": {"l": "ln"}},
            "attributes": {"location.city": "address.city"},
            "custom_attributes": {"VIP": "vip"},
            "subscriptions": [
                {"channel": "TEXT", "signUpSourceId": "1", "when": "flags.sms"},
                {"channel": "EMAIL", "signUpSourceId": "2"},
            ],
        }
    )
    assert mapping.source_fields == frozenset(
        {
            "email",
            "contact",
            "ln",
            "address",
            "vip",
            "flags",
            "identifiers",
            "attributes",
            "subscriptions",
        }
    )


def test_source_fields_of_default_mapping() -> None:
    assert compile_mapping(None).source_fields >= {"email", "phone", "client_user_id", "first_name"}


# --- subscriptions

OPT_IN = {
    "subscriptions": [
        {"channel": "TEXT", "signUpSourceId": "111", "when": "sms_ok"},
        {"channel": "email", "signUpSourceId": 222, "when": "email_ok", "singleOptIn": True},
    ]
}


@pytest.mark.parametrize("flag", [True, "true", "Yes", "y", "1", 1, Decimal("1"), "on"])
def test_truthy_flag_includes_the_opt_in(flag: object) -> None:
    payload = build({"sms_ok": flag}, OPT_IN)
    assert payload["subscriptions"] == [{"signUpSourceId": "111", "channel": "TEXT"}]


@pytest.mark.parametrize("flag", [False, "false", "No", "n", "0", 0, "", None, "  "])
def test_falsy_flag_excludes_the_opt_in(flag: object) -> None:
    assert "subscriptions" not in build({"sms_ok": flag}, OPT_IN)


def test_missing_flag_excludes_the_opt_in() -> None:
    assert "subscriptions" not in build({"email": "a@b.co"}, OPT_IN)


def test_channel_upper_cased_id_as_text_and_single_opt_in_kept() -> None:
    payload = build({"sms_ok": True, "email_ok": "yes"}, OPT_IN)
    assert payload["subscriptions"] == [
        {"signUpSourceId": "111", "channel": "TEXT"},
        {"signUpSourceId": "222", "channel": "EMAIL", "singleOptIn": True},
    ]


def test_opt_in_without_when_is_always_sent() -> None:
    raw = {"subscriptions": [{"channel": "EMAIL", "signUpSourceId": "9"}]}
    assert build({}, raw)["subscriptions"] == [{"signUpSourceId": "9", "channel": "EMAIL"}]


def test_when_reads_a_nested_flag() -> None:
    raw = {"subscriptions": [{"channel": "TEXT", "signUpSourceId": "9", "when": "consent.sms"}]}
    assert "subscriptions" in build({"consent": {"sms": "yes"}}, raw)
    assert "subscriptions" not in build({"consent": {"sms": "no"}}, raw)


def test_same_channel_and_source_sent_once_when_two_flags_are_set() -> None:
    raw = {
        "subscriptions": [
            {"channel": "TEXT", "signUpSourceId": "9", "when": "sms_web"},
            {"channel": "TEXT", "signUpSourceId": "9", "when": "sms_store"},
        ]
    }
    assert build({"sms_web": True, "sms_store": True}, raw)["subscriptions"] == [
        {"signUpSourceId": "9", "channel": "TEXT"}
    ]


@pytest.mark.parametrize("flag", ["maybe", 2, ["yes"], {"v": 1}])
def test_unreadable_flag_leaves_the_opt_in_out_and_names_the_field_not_the_value(
    flag: object,
) -> None:
    payload, problems = map_record({"email": "a@b.co", "sms_ok": flag}, compile_mapping(OPT_IN))
    assert "subscriptions" not in payload
    (problem,) = problems
    assert problem.field == "subscriptions.TEXT"
    assert problem.message.startswith("not sent: its flag 'sms_ok' is not a yes/no value")
    assert "maybe" not in str(problem)
    with pytest.raises(Invalid):  # build_payload, for callers that want all or nothing
        build({"sms_ok": flag}, OPT_IN)


@pytest.mark.parametrize(("single", "sent"), [("false", False), ("no", False), ("TRUE", True)])
def test_single_opt_in_text_is_read_not_cast(single: str, sent: bool) -> None:
    raw = {"subscriptions": [{"channel": "TEXT", "signUpSourceId": "9", "singleOptIn": single}]}
    assert build({}, raw)["subscriptions"][0]["singleOptIn"] is sent


# --- parts a stream map built


def test_record_parts_merged_over_mapped_ones() -> None:
    record = {
        "email": "mapped@b.co",
        "first_name": "Mapped",
        "last_name": "Kept",
        "identifiers": {"email": "shaped@b.co", "clientUserId": "c9"},
        "attributes": {"firstName": "Shaped", "location": {"city": "Lima"}},
        "subscriptions": [{"channel": "TEXT", "signUpSourceId": "5"}],
    }
    assert build(record) == {
        "identifiers": {"email": "shaped@b.co", "clientUserId": "c9"},
        "attributes": {"firstName": "Shaped", "lastName": "Kept", "location": {"city": "Lima"}},
        "subscriptions": [{"channel": "TEXT", "signUpSourceId": "5"}],
    }


def test_record_parts_deep_merge_nested_attributes() -> None:
    raw = {"attributes": {"location.city": "city"}, "custom_attributes": {"A": "a"}}
    record = {
        "city": "Quito",
        "a": 1,
        "attributes": {"location": {"zip": "170"}, "custom": {"B": 2}},
    }
    assert build(record, raw)["attributes"] == {
        "location": {"city": "Quito", "zip": "170"},
        "custom": {"A": 1, "B": 2},
    }


def test_record_parts_as_json_text() -> None:
    record = {
        "identifiers": json.dumps(
            {"email": "t@b.co", "customIdentifiers": [{"key": "k", "value": "v"}]}
        ),
        "attributes": ' {"lastName": "Text"}',
        "subscriptions": json.dumps([{"channel": "EMAIL", "signUpSourceId": "3"}]),
    }
    assert build(record) == {
        "identifiers": {"email": "t@b.co", "customIdentifiers": [{"key": "k", "value": "v"}]},
        "attributes": {"lastName": "Text"},
        "subscriptions": [{"channel": "EMAIL", "signUpSourceId": "3"}],
    }


@pytest.mark.parametrize("text", ["gold customer", "", "none", "VIP; early"])
def test_plain_text_column_named_attributes_is_ignored(text: str) -> None:
    record = {"email": "a@b.co", "first_name": "Jo", "attributes": text, "identifiers": text}
    assert build(record) == {
        "identifiers": {"email": "a@b.co"},
        "attributes": {"firstName": "Jo"},
    }


def test_record_part_that_is_broken_json_is_invalid() -> None:
    with pytest.raises(Invalid, match="attributes is text that is not valid JSON"):
        build({"email": "a@b.co", "attributes": "{broken"})


def test_record_part_null_is_ignored() -> None:
    assert build({"email": "a@b.co", "attributes": None, "subscriptions": "null"}) == {
        "identifiers": {"email": "a@b.co"}
    }


def test_record_part_of_wrong_type_is_left_for_validation() -> None:
    payload = build({"email": "a@b.co", "attributes": 5})
    assert payload["attributes"] == 5
    problems = validate_payload(normalize_payload(payload, "US")[0])
    assert [p.field for p in problems] == ["attributes"]


def test_shaped_subscriptions_replace_mapped_ones() -> None:
    record = {"sms_ok": True, "subscriptions": [{"channel": "EMAIL", "signUpSourceId": "8"}]}
    assert build(record, OPT_IN)["subscriptions"] == [{"channel": "EMAIL", "signUpSourceId": "8"}]


# --- compile errors


def test_compile_errors_name_the_setting_path() -> None:
    problems = compile_errors(
        {
            "identifiers": {"mail": "email", "email": 5},
            "attributes": {"nickname": "n", "location.planet": "p", "location": {"town": "t"}},
            "custom_attributes": {"VIP": ""},
            "subscriptions": [{"channel": "SMS", "when": ""}],
            "extras": {},
        },
        "stream_mappings.users",
    )
    assert problems[0] == (
        "stream_mappings.users.extras: unknown part; use identifiers, attributes, "
        "custom_attributes, subscriptions or phone_region"
    )
    prefixes = [p.split(":")[0] for p in problems[1:]]
    assert prefixes == [
        "stream_mappings.users.identifiers.mail",
        "stream_mappings.users.identifiers.email",
        "stream_mappings.users.attributes.nickname",
        "stream_mappings.users.attributes.location.planet",
        "stream_mappings.users.attributes.location.town",
        "stream_mappings.users.custom_attributes.VIP",
        "stream_mappings.users.subscriptions[0].channel",
        "stream_mappings.users.subscriptions[0].signUpSourceId",
        "stream_mappings.users.subscriptions[0].when",
    ]


def test_unknown_identifier_lists_the_known_ones() -> None:
    (problem,) = compile_errors({"identifiers": {"userId": "id"}})
    assert problem == (
        "mapping.identifiers.userId: Attentive has no identifier 'userId'; use one of "
        "email, phone, clientUserId, shopifyId, klaviyoId or customIdentifiers"
    )


def test_unknown_attribute_lists_the_known_ones() -> None:
    (problem,) = compile_errors({"attributes": {"first_name": "x"}})
    assert problem.startswith("mapping.attributes.first_name: Attentive has no attribute")
    assert "firstName" in problem and "location.city" in problem


@pytest.mark.parametrize("key", ["location", "demographic.age.years", "locale.currency"])
def test_attribute_at_the_wrong_depth(key: str) -> None:
    (problem,) = compile_errors({"attributes": {key: "x"}})
    assert problem.startswith(f"mapping.attributes.{key}: Attentive has no attribute")


@pytest.mark.parametrize(
    "attributes", [{"custom.VIP": "vip"}, {"custom": {"VIP": "vip"}}, {"custom": "vip"}]
)
def test_custom_under_attributes_is_refused(attributes: dict) -> None:
    (problem,) = compile_errors({"attributes": attributes})
    assert problem.endswith("map custom attributes under custom_attributes instead")
    assert problem.startswith("mapping.attributes.custom")


def test_more_than_100_custom_attributes() -> None:
    custom = {f"attr {n}": f"f{n}" for n in range(MAX_CUSTOM_ATTRIBUTES + 1)}
    (problem,) = compile_errors({"custom_attributes": custom})
    assert problem.startswith("mapping.custom_attributes: 101 custom attributes mapped")
    assert "at most 100" in problem


def test_exactly_100_custom_attributes_is_fine() -> None:
    custom = {f"attr {n}": f"f{n}" for n in range(MAX_CUSTOM_ATTRIBUTES)}
    assert len(compile_mapping({"custom_attributes": custom}).custom_attributes) == 100


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("TEXT", "mapping.subscriptions[0]: must be an object with channel and signUpSourceId"),
        ({"signUpSourceId": "1"}, "mapping.subscriptions[0].channel: must be TEXT or EMAIL"),
        (
            {"channel": "PUSH", "signUpSourceId": "1"},
            "mapping.subscriptions[0].channel: must be TEXT or EMAIL",
        ),
        ({"channel": "TEXT"}, "mapping.subscriptions[0].signUpSourceId: required;"),
        ({"channel": "TEXT", "signUpSourceId": None}, "mapping.subscriptions[0].signUpSourceId"),
        ({"channel": "TEXT", "signUpSourceId": "  "}, "mapping.subscriptions[0].signUpSourceId"),
        (
            {"channel": "TEXT", "signUpSourceId": "1", "when": 5},
            "mapping.subscriptions[0].when: must name a source field",
        ),
        (
            {"channel": "TEXT", "signUpSourceId": "1", "locale": "en"},
            "mapping.subscriptions[0]: unknown keys ['locale']",
        ),
        (
            {"channel": "TEXT", "signUpSourceId": "1", "singleOptIn": "perhaps"},
            "mapping.subscriptions[0].singleOptIn: must be true or false",
        ),
    ],
)
def test_bad_subscription_item(item: object, expected: str) -> None:
    (problem,) = compile_errors({"subscriptions": [item]})
    assert problem.startswith(expected)


def test_subscriptions_must_be_a_list() -> None:
    assert compile_errors({"subscriptions": {"channel": "TEXT"}}) == [
        "mapping.subscriptions: must be a list of opt-ins"
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], ["mapping: must be an object"]),
        ({"identifiers": "email"}, ["mapping.identifiers: must be an object"]),
        ({"attributes": ["firstName"]}, ["mapping.attributes: must be an object"]),
        ({"custom_attributes": "VIP"}, ["mapping.custom_attributes: must be an object"]),
        (
            {"identifiers": {"customIdentifiers": "loyalty"}},
            ["mapping.identifiers.customIdentifiers: must be an object"],
        ),
        ({"identifiers": {"email": []}}, ["mapping.identifiers.email: must name a source field"]),
        (
            {"identifiers": {"email": ["a", ""]}},
            ["mapping.identifiers.email: must name a source field"],
        ),
        ({"custom_attributes": {" ": "x"}}, ["mapping.custom_attributes. : a custom attribute"]),
        (
            {"identifiers": {"customIdentifiers": {"": "x"}}},
            ["mapping.identifiers.customIdentifiers.: a custom identifier needs a name"],
        ),
    ],
)
def test_wrong_shapes(raw: object, expected: list[str]) -> None:
    problems = compile_errors(raw)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


def test_sources_are_trimmed() -> None:
    mapping = compile_mapping({"identifiers": {"email": " mail ", "phone": [" a ", "b "]}})
    assert [f.sources for f in mapping.identifiers] == [("mail",), ("a", "b")]


def test_compiled_mapping_is_a_mapping() -> None:
    assert isinstance(compile_mapping(DESIGN_MAPPING), Mapping)
    assert compile_mapping(DESIGN_MAPPING).custom_attribute_names == ("Lifetime Value", "VIP")
