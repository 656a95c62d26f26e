"""Check a mapping of any kind at start-up and compile it (pure).

Every problem is collected, each starting with its setting path, so one failed start
lists everything to fix. A fixed value and a source field are two keys (`event_type`
and `event_type_field`), never one key read two ways: a constant that happens to match
a column name must not silently become a column.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from typing import Any

from target_attentive.kinds.mapping_parts import (
    choice,
    fixed_or_field,
    flatten,
    optional_sources,
    sources,
    user_mapping,
)
from target_attentive.kinds.shapes import (
    ALL_CHANNELS,
    CHANNELS,
    CUSTOM_EVENT,
    ECOMMERCE_KINDS,
    EVENT_TYPE_FORBIDDEN,
    ITEM_FIELDS,
    KINDS,
    MAX_EVENT_PROPERTIES,
    PROPERTY_KEY_FORBIDDEN,
    PURCHASE,
    REQUIRED_ITEM_FIELDS,
    SUBSCRIPTION_TYPES,
    UNSUBSCRIBE,
    USERS,
    CustomEventMapping,
    EcommerceMapping,
    KindMapping,
    KindMappingError,
    Sources,
    UnsubscribeMapping,
    UsersKind,
)

_EVENT_KEYS = {"kind", "identifiers", "occurred_at"}
_ALLOWED_KEYS: dict[str, set[str]] = {
    CUSTOM_EVENT: _EVENT_KEYS
    | {"event_type", "event_type_field", "properties", "external_event_id"},
    "ecommerce": _EVENT_KEYS | {"items", "item", "currency", "currency_field"},
    UNSUBSCRIBE: {
        "kind",
        "identifiers",
        "channel",
        "channel_field",
        "subscription_type",
        "subscription_type_field",
        "when",
    },
}
_USERS_ONLY = {"attributes", "custom_attributes", "subscriptions"}


def compile_kind_mapping(raw: MappingABC | None, where: str = "mapping") -> UsersKind | KindMapping:
    """The compiled mapping, or `UsersKind` for today's user path; raises `KindMappingError`."""
    if raw is None:
        return UsersKind(None)
    if not isinstance(raw, MappingABC):
        raise KindMappingError([f"{where}: must be an object"])
    kind = USERS if raw.get("kind") is None else raw["kind"]  # null is unset, as elsewhere
    if not isinstance(kind, str) or kind.strip().lower() not in KINDS:
        raise KindMappingError([f"{where}.kind: must be one of {', '.join(KINDS)}"])
    kind = kind.strip().lower()
    if kind == USERS:
        rest = {key: value for key, value in raw.items() if key != "kind"}
        return UsersKind(rest or None)
    problems: list[str] = []
    _check_keys(raw, kind, where, problems)
    if kind == CUSTOM_EVENT:
        compiled: KindMapping = _custom_event(raw, where, problems)
    elif kind in ECOMMERCE_KINDS:
        compiled = _ecommerce(raw, kind, where, problems)
    else:
        compiled = _unsubscribe(raw, where, problems)
    if problems:
        raise KindMappingError(problems)
    return compiled


def _check_keys(raw: MappingABC, kind: str, where: str, problems: list[str]) -> None:
    allowed = set(_ALLOWED_KEYS["ecommerce" if kind in ECOMMERCE_KINDS else kind])
    if kind == PURCHASE:
        allowed.add("order_id")
    for key in sorted(set(raw) - allowed, key=str):
        if key in _USERS_ONLY:
            hint = f"{key} belongs to a users mapping"
        elif key == "order_id":
            hint = "only purchases carry an order id"
        else:
            hint = "unknown key"
        takes = ", ".join(sorted(allowed))
        problems.append(f"{where}.{key}: {hint}; {kind} mappings take {takes}")


def _custom_event(raw: MappingABC, where: str, problems: list[str]) -> CustomEventMapping:
    user = user_mapping(raw.get("identifiers"), CUSTOM_EVENT, where, problems)
    event_type, type_field = fixed_or_field(raw, "event_type", where, problems, required=True)
    if event_type is not None:
        if not isinstance(event_type, str) or not event_type.strip():
            problems.append(f"{where}.event_type: must be text naming the event type")
            event_type = None
        elif EVENT_TYPE_FORBIDDEN & set(event_type):
            problems.append(
                f"{where}.event_type: {event_type!r} has a character Attentive refuses in an "
                "event type (\" ' ( ) { } [ ] \\ | ,); rename it"
            )
            event_type = None
        else:
            event_type = event_type.strip()
    return CustomEventMapping(
        user=user,
        event_type=event_type,
        event_type_field=type_field,
        properties=_properties(raw.get("properties"), where, problems),
        occurred_at=optional_sources(raw, "occurred_at", where, problems),
        external_event_id=optional_sources(raw, "external_event_id", where, problems),
    )


def _properties(raw: Any, where: str, problems: list[str]) -> tuple[tuple[str, Sources], ...]:
    here = f"{where}.properties"
    if raw is None:
        return ()
    if not isinstance(raw, MappingABC):
        problems.append(f"{here}: must be an object of property name in Attentive to source field")
        return ()
    properties = []
    for name, value in flatten(raw):
        if not name.strip():
            problems.append(f"{here}: a property needs a name")
        elif PROPERTY_KEY_FORBIDDEN & set(name):
            problems.append(
                f"{here}.{name}: the property name {name!r} has a character Attentive refuses "
                '(" { } [ ] \\ |); rename it'
            )
        else:
            properties.append((name, sources(value, f"{here}.{name}", problems)))
    if len(properties) > MAX_EVENT_PROPERTIES:
        problems.append(
            f"{here}: {len(properties)} properties mapped; Attentive makes at most "
            f"{MAX_EVENT_PROPERTIES} usable per event type"
        )
    return tuple(properties)


def _ecommerce(raw: MappingABC, kind: str, where: str, problems: list[str]) -> EcommerceMapping:
    user = user_mapping(raw.get("identifiers"), kind, where, problems)
    currency, currency_field = fixed_or_field(raw, "currency", where, problems, required=False)
    if currency is not None:
        text = currency.strip().upper() if isinstance(currency, str) else ""
        if len(text) != 3 or not text.isascii() or not text.isalpha():
            problems.append(f"{where}.currency: must be an ISO 4217 code of three letters (USD)")
            currency = None
        else:
            currency = text
    return EcommerceMapping(
        kind=kind,
        user=user,
        items=optional_sources(raw, "items", where, problems),
        item=_item(raw.get("item"), where, problems),
        occurred_at=optional_sources(raw, "occurred_at", where, problems),
        order_id=optional_sources(raw, "order_id", where, problems),
        currency=currency,
        currency_field=currency_field,
    )


def _item(raw: Any, where: str, problems: list[str]) -> tuple[tuple[str, Sources], ...]:
    here = f"{where}.item"
    if not isinstance(raw, MappingABC):
        problems.append(
            f"{here}: required; an object of product field ({', '.join(ITEM_FIELDS)}) "
            "to source field"
        )
        return ()
    fields = []
    for name, value in flatten(raw):
        if name not in ITEM_FIELDS:
            problems.append(
                f"{here}.{name}: Attentive has no product field {name!r}; "
                f"known: {', '.join(ITEM_FIELDS)}"
            )
            continue
        fields.append((name, sources(value, f"{here}.{name}", problems)))
    names = {name for name, _ in fields}
    problems += [
        f"{here}.{name}: required; name the source field of each product's {name}"
        for name in REQUIRED_ITEM_FIELDS
        if name not in names
    ]
    return tuple(fields)


def _unsubscribe(raw: MappingABC, where: str, problems: list[str]) -> UnsubscribeMapping:
    user = user_mapping(raw.get("identifiers"), UNSUBSCRIBE, where, problems)
    channel, channel_field = fixed_or_field(raw, "channel", where, problems, required=True)
    channel = choice(channel, (*CHANNELS, ALL_CHANNELS), f"{where}.channel", problems)
    sub_type, sub_type_field = fixed_or_field(
        raw, "subscription_type", where, problems, required=False
    )
    sub_type = choice(sub_type, SUBSCRIPTION_TYPES, f"{where}.subscription_type", problems)
    return UnsubscribeMapping(
        user=user,
        channel=channel,
        channel_field=channel_field,
        subscription_type=sub_type,
        subscription_type_field=sub_type_field,
        when=optional_sources(raw, "when", where, problems),
    )
