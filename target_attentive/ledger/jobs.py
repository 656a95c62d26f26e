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

from target_attentive.jsonl import loads
from target_attentive.ledger.engine import Database
from target_attentive.ledger.optins import when
from target_attentive.ledger.people import last_wins
from target_attentive.ledger.records import JobEntry, JobRecord
from target_attentive.ledger.schema import JOB_SUBMITTED, job_payloads, job_people, jobs


class JobStore:
    """SQL on `jobs`, `job_people` and `job_payloads`.

    A job kept with its payloads has its people in `job_payloads` only, until they are
    settled: a `job_people` row per person is then written with their outcome. So a bulk
    batch costs one row per job at the 202, not one per person. A job recorded without
    payloads (`Ledger.record_jobs`, and ledgers of schema version 1) has a `job_people`
    row per person from the start, its outcome filled in when settled.
    """

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
        rows = [
            {"job_id": r.job_id, "person_key": key, "payload_hash": digest, "outcome": None}
            for r in records
            if r.payloads is None
            for key, digest in last_wins(r.people)
        ]
        self._upsert_people(conn, rows, update_outcome=False)

    def _upsert_people(
        self, conn: Connection, rows: list[dict[str, Any]], *, update_outcome: bool
    ) -> None:
        if not rows:
            return
        if self.db.version < 2:  # a version-1 ledger being read: no outcome column
            rows = [{k: v for k, v in row.items() if k != "outcome"} for row in rows]
        column = "outcome" if update_outcome else "payload_hash"
        self.db.insert_many(
            conn,
            job_people,
            rows,
            lambda insert: insert.on_conflict_do_update(
                index_elements=[job_people.c.job_id, job_people.c.person_key],
                set_={column: insert.excluded[column]},
            ),
        )

    def _kept(self, conn: Connection, job_ids: list[str]) -> dict[str, list[list[Any]]]:
        """The payloads kept for these jobs, by job."""
        kept: dict[str, list[list[Any]]] = {}
        if self.db.version < 2:  # a version-1 ledger being read: kept nothing
            return kept
        for condition in self.db.where_in(job_payloads.c.job_id, job_ids):
            query = sa.select(job_payloads.c.job_id, job_payloads.c.people).where(condition)
            kept.update({job_id: loads(blob) for job_id, blob in conn.execute(query)})
        return kept

    def _rows(self, conn: Connection, job_id: str) -> dict[str, tuple[str, str | None]]:
        """The job's `job_people` rows: key -> (digest, outcome)."""
        columns = [job_people.c.person_key, job_people.c.payload_hash]
        if self.db.version >= 2:
            columns.append(job_people.c.outcome)
        query = sa.select(*columns).where(job_people.c.job_id == job_id)
        return {row[0]: (row[1], row[2] if len(row) > 2 else None) for row in conn.execute(query)}

    def unreconciled(self, conn: Connection) -> list[dict[str, Any]]:
        """Jobs not reconciled yet, oldest first, with how many people are unsettled."""
        columns = [jobs.c.job_id, jobs.c.stream, jobs.c.created_at, jobs.c.status]
        if self.db.version >= 2:
            columns += [jobs.c.attempt, jobs.c.note]
        query = (
            sa.select(*columns)
            .where(jobs.c.finished_at.is_(None))
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )
        found = []
        for row in conn.execute(query):
            attempt, note = row[4:] if len(row) > 4 else (1, None)
            found.append(
                {
                    "job_id": row[0],
                    "stream": row[1],
                    "created_at": when(row[2]),
                    "status": row[3],
                    "attempt": attempt,
                    "note": note,
                }
            )
        kept = self._kept(conn, [job["job_id"] for job in found])
        for job in found:
            job["people"] = len(self._waiting(conn, job["job_id"], kept.get(job["job_id"])))
        return found

    def _waiting(
        self, conn: Connection, job_id: str, kept: list[list[Any]] | None
    ) -> list[JobEntry]:
        rows = self._rows(conn, job_id)
        if kept is None:
            return [JobEntry(k, h) for k, (h, outcome) in sorted(rows.items()) if outcome is None]
        settled = {k for k, (_h, outcome) in rows.items() if outcome is not None}
        latest = {
            key: JobEntry(key, digest, payload, sources) for key, digest, payload, sources in kept
        }
        return [entry for key, entry in sorted(latest.items()) if key not in settled]

    def people_of(self, conn: Connection, job_id: str) -> list[tuple[str, str]]:
        kept = self._kept(conn, [job_id]).get(job_id) or []
        found = {key: digest for key, (digest, _outcome) in self._rows(conn, job_id).items()}
        found.update({entry[0]: entry[1] for entry in kept})
        return sorted(found.items())

    def entries(self, conn: Connection, job_id: str) -> list[JobEntry]:
        """The job's people not settled yet, with their payloads when they were kept."""
        return self._waiting(conn, job_id, self._kept(conn, [job_id]).get(job_id))

    def settle(self, conn: Connection, job_id: str, outcomes: dict[str, str]) -> None:
        """Record what became of some of a job's people."""
        if not outcomes:
            return
        digests = dict(self.people_of(conn, job_id))
        rows = [
            {
                "job_id": job_id,
                "person_key": key,
                "payload_hash": digests.get(key, ""),
                "outcome": o,
            }
            for key, o in sorted(outcomes.items())
        ]
        self._upsert_people(conn, rows, update_outcome=True)

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
        """Jobs with a row for the person, and open jobs whose kept payloads carry them."""
        query = (
            sa.select(jobs.c.job_id, jobs.c.created_at)
            .join(job_people, job_people.c.job_id == jobs.c.job_id)
            .where(job_people.c.person_key == key)
        )
        found = {job_id: at for job_id, at in conn.execute(query)}
        if self.db.version < 2:
            return sorted(found, key=lambda job_id: (found[job_id], job_id))
        open_jobs = (
            sa.select(jobs.c.job_id, jobs.c.created_at, job_payloads.c.people)
            .join(job_payloads, job_payloads.c.job_id == jobs.c.job_id)
            .where(jobs.c.finished_at.is_(None))
        )
        needle = orjson.dumps(key)
        for job_id, at, blob in conn.execute(open_jobs):
            if needle in blob and any(entry[0] == key for entry in loads(blob)):
                found[job_id] = at
        return [
            job_id for job_id, _at in sorted(found.items(), key=lambda item: (item[1], item[0]))
        ]

    def counts(self, conn: Connection) -> tuple[dict[str, int], int]:
        """Jobs by status, and how many are not reconciled."""
        by_status = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        open_jobs = sa.select(sa.func.count()).where(jobs.c.finished_at.is_(None))
        return (
            {s: n for s, n in conn.execute(by_status)},
            conn.execute(open_jobs).scalar_one(),
        )
