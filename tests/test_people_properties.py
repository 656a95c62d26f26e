"""Property-based: any record a tap can send becomes a valid person, a reject, and omissions.

Records are generated from a stream's JSON Schema (a customer table), each field either a
value of its declared type or something awkward: numbers huge and tiny, NaN-like text,
unicode, empty and whitespace strings, nested objects, lists, the wrong type. They go
through the pure pipeline, from record to planned payload: the stream's schema check
(`RecordCheck`), `people.prepare` and `coalesce.group_people`. hypothesis prints the
failing example (and `@reproduce_failure` to replay it) when a property does not hold.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import junkdrawer

from target_attentive.coalesce import group_people, owner_keys
from target_attentive.custom_types import AttributeTypes, schema_kind
from target_attentive.jsonl import dumps, json_safe
from target_attentive.keys import identity_keys, identity_kind, payload_hash, person_key
from target_attentive.mapping import compile_mapping
from target_attentive.people import Prepared, RecordPlan, prepare
from target_attentive.reading import map_record
from target_attentive.sinks import Item, RecordCheck
from target_attentive.validation import validate_payload


@pytest.fixture(autouse=True, scope="module")
def _no_gc_callbacks_left_behind() -> Iterator[None]:
    """hypothesis times garbage collections with a gc callback that allocates after each
    one; tests of the target's collector (test_sender.py) count allocations, so the
    callback goes when these tests are done (hypothesis puts it back when it runs again)."""
    yield
    gc.callbacks[:] = [c for c in gc.callbacks if c.__module__ != junkdrawer.__name__]
    junkdrawer._gc_initialized = False


STREAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "integer", "null"]},
        "country": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "birthday": {"type": ["string", "null"], "format": "date"},
        "age": {"type": ["integer", "null"]},
        "lifetime_value": {"type": ["number", "null"]},
        "vip": {"type": ["boolean", "null"]},
        "notes": {"type": ["string", "null"]},  # a CSV-like text column, custom attribute
        "loyalty": {"type": ["string", "null"]},
        "sms_opt_in": {"type": ["boolean", "null"]},
        "address": {"type": ["object", "null"], "properties": {"city": {"type": "string"}}},
        "unmapped": {"type": ["integer", "null"]},
    },
}
MAPPING = compile_mapping(
    {
        "identifiers": {
            "email": "email",
            "phone": "phone",
            "clientUserId": "id",
            "customIdentifiers": {"loyalty_id": "loyalty"},
        },
        "attributes": {
            "firstName": "first_name",
            "demographic.dateOfBirth": "birthday",
            "demographic.age": "age",
            "location.city": "address.city",
        },
        "custom_attributes": {"Lifetime Value": "lifetime_value", "VIP": "vip", "Notes": "notes"},
        "subscriptions": [{"channel": "TEXT", "signUpSourceId": "77", "when": "sms_opt_in"}],
        "phone_region": "country",
    }
)

AWKWARD_NUMBERS = [
    Decimal("1e20"),
    Decimal("1e308"),
    Decimal("1e400"),
    Decimal("-1e400"),
    Decimal("1e-400"),
    Decimal("-0"),
    Decimal("123456789012345678901234567890"),
    Decimal("9223372036854775808"),
    10**30,
    -(10**19),
    2**63 - 1,
    Decimal("0.1"),
]
NAN_LIKE = ["NaN", "nan", "inf", "-Infinity", "null", "None", "n/a", "-", "1e999"]
AWKWARD_TEXT = [
    "",
    " ",
    "\t\n",
    "\u00a0",
    "Zoë Łukasz 東京 🙂",
    "\u200b",
    "a" * 300,
    "$99",
    "1,234.50",
    "yes",
    "false",
    "1517.01",
    "-3",
    "2024-02-30",
    "12/31/1990",
    "+44 20 7183 8750",
    "020 7183 8750",
    "(202) 555-0123 ext 4",
    "uk",
    "Gb",
    "ZZ",
]
EMAILS = ["ann@example.com", " ANN@example.com ", "bob@example.org", "not-an-email", "a@b"]
PHONES = ["+12025550123", "(202) 555-0123", "020 7183 8750", "+447911123456", "12345"]


def awkward() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.sampled_from(AWKWARD_NUMBERS),
        st.sampled_from(NAN_LIKE),
        st.sampled_from(AWKWARD_TEXT),
        st.text(max_size=12),
        st.booleans(),
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False, places=None),
        st.none(),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.text(max_size=4), scalars, max_size=3),
    )


def typed(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the property's declared type (or null)."""
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    options: list[st.SearchStrategy[Any]] = []
    for kind in kinds:
        if kind == "string":
            options.append(st.one_of(st.text(max_size=20), st.sampled_from(AWKWARD_TEXT)))
        elif kind == "integer":
            options.append(st.integers(min_value=-(10**25), max_value=10**25))
        elif kind == "number":
            options.append(st.decimals(allow_nan=False, allow_infinity=False))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "object":
            options.append(st.fixed_dictionaries({}, optional={"city": st.text(max_size=10)}))
        elif kind == "null":
            options.append(st.none())
    return st.one_of(options)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, prop in STREAM_SCHEMA["properties"].items():
        if name == "email":
            value = draw(st.one_of(st.sampled_from(EMAILS), typed(prop), awkward()))
        elif name == "phone":
            value = draw(st.one_of(st.sampled_from(PHONES), typed(prop), awkward()))
        elif name == "id":
            value = draw(st.one_of(st.integers(1, 4), typed(prop), awkward()))
        else:
            value = draw(st.one_of(typed(prop), typed(prop), awkward()))
        if draw(st.booleans()) or name in ("email", "phone"):
            record[name] = value
    return record


def plan_for(check: RecordCheck) -> RecordPlan:
    properties = STREAM_SCHEMA["properties"]
    kinds = {
        f.path[-1]: schema_kind(properties.get(f.sources[0])) for f in MAPPING.custom_attributes
    }
    return RecordPlan(MAPPING, "US", AttributeTypes(dict, {}), schema_kinds=kinds)


def read(record: dict[str, Any], check: RecordCheck, plan: RecordPlan) -> Prepared:
    """What the sink does with a record before batching it."""
    check.validate(record)
    problems = check.take()
    mapped = MAPPING.source_fields
    broken = {p.path[0]: p.path[1] for p in problems if p.path and p.path[0] in mapped}
    return prepare(record, plan, broken)


def present(record: dict[str, Any], source: str) -> bool:
    value: Any = record
    for part in source.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value is not None and not (isinstance(value, str) and not value.strip())


def reported(omitted: list, where: str) -> bool:
    return any(p.field == where or p.field.startswith(where + ".") for p in omitted)


def assert_every_mapped_value_sent_or_reported(record: dict, prepared: Prepared) -> None:
    payload = prepared.payload
    assert payload is not None
    for field in MAPPING.fields:
        source = next((s for s in field.sources if present(record, s)), None)
        if source is None:
            continue
        if field.path[0] == "customIdentifiers":
            sent = any(
                c["key"] == field.path[1]
                for c in payload["identifiers"].get("customIdentifiers", ())
            )
            where = "identifiers.customIdentifiers"
        else:
            part = (
                "identifiers"
                if field.path[0] in ("email", "phone", "clientUserId")
                else ("attributes")
            )
            node: Any = payload.get(part, {})
            for name in field.path:
                node = node.get(name) if isinstance(node, dict) else None
            sent = node is not None
            where = ".".join((part, *field.path))
        assert sent or reported(prepared.omitted, where), (where, prepared.omitted)
    flag = record.get("sms_opt_in")
    if flag is True:
        assert "subscriptions" in payload or reported(prepared.omitted, "subscriptions"), (
            prepared.omitted
        )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=8), st.data())
def test_any_batch_ends_in_valid_people_rejects_and_reported_omissions(
    batch: list, data: st.DataObject
) -> None:
    check = RecordCheck(STREAM_SCHEMA)
    plan = plan_for(check)
    items, rejected = [], []
    for position, record in enumerate(batch, 1):
        prepared = read(record, check, plan)
        if prepared.rejected:
            assert prepared.problems, "a reject says why"
            rejected.append(position)
            continue
        assert validate_payload(prepared.payload) == [], prepared.payload
        assert_every_mapped_value_sent_or_reported(record, prepared)
        items.append(Item(position, record, prepared.payload, tuple(prepared.omitted)))

    # What the ledger may say: any value of the batch last sent with one of the batch's
    # people, or with someone else entirely.
    values = sorted({k for i in items for k in identity_keys(i.payload["identifiers"]).values()})
    people = [*values, "email:someone.else@example.com", "clientUserId:elsewhere"]
    owners = (
        data.draw(st.dictionaries(st.sampled_from(values), st.sampled_from(people)))
        if values
        else {}
    )
    grouping = group_people(items, owners=owners)
    grouped = [item.position for group in grouping.groups for item in group.items]
    rejected += [items[i].position for i in grouping.rejected]
    # Each record ends in exactly one outcome: rejected, or in exactly one person.
    assert sorted(grouped + rejected) == list(range(1, len(batch) + 1))
    for group in grouping.groups:
        payload = group.payload
        assert validate_payload(payload) == [], payload
        kinds = identity_keys(payload["identifiers"])
        for value in kinds.values():  # never sent with a value another person owns
            owner = owners.get(value)
            assert owner is None or kinds.get(identity_kind(owner), owner) == owner
        person_key(payload["identifiers"])
        payload_hash(payload)
        dumps(payload)
    # Every identifier a record carried is in its person's payload, or reported left out.
    for group in grouping.groups:
        sent = group.payload["identifiers"]
        for item in group.items:
            index = items.index(item)
            for name, value in item.payload["identifiers"].items():
                if name == "customIdentifiers":
                    keys = {c["key"] for c in sent.get(name, ())}
                    missing = [c for c in value if c["key"] not in keys]
                    where = "identifiers.customIdentifiers"
                else:
                    missing = [] if sent.get(name) == value else [name]
                    where = f"identifiers.{name}"
                if missing:
                    assert reported(grouping.omitted.get(index, []), where), (name, grouping)


@settings(max_examples=200, deadline=None)
@given(records())
def test_mapping_and_reading_never_raise_and_reasons_never_quote_values(record: dict) -> None:
    check = RecordCheck(STREAM_SCHEMA)
    map_record(record, MAPPING)
    dumps(json_safe(record))  # what a reject or omission line holds of the record
    prepared = read(record, check, plan_for(check))
    # People's data: text with digits, an @ or letters beyond ASCII (not words like "null").
    texts = {
        v.strip()
        for v in record.values()
        if isinstance(v, str)
        and len(v.strip()) >= 5
        and any(c.isdigit() or c == "@" or ord(c) > 127 for c in v)
    }
    for problem in prepared.omitted + prepared.problems:
        for text in texts:
            assert text not in problem.message, (text, problem)


def _identifiers_of(keys: list[str]) -> dict[str, Any]:
    """A payload's identifiers carrying these identity keys (one per kind), in this order."""
    identifiers: dict[str, Any] = {}
    for key in keys:
        if key.startswith("custom:"):
            name, value = key[len("custom:") :].split("=", 1)
            identifiers.setdefault("customIdentifiers", []).append({"key": name, "value": value})
        else:
            kind, value = key.split(":", 1)
            identifiers[kind] = value
    return identifiers


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=8), st.data())
def test_owners_planning_does_not_look_up_never_change_the_people(
    batch: list, data: st.DataObject
) -> None:
    """`coalesce.owner_keys` leaves out keys whose owner cannot matter: grouping with only
    the owners it looks up is grouping with all of them, for any ledger that payloads
    sent earlier could have left."""
    check = RecordCheck(STREAM_SCHEMA)
    plan = plan_for(check)
    items = []
    for position, record in enumerate(batch, 1):
        prepared = read(record, check, plan)
        if not prepared.rejected:
            items.append(Item(position, record, prepared.payload, tuple(prepared.omitted)))
    ids = [identity_keys(i.payload["identifiers"]) for i in items]
    pool = [
        *sorted({k for keys in ids for k in keys.values()}),
        "clientUserId:elsewhere",
        "email:someone.else@example.com",
        "phone:+12025550199",
        "custom:crm=7",
        "custom:loyalty_id=elsewhere",
    ]
    owners: dict[str, str] = {}  # what the ledger holds: each key under its last person
    for _ in range(data.draw(st.integers(0, 6))):
        sent = data.draw(st.lists(st.sampled_from(pool), min_size=1, unique_by=identity_kind))
        identifiers = _identifiers_of(sent)
        owners.update(dict.fromkeys(identity_keys(identifiers).values(), person_key(identifiers)))
    own = [person_key(i.payload["identifiers"]) for i in items]
    looked_up = owner_keys(ids, own)
    some = {k: v for k, v in owners.items() if k in looked_up}
    assert group_people(items, owners=some) == group_people(items, owners=owners)
