"""Waiting for a batch's requests until the first failure, shared by both sending paths.

People (sending.py) and v1 bodies (kind_sending.py) go out as futures on the sending
process's workers; a batch ends when they all ran, or at the first error: then nothing
new is sent, and what the requests already out got is still recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Protocol, TypeVar


class _Failable(Protocol):
    error: BaseException | None


R = TypeVar("R", bound=_Failable)


def until_failure(
    futures: Iterable[Future[R]], stop: threading.Event
) -> tuple[list[tuple[Future[R], R]], BaseException | None]:
    """Each future that ran, with its result, as they finish, and the first error.

    At the first result carrying an error, `stop` is set (nothing new is sent) and the
    futures not started yet are cancelled; those already out still finish.
    """
    pending = set(futures)
    finished: list[tuple[Future[R], R]] = []
    error: BaseException | None = None
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            if future.cancelled():
                continue
            result = future.result()
            finished.append((future, result))
            if result.error is not None and error is None:
                error = result.error
                stop.set()
                for other in pending:
                    other.cancel()
    return finished, error
