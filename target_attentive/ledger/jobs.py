"""Bulk jobs: who each carried and what, until every one of its people is settled.

A bulk request answers 202 before Attentive looked at anybody, so a job is kept with its
payloads until it is reconciled: a refusal in its results file is written to the rejects
file from them, and the people of a FAILED job are sent again from them.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import Database
from target_attentive.ledger.optins import when
from target_attentive.ledger.people import last_wins
from target_attentive.ledger.records import JobEntry, JobRecord
from target_attentive.ledger.schema import JOB_SUBMITTED, job_payloads, job_people, jobs


class JobStore:
    """SQL on `jobs`, `job_people` and `job_payloads`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, conn: Connection, records: list[JobRecord], now: int) -> None:
        if not records:
            return
        conn.execute(
            self.db.insert(jobs)
            .values(
                [
                    {
                        "job_id": r.job_id,
                        "stream": r.stream,
                        "status": JOB_SUBMITTED,
                        "created_at": now,
                        "attempt": r.attempt,
                        "previous_job": r.previous_job,
                    }
                    for r in records
                ]
            )
            .on_conflict_do_nothing(index_elements=[jobs.c.job_id])
        )
        rows = [
            {"job_id": r.job_id, "person_key": key, "payload_hash": digest}
            for r in records
            for key, digest in last_wins(r.people)
        ]
        if rows:
            self.db.insert_many(
                conn,
                job_people,
                rows,
                lambda insert: insert.on_conflict_do_update(
                    index_elements=[job_people.c.job_id, job_people.c.person_key],
                    set_={"payload_hash": insert.excluded.payload_hash},
                ),
            )
        kept = [
            {"job_id": r.job_id, "people": orjson.dumps(r.payloads)}
            for r in records
            if r.payloads is not None
        ]
        if kept:
            conn.execute(
                self.db.insert(job_payloads)
                .values(kept)
                .on_conflict_do_nothing(index_elements=[job_payloads.c.job_id])
            )

    def unreconciled(self, conn: Connection) -> list[dict[str, Any]]:
        """Jobs not reconciled yet, oldest first, with how many people are unsettled."""
        waiting = (
            sa.select(sa.func.count())
            .where(job_people.c.job_id == jobs.c.job_id, job_people.c.outcome.is_(None))
            .scalar_subquery()
        )
        columns = [jobs.c.job_id, jobs.c.stream, jobs.c.created_at, jobs.c.status]
        if self.db.version >= 2:
            columns += [jobs.c.attempt, jobs.c.note, waiting]
        query = (
            sa.select(*columns)
            .where(jobs.c.finished_at.is_(None))
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )
        found = []
        for row in conn.execute(query):
            attempt, note, unsettled = row[4:] if len(row) > 4 else (1, None, None)
            found.append(
                {
                    "job_id": row[0],
                    "stream": row[1],
                    "created_at": when(row[2]),
                    "status": row[3],
                    "attempt": attempt,
                    "note": note,
                    "people": unsettled,
                }
            )
        return found

    def people_of(self, conn: Connection, job_id: str) -> list[tuple[str, str]]:
        query = (
            sa.select(job_people.c.person_key, job_people.c.payload_hash)
            .where(job_people.c.job_id == job_id)
            .order_by(job_people.c.person_key)
        )
        return [(k, h) for k, h in conn.execute(query)]

    def entries(self, conn: Connection, job_id: str) -> list[JobEntry]:
        """The job's people not settled yet, with their payloads when they were kept."""
        query = sa.select(job_people.c.person_key, job_people.c.payload_hash).where(
            job_people.c.job_id == job_id, job_people.c.outcome.is_(None)
        )
        waiting = {k: h for k, h in conn.execute(query)}
        blob = conn.execute(
            sa.select(job_payloads.c.people).where(job_payloads.c.job_id == job_id)
        ).scalar()
        kept: dict[str, JobEntry] = {}
        for key, digest, payload, sources in orjson.loads(blob) if blob else ():
            kept[key] = JobEntry(key, digest, payload, sources)
        return [kept.get(k) or JobEntry(k, h) for k, h in sorted(waiting.items())]

    def settle(self, conn: Connection, job_id: str, outcomes: dict[str, str]) -> None:
        """Record what became of some of a job's people."""
        by_outcome: dict[str, list[str]] = {}
        for key, outcome in sorted(outcomes.items()):
            by_outcome.setdefault(outcome, []).append(key)
        for outcome, keys in by_outcome.items():
            for condition in self.db.where_in(job_people.c.person_key, keys):
                conn.execute(
                    sa.update(job_people)
                    .where(job_people.c.job_id == job_id, condition)
                    .values(outcome=outcome)
                )

    def note(self, conn: Connection, job_id: str, status: str, note: str | None) -> None:
        """What is known of a job that stays unreconciled, and why it does."""
        conn.execute(
            sa.update(jobs).where(jobs.c.job_id == job_id).values(status=status, note=note)
        )

    def finish(self, conn: Connection, job_id: str, status: str, now: int) -> None:
        """The job is reconciled: its final status, and its payloads are dropped."""
        values: dict[str, Any] = {"status": status, "finished_at": now}
        if self.db.version >= 2:
            values["note"] = None
        updated = conn.execute(sa.update(jobs).where(jobs.c.job_id == job_id).values(**values))
        if updated.rowcount == 0:
            raise KeyError(f"no bulk job {job_id} in the ledger")
        conn.execute(sa.delete(job_payloads).where(job_payloads.c.job_id == job_id))

    def jobs_for_person(self, conn: Connection, key: str) -> list[str]:
        query = (
            sa.select(jobs.c.job_id)
            .join(job_people, job_people.c.job_id == jobs.c.job_id)
            .where(job_people.c.person_key == key)
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )
        return list(conn.execute(query).scalars())

    def counts(self, conn: Connection) -> tuple[dict[str, int], int]:
        """Jobs by status, and how many are not reconciled."""
        by_status = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        open_jobs = sa.select(sa.func.count()).where(jobs.c.finished_at.is_(None))
        return (
            {s: n for s, n in conn.execute(by_status)},
            conn.execute(open_jobs).scalar_one(),
        )
