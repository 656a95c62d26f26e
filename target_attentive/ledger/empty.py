"""A ledger a dry run reads before any run made it: empty, and no SQLAlchemy imported.

A first dry run (the README's quickstart, a newcomer's try) has a ledger file that does
not exist yet. `ReadOnlyLedger` reads such a file as empty too, but it imports SQLAlchemy
to learn that, and the import was a third of a dry run's start-up (0.18 s). This ledger
answers every read as a ledger with nothing in it would, and keeps its claims in memory
(`memory.py`), exactly as `ReadOnlyLedger` over the same missing file:
`tests/test_ledger_absent.py` runs the same calls on both.
"""

from __future__ import annotations

import logging
from typing import Any

from target_attentive.ledger.memory import MemoryClaims
from target_attentive.ledger.records import JobEntry
from target_attentive.ledger.rows import Claim, OptOut, empty_counts

LOG = logging.getLogger("target_attentive.ledger")


class EmptyReads:
    """The reads of `LedgerBase`, each as a ledger with no rows answers it."""

    read_only = True
    absent = True
    is_sqlite = True

    def __init__(self, url: str | None = None) -> None:
        self.location = url or ""
        LOG.info("Ledger %s does not exist yet: reading it as empty", self.location)

    def close(self) -> None:
        return None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def last_hashes(self, keys: list[str]) -> dict[str, str]:
        return {}

    def identifier_owners(self, keys: list[str]) -> dict[str, str]:
        return {}

    def known_optins(self, keys: list[str]) -> set[Claim]:
        return set()

    def list_optins(self, status: str | None = None) -> list[dict[str, Any]]:
        return []

    def known_events(self, keys: list[str]) -> set[str]:
        return set()

    def known_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        return set()

    def custom_types(self) -> dict[str, str]:
        return {}

    def claimed_types(self) -> set[str]:
        return set()

    def unreconciled_jobs(self) -> list[dict[str, Any]]:
        return []

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        return []

    def job_people(self, job_id: str) -> list[tuple[str, str]]:
        return []

    def job_entries(self, job_id: str) -> list[JobEntry]:
        return []

    def jobs_for_person(self, key: str) -> list[str]:
        return []

    def counts(self) -> dict[str, Any]:
        return empty_counts()


class AbsentLedger(MemoryClaims, EmptyReads):
    """`ReadOnlyLedger` over a SQLite file that does not exist yet, without SQLAlchemy.

    Built with the file's absolute path (`url.unmade_sqlite_file`).
    """
