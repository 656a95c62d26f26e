"""The ledger's database: URL, engine, transactions, and what SQLite and PostgreSQL do apart.

On SQLite the file is in WAL mode; a write transaction begins IMMEDIATE (writers queue for
each other instead of failing), waits up to `BUSY_TIMEOUT_SECONDS` for another writer, and
commits with `synchronous=FULL` when it must survive a power cut. Writes from the threads
of one process take a lock. On PostgreSQL the pool gives each thread its own connection;
rows are written in key order so that two runs never deadlock, and a deadlock or
serialization failure is retried anyway.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateColumn

from target_attentive.ledger.schema import ADDED_COLUMNS, SCHEMA_VERSION, ledger_meta, metadata

LOG = logging.getLogger("target_attentive.ledger")

DEFAULT_FILE = "target_attentive_ledger.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_FILE}"
BUSY_TIMEOUT_SECONDS = 60
T = TypeVar("T")

_RETRIES = 5
_RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
_PG_SETUP_LOCK = 0x7461_7474_6C65_6467  # pg_advisory_xact_lock key while creating tables
SQLITE_IN_CHUNK = 10_000  # values of one IN (...) on SQLite (at most 32,766 variables a statement)
_PAGE_ROWS = 10_000  # rows of one multi-row INSERT on SQLite (at most 32,700 values)


class LedgerError(RuntimeError):
    """The ledger cannot be used as asked (unsupported database, newer schema, closed)."""


def resolve_url(url: str | None) -> sa.URL:
    """The URL the ledger opens: the default file, a driver for bare `postgresql://`."""
    parsed = sa.make_url(url or DEFAULT_URL)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise LedgerError(
            f"ledger_url: {backend} is not supported; use sqlite:///path or "
            "postgresql+psycopg://user@host/database"
        )
    database = parsed.database
    if (
        backend == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        parsed = parsed.set(database=os.path.abspath(database))
    return parsed


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Database:
    """One ledger database, opened for reading and writing or for reading only.

    The stores write SQL on a connection; this decides how a transaction begins, retries
    and becomes durable, once for both databases. Opened for reading only, it never
    creates a file or a table: a ledger that does not exist yet reads as empty (`absent`).
    """

    def __init__(self, url: str | None, *, read_only: bool) -> None:
        self.url = resolve_url(url)
        self.read_only = read_only
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        self.absent = False
        self.version = SCHEMA_VERSION
        self._write_lock = threading.RLock()
        self._engine: Engine | None = None
        location = self.location
        if self.is_sqlite and read_only and not self.memory and not os.path.exists(location):
            LOG.info("Ledger %s does not exist yet: reading it as empty", location)
            self.absent = True
            return
        existed = not self.is_sqlite or self.memory or os.path.exists(location)
        if not existed:
            os.makedirs(os.path.dirname(location) or ".", exist_ok=True)
        self._engine = self._make_engine()
        LOG.info("Ledger: %s%s", location, "" if existed else " (created)")
        try:
            if not read_only:
                self.run(self._create, write=True, durable=True)
            elif self._has_tables():
                self.run(self._check_version, write=False)
            else:
                LOG.info("Ledger %s has no tables yet: reading it as empty", location)
                self.absent = True
                self.close()
        except BaseException:
            self.close()
            raise

    @property
    def location(self) -> str:
        """The SQLite file's absolute path, or the URL without its password."""
        if self.is_sqlite and not self.memory and self.url.database:
            return self.url.database
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def _make_engine(self) -> Engine:
        if not self.is_sqlite:
            # A connection per sending thread; more threads wait up to pool_timeout.
            return sa.create_engine(
                self.url, pool_pre_ping=True, pool_size=8, max_overflow=56, pool_timeout=120
            )
        args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        if self.memory:
            engine = sa.create_engine(self.url, connect_args=args, poolclass=sa.pool.StaticPool)
        else:
            engine = sa.create_engine(self.url, connect_args=args, pool_size=8, max_overflow=-1)
        wal = not self.read_only and not self.memory

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

    @contextmanager
    def _serialised(self, write: bool) -> Iterator[None]:
        # In-memory SQLite shares one connection: every call takes the lock.
        if self.is_sqlite and (write or self.memory):
            with self._write_lock:
                yield
        else:
            yield

    def run(self, work: Callable[[Connection], T], *, write: bool, durable: bool = False) -> T:
        """`work` in one transaction; retried on a PostgreSQL deadlock or serialization error.

        SQLite commits `durable` transactions with synchronous=FULL (on disk before the call
        returns, even across a power cut), the others with NORMAL (they survive a killed
        process; a power cut may undo the last ones, which at worst sends a person's
        attributes once more: a confirm or release lost this way leaves the claim as it
        was, which still blocks a resend).
        """
        if self._engine is None:
            raise LedgerError(f"ledger {self.location} is closed")
        if write and self.read_only:
            raise LedgerError(f"ledger {self.location} is open for reading only")
        for attempt in range(1, _RETRIES + 1):
            try:
                with self._serialised(write), self._engine.connect() as conn:
                    if write and self.is_sqlite:
                        conn.info["ledger_write"] = "FULL" if durable else "NORMAL"
                    with conn.begin():
                        return work(conn)
            except sa.exc.DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state not in _RETRY_SQLSTATES or attempt == _RETRIES:
                    raise
                LOG.warning("Ledger: %s, retrying (attempt %d)", type(exc.orig).__name__, attempt)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    def read(self, work: Callable[[Connection], T], empty: T) -> T:
        """A reading transaction; `empty` when there is no ledger yet."""
        if self.absent:
            return empty
        return self.run(work, write=False)

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return sqlite.insert(table) if self.is_sqlite else pg.insert(table)

    def insert_many(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        finish: Callable[[Any], Any],
        returning: Sequence[Any] = (),
    ) -> sa.CursorResult | None:
        """INSERT many rows (dicts with the same keys) in one go, in the order given.

        `finish` adds the ON CONFLICT clause to the dialect's INSERT. SQLite gets
        SQLAlchemy's "insertmanyvalues": multi-row VALUES, a page of up to 10,000 rows a
        statement step. It needs RETURNING (the primary key when nothing else is asked):
        without it SQLAlchemy would use the driver's executemany, which releases and
        retakes the GIL for every row and stalls the thread that reads records.
        PostgreSQL gets one `INSERT ... SELECT FROM unnest(arrays)`, one round trip
        whatever the size (multi-row VALUES there costs psycopg a parse of every page).
        """
        if not rows:
            return None
        if self.is_sqlite:
            statement = finish(sqlite.insert(table)).returning(
                *(returning or table.primary_key.columns)
            )
            paged = conn.execution_options(insertmanyvalues_page_size=_PAGE_ROWS)
            return paged.execute(statement, list(rows))
        names = list(rows[0])
        arrays = [
            sa.bindparam(None, [row[n] for row in rows], type_=pg.ARRAY(table.c[n].type))
            for n in names
        ]
        unnest = sa.func.unnest(*arrays)
        source = unnest.table_valued(*names, with_ordinality="ordinality").render_derived()
        select = sa.select(*(source.c[n] for n in names)).order_by(source.c.ordinality)
        statement = finish(pg.insert(table).from_select(names, select))
        if returning:
            statement = statement.returning(*returning)
        return conn.execute(statement)

    def where_in(self, column: Any, values: Sequence[Any]) -> Iterator[Any]:
        """Conditions `column IN values`, in as few statements as the database allows."""
        if not values:
            return
        if not self.is_sqlite:
            yield column == sa.any_(sa.bindparam(None, list(values), type_=pg.ARRAY(sa.Text)))
            return
        for chunk in chunks(values, SQLITE_IN_CHUNK):
            yield column.in_(chunk)

    def tuples_in(self, columns: Sequence[Any], rows: Sequence[tuple]) -> Iterator[Any]:
        """Conditions `(a, b, ...) IN rows`."""
        size = SQLITE_IN_CHUNK // len(columns)
        for chunk in chunks(rows, size):
            yield sa.tuple_(*columns).in_(chunk)

    def format_table(self, conn: Connection, table: sa.Table) -> str:
        return conn.dialect.identifier_preparer.format_table(table)

    # -- creating and upgrading -----------------------------------------------------------

    def _has_tables(self) -> bool:
        assert self._engine is not None
        with self._engine.connect() as conn:
            return ledger_meta.name in sa.inspect(conn).get_table_names()

    def _create(self, conn: Connection) -> None:
        if not self.is_sqlite:
            # Two runs starting at once must not both CREATE TABLE.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SETUP_LOCK)))
        fresh = ledger_meta.name not in sa.inspect(conn).get_table_names()
        metadata.create_all(conn)
        if fresh:
            conn.execute(
                self.insert(ledger_meta)
                .values(name="schema_version", value=str(SCHEMA_VERSION))
                .on_conflict_do_nothing(index_elements=[ledger_meta.c.name])
            )
        self._check_version(conn)
        if self.version < SCHEMA_VERSION:
            self._upgrade(conn)

    def _upgrade(self, conn: Connection) -> None:
        """Add what later versions added to a ledger an older target-attentive made."""
        for version in range(self.version + 1, SCHEMA_VERSION + 1):
            for column in ADDED_COLUMNS.get(version, ()):
                spec = CreateColumn(column).compile(dialect=conn.dialect)
                table = self.format_table(conn, column.table)
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {spec}")
        conn.execute(
            sa.update(ledger_meta)
            .where(ledger_meta.c.name == "schema_version")
            .values(value=str(SCHEMA_VERSION))
        )
        LOG.info("Ledger %s: upgraded from version %d", self.location, self.version)
        self.version = SCHEMA_VERSION

    def _check_version(self, conn: Connection) -> None:
        stored = conn.execute(
            sa.select(ledger_meta.c.value).where(ledger_meta.c.name == "schema_version")
        ).scalar()
        if stored is not None and int(stored) > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.location} has schema version {stored}; this target-attentive "
                f"knows version {SCHEMA_VERSION}: upgrade target-attentive"
            )
        self.version = int(stored) if stored is not None else SCHEMA_VERSION

    def close(self) -> None:
        """Close the connections; later calls raise LedgerError."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
