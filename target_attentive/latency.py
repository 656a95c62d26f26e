"""How long to wait for an answer: long enough for this service, short for a hung request.

A fixed read timeout of `request_timeout_seconds` (30 s by default) lets one hung request
hold its slot, and the batch behind it, for 30 s. Attentive answers in tens of
milliseconds: once enough answers have been seen, a request is given a few times the
slowest recent answer (the 99th percentile), never under `FLOOR_SECONDS` and never over
`request_timeout_seconds`, and is then retried like any other read timeout.
"""

from __future__ import annotations

import threading
from collections import deque

FLOOR_SECONDS = 0.5
MARGIN = 4.0
MIN_SAMPLES = 32
WINDOW = 512
RECOMPUTE_EVERY = 16


class LatencyWindow:
    """Recent answer times of one endpoint, and the read deadline they suggest."""

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self._samples: deque[float] = deque(maxlen=WINDOW)
        self._deadline = ceiling
        self._since = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)
            self._since += 1
            if len(self._samples) >= MIN_SAMPLES and self._since >= RECOMPUTE_EVERY:
                self._since = 0
                ordered = sorted(self._samples)
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                self._deadline = min(self.ceiling, max(FLOOR_SECONDS, p99 * MARGIN))

    def deadline(self) -> float:
        """The read timeout for the next request (the ceiling until enough answers)."""
        return self._deadline
