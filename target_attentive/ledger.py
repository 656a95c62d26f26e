"""The sync ledger: what was delivered to Attentive, so that reruns skip it.

SQLAlchemy Core on SQLite (the default, a file in the working directory) or PostgreSQL
(`postgresql+psycopg://...`, for runs on several machines). Tables (created when missing):

- `ledger_meta(name, value)`: `schema_version`, for future migrations.
- `people(person_key, payload_hash, updated_at)`: the hash of the last accepted payload
  (without its subscriptions) per person key.
- `optins(person_key, channel, sign_up_source_id, status, updated_at)`: every opt-in this
  ledger ever let through, `pending` (claimed, about to be sent), `confirmed` (Attentive
  answered 202) or `in_doubt` (sent, outcome unknown). A row of any status blocks a resend.
- `custom_attributes(name, type, created_at)`: each custom attribute's type as first sent.
- `jobs(job_id, stream, status, created_at, finished_at)` and
  `job_people(job_id, person_key, payload_hash)`: bulk jobs and the people they carried.

Times are Unix seconds (UTC). Keys and hashes are strings made by the caller.

Guarantees when several runs (processes, threads, machines) share one ledger:
- An opt-in is claimed at most once: `claim_optins` inserts with ON CONFLICT DO NOTHING
  and returns only the rows that this very statement inserted, so of two runs racing for
  the same claim exactly one gets it. The claim is committed before it is returned, i.e.
  before anything is sent: a crash after sending leaves a `pending` row, never a resend.
- The custom-attribute cap holds: `claim_custom_types` reads the names and inserts the new
  ones in one transaction that holds a self-conflicting lock (PostgreSQL:
  `LOCK TABLE custom_attributes IN SHARE ROW EXCLUSIVE MODE`; SQLite: `BEGIN IMMEDIATE`).
- Every method is one transaction: a run killed mid-call leaves the ledger as it was.

On SQLite the file is in WAL mode with `synchronous=FULL` (a committed claim survives a
power cut), writers wait up to `busy_timeout` for each other, and writes from the threads
of one process take a lock. On PostgreSQL the engine's pool gives each thread its own
connection; rows are written in key order so two runs never deadlock (a deadlock or
serialization failure would be retried anyway). Put the tables in their own schema with
`?options=-csearch_path%3Dmy_schema` in the URL, or give the ledger its own database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

LOG = logging.getLogger("target_attentive.ledger")

SCHEMA_VERSION = 1
DEFAULT_FILE = "target_attentive_ledger.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_FILE}"
BUSY_TIMEOUT_SECONDS = 60

PENDING = "pending"
CONFIRMED = "confirmed"
IN_DOUBT = "in_doubt"
OPTIN_STATUSES = (PENDING, CONFIRMED, IN_DOUBT)
JOB_SUBMITTED = "submitted"

Claim = tuple[str, str, str]  # (person key or address, channel, signUpSourceId)
T = TypeVar("T")

# The one VALUES group SQLAlchemy compiles an INSERT to: "(?, ?, ?)".
_VALUES_GROUP = re.compile(r" VALUES (\((?:\?, )*\?\)) ?")
_SQLITE_VARIABLES = 30000  # SQLite 3.32+ allows 32,766 bound variables a statement
_SQLITE_PARAMS = 900  # bound parameters per statement on SQLite
_PG_PARAMS = 30_000  # psycopg allows 65,535
_RETRIES = 5
_RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
_PG_SETUP_LOCK = 0x7461_7474_6C65_6467  # pg_advisory_xact_lock key while creating tables

metadata = sa.MetaData()

ledger_meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
people = sa.Table(
    "people",
    metadata,
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("payload_hash", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
optins = sa.Table(
    "optins",
    metadata,
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("sign_up_source_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
custom_attributes = sa.Table(
    "custom_attributes",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.BigInteger, nullable=True),
)
job_people = sa.Table(
    "job_people",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("payload_hash", sa.Text, nullable=False),
    sa.Index("job_people_person_key", "person_key"),
    sqlite_with_rowid=False,
)
_OPTIN_KEY = (optins.c.person_key, optins.c.channel, optins.c.sign_up_source_id)
_OPTIN_COLUMNS = ("person_key", "channel", "sign_up_source_id")


class LedgerError(RuntimeError):
    """The ledger cannot be used as asked (unsupported database, newer schema)."""


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


def _now() -> int:
    return int(time.time())


def _unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def _last_wins(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(dict(rows).items())


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _claim_rows(claims: Iterable[Claim]) -> list[Claim]:
    return sorted({(str(k), str(c), str(s)) for k, c, s in claims})


class Ledger:
    """The sync ledger; safe to call from several threads; every method one transaction."""

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        self.url = resolve_url(url)
        self.read_only = read_only
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock = threading.RLock()  # SQLite: one writer per process at a time
        self._memory_lock = threading.Lock()
        self._claimed: set[Claim] = set()  # read-only: claims "made" in memory
        self._typed: dict[str, str] = {}  # read-only: custom types "claimed" in memory
        self._engine: Engine | None = None
        self._absent = False  # read-only, and there is no ledger yet: it reads as empty
        location = self.location
        if self.is_sqlite and self.url.database in (None, "", ":memory:"):
            self._engine = self._make_engine(memory=True)
        elif self.is_sqlite and read_only and not os.path.exists(location):
            LOG.info("Ledger %s does not exist yet: reading it as empty", location)
            self._absent = True
            return
        else:
            existed = not self.is_sqlite or os.path.exists(location)
            if not existed and not read_only:
                os.makedirs(os.path.dirname(location) or ".", exist_ok=True)
            self._engine = self._make_engine(memory=False)
            if self.is_sqlite and not existed:
                LOG.info("Ledger: %s (created)", location)
            else:
                LOG.info("Ledger: %s", location)
        try:
            if not read_only:
                self._create()
            elif self._has_tables():
                self._check_version()
            else:
                LOG.info("Ledger %s has no tables yet: reading it as empty", location)
                self._absent = True
                self.close()
        except BaseException:
            self.close()
            raise

    # -- plumbing -----------------------------------------------------------------------

    @property
    def location(self) -> str:
        """The SQLite file's absolute path, or the URL without its password."""
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            return self.url.database
        return self.url.render_as_string(hide_password=True)

    def _make_engine(self, *, memory: bool) -> Engine:
        if not self.is_sqlite:
            # A connection per delivery thread; more threads wait up to pool_timeout.
            return sa.create_engine(
                self.url, pool_pre_ping=True, pool_size=8, max_overflow=56, pool_timeout=120
            )
        args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        if memory:
            engine = sa.create_engine(self.url, connect_args=args, poolclass=sa.pool.StaticPool)
        else:
            engine = sa.create_engine(self.url, connect_args=args, pool_size=8, max_overflow=-1)
        read_only = self.read_only

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Transactions are begun below, so that writers can BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            if not read_only and not memory:
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
        if self.is_sqlite and (write or self.url.database in (None, "", ":memory:")):
            with self._write_lock:
                yield
        else:
            yield

    def _run(self, work: Callable[[Connection], T], *, write: bool, durable: bool = False) -> T:
        """`work` in one transaction; retried on a PostgreSQL deadlock or serialization error.

        SQLite commits `durable` transactions with synchronous=FULL (on disk before the
        call returns, even across a power cut), the others with NORMAL (they survive a
        killed process; a power cut may undo the last ones, which at worst sends a person's
        attributes once more: a confirm or release lost this way leaves the claim pending,
        which still blocks a resend).
        """
        if self._engine is None:
            raise LedgerError(f"ledger {self.location} is closed")
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

    def _read(self, work: Callable[[Connection], T], empty: T) -> T:
        if self._absent:
            return empty
        return self._run(work, write=False)

    def _write(self, work: Callable[[Connection], T], skipped: T, durable: bool = False) -> T:
        if self.read_only:
            return skipped
        return self._run(work, write=True, durable=durable)

    def _insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table) if self.is_sqlite else pg.insert(table)

    def _insert_rows(
        self,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        constants: dict[str, Any],
        finish: Callable[[Any], Any],
    ) -> sa.CursorResult:
        """INSERT many rows of text `columns` plus `constants`, in the order given.

        `finish` adds the ON CONFLICT clause (and RETURNING) to the statement. SQLite gets
        an executemany (SQLAlchemy folds it into multi-row VALUES); PostgreSQL one
        `INSERT ... SELECT FROM unnest(arrays)`: a single round trip, whatever the size.
        """
        if self.is_sqlite:
            statement = finish(self._insert(table))
            if statement._returning:  # RETURNING needs SQLAlchemy's row-by-row path
                params = [{**dict(zip(columns, row, strict=True)), **constants} for row in rows]
                return conn.execute(statement, params)
            # Multi-row VALUES through the driver: one statement step for thousands of rows.
            # SQLAlchemy's per-row parameters took twice as long, and the driver's
            # executemany releases and retakes the GIL for every row, which slows the
            # thread that reads records while a batch is recorded in the background.
            names = [*columns, *constants]
            compiled = statement.compile(dialect=conn.dialect, column_keys=names)
            fixed = {**compiled.params, **constants}  # values bound in the statement itself
            head, group, tail_sql = _VALUES_GROUP.split(str(compiled), maxsplit=1)
            order = list(compiled.positiontup)
            width = group.count("?")  # a row's parameters; the rest belong to the tail
            row_names, tail = order[:width], tuple(fixed[n] for n in order[width:])
            if row_names[: len(columns)] == list(columns):  # the row, then constants
                constant_values = tuple(fixed.get(n) for n in row_names[len(columns) :])
                params = [(*row, *constant_values) for row in rows]
            else:
                slots = [columns.index(n) if n in columns else None for n in row_names]
                pairs = [(i, fixed.get(n)) for i, n in zip(slots, row_names, strict=True)]
                params = [tuple(row[i] if i is not None else v for i, v in pairs) for row in rows]
            result = None
            per = max(1, (_SQLITE_VARIABLES - len(tail)) // width)
            for chunk in _chunks(params, per):
                values = ", ".join([group] * len(chunk))
                flat = (*(value for row in chunk for value in row), *tail)
                result = conn.exec_driver_sql(f"{head} VALUES {values} {tail_sql}", flat)
            return result
        arrays = [
            sa.bindparam(None, [row[i] for row in rows], type_=pg.ARRAY(sa.Text))
            for i in range(len(columns))
        ]
        source = (
            sa.func.unnest(*arrays)
            .table_valued(*columns, with_ordinality="ordinality")
            .render_derived()
        )
        select = sa.select(
            *(source.c[name] for name in columns),
            *(sa.literal(value, table.c[name].type) for name, value in constants.items()),
        ).order_by(source.c.ordinality)
        insert = pg.insert(table).from_select([*columns, *constants], select)
        return conn.execute(finish(insert))

    def _where_in(self, column: sa.Column, values: Sequence[str]) -> Iterator[Any]:
        """Conditions `column IN values`, as few statements as the database allows."""
        if not self.is_sqlite:
            if values:
                yield column == sa.any_(sa.bindparam(None, list(values), type_=pg.ARRAY(sa.Text)))
            return
        for chunk in _chunks(values, _SQLITE_PARAMS):
            yield column.in_(chunk)

    def _claims_in(self, claims: Sequence[Claim]) -> Iterator[Any]:
        size = (_SQLITE_PARAMS if self.is_sqlite else _PG_PARAMS) // 3
        for chunk in _chunks(claims, size):
            yield sa.tuple_(*_OPTIN_KEY).in_(chunk)

    def _has_tables(self) -> bool:
        assert self._engine is not None
        with self._engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
        return set(metadata.tables) <= names

    def _create(self) -> None:
        def work(conn: Connection) -> None:
            if not self.is_sqlite:
                # Two runs starting at once must not both CREATE TABLE.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SETUP_LOCK)))
            metadata.create_all(conn)
            conn.execute(
                self._insert(ledger_meta)
                .values(name="schema_version", value=str(SCHEMA_VERSION))
                .on_conflict_do_nothing(index_elements=[ledger_meta.c.name])
            )
            self._check_version(conn)

        self._run(work, write=True, durable=True)

    def _check_version(self, conn: Connection | None = None) -> None:
        if conn is None:
            self._run(self._check_version, write=False)
            return
        stored = conn.execute(
            sa.select(ledger_meta.c.value).where(ledger_meta.c.name == "schema_version")
        ).scalar()
        if stored is not None and int(stored) > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.location} has schema version {stored}; this target-attentive "
                f"knows version {SCHEMA_VERSION}: upgrade target-attentive"
            )

    def close(self) -> None:
        """Close the database connections; later calls raise LedgerError."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- people -------------------------------------------------------------------------

    def last_hashes(self, keys: list[str]) -> dict[str, str]:
        """The hash of the last accepted payload of each key the ledger knows."""
        wanted = _unique(keys)
        if not wanted:
            return {}

        def work(conn: Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            if self.is_sqlite:  # the driver directly: this runs for every batch
                for chunk in _chunks(wanted, _SQLITE_PARAMS):
                    marks = ",".join("?" * len(chunk))
                    sql = (
                        f"SELECT person_key, payload_hash FROM people WHERE person_key IN ({marks})"
                    )
                    found.update(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
                return found
            for condition in self._where_in(people.c.person_key, wanted):
                rows = conn.execute(
                    sa.select(people.c.person_key, people.c.payload_hash).where(condition)
                )
                found.update(_pairs(rows))
            return found

        return self._read(work, {})

    def record_accepted(self, rows: list[tuple[str, str]]) -> None:
        """Remember (key, hash) as accepted; of a key given twice the last hash wins."""
        latest = _last_wins(rows)
        if not latest:
            return
        now = _now()

        def upsert(stmt: Any) -> Any:
            return stmt.on_conflict_do_update(
                index_elements=[people.c.person_key],
                set_={"payload_hash": stmt.excluded.payload_hash, "updated_at": now},
            )

        def work(conn: Connection) -> None:
            columns = ("person_key", "payload_hash")
            self._insert_rows(conn, people, columns, latest, {"updated_at": now}, upsert)

        self._write(work, None)

    def forget_people(self, keys: list[str]) -> int:
        """Drop these keys' hashes, so that they are sent again; how many were dropped."""
        return self._write(lambda conn: self._delete_people(conn, _unique(keys)), 0)

    def _delete_people(self, conn: Connection, keys: list[str]) -> int:
        removed = 0
        for condition in self._where_in(people.c.person_key, keys):
            removed += conn.execute(sa.delete(people).where(condition)).rowcount
        return removed

    # -- opt-ins ------------------------------------------------------------------------

    def claim_optins(self, claims: list[Claim]) -> set[Claim]:
        """Claim opt-ins before sending them; returns exactly those this call claimed.

        A claim already in the ledger, whatever its status, or claimed at the same time
        by another run, is not returned: it must not be sent.
        """
        wanted = _claim_rows(claims)
        if not wanted:
            return set()
        if self.read_only:
            with self._memory_lock:
                known = self._known_in_db(sorted({c[0] for c in wanted})) | self._claimed
                new = {c for c in wanted if c not in known}
                self._claimed |= new
                return new
        constants = {"status": PENDING, "updated_at": _now()}

        def insert_new(stmt: Any) -> Any:
            return stmt.on_conflict_do_nothing(index_elements=list(_OPTIN_KEY)).returning(
                *_OPTIN_KEY
            )

        def work(conn: Connection) -> set[Claim]:
            result = self._insert_rows(conn, optins, _OPTIN_COLUMNS, wanted, constants, insert_new)
            return {(k, c, s) for k, c, s in result}

        return self._run(work, write=True, durable=True)

    def _set_optins(self, claims: list[Claim], status: str, keep_confirmed: bool) -> None:
        wanted = _claim_rows(claims)
        if not wanted:
            return
        now = _now()

        def upsert(stmt: Any) -> Any:
            return stmt.on_conflict_do_update(
                index_elements=list(_OPTIN_KEY),
                set_={"status": status, "updated_at": now},
                where=(optins.c.status != CONFIRMED) if keep_confirmed else None,
            )

        def work(conn: Connection) -> None:
            constants = {"status": status, "updated_at": now}
            self._insert_rows(conn, optins, _OPTIN_COLUMNS, wanted, constants, upsert)

        self._write(work, None)

    def confirm_optins(self, claims: list[Claim]) -> None:
        """Attentive answered 202: these opt-ins are delivered (recorded even if unclaimed)."""
        self._set_optins(claims, CONFIRMED, keep_confirmed=False)

    def doubt_optins(self, claims: list[Claim]) -> None:
        """Sent, outcome unknown: never resent automatically. A confirmed one stays so."""
        self._set_optins(claims, IN_DOUBT, keep_confirmed=True)

    def release_optins(self, claims: list[Claim]) -> None:
        """Attentive refused them (4xx): forget the claims, so a later run may send them."""
        wanted = _claim_rows(claims)
        if not wanted:
            return

        def work(conn: Connection) -> None:
            for condition in self._claims_in(wanted):
                conn.execute(sa.delete(optins).where(condition))

        self._write(work, None)

    def known_optins(self, keys: list[str]) -> set[Claim]:
        """Every claim under these keys, whatever its status."""
        wanted = _unique(keys)
        if not wanted:
            return set()
        known = self._known_in_db(wanted)
        if self._claimed:
            with self._memory_lock:
                keys_set = set(wanted)
                known |= {c for c in self._claimed if c[0] in keys_set}
        return known

    def _known_in_db(self, keys: list[str]) -> set[Claim]:
        def work(conn: Connection) -> set[Claim]:
            found: set[Claim] = set()
            for condition in self._where_in(optins.c.person_key, keys):
                rows = conn.execute(sa.select(*_OPTIN_KEY).where(condition))
                found.update((k, c, s) for k, c, s in rows)
            return found

        return self._read(work, set())

    def list_optins(self, status: str | None = None) -> list[dict[str, Any]]:
        """The opt-in claims (of one status), oldest first, for people to read."""
        query = sa.select(*_OPTIN_KEY, optins.c.status, optins.c.updated_at)
        if status is not None:
            query = query.where(optins.c.status == status)
        query = query.order_by(optins.c.updated_at, *_OPTIN_KEY)

        def work(conn: Connection) -> list[dict[str, Any]]:
            return [
                {
                    "key": k,
                    "channel": c,
                    "signUpSourceId": s,
                    "status": st,
                    "updated_at": _when(at).isoformat(),
                }
                for k, c, s, st, at in conn.execute(query)
            ]

        return self._read(work, [])

    # -- custom attributes --------------------------------------------------------------

    def custom_types(self) -> dict[str, str]:
        """Every custom attribute's type as first sent."""

        def work(conn: Connection) -> dict[str, str]:
            query = sa.select(custom_attributes.c.name, custom_attributes.c.type)
            return _pairs(conn.execute(query))

        types = self._read(work, {})
        if self._typed:
            with self._memory_lock:
                types = {**self._typed, **types}
        return types

    def claim_custom_types(
        self, types: dict[str, str], limit: int = 100
    ) -> tuple[dict[str, str], list[str]]:
        """Record new custom attributes unless they would make more than `limit` in all.

        Returns the types in force for the given names (a recorded type wins over the one
        asked for) and the names refused because of the limit, in the order given.
        """
        if not types:
            return {}, []
        if self.read_only:
            with self._memory_lock:
                existing = {**self._typed, **self._stored_types()}
                in_force, refused, new = _merge_types(existing, types, limit)
                self._typed.update(new)
                return in_force, refused

        def work(conn: Connection) -> tuple[dict[str, str], list[str]]:
            if not self.is_sqlite:
                table = conn.dialect.identifier_preparer.format_table(custom_attributes)
                conn.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            query = sa.select(custom_attributes.c.name, custom_attributes.c.type)
            existing = _pairs(conn.execute(query))
            in_force, refused, new = _merge_types(existing, types, limit)
            if new:
                now = _now()
                conn.execute(
                    sa.insert(custom_attributes),
                    [{"name": n, "type": t, "created_at": now} for n, t in new.items()],
                )
            return in_force, refused

        return self._run(work, write=True, durable=True)

    def _stored_types(self) -> dict[str, str]:
        def work(conn: Connection) -> dict[str, str]:
            query = sa.select(custom_attributes.c.name, custom_attributes.c.type)
            return _pairs(conn.execute(query))

        return self._read(work, {})

    # -- bulk jobs ----------------------------------------------------------------------

    def record_job(self, job_id: str, stream: str, people: list[tuple[str, str]]) -> None:
        """A bulk job Attentive accepted, with each person's key and payload hash."""
        self.record_jobs([(job_id, stream, people)])

    def record_jobs(self, submitted: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
        """Bulk jobs (job id, stream, people) in one transaction: a batch's worth at once."""
        now = _now()

        def upsert(stmt: Any) -> Any:
            return stmt.on_conflict_do_update(
                index_elements=[job_people.c.job_id, job_people.c.person_key],
                set_={"payload_hash": stmt.excluded.payload_hash},
            )

        def work(conn: Connection) -> None:
            job_rows = [(job_id, stream) for job_id, stream, _people in submitted]
            self._insert_rows(
                conn,
                jobs,
                ("job_id", "stream"),
                job_rows,
                {"status": JOB_SUBMITTED, "created_at": now},
                lambda stmt: stmt.on_conflict_do_nothing(index_elements=[jobs.c.job_id]),
            )
            rows = [
                (job_id, key, digest)
                for job_id, _stream, people in submitted
                for key, digest in _last_wins(people)
            ]
            if rows:
                columns = ("job_id", "person_key", "payload_hash")
                self._insert_rows(conn, job_people, columns, rows, {}, upsert)

        if submitted:
            # Durable: a job lost to a power cut would leave Attentive's refusals unreconciled.
            self._write(work, None, durable=True)

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Jobs not finished yet, oldest first: job_id, stream, created_at (UTC), status."""
        query = (
            sa.select(jobs.c.job_id, jobs.c.stream, jobs.c.created_at, jobs.c.status)
            .where(jobs.c.finished_at.is_(None))
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )

        def work(conn: Connection) -> list[dict[str, Any]]:
            return [
                {"job_id": j, "stream": s, "created_at": _when(at), "status": st}
                for j, s, at, st in conn.execute(query)
            ]

        return self._read(work, [])

    def job_people(self, job_id: str) -> list[tuple[str, str]]:
        """(person key, payload hash) of everyone the job carried."""
        query = (
            sa.select(job_people.c.person_key, job_people.c.payload_hash)
            .where(job_people.c.job_id == job_id)
            .order_by(job_people.c.person_key)
        )
        return self._read(lambda conn: [tuple(r) for r in conn.execute(query)], [])

    def finish_job(self, job_id: str, status: str, failed_keys: list[str]) -> None:
        """Set the job's final status and drop the refused people's hashes, together."""
        failed = _unique(failed_keys)
        update = (
            sa.update(jobs).where(jobs.c.job_id == job_id).values(status=status, finished_at=_now())
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount == 0:
                raise KeyError(f"no bulk job {job_id} in the ledger")
            self._delete_people(conn, failed)

        self._write(work, None)

    def jobs_for_person(self, key: str) -> list[str]:
        """The bulk jobs that carried this person, oldest first."""
        query = (
            sa.select(jobs.c.job_id)
            .join(job_people, job_people.c.job_id == jobs.c.job_id)
            .where(job_people.c.person_key == key)
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )
        return self._read(lambda conn: list(conn.execute(query).scalars()), [])

    # -- operating it -------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        """People, opt-ins by status, custom attributes, jobs by status."""

        def work(conn: Connection) -> dict[str, Any]:
            count = sa.func.count()
            by_status = sa.select(optins.c.status, count).group_by(optins.c.status)
            jobs_by_status = sa.select(jobs.c.status, count).group_by(jobs.c.status)
            return {
                "people": conn.execute(sa.select(count).select_from(people)).scalar_one(),
                "optins": {**dict.fromkeys(OPTIN_STATUSES, 0), **_pairs(conn.execute(by_status))},
                "custom_attributes": conn.execute(
                    sa.select(count).select_from(custom_attributes)
                ).scalar_one(),
                "jobs": _pairs(conn.execute(jobs_by_status)),
            }

        empty = {
            "people": 0,
            "optins": dict.fromkeys(OPTIN_STATUSES, 0),
            "custom_attributes": 0,
            "jobs": {},
        }
        return self._read(work, empty)

    def forget_person(self, key: str) -> dict[str, Any]:
        """Remove this key's hash and opt-in claims; returns what was removed."""
        claims = sa.select(optins.c.channel, optins.c.sign_up_source_id, optins.c.status).where(
            optins.c.person_key == key
        )

        def work(conn: Connection) -> dict[str, Any]:
            removed = [
                {"channel": c, "signUpSourceId": s, "status": st}
                for c, s, st in conn.execute(claims.order_by(optins.c.channel))
            ]
            conn.execute(sa.delete(optins).where(optins.c.person_key == key))
            hashes = conn.execute(sa.delete(people).where(people.c.person_key == key)).rowcount
            return {"key": key, "hash_removed": hashes > 0, "optins_removed": removed}

        return self._write(work, {"key": key, "hash_removed": False, "optins_removed": []})

    def forget_everything(self) -> None:
        """Empty the ledger (its schema version stays)."""
        tables = [people, optins, custom_attributes, jobs, job_people]

        def work(conn: Connection) -> None:
            if self.is_sqlite:
                for table in tables:
                    conn.execute(sa.delete(table))
            else:
                names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names}")

        self._write(work, None)
        with self._memory_lock:
            self._claimed.clear()
            self._typed.clear()


def _merge_types(
    existing: dict[str, str], asked: dict[str, str], limit: int
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(types in force for the asked names, names refused, new names to record)."""
    in_force: dict[str, str] = {}
    refused: list[str] = []
    new: dict[str, str] = {}
    room = limit - len(existing)
    for name, kind in asked.items():
        if name in existing:
            in_force[name] = existing[name]
        elif room > 0:
            in_force[name] = new[name] = kind
            room -= 1
        else:
            refused.append(name)
    return in_force, refused, new


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """Two-column rows as a dict (a Result has keys(), so dict() would misread it)."""
    return {a: b for a, b in rows}


def _when(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
