"""Property tests of the kinds pipeline (hypothesis, bounded examples, no network).

Records carry every awkward value a tap can send. Whatever they hold: nothing raises,
each record ends in exactly one outcome, every body sent passes its kind's schema and
serialises as strict JSON, reasons never quote a value, and ids are stable.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_attentive.kinds import (
    FILTERED,
    REJECTED,
    SEND,
    KindContext,
    KindMappingError,
    UsersKind,
    compile_kind_mapping,
    derive_event_id,
    plan_record,
    validate_kind_payload,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARK = "QZXJ"  # put into text values: a reason that quotes a value would show it
NOW = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)

ITEM = {
    "productId": "pid",
    "productVariantId": "vid",
    "price": "price",
    "currency": "cur",
    "quantity": "qty",
    "name": "title",
    "productUrl": "url",
}
IDS = {
    "email": "email",
    "phone": "phone",
    "clientUserId": "cid",
    "customIdentifiers": {"loyalty": "loyalty"},
}
MAPPINGS = {
    "custom_event": {
        "event_type_field": "name",
        "identifiers": IDS,
        "properties": {"Total": "price", "Lines": "lines", "Title": "title"},
        "occurred_at": "at",
        "external_event_id": "eid",
    },
    "custom_event_fixed": {"kind": "custom_event", "event_type": "Fixed", "identifiers": IDS},
    "purchase": {
        "items": "lines",
        "item": ITEM,
        "order_id": "oid",
        "occurred_at": "at",
        "currency_field": "cur",
        "identifiers": IDS,
    },
    "purchase_per_record": {"kind": "purchase", "item": ITEM, "order_id": "oid"},
    "add_to_cart": {"items": "lines", "item": ITEM, "currency": "EUR"},
    "product_view": {"item": ITEM, "identifiers": IDS},
    "unsubscribe": {"channel_field": "channel", "subscription_type_field": "type", "when": "flag"},
    "unsubscribe_all": {"kind": "unsubscribe", "channel": "ALL"},
}
COMPILED = {
    name: compile_kind_mapping({"kind": name, **raw}, f"stream_mappings.{name}")
    for name, raw in MAPPINGS.items()
}

texts = st.text(max_size=12).map(lambda t: MARK + t) | st.sampled_from(
    [
        "",
        " ",
        "\t",
        "null",
        "NaN",
        "yes",
        "no",
        "TEXT",
        "ALL",
        "email",
        "usd",
        "1e5",
        "2024-05-01T11:00:00Z",
        "2024-04-01T00:00:00+02:00",
        "2024-05-01",
        "1,234.50",
        "$9.99",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.none() | st.just(dt.timezone.utc)),
    st.dates(),
    texts,
    st.sampled_from([b"bytes", frozenset({1}), Decimal("1e999999"), 10**400]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
good = {
    "id": st.sampled_from([1, "a-1", Decimal("2")]),
    "email": st.sampled_from(["a@b.co", " Jane@Example.com "]),
    "phone": st.sampled_from(["+12025550123", "(202) 555-0123", 2025550123]),
    "cid": st.sampled_from(["c-1", 42]),
    "loyalty": st.sampled_from(["L1"]),
    "at": st.sampled_from(["2024-05-01T11:00:00Z", "2024-04-01T00:00:00-05:00"]),
    "name": st.sampled_from(["Order Shipped", "Signed Up"]),
    "eid": st.sampled_from(["evt-1", 7]),
    "oid": st.sampled_from(["1001", 1002]),
    "pid": st.sampled_from(["p1", 1]),
    "vid": st.sampled_from(["v1", 2]),
    "price": st.sampled_from([9.99, "5", Decimal("19.90"), 0]),
    "cur": st.sampled_from(["usd", "EUR"]),
    "qty": st.integers(-3, 5),
    "title": st.sampled_from(["T-shirt"]),
    "url": st.sampled_from(["https://shop.example/p1"]),
    "channel": st.sampled_from(["TEXT", "email", "ALL"]),
    "type": st.sampled_from(["MARKETING", "transactional"]),
    "flag": st.sampled_from([True, "yes", "no", None]),
}


def field(name: str) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes an awkward one: both paths get exercised."""
    return st.one_of(good[name], good[name], good[name], values)


line = st.fixed_dictionaries(
    {name: field(name) for name in ("pid", "vid", "price")},
    optional={name: field(name) for name in ("cur", "qty", "title", "url")},
)
FIELDS = [
    "id",
    "email",
    "phone",
    "cid",
    "loyalty",
    "at",
    "name",
    "eid",
    "oid",
    "cur",
    "qty",
    "title",
    "url",
    "pid",
    "vid",
    "price",
    "channel",
    "type",
    "flag",
]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in FIELDS:
        if draw(st.sampled_from([True, True, True, True, False])):
            record[name] = draw(field(name))
    record["lines"] = draw(st.one_of(st.lists(line, min_size=1, max_size=3), values))
    return record


contexts = st.builds(
    KindContext,
    stream=st.just("s"),
    key_properties=st.sampled_from([(), ("id",), ("id", "oid")]),
    unsubscribe_notifications=st.booleans(),
    now=st.sampled_from([None, NOW]),
    max_event_age_hours=st.sampled_from([None, 0.5, 12, 10**12]),
)


def test_every_mapping_compiles() -> None:
    assert not any(isinstance(m, UsersKind) for m in COMPILED.values())


@SETTINGS
@given(record=records(), context=contexts, name=st.sampled_from(sorted(COMPILED)))
def test_one_outcome_and_every_body_sent_passes_its_schema(
    record: dict, context: KindContext, name: str
) -> None:
    mapping = COMPILED[name]
    before = copy.deepcopy(record)
    built = plan_record(record, mapping, context)  # type: ignore[arg-type]
    assert repr(record) == repr(before), "planning must not edit the record"
    assert built.outcome in (SEND, REJECTED, FILTERED)
    assert (built.outcome == REJECTED) == bool(built.problems)
    if built.outcome != SEND:
        assert built.omissions == []
    else:
        assert validate_kind_payload(mapping.kind, built.payload) == []
        json.dumps(built.payload, allow_nan=False)  # strict JSON: no NaN, no dates
        if mapping.kind == "unsubscribe":
            assert built.optout_keys
            assert len(built.optout_keys) == len(built.payload["subscriptions"])
        else:
            assert built.event_id and built.event_key.startswith(f"{mapping.kind}:")
    if built.outcome == FILTERED:
        assert built.filtered
    for reason in [*built.problems, *built.omissions]:
        assert MARK not in str(reason), reason
    again = plan_record(copy.deepcopy(record), mapping, context)  # type: ignore[arg-type]
    assert (again.outcome, again.event_id, again.payload) == (
        built.outcome,
        built.event_id,
        built.payload,
    ) or _has_nan(built.payload)


def _has_nan(value: Any) -> bool:
    """NaN is never equal to itself, so a rejected body holding one compares unequal."""
    return "nan" in repr(value).lower()


@SETTINGS
@given(record=records(), keys=st.sampled_from([(), ("id",)]))
def test_derived_id_same_record_same_id(record: dict, keys: tuple[str, ...]) -> None:
    assert derive_event_id("s", record, keys) == derive_event_id("s", copy.deepcopy(record), keys)


@SETTINGS
@given(record=records(), extra=texts)
def test_derived_id_changes_with_the_content(record: dict, extra: str) -> None:
    changed = {**record, "added_field": extra}
    assert derive_event_id("s", changed) != derive_event_id("s", record)


settings_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
mapping_keys = st.sampled_from(
    [
        "kind",
        "identifiers",
        "event_type",
        "event_type_field",
        "properties",
        "occurred_at",
        "external_event_id",
        "items",
        "item",
        "order_id",
        "currency",
        "currency_field",
        "channel",
        "channel_field",
        "subscription_type",
        "subscription_type_field",
        "when",
        "attributes",
    ]
)


@SETTINGS
@given(
    kind=st.sampled_from(
        ["custom_event", "purchase", "add_to_cart", "product_view", "unsubscribe"]
    ),
    raw=st.dictionaries(mapping_keys, settings_values, max_size=6),
)
def test_compile_never_crashes_and_names_each_setting(kind: str, raw: dict) -> None:
    try:
        compile_kind_mapping({**raw, "kind": kind}, "mapping")
    except KindMappingError as exc:
        assert exc.problems
        assert all(problem.startswith("mapping") for problem in exc.problems)
