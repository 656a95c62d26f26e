"""The checkpoint keeper: promise 2 of the design, in one object.

A STATE line goes to stdout only when every record read before that STATE message has
settled: accepted, unchanged, filtered, or durably in the rejects file. Records are
numbered as they are read (their position). A record that waits for delivery is held by
a `Hold`, one per batch, opened when the batch takes its first record and settled when
the whole batch is delivered, wherever the batch is by then: filling in a sink, in a sink
the SDK set aside after a schema change, drained by the SDK's own triggers, or in the
sending process. A record settled at once (filtered, rejected while reading) holds
nothing. A state received at position p may be written once no open hold starts at or
before p; the keeper then writes the newest such state, after making the rejects durable.

Everything that writes a state line goes through `flush`; the keeper never writes a state
twice in a row, nor an older one after a newer.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Hold:
    """The records of one batch that are not settled yet; `first` is the lowest position."""

    __slots__ = ("first", "settled")

    def __init__(self, first: int) -> None:
        self.first = first
        self.settled = False

    def __repr__(self) -> str:
        return f"Hold(first={self.first}, settled={self.settled})"


class CheckpointKeeper:
    """Receives every STATE with its position and writes it once everything before it settled.

    Thread-safe: batches settle in the delivery thread while records are read in the main
    one. `write` prints one state line; `make_durable` flushes and fsyncs the rejects (and
    dry-run) files, so no state covers a reject that a crash could lose.
    """

    def __init__(self, write: Callable[[dict], None], make_durable: Callable[[], None]) -> None:
        self._write = write
        self._make_durable = make_durable
        self._lock = threading.RLock()
        self._read = 0
        self._open: set[Hold] = set()
        self._states: deque[tuple[int, dict]] = deque()
        self.written: dict | None = None

    @property
    def position(self) -> int:
        """How many records have been read."""
        return self._read

    def record_read(self) -> int:
        """Count one record read; returns its position (1-based).

        No lock: only the reading thread counts, and it also holds and offers states;
        other threads only read the count, an atomic int under the GIL.
        """
        self._read += 1
        return self._read

    def hold(self) -> Hold:
        """Hold the record just read (and the later ones of its batch) until `settle`."""
        with self._lock:
            hold = Hold(self._read)
            self._open.add(hold)
            return hold

    def settle(self, hold: Hold) -> None:
        """Every record of `hold` settled; write the states this frees."""
        with self._lock:
            hold.settled = True
            self._open.discard(hold)
            self.flush()

    def state(self, value: Any) -> None:
        """A STATE message, at the current position; written as soon as it is covered."""
        with self._lock:
            if self._states and self._states[-1][1] == value:
                return
            self._states.append((self._read, copy.deepcopy(value)))
            self.flush()

    def flush(self) -> None:
        """Write the newest state whose records have all settled, if it is new."""
        with self._lock:
            low = min((h.first for h in self._open), default=self._read + 1)
            covered = 0
            while covered < len(self._states) and self._states[covered][0] < low:
                covered += 1
            if not covered:
                return
            newest = self._states[covered - 1][1]
            if newest != self.written:
                # Nothing is dropped before the line is out: a signal arriving in the
                # middle (it raises in this thread) leaves the state to a later flush.
                self._make_durable()
                self._write(newest)
                self.written = newest
            for _ in range(covered):
                self._states.popleft()
