"""What the ledger records of a bulk job, as plain values (no database import needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobRecord:
    """A job Attentive accepted, as the ledger records it."""

    job_id: str
    stream: str
    people: list[tuple[str, str]]  # (person key, payload digest)
    payloads: list[list[Any]] | None = None  # [key, digest, payload, sources] per person
    attempt: int = 1
    previous_job: str | None = None


@dataclass
class JobEntry:
    """One person of a job not settled yet; `payload` is None when it was not kept."""

    key: str
    digest: str
    payload: dict | None = None
    sources: list[list[Any]] = field(default_factory=list)  # [position, record] pairs
