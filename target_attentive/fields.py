"""The payload's fields, declared once: read from the project's JSON Schema of the body (pure).

`schemas/user_upsert.json` says what Attentive takes; its `x-` keys say what this project
does with each field: `x-convert` (how a value is brought into form; by default from the
field's JSON type), `x-key-rank` (which identifier names a person in the ledger, lowest
first), `x-channel` (the opt-in channel an identifier addresses) and `x-default-sources`
(the source fields the default mapping reads). Mapping, normalising, person keys, messages
and the default mapping all read this table, so a field is added in the schema alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

SCHEMA: dict[str, Any] = json.loads(
    files("target_attentive").joinpath("schemas/user_upsert.json").read_text()
)
CUSTOM_IDENTIFIERS = "customIdentifiers"
CUSTOM_ATTRIBUTES = "custom"


@dataclass(frozen=True)
class FieldSpec:
    """One payload field: where it sits, how its values are converted, what else it means."""

    part: str  # "identifiers" or "attributes"
    path: tuple[str, ...]  # inside the part: ("email",) or ("demographic", "age")
    convert: str  # a converter's name in normalize.CONVERTERS
    key_rank: int | None = None
    channel: str | None = None
    default_sources: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The dotted name a mapping uses: `email`, `demographic.dateOfBirth`."""
        return ".".join(self.path)

    @property
    def where(self) -> str:
        """The name messages use: `identifiers.email`, `attributes.location.city`."""
        return ".".join((self.part, *self.path))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A property's schema with its `$ref` (one level, as the schema uses them) merged in."""
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _convert_name(node: dict[str, Any]) -> str:
    if "x-convert" in node:
        return node["x-convert"]
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(
        node.get("type"), "text"
    )


def _spec(part: str, path: tuple[str, ...], node: dict[str, Any]) -> FieldSpec:
    node = _resolve(node)
    return FieldSpec(
        part=part,
        path=path,
        convert=_convert_name(node),
        key_rank=node.get("x-key-rank"),
        channel=node.get("x-channel"),
        default_sources=tuple(node.get("x-default-sources", ())),
    )


def _identifiers() -> tuple[FieldSpec, ...]:
    properties = SCHEMA["properties"]["identifiers"]["properties"]
    return tuple(
        _spec("identifiers", (name,), node)
        for name, node in properties.items()
        if name != CUSTOM_IDENTIFIERS
    )


def _attributes() -> tuple[FieldSpec, ...]:
    specs = []
    for name, node in SCHEMA["properties"]["attributes"]["properties"].items():
        if name == CUSTOM_ATTRIBUTES:
            continue
        node = _resolve(node)
        if node.get("type") == "object":
            specs += [
                _spec("attributes", (name, sub), child)
                for sub, child in node.get("properties", {}).items()
            ]
        else:
            specs.append(_spec("attributes", (name,), node))
    return tuple(specs)


IDENTIFIERS: tuple[FieldSpec, ...] = _identifiers()
ATTRIBUTES: tuple[FieldSpec, ...] = _attributes()
SCALAR_IDENTIFIERS: tuple[str, ...] = tuple(f.name for f in IDENTIFIERS)
IDENTIFIER_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in IDENTIFIERS}
ATTRIBUTE_BY_PATH: dict[tuple[str, ...], FieldSpec] = {f.path: f for f in ATTRIBUTES}
# The attribute objects (demographic, location, locale) and the names they hold.
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {}
for _field in ATTRIBUTES:
    if len(_field.path) == 2:
        ATTRIBUTE_GROUPS.setdefault(_field.path[0], ())
        ATTRIBUTE_GROUPS[_field.path[0]] += (_field.path[1],)
# Identifiers in the order that picks a person's key; custom identifiers come after these.
KEY_ORDER: tuple[str, ...] = tuple(
    f.name for f in sorted((f for f in IDENTIFIERS if f.key_rank), key=lambda f: f.key_rank)
)
# Which identifier an opt-in of each channel subscribes: TEXT the phone, EMAIL the email.
CHANNEL_IDENTIFIER: dict[str, str] = {f.channel: f.name for f in IDENTIFIERS if f.channel}
CHANNELS: tuple[str, ...] = tuple(
    SCHEMA["properties"]["subscriptions"]["items"]["properties"]["channel"]["enum"]
)
# For messages: the identifiers a record may carry.
IDENTIFIER_NAMES = f"{', '.join(SCALAR_IDENTIFIERS)} or {CUSTOM_IDENTIFIERS}"
KNOWN_ATTRIBUTES: tuple[str, ...] = tuple(f.name for f in ATTRIBUTES)


def default_mapping() -> dict[str, Any]:
    """The mapping used when none is set: the fields named like the API's, and snake_case."""

    def sources(spec: FieldSpec) -> str | list[str]:
        names = list(spec.default_sources)
        return names[0] if len(names) == 1 else names

    return {
        "identifiers": {f.name: sources(f) for f in IDENTIFIERS if f.default_sources},
        "attributes": {f.name: sources(f) for f in ATTRIBUTES if f.default_sources},
    }
