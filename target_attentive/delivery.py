"""Deliver one batch: plan against the ledger, have it sent, settle every record.

`plan` then `send` return only when every record of the batch is accepted, unchanged or
rejected (durably written to the rejects file); anything else raises, so the SDK writes
no state past it. The steps:

1. coalesce: records of one person become one payload (see coalesce.py);
2. plan, with the ledger: custom attribute types checked and claimed, opt-ins already
   delivered dropped, people whose payload was accepted before counted unchanged;
3. send, in the sending process (sender.py, sending.py): single mode one person a
   request, bulk mode up to `bulk_batch_size`; opt-ins claimed right before the request
   that carries them; the accepted recorded in the ledger;
4. settle: refused people go to the rejects file, with Attentive's message.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from singer_sdk.exceptions import FatalAPIError

from target_attentive.client import AttentiveClient, RetriesExhausted, StopRequested
from target_attentive.coalesce import Group, coalesce
from target_attentive.custom_types import accepts, infer_type
from target_attentive.keys import optin_key, payload_hash, person_key
from target_attentive.mapping import MAX_CUSTOM_ATTRIBUTES
from target_attentive.problems import Problem
from target_attentive.report import Tally
from target_attentive.sender import SenderProcess
from target_attentive.sending import Claim, Outgoing, api_client, with_subscriptions
from target_attentive.settings import Settings

# How the sending process names the exceptions that ended a batch.
ERRORS: dict[str, type[Exception]] = {
    "FatalAPIError": FatalAPIError,
    "RetriesExhausted": RetriesExhausted,
    "StopRequested": StopRequested,
}


class SendingFailed(RuntimeError):
    """The sending process failed a batch for a reason other than Attentive's answers."""


PROGRESS_EVERY_SECONDS = 5.0

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
    """Plans batches in the reading process and has the sending process send them."""

    # Where batches are sent from; in-process tests put the same code in a thread.
    sender_class: ClassVar[type] = SenderProcess

    def __init__(
        self,
        settings: Settings,
        tally: Tally,
        ledger: Any | None,
        logger: logging.Logger,
    ) -> None:
        self.settings = settings
        self.tally = tally
        self.ledger = ledger
        self.logger = logger
        self.dry_run = settings.dry_run
        self.skip_unchanged = settings.skip_unchanged
        self.configured_types: dict[str, str] = dict(settings.custom_attribute_types or {})
        self.enums = {k: frozenset(v) for k, v in (settings.custom_attribute_enums or {}).items()}
        self.configured_types.update({name: "enum" for name in self.enums})
        self.stop = threading.Event()
        self.sender: Any = None
        if not self.dry_run:
            if ledger is not None:  # the child opens the very ledger this process opened
                url = ledger.url.render_as_string(hide_password=False)
                settings = dataclasses.replace(settings, ledger_url=url)
            self.sender = self.sender_class(settings, logger)
        self._client: AttentiveClient | None = None
        self.job_ids: set[str] = set()  # bulk jobs this run submitted
        self._types: dict[str, str] | None = None
        self._last_progress = time.monotonic()

    # 2. plan ---------------------------------------------------------------------------

    def plan(self, items: list[Any], stream: str, reject: Reject) -> list[Person]:
        """The people of a batch that need sending; the rest settled here."""
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
                person.payload = with_subscriptions(person.payload, person.claims)
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
    # Planning is CPU work and runs where the batch was read; sending runs in the sending
    # process (sender.py), which leaves this process's GIL to reading the next batch.

    def send(self, people: list[Person], stream: str, reject: Reject) -> list[Person]:
        """Send planned people; returns those accepted. Raises when a batch cannot settle,
        after counting (and the sender recording) everyone Attentive answered before that."""
        if not people:
            return []
        assert self.sender is not None
        outgoing = [Outgoing(p.key, p.digest, p.payload, p.claims) for p in people]
        sent = self.sender.send(outgoing, stream, self.tally, self.stop, self._progress)
        self.job_ids.update(sent.job_ids)
        for refusal in sent.refused:
            message = f"Attentive refused it (HTTP {refusal.status}): {refusal.message}"
            self._reject_all(
                people[refusal.index],
                [Problem("", message)],
                reject,
                status=refusal.status,
                api_message=refusal.message,
                attempts=refusal.attempts,
            )
        accepted = [people[i] for i in sent.accepted]
        self.tally.add("accepted", sum(len(p.group.items) for p in accepted))
        if sent.error is not None:
            raise ERRORS.get(sent.error, SendingFailed)(sent.message)
        return accepted

    def api_client(self) -> AttentiveClient:
        """A client in this process, for following bulk jobs after the load."""
        if self._client is None:
            self._client = api_client(self.settings, self.tally, self.logger, self.stop)
        return self._client

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        t = self.tally
        elapsed = max(now - t.started, 1e-9)
        self.logger.info(
            "Progress: %d records read (%.0f/s), %d people accepted, %d unchanged, %d rejected; "
            "%d requests, %d retried, %d answered 429",
            t.total_read,
            t.total_read / elapsed,
            t.requests["people_accepted"],
            t.outcomes["unchanged"],
            t.outcomes["rejected"],
            t.requests["sent"],
            t.requests["retried"],
            t.requests["429"],
        )

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        if self._client is not None:
            self._client.close()


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
