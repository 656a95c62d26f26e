"""A pacing rate limiter that learns the account's limit from Attentive's answers.

Requests are spaced evenly rather than sent in bursts, since Attentive counts requests in
one-second windows and a burst at the top of a second draws 429s. The pace starts at the
configured rate (the published limit unless `max_requests_per_second` says less) and
follows what Attentive reports on every answer: `x-ratelimit-limit` sets the pace just
under the account's real limit as soon as the first answer arrives, also when the limit
changes mid-run (never above the configured rate); `x-ratelimit-remaining: 0` waits for
the next second; a 429 cuts the pace, which climbs back on success; a `Retry-After` holds
every caller (the client calls `pause`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

HEADROOM = 0.99  # pace a little under the limit: the two clocks are not aligned


def pace_for(limit: float) -> float:
    """Requests a second for a limit: 1% under it, and at least half a request under."""
    return max(min(limit * HEADROOM, limit - 0.5), limit * 0.5)


class RateLimiter:
    """Hands out evenly spaced request slots for one endpoint; thread-safe."""

    def __init__(self, rate: float) -> None:
        self.ceiling = rate  # the configured rate: never exceeded, whatever the headers say
        self.limit = rate  # the limit in force: configured, then learnt
        self.max_rate = pace_for(rate)
        self.rate = self.max_rate
        self._next = time.monotonic()
        self._last_cut = float("-inf")
        self._lock = threading.Lock()

    @property
    def min_rate(self) -> float:
        return max(0.5, self.limit / 20)

    def acquire(self, stop: threading.Event | None = None) -> None:
        """Block until this caller's slot comes up, or until `stop` is set."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        wait = slot - now
        if wait > 0:
            if stop is None:
                time.sleep(wait)
            else:
                stop.wait(wait)

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (Retry-After, or a spent quota)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)

    def throttled(self) -> None:
        """A 429: multiplicative decrease, once a second at most.

        The 429s of one burst arrive together (the requests of a second already out when
        the first answer came): they are one signal, not ten, and ten cuts would take the
        pace to a crawl.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._last_cut >= 1.0:
                self._last_cut = now
                self.rate = max(self.min_rate, self.rate * 0.8)

    def succeeded(self) -> None:
        """Additive increase back toward the pace of the limit: in a few answers."""
        if self.rate < self.max_rate:
            with self._lock:
                self.rate = min(self.max_rate, self.rate + self.max_rate / 20)

    def observe(self, headers: Any, sent_at: float | None = None) -> None:
        """Learn the limit from `x-ratelimit-limit`; wait out `x-ratelimit-remaining: 0`.

        A spent quota is that of the second the request was sent in (`sent_at`, wall
        clock): the answer often arrives in the next second, which is a fresh one.
        """
        reported = _positive_int(headers.get("x-ratelimit-limit"))
        if reported is not None:
            limit = min(self.ceiling, reported)
            if limit != self.limit:
                self.learn(limit)
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            now = time.time()
            second_over = int(sent_at if sent_at is not None else now) + 1.01
            if second_over > now:
                self.pause(second_over - now)

    def learn(self, limit: float) -> None:
        """Pace for a new limit at once: down to it, or up to it (the server said so)."""
        with self._lock:
            self.limit = limit
            self.max_rate = pace_for(limit)
            self.rate = self.max_rate


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
