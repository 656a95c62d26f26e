"""Custom attribute types: the first type sent wins, and at most 100 names ever exist.

A new name is claimed before a payload carrying it is sent, in a transaction that holds a
self-conflicting lock (PostgreSQL: `LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE`; SQLite:
`BEGIN IMMEDIATE`), so two runs on one ledger share the cap. The claim is confirmed once
Attentive accepted a payload carrying the name, and released when none was accepted.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import Database
from target_attentive.ledger.rows import merge_types
from target_attentive.ledger.schema import TYPE_CLAIMED, TYPE_CONFIRMED, custom_attributes

table = custom_attributes


class TypeStore:
    """SQL on `custom_attributes`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def types(self, conn: Connection) -> dict[str, str]:
        query = sa.select(table.c.name, table.c.type)
        return {name: kind for name, kind in conn.execute(query)}

    def claimed(self, conn: Connection) -> set[str]:
        """Names claimed but not confirmed yet (by this run or another)."""
        if self.db.version < 2:
            return set()
        query = sa.select(table.c.name).where(table.c.status == TYPE_CLAIMED)
        return set(conn.execute(query).scalars())

    def claim(
        self,
        conn: Connection,
        asked: dict[str, str],
        limit: int,
        counted: Collection[str],
        now: int,
    ) -> tuple[dict[str, str], list[str], dict[str, str]]:
        """Record new names unless the cap is reached: (in force, refused, recorded now)."""
        if not self.db.is_sqlite:
            name = self.db.format_table(conn, table)
            conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")
        in_force, refused, new = merge_types(self.types(conn), asked, limit, counted)
        if new:
            rows = [
                {"name": n, "type": t, "created_at": now, "status": TYPE_CLAIMED}
                for n, t in new.items()
            ]
            conn.execute(sa.insert(table), rows)
        return in_force, refused, new

    def confirm(self, conn: Connection, types: dict[str, str], now: int) -> None:
        """Attentive accepted payloads carrying these names: they exist for good."""
        if not types:
            return
        rows = [
            {"name": n, "type": t, "created_at": now, "status": TYPE_CONFIRMED}
            for n, t in sorted(types.items())
        ]
        self.db.insert_many(
            conn,
            table,
            rows,
            lambda insert: insert.on_conflict_do_update(
                index_elements=[table.c.name], set_={"status": TYPE_CONFIRMED}
            ),
        )

    def release(self, conn: Connection, names: list[str]) -> None:
        """No payload carrying these names was accepted: they do not exist in Attentive."""
        for condition in self.db.where_in(table.c.name, names):
            conn.execute(sa.delete(table).where(condition, table.c.status == TYPE_CLAIMED))

    def count(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
