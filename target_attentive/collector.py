"""The cyclic garbage collector, paused during a load and run on the load's own schedule.

A load allocates millions of small objects that form no cycles (records, payloads,
request bodies); reference counting frees them. Left to its thresholds, the cyclic
collector walks the batches held in memory again and again: in bulk mode, where one batch
is read while the one before it is sent, that was 1.6-2 s per 100,000 people, a tenth of
the CPU (bench part f). Paused, it still runs once every `every` records read, which
frees the few cycles a load does make, so memory stays bounded on any load size. One
cycle is worth knowing: an exception kept in a local and raised later holds, through its
traceback, every frame above it and the batch they hold (normalize.py avoids it).

A collection walks everything alive, and in bulk mode that is the batches out: 10-27 ms a
collection in each process, 0.4 s of CPU per 100,000 people, for collections that found
nothing. So a collection that finds nothing doubles the wait before the next one, up to
`MOST_RECORDS`; one that finds garbage brings it back to `every`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import TracebackType

COLLECT_EVERY_RECORDS = 10_000  # a full collection here took 4-11 ms: about 1%
MOST_RECORDS = 160_000  # the longest wait, after collections that found nothing


class Collector:
    """`with collector:` around a load; `collector.tick()` once per record read (or
    `tick(n)` once per batch of n)."""

    def __init__(
        self,
        every: int = COLLECT_EVERY_RECORDS,
        most: int = MOST_RECORDS,
        collect: Callable[[], int] = gc.collect,
    ) -> None:
        self.every = every
        self.most = max(most, every)
        self.collections = 0
        self.wait = every  # records between two collections, for now
        self._collect = collect  # gc.collect: how many unreachable objects it found
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
        """Collect once `wait` records have been read (or sent) since the last collection."""
        self._until_next -= records
        if self._until_next <= 0:
            self.collections += 1
            found = self._collect()
            self.wait = self.every if found else min(self.wait * 2, self.most)
            self._until_next = self.wait
