"""onepass.py reads a record exactly as mapping then normalising does, in one pass.

Generated records (test_people_properties' strategy: awkward values, wrong types, nested
objects) go through both ways under several mappings; the payloads must be equal with
their keys in the same order, the problems equal with the same paths in the same order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_people_properties import MAPPING, PHONES, records

from target_attentive.custom_types import AttributeTypes
from target_attentive.mapping import PAYLOAD_PARTS, Mapping, compile_mapping
from target_attentive.onepass import OnePass
from target_attentive.people import RecordPlan, map_and_normalize

MAPPINGS: dict[str, Mapping] = {
    "properties": MAPPING,
    "default": compile_mapping(None),
    "lists and groups": compile_mapping(
        {
            # The field table's order is email, phone, clientUserId: read in another.
            "identifiers": {
                "clientUserId": ["id", "loyalty"],
                "phone": ["phone", "notes"],
                "email": "email",
                "customIdentifiers": {"a": "first_name", "b": ["loyalty", "id"], "c": "age"},
            },
            "attributes": {
                "location": {
                    "city": "address.city",
                    "latitude": "lifetime_value",
                    "country": "country",
                },
                "firstName": "first_name",
                "demographic": {"age": "age", "dateOfBirth": "birthday", "website": "vip"},
                "lastName": "notes",
            },
            "custom_attributes": {"x": "vip", "y": "age", "z": "address"},
            "subscriptions": [
                {"channel": "TEXT", "signUpSourceId": "1", "when": "vip"},
                {"channel": "EMAIL", "signUpSourceId": "2", "singleOptIn": True},
            ],
            "phone_region": ["country", "notes"],
        }
    ),
}


def ordered(value: Any) -> Any:
    """Dicts as lists of pairs, so key order counts in a comparison."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def both_ways(record: dict, plan: RecordPlan) -> None:
    one_pass = OnePass.compile(plan.mapping, plan.region)
    assert one_pass is not None
    read = one_pass.read(record)
    if read is None:
        assert any(part in record for part in PAYLOAD_PARTS)
        return
    payload, problems, defaulted = read
    expected, expected_problems, expected_defaulted = map_and_normalize(record, plan)
    assert ordered(payload) == ordered(expected)
    assert [(p.field, p.message, p.path) for p in problems] == [
        (p.field, p.message, p.path) for p in expected_problems
    ]
    assert defaulted == expected_defaulted


@st.composite
def records_with_extras(draw: st.DrawFn) -> dict[str, Any]:
    record = draw(records())
    if draw(st.booleans()):
        record["notes"] = draw(st.sampled_from(["GB", " uk ", "de", *PHONES]))
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.sampled_from(PAYLOAD_PARTS))] = {"custom": {"k": "v"}}
    return record


@pytest.mark.parametrize("name", sorted(MAPPINGS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records_with_extras(), region=st.sampled_from(["US", "GB"]))
def test_one_pass_reads_like_mapping_then_normalising(name: str, record: dict, region: str) -> None:
    plan = RecordPlan(MAPPINGS[name], region, AttributeTypes(dict, {}))
    both_ways(record, plan)


@pytest.mark.parametrize(
    "raw",
    [
        # A group's fields apart: map_record places the group where its first field is.
        {"attributes": {"location.city": "a", "firstName": "b", "location.zip": "c"}},
        # One payload field mapped twice (dotted and nested): the later one wins.
        {"attributes": {"location.city": "a", "location": {"city": "b"}}},
    ],
)
def test_mappings_one_pass_would_misorder_are_read_in_two_steps(raw: dict) -> None:
    assert OnePass.compile(compile_mapping(raw), "US") is None
