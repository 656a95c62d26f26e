"""People: the digest of the last payload Attentive accepted for each person key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import SQLITE_IN_CHUNK, Database, chunks
from target_attentive.ledger.schema import people


def last_wins(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(key, digest) pairs, one per key, the last given winning, in key order."""
    return sorted(dict(rows).items())


class PeopleStore:
    """SQL on `people`, so that reruns skip who was delivered unchanged."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def last_hashes(self, conn: Connection, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.db.is_sqlite:  # plain SQL for the driver: this runs for every batch read
            for chunk in chunks(keys, SQLITE_IN_CHUNK):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT person_key, payload_hash FROM people WHERE person_key IN ({marks})"
                found.update(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
            return found
        columns = (people.c.person_key, people.c.payload_hash)
        for condition in self.db.where_in(people.c.person_key, keys):
            found.update({k: h for k, h in conn.execute(sa.select(*columns).where(condition))})
        return found

    def record(self, conn: Connection, rows: list[tuple[str, str]], now: int) -> None:
        """Upsert (key, digest) rows, given one per key."""
        if not rows:
            return
        rows_ = [{"person_key": k, "payload_hash": h, "updated_at": now} for k, h in rows]
        self.db.insert_many(
            conn,
            people,
            rows_,
            lambda insert: insert.on_conflict_do_update(
                index_elements=[people.c.person_key],
                set_={"payload_hash": insert.excluded.payload_hash, "updated_at": now},
            ),
        )

    def forget(self, conn: Connection, keys: list[str]) -> int:
        removed = 0
        for condition in self.db.where_in(people.c.person_key, keys):
            removed += conn.execute(sa.delete(people).where(condition)).rowcount
        return removed

    def forget_if_unchanged(self, conn: Connection, rows: list[tuple[str, str]]) -> int:
        """Forget keys whose digest is still the given one: a newer payload stays known."""
        removed = 0
        columns = (people.c.person_key, people.c.payload_hash)
        for condition in self.db.tuples_in(columns, rows):
            removed += conn.execute(sa.delete(people).where(condition)).rowcount
        return removed

    def count(self, conn: Connection) -> Any:
        return conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one()
