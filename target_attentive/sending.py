"""Send planned people to Attentive: fan out, claim opt-ins, record what was accepted.

This runs in the sending process (sender.py), away from the process that reads records.
Single mode fans people out over `max_concurrency` workers; bulk mode sends up to
`bulk_batch_size` people a request. Opt-ins are claimed in the ledger right before the
request that carries them, so a crash can never lead to a second send. A batch either
returns, every person accepted or refused, or raises: then nothing of it is recorded as
accepted, and the reading process writes no state past it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from target_attentive.client import Answer, AttentiveClient
from target_attentive.jsonl import dumps
from target_attentive.report import Tally
from target_attentive.settings import Settings

SINGLE_PATH = "/v2/user/attributes"
BULK_PATH = "/v2/bulk/user/attributes"

Claim = tuple[str, str, str]  # (address or person key, channel, signUpSourceId)


@dataclass
class Outgoing:
    """One planned person, as it crosses to the sending process."""

    key: str  # the person's ledger key
    digest: str  # the payload's hash, recorded when accepted
    payload: dict
    claims: list[Claim] = field(default_factory=list)  # opt-ins to claim before sending

    def to_wire(self) -> list[Any]:
        return [self.key, self.digest, self.payload, [list(c) for c in self.claims]]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Outgoing:
        key, digest, payload, claims = wire
        return cls(key, digest, payload, [(c[0], c[1], c[2]) for c in claims])


@dataclass
class Refusal:
    """Attentive refused a person's payload (a 4xx about that body)."""

    index: int
    status: int
    message: str
    attempts: int

    def to_wire(self) -> list[Any]:
        return [self.index, self.status, self.message, self.attempts]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Refusal:
        return cls(*wire)


@dataclass
class Sent:
    """How a batch went: who was accepted, who refused, which bulk jobs it became.

    When the batch could not finish (`error` set: retries ran out, a fatal answer, a
    stop), `accepted` and `refused` still list everyone Attentive answered before that,
    and the accepted are in the ledger: a failed run forgets no delivery.
    """

    accepted: list[int] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    error: str | None = None  # the exception's class name
    message: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "refused": [r.to_wire() for r in self.refused],
            "job_ids": self.job_ids,
            "error": self.error,
            "message": self.message,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Sent:
        return cls(
            wire["accepted"],
            [Refusal.from_wire(r) for r in wire["refused"]],
            wire["job_ids"],
            wire.get("error"),
            wire.get("message", ""),
        )


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
    )


class Sending:
    def __init__(
        self, settings: Settings, tally: Tally, ledger: Any | None, logger: logging.Logger
    ) -> None:
        self.tally = tally
        self.ledger = ledger
        self.mode = settings.mode
        self.bulk_size = settings.bulk_batch_size
        self.stop = threading.Event()
        self.client = api_client(settings, tally, logger, self.stop)
        self._pool = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="attentive")

    def send(self, people: list[Outgoing], stream: str) -> Sent:
        """Send a batch; returns when every person is answered, or when the batch failed.

        On the first failure (retries exhausted, a fatal answer, a stop) nothing new is
        sent; requests already out finish, and what they got is recorded and returned.
        """
        if not people:
            return Sent()
        indexed = list(enumerate(people))
        if self.mode == "bulk":
            size = self.bulk_size
            work: Iterable[Any] = [indexed[i : i + size] for i in range(0, len(indexed), size)]
        else:
            work = [[pair] for pair in indexed]
        futures: list[Future] = [self._pool.submit(self._send_unit, unit) for unit in work]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        error = next((f.exception() for f in done if f.exception() is not None), None)
        if error is not None:
            self.stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
        sent = Sent()
        jobs: list[tuple[str, str, list[tuple[str, str]]]] = []
        for future in futures:
            if future.cancelled() or future.exception() is not None:
                continue
            unit, answer = future.result()
            if not answer.accepted:
                sent.refused += [
                    Refusal(i, answer.status, answer.message, answer.attempts) for i, _ in unit
                ]
                continue
            sent.accepted += [i for i, _ in unit]
            job_id = _job_id(answer) if self.mode == "bulk" else None
            if job_id:
                jobs.append((job_id, stream, [(p.key, p.digest) for _, p in unit]))
        if self.ledger is not None and sent.accepted:
            self.ledger.record_jobs(jobs)
            self.ledger.record_accepted([(people[i].key, people[i].digest) for i in sent.accepted])
        sent.job_ids = [job_id for job_id, _, _ in jobs]
        if error is not None:
            sent.error, sent.message = type(error).__name__, str(error)
        return sent

    def _send_unit(self, unit: list[tuple[int, Outgoing]]) -> tuple[list, Answer]:
        """One request: one person (single mode) or up to bulk_batch_size (bulk mode)."""
        people = [p for _, p in unit]
        self._claim(people)
        if self.mode == "bulk":
            path = BULK_PATH
            body = dumps({"users": [p.payload for p in people]})
            fallback = None
            if any(p.claims for p in people):
                fallback = dumps({"users": [_without_subscriptions(p.payload) for p in people]})
        else:
            path = SINGLE_PATH
            person = people[0]
            body = dumps(person.payload)
            fallback = dumps(_without_subscriptions(person.payload)) if person.claims else None
        try:
            answer = self.client.post(path, body, fallback)
        except BaseException as exc:
            self._unsettled_optins(people, exc)
            raise
        self._settle_optins(people, answer)
        if answer.accepted:
            self.tally.request("people_accepted", len(people))
        return unit, answer

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
        client knows nothing was applied, else they are in doubt (never resent)."""
        claims = [c for p in people for c in p.claims]
        if not claims or self.ledger is None:
            return
        if getattr(exc, "maybe_applied", True):
            self.tally.request("optins_in_doubt", len(claims))
            self.ledger.doubt_optins(claims)
        else:
            self.ledger.release_optins(claims)

    def _settle_optins(self, people: list[Outgoing], answer: Answer) -> None:
        claims = [c for p in people for c in p.claims]
        if not claims:
            return
        if answer.optins_in_doubt:
            self.tally.request("optins_in_doubt", len(claims))
            if self.ledger is not None:
                self.ledger.doubt_optins(claims)
        elif answer.accepted:
            self.tally.request("optins_sent", len(claims))
            if self.ledger is not None:
                self.ledger.confirm_optins(claims)
        elif self.ledger is not None:
            self.ledger.release_optins(claims)

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()


def _job_id(answer: Answer) -> str | None:
    """The bulk job an accepted bulk request became."""
    if answer.accepted and isinstance(answer.body, dict) and answer.body.get("batchJobId"):
        return str(answer.body["batchJobId"])
    return None


def _without_subscriptions(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "subscriptions"}


def with_subscriptions(payload: dict, claims: list[Claim]) -> dict:
    """The payload carrying only the opt-ins in `claims`."""
    wanted = {(c[1], c[2]) for c in claims}
    subs = [
        s for s in payload.get("subscriptions", ()) if (s["channel"], s["signUpSourceId"]) in wanted
    ]
    trimmed = _without_subscriptions(payload)
    if subs:
        trimmed["subscriptions"] = subs
    return trimmed
