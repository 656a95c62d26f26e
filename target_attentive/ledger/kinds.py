"""Events and opt-outs: what a rerun must not send again, and how opt-outs meet opt-ins.

An event is recorded once Attentive took its body, under `kind:id`. An opt-out is
recorded under the address it ends, its channel and its type; sending one deletes the
opt-in rows of that address and channel (a later opt-in may go once more), and an opt-in
sent deletes the opt-out rows of its address and channel. With confirmation texts on, an
opt-out is claimed before it is sent, with the same ON CONFLICT DO NOTHING ... RETURNING
as opt-ins: of two runs racing for it, one sends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.claims import claim_new, held_keys, set_status
from target_attentive.ledger.engine import Database
from target_attentive.ledger.rows import OptOut
from target_attentive.ledger.schema import OPTOUT_KEY, events, optins, optouts

Address = tuple[str, str]  # (address, channel)
KINDS_VERSION = 3  # the schema version that added these tables


class KindStore:
    """SQL on `events` and `optouts`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- events -------------------------------------------------------------------------

    def known_events(self, conn: Connection, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for condition in self.db.where_in(events.c.event_key, keys):
            found.update(k for (k,) in conn.execute(sa.select(events.c.event_key).where(condition)))
        return found

    def record_events(self, conn: Connection, rows: list[tuple[str, str]], now: int) -> None:
        """(event key, kind) rows Attentive took; a key recorded before keeps its time."""
        if not rows:
            return
        self.db.insert_many(
            conn,
            events,
            [{"event_key": k, "kind": kind, "sent_at": now} for k, kind in rows],
            lambda insert: insert.on_conflict_do_nothing(index_elements=[events.c.event_key]),
        )

    # -- opt-outs -----------------------------------------------------------------------

    def known_optouts(self, conn: Connection, addresses: list[str]) -> set[OptOut]:
        return held_keys(self.db, conn, optouts.c.person_key, OPTOUT_KEY, addresses)

    def claim_optouts(self, conn: Connection, keys: list[OptOut], now: int) -> set[OptOut]:
        """Insert new opt-outs as pending; exactly the ones this statement inserted."""
        rows = [_row(key, "pending", now) for key in keys]
        return claim_new(self.db, conn, optouts, OPTOUT_KEY, rows)  # type: ignore[return-value]

    def set_optouts(
        self,
        conn: Connection,
        keys: list[OptOut],
        status: str,
        now: int,
        only_from: tuple[str, ...] | None = None,
    ) -> None:
        """Give opt-outs a status, recording them when missing."""
        rows = [_row(key, status, now) for key in keys]
        set_status(self.db, conn, optouts, OPTOUT_KEY, rows, status, now, only_from)

    def release_optouts(self, conn: Connection, keys: list[OptOut]) -> None:
        for condition in self.db.tuples_in(OPTOUT_KEY, keys):
            conn.execute(sa.delete(optouts).where(condition))

    def rearm_optins(self, conn: Connection, addresses: list[Address]) -> None:
        """An opt-out was sent: the opt-in of that address and channel may go once more."""
        columns = (optins.c.person_key, optins.c.channel)
        for condition in self.db.tuples_in(columns, addresses):
            conn.execute(sa.delete(optins).where(condition))

    def rearm_optouts(self, conn: Connection, addresses: list[Address]) -> None:
        """An opt-in was sent: the opt-outs of that address and channel may go once more."""
        columns = (optouts.c.person_key, optouts.c.channel)
        for condition in self.db.tuples_in(columns, addresses):
            conn.execute(sa.delete(optouts).where(condition))

    def forget_address(self, conn: Connection, key: str) -> list[dict[str, str]]:
        """Drop the opt-outs recorded under this address; what they were."""
        columns = (optouts.c.channel, optouts.c.subscription_type, optouts.c.status)
        query = sa.select(*columns).where(optouts.c.person_key == key).order_by(*columns)
        removed = [{"channel": c, "type": t, "status": st} for c, t, st in conn.execute(query)]
        conn.execute(sa.delete(optouts).where(optouts.c.person_key == key))
        return removed

    def counts(self, conn: Connection) -> dict[str, Any]:
        count = sa.select(sa.func.count())
        by_status = sa.select(optouts.c.status, sa.func.count()).group_by(optouts.c.status)
        return {
            "events": conn.execute(count.select_from(events)).scalar_one(),
            "optouts": {s: n for s, n in conn.execute(by_status)},
        }


def addresses(keys: Iterable[tuple[str, str, Any]]) -> list[Address]:
    """The (address, channel) pairs of opt-in claims or opt-outs, sorted and unique."""
    return sorted({(str(k), str(c)) for k, c, _ in keys})


def _row(key: OptOut, status: str, now: int) -> dict[str, Any]:
    person, channel, sub_type = key
    return {
        "person_key": person,
        "channel": channel,
        "subscription_type": sub_type,
        "status": status,
        "updated_at": now,
    }
