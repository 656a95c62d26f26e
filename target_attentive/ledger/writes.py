"""What every write of the ledger shares, and the writes about people and custom attributes.

A write is one transaction through `Database.run`; the opt-in and opt-out writes
(`consent_writes`) and the bulk-job writes (`job_writes`) build on this class.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from target_attentive.ledger.base import LedgerBase, now
from target_attentive.ledger.people import last_wins
from target_attentive.ledger.rows import unique


class LedgerWrites(LedgerBase):
    """The writing half of the ledger over the reading one: one transaction a method."""

    def _write(self, work: Any, durable: bool = False) -> Any:
        return self.db.run(work, write=True, durable=durable)

    # -- people -----------------------------------------------------------------------------

    def record_accepted(
        self, rows: list[tuple[str, str]], owners: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Remember (key, digest) as accepted, and (identity key, person key) as who each
        identifier value was sent with; of a key given twice the last one wins."""
        latest, owned = last_wins(rows), last_wins(owners)

        def work(conn: Connection) -> None:
            at = now()
            self.people.record(conn, latest, at)
            self.owners.record(conn, owned, at)

        if latest or owned:
            self._write(work)

    def forget_people(self, keys: list[str]) -> int:
        """Drop these keys' digests, so that they are sent again; how many were dropped."""
        wanted = unique(keys)
        return self._write(lambda conn: self.people.forget(conn, wanted)) if wanted else 0

    # -- custom attributes ------------------------------------------------------------------

    def claim_types(
        self, types: dict[str, str], limit: int = 100, counted: Collection[str] = ()
    ) -> tuple[dict[str, str], list[str], dict[str, str]]:
        """Claim new custom attributes unless they would make more than `limit` in all,
        counting `counted` (names the account has that the ledger does not) too.

        Returns the types in force for the given names (a recorded type wins over the one
        asked for), the names refused because of the limit, in the order given, and the
        names this call claimed.
        """
        if not types:
            return {}, [], {}
        return self._write(
            lambda conn: self.types.claim(conn, types, limit, counted, now()), durable=True
        )

    def claim_custom_types(
        self, types: dict[str, str], limit: int = 100
    ) -> tuple[dict[str, str], list[str]]:
        """`claim_types` without what it claimed (its older form)."""
        in_force, refused, _new = self.claim_types(types, limit)
        return in_force, refused

    def confirm_custom_types(self, types: dict[str, str]) -> None:
        """Attentive accepted payloads carrying these names: they exist in the account."""
        if types:
            self._write(lambda conn: self.types.confirm(conn, types, now()))

    def release_custom_types(self, names: list[str]) -> None:
        """Claims of names that no accepted payload carried: they do not exist."""
        wanted = unique(names)
        if wanted:
            self._write(lambda conn: self.types.release(conn, wanted))
