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

SINGLE_PATH = "/v2/user/attributes"
BULK_PATH = "/v2/bulk/user/attributes"

Claim = tuple[str, str, str]  # (address or person key, channel, signUpSourceId)


@dataclass
class Outgoing:
    """One planned person: ledger key, payload hash, payload, opt-ins to claim."""

    key: str
    digest: str
    payload: dict
    claims: list[Claim] = field(default_factory=list)


@dataclass
class Refusal:
    """Attentive refused a person's payload (a 4xx about that body)."""

    index: int
    status: int
    message: str
    attempts: int


@dataclass
class Sent:
    """How a batch went: who was accepted, who refused, which bulk jobs it became."""

    accepted: list[int]
    refused: list[Refusal]
    job_ids: list[str]


def api_client(
    config: Any, tally: Tally, logger: logging.Logger, stop: threading.Event | Any
) -> AttentiveClient:
    """The HTTP client the settings describe (bulk mode's default rate is 100/s)."""
    bulk = (config.get("mode") or "single") == "bulk"
    return AttentiveClient(
        config.get("api_url"),
        config.get("api_key"),
        requests_per_second=config.get("max_requests_per_second") or (100 if bulk else 150),
        concurrency=max(1, int(config.get("max_concurrency") or 16)),
        timeout_seconds=config.get("request_timeout_seconds") or 30,
        max_retry_seconds=config.get("max_retry_seconds") or 600,
        tally=tally,
        logger=logger,
        stop=stop,
    )


class Sending:
    def __init__(
        self, config: Any, tally: Tally, ledger: Any | None, logger: logging.Logger
    ) -> None:
        self.tally = tally
        self.ledger = ledger
        self.mode = config.get("mode") or "single"
        self.bulk_size = int(config.get("bulk_batch_size") or 256)
        self.stop = threading.Event()
        self.client = api_client(config, tally, logger, self.stop)
        self._pool = ThreadPoolExecutor(
            max(1, int(config.get("max_concurrency") or 16)), thread_name_prefix="attentive"
        )

    def send(self, people: list[Outgoing], stream: str) -> Sent:
        """Send a batch; returns when every person is accepted or refused, else raises."""
        if not people:
            return Sent([], [], [])
        indexed = list(enumerate(people))
        if self.mode == "bulk":
            size = self.bulk_size
            work: Iterable[Any] = [indexed[i : i + size] for i in range(0, len(indexed), size)]
        else:
            work = [[pair] for pair in indexed]
        futures: list[Future] = [self._pool.submit(self._send_unit, unit) for unit in work]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error
        except BaseException:
            self.stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
            raise
        accepted: list[int] = []
        refused: list[Refusal] = []
        jobs: list[tuple[str, str, list[tuple[str, str]]]] = []
        for future in futures:
            unit, answer = future.result()
            if not answer.accepted:
                refused += [
                    Refusal(i, answer.status, answer.message, answer.attempts) for i, _ in unit
                ]
                continue
            accepted += [i for i, _ in unit]
            job_id = _job_id(answer) if self.mode == "bulk" else None
            if job_id:
                jobs.append((job_id, stream, [(p.key, p.digest) for _, p in unit]))
        if self.ledger is not None and accepted:
            self.ledger.record_jobs(jobs)
            self.ledger.record_accepted([(people[i].key, people[i].digest) for i in accepted])
        return Sent(accepted, refused, [job_id for job_id, _, _ in jobs])

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
        answer = self.client.post(path, body, fallback)
        self._settle_optins(people, answer)
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
