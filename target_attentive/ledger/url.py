"""Where the ledger is: the URL it opens, and the error for a ledger that cannot be used."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

DEFAULT_FILE = "target_attentive_ledger.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_FILE}"


class LedgerError(RuntimeError):
    """The ledger cannot be used as asked (unsupported database, newer schema, closed)."""


def resolve_url(url: str | None) -> sa.URL:
    """The URL the ledger opens: the default file, a driver for bare `postgresql://`."""
    import sqlalchemy as sa  # here: a dry run before any ledger exists never needs it

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


_SQLITE_FILE = "sqlite:///"


def unmade_sqlite_file(url: str | None) -> str | None:
    """The absolute path of the SQLite file `url` names when that file does not exist yet.

    None for every other URL, and for the forms whose reading only SQLAlchemy knows (a
    driver, a query, escapes, `file:` URIs, memory): those go the usual way. Where this
    gives a path, it is the one `resolve_url` gives (tests/test_ledger_absent.py).
    """
    text = url or DEFAULT_URL
    if not text.startswith(_SQLITE_FILE):
        return None
    database = text[len(_SQLITE_FILE) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if any(c in database for c in "?#%@\\") or database != database.strip():
        return None
    path = os.path.abspath(database)
    return None if os.path.exists(path) else path
