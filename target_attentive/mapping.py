"""The `mapping` setting, checked and compiled: what each payload field is read from (pure).

A mapping is compiled once per stream into a `Mapping` (checked against the fields the
API has, so a typo fails at start-up rather than on every record), then applied to each
record by reading.py. A source may be one field name or a list of names, the first one
present winning; a dotted source (`address.city`) reaches into nested objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from target_attentive.fields import (
    ATTRIBUTE_BY_PATH,
    CHANNELS,
    CUSTOM_IDENTIFIERS,
    KNOWN_ATTRIBUTES,
    SCALAR_IDENTIFIERS,
    default_mapping,
)
from target_attentive.normalize import Invalid, is_truthy

PAYLOAD_PARTS = ("identifiers", "attributes", "subscriptions")
MAPPING_KEYS = ("identifiers", "attributes", "custom_attributes", "subscriptions", "phone_region")
MAX_CUSTOM_ATTRIBUTES = 100

DEFAULT_MAPPING: dict[str, Any] = default_mapping()


class MappingError(ValueError):
    """A mapping setting that cannot work; `problems` name each setting path at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Field:
    """One payload field and the source fields that fill it."""

    path: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class OptIn:
    """A subscription the mapping adds when the record's `when` field is truthy."""

    channel: str
    sign_up_source_id: str
    when: str | None
    single_opt_in: bool | None


@dataclass(frozen=True)
class Mapping:
    """A mapping setting, checked and compiled: what each payload field is read from."""

    identifiers: tuple[Field, ...]
    custom_identifiers: tuple[Field, ...]
    attributes: tuple[Field, ...]
    custom_attributes: tuple[Field, ...]
    subscriptions: tuple[OptIn, ...]
    phone_region: tuple[str, ...] = ()  # fields holding the person's country

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.identifiers + self.custom_identifiers + self.attributes + self.custom_attributes

    @cached_property
    def targets(self) -> tuple[tuple[Field, tuple[str, ...]], ...]:
        """Each field with where it lands in the payload, worked out once."""
        return tuple((field, payload_path(field)) for field in self.fields)

    @property
    def source_fields(self) -> frozenset[str]:
        """Every top-level source field the mapping reads, to list the unmapped ones."""
        names = {s.split(".")[0] for f in self.fields for s in f.sources}
        names.update(o.when.split(".")[0] for o in self.subscriptions if o.when)
        names.update(s.split(".")[0] for s in self.phone_region)
        return frozenset(names) | frozenset(PAYLOAD_PARTS)

    @property
    def custom_attribute_names(self) -> tuple[str, ...]:
        return tuple(f.path[-1] for f in self.custom_attributes)


def compile_mapping(raw: MappingABC | None, where: str = "mapping") -> Mapping:
    """Check a mapping setting against the API's fields and compile it for fast use."""
    raw = DEFAULT_MAPPING if raw is None else raw
    problems: list[str] = []
    if not isinstance(raw, MappingABC):
        raise MappingError([f"{where}: must be an object"])
    unknown = set(raw) - set(MAPPING_KEYS)
    problems += [
        f"{where}.{key}: unknown part; use {', '.join(MAPPING_KEYS[:-1])} or {MAPPING_KEYS[-1]}"
        for key in sorted(unknown, key=str)
    ]
    identifiers, custom_identifiers = _compile_identifiers(raw.get("identifiers"), where, problems)
    attributes = _compile_attributes(raw.get("attributes"), where, problems)
    custom = _compile_custom(raw.get("custom_attributes"), where, problems)
    subscriptions = _compile_subscriptions(raw.get("subscriptions"), where, problems)
    region = raw.get("phone_region")
    region_sources = () if region is None else _sources(region, f"{where}.phone_region", problems)
    if problems:
        raise MappingError(problems)
    return Mapping(
        identifiers, custom_identifiers, attributes, custom, subscriptions, region_sources
    )


def _sources(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    problems.append(f"{where}: must name a source field (text) or a list of them")
    return ()


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and the nested objects Meltano expands them into, read as one."""
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, MappingABC):
            yield from _flatten(item, name)
        else:
            yield name, item


def _section(raw: Any, where: str, problems: list[str]) -> MappingABC:
    if raw is None:
        return {}
    if not isinstance(raw, MappingABC):
        problems.append(f"{where}: must be an object of payload field to source field")
        return {}
    return raw


def _compile_identifiers(
    raw: Any, where: str, problems: list[str]
) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    section = _section(raw, f"{where}.identifiers", problems)
    scalar: list[Field] = []
    custom: list[Field] = []
    # Flattened, so `customIdentifiers.loyalty_id` and its nested form mean the same, and a
    # custom identifier name with dots comes back whole.
    for key, value in _flatten(section):
        here = f"{where}.identifiers.{key}"
        if key == CUSTOM_IDENTIFIERS:
            problems.append(f"{here}: must be an object of identifier name to source field")
        elif key.startswith(f"{CUSTOM_IDENTIFIERS}."):
            name = key[len(CUSTOM_IDENTIFIERS) + 1 :]
            if not name.strip():
                problems.append(f"{here}: a custom identifier needs a name")
                continue
            custom.append(Field((CUSTOM_IDENTIFIERS, name), _sources(value, here, problems)))
        elif key in SCALAR_IDENTIFIERS:
            scalar.append(Field((key,), _sources(value, here, problems)))
        else:
            problems.append(
                f"{here}: Attentive has no identifier {key!r}; use one of "
                f"{', '.join(SCALAR_IDENTIFIERS)} or {CUSTOM_IDENTIFIERS}"
            )
    return tuple(scalar), tuple(custom)


def _compile_attributes(raw: Any, where: str, problems: list[str]) -> tuple[Field, ...]:
    section = _section(raw, f"{where}.attributes", problems)
    fields: list[Field] = []
    for name, source in _flatten(section):
        here = f"{where}.attributes.{name}"
        path = tuple(name.split("."))
        if path[0] == "custom":
            problems.append(f"{here}: map custom attributes under custom_attributes instead")
        elif path not in ATTRIBUTE_BY_PATH:
            problems.append(
                f"{here}: Attentive has no attribute {name!r}; known: {', '.join(KNOWN_ATTRIBUTES)}"
            )
        else:
            fields.append(Field(path, _sources(source, here, problems)))
    return tuple(fields)


def _compile_custom(raw: Any, where: str, problems: list[str]) -> tuple[Field, ...]:
    section = _section(raw, f"{where}.custom_attributes", problems)
    fields = []
    for name, source in _flatten(section):
        here = f"{where}.custom_attributes.{name}"
        if not name.strip():
            problems.append(f"{here}: a custom attribute needs a name")
            continue
        fields.append(Field(("custom", name), _sources(source, here, problems)))
    if len(fields) > MAX_CUSTOM_ATTRIBUTES:
        problems.append(
            f"{where}.custom_attributes: {len(fields)} custom attributes mapped; Attentive "
            f"allows at most {MAX_CUSTOM_ATTRIBUTES} in an account, ever"
        )
    return tuple(fields)


def _compile_subscriptions(raw: Any, where: str, problems: list[str]) -> tuple[OptIn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}.subscriptions: must be a list of opt-ins")
        return ()
    opt_ins = []
    for index, item in enumerate(raw):
        here = f"{where}.subscriptions[{index}]"
        if not isinstance(item, MappingABC):
            problems.append(f"{here}: must be an object with channel and signUpSourceId")
            continue
        channel = item.get("channel")
        channel = channel.strip().upper() if isinstance(channel, str) else ""
        source_id = item.get("signUpSourceId")
        # An id may come as a number from YAML; None must not become the text "None".
        if isinstance(source_id, int) and not isinstance(source_id, bool):
            source_id = str(source_id)
        source_id = source_id.strip() if isinstance(source_id, str) else ""
        when = item.get("when")
        if channel not in CHANNELS:
            problems.append(f"{here}.channel: must be TEXT or EMAIL")
        if not source_id:
            problems.append(
                f"{here}.signUpSourceId: required; find it in Attentive under Sign-up Units"
            )
        if when is not None and not (isinstance(when, str) and when.strip()):
            problems.append(f"{here}.when: must name a source field")
        when = when.strip() if isinstance(when, str) else None
        extra = set(item) - {"channel", "signUpSourceId", "when", "singleOptIn"}
        if extra:
            problems.append(f"{here}: unknown keys {sorted(extra)}")
        single = item.get("singleOptIn")
        try:
            # bool("false") is True: a text flag from YAML or the environment is read, not cast.
            single = None if single is None else is_truthy(single)
        except Invalid:
            problems.append(f"{here}.singleOptIn: must be true or false")
            single = None
        opt_ins.append(OptIn(channel, source_id, when, single))
    return tuple(opt_ins)


def payload_path(field: Field) -> tuple[str, ...]:
    """Where a mapped field lands in the payload."""
    if field.path[0] == CUSTOM_IDENTIFIERS:
        return ("identifiers", *field.path)
    if field.path[0] in SCALAR_IDENTIFIERS:
        return ("identifiers", *field.path)
    return ("attributes", *field.path)
