"""A table of claims with a status (opt-ins, opt-outs): claimed once, then moved on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import Database


def held_keys(
    db: Database, conn: Connection, address: Any, key: Sequence[Any], addresses: list[str]
) -> set[tuple]:
    """The keys of every row held under these addresses, whatever its status."""
    found: set[tuple] = set()
    for condition in db.where_in(address, addresses):
        found.update(tuple(row) for row in conn.execute(sa.select(*key).where(condition)))
    return found


def claim_new(
    db: Database, conn: Connection, table: sa.Table, key: Sequence[Any], rows: list[dict]
) -> set[tuple]:
    """Insert the rows not there yet; the keys of exactly the ones this statement inserted
    (of two runs racing for a claim, one gets it)."""
    if not rows:
        return set()
    result = db.insert_many(
        conn,
        table,
        rows,
        lambda insert: insert.on_conflict_do_nothing(index_elements=list(key)),
        returning=key,
    )
    return {tuple(row) for row in result} if result is not None else set()


def set_status(
    db: Database,
    conn: Connection,
    table: sa.Table,
    key: Sequence[Any],
    rows: list[dict],
    status: str,
    now: int,
    only_from: tuple[str, ...] | None = None,
) -> None:
    """Give the rows (made with `status`) that status, recording the missing ones;
    `only_from` limits which existing statuses change."""
    if not rows:
        return
    where = None
    if only_from is not None:  # no IN (...): an expanding list cannot go in a many-row insert
        where = sa.or_(*(table.c.status == status_ for status_ in only_from))
    db.insert_many(
        conn,
        table,
        rows,
        lambda insert: insert.on_conflict_do_update(
            index_elements=list(key),
            set_={"status": status, "updated_at": now},
            where=where,
        ),
    )
