"""The sending process's own side: read batches from the parent, send them, answer.

Started by `sender.SenderProcess` with the parent's module search path. It ignores SIGINT
and SIGTERM, which the parent handles (it forwards a stop as a frame), and stops when its
stdin closes, so a parent killed outright leaves no sender behind. An in-memory SQLite
ledger is not shared: this process opens its own.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from target_attentive import masking
from target_attentive.collector import Collector
from target_attentive.frames import read_frame, write_frame
from target_attentive.heap import keep_freed_memory
from target_attentive.kind_outgoing import KindOutgoing
from target_attentive.kind_sending import ConsentBarrier, KindSending, KindStarted
from target_attentive.report import Tally
from target_attentive.sender import BATCHES_AT_ONCE
from target_attentive.sending import Outgoing, Sending, Sent, Started
from target_attentive.settings import Settings

REPORT_EVERY_SECONDS = 0.5
LOG_FORMAT = "{asctime:23s} | {levelname:8s} | {name:20s} | {message}"


class _Outbox:
    """Frames to the parent from two threads; request counters go as deltas."""

    def __init__(self, stream: IO[bytes], tally: Tally) -> None:
        self.stream = stream
        self.tally = tally
        self._lock = threading.Lock()
        self._reported: dict[str, int] = {}

    def _deltas(self) -> dict[str, int]:
        now = self.tally.request_counts()
        deltas = {k: v - self._reported.get(k, 0) for k, v in now.items()}
        self._reported = now
        return {k: v for k, v in deltas.items() if v}

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            write_frame(self.stream, {**message, "counts": self._deltas()})

    def report(self) -> None:
        with self._lock:
            counts = self._deltas()
            if counts:
                write_frame(self.stream, {"kind": "requests", "counts": counts})


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    keep_freed_memory()  # as in the reading process (heap.py)
    inbound, outbound = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # the frame pipe is for frames only
    start = read_frame(inbound)
    if start is None:
        return
    settings = Settings.from_wire(start["settings"])
    logging.basicConfig(stream=sys.stderr, level=start["log_level"], format=LOG_FORMAT, style="{")
    masking.install((settings.api_key or "",))
    logger = logging.getLogger("target-attentive.sender")
    tally = Tally()
    ledger = None
    if settings.ledger_enabled:
        from target_attentive.ledger import Ledger

        ledger = Ledger(settings.ledger_url)
    sending = Sending(settings, tally, ledger, logger)
    kind_sending = KindSending(sending)
    consent = ConsentBarrier()  # opt-ins and opt-outs go out in the order handed over
    outbox = _Outbox(outbound, tally)
    batches: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read_inbound() -> None:
        try:
            while (frame := read_frame(inbound)) is not None:
                if frame["kind"] == "stop":
                    sending.stop.set()
                else:
                    batches.put(frame)
        except Exception:  # a frame it cannot read: end, so the parent is told, not left waiting
            logger.exception("The sending process could not read what it was given")
        finally:
            sending.stop.set()  # the parent is gone or done: nothing more goes out
            batches.put(None)

    threading.Thread(target=read_inbound, name="inbound", daemon=True).start()
    finished = threading.Event()

    def report_counts() -> None:
        with contextlib.suppress(BrokenPipeError):
            while not finished.wait(REPORT_EVERY_SECONDS):
                outbox.report()  # nothing is written while no request was made

    threading.Thread(target=report_counts, name="counts", daemon=True).start()

    def send_batch(frame: dict[str, Any], started: Started | KindStarted) -> None:
        try:
            if isinstance(started, KindStarted):
                sent: Sent = kind_sending.finish(started)
            else:
                sent = sending.finish(started)
        except Exception as exc:
            sent = Sent(error=type(exc).__name__, message=str(exc))
        with contextlib.suppress(BrokenPipeError):
            outbox.send({"kind": "sent", "batch": frame["batch"], **sent.to_wire()})

    # Batches of the parent's window are sent side by side: the requests of the next one
    # start while the last ones of the previous one are still out (sending.py keeps one
    # person's requests in order). Payloads make no cycles: the GC runs as often as in the
    # reading process. (Once a batch, it was a quarter of this process's CPU: 19 ms each.)
    workers = ThreadPoolExecutor(BATCHES_AT_ONCE, thread_name_prefix="batch")
    with Collector() as collector:
        try:
            while (frame := batches.get()) is not None:
                started: Started | KindStarted
                if "v1" in frame:
                    items = [KindOutgoing.from_wire(w) for w in frame["v1"]]
                    direction = "out" if any(item.optouts for item in items) else None
                    consent.before(direction)
                    started = kind_sending.start(items)
                    collector.tick(len(items))
                else:
                    people = [Outgoing.from_wire(wire) for wire in frame["people"]]
                    direction = "in" if any(p.claims for p in people) else None
                    consent.before(direction)
                    started = sending.start(people, frame["stream"])  # in the order they arrive
                    collector.tick(len(people))
                consent.started(direction, workers.submit(send_batch, frame, started))
        finally:
            workers.shutdown(wait=True)
            finished.set()
            sending.close()
            if ledger is not None:
                ledger.close()


if __name__ == "__main__":
    main()
