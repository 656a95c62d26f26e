"""What one run of the target shares across its sinks: outputs, counts and the report."""

from __future__ import annotations

import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from target_attentive.checkpoint import CheckpointKeeper, Hold
from target_attentive.collector import Collector
from target_attentive.consent import ConsentOrder, has_unsubscribe
from target_attentive.delivery import Delivery
from target_attentive.jobs import reconcile
from target_attentive.jsonl import LinesFile
from target_attentive.kind_delivery import KindDelivery
from target_attentive.kinds import KindMapping
from target_attentive.mapping import Mapping
from target_attentive.reader import WaitFlag
from target_attentive.rejects import RejectsFile
from target_attentive.report import Tally, render
from target_attentive.sender import BATCHES_AT_ONCE as WINDOW
from target_attentive.settings import Settings, compile_route

WriteState = Callable[[dict], None]


class Stopped(BaseException):
    """A signal asked the run to stop; unwinds the reading like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def open_ledger(settings: Settings) -> Any:
    """The ledger, read-only on a dry run (a dry run shows what would be sent)."""
    from target_attentive.ledger import Ledger

    return Ledger(settings.ledger_url, read_only=settings.dry_run)


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
        self._mappings: dict[str, Mapping | KindMapping | None] = {}
        self._finished = False
        self.stopping = False  # a signal or a failure: nothing new is sent
        self.signalled = 0  # the signal that stopped the run
        self.waits = WaitFlag()  # the reading thread is only waiting (see `interruptible`)
        self.collector = Collector()  # the cyclic GC, paused during the load (collector.py)
        self._pipeline = ThreadPoolExecutor(WINDOW, thread_name_prefix="batch")
        self._in_flight: deque[Future] = deque()  # oldest first
        # Set by a batch as it ends: `check` looks at the batches only then, not per record.
        self._ended = False
        self.ledger = open_ledger(settings) if settings.ledger_enabled else None
        self.delivery = Delivery(settings, self.tally, self.ledger, logger)
        # Opt-ins and opt-outs in input order, kept only when a stream may carry opt-outs.
        self.consent = ConsentOrder() if has_unsubscribe(settings) else None
        self.delivery.consent = self.consent
        self.kinds = KindDelivery(settings, self.tally, self.ledger, self.delivery, self.consent)
        if self.ledger is not None and self.subscriptions_enabled:
            self._warn_unsure_optins()

    def _warn_unsure_optins(self) -> None:
        """Opt-ins whose fate an earlier run did not learn: each status said for what it is.

        None of them is ever resent automatically.
        """
        optins = self.ledger.counts()["optins"]
        what = {
            "pending": "were claimed right before a request whose answer was never recorded "
            "(a run killed, or one going on now): they may or may not have been sent",
            "in_doubt": "were sent without a clear answer (a timeout, a 5xx, a failed bulk job): "
            "they may or may not have been applied",
            "submitted": "are in bulk jobs whose results were not read yet: "
            "`target-attentive-jobs` reads them (or set bulk_wait_seconds)",
        }
        for status, meaning in what.items():
            if optins.get(status):
                self.logger.warning(
                    "%d opt-ins %s. They are never resent automatically; list them with "
                    "`target-attentive-ledger optins --status %s`.",
                    optins[status],
                    meaning,
                    status,
                )

    def route(self, stream: str) -> Mapping | KindMapping | None:
        """The compiled mapping of a stream, of its kind; None when it is to be ignored."""
        if stream not in self._mappings:
            per_stream = self.settings.stream_mappings or {}
            if stream in per_stream:
                self._mappings[stream] = compile_route(per_stream[stream])
            elif self.settings.ignore_unmapped_streams:
                self._mappings[stream] = None
            else:
                self._mappings[stream] = compile_route(self.settings.mapping)
        return self._mappings[stream]

    def mapping_for(self, stream: str) -> Mapping | None:
        """The user upsert mapping of a stream; None when it is ignored or of another kind."""
        mapping = self.route(stream)
        return mapping if isinstance(mapping, Mapping) else None

    def is_kind_stream(self, stream: str) -> bool:
        """Whether a stream goes to a v1 endpoint (events, opt-outs) rather than users."""
        mapping = self.route(stream)
        return mapping is not None and not isinstance(mapping, Mapping)

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
        future = self._pipeline.submit(deliver, *args)
        future.add_done_callback(self._batch_ended)
        self._in_flight.append(future)

    def _batch_ended(self, _future: Future) -> None:
        self._ended = True

    def _make_room(self) -> None:
        """Wait until fewer than `WINDOW` batches are out; raise what stopped the run."""
        while len(self._in_flight) >= WINDOW:
            with self.interruptible():
                self._in_flight[0].result()  # the oldest; its failure becomes the caller's
            self._in_flight.popleft()
        self.check()

    def write(self, items: list[Any], stream: str, reject: Any, hold: Hold) -> None:
        """A dry run's batch: planned exactly like a run's, written to the dry-run file."""
        assert self.dry_run_file is not None
        for person in self.delivery.plan(items, stream, reject):
            for item in person.group.items:
                self.dry_run_file.write(
                    {"stream": stream, "position": item.position, "payload": person.payload}
                )
            self.tally.add("written", len(person.group.items))
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
        if self._ended:  # cleared first: a batch ending meanwhile sets it again
            self._ended = False
            for future in list(self._in_flight):
                if future.done() and future.exception() is not None:
                    self._ended = True  # every later check raises it too, as before
                    future.result()

    def wait(self) -> None:
        """Wait for the batches in the background, oldest first; a failure is the caller's."""
        while self._in_flight:
            try:
                with self.interruptible():
                    self._in_flight[0].result()
            except Exception:
                self.check()  # the batch stopped because of a signal: say so
                raise
            self._in_flight.popleft()
        self.check()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Where the reading thread only waits (for input, for a batch), a signal may raise
        `Stopped` at once; elsewhere it only sets the stop, and the next `check` raises.

        An exception raised by a signal handler lands wherever the thread happens to be:
        inside a ledger transaction, or in a finalizer, where Python drops it.
        """
        self.waits.now = True
        try:
            yield
        finally:
            self.waits.now = False

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
        while self._in_flight:
            future = self._in_flight.popleft()
            try:
                future.result()
            except BaseException as exc:  # the batch stopped too: its records stay unsettled
                self.logger.warning("A batch being delivered stopped: %s", exc)
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
        """With bulk_wait_seconds, reconcile every unreconciled bulk job in the ledger (this
        run's and earlier ones'). It runs after the last state line: nothing it meets
        fails the run; what it cannot settle is left for `target-attentive-jobs`."""
        wait_seconds = self.settings.bulk_wait_seconds
        if not wait_seconds or self.ledger is None or self.dry_run:
            return
        if not self.ledger.unreconciled_jobs():
            return
        self.logger.info("Reconciling bulk jobs, waiting up to %s s for them", wait_seconds)
        try:
            result = reconcile(
                self.ledger,
                self.delivery.api_client(),
                self.rejects,
                self.logger,
                wait_seconds=wait_seconds,
                stop=self.delivery.stop,
            )
        except Exception as exc:  # the state is written: report it, do not fail the run
            self.logger.warning(
                "Reconciling bulk jobs stopped (%s: %s); `target-attentive-jobs --config <file>` "
                "goes on from there",
                type(exc).__name__,
                exc,
            )
            return
        for name, count in result.counts().items():
            if count:
                self.tally.request(f"bulk_{name}", count)
        if result.jobs_pending or result.problems:
            self.logger.warning(
                "%d bulk jobs still running, %d left unreconciled; `target-attentive-jobs "
                "--config <file>` reconciles them later",
                result.jobs_pending,
                len(result.problems),
            )

    def finish(self) -> None:
        """Close the files and connections and print the run report (once)."""
        if self._finished:
            return
        self._finished = True
        if any(not future.done() for future in self._in_flight):
            self.abort()  # the run failed with a batch in flight: it stops, unsettled
        self._pipeline.shutdown(wait=True)
        self.delivery.close()
        if self.ledger is not None:
            self.ledger.close()
        self.rejects.close()
        if self.dry_run_file is not None:
            self.dry_run_file.close()
        summary = self.summary()
        self.logger.info("%s", render(summary, dry_run=self.dry_run))
        self.logger.info("METRIC: %s", json.dumps({"type": "summary", "value": summary}))
        if summary["unsettled"]:
            self.logger.warning(
                "%d records were not sent or not settled; a rerun from the last state line "
                "resumes with them (people Attentive accepted are skipped as unchanged).",
                summary["unsettled"],
            )
