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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from target_attentive.batch_record import Leaf, UnitResult, record
from target_attentive.bulk import BULK_PATH, job_id_of, post_in_halves
from target_attentive.client import Answer, AttentiveClient, FatalAPIError
from target_attentive.first_failure import until_failure
from target_attentive.gate import PersonGate
from target_attentive.jsonl import dumps
from target_attentive.keys import payload_hash
from target_attentive.kinds.shapes import ENDPOINTS
from target_attentive.optin_claims import OptinClaims
from target_attentive.outgoing import (
    Claim,
    Outgoing,
    Sent,
    with_subscriptions,
    without_subscriptions,
)
from target_attentive.report import Tally
from target_attentive.settings import Settings

# Names other modules import from here, some of them now defined elsewhere.
__all__ = [
    "BULK_PATH",
    "SINGLE_PATH",
    "Claim",
    "MissingJobId",
    "Outgoing",
    "Sending",
    "Sent",
    "Started",
    "api_client",
    "job_id_of",
    "post_in_halves",
    "until_failure",
    "with_subscriptions",
]

SINGLE_PATH = "/v2/user/attributes"


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
        self.claims = OptinClaims(ledger, tally, bulk=self.bulk)
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
        for person in people:
            if not person.digest:  # the plan digests only the people it compared
                person.digest = payload_hash(person.payload)
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
        results = [result for _, result in finished]
        sent = record(results, started.stream, bulk=self.bulk, ledger=self.ledger, tally=self.tally)
        if error is not None:
            sent.error, sent.message = type(error).__name__, str(error)
        return sent

    def _send_unit(self, unit: list[tuple[int, Outgoing]], batch: int) -> UnitResult:
        """One person (single mode) or up to bulk_batch_size (bulk mode); never raises."""
        leaves: list[Leaf] = []
        keys = [p.key for _, p in unit]
        self.gate.wait_turn(batch, keys, self.stop)
        try:
            self.claims.claim([p for _, p in unit])
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
                self.claims.doubt([p for _, p in part])
            self.tally.request("bulk_splits")

        def answered(part: list[tuple[int, Outgoing]], answer: Answer) -> None:
            people = [p for _, p in part]
            self._settle_optins(people, answer)
            if answer.accepted:
                self.tally.request("people_accepted", len(people))
            leaves.append(Leaf(part, answer))

        def abandoned(part: list[tuple[int, Outgoing]]) -> None:
            self.claims.release([p for _, p in part])  # never sent

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
            self.claims.unsettled(people, exc)
            raise

    def _settle_optins(self, people: list[Outgoing], answer: Answer) -> None:
        """Opt-ins after a final answer (`OptinClaims.settle`); a bulk 202 without a job
        id puts them in doubt and fails the batch: the job could never settle them."""
        if self.bulk and answer.accepted and not job_id_of(answer):
            self.claims.doubt(people)
            raise MissingJobId(
                f"Attentive answered {answer.status} to a bulk request without a batchJobId, "
                "so the job cannot be followed. No state was written past the last settled "
                "batch: a rerun sends its people again (their opt-ins are in doubt, never "
                "resent).",
                attempts=answer.attempts,
            )
        self.claims.settle(people, answer)

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()
