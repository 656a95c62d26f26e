"""Who each identifier value was last sent with: the ledger, and the batches still out."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from target_attentive.keys import identity_keys


class IdentifierOwners:
    """The `{identity key: person key}` a batch is planned against (issue 12, households).

    The ledger records owners once Attentive accepted a person, but the next batch is
    planned while earlier ones are still out: those are overlaid here from their submission
    until they settle (at most the sending window's batches, never the whole run).
    """

    def __init__(self, ledger: Any | None) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._out: dict[int, dict[str, str]] = {}  # batch number -> owners, in submit order

    def of(self, identifiers: Iterable[dict]) -> dict[str, str]:
        """The owners the ledger and the batches out know for these identifiers."""
        return self.lookup({k for ids in identifiers for k in identity_keys(ids).values()})

    @property
    def unknown(self) -> bool:
        """Nothing to look in: no batch out, no ledger or one not made yet (a dry run)."""
        with self._lock:
            out = bool(self._out)
        return not out and (self.ledger is None or self.ledger.absent)

    def lookup(self, keys: set[str]) -> dict[str, str]:
        """The owners of these identity keys (`keys.identity_keys`) known so far."""
        if not keys:
            return {}
        with self._lock:
            out = list(self._out.values())
        # A set: the ledger sorts what it looks up, and the overlay needs no order.
        found = self.ledger.identifier_owners(list(keys)) if self.ledger is not None else {}
        for owners in out:  # oldest first: the newest batch out wins
            found.update((k, owners[k]) for k in owners.keys() & keys)
        return found

    def submitted(self, batch: int, people: Iterable[tuple[str, dict]]) -> None:
        """(person key, identifiers) of a batch handed to the sending process."""
        owners = {ik: key for key, ids in people for ik in identity_keys(ids).values()}
        with self._lock:
            self._out[batch] = owners

    def later(self, batch: int, person_key: str) -> bool:
        """Whether a batch submitted after this one carries this person."""
        with self._lock:
            return any(b > batch and person_key in o.values() for b, o in self._out.items())

    def settled(self, batch: int) -> None:
        """The batch is answered; what was accepted is in the ledger now."""
        with self._lock:
            self._out.pop(batch, None)
