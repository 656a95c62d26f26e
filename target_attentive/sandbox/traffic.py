"""Requests counted per endpoint and per answer, the same way for every API version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .encoding import iso


@dataclass(slots=True)
class EndpointStats:
    """Traffic seen on one endpoint; ``busiest`` values are kept per wall-clock second."""

    requests: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    second: int = -1
    second_requests: int = 0
    second_accepted: int = 0
    best_requests: int = 0
    best_requests_at: int | None = None
    best_accepted: int = 0
    best_accepted_at: int | None = None

    def add(self, outcome: str, t: float) -> None:
        self.requests += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        sec = int(t)
        if sec != self.second:
            self.second = sec
            self.second_requests = 0
            self.second_accepted = 0
        self.second_requests += 1
        if self.second_requests > self.best_requests:
            self.best_requests = self.second_requests
            self.best_requests_at = sec
        if outcome[0] == "2":
            self.second_accepted += 1
            if self.second_accepted > self.best_accepted:
                self.best_accepted = self.second_accepted
                self.best_accepted_at = sec

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "counts": dict(sorted(self.counts.items())),
            "busiest_second": {
                "requests": self.best_requests,
                "requests_at": iso(self.best_requests_at),
                "accepted": self.best_accepted,
                "accepted_at": iso(self.best_accepted_at),
            },
        }


class Traffic:
    """One API version's request counts; the caller holds the lock its state shares."""

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.stats: dict[str, EndpointStats] = {name: EndpointStats() for name in endpoints}
        self.status_counts: dict[str, int] = {}
        self.first_request: float | None = None
        self.last_request: float | None = None

    def record_locked(self, endpoint: str, outcome: str, t: float) -> None:
        """Count one answered (or dropped) request; ``outcome`` is a status code or 'dropped'."""
        self.stats[endpoint].add(outcome, t)
        self.status_counts[outcome] = self.status_counts.get(outcome, 0) + 1
        if self.first_request is None or t < self.first_request:
            self.first_request = t
        if self.last_request is None or t > self.last_request:
            self.last_request = t

    def as_json(self) -> dict[str, Any]:
        """``counts`` by answer over all endpoints, and each endpoint's own."""
        return {
            "first_request_at": iso(self.first_request),
            "last_request_at": iso(self.last_request),
            "counts": dict(sorted(self.status_counts.items())),
            "endpoints": {name: s.as_json() for name, s in self.stats.items()},
        }
