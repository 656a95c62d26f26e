"""Creating the ledger's tables and bringing an older ledger up to this schema version.

Two runs may start at once on one PostgreSQL ledger: the tables are created under an
advisory lock. A ledger a newer target-attentive wrote is refused, never downgraded.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateColumn

from target_attentive.ledger.dialect import format_table
from target_attentive.ledger.schema import ADDED_COLUMNS, SCHEMA_VERSION, ledger_meta, metadata
from target_attentive.ledger.url import LedgerError

LOG = logging.getLogger("target_attentive.ledger")

_PG_SETUP_LOCK = 0x7461_7474_6C65_6467  # pg_advisory_xact_lock key while creating tables


def has_tables(engine: Engine) -> bool:
    with engine.connect() as conn:
        return ledger_meta.name in sa.inspect(conn).get_table_names()


def create_tables(conn: Connection, is_sqlite: bool) -> None:
    """Every table that is missing; a fresh ledger records this schema version."""
    if not is_sqlite:
        # Two runs starting at once must not both CREATE TABLE.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SETUP_LOCK)))
    fresh = ledger_meta.name not in sa.inspect(conn).get_table_names()
    metadata.create_all(conn)
    if fresh:
        insert = sqlite.insert if is_sqlite else pg.insert
        conn.execute(
            insert(ledger_meta)
            .values(name="schema_version", value=str(SCHEMA_VERSION))
            .on_conflict_do_nothing(index_elements=[ledger_meta.c.name])
        )


def upgrade(conn: Connection, version: int, location: str) -> None:
    """Add what later versions added to a ledger an older target-attentive made."""
    for later in range(version + 1, SCHEMA_VERSION + 1):
        for column in ADDED_COLUMNS.get(later, ()):
            spec = CreateColumn(column).compile(dialect=conn.dialect)
            table = format_table(conn, column.table)
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {spec}")
    conn.execute(
        sa.update(ledger_meta)
        .where(ledger_meta.c.name == "schema_version")
        .values(value=str(SCHEMA_VERSION))
    )
    LOG.info("Ledger %s: upgraded from version %d", location, version)


def stored_version(conn: Connection, location: str) -> int:
    """The ledger's schema version; LedgerError when a newer target-attentive wrote it."""
    stored = conn.execute(
        sa.select(ledger_meta.c.value).where(ledger_meta.c.name == "schema_version")
    ).scalar()
    if stored is not None and int(stored) > SCHEMA_VERSION:
        raise LedgerError(
            f"ledger {location} has schema version {stored}; this target-attentive "
            f"knows version {SCHEMA_VERSION}: upgrade target-attentive"
        )
    return int(stored) if stored is not None else SCHEMA_VERSION
