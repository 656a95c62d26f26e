"""The sync ledger: what was delivered to Attentive, so that reruns skip it and no opt-in
is sent twice.

SQLAlchemy Core on SQLite (the default, a file in the working directory) or PostgreSQL
(`postgresql+psycopg://...`, for runs on several machines). The package:

- `schema`: the tables and statuses; `url`: the URL and `LedgerError`; `engine`: the
  database and its transactions, over `connect` (pools, SQLite settings), `dialect` (SQL
  SQLite and PostgreSQL write differently) and `versions` (creating and upgrading);
- a store per concern, SQL on a connection: `people`, `optins`, `attribute_types`, `jobs`
  (with `records`, the plain values a job is recorded from);
- `rows`: row shapes, statuses and the pure rules on them (no SQLAlchemy);
- `Ledger` (`writable`, from `writes`, `consent_writes` and `job_writes`), what a run
  uses; `ReadOnlyLedger` (`read_only`, its claims in memory: `memory`), what a dry run
  and the ledger command's listings use: `Ledger(url, read_only=True)` gives one;
  `AbsentLedger` (`empty`), what a dry run uses on a SQLite file not made yet, without
  importing SQLAlchemy.

Guarantees when several runs (processes, threads, machines) share one ledger:
- An opt-in is claimed at most once (see `optins`), and the claim is durable before
  anything is sent: a crash after sending leaves it `pending`, never a second send.
- The custom-attribute cap holds across runs (see `attribute_types`).
- Every method is one transaction: a run killed mid-call leaves the ledger as it was.

Put the tables in their own PostgreSQL schema with `?options=-csearch_path%3Dmy_schema` in
the URL, or give the ledger its own database.

Names are imported when first used, so that a run without a ledger (or a module that only
needs `records`) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BUSY_TIMEOUT_SECONDS": "connect",
    "DEFAULT_FILE": "url",
    "DEFAULT_URL": "url",
    "LedgerError": "url",
    "resolve_url": "url",
    "JobEntry": "records",
    "JobRecord": "records",
    "Claim": "optins",
    "ReadOnlyLedger": "read_only",
    "AbsentLedger": "empty",
    "Ledger": "writable",
    "CONFIRMED": "schema",
    "IN_DOUBT": "schema",
    "JOB_SUBMITTED": "schema",
    "OPTIN_STATUSES": "schema",
    "PENDING": "schema",
    "SCHEMA_VERSION": "schema",
    "SUBMITTED": "schema",
    "ledger_meta": "schema",
    "metadata": "schema",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
