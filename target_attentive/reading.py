"""Read a record through a compiled mapping: the payload, and what it had to leave out (pure).

A source may be one field name or a list of names, the first one present winning; a
dotted source (`address.city`) reaches into nested objects. Parts a stream map built
(`identifiers`, `attributes`, `subscriptions`) are merged over the mapped ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from typing import Any

from target_attentive.fields import CUSTOM_IDENTIFIERS
from target_attentive.mapping import PAYLOAD_PARTS, Mapping
from target_attentive.normalize import Invalid, is_truthy
from target_attentive.phonelib import phonenumbers
from target_attentive.problems import Problem


def _pick(record: MappingABC, sources: tuple[str, ...]) -> tuple[str | None, Any]:
    """(source, value) of the first source with a value; blank text counts as absent."""
    for source in sources:
        value = record.get(source)
        if value is None and "." in source:
            value = record
            for part in source.split("."):
                value = value.get(part) if isinstance(value, MappingABC) else None
        if value is None or (isinstance(value, str) and (not value or value.isspace())):
            continue
        return source, value
    return None, None


def first_value(record: MappingABC, sources: tuple[str, ...]) -> Any:
    """The value of the first source with one; a dotted source (`customer.email`) reaches
    into nested objects when the record has no field of that exact name."""
    return _pick(record, sources)[1]


def build_payload(record: MappingABC, mapping: Mapping) -> dict:
    """The payload the mapping makes of a record, not yet normalised; `Invalid` for the
    first field that cannot be read (see `map_record`, which leaves such fields out)."""
    payload, problems = map_record(record, mapping)
    if problems:
        raise Invalid(problems[0].message)
    return payload


def map_record(
    record: MappingABC, mapping: Mapping, broken: MappingABC[str, str] | None = None
) -> tuple[dict, list[Problem]]:
    """The payload the mapping makes of a record, not yet normalised, and what it left out.

    Parts the record already carries as objects (`identifiers`, `attributes`,
    `subscriptions`, built with stream maps) are merged over the mapped ones. `broken`
    names the source fields that break the stream's schema (field to rule): a payload field
    read from one is left out, as is an opt-in whose `when` flag is not a yes/no value.
    """
    broken = broken or {}
    problems: list[Problem] = []
    identifiers: dict[str, Any] = {}
    custom_ids: list[dict[str, Any]] = []
    attributes: dict[str, Any] = {}
    for field, path in mapping.targets:
        source, value = _pick(record, field.sources)
        if source is None:
            continue
        top = source.split(".")[0] if broken else source
        if top in broken:
            message = (
                f"source field {top!r} does not match the stream's schema (rule "
                f"{broken[top]}); fix the tap's data"
            )
            problems.append(Problem(".".join(path), message, path))
        elif path[1] == CUSTOM_IDENTIFIERS:
            custom_ids.append({"key": field.path[1], "value": value})
        elif path[0] == "identifiers":
            identifiers[field.path[0]] = value
        elif len(field.path) == 1:
            attributes[field.path[0]] = value
        else:
            attributes.setdefault(field.path[0], {})[field.path[1]] = value
    if custom_ids:
        identifiers[CUSTOM_IDENTIFIERS] = custom_ids
    payload: dict[str, Any] = {"identifiers": identifiers}
    if attributes:
        payload["attributes"] = attributes
    subscriptions = _opt_ins(record, mapping, broken, problems)
    if subscriptions:
        payload["subscriptions"] = subscriptions
    for part in PAYLOAD_PARTS:
        if part in record:
            try:
                _merge_shaped(payload, part, record[part])
            except Invalid as exc:
                problems.append(Problem(part, str(exc), (part,)))
    return payload, problems


def _opt_ins(
    record: MappingABC, mapping: Mapping, broken: MappingABC[str, str], problems: list[Problem]
) -> list[dict[str, Any]]:
    subscriptions = []
    seen: set[tuple[str, str]] = set()
    for opt_in in mapping.subscriptions:
        if opt_in.when is not None:
            where = f"subscriptions.{opt_in.channel}"
            top = opt_in.when.split(".")[0]
            if top in broken:
                message = (
                    f"not sent: its flag {opt_in.when!r} does not match the stream's schema "
                    f"(rule {broken[top]}); fix the tap's data"
                )
                problems.append(Problem(where, message, ("subscriptions",)))
                continue
            try:
                wanted = is_truthy(first_value(record, (opt_in.when,)))
            except Invalid as exc:
                message = f"not sent: its flag {opt_in.when!r} {exc}"
                problems.append(Problem(where, message, ("subscriptions",)))
                continue
            if not wanted:
                continue
        # Two flags for one channel and source (either opts in) must not send it twice.
        key = (opt_in.channel, opt_in.sign_up_source_id)
        if key in seen:
            continue
        seen.add(key)
        item: dict[str, Any] = {"signUpSourceId": opt_in.sign_up_source_id}
        item["channel"] = opt_in.channel
        if opt_in.single_opt_in is not None:
            item["singleOptIn"] = opt_in.single_opt_in
        subscriptions.append(item)
    return subscriptions


def phone_region(record: MappingABC, mapping: Mapping) -> str | None:
    """The person's region for reading national phone numbers, when the record says it.

    An ISO 3166-1 alpha-2 code in any case; `UK` (common, though not ISO) reads as GB.
    None when the mapping names no field, the field is empty, or the code is unknown.
    """
    if not mapping.phone_region:
        return None
    value = first_value(record, mapping.phone_region)
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    code = "GB" if code == "UK" else code
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _merge_shaped(payload: dict, part: str, value: Any) -> None:
    """Take a part a stream map built; the SDK may hand it over as JSON text.

    Text that does not look like JSON is an ordinary column that happens to share the
    name, and is left alone. Parts are copied, so normalising never edits the record.
    """
    if isinstance(value, str):
        if not value.lstrip().startswith(("{", "[")):
            return
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid(f"{part} is text that is not valid JSON") from None
    if value is None:
        return
    if part == "subscriptions" and isinstance(value, (list, tuple)):
        payload[part] = [dict(i) if isinstance(i, MappingABC) else i for i in value]
    elif isinstance(value, MappingABC):
        base = payload.get(part)
        payload[part] = _deep_merge(base if isinstance(base, dict) else {}, value)
    else:
        payload[part] = value  # the wrong type: validation names it


def _deep_merge(base: dict, over: MappingABC) -> dict:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, MappingABC) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = _deep_merge({}, value) if isinstance(value, MappingABC) else value
    return merged
