"""The ledger a run writes to: what was delivered, claimed, submitted and refused."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from target_attentive.ledger.base import LedgerBase, now, unique
from target_attentive.ledger.kinds import OptOut, addresses, optout_rows
from target_attentive.ledger.optins import Claim, claim_rows
from target_attentive.ledger.people import last_wins
from target_attentive.ledger.records import JobRecord
from target_attentive.ledger.schema import (
    CONFIRMED,
    IN_DOUBT,
    OPTOUT_IN_DOUBT,
    OPTOUT_PENDING,
    OPTOUT_SENT,
    PENDING,
    SUBMITTED,
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


class Ledger(LedgerBase):
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

    # -- opt-ins ----------------------------------------------------------------------------

    def claim_optins(self, claims: list[Claim]) -> set[Claim]:
        """Claim opt-ins before sending them; returns exactly those this call claimed.

        A claim already in the ledger, whatever its status, or claimed at the same time
        by another run, is not returned: it must not be sent.
        """
        wanted = claim_rows(claims)
        if not wanted:
            return set()
        return self._write(lambda conn: self.optins.claim(conn, wanted, now()), durable=True)

    def _set_optins(self, claims: list[Claim], status: str, only_from: Any = None) -> None:
        wanted = claim_rows(claims)
        if wanted:
            self._write(
                lambda conn: self.optins.set_status(
                    conn, wanted, status, now(), only_from=only_from
                )
            )

    def confirm_optins(self, claims: list[Claim]) -> None:
        """Attentive accepted them: delivered (recorded even if unclaimed). An opt-out of
        the same address and channel may then be sent once more."""
        wanted = claim_rows(claims)
        if not wanted:
            return

        def work(conn: Connection) -> None:
            self.optins.set_status(conn, wanted, CONFIRMED, now())
            self.kinds.rearm_optouts(conn, addresses(wanted))

        self._write(work)

    def submit_optins(self, claims: list[Claim]) -> None:
        """In a bulk job Attentive took: never resent, settled by the job's results."""
        self._set_optins(claims, SUBMITTED, only_from=(PENDING,))

    def doubt_optins(self, claims: list[Claim]) -> None:
        """Sent, outcome unknown: never resent automatically. A confirmed one stays so."""
        self._set_optins(claims, IN_DOUBT, only_from=(PENDING, SUBMITTED, IN_DOUBT))

    def release_optins(self, claims: list[Claim]) -> None:
        """Attentive refused them, or they never left: a later run may send them."""
        wanted = claim_rows(claims)
        if wanted:
            self._write(lambda conn: self.optins.release(conn, wanted))

    # -- events and opt-outs (issue 15) ------------------------------------------------------

    def record_events(self, rows: list[tuple[str, str]]) -> None:
        """(event key, kind) of events Attentive took: a rerun skips them."""
        wanted = sorted(set(rows))
        if wanted:
            self._write(lambda conn: self.kinds.record_events(conn, wanted, now()))

    def claim_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        """Claim opt-outs before sending them (confirmation texts on); exactly those this
        call claimed. Durable: a crash after sending leaves them pending, never resent."""
        wanted = optout_rows(keys)
        if not wanted:
            return set()
        return self._write(lambda conn: self.kinds.claim_optouts(conn, wanted, now()), True)

    def record_optouts(self, keys: list[OptOut]) -> None:
        """Attentive took these opt-outs: recorded as sent, and the opt-ins of their
        addresses and channels released, so a later opt-in may be sent once more."""
        wanted = optout_rows(keys)
        if not wanted:
            return

        def work(conn: Connection) -> None:
            self.kinds.set_optouts(conn, wanted, OPTOUT_SENT, now())
            self.kinds.rearm_optins(conn, addresses(wanted))

        self._write(work)

    def doubt_optouts(self, keys: list[OptOut]) -> None:
        """Sent without a clear answer: never resent while their claim stands."""
        wanted = optout_rows(keys)
        if wanted:
            self._write(
                lambda conn: self.kinds.set_optouts(
                    conn, wanted, OPTOUT_IN_DOUBT, now(), only_from=(OPTOUT_PENDING,)
                )
            )

    def release_optouts(self, keys: list[OptOut]) -> None:
        """Claimed and certainly not applied (refused, never sent): a later run may send them."""
        wanted = optout_rows(keys)
        if wanted:
            self._write(lambda conn: self.kinds.release_optouts(conn, wanted))

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

    # -- bulk jobs --------------------------------------------------------------------------

    def record_job(self, job_id: str, stream: str, people: list[tuple[str, str]]) -> None:
        """A bulk job Attentive accepted, with each person's key and payload digest."""
        self.record_jobs([(job_id, stream, people)])

    def record_jobs(self, submitted: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
        """Bulk jobs (job id, stream, people) in one transaction, without payloads."""
        records = [JobRecord(j, s, p) for j, s, p in submitted]
        if records:
            self._write(lambda conn: self.jobs.record(conn, records, now()), durable=True)

    def record_bulk(
        self,
        records: list[JobRecord],
        accepted: list[tuple[str, str]],
        submitted: list[Claim],
        owners: Sequence[tuple[str, str]] = (),
    ) -> None:
        """A batch's bulk jobs, its people as accepted (with their identifiers' owners) and
        their opt-ins as submitted, together. Durable: a job lost to a power cut would
        never be reconciled."""
        latest, owned = last_wins(accepted), last_wins(owners)
        claims = claim_rows(submitted)

        def work(conn: Connection) -> None:
            at = now()
            self.jobs.record(conn, records, at)
            self.people.record(conn, latest, at)
            self.owners.record(conn, owned, at)
            self.optins.set_status(conn, claims, SUBMITTED, at, only_from=(PENDING,))

        if records or latest or claims:
            self._write(work, durable=True)

    def settle_job(
        self,
        job_id: str,
        outcomes: dict[str, str],
        *,
        confirm: Sequence[Claim] = (),
        release: Sequence[Claim] = (),
        doubt: Sequence[Claim] = (),
        forget: Sequence[tuple[str, str]] = (),
        new_jobs: Sequence[JobRecord] = (),
        finished: str | None = None,
        note: tuple[str, str | None] | None = None,
    ) -> None:
        """One step of reconciling a job, in one transaction: what became of some of its
        people (`outcomes`), their opt-ins, refused people forgotten (when their digest is
        still the one sent), jobs that carry them on, and the job's end (`finished`, its
        final status) or why it stays open (`note`: status, reason)."""

        def work(conn: Connection) -> None:
            at = now()
            self.jobs.record(conn, list(new_jobs), at)
            self.jobs.settle(conn, job_id, outcomes)
            self.optins.set_status(conn, claim_rows(confirm), CONFIRMED, at)
            self.kinds.rearm_optouts(conn, addresses(claim_rows(confirm)))
            self.optins.release(conn, claim_rows(release), only_from=(PENDING, SUBMITTED))
            self.optins.set_status(
                conn, claim_rows(doubt), IN_DOUBT, at, only_from=(PENDING, SUBMITTED, IN_DOUBT)
            )
            self.people.forget_if_unchanged(conn, sorted(set(forget)))
            if finished is not None:
                self.jobs.finish(conn, job_id, finished, at)
            elif note is not None:
                self.jobs.note(conn, job_id, *note)

        self._write(work, durable=True)

    def note_job(self, job_id: str, status: str, note: str | None) -> None:
        """Why a job stays unreconciled (shown by `target-attentive-jobs`)."""
        self._write(lambda conn: self.jobs.note(conn, job_id, status, note))

    def finish_job(self, job_id: str, status: str, failed_keys: list[str]) -> None:
        """Set the job's final status and drop the refused people's digests, together."""
        failed = unique(failed_keys)

        def work(conn: Connection) -> None:
            self.jobs.finish(conn, job_id, status, now())
            self.people.forget(conn, failed)

        self._write(work)

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
