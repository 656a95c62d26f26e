"""Bulk jobs as the sandbox keeps them, and how their results lines are written."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

PENDING = "PENDING"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"

# How a results line may write its status: the documented-by-nobody forms a reader meets.
RESULT_FORMS = ("number", "text", "object", "other_key")


def result_response(status: int, message: str, form: str) -> dict[str, Any]:
    """The `response` of a results line, its status written in `form`."""
    if form == "text":
        return {"status": "SUCCESS" if status == 202 else "FAILURE", "message": message}
    if form == "object":
        return {"status": {"code": status}, "message": message}
    if form == "other_key":
        return {"code": status, "message": message}
    return {"status": status, "message": message}


@dataclass(slots=True)
class Job:
    """A bulk job; items are validated and applied only when it completes."""

    id: str
    created_at: float
    due_at: float
    users: list[Any] | None
    total: int
    generation: int
    fail: bool = False
    fail_applies: float = 0.0
    state: str = "waiting"  # waiting -> processing -> done
    status: str = PENDING  # final status once done
    items: list[bytes] = field(default_factory=list)
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    completed_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def status_at(self, now: float) -> str:
        if self.state == "done":
            return self.status
        half = self.created_at + (self.due_at - self.created_at) / 2
        return PENDING if now < half else IN_PROGRESS


def results_lines(items: Sequence[bytes], outcomes: Sequence[tuple[int, str]], form: str) -> bytes:
    """A results file: one ``{"request", "response"}`` line per item, in submission order."""
    out = bytearray()
    for line, (status, message) in zip(items, outcomes, strict=True):
        out += b'{"request":'
        out += line
        out += b',"response":'
        out += orjson.dumps(result_response(status, message, form))
        out += b"}\n"
    return bytes(out)
