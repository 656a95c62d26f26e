"""The SQL that SQLite and PostgreSQL write apart: upserts of many rows, long IN lists.

The stores write their statements through these, so that each of them is written once
for both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

T = TypeVar("T")

SQLITE_IN_CHUNK = 10_000  # values of one IN (...) on SQLite (at most 32,766 variables a statement)
_PAGE_ROWS = 10_000  # rows of one multi-row INSERT on SQLite (at most 32,700 values)


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def format_table(conn: Connection, table: sa.Table) -> str:
    """The table's name quoted as the connection's database wants it."""
    return conn.dialect.identifier_preparer.format_table(table)


class Dialect:
    """The statements of one database, SQLite or PostgreSQL, for the stores to build on."""

    def __init__(self, is_sqlite: bool) -> None:
        self.is_sqlite = is_sqlite

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
        return format_table(conn, table)
