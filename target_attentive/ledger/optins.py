"""Opt-ins: claimed before they are sent, never sent twice, released only when refused.

A claim is inserted with ON CONFLICT DO NOTHING ... RETURNING: of two runs racing for the
same claim, exactly one gets it back, and only that one sends it. The claim is committed
(durably) before it is returned, so a crash after sending leaves a `pending` row, never a
second send.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.claims import claim_new, held_keys, set_status
from target_attentive.ledger.engine import Database
from target_attentive.ledger.rows import Claim
from target_attentive.ledger.schema import OPTIN_KEY, OPTIN_STATUSES, PENDING, optins


def when(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


class OptinStore:
    """SQL on `optins`, the record of every opt-in this ledger let through."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, conn: Connection, claims: list[Claim], now: int) -> set[Claim]:
        """Insert new claims as pending; returns exactly the ones this statement inserted."""
        rows = [_row(claim, PENDING, now) for claim in claims]
        return claim_new(self.db, conn, optins, OPTIN_KEY, rows)  # type: ignore[return-value]

    def set_status(
        self,
        conn: Connection,
        claims: list[Claim],
        status: str,
        now: int,
        *,
        only_from: tuple[str, ...] | None = None,
    ) -> None:
        """Give claims a status, recording them if missing; `only_from` limits which
        existing statuses change (a confirmed opt-in never becomes in doubt)."""
        rows = [_row(claim, status, now) for claim in claims]
        set_status(self.db, conn, optins, OPTIN_KEY, rows, status, now, only_from)

    def release(
        self, conn: Connection, claims: list[Claim], *, only_from: tuple[str, ...] | None = None
    ) -> None:
        """Forget claims, so that a later run may send them (Attentive refused them)."""
        for condition in self.db.tuples_in(OPTIN_KEY, claims):
            statement = sa.delete(optins).where(condition)
            if only_from is not None:
                statement = statement.where(optins.c.status.in_(only_from))
            conn.execute(statement)

    def known(self, conn: Connection, keys: list[str]) -> set[Claim]:
        return held_keys(self.db, conn, optins.c.person_key, OPTIN_KEY, keys)

    def listing(self, conn: Connection, status: str | None) -> list[dict[str, Any]]:
        query = sa.select(*OPTIN_KEY, optins.c.status, optins.c.updated_at)
        if status is not None:
            query = query.where(optins.c.status == status)
        query = query.order_by(optins.c.updated_at, *OPTIN_KEY)
        return [
            {
                "key": k,
                "channel": c,
                "signUpSourceId": s,
                "status": st,
                "updated_at": when(at).isoformat(),
            }
            for k, c, s, st, at in conn.execute(query)
        ]

    def counts(self, conn: Connection) -> dict[str, int]:
        query = sa.select(optins.c.status, sa.func.count()).group_by(optins.c.status)
        return {**dict.fromkeys(OPTIN_STATUSES, 0), **{s: n for s, n in conn.execute(query)}}

    def forget_key(self, conn: Connection, key: str) -> list[dict[str, str]]:
        columns = (optins.c.channel, optins.c.sign_up_source_id, optins.c.status)
        query = sa.select(*columns).where(optins.c.person_key == key).order_by(optins.c.channel)
        removed = [
            {"channel": c, "signUpSourceId": s, "status": st} for c, s, st in conn.execute(query)
        ]
        conn.execute(sa.delete(optins).where(optins.c.person_key == key))
        return removed


def _row(claim: Claim, status: str, now: int) -> dict[str, Any]:
    key, channel, source = claim
    return {
        "person_key": key,
        "channel": channel,
        "sign_up_source_id": source,
        "status": status,
        "updated_at": now,
    }
