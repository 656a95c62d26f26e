"""The claims of a ledger that is only read: remembered in memory, never written.

A dry run plans exactly like a run, so it must see what a run would: an opt-in or a
custom attribute it "claims" is remembered for the rest of the dry run (a later record of
the same person is not shown sending the opt-in again), and nothing reaches a database.
Every other write does nothing. No database library here: `empty.py` puts these claims
over a ledger that does not exist yet without importing SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from target_attentive.ledger.rows import Claim, OptOut, claim_rows, merge_types, optout_rows, unique


class MemoryClaims:
    """Claims in memory over the stored reads of the class after it (`super()`)."""

    read_only = True

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url)  # type: ignore[call-arg]
        self._lock = threading.Lock()
        self._claimed: set[Claim] = set()
        self._typed: dict[str, str] = {}
        self._optouts: set[OptOut] = set()

    def known_optins(self, keys: list[str]) -> set[Claim]:
        known = super().known_optins(keys)
        wanted = set(keys)
        with self._lock:
            return known | {c for c in self._claimed if c[0] in wanted}

    def claim_optins(self, claims: list[Claim]) -> set[Claim]:
        wanted = claim_rows(claims)
        if not wanted:
            return set()
        stored = super().known_optins(unique(c[0] for c in wanted))
        with self._lock:
            new = {c for c in wanted if c not in stored and c not in self._claimed}
            self._claimed |= new
            return new

    def known_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        known = super().known_optouts(keys)
        with self._lock:
            return known | (self._optouts & set(optout_rows(keys)))

    def claim_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        wanted = optout_rows(keys)
        stored = super().known_optouts(wanted)
        with self._lock:
            new = {k for k in wanted if k not in stored and k not in self._optouts}
            self._optouts |= new
            return new

    def custom_types(self) -> dict[str, str]:
        stored = super().custom_types()
        with self._lock:
            return {**self._typed, **stored}

    def claim_types(
        self, types: dict[str, str], limit: int = 100, counted: Collection[str] = ()
    ) -> tuple[dict[str, str], list[str], dict[str, str]]:
        if not types:
            return {}, [], {}
        stored = super().custom_types()
        with self._lock:
            in_force, refused, new = merge_types({**self._typed, **stored}, types, limit, counted)
            self._typed.update(new)
            return in_force, refused, new

    def claim_custom_types(
        self, types: dict[str, str], limit: int = 100
    ) -> tuple[dict[str, str], list[str]]:
        in_force, refused, _new = self.claim_types(types, limit)
        return in_force, refused

    def forget_everything(self) -> None:
        with self._lock:
            self._claimed.clear()
            self._typed.clear()
            self._optouts.clear()

    def forget_person(self, key: str) -> dict[str, Any]:
        return {"key": key, "hash_removed": False, "optins_removed": [], "optouts_removed": []}

    def forget_people(self, keys: list[str]) -> int:
        return 0

    # Writes that a dry run makes and that must change nothing.

    def record_accepted(self, rows: list[tuple[str, str]], owners: Any = ()) -> None:
        return None

    def confirm_optins(self, claims: list[Claim]) -> None:
        return None

    def submit_optins(self, claims: list[Claim]) -> None:
        return None

    def doubt_optins(self, claims: list[Claim]) -> None:
        return None

    def release_optins(self, claims: list[Claim]) -> None:
        return None

    def record_events(self, rows: list[tuple[str, str]]) -> None:
        return None

    def record_optouts(self, keys: list[OptOut]) -> None:
        return None

    def doubt_optouts(self, keys: list[OptOut]) -> None:
        return None

    def release_optouts(self, keys: list[OptOut]) -> None:
        return None

    def confirm_custom_types(self, types: dict[str, str]) -> None:
        return None

    def release_custom_types(self, names: list[str]) -> None:
        return None

    def record_job(self, job_id: str, stream: str, people: list[tuple[str, str]]) -> None:
        return None

    def record_jobs(self, submitted: list[Any]) -> None:
        return None

    def record_bulk(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def settle_job(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def note_job(self, job_id: str, status: str, note: str | None) -> None:
        return None

    def finish_job(self, job_id: str, status: str, failed_keys: list[str]) -> None:
        return None
