"""What every ledger reads, whether it may write or not."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from target_attentive.ledger.attribute_types import TypeStore
from target_attentive.ledger.engine import Database
from target_attentive.ledger.jobs import JobStore
from target_attentive.ledger.kinds import KINDS_VERSION, KindStore
from target_attentive.ledger.optins import OptinStore
from target_attentive.ledger.people import IdentifierStore, PeopleStore
from target_attentive.ledger.records import JobEntry
from target_attentive.ledger.rows import Claim, OptOut, empty_counts, optout_rows, unique
from target_attentive.ledger.schema import TYPE_CLAIMED, custom_attributes


def now() -> int:
    return int(time.time())


class LedgerBase:
    """The reading half of the ledger, over one database and a store per concern.

    Safe to call from several threads; every method is one transaction.
    """

    read_only = False

    def __init__(self, url: str | None = None) -> None:
        self.db = Database(url, read_only=self.read_only)
        self.url = self.db.url
        self.is_sqlite = self.db.is_sqlite
        self.people = PeopleStore(self.db)
        self.owners = IdentifierStore(self.db)
        self.optins = OptinStore(self.db)
        self.types = TypeStore(self.db)
        self.jobs = JobStore(self.db)
        self.kinds = KindStore(self.db)

    @property
    def location(self) -> str:
        """The SQLite file's absolute path, or the URL without its password."""
        return self.db.location

    @property
    def _engine(self) -> Any:
        return self.db.engine

    def close(self) -> None:
        """Close the database connections; later calls raise LedgerError."""
        self.db.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def absent(self) -> bool:
        """A read-only look at a ledger that does not exist yet: every lookup finds nothing."""
        return self.db.absent

    # -- people -----------------------------------------------------------------------------

    def last_hashes(self, keys: list[str]) -> dict[str, str]:
        """The digest of the last accepted payload of each key the ledger knows."""
        wanted = unique(keys)
        if not wanted:
            return {}
        return self.db.read(lambda conn: self.people.last_hashes(conn, wanted), {})

    def identifier_owners(self, keys: list[str]) -> dict[str, str]:
        """The person key each of these identity keys was last accepted with."""
        wanted = unique(keys)
        if not wanted or self.db.version < 3:  # a read-only look at an older ledger
            return {}
        return self.db.read(lambda conn: self.owners.lookup(conn, wanted), {})

    # -- opt-ins ----------------------------------------------------------------------------

    def known_optins(self, keys: list[str]) -> set[Claim]:
        """Every claim under these keys, whatever its status."""
        wanted = unique(keys)
        if not wanted:
            return set()
        return self.db.read(lambda conn: self.optins.known(conn, wanted), set())

    def list_optins(self, status: str | None = None) -> list[dict[str, Any]]:
        """The opt-in claims (of one status), oldest first, for people to read."""
        return self.db.read(lambda conn: self.optins.listing(conn, status), [])

    # -- events and opt-outs (issue 15) ------------------------------------------------------

    def known_events(self, keys: list[str]) -> set[str]:
        """The event keys (`kind:id`) Attentive took in an earlier run."""
        wanted = unique(keys)
        if not wanted or self.db.version < KINDS_VERSION:  # a dry run over an older ledger
            return set()
        return self.db.read(lambda conn: self.kinds.known_events(conn, wanted), set())

    def known_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        """Of these opt-outs, the ones recorded (sent, claimed or in doubt)."""
        wanted = optout_rows(keys)
        if not wanted or self.db.version < KINDS_VERSION:
            return set()
        found = self.db.read(
            lambda conn: self.kinds.known_optouts(conn, unique(k[0] for k in wanted)), set()
        )
        return found & set(wanted)

    # -- custom attributes ------------------------------------------------------------------

    def custom_types(self) -> dict[str, str]:
        """Every custom attribute's type as first sent (claimed or confirmed)."""
        return self.db.read(self.types.types, {})

    def claimed_types(self) -> set[str]:
        """Custom attributes claimed but not confirmed: no payload with them accepted yet."""
        return self.db.read(self.types.claimed, set())

    # -- bulk jobs --------------------------------------------------------------------------

    def unreconciled_jobs(self) -> list[dict[str, Any]]:
        """Jobs not reconciled yet, oldest first: job_id, stream, created_at (UTC), status,
        attempt, note (why it is not reconciled), people (how many are unsettled)."""
        return self.db.read(self.jobs.unreconciled, [])

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """The same as `unreconciled_jobs` (its older name)."""
        return self.unreconciled_jobs()

    def job_people(self, job_id: str) -> list[tuple[str, str]]:
        """(person key, payload digest) of everyone the job carried."""
        return self.db.read(lambda conn: self.jobs.people_of(conn, job_id), [])

    def job_entries(self, job_id: str) -> list[JobEntry]:
        """The job's people not settled yet, with their payloads when kept."""
        return self.db.read(lambda conn: self.jobs.entries(conn, job_id), [])

    def jobs_for_person(self, key: str) -> list[str]:
        """The bulk jobs that carried this person, oldest first."""
        return self.db.read(lambda conn: self.jobs.jobs_for_person(conn, key), [])

    # -- operating it -----------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        """People, identifier values, opt-ins by status, custom attributes, jobs by status,
        events, opt-outs by status."""

        def work(conn: Any) -> dict[str, Any]:
            jobs, unreconciled = self.jobs.counts(conn)
            claimed = 0
            if self.db.version >= 2:
                query = sa.select(sa.func.count()).where(custom_attributes.c.status == TYPE_CLAIMED)
                claimed = conn.execute(query).scalar_one()
            return {
                "people": self.people.count(conn),
                "identifiers": self.owners.count(conn) if self.db.version >= 3 else 0,
                "optins": self.optins.counts(conn),
                "custom_attributes": self.types.count(conn),
                "custom_attributes_claimed": claimed,
                "jobs": jobs,
                "jobs_unreconciled": unreconciled,
                **(self.kinds.counts(conn) if self.db.version >= KINDS_VERSION else no_kinds),
            }

        no_kinds: dict[str, Any] = {"events": 0, "optouts": {}}
        return self.db.read(work, empty_counts())
