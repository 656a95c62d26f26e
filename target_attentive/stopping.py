"""How a signal stops a run: the exception it unwinds the reading with, and where it may.

An exception raised by a signal handler lands wherever the thread happens to be: inside a
ledger transaction, or in a finalizer, where Python drops it. So the handler raises only
where the reading thread only waits (`interruptible`); elsewhere it sets the stop, and the
run's next check raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from target_attentive.reader import WaitFlag


class Stopped(BaseException):
    """A signal asked the run to stop; unwinds the reading like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def interruptible(waits: WaitFlag) -> Iterator[None]:
    """Mark the thread as only waiting while the block runs."""
    waits.now = True
    try:
        yield
    finally:
        waits.now = False
