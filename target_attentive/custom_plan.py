"""A batch's custom attributes as it is planned: types in force, the cap, refusals.

Attentive fixes an attribute's type with its first value and keeps at most 100 of them.
Before a batch is sent its people's custom values are checked against the types in force
(configured, in the ledger, claimed by this run), new names are claimed under the cap
(attribute_cap.py), and names Attentive refused earlier in the run are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from target_attentive.attribute_cap import AttributeCap
from target_attentive.custom_types import AttributeTypes, accepts, infer_type
from target_attentive.problems import Problem
from target_attentive.report import Tally
from target_attentive.settings import Settings

# Attentive's refusal of a new custom attribute over the account's limit, and its name.
_CAP_REFUSAL = re.compile(r"custom_key_limit|at most \d+ custom attributes", re.IGNORECASE)
_CAP_NAME = re.compile(r"attributes\.custom\.([^:]+):|attribute '([^']+)'")
CAPPED = (
    "Attentive refused this attribute earlier in this run as over its limit of custom "
    "attributes, so it is left out of every later payload; remove it from the mapping, or "
    "delete unused attributes in Attentive"
)

Reject = Callable[..., None]  # reject(position, record, problems, payload=None, **api)
RejectPerson = Callable[[Any, list[Problem]], None]  # every record of a person


def custom_of(payload: dict) -> dict[str, Any]:
    return payload.get("attributes", {}).get("custom", {})


def without_custom(payload: dict, names: Iterable[str]) -> dict:
    """The payload without these custom attributes (and without emptied objects)."""
    drop = set(names)
    attributes = dict(payload["attributes"])
    attributes["custom"] = {k: v for k, v in attributes["custom"].items() if k not in drop}
    if not attributes["custom"]:
        del attributes["custom"]
    payload = {**payload, "attributes": attributes}
    if not attributes:
        del payload["attributes"]
    return payload


class CustomAttributePlan:
    """The run's custom attributes, one object for the planning of every batch.

    Exists so that what the types, the cap and the refused names decide is kept in one
    place (the delivery only asks it to plan a batch and to hear each refusal).
    """

    def __init__(self, settings: Settings, ledger: Any | None, tally: Tally) -> None:
        self.ledger = ledger
        self.tally = tally
        self.enums = {k: frozenset(v) for k, v in (settings.custom_attribute_enums or {}).items()}
        self.configured: dict[str, str] = dict(settings.custom_attribute_types or {})
        self.configured.update({name: "enum" for name in self.enums})
        self.capped: set[str] = set()  # refused by Attentive in this run as over its cap
        self._types: dict[str, str] | None = None  # in force, claims included (the cap's)
        self._loaded: dict[str, str] | None = None
        self._attribute_types: AttributeTypes | None = None
        self._cap: AttributeCap | None = None

    def attribute_types(self) -> AttributeTypes:
        """The run's custom attribute types, shared by every stream's records."""
        if self._attribute_types is None:
            self._attribute_types = AttributeTypes(self.types_in_force, self.enums)
        return self._attribute_types

    def types_in_force(self) -> dict[str, str]:
        """Configured, in the ledger, and claimed by this run's planning so far."""
        if self._types is not None:
            return self._types
        if self._loaded is None:
            stored = self.ledger.custom_types() if self.ledger is not None else {}
            self._loaded = {**stored, **self.configured}
        return self._loaded

    def plan(
        self,
        people: list[Any],
        omitted: dict[int, list[Problem]],
        reject_person: RejectPerson,
        reject: Reject,
    ) -> list[Any]:
        """The people of a batch left to send: refused names left out (an omission for
        each record that carried one), types checked and new names claimed."""
        self._leave_out_capped(people, omitted)
        known = set(self.types_in_force())
        people = self._check(people, reject_person, reject)
        for name, kind in (self._types or {}).items():
            if name not in known:
                self.tally.attribute_created(name, kind)
        return people

    def note_refusal(self, payload: dict, message: str) -> list[str]:
        """A refusal over the custom attribute cap leaves the attribute out from now on;
        the names of this payload now left out (none for any other refusal)."""
        if not _CAP_REFUSAL.search(message or ""):
            return []
        custom = custom_of(payload)
        found = _CAP_NAME.search(message)
        named = next((g for g in found.groups() if g), None) if found else None
        created = self.tally.attributes_created
        names = [named] if named in custom else [n for n in custom if n in created]
        for name in names:
            if name not in self.capped:
                self.capped.add(name)
                self.tally.attribute_capped(name)
        return [n for n in custom if n in self.capped]

    def capped_problems(self, payload: dict, names: Iterable[str]) -> list[Problem]:
        """The omission lines of a record whose payload carried some of these names."""
        custom = custom_of(payload)
        return [
            Problem(f"attributes.custom.{n}", CAPPED, ("attributes", "custom", n))
            for n in names
            if n in custom
        ]

    def settled(self, sent: list[dict], accepted: list[dict]) -> None:
        """Names carried by an accepted payload exist; claims none carried are released."""
        if self._cap is not None:
            self._cap.settled(sent, accepted)

    def _leave_out_capped(self, people: list[Any], omitted: dict[int, list[Problem]]) -> None:
        if not self.capped:
            return
        for person in people:
            names = [n for n in custom_of(person.payload) if n in self.capped]
            if not names:
                continue
            person.payload = without_custom(person.payload, names)
            person.group.payload = person.payload
            for item in person.group.items:
                omitted.setdefault(id(item), []).extend(self.capped_problems(item.payload, names))

    def _check(self, people: list[Any], reject_person: RejectPerson, reject: Reject) -> list[Any]:
        """Types checked against those in force; new names claimed under the cap (see
        attribute_cap.py), and a name over the cap left out of the person carrying it."""
        if not any("custom" in p.payload.get("attributes", {}) for p in people):
            return people
        if self._cap is None:
            if self._types is None:
                stored = self.ledger.custom_types() if self.ledger is not None else {}
                self._types = {**stored, **self.configured}
            self._cap = AttributeCap(self.ledger, self._types, self.configured)
        cap = self._cap
        types = cap.types

        def problems_of(custom: dict[str, Any]) -> list[Problem]:
            return [
                type_problem(name, types[name], value, self.enums.get(name))
                for name, value in custom.items()
                if name in types
                and not accepts(types[name], value, self.enums.get(name, frozenset()))
            ]

        new: dict[str, str] = {}
        kept = []
        for person in people:
            custom = custom_of(person.payload)
            problems = problems_of(custom)
            if problems:
                reject_person(person, problems)
                continue
            for name, value in custom.items():
                if name not in types and name not in cap.over:
                    new.setdefault(name, infer_type(value))
            kept.append(person)
        if not new and not cap.over:
            cap.planned(p.payload for p in kept)
            return kept
        if new:
            cap.claim(new)
        survivors = []
        for person in kept:
            custom = custom_of(person.payload)
            if new.keys() & custom.keys():  # another run may have fixed a type first
                problems = problems_of(custom)
                if problems:
                    reject_person(person, problems)
                    continue
            over = [name for name in custom if name in cap.over]
            if over:
                person.payload = without_custom(person.payload, over)
                for item in person.group.items:
                    mine = custom_of(item.payload)
                    left_out = [
                        Problem(f"attributes.custom.{n}", cap.message()) for n in over if n in mine
                    ]
                    if left_out:
                        reject(item.position, item.record, left_out, outcome="omitted")
            survivors.append(person)
        cap.planned(p.payload for p in survivors)
        return survivors


def type_problem(name: str, kind: str, value: Any, enum_values: Iterable[str] | None) -> Problem:
    if kind == "enum":
        allowed = ", ".join(sorted(enum_values or ()))
        return Problem(
            f"attributes.custom.{name}",
            f"is an enum attribute and takes only its existing values ({allowed}); Attentive "
            "does not create new ones",
        )
    return Problem(
        f"attributes.custom.{name}",
        f"is a {kind} attribute in Attentive, and this value is a {infer_type(value)}; "
        "send the same type, or map another attribute",
    )
