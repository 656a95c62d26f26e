"""The sandbox's people: who an upsert's identifiers find, and how two found people merge.

Like Attentive: people are found by any identifier they have (emails case-insensitively); a
payload naming two known people merges them into the lower id. Scalar identifiers are
single-valued: a new value replaces the old one. The caller holds the state's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import rules


@dataclass(slots=True)
class Person:
    """One resolved person. Scalar identifiers are single-valued: a new value replaces the old."""

    id: int
    created_at: float
    identifiers: dict[str, str] = field(default_factory=dict)
    custom_identifiers: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)  # every index key that finds them
    upserts: int = 0
    updated_at: float = 0.0


def index_keys(identifiers: dict[str, Any]) -> list[tuple[str, str]]:
    """The lookup keys of a payload's identifiers (emails match case-insensitively)."""
    keys: list[tuple[str, str]] = []
    for name in rules.SCALAR_IDENTIFIERS:
        value = identifiers.get(name)
        if value:
            keys.append((name, value.lower() if name == "email" else value))
    for item in identifiers.get("customIdentifiers") or ():
        keys.append(("custom:" + item["key"], item["value"]))
    return keys


def merge_attributes(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge ``new`` over ``into``: nested objects merge key by key; omitted keys are kept."""
    for key, value in new.items():
        if isinstance(value, dict):
            target = into.get(key)
            if isinstance(target, dict):
                target.update(value)
            else:
                into[key] = dict(value)
        else:
            into[key] = value


def fill_attributes(into: dict[str, Any], older: dict[str, Any]) -> None:
    """Keep ``into``'s values and take from ``older`` only what ``into`` lacks."""
    for key, value in older.items():
        if key not in into:
            into[key] = dict(value) if isinstance(value, dict) else value
        elif isinstance(value, dict) and isinstance(into[key], dict):
            for sub, item in value.items():
                into[key].setdefault(sub, item)


class Directory:
    """The people and the index of identifier keys that finds them."""

    def __init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.index: dict[tuple[str, str], int] = {}
        self.next_person = 1
        self.merged_people = 0

    def resolve(self, identifiers: dict[str, Any], t: float) -> tuple[Person, list[int]]:
        """The person these identifiers find (created if none), and the ids merged into it."""
        merged: list[int] = []
        keys = index_keys(identifiers)
        found = sorted({self.index[k] for k in keys if k in self.index})
        if found:
            person = self.people[found[0]]
            for other_id in found[1:]:
                self._absorb(person, self.people.pop(other_id))
                merged.append(other_id)
        else:
            person = Person(id=self.next_person, created_at=t)
            self.next_person += 1
            self.people[person.id] = person
        for name in rules.SCALAR_IDENTIFIERS:
            value = identifiers.get(name)
            if value:
                self._set_identifier(person, name, value)
        for item in identifiers.get("customIdentifiers") or ():
            self._set_identifier(person, "custom:" + item["key"], item["value"])
        return person, merged

    def _set_identifier(self, person: Person, name: str, value: str) -> None:
        if name.startswith("custom:"):
            store, field_name = person.custom_identifiers, name[7:]
        else:
            store, field_name = person.identifiers, name
        old = store.get(field_name)
        if old is not None and old != value:
            old_key = (name, old.lower() if name == "email" else old)
            if self.index.get(old_key) == person.id:
                del self.index[old_key]
            person.keys.discard(old_key)
        store[field_name] = value
        key = (name, value.lower() if name == "email" else value)
        self.index[key] = person.id
        person.keys.add(key)

    def _absorb(self, person: Person, other: Person) -> None:
        """Two people matched one payload: like Attentive, they become one (lowest id wins)."""
        self.merged_people += 1
        for key in other.keys:
            self.index[key] = person.id
        person.keys |= other.keys
        for name, value in other.identifiers.items():
            person.identifiers.setdefault(name, value)
        for name, value in other.custom_identifiers.items():
            person.custom_identifiers.setdefault(name, value)
        fill_attributes(person.attributes, other.attributes)
        person.upserts += other.upserts
        person.created_at = min(person.created_at, other.created_at)
