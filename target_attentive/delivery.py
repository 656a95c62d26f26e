"""Deliver one batch: plan against the ledger, send concurrently, settle every record.

`plan` then `send` return only when every record of the batch is accepted, unchanged or
rejected (durably written to the rejects file); anything else raises, so the SDK writes
no state past it. The steps:

1. coalesce: records of one person become one payload (see coalesce.py);
2. plan, with the ledger: custom attribute types checked and claimed, opt-ins already
   delivered dropped, people whose payload was accepted before counted unchanged;
3. send: single mode fans people out over `max_concurrency` workers, bulk mode sends
   up to `bulk_batch_size` people a request; opt-ins are claimed in the ledger right
   before the request that carries them, so a crash can never lead to a second send;
4. settle: accepted people go to the ledger, refused ones to the rejects file.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from target_attentive.client import Answer, AttentiveClient
from target_attentive.coalesce import Group, coalesce
from target_attentive.custom_types import accepts, infer_type
from target_attentive.jsonl import dumps
from target_attentive.keys import optin_key, payload_hash, person_key
from target_attentive.mapping import MAX_CUSTOM_ATTRIBUTES
from target_attentive.problems import Problem
from target_attentive.report import Tally

SINGLE_PATH = "/v2/user/attributes"
BULK_PATH = "/v2/bulk/user/attributes"
PROGRESS_EVERY_SECONDS = 5.0

Claim = tuple[str, str, str]  # (address or person key, channel, signUpSourceId)
Reject = Callable[..., None]


@dataclass
class Person:
    """A coalesced group with what the plan decided for it."""

    group: Group
    key: str
    digest: str
    payload: dict
    claims: list[Claim] = field(default_factory=list)


class Delivery:
    def __init__(
        self,
        config: Any,
        tally: Tally,
        ledger: Any | None,
        logger: logging.Logger,
        *,
        client: AttentiveClient | None = None,
    ) -> None:
        self.tally = tally
        self.ledger = ledger
        self.logger = logger
        self.dry_run = bool(config.get("dry_run"))
        self.mode = config.get("mode") or "single"
        self.bulk_size = int(config.get("bulk_batch_size") or 256)
        self.skip_unchanged = config.get("skip_unchanged", True)
        self.concurrency = max(1, int(config.get("max_concurrency") or 16))
        self.configured_types: dict[str, str] = dict(config.get("custom_attribute_types") or {})
        self.enums = {
            k: frozenset(v) for k, v in (config.get("custom_attribute_enums") or {}).items()
        }
        self.configured_types.update({name: "enum" for name in self.enums})
        self.stop = threading.Event()
        self.client = client
        if client is None and not self.dry_run:
            default_rate = 100 if self.mode == "bulk" else 150
            self.client = AttentiveClient(
                config.get("api_url"),
                config.get("api_key"),
                requests_per_second=config.get("max_requests_per_second") or default_rate,
                concurrency=self.concurrency,
                timeout_seconds=config.get("request_timeout_seconds") or 30,
                max_retry_seconds=config.get("max_retry_seconds") or 600,
                tally=tally,
                logger=logger,
                stop=self.stop,
            )
        self.job_ids: set[str] = set()  # bulk jobs this run submitted
        self._pool: ThreadPoolExecutor | None = None
        self._types: dict[str, str] | None = None
        self._last_progress = time.monotonic()

    # 2. plan ---------------------------------------------------------------------------

    def plan(self, items: list[Any], stream: str, reject: Reject) -> list[Person]:
        """The people of a batch that need sending; the rest settled here."""
        # Planning allocates tens of thousands of small, acyclic objects at once, which
        # made the cyclic collector run over the whole batch again and again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._plan(items, stream, reject)
        finally:
            if enabled:
                gc.enable()

    def _plan(self, items: list[Any], stream: str, reject: Reject) -> list[Person]:
        groups = [Group([i], i.payload) for i in items] if self.dry_run else coalesce(items)
        people = [
            Person(g, person_key(g.payload["identifiers"]), payload_hash(g.payload), g.payload)
            for g in groups
        ]
        people = self._check_custom_types(people, reject)
        ledger = self.ledger
        keys = [p.key for p in people]
        last = ledger.last_hashes(keys) if ledger is not None and self.skip_unchanged else {}
        wanted: list[Claim] = []
        for person in people:
            for sub in person.payload.get("subscriptions", ()):
                claim = (
                    optin_key(person.payload, sub["channel"]),
                    sub["channel"],
                    sub["signUpSourceId"],
                )
                person.claims.append(claim)
                wanted.append(claim)
        known = ledger.known_optins(sorted({c[0] for c in wanted})) if ledger and wanted else set()
        to_send = []
        for person in people:
            if person.claims:
                person.claims = [c for c in person.claims if c not in known]
                person.payload = _with_subscriptions(person.payload, person.claims)
            if not person.claims and last.get(person.key) == person.digest:
                self.tally.add("unchanged", len(person.group.items))
                continue
            to_send.append(person)
        return to_send

    def _check_custom_types(self, people: list[Person], reject: Reject) -> list[Person]:
        if not any("custom" in p.payload.get("attributes", {}) for p in people):
            return people
        if self._types is None:
            stored = self.ledger.custom_types() if self.ledger is not None else {}
            self._types = {**stored, **self.configured_types}
        types = self._types
        new: dict[str, str] = {}
        kept = []
        for person in people:
            problems = []
            custom = person.payload.get("attributes", {}).get("custom", {})
            for name, value in custom.items():
                kind = types.get(name) or new.get(name)
                if kind is None:
                    new[name] = infer_type(value)
                elif not accepts(kind, value, self.enums.get(name, frozenset())):
                    problems.append(_type_problem(name, kind, value, self.enums.get(name)))
            if problems:
                self._reject_all(person, problems, reject)
            else:
                kept.append(person)
        if not new:
            return kept
        refused: list[str] = []
        if self.ledger is not None:
            in_force, refused = self.ledger.claim_custom_types(new, MAX_CUSTOM_ATTRIBUTES)
        else:
            room = MAX_CUSTOM_ATTRIBUTES - len(types)
            in_force = dict(list(new.items())[: max(room, 0)])
            refused = list(new)[max(room, 0) :]
        types.update(in_force)
        if not refused and in_force == new:
            return kept
        # Another run fixed a type first, or the cap was reached: check again.
        survivors = []
        for person in kept:
            custom = person.payload.get("attributes", {}).get("custom", {})
            problems = [
                Problem(
                    f"attributes.custom.{name}",
                    f"would be custom attribute number {MAX_CUSTOM_ATTRIBUTES + 1}; Attentive "
                    f"allows {MAX_CUSTOM_ATTRIBUTES} in an account. Remove it from the mapping",
                )
                for name in custom
                if name in refused
            ]
            problems += [
                _type_problem(name, types[name], value, self.enums.get(name))
                for name, value in custom.items()
                if name in types
                and not accepts(types[name], value, self.enums.get(name, frozenset()))
            ]
            if problems:
                self._reject_all(person, problems, reject)
            else:
                survivors.append(person)
        return survivors

    def _reject_all(
        self, person: Person, problems: list[Problem], reject: Reject, **api: Any
    ) -> None:
        for item in person.group.items:
            reject(item.position, item.record, problems, person.payload, **api)

    # 3. send ---------------------------------------------------------------------------
    # Planning is CPU work and runs where the batch was read; sending is mostly waiting
    # (pacing, the network), which is what overlaps with reading the next batch.

    def send(self, people: list[Person], stream: str, reject: Reject) -> list[Person]:
        """Send planned people; returns those accepted. Raises when a batch cannot settle."""
        if not people:
            return []
        assert self.client is not None
        if self.mode == "bulk":
            chunks = [people[i : i + self.bulk_size] for i in range(0, len(people), self.bulk_size)]
            work: Iterable[Any] = chunks
            send = self._send_bulk
        else:
            work = people
            send = self._send_single
        accepted: list[Person] = []
        submitted: list[tuple[str, str, list[tuple[str, str]]]] = []
        pool = self._executor()
        futures: list[Future] = [pool.submit(send, unit, stream) for unit in work]
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_EXCEPTION)
                for future in done:
                    error = future.exception()
                    if error is not None:
                        raise error
                self._progress()
        except BaseException:
            self.stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
            raise
        for future in futures:
            results = future.result()
            job_id = _job_id(results[0][1]) if self.mode == "bulk" else None
            if job_id:
                self.job_ids.add(job_id)
                submitted.append((job_id, stream, [(p.key, p.digest) for p, _ in results]))
            for person, answer in results:
                if answer.accepted:
                    accepted.append(person)
                else:
                    self._reject_all(
                        person,
                        [
                            Problem(
                                "", f"Attentive refused it (HTTP {answer.status}): {answer.message}"
                            )
                        ],
                        reject,
                        status=answer.status,
                        api_message=answer.message,
                        attempts=answer.attempts,
                    )
        self.tally.add("accepted", sum(len(p.group.items) for p in accepted))
        if self.ledger is not None and accepted and not self.dry_run:
            self.ledger.record_jobs(submitted)
            self.ledger.record_accepted([(p.key, p.digest) for p in accepted])
        return accepted

    def _claim(self, people: list[Person]) -> None:
        """Claim opt-ins right before sending; drop those another run claimed first."""
        wanted = [c for p in people for c in p.claims]
        if not wanted or self.ledger is None:
            return
        claimed = self.ledger.claim_optins(wanted)
        for person in people:
            if any(c not in claimed for c in person.claims):
                person.claims = [c for c in person.claims if c in claimed]
                person.payload = _with_subscriptions(person.payload, person.claims)

    def _settle_optins(self, people: list[Person], answer: Answer) -> None:
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

    def _send_single(self, person: Person, stream: str) -> list[tuple[Person, Answer]]:
        assert self.client is not None
        self._claim([person])
        body = dumps(person.payload)
        fallback = None
        if person.claims:
            fallback = dumps({k: v for k, v in person.payload.items() if k != "subscriptions"})
        answer = self.client.post(SINGLE_PATH, body, fallback)
        self._settle_optins([person], answer)
        return [(person, answer)]

    def _send_bulk(self, people: list[Person], stream: str) -> list[tuple[Person, Answer]]:
        assert self.client is not None
        self._claim(people)
        body = dumps({"users": [p.payload for p in people]})
        fallback = None
        if any(p.claims for p in people):
            fallback = dumps(
                {
                    "users": [
                        {k: v for k, v in p.payload.items() if k != "subscriptions"} for p in people
                    ]
                }
            )
        answer = self.client.post(BULK_PATH, body, fallback)
        self._settle_optins(people, answer)
        return [(p, answer) for p in people]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="attentive")
        return self._pool

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        t = self.tally
        elapsed = max(now - t.started, 1e-9)
        self.logger.info(
            "Progress: %d records read (%.0f/s), %d accepted, %d unchanged, %d rejected; "
            "%d requests, %d retried, %d answered 429",
            t.total_read,
            t.total_read / elapsed,
            t.outcomes["accepted"],
            t.outcomes["unchanged"],
            t.outcomes["rejected"],
            t.requests["sent"],
            t.requests["retried"],
            t.requests["429"],
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.client is not None:
            self.client.close()


def _job_id(answer: Answer) -> str | None:
    """The bulk job an accepted bulk request became."""
    if answer.accepted and isinstance(answer.body, dict) and answer.body.get("batchJobId"):
        return str(answer.body["batchJobId"])
    return None


def _with_subscriptions(payload: dict, claims: list[Claim]) -> dict:
    """The payload carrying only the opt-ins in `claims`."""
    wanted = {(c[1], c[2]) for c in claims}
    subs = [
        s for s in payload.get("subscriptions", ()) if (s["channel"], s["signUpSourceId"]) in wanted
    ]
    trimmed = {k: v for k, v in payload.items() if k != "subscriptions"}
    if subs:
        trimmed["subscriptions"] = subs
    return trimmed


def _type_problem(name: str, kind: str, value: Any, enum_values: Iterable[str] | None) -> Problem:
    if kind == "enum":
        allowed = ", ".join(sorted(enum_values or ()))
        return Problem(
            f"attributes.custom.{name}",
            f"is an enum attribute and takes only its existing values ({allowed}); Attentive "
            "does not create new ones",
        )
    return Problem(
        f"attributes.custom.{name}",
        f"is a {kind} attribute in Attentive, and this value is a {infer_type(value)}; "
        "send the same type, or map another attribute",
    )
