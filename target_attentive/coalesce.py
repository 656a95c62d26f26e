"""Group the records of one person inside a batch into one payload (pure).

Two requests for one person in flight at once race: Attentive may apply them in either
order, or resolve them into two people. Records that share any identifier value are one
person here; their payloads are merged in input order, later values winning, which is
what sending them one after the other would leave in Attentive (it keeps attributes a
payload omits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from target_attentive.keys import identity_values


class HasPayload(Protocol):
    payload: dict


@dataclass
class Group:
    """The records of one person in a batch and the one payload sent for them."""

    items: list[Any] = field(default_factory=list)
    payload: dict = field(default_factory=dict)


def coalesce(items: Sequence[HasPayload]) -> list[Group]:
    """Union the records by shared identifiers; keep the order of first appearance."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple, int] = {}
    shared = False
    for index, item in enumerate(items):
        for value in identity_values(item.payload["identifiers"]):
            other = owner.setdefault(value, index)
            if other != index:  # rare: two records share an identifier
                shared = True
                a, b = find(other), find(index)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    if not shared:  # the usual batch: one record a person
        return [Group([item], item.payload) for item in items]
    groups: dict[int, Group] = {}
    for index, item in enumerate(items):
        group = groups.setdefault(find(index), Group())
        group.items.append(item)
    for group in groups.values():
        if len(group.items) == 1:
            group.payload = group.items[0].payload
        else:
            merged: dict = {}
            for item in group.items:
                merged = merge_payloads(merged, item.payload)
            group.payload = merged
    return list(groups.values())


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
