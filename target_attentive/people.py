"""A record becomes a person to send, with what was left out, or a reject (pure).

The rule (Attentive's own, for identifiers): a value that cannot be sent is left out of
the payload, and the person is sent as long as one valid identifier remains. Every field
left out is a `Problem` with its path and reason, written to the rejects file as an
omission; a record with no valid identifier left is rejected with all of its reasons.
With `invalid_fields: reject` any invalid field rejects the record instead.

The steps: map (mapping.py), normalise (normalize.py), type the custom attributes
(custom_types.py), validate against the project's schema (validation.py) taking out what
fails until the payload passes, and drop opt-ins whose channel's identifier was left out.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from target_attentive.custom_types import AttributeTypes, convert
from target_attentive.fields import CHANNEL_IDENTIFIER, CUSTOM_ATTRIBUTES, CUSTOM_IDENTIFIERS
from target_attentive.mapping import Mapping
from target_attentive.normalize import Invalid, normalize_payload
from target_attentive.onepass import OnePass
from target_attentive.problems import Path, Problem
from target_attentive.reading import map_record, phone_region
from target_attentive.validation import NO_IDENTIFIER, validate_payload

# Each pass takes out at least one field; a payload has few levels, so this is never reached
# by a payload that can pass at all.
_MAX_PASSES = 8
_NO_ENUM: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecordPlan:
    """How one stream's records are prepared: its mapping, and what the settings say."""

    mapping: Mapping
    region: str  # default_phone_region
    types: AttributeTypes
    omit_invalid: bool = True  # invalid_fields: omit
    schema_kinds: MappingABC[str, str | None] = field(default_factory=dict)  # custom attribute

    @cached_property
    def one_pass(self) -> OnePass | None:
        """The mapping compiled for reading a usual record in one pass (see onepass.py)."""
        return OnePass.compile(self.mapping, self.region)


@dataclass
class Prepared:
    """What became of one record: a payload and the fields left out, or the reject reasons."""

    payload: dict | None
    omitted: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # why it was rejected
    region_defaulted: bool = False  # phone_region named no known country

    @property
    def rejected(self) -> bool:
        return self.payload is None


def prepare(
    record: MappingABC, plan: RecordPlan, broken: MappingABC[str, str] | None = None
) -> Prepared:
    """The person a record makes. `broken`: source fields off the stream's schema (to rule)."""
    one_pass = plan.one_pass
    read = one_pass.read(record) if one_pass is not None and not broken else None
    payload, omitted, defaulted = read or map_and_normalize(record, plan, broken)
    decided: dict[str, str] = {}
    omitted += _type_custom(payload, plan, decided)
    fatal = _settle(payload, omitted)
    omitted += _orphan_opt_ins(payload, omitted)
    if fatal:
        return Prepared(None, problems=_reasons(omitted, fatal), region_defaulted=defaulted)
    if omitted and not plan.omit_invalid:
        return Prepared(None, problems=omitted, region_defaulted=defaulted)
    for name, kind in decided.items():
        plan.types.decide(name, kind)
    return Prepared(payload, omitted, region_defaulted=defaulted)


def map_and_normalize(
    record: MappingABC, plan: RecordPlan, broken: MappingABC[str, str] | None = None
) -> tuple[dict, list[Problem], bool]:
    """Map, then normalise: what `OnePass` does in one pass, for every record and mapping."""
    payload, omitted = map_record(record, plan.mapping, broken)
    region, defaulted = plan.region, False
    identifiers = payload.get("identifiers")
    if plan.mapping.phone_region and isinstance(identifiers, dict) and identifiers.get("phone"):
        found = phone_region(record, plan.mapping)
        region, defaulted = (found, False) if found else (plan.region, True)
    payload, problems = normalize_payload(payload, region)
    return payload, omitted + problems, defaulted


def _reasons(omitted: list[Problem], fatal: list[Problem]) -> list[Problem]:
    """A rejected record's reasons: what was wrong with its identifiers comes first."""
    about_ids = [p for p in omitted if p.path[:1] == ("identifiers",)]
    others = [p for p in omitted if p.path[:1] != ("identifiers",)]
    if about_ids and all(p.message == NO_IDENTIFIER for p in fatal):
        return about_ids + others
    return fatal + about_ids + others


def _type_custom(payload: dict, plan: RecordPlan, decided: dict[str, str]) -> list[Problem]:
    """Custom values converted to their attribute's type; what is not of it, left out."""
    attributes = payload.get("attributes")
    custom = attributes.get(CUSTOM_ATTRIBUTES) if isinstance(attributes, dict) else None
    if not isinstance(custom, dict):
        return []
    problems = []
    enums = plan.types.enums
    for name, value in list(custom.items()):
        kind = decided.get(name) or plan.types.kind(name, value, plan.schema_kinds.get(name))
        if kind is None:
            del custom[name]
            message = (
                "is NaN, an infinity or null, and the attribute has no type yet; leave it "
                "empty, or pin its type in custom_attribute_types"
            )
            problems.append(_custom_problem(name, message))
            continue
        try:
            custom[name] = convert(kind, value, enums.get(name, _NO_ENUM))
        except Invalid as exc:
            del custom[name]
            problems.append(_custom_problem(name, str(exc)))
            continue
        decided[name] = kind
    if problems:
        _prune(payload, ("attributes", CUSTOM_ATTRIBUTES))
        _prune(payload, ("attributes",))
    return problems


def _custom_problem(name: str, message: str) -> Problem:
    return Problem(f"attributes.custom.{name}", message, ("attributes", CUSTOM_ATTRIBUTES, name))


def _settle(payload: dict, omitted: list[Problem]) -> list[Problem]:
    """Validate, taking out each field that fails, until the payload passes.

    Fields left out are added to `omitted`; returned are the problems no field can be
    taken out for (no identifier left, a part of the wrong type): the record's reject.
    """
    previous: list[Problem] = []
    for _ in range(_MAX_PASSES):
        problems = validate_payload(payload)
        if not problems:
            return []
        units = [_unit(p.path) for p in problems]
        fatal = [p for p, unit in zip(problems, units, strict=True) if unit is None]
        if fatal or problems == previous:  # nothing left to take out, or it did not help
            return fatal or problems
        omitted += [_named(payload, p) for p in problems]
        _remove(payload, [u for u in units if u is not None])
        previous = problems
    return validate_payload(payload)


def _named(payload: dict, problem: Problem) -> Problem:
    """A custom identifier by its key, an opt-in by its channel, not by a list index."""
    path = problem.path
    if path[:2] == ("identifiers", CUSTOM_IDENTIFIERS) and len(path) > 2:
        item = _child(_child(payload["identifiers"], CUSTOM_IDENTIFIERS), path[2])
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            where = f"identifiers.{CUSTOM_IDENTIFIERS}.{item['key']}"
            return Problem(where, problem.message, problem.path)
    if path[:1] == ("subscriptions",) and len(path) > 1:
        item = _child(payload.get("subscriptions"), path[1])
        if isinstance(item, dict) and isinstance(item.get("channel"), str):
            return Problem(f"subscriptions.{item['channel']}", problem.message, problem.path)
    return problem


def _unit(path: Path) -> Path | None:
    """What to take out for a problem at `path`: the field, the opt-in, or None (nothing can)."""
    if not path or path == ("identifiers",):
        return None
    if path[0] == "identifiers":
        return path[:3] if path[1] == CUSTOM_IDENTIFIERS and len(path) > 2 else path[:2]
    if path[0] == "attributes":
        return path[:3] if len(path) > 2 else path[:2]
    if path[0] == "subscriptions":
        return path[:2]
    return path[:1]


def _remove(payload: dict, units: list[Path]) -> None:
    """Take fields out; list items by index, highest first, so the others keep theirs."""
    for unit in set(units):
        if not isinstance(unit[-1], int):
            _delete(payload, unit)
    indexed = sorted((u for u in set(units) if isinstance(u[-1], int)), key=lambda u: -u[-1])
    for unit in indexed:
        _delete(payload, unit)
    for unit in units:
        for depth in range(len(unit) - 1, 0, -1):
            _prune(payload, unit[:depth])


def _delete(payload: dict, path: Path) -> None:
    container: Any = payload
    for part in path[:-1]:
        container = _child(container, part)
    if _child(container, path[-1]) is not None or (
        isinstance(container, dict) and path[-1] in container
    ):
        del container[path[-1]]


def _child(container: Any, part: Any) -> Any:
    if isinstance(container, dict):
        return container.get(part)
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return container[part]
    return None


def _prune(payload: dict, path: Path) -> None:
    """Take out a container left empty (Attentive refuses empty objects and lists)."""
    parent: Any = payload
    for part in path[:-1]:
        parent = _child(parent, part)
    node = _child(parent, path[-1])
    if isinstance(node, (dict, list)) and not node and path != ("identifiers",):
        _delete(payload, path)


def _orphan_opt_ins(payload: dict, omitted: list[Problem]) -> list[Problem]:
    """An opt-in is not sent when its channel's identifier was left out (a TEXT opt-in
    without the phone would subscribe whatever phone Attentive holds for the person)."""
    subscriptions = payload.get("subscriptions")
    identifiers = payload.get("identifiers")
    if not isinstance(subscriptions, list) or not omitted:
        return []
    left_out = {p.path[1] for p in omitted if len(p.path) > 1 and p.path[0] == "identifiers"}
    present = identifiers if isinstance(identifiers, dict) else {}
    problems, kept = [], []
    for item in subscriptions:
        channel = item.get("channel") if isinstance(item, dict) else None
        needed = CHANNEL_IDENTIFIER.get(channel) if isinstance(channel, str) else None
        if needed in left_out and needed not in present:
            message = f"not sent: identifiers.{needed} was left out, and this opt-in subscribes it"
            problems.append(Problem(f"subscriptions.{channel}", message, ("subscriptions",)))
        else:
            kept.append(item)
    if problems:
        if kept:
            payload["subscriptions"] = kept
        else:
            del payload["subscriptions"]
    return problems


def drop_identifiers(
    payload: dict, names: set[str], reason: str
) -> tuple[list[Problem], list[Problem]]:
    """Take identifiers out of a planned payload (kinds: `phone`, `custom:loyalty_id`).

    Returns the omissions, and the opt-ins that went with them (see `_orphan_opt_ins`).
    """
    identifiers = payload["identifiers"]
    omitted = []
    for name in sorted(names):
        if name.startswith("custom:"):
            key = name[len("custom:") :]
            items = identifiers.get(CUSTOM_IDENTIFIERS) or []
            kept = [i for i in items if i["key"] != key]
            if len(kept) == len(items):
                continue
            if kept:
                identifiers[CUSTOM_IDENTIFIERS] = kept
            else:
                del identifiers[CUSTOM_IDENTIFIERS]
            path: Path = ("identifiers", CUSTOM_IDENTIFIERS, key)
            omitted.append(Problem(f"identifiers.{CUSTOM_IDENTIFIERS}.{key}", reason, path))
        elif name in identifiers:
            del identifiers[name]
            omitted.append(Problem(f"identifiers.{name}", reason, ("identifiers", name)))
    return omitted, _orphan_opt_ins(payload, omitted)
