"""The sending process: HTTP and ledger writes beside the process that reads records.

Reading, mapping and normalising records is CPU work under one GIL; so is sending
(requests' per-call work, encoding bodies, recording the accepted). In one process the
two took turns on the GIL and a bulk load ran at three quarters of the dry run's speed
(bench part f); in two processes each has its own core.

The reading process plans a batch (delivery.py) and hands it over as one frame
(frames.py, which describes them); the child (sender_child.py) sends it (sending.py) and
answers with who was accepted and who refused.

The settings (the API key among them) go in the first frame, never on a command line.
The parent handles SIGINT and SIGTERM and forwards a stop; the child ends when its stdin
closes, so a parent killed outright leaves no sender behind.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import orjson

from target_attentive.frames import read_frame, write_frame
from target_attentive.kind_outgoing import KindOutgoing, KindSent
from target_attentive.outgoing import Outgoing, Sent
from target_attentive.report import Tally
from target_attentive.settings import Settings

BATCHES_AT_ONCE = 2  # the parent's window (run.py): more would only queue in the child
# The child runs with the parent's module search path, whatever installed the package.
_BOOTSTRAP = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from target_attentive.sender_child import main; main()"
)


class SenderDied(RuntimeError):
    """The sending process ended while a batch was in its hands."""


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
        return self._submit({"stream": stream, "people": [p.to_wire() for p in people]})

    def submit_kinds(self, items: list[KindOutgoing], stream: str) -> int:
        """Hand over a batch of v1 bodies (events, opt-outs), in order with the rest."""
        v1 = [item.to_wire() for item in items]
        return self._submit({"stream": stream, "people": [], "v1": v1})

    def _submit(self, batch_frame: dict[str, Any]) -> int:
        batch = next(self._ids)
        with self._lock:
            if self._dead:
                raise SenderDied(self._died())
            self._answers[batch] = queue.Queue()
        try:
            self._write({"kind": "batch", "batch": batch, **batch_frame})
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
