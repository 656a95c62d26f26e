"""Opt-ins and opt-outs of one run in input order: for one address and channel, the last wins.

An opt-in travels in a people stream and an opt-out in an unsubscribe stream; their sinks
are drained when they fill, not in the order their records were read. So each is noted
here with the place its record was read at, when its batch is planned: one that an
opposite choice read later has already overtaken is dropped (the later one is, or will
be, sent), whichever batch is planned first. Pure bookkeeping, in the reading process,
kept only by runs that have an unsubscribe stream.
"""

from __future__ import annotations

import threading

OPT_IN = "in"
OPT_OUT = "out"


class ConsentOrder:
    """The latest opt-in or opt-out planned so far per (address, channel) in this run."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], tuple[int, str]] = {}
        self._lock = threading.Lock()

    def stands(self, address: str, channel: str, read_at: int, choice: str) -> bool:
        """Note a choice read at `read_at`; False when an opposite one read later overtook it."""
        key = (address, channel)
        with self._lock:
            latest = self._latest.get(key)
            if latest is not None and latest[0] > read_at and latest[1] != choice:
                return False
            if latest is None or read_at >= latest[0]:
                self._latest[key] = (read_at, choice)
            return True
