"""Send planned people to Attentive: fan out, claim opt-ins, record what was accepted.

This runs in the sending process (sender.py), away from the process that reads records.
Single mode fans people out over `max_concurrency` workers; bulk mode sends up to
`bulk_batch_size` people a request, and a request Attentive refuses is sent again in
halves until the refused people are alone.

Opt-ins are claimed in the ledger right before the request that carries them, so a crash
can never lead to a second send, and each claim then follows what the answer says
(`retry.Outcome`): released when nothing was applied (refused, not sent, retries of "not
processed" answers run out, a 401/403/404), in doubt when something may have been (a
timeout, a 5xx), confirmed on a single 202, `submitted` with the job on a bulk 202 (the
job's results line settles it, see jobs.py).

A batch returns with everyone accepted or refused, or with an error: then only those
Attentive accepted before it are recorded, and the reading process writes no state past
the batch.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from target_attentive.client import Answer, AttentiveClient, FatalAPIError
from target_attentive.gate import PersonGate
from target_attentive.jsonl import dumps
from target_attentive.kinds.shapes import ENDPOINTS
from target_attentive.ledger.records import JobRecord
from target_attentive.outgoing import (
    Claim,
    Outgoing,
    Refusal,
    Sent,
    with_subscriptions,
    without_subscriptions,
)
from target_attentive.report import Tally
from target_attentive.retry import Outcome
from target_attentive.settings import Settings

SINGLE_PATH = "/v2/user/attributes"
BULK_PATH = "/v2/bulk/user/attributes"

T = TypeVar("T")


def api_client(
    settings: Settings, tally: Tally, logger: logging.Logger, stop: threading.Event | Any
) -> AttentiveClient:
    """The HTTP client the settings describe."""
    return AttentiveClient(
        settings.api_url,
        settings.api_key or "",
        requests_per_second=settings.requests_per_second,
        concurrency=settings.max_concurrency,
        timeout_seconds=settings.request_timeout_seconds,
        max_retry_seconds=settings.max_retry_seconds,
        tally=tally,
        logger=logger,
        stop=stop,
        rates={e.path: e.requests_per_second for e in ENDPOINTS.values()},
    )


@dataclass
class Leaf:
    """One request that got a final answer: the people it carried (with their index in
    the batch) and the answer."""

    unit: list[tuple[int, Outgoing]]
    answer: Answer


@dataclass
class UnitResult:
    """What became of one unit of work: its answered requests, and what stopped it."""

    leaves: list[Leaf]
    error: BaseException | None = None


@dataclass
class Started:
    """A batch whose requests are queued: what `Sending.finish` waits for and records."""

    batch: int
    people: list[Outgoing]
    stream: str
    futures: set[Future]


class MissingJobId(FatalAPIError):
    """A bulk request answered 202 without the id of the job it became."""


class Sending:
    """Sends the batches of the sending process: claims opt-ins, requests, records.

    A bulk request Attentive refuses (a 4xx about its body) is split in halves, and the
    halves again, until the people it refuses are alone: one bad person does not cost the
    other 255 their update. Its opt-in claims are kept while it is split: a refused request
    applied nothing.
    """

    def __init__(
        self, settings: Settings, tally: Tally, ledger: Any | None, logger: logging.Logger
    ) -> None:
        self.tally = tally
        self.ledger = ledger
        self.mode = settings.mode
        self.bulk = settings.mode == "bulk"
        self.bulk_size = settings.bulk_batch_size
        self.stop = threading.Event()
        self.gate = PersonGate()  # batches overlap: one person's requests stay in order
        self._batches = itertools.count(1)
        self.client = api_client(settings, tally, logger, self.stop)
        self._pool = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="attentive")

    def start(self, people: list[Outgoing], stream: str) -> Started:
        """Queue a batch's requests behind those of the batches before it.

        Called in the order batches arrive: the requests of one batch all queue before
        those of the next, so batches finish in order while overlapping at their ends,
        and one person's requests keep their batches' order (gate.py).
        """
        batch = next(self._batches)
        self.gate.register(batch, (p.key for p in people))
        indexed = list(enumerate(people))
        size = self.bulk_size if self.bulk else 1
        units = [indexed[i : i + size] for i in range(0, len(indexed), size)]
        futures = {self._pool.submit(self._send_unit, unit, batch) for unit in units}
        return Started(batch, people, stream, futures)

    def send(self, people: list[Outgoing], stream: str) -> Sent:
        """Send a batch and wait for it (`start`, then `finish`)."""
        return self.finish(self.start(people, stream))

    def finish(self, started: Started) -> Sent:
        """Returns when every person is answered, or when the batch failed.

        On the first failure (retries exhausted, a fatal answer, a stop) nothing new is
        sent; requests already out finish, and what they got is recorded and returned.
        """
        try:
            return self._collect(started)
        finally:  # the people of requests never sent too
            self.gate.release(started.batch, (p.key for p in started.people))

    def _collect(self, started: Started) -> Sent:
        finished, error = until_failure(started.futures, self.stop)
        sent = self._record([result for _, result in finished], started.stream)
        if error is not None:
            sent.error, sent.message = type(error).__name__, str(error)
        return sent

    def _record(self, results: list[UnitResult], stream: str) -> Sent:
        """Who was accepted and refused; the accepted (and bulk jobs) into the ledger."""
        sent = Sent()
        accepted: list[tuple[str, str]] = []
        owners: list[tuple[str, str]] = []
        records: list[JobRecord] = []
        submitted: list[Claim] = []
        for leaf in (leaf for result in results for leaf in result.leaves):
            answer = leaf.answer
            if not answer.accepted:
                sent.refused += [
                    Refusal(i, answer.status, answer.message, answer.attempts) for i, _ in leaf.unit
                ]
                continue
            sent.accepted += [i for i, _ in leaf.unit]
            accepted += [(p.key, p.digest) for _, p in leaf.unit]
            owners += [(i, p.key) for _, p in leaf.unit for i in p.identity_keys()]
            job_id = job_id_of(answer)
            if self.bulk and job_id:
                sent.job_ids.append(job_id)
            if self.bulk and job_id and self.ledger is not None:
                people = [p for _, p in leaf.unit]
                records.append(
                    JobRecord(
                        job_id,
                        stream,
                        [(p.key, p.digest) for p in people],
                        [[p.key, p.digest, p.payload, p.sources] for p in people],
                    )
                )
                if not answer.optins_in_doubt:
                    submitted += [c for p in people for c in p.claims]
        sent.accepted.sort()
        if self.ledger is not None and accepted:
            if self.bulk:
                self.ledger.record_bulk(records, accepted, submitted, owners)
            else:
                self.ledger.record_accepted(accepted, owners)
        if sent.job_ids:
            self.tally.request("bulk_jobs", len(sent.job_ids))
        if submitted:
            self.tally.request("optins_submitted", len(submitted))
        return sent

    def _send_unit(self, unit: list[tuple[int, Outgoing]], batch: int) -> UnitResult:
        """One person (single mode) or up to bulk_batch_size (bulk mode); never raises."""
        leaves: list[Leaf] = []
        keys = [p.key for _, p in unit]
        self.gate.wait_turn(batch, keys, self.stop)
        try:
            self._claim([p for _, p in unit])
            self._post_split(unit, leaves)
        except Exception as exc:
            return UnitResult(leaves, exc)
        finally:
            self.gate.release(batch, keys)
        return UnitResult(leaves)

    def _post_split(self, unit: list[tuple[int, Outgoing]], leaves: list[Leaf]) -> None:
        """Post the unit; a refused bulk request is sent again in halves."""

        def post(part: list[tuple[int, Outgoing]]) -> Answer:
            return self._post([p for _, p in part])

        def split(part: list[tuple[int, Outgoing]], answer: Answer) -> None:
            if answer.optins_in_doubt:  # an earlier attempt may have applied them
                self._doubt([p for _, p in part])
            self.tally.request("bulk_splits")

        def answered(part: list[tuple[int, Outgoing]], answer: Answer) -> None:
            people = [p for _, p in part]
            self._settle_optins(people, answer)
            if answer.accepted:
                self.tally.request("people_accepted", len(people))
            leaves.append(Leaf(part, answer))

        def abandoned(part: list[tuple[int, Outgoing]]) -> None:
            self._release([p for _, p in part])  # never sent

        post_in_halves(unit, post, answered, split=split, abandoned=abandoned)

    def _post(self, people: list[Outgoing]) -> Answer:
        """One request; when it ends without an answer, its opt-ins are settled first."""
        if self.bulk:
            path = BULK_PATH
            body = dumps({"users": [p.payload for p in people]})
            fallback = None
            if any(p.claims for p in people):
                fallback = dumps({"users": [without_subscriptions(p.payload) for p in people]})
        else:
            path = SINGLE_PATH
            person = people[0]
            body = dumps(person.payload)
            fallback = dumps(without_subscriptions(person.payload)) if person.claims else None
        try:
            return self.client.post(path, body, fallback)
        except BaseException as exc:
            self._unsettled_optins(people, exc)
            raise

    def _claim(self, people: list[Outgoing]) -> None:
        """Claim opt-ins right before sending; drop those another run claimed first."""
        wanted = [c for p in people for c in p.claims]
        if not wanted or self.ledger is None:
            return
        claimed = self.ledger.claim_optins(wanted)
        for person in people:
            if any(c not in claimed for c in person.claims):
                person.claims = [c for c in person.claims if c in claimed]
                person.payload = with_subscriptions(person.payload, person.claims)

    def _unsettled_optins(self, people: list[Outgoing], exc: BaseException) -> None:
        """The request ended without an answer: its opt-ins are released only when the
        client knows nothing was applied (not sent, or retries of answers that say "not
        processed" ran out), else they are in doubt (never resent)."""
        if getattr(exc, "maybe_applied", True):
            self._doubt(people)
        else:
            self._release(people)

    def _settle_optins(self, people: list[Outgoing], answer: Answer) -> None:
        """Opt-ins after a final answer: in doubt when an attempt may have applied them,
        confirmed on a single 202, left pending on a bulk 202 (they become `submitted`
        with the job), released on a refusal."""
        if self.bulk and answer.accepted and not job_id_of(answer):
            self._doubt(people)
            raise MissingJobId(
                f"Attentive answered {answer.status} to a bulk request without a batchJobId, "
                "so the job cannot be followed. No state was written past the last settled "
                "batch: a rerun sends its people again (their opt-ins are in doubt, never "
                "resent).",
                attempts=answer.attempts,
            )
        if answer.optins_in_doubt:
            self._doubt(people)
        elif answer.accepted:
            claims = [c for p in people for c in p.claims]
            if claims and not self.bulk:
                self.tally.request("optins_sent", len(claims))
                if self.ledger is not None:
                    self.ledger.confirm_optins(claims)
        else:
            self._release(people)

    def _doubt(self, people: list[Outgoing]) -> None:
        """Their opt-ins may have been applied: in doubt, and no longer carried."""
        claims = [c for p in people for c in p.claims]
        if not claims:
            return
        self.tally.request("optins_in_doubt", len(claims))
        if self.ledger is not None:
            self.ledger.doubt_optins(claims)
        for person in people:
            if person.claims:
                person.claims = []
                person.payload = without_subscriptions(person.payload)

    def _release(self, people: list[Outgoing]) -> None:
        """Their opt-ins were certainly not applied: a later run may send them."""
        claims = [c for p in people for c in p.claims]
        if not claims:
            return
        self.tally.request("optins_released", len(claims))
        if self.ledger is not None:
            self.ledger.release_optins(claims)
        for person in people:
            person.claims = []

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()


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


def post_in_halves(
    unit: list[T],
    post: Callable[[list[T]], Answer],
    answered: Callable[[list[T], Answer], None],
    *,
    split: Callable[[list[T], Answer], None] | None = None,
    abandoned: Callable[[list[T]], None] | None = None,
) -> None:
    """Post `unit`; when Attentive refuses it (a 4xx about the body) and it holds more than
    one person, post each half the same way, until the refused people are alone.

    `answered` gets every final answer with its part, `split` every refused part before
    it is halved; when a post raises, `abandoned` gets the parts never sent, then the
    exception goes on.
    """
    answer = post(unit)
    if answer.outcome is not Outcome.REFUSED or len(unit) < 2:
        answered(unit, answer)
        return
    if split is not None:
        split(unit, answer)
    half = (len(unit) + 1) // 2
    parts = [unit[:half], unit[half:]]
    for n, part in enumerate(parts):
        try:
            post_in_halves(part, post, answered, split=split, abandoned=abandoned)
        except BaseException:
            if abandoned is not None:
                for later in parts[n + 1 :]:
                    abandoned(later)
            raise


def job_id_of(answer: Answer) -> str | None:
    """The bulk job an accepted bulk request became."""
    if answer.accepted and isinstance(answer.body, dict) and answer.body.get("batchJobId"):
        return str(answer.body["batchJobId"])
    return None
