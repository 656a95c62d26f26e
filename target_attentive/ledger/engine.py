"""The ledger's database: transactions, their retries and durability, opening and closing.

On SQLite a write transaction begins IMMEDIATE and commits with `synchronous=FULL` when it
must survive a power cut; writes from the threads of one process take a lock. On
PostgreSQL rows are written in key order so that two runs never deadlock, and a deadlock
or serialization failure is retried anyway. What the databases write apart is in
`dialect`, how they connect in `connect`, the tables and upgrades in `versions`.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from target_attentive.ledger.connect import BUSY_TIMEOUT_SECONDS, make_engine
from target_attentive.ledger.dialect import SQLITE_IN_CHUNK, Dialect, T, chunks
from target_attentive.ledger.schema import SCHEMA_VERSION
from target_attentive.ledger.url import DEFAULT_FILE, DEFAULT_URL, LedgerError, resolve_url
from target_attentive.ledger.versions import create_tables, has_tables, stored_version, upgrade

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_FILE",
    "DEFAULT_URL",
    "SQLITE_IN_CHUNK",
    "Database",
    "LedgerError",
    "chunks",
    "resolve_url",
]

LOG = logging.getLogger("target_attentive.ledger")

_RETRIES = 5
_RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


class Database(Dialect):
    """One ledger database, opened for reading and writing or for reading only.

    The stores write SQL on a connection; this decides how a transaction begins, retries
    and becomes durable, once for both databases. Opened for reading only, it never
    creates a file or a table: a ledger that does not exist yet reads as empty (`absent`).
    """

    def __init__(self, url: str | None, *, read_only: bool) -> None:
        self.url = resolve_url(url)
        super().__init__(self.url.get_backend_name() == "sqlite")
        self.read_only = read_only
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
        self._engine = make_engine(self.url, memory=self.memory, read_only=read_only)
        LOG.info("Ledger: %s%s", location, "" if existed else " (created)")
        try:
            if not read_only:
                self.run(self._create, write=True, durable=True)
            elif has_tables(self._engine):
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

    def _create(self, conn: Connection) -> None:
        create_tables(conn, self.is_sqlite)
        self._check_version(conn)
        if self.version < SCHEMA_VERSION:
            upgrade(conn, self.version, self.location)
            self.version = SCHEMA_VERSION

    def _check_version(self, conn: Connection) -> None:
        self.version = stored_version(conn, self.location)

    def close(self) -> None:
        """Close the connections; later calls raise LedgerError."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
