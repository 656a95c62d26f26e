"""What one run of the target shares across its sinks: outputs, counts and the report."""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from target_attentive import stopping
from target_attentive.checkpoint import CheckpointKeeper, Hold
from target_attentive.collector import Collector
from target_attentive.consent import ConsentOrder, has_unsubscribe
from target_attentive.delivery import Delivery
from target_attentive.heap import keep_freed_memory
from target_attentive.jsonl import LinesFile
from target_attentive.kind_delivery import KindDelivery
from target_attentive.kinds import KindMapping
from target_attentive.mapping import Mapping
from target_attentive.pipeline import WINDOW, Pipeline
from target_attentive.reader import WaitFlag
from target_attentive.rejects import RejectsFile
from target_attentive.report import Tally
from target_attentive.routes import Routes
from target_attentive.run_end import log_report, reconcile_jobs
from target_attentive.run_ledger import open_ledger, warn_unsure_optins
from target_attentive.settings import Settings
from target_attentive.stopping import Stopped

__all__ = ["WINDOW", "Run", "Stopped", "WriteState", "open_ledger"]

WriteState = Callable[[dict], None]


class Run:
    """What one run shares across its sinks: outputs, the pipeline, the keeper, the report.

    One batch is delivered in the background while the next one is read and planned; the
    checkpoint keeper writes a state line once the batches before it have settled.
    """

    def __init__(self, settings: Settings, logger: logging.Logger, write_state: WriteState) -> None:
        self.settings = settings
        self.logger = logger
        self.dry_run = settings.dry_run
        self.region = settings.default_phone_region
        self.subscriptions_enabled = settings.subscriptions_enabled
        self.tally = Tally()
        self.reached = 0  # records that reached a sink (the rest a stream map filtered)
        self.rejects = RejectsFile(settings.rejects_path, settings.max_rejects)
        self.dry_run_file = LinesFile(settings.dry_run_path, append=False) if self.dry_run else None
        self.keeper = CheckpointKeeper(write_state, self.make_durable)
        self._routes = Routes(settings)
        self._finished = False
        self.stopping = False  # a signal or a failure: nothing new is sent
        self.signalled = 0  # the signal that stopped the run
        self.waits = WaitFlag()  # the reading thread is only waiting (see `interruptible`)
        self.collector = Collector()  # the cyclic GC, paused during the load (collector.py)
        keep_freed_memory()  # freed batches stay in the C heap for the next (heap.py)
        self._pipeline = Pipeline(self.waits)
        self.ledger = open_ledger(settings) if settings.ledger_enabled else None
        self.delivery = Delivery(settings, self.tally, self.ledger, logger)
        # Opt-ins and opt-outs in input order, kept only when a stream may carry opt-outs.
        self.consent = ConsentOrder() if has_unsubscribe(settings) else None
        self.delivery.consent = self.consent
        self.kinds = KindDelivery(settings, self.tally, self.ledger, self.delivery, self.consent)
        if self.ledger is not None and self.subscriptions_enabled:
            warn_unsure_optins(self.ledger, logger)

    def route(self, stream: str) -> Mapping | KindMapping | None:
        """The compiled mapping of a stream, of its kind; None when it is to be ignored."""
        return self._routes.route(stream)

    def mapping_for(self, stream: str) -> Mapping | None:
        """The user upsert mapping of a stream; None when it is ignored or of another kind."""
        return self._routes.mapping_for(stream)

    def is_kind_stream(self, stream: str) -> bool:
        """Whether a stream goes to a v1 endpoint (events, opt-outs) rather than users."""
        return self._routes.is_kind_stream(stream)

    def send(self, items: list[Any], stream: str, reject: Any, hold: Hold) -> None:
        """Plan a batch here, then hand it to the sending process behind the ones out.

        Planning is CPU work: done in the background it would only compete with reading
        for the interpreter lock. Up to `WINDOW` batches are out at once, so the requests
        of the next batch start while the last ones of the previous batch are answered (a
        slow request holds its own slot, not the pipeline); they settle in order for state
        through the checkpoint keeper, and one person's requests stay in order (gate.py).
        """
        people = self.delivery.plan(items, stream, reject)
        self._make_room()
        batch = self.delivery.submit(people, stream)  # here: batches leave in read order
        self._launch(self._deliver, batch, people, stream, reject, hold)

    def send_kinds(self, built: list[Any], stream: str, reject: Any, hold: Hold) -> None:
        """A batch of events or opt-outs (kind_sink.py), the same way as `send`."""
        planned = self.kinds.plan(built)
        if self.dry_run:
            assert self.dry_run_file is not None
            self.kinds.write(planned, stream, self.dry_run_file)
            self.keeper.settle(hold)
            return
        self._make_room()
        batch = self.kinds.submit(planned, stream)
        self._launch(self._deliver_kinds, batch, planned, reject, hold)

    def _launch(self, deliver: Callable[..., None], *args: Any) -> None:
        self._pipeline.launch(deliver, *args)

    @property
    def _in_flight(self) -> deque[Future]:
        """The batches out, oldest first."""
        return self._pipeline.in_flight

    def _make_room(self) -> None:
        """Wait until fewer than `WINDOW` batches are out; raise what stopped the run."""
        while self._pipeline.full:
            self._pipeline.settle_oldest()  # the oldest; its failure becomes the caller's
        self.check()

    def write(self, items: list[Any], stream: str, reject: Any, hold: Hold) -> None:
        """A dry run's batch: planned exactly like a run's, written to the dry-run file."""
        assert self.dry_run_file is not None
        lines = [
            {"stream": stream, "position": item.position, "payload": person.payload}
            for person in self.delivery.plan(items, stream, reject)
            for item in person.group.items
        ]
        if lines:
            self.dry_run_file.write_many(lines)
            self.tally.add("written", len(lines))
        self.keeper.settle(hold)

    def _deliver(
        self, batch: int | None, people: list[Any], stream: str, reject: Any, hold: Hold
    ) -> None:
        self.delivery.settle(batch, people, stream, reject)
        self.keeper.settle(hold)  # in this thread: the state line goes out at once

    def _deliver_kinds(
        self, batch: int | None, planned: list[Any], reject: Any, hold: Hold
    ) -> None:
        self.kinds.settle(batch, planned, reject)
        self.keeper.settle(hold)

    def check(self) -> None:
        """Raise here what stopped the run: a signal, or a failed batch in the background."""
        if self.signalled:
            raise Stopped(self.signalled)
        self._pipeline.raise_failed()

    def wait(self) -> None:
        """Wait for the batches in the background, oldest first; a failure is the caller's."""
        while self._in_flight:
            try:
                self._pipeline.settle_oldest()
            except Exception:
                self.check()  # the batch stopped because of a signal: say so
                raise
        self.check()

    def interruptible(self) -> contextlib.AbstractContextManager[None]:
        """Where the reading thread only waits (for input, for a batch), a signal may raise
        `Stopped` at once; elsewhere it only sets the stop, and the next `check` raises.

        An exception raised by a signal handler lands wherever the thread happens to be:
        inside a ledger transaction, or in a finalizer, where Python drops it.
        """
        return stopping.interruptible(self.waits)

    @property
    def waiting(self) -> bool:
        return self.waits.now

    def stop(self, signum: int = 0) -> None:
        """Send nothing new: requests already out finish, their batch then fails.

        After a signal, every later `check` raises `Stopped` (the handler itself raises it
        only where the reading thread waits: `interruptible`).
        """
        self.stopping = True
        self.signalled = self.signalled or signum
        self.delivery.stop.set()

    def abort(self) -> None:
        """After a signal or a failure: stop, let what is out finish, write what settled."""
        self.stop()
        self._pipeline.drain(self.logger)
        self.keeper.flush()

    @property
    def finished(self) -> bool:
        return self._finished

    def make_durable(self) -> None:
        self.rejects.make_durable()
        if self.dry_run_file is not None:
            self.dry_run_file.make_durable()

    def summary(self) -> dict[str, Any]:
        return self.tally.as_dict(self.rejects.path, self.rejects.reasons)

    def reconcile_jobs(self) -> None:
        """With bulk_wait_seconds, reconcile the ledger's bulk jobs (run_end.py)."""
        reconcile_jobs(
            self.settings, self.ledger, self.delivery, self.rejects, self.tally, self.logger
        )

    def finish(self) -> None:
        """Close the files and connections and print the run report (once)."""
        if self._finished:
            return
        self._finished = True
        if self._pipeline.busy:
            self.abort()  # the run failed with a batch in flight: it stops, unsettled
        self._pipeline.shutdown()
        self.delivery.close()
        if self.ledger is not None:
            self.ledger.close()
        self.rejects.close()
        if self.dry_run_file is not None:
            self.dry_run_file.close()
        log_report(self.summary(), self.dry_run, self.logger)
