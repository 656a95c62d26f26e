"""Bring a mapped payload into the forms Attentive accepts, field by field (pure).

Attentive wants E.164 phones, ISO-8601 dates, JSON scalars and no empty values. Each field
is converted as the field table (fields.py) says, by the converters of values.py (which
this module also exports, for the code that reads single values). A value that cannot be
converted is taken out, with a problem saying why. Empty and null values are dropped,
never sent: a blank would clear nothing (Attentive keeps omitted attributes) and a blank
identifier can merge two people.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from target_attentive.fields import (
    ATTRIBUTE_BY_PATH,
    ATTRIBUTE_GROUPS,
    CUSTOM_ATTRIBUTES,
    CUSTOM_IDENTIFIERS,
    IDENTIFIERS,
)
from target_attentive.problems import Invalid, Path, Problem
from target_attentive.values import (
    is_truthy,
    normalize_email,
    normalize_phone,
    to_boolean,
    to_custom_value,
    to_date,
    to_int,
    to_number,
    to_text,
)

__all__ = [
    "CONVERTERS",
    "Invalid",
    "is_truthy",
    "normalize_email",
    "normalize_payload",
    "normalize_phone",
    "to_custom_value",
    "to_date",
    "to_number",
    "to_text",
]


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
