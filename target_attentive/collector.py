"""The cyclic garbage collector, paused during a load and run on the load's own schedule.

A load allocates millions of small objects that form no cycles (records, payloads,
request bodies); reference counting frees them. Left to its thresholds, the cyclic
collector walks the batches held in memory again and again: in bulk mode, where one batch
is read while the one before it is sent, that was 1.6-2 s per 100,000 people, a tenth of
the CPU (bench part f). Paused, it still runs once every `every` records read, which
frees the few cycles a load does make, so memory stays bounded on any load size. One
cycle is worth knowing: an exception kept in a local and raised later holds, through its
traceback, every frame above it and the batch they hold (normalize.py avoids it).
"""

from __future__ import annotations

import gc
from types import TracebackType

COLLECT_EVERY_RECORDS = 10_000  # a full collection here took 4-11 ms: about 1%


class Collector:
    """`with collector:` around a load; `collector.tick()` once per record read (or
    `tick(n)` once per batch of n)."""

    def __init__(self, every: int = COLLECT_EVERY_RECORDS) -> None:
        self.every = every
        self.collections = 0
        self._was_enabled = False
        self._until_next = every
        self._frozen = False

    def __enter__(self) -> Collector:
        self._was_enabled = gc.isenabled()
        gc.disable()
        # What start-up built (modules, the SDK, SQLAlchemy) lives as long as the process:
        # frozen, the load's own collections skip it.
        gc.collect()
        gc.freeze()
        self._frozen = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._was_enabled:
            gc.enable()

    def tick(self, records: int = 1) -> None:
        """Collect once `every` records have been read (or sent) since the last collection."""
        self._until_next -= records
        if self._until_next <= 0:
            self._until_next = self.every
            self.collections += 1
            gc.collect()
