"""Attentive's 100-attribute cap, held across configured, ledger and new names.

Attentive creates a custom attribute for every unknown name, for good, and allows 100.
The cap therefore counts the configured types, the ledger's types and a batch's new names
together. A new name is claimed in the ledger before a payload carrying it is sent (two
runs on one ledger share the cap), confirmed once Attentive accepted a payload carrying
it, and released when every batch that carried it settled and none was accepted, so a
run that sent nothing leaves no phantom attribute behind. A name over the cap is left out
of the people carrying it: an omission, not a rejection of the person.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any

from target_attentive.mapping import MAX_CUSTOM_ATTRIBUTES

OVER_CAP = (
    "would be custom attribute number {number}; Attentive allows {limit} in an account, so "
    "it is left out of this person. Remove it from the mapping, or pin the attributes that "
    "exist in custom_attribute_types"
)


def custom_names(payload: dict) -> set[str]:
    return set(payload.get("attributes", {}).get("custom", {}))


class AttributeCap:
    """The run's custom attribute types in force, and its claims on new ones.

    `types` is the planner's own dict of types in force (configured and ledger types to
    begin with); claims add to it and releases take from it. Planning and settling run in
    different threads.
    """

    def __init__(
        self,
        ledger: Any | None,
        types: dict[str, str],
        configured: Collection[str],
        limit: int = MAX_CUSTOM_ATTRIBUTES,
    ) -> None:
        self.ledger = ledger
        self.types = types
        self.configured = frozenset(configured)
        self.limit = limit
        self.over: set[str] = set()  # names refused by the cap: omitted for the whole run
        self._unconfirmed: set[str] = set()
        if ledger is not None:
            self._unconfirmed = set(ledger.claimed_types()) - self.configured
        self._mine: set[str] = set()  # names this run claimed
        self._carrying: Counter[str] = Counter()  # unconfirmed name: batches not settled
        self._lock = threading.Lock()

    def claim(self, new: dict[str, str]) -> None:
        """Claim names not in force yet; those over the cap join `over`."""
        if self.ledger is not None:
            in_force, refused, claimed = self.ledger.claim_types(new, self.limit, self.configured)
        else:
            room = max(self.limit - len(self.types), 0)
            in_force = claimed = dict(list(new.items())[:room])
            refused = list(new)[room:]
        with self._lock:
            self.types.update(in_force)
            self.over.update(refused)
            self._mine.update(claimed)
            self._unconfirmed.update(claimed)

    def message(self) -> str:
        return OVER_CAP.format(number=self.limit + 1, limit=self.limit)

    def planned(self, payloads: Iterable[dict]) -> None:
        """A batch carrying these payloads is on its way."""
        with self._lock:
            if not self._unconfirmed:  # the usual case once the first batch is accepted
                return
            carried = set().union(*(custom_names(p) for p in payloads)) & self._unconfirmed
            self._carrying.update(carried)

    def settled(self, sent: Iterable[dict], accepted: Iterable[dict]) -> None:
        """A batch settled: confirm the names an accepted payload carried; release this
        run's claims that no batch on its way carries and none accepted."""
        with self._lock:
            if not self._unconfirmed:
                return
            carried = set().union(*(custom_names(p) for p in sent)) & self._unconfirmed
            if not carried:
                return
            confirmed = set().union(*(custom_names(p) for p in accepted)) & carried
            self._unconfirmed -= confirmed
            released = []
            for name in carried:
                self._carrying[name] -= 1
                if self._carrying[name] <= 0:
                    del self._carrying[name]
                    if name in self._mine and name in self._unconfirmed:
                        released.append(name)
            for name in released:
                self._unconfirmed.discard(name)
                self._mine.discard(name)
                self.types.pop(name, None)
            found = {name: self.types[name] for name in confirmed if name in self.types}
        if self.ledger is not None:
            self.ledger.confirm_custom_types(found)
            self.ledger.release_custom_types(released)
