"""One person's requests go out in the order of their batches.

Batches overlap in the sending process (the requests of the next one start while the last
ones of the previous one are still out), so a person in two consecutive batches could have
two requests in flight, and Attentive may apply them in either order: the older data
would win. Each batch registers its people's keys when it arrives, in arrival order; a
request for a person waits until every earlier batch is done with that person. Within a
batch a person is one request (delivery.py merges their records), so nothing waits there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable


class PersonGate:
    """Per-person queues of batch numbers; a request may go when its batch is at the front."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[int]] = {}
        self._changed = threading.Condition()

    def register(self, batch: int, keys: Iterable[str]) -> None:
        """A batch arrived: its people queue behind earlier batches' requests for them."""
        with self._changed:
            for key in keys:
                self._queues.setdefault(key, deque()).append(batch)

    def wait_turn(self, batch: int, keys: list[str], stop: threading.Event) -> None:
        """Wait until no earlier batch has a request for these people (or a stop)."""
        with self._changed:
            while not stop.is_set() and not all(
                self._queues.get(key, (batch,))[0] == batch for key in keys
            ):
                self._changed.wait(0.25)

    def release(self, batch: int, keys: Iterable[str]) -> None:
        """This batch is done with these people (answered, refused, or never sent)."""
        with self._changed:
            for key in keys:
                queue = self._queues.get(key)
                if queue is None:
                    continue
                try:
                    queue.remove(batch)
                except ValueError:
                    continue
                if not queue:
                    del self._queues[key]
            self._changed.notify_all()

    def waiting(self) -> int:
        """People with a request queued or out (for tests)."""
        with self._changed:
            return len(self._queues)
