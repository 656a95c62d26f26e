"""A pacing rate limiter that slows down when Attentive says so.

Requests are spaced evenly at the allowed rate rather than sent in bursts, since
Attentive counts requests per second and a burst at the top of a second draws 429s.
It paces a little under the limit, cuts the rate when a 429 arrives and climbs back
slowly, and waits out a `Retry-After` or an `x-ratelimit-remaining: 0`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

HEADROOM = 0.98  # pace at 98% of the limit: clocks on both ends are not aligned


class RateLimiter:
    def __init__(self, rate: float) -> None:
        self.max_rate = rate * HEADROOM
        self.rate = self.max_rate
        self.min_rate = max(1.0, rate / 20)
        self._next = time.monotonic()
        self._lock = threading.Lock()

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
        """A 429: multiplicative decrease."""
        with self._lock:
            self.rate = max(self.min_rate, self.rate * 0.8)

    def succeeded(self) -> None:
        """Additive increase back toward the limit."""
        if self.rate < self.max_rate:
            with self._lock:
                self.rate = min(self.max_rate, self.rate + 0.5)

    def observe(self, headers: Any) -> None:
        """`x-ratelimit-remaining: 0` means the rest of this second is spent."""
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            self.pause(1.0 - (time.time() % 1.0) + 0.01)
