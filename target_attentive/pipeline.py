"""The batches delivered in the background while the next one is read and planned.

Up to `WINDOW` batches are out at once; they are waited for oldest first, and a failed
one becomes the reading thread's at its next check.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from target_attentive.answers import StopRequested
from target_attentive.reader import WaitFlag
from target_attentive.sender import BATCHES_AT_ONCE as WINDOW
from target_attentive.stopping import interruptible


class Pipeline:
    """The batches out, oldest first: one queue that launching, making room, waiting and
    aborting share, and a flag that says when one of them ended."""

    def __init__(self, waits: WaitFlag) -> None:
        self._waits = waits  # set while waiting on a batch: a signal may interrupt there
        self._executor = ThreadPoolExecutor(WINDOW, thread_name_prefix="batch")
        self.in_flight: deque[Future] = deque()  # oldest first
        # Set by a batch as it ends: `raise_failed` looks at the batches only then, not per
        # record.
        self._ended = False

    def launch(self, deliver: Callable[..., None], *args: Any) -> None:
        future = self._executor.submit(deliver, *args)
        future.add_done_callback(self._batch_ended)
        self.in_flight.append(future)

    def _batch_ended(self, _future: Future) -> None:
        self._ended = True

    @property
    def full(self) -> bool:
        """Whether `WINDOW` batches are out: the next one waits for the oldest."""
        return len(self.in_flight) >= WINDOW

    def settle_oldest(self) -> None:
        """Wait for the oldest batch, interruptibly; its failure becomes the caller's."""
        with interruptible(self._waits):
            self._result(self.in_flight[0])
        self.in_flight.popleft()

    def raise_failed(self) -> None:
        """Raise the failure of a batch that ended, if one failed."""
        if self._ended:  # cleared first: a batch ending meanwhile sets it again
            self._ended = False
            for future in list(self.in_flight):
                if future.done() and future.exception() is not None:
                    self._ended = True  # every later check raises it too, as before
                    self._result(future)

    def _result(self, future: Future) -> None:
        """The batch's outcome; for a batch stopped by a stop request, what caused it.

        A batch's first failure stops the requests of every batch out (first_failure.py),
        and those batches end in `StopRequested`. The failure to report is the cause: the
        first other batch that failed otherwise (the batches out end soon once stopped).
        Without one, the stop came from a signal, which the run reports itself.
        """
        try:
            future.result()
        except StopRequested as stopped:
            for other in list(self.in_flight):
                if other is future or other.cancelled():
                    continue
                cause = other.exception()
                if cause is not None and not isinstance(cause, StopRequested):
                    raise cause from None
            raise stopped

    def drain(self, logger: logging.Logger) -> None:
        """Let every batch out finish; one that stopped is logged, its records unsettled."""
        while self.in_flight:
            future = self.in_flight.popleft()
            try:
                future.result()
            except BaseException as exc:  # the batch stopped too: its records stay unsettled
                logger.warning("A batch being delivered stopped: %s", exc)

    @property
    def busy(self) -> bool:
        """Whether a batch is still being delivered."""
        return any(not future.done() for future in self.in_flight)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
