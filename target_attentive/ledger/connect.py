"""How the ledger's engine connects: a pool per database, and SQLite's settings.

On SQLite the file is in WAL mode; a write transaction begins IMMEDIATE (writers queue for
each other instead of failing) and waits up to `BUSY_TIMEOUT_SECONDS` for another writer.
On PostgreSQL the pool gives each thread its own connection.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_SECONDS = 60


def make_engine(url: sa.URL, *, memory: bool, read_only: bool) -> Engine:
    """The engine of a ledger URL (`resolve_url`'s), SQLite's set up for `Database.run`."""
    if url.get_backend_name() != "sqlite":
        # A connection per sending thread; more threads wait up to pool_timeout.
        return sa.create_engine(
            url, pool_pre_ping=True, pool_size=8, max_overflow=56, pool_timeout=120
        )
    args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
    if memory:
        engine = sa.create_engine(url, connect_args=args, poolclass=sa.pool.StaticPool)
    else:
        engine = sa.create_engine(url, connect_args=args, pool_size=8, max_overflow=-1)
    wal = not read_only and not memory

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun below, so that writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        synchronous = connection.info.pop("ledger_write", None)
        if synchronous is None:
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
