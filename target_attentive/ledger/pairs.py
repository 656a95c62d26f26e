"""A table of one text value per text key: looked up by many keys at once, upserted."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import SQLITE_IN_CHUNK, Database, chunks


def last_wins(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(key, value) pairs, one per key, the last given winning, in key order."""
    return sorted(dict(rows).items())


class PairStore:
    """SQL on a `(key primary key, value, updated_at)` table.

    People's digests and identifiers' owners are both read for every batch and written
    for every accepted one, so both take the same two statements.
    """

    def __init__(self, db: Database, table: sa.Table, key: str, value: str) -> None:
        self.db = db
        self.table = table
        self.key = table.c[key]
        self.value = table.c[value]

    def lookup(self, conn: Connection, keys: list[str]) -> dict[str, str]:
        """The value of each of these keys the table holds."""
        found: dict[str, str] = {}
        if self.db.is_sqlite:  # plain SQL for the driver: this runs for every batch read
            head = f"SELECT {self.key.name}, {self.value.name} FROM {self.table.name} WHERE "
            for chunk in chunks(keys, SQLITE_IN_CHUNK):
                marks = ",".join("?" * len(chunk))
                sql = f"{head}{self.key.name} IN ({marks})"
                found.update(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
            return found
        for condition in self.db.where_in(self.key, keys):
            found.update(
                {k: v for k, v in conn.execute(sa.select(self.key, self.value).where(condition))}
            )
        return found

    def record(self, conn: Connection, rows: list[tuple[str, str]], now: int) -> None:
        """Upsert (key, value) rows, given one per key.

        On SQLite the driver's executemany of one prepared statement: 5x faster than
        SQLAlchemy's multi-row VALUES with RETURNING for 30,000 rows. It releases the GIL
        per row, which is harmless here: these tables are written by the sending process,
        whose threads wait on the network, never by the thread that reads records.
        """
        if not rows:
            return
        key, value = self.key.name, self.value.name
        if self.db.is_sqlite:
            sql = (
                f"INSERT INTO {self.table.name} ({key}, {value}, updated_at) VALUES (?, ?, ?) "
                f"ON CONFLICT ({key}) DO UPDATE SET {value} = excluded.{value}, "
                "updated_at = excluded.updated_at"
            )
            conn.exec_driver_sql(sql, [(k, v, now) for k, v in rows])
            return
        rows_ = [{key: k, value: v, "updated_at": now} for k, v in rows]
        self.db.insert_many(
            conn,
            self.table,
            rows_,
            lambda insert: insert.on_conflict_do_update(
                index_elements=[self.key],
                set_={value: insert.excluded[value], "updated_at": now},
            ),
        )

    def count(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
