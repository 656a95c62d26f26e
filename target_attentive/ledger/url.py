"""Where the ledger is: the URL it opens, and the error for a ledger that cannot be used."""

from __future__ import annotations

import os

import sqlalchemy as sa

DEFAULT_FILE = "target_attentive_ledger.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_FILE}"


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
