"""The ledger's writes about bulk jobs: recorded when Attentive takes them, then settled.

A job is recorded durably with its people: a job lost to a power cut would never be
reconciled.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from target_attentive.ledger.base import now
from target_attentive.ledger.kinds import addresses
from target_attentive.ledger.people import last_wins
from target_attentive.ledger.records import JobRecord
from target_attentive.ledger.rows import Claim, claim_rows, unique
from target_attentive.ledger.schema import CONFIRMED, IN_DOUBT, PENDING, SUBMITTED
from target_attentive.ledger.writes import LedgerWrites


class JobWrites(LedgerWrites):
    """The bulk-job writes of `Ledger`, kept apart from its other writes."""

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
