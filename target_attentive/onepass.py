"""A stream's mapping compiled into one pass: record to normalised payload (pure).

`reading.map_record` builds the payload and `normalize.normalize_payload` walks it again,
looking up each field's converter by its path; per record, that cost more than the SDK's
own reading. `OnePass` looks the converters up once per stream and converts each value as
it is read. Its result (payload with its keys in the same order, problems in the same
order, whether the phone region was defaulted) is the one the two steps give:
`tests/test_onepass.py` compares them on generated records and mappings. Records it is not
made for (parts a stream map built, fields off the stream's schema) and mappings whose
order it cannot keep (an attribute group's fields apart from each other, one payload field
mapped twice) go the two-step way.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from typing import Any

from target_attentive.fields import ATTRIBUTE_BY_PATH, CUSTOM_IDENTIFIERS, IDENTIFIERS
from target_attentive.mapping import PAYLOAD_PARTS, Mapping, payload_path
from target_attentive.normalize import CONVERTERS
from target_attentive.problems import Invalid, Problem
from target_attentive.reading import _opt_ins, _pick, phone_region
from target_attentive.values import normalize_phone, to_custom_value, to_text

Read = tuple[dict, list[Problem], bool]  # payload, problems, phone region defaulted
_NO_BROKEN: dict[str, str] = {}


def _getter(sources: tuple[str, ...]) -> Callable[[MappingABC], Any]:
    """The value a field reads from a record (None when absent or blank), like `_pick`."""
    if len(sources) == 1 and "." not in sources[0]:
        source = sources[0]

        def get(record: MappingABC) -> Any:
            value = record.get(source)
            if isinstance(value, str) and (not value or value.isspace()):
                return None
            return value

        return get
    return lambda record: _pick(record, sources)[1]


class OnePass:
    """One stream's mapping, compiled: a record's normalised payload in one pass."""

    def __init__(self, mapping: Mapping, region: str) -> None:
        self.mapping = mapping
        self.region = region
        mapped = {f.path[0] for f in mapping.identifiers}
        # Read in the mapping's order (the payload's key order), converted in the field
        # table's order (the order problems are reported in).
        self.ids = tuple((f.path[0], _getter(f.sources)) for f in mapping.identifiers)
        self.id_converters = tuple(
            (spec.name, None if spec.convert == "phone" else CONVERTERS[spec.convert])
            for spec in IDENTIFIERS
            if spec.name in mapped
        )
        self.custom_ids = tuple((f.path[1], _getter(f.sources)) for f in mapping.custom_identifiers)
        self.attributes = tuple(
            (
                f.path[0],
                f.path[1] if len(f.path) > 1 else None,
                _getter(f.sources),
                CONVERTERS[ATTRIBUTE_BY_PATH[f.path].convert],
            )
            for f in mapping.attributes
        )
        self.custom = tuple((f.path[1], _getter(f.sources)) for f in mapping.custom_attributes)
        self.has_opt_ins = bool(mapping.subscriptions)

    @classmethod
    def compile(cls, mapping: Mapping, region: str) -> OnePass | None:
        """None for a mapping whose payload order one pass would not keep."""
        paths = [payload_path(f) for f in mapping.fields]
        if len(set(paths)) != len(paths):
            return None  # a field mapped twice: the later one wins, the earlier is read
        tops = [f.path[0] for f in mapping.attributes]
        for index, top in enumerate(tops):
            if top in tops[:index] and tops[index - 1] != top:
                return None  # a group's fields apart: its place is its first field's
        if any(f.path not in ATTRIBUTE_BY_PATH for f in mapping.attributes):
            return None
        return cls(mapping, region)

    def read(self, record: MappingABC) -> Read | None:
        """The payload, its problems and whether the region was defaulted; None for a record
        carrying a part a stream map built (read in two steps)."""
        for part in PAYLOAD_PARTS:
            if part in record:
                return None
        problems: list[Problem] = []
        subscriptions = (
            _opt_ins(record, self.mapping, _NO_BROKEN, problems) if self.has_opt_ins else None
        )
        ids: dict[str, Any] = {}
        for name, get in self.ids:
            value = get(record)
            if value is not None:
                ids[name] = value
        region, defaulted = self.region, False
        if self.mapping.phone_region and ids.get("phone"):
            found = phone_region(record, self.mapping)
            region, defaulted = (found, False) if found else (self.region, True)
        for name, convert in self.id_converters:
            if name not in ids:
                continue
            value = ids[name]
            try:
                value = normalize_phone(value, region) if convert is None else convert(value)
            except Invalid as exc:
                problems.append(Problem(f"identifiers.{name}", str(exc), ("identifiers", name)))
                value = None
            if value is None:
                del ids[name]
            else:
                ids[name] = value
        if self.custom_ids:
            self._custom_ids(record, ids, problems)
        payload: dict[str, Any] = {"identifiers": ids} if ids else {}
        attributes = self._attributes(record, problems)
        if attributes:
            payload["attributes"] = attributes
        if subscriptions:
            payload["subscriptions"] = subscriptions
        return payload, problems, defaulted

    def _custom_ids(self, record: MappingABC, ids: dict, problems: list[Problem]) -> None:
        kept = []
        index = 0
        for key, get in self.custom_ids:
            value = get(record)
            if value is None:
                continue
            try:
                text = to_text(value)
            except Invalid as exc:
                where = ("identifiers", CUSTOM_IDENTIFIERS, index)
                problems.append(Problem(f"identifiers.{CUSTOM_IDENTIFIERS}.{key}", str(exc), where))
                text = None
            index += 1
            if text is not None:
                kept.append({"key": key, "value": text})
        if kept:
            ids[CUSTOM_IDENTIFIERS] = kept

    def _attributes(self, record: MappingABC, problems: list[Problem]) -> dict:
        attributes: dict[str, Any] = {}
        for top, sub, get, convert in self.attributes:
            value = get(record)
            if value is None:
                continue
            try:
                value = convert(value)
            except Invalid as exc:
                path = ("attributes", top) if sub is None else ("attributes", top, sub)
                problems.append(Problem(".".join(path), str(exc), path))
                continue
            if value is None:
                continue
            if sub is None:
                attributes[top] = value
            elif top in attributes:
                attributes[top][sub] = value
            else:
                attributes[top] = {sub: value}
        custom: dict[str, Any] = {}
        for name, get in self.custom:
            value = get(record)
            if value is None:
                continue
            try:
                value = to_custom_value(value)
            except Invalid as exc:
                path = ("attributes", "custom", name)
                problems.append(Problem(f"attributes.custom.{name}", str(exc), path))
                continue
            if value is not None:
                custom[name] = value
        if custom:
            attributes["custom"] = custom
        return attributes
