"""The sending process: HTTP and ledger writes beside the process that reads records.

Reading, mapping and normalising records is CPU work under one GIL; so is sending
(requests' per-call work, encoding bodies, recording the accepted). In one process the
two took turns on the GIL and a bulk load ran at three quarters of the dry run's speed
(bench part f); in two processes each has its own core.

The reading process plans a batch (delivery.py) and hands it over as one frame; this
process sends it (sending.py) and answers with who was accepted and who refused. Frames
are a 4-byte length and a JSON object, over the child's stdin and stdout:

    parent -> child   {"kind": "start", "settings": Settings.to_wire(), "log_level": 20}
                      {"kind": "batch", "batch": 7, "stream": "s",
                       "people": [Outgoing.to_wire(), ...]}
                      {"kind": "batch", "batch": 8, "stream": "s", "people": [],
                       "v1": [KindOutgoing.to_wire(), ...]}   (events, opt-outs)
                      {"kind": "stop"}             (a signal in the parent: finish what is
                                                    in flight, send nothing more)
    child -> parent   {"kind": "requests", "counts": {...}}   (request counters, as they go)
                      {"kind": "sent", "batch": 7, **Sent.to_wire(), "counts": {...}}
                       (also when the batch failed: `error` names why, and the accepted
                       are still listed)

The settings (the API key among them) go in the first frame, never on a command line.
The child ignores SIGINT and SIGTERM, which the parent handles, and stops when its stdin
closes, so a parent killed outright leaves no sender behind. An in-memory SQLite ledger
is not shared: the child has its own.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import orjson

from target_attentive import masking
from target_attentive.collector import Collector
from target_attentive.jsonl import dumps
from target_attentive.kind_outgoing import KindOutgoing, KindSent
from target_attentive.kind_sending import ConsentBarrier, KindSending, KindStarted
from target_attentive.report import Tally
from target_attentive.sending import Outgoing, Sending, Sent, Started
from target_attentive.settings import Settings

_HEADER = struct.Struct(">I")
REPORT_EVERY_SECONDS = 0.5
BATCHES_AT_ONCE = 2  # the parent's window (run.py): more would only queue here
COLLECT_EVERY_BATCHES = 1
LOG_FORMAT = "{asctime:23s} | {levelname:8s} | {name:20s} | {message}"
# The child runs with the parent's module search path, whatever installed the package.
_BOOTSTRAP = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from target_attentive.sender import main; main()"
)


class SenderDied(RuntimeError):
    """The sending process ended while a batch was in its hands."""


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    data = dumps(message)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next frame, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return orjson.loads(data)


# -- the reading process's side -------------------------------------------------------------


class SenderProcess:
    """The parent's end of the sending process: batches go out, their outcomes come back.

    Several batches may be out at once (`run.py` keeps a window of them): each frame
    carries the batch's id, and a reader thread hands each answer to the batch waiting
    for it. Request counters arrive on their own and go straight to the tally.
    """

    def __init__(self, settings: Settings, logger: logging.Logger, tally: Tally) -> None:
        self.logger = logger
        self.tally = tally
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, orjson.dumps(sys.path).decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to_child = self._proc.stdin
        self._write_lock = threading.Lock()
        self._answers: dict[int, queue.Queue[dict[str, Any] | None]] = {}  # batch -> its answer
        self._ids = itertools.count(1)
        self._dead = False
        self._lock = threading.Lock()
        self._reader = threading.Thread(
            target=self._read, args=(self._proc.stdout,), name="sender-frames", daemon=True
        )
        self._reader.start()
        level = logger.getEffectiveLevel()
        self._write({"kind": "start", "settings": settings.to_wire(), "log_level": level})

    def _write(self, frame: dict[str, Any]) -> None:
        with self._write_lock:
            write_frame(self._to_child, frame)

    def _read(self, stream: IO[bytes]) -> None:
        while (frame := read_frame(stream)) is not None:
            for what, count in (frame.get("counts") or {}).items():
                self.tally.request(what, count)
            if frame["kind"] == "sent":
                with self._lock:
                    answer = self._answers.get(frame["batch"])
                if answer is not None:
                    answer.put(frame)
        with self._lock:
            self._dead = True
            for answer in self._answers.values():
                answer.put(None)

    def submit(self, people: list[Outgoing], stream: str) -> int:
        """Hand a batch over (batches reach the child in the order submitted); its id."""
        batch = next(self._ids)
        with self._lock:
            if self._dead:
                raise SenderDied(self._died())
            self._answers[batch] = queue.Queue()
        wire = [p.to_wire() for p in people]
        try:
            self._write({"kind": "batch", "batch": batch, "stream": stream, "people": wire})
        except (BrokenPipeError, ValueError) as exc:
            raise SenderDied(self._died()) from exc
        return batch

    def submit_kinds(self, items: list[KindOutgoing], stream: str) -> int:
        """Hand over a batch of v1 bodies (events, opt-outs), in order with the rest."""
        batch = next(self._ids)
        with self._lock:
            if self._dead:
                raise SenderDied(self._died())
            self._answers[batch] = queue.Queue()
        frame = {"kind": "batch", "batch": batch, "stream": stream, "people": []}
        frame["v1"] = [item.to_wire() for item in items]
        try:
            self._write(frame)
        except (BrokenPipeError, ValueError) as exc:
            raise SenderDied(self._died()) from exc
        return batch

    def wait(
        self,
        batch: int,
        stop: threading.Event,
        waiting: Callable[[], None],
        parse: Callable[[dict[str, Any]], Any] = Sent.from_wire,
    ) -> Any:
        """The outcome of a submitted batch (a `Sent`, or what `parse` makes of its
        frame); `waiting` runs while it is out."""
        with self._lock:
            answer = self._answers.get(batch)
        if answer is None:
            raise SenderDied(self._died())
        try:
            return parse(self._await(answer, stop, waiting))
        finally:
            with self._lock:
                self._answers.pop(batch, None)

    def wait_kinds(
        self, batch: int, stop: threading.Event, waiting: Callable[[], None]
    ) -> KindSent:
        return self.wait(batch, stop, waiting, KindSent.from_wire)

    def _await(
        self,
        answer: queue.Queue[dict[str, Any] | None],
        stop: threading.Event,
        waiting: Callable[[], None],
    ) -> dict[str, Any]:
        stop_forwarded = False
        while True:
            if stop.is_set() and not stop_forwarded:
                stop_forwarded = True
                self._tell_stop()
            waiting()
            try:
                frame = answer.get(timeout=0.25)
            except queue.Empty:
                continue
            if frame is None:
                raise SenderDied(self._died())
            return frame

    def _tell_stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._write({"kind": "stop"})

    def _died(self) -> str:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return (
            f"the sending process ended (exit code {code}) with a batch in its hands; "
            "no state was written past the last delivered batch: rerun to resume"
        )

    def close(self, timeout: float = 60) -> None:
        """Close its input; it finishes what it holds and exits."""
        with contextlib.suppress(BrokenPipeError), self._write_lock:
            self._to_child.close()
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.logger.warning("The sending process did not exit in %s s: killing it", timeout)
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


# -- the sending process --------------------------------------------------------------------


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
        while (frame := read_frame(inbound)) is not None:
            if frame["kind"] == "stop":
                sending.stop.set()
            else:
                batches.put(frame)
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
    # person's requests in order). Payloads make no cycles: the GC runs once a batch.
    workers = ThreadPoolExecutor(BATCHES_AT_ONCE, thread_name_prefix="batch")
    with Collector(every=COLLECT_EVERY_BATCHES) as collector:
        try:
            while (frame := batches.get()) is not None:
                started: Started | KindStarted
                if "v1" in frame:
                    items = [KindOutgoing.from_wire(w) for w in frame["v1"]]
                    direction = "out" if any(item.optouts for item in items) else None
                    consent.before(direction)
                    started = kind_sending.start(items)
                else:
                    people = [Outgoing.from_wire(wire) for wire in frame["people"]]
                    direction = "in" if any(p.claims for p in people) else None
                    consent.before(direction)
                    started = sending.start(people, frame["stream"])  # in the order they arrive
                consent.started(direction, workers.submit(send_batch, frame, started))
                collector.tick()
        finally:
            workers.shutdown(wait=True)
            finished.set()
            sending.close()
            if ledger is not None:
                ledger.close()


if __name__ == "__main__":
    main()
