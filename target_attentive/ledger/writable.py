"""The ledger a run writes to: what was delivered, claimed, submitted and refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from target_attentive.ledger.consent_writes import ConsentWrites
from target_attentive.ledger.job_writes import JobWrites
from target_attentive.ledger.schema import (
    custom_attributes,
    events,
    identifier_owners,
    job_payloads,
    job_people,
    jobs,
    optins,
    optouts,
    people,
)


class Ledger(ConsentWrites, JobWrites):
    """The sync ledger; safe to call from several threads; every method one transaction.

    `Ledger(url, read_only=True)` gives a `ReadOnlyLedger` instead (dry runs, the ledger
    command's listings): same reads, writes kept in memory or dropped.
    """

    def __new__(cls, url: str | None = None, *, read_only: bool = False) -> Any:
        if read_only:
            from target_attentive.ledger.read_only import ReadOnlyLedger

            return ReadOnlyLedger(url)
        return super().__new__(cls)

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        super().__init__(url)

    # -- operating it -----------------------------------------------------------------------

    def forget_person(self, key: str) -> dict[str, Any]:
        """Remove this key's digest, opt-in claims, opt-outs and owned identifier values;
        returns what was removed."""

        def work(conn: Connection) -> dict[str, Any]:
            removed = self.optins.forget_key(conn, key)
            hashes = self.people.forget(conn, [key])
            self.owners.forget_person(conn, key)
            optouts = self.kinds.forget_address(conn, key)
            return {
                "key": key,
                "hash_removed": hashes > 0,
                "optins_removed": removed,
                "optouts_removed": optouts,
            }

        return self._write(work)

    def forget_everything(self) -> None:
        """Empty the ledger (its schema version stays)."""
        tables = [people, identifier_owners, optins, custom_attributes, jobs, job_people]
        tables += [job_payloads, events, optouts]

        def work(conn: Connection) -> None:
            if self.is_sqlite:
                for table in tables:
                    conn.execute(table.delete())
            else:
                names = ", ".join(self.db.format_table(conn, t) for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names}")

        self._write(work)
