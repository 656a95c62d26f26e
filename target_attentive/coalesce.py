"""Group the records of a batch into people, never across a conflict (pure).

Two requests for one person in flight at once race: Attentive may apply them in either
order, or resolve them into two people. So records that share an identifier value are one
person here, and their payloads are merged in input order, later values winning (what
sending them one after the other would leave in Attentive, which keeps what a payload
omits) — but only when no identifier of the same kind disagrees. Two records with one
phone and two emails are two people (a household), not one with the last email.

An identifier value carried by different people (in the batch, or last sent with another
person according to the ledger) would bridge them in Attentive: it is left out of each of
them, reported as an omission, unless `shared_identifiers` is `send`. A record whose every
identifier is such a value cannot be told apart from the others and is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from target_attentive.keys import identity_keys, identity_kind
from target_attentive.people import drop_identifiers
from target_attentive.problems import Problem

SHARED_IN_BATCH = (
    "is also another person's in this batch (say, a household's phone), so it was left out "
    "of each of them: sent with both, it would merge them in Attentive. Set "
    "shared_identifiers to send to send it anyway"
)
SHARED_IN_LEDGER = (
    "was last sent with another person (the ledger says so), so it was left out: sent with "
    "this one too, it would merge them in Attentive. Set shared_identifiers to send to send "
    "it anyway"
)
ONLY_SHARED = (
    "every identifier of this record is also another person's ({kinds}), so it cannot be "
    "told apart from them; give the record an identifier of its own (an email, a "
    "clientUserId), or set shared_identifiers to send"
)


class HasPayload(Protocol):
    payload: dict


@dataclass
class Group:
    """The records of one person in a batch and the one payload sent for them."""

    items: list[Any] = field(default_factory=list)
    payload: dict = field(default_factory=dict)


@dataclass
class Grouping:
    """A batch as people: the groups, what planning left out of each record, the rejects.

    `omitted` and `rejected` are keyed by the record's index in the batch.
    """

    groups: list[Group]
    omitted: dict[int, list[Problem]] = field(default_factory=dict)
    rejected: dict[int, list[Problem]] = field(default_factory=dict)


@dataclass(eq=False)
class _Person:
    first: int
    members: list[int]
    kinds: dict[str, str]  # identifier kind -> identity key (keys.identity_keys)
    merged_into: _Person | None = None

    def root(self) -> _Person:
        person = self
        while person.merged_into is not None:
            person = person.merged_into
        return person


def _agree(a: dict[str, str], b: dict[str, str]) -> bool:
    """No identifier kind disagrees (kinds only one side has do not count)."""
    return all(b[kind] == key for kind, key in a.items() if kind in b)


def group_people(
    items: Sequence[HasPayload],
    *,
    ids: list[dict[str, str]] | None = None,
    owners: Mapping[str, str] | None = None,
    send_shared: bool = False,
) -> Grouping:
    """The people of a batch, in order of first appearance.

    `ids`: each item's `keys.identity_keys`, when the caller has them already.
    `owners`: `{identity key: person key}` the ledger holds for the batch's identifier
    values (who each was last sent with); a value whose owner this person disagrees with
    (it has an identifier of the owner key's kind, with another value) counts as shared.
    """
    if ids is None:
        ids = [identity_keys(item.payload["identifiers"]) for item in items]
    owners = owners or {}
    if _all_distinct(ids) and (not owners or not any(_disowned(k, owners) for k in ids)):
        return Grouping([Group([item], item.payload) for item in items])  # the usual batch
    people, holders = _join(ids)
    shared = {v for v, held in holders.items() if len({p.root() for p in held}) > 1}
    grouping = Grouping([])
    for person in people:
        in_batch = {k for k, v in person.kinds.items() if v in shared}
        in_ledger = _disowned(person.kinds, owners) - in_batch
        if send_shared:
            in_batch, in_ledger = set(), set()
        _settle_person(items, ids, person, in_batch, in_ledger, grouping)
    return grouping


def owner_keys(ids: list[dict[str, str]], own: Sequence[str]) -> set[str]:
    """The identity keys of a batch whose owner can make a value shared (`_disowned`).

    `own`: each record's person key. When no two records share a value, each is a person
    of its own, and no owner disagrees with a person's own key of a built-in kind: the
    person it was last sent with had that key, so that person's key is that key (same
    kind: one value each) or of a stronger kind this person lacks (else that would be
    its key). Those are not looked up: a third of a usual batch's lookups.
    """
    keys = {key for keys in ids for key in keys.values()}
    all_distinct = len(keys) == sum(map(len, ids))  # no value in two records
    if all_distinct:  # not a custom one: which custom identifier is first varies
        keys.difference_update(key for key in own if not key.startswith("custom:"))
    return keys


def _disowned(kinds: Mapping[str, str], owners: Mapping[str, str]) -> set[str]:
    """The kinds of identifier whose value was last sent with a person this one is not:
    one it disagrees with on that person's own key."""
    found = set()
    for kind, value in kinds.items():
        owner = owners.get(value)
        if owner is not None and kinds.get(identity_kind(owner), owner) != owner:
            found.add(kind)
    return found


def _all_distinct(ids: list[dict[str, str]]) -> bool:
    seen: set[str] = set()
    for keys in ids:
        for key in keys.values():
            if key in seen:
                return False
            seen.add(key)
    return True


def _join(ids: list[dict[str, str]]) -> tuple[list[_Person], dict[str, list[_Person]]]:
    """Records into people: a record joins the people it shares a value with and agrees
    with (merging them when they agree with each other too), else starts a new one."""
    holders: dict[str, list[_Person]] = {}
    everyone: list[_Person] = []
    for index, keys in enumerate(ids):
        candidates: list[_Person] = []
        for key in keys.values():
            for person in holders.get(key, ()):
                root = person.root()
                if root not in candidates:
                    candidates.append(root)
        candidates.sort(key=lambda p: p.first)
        target: _Person | None = None
        for person in candidates:
            if target is None and _agree(keys, person.kinds):
                target = person
                target.kinds.update(keys)
            elif target is not None and _agree(target.kinds, person.kinds):
                target.members += person.members
                target.kinds.update(person.kinds)
                person.merged_into = target
        if target is None:
            target = _Person(index, [], dict(keys))
            everyone.append(target)
        target.members.append(index)
        for key in keys.values():
            held = holders.setdefault(key, [])
            if target not in held:
                held.append(target)
    people = [p for p in everyone if p.merged_into is None]
    for person in people:
        person.members.sort()
    return people, holders


def _settle_person(
    items: Sequence[HasPayload],
    ids: list[dict[str, str]],
    person: _Person,
    in_batch: set[str],
    in_ledger: set[str],
    grouping: Grouping,
) -> None:
    dropped = in_batch | in_ledger
    members = []
    for index in person.members:
        kinds = set(ids[index])
        if dropped and kinds <= dropped:
            reason = ONLY_SHARED.format(kinds=", ".join(sorted(kinds)))
            grouping.rejected[index] = [Problem("identifiers", reason, ("identifiers",))]
        else:
            members.append(index)
    if not members:
        return
    payload = items[members[0]].payload
    for index in members[1:]:
        payload = merge_payloads(payload, items[index].payload)
    if dropped:
        payload = {**payload, "identifiers": dict(payload["identifiers"])}
        omitted, opt_ins = drop_identifiers(payload, in_batch, SHARED_IN_BATCH)
        more, more_opt_ins = drop_identifiers(payload, in_ledger, SHARED_IN_LEDGER)
        omitted += more
        opt_ins += more_opt_ins
        for index in members:
            mine = _carried(items[index].payload, ids[index], omitted, opt_ins)
            if mine:
                grouping.omitted[index] = mine
    grouping.groups.append(Group([items[i] for i in members], payload))


def _carried(
    payload: dict, kinds: dict[str, str], omitted: list[Problem], opt_ins: list[Problem]
) -> list[Problem]:
    """The omissions that concern one record: the identifiers and opt-ins it carried."""
    channels = {s.get("channel") for s in payload.get("subscriptions", ()) if isinstance(s, dict)}
    mine = [p for p in omitted if _kind_of(p) in kinds]
    return mine + [p for p in opt_ins if p.field.rsplit(".", 1)[-1] in channels]


def _kind_of(problem: Problem) -> str:
    path = problem.path
    return f"custom:{path[2]}" if len(path) > 2 else str(path[1])


def merge_payloads(base: dict, later: dict) -> dict:
    """`later` applied over `base`: objects merged, custom identifiers and opt-ins unioned."""
    merged = dict(base)
    for key, value in later.items():
        old = merged.get(key)
        if key == "customIdentifiers":
            by_key = {i["key"]: i for i in (old or [])}
            by_key.update({i["key"]: i for i in value})
            merged[key] = list(by_key.values())
        elif key == "subscriptions":
            seen = {(s["channel"], s["signUpSourceId"]): s for s in (old or [])}
            seen.update({(s["channel"], s["signUpSourceId"]): s for s in value})
            merged[key] = list(seen.values())
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = merge_payloads(old, value)
        else:
            merged[key] = value
    return merged
