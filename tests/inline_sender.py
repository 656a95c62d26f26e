"""The sending code run in a thread of the target's own process, for in-process tests.

`sender.SenderProcess` hands each batch to a child process; starting one per run costs
about half a second, too much for hundreds of generated cases. This runs the same
`sending.Sending` in the calling thread, and sends each batch and its outcome through
their wire forms (`to_wire`, JSON, `from_wire`) as the process boundary would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from target_attentive.jsonl import dumps
from target_attentive.report import Tally
from target_attentive.sender import BATCHES_AT_ONCE
from target_attentive.sending import Outgoing, Sending, Sent
from target_attentive.settings import Settings


class InlineSender:
    """Same surface as `SenderProcess`: `submit` batches in order, `wait` for each, `close`."""

    def __init__(self, settings: Settings, logger: logging.Logger, tally: Tally) -> None:
        self._settings = settings
        self._tally = tally
        self._logger = logger
        self._sending: Sending | None = None
        self._ledger: Any = None
        self._lock = threading.Lock()
        self._futures: dict[int, Future] = {}
        self._pool = ThreadPoolExecutor(BATCHES_AT_ONCE, thread_name_prefix="inline-sender")

    def _start(self) -> Sending:
        with self._lock:
            return self._started()

    def _started(self) -> Sending:
        if self._sending is None:
            if self._settings.ledger_enabled:
                from target_attentive.ledger import Ledger

                self._ledger = Ledger(self._settings.ledger_url)
            self._sending = Sending(self._settings, self._tally, self._ledger, self._logger)
        return self._sending

    def submit(self, people: list[Outgoing], stream: str) -> int:
        sending = self._start()
        wire = orjson.loads(dumps([p.to_wire() for p in people]))
        batch_people = [Outgoing.from_wire(w) for w in wire]
        started = sending.start(batch_people, stream)  # in submission order, as the child does
        self._futures[started.batch] = self._pool.submit(sending.finish, started)
        return started.batch

    def wait(self, batch: int, stop: threading.Event, waiting: Callable[[], None]) -> Sent:
        future = self._futures.pop(batch)
        while not future.done():
            if stop.is_set():
                self._start().stop.set()
            waiting()
            threading.Event().wait(0.02)
        try:
            sent = future.result()
        except Exception as exc:
            sent = Sent(error=type(exc).__name__, message=str(exc))
        return Sent.from_wire(orjson.loads(dumps(sent.to_wire())))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._sending is not None:
            self._sending.close()
        if self._ledger is not None:
            self._ledger.close()
