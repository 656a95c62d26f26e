"""Deliver one batch: plan against the ledger, have it sent, settle every record.

`plan` then `send` return only when every record of the batch is accepted, unchanged or
rejected (durably written to the rejects file); anything else raises, so the SDK writes
no state past it. The steps:

1. coalesce: records of one person become one payload, never across a conflicting
   identifier; values shared by different people are left out (see coalesce.py);
2. plan, with the ledger: custom attribute types checked and claimed, attributes
   Attentive refused as over its cap left out, the fields left out written down, opt-ins
   already delivered dropped, people whose payload was accepted before counted unchanged.
   A dry run plans exactly so, the ledger read-only;
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from singer_sdk.exceptions import FatalAPIError

from target_attentive.client import AttentiveClient, RetriesExhausted, StopRequested
from target_attentive.coalesce import group_people, owner_keys
from target_attentive.consent import OPT_IN, ConsentOrder
from target_attentive.custom_plan import CustomAttributePlan, without_custom
from target_attentive.custom_types import AttributeTypes
from target_attentive.jsonl import dumps
from target_attentive.keys import identity_keys, optin_key, payload_hash, person_key
from target_attentive.owners import IdentifierOwners
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
# Sets a record aside: reject(position, record, problems, payload=None, **api); with
# outcome="omitted" it writes each problem as a field left out instead.
Reject = Callable[..., None]


@dataclass
class Person:
    """A coalesced group with what the plan decided for it."""

    group: Any  # coalesce.Group
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
        self.custom = CustomAttributePlan(settings, ledger, tally)
        self.stop = threading.Event()
        self.sender: Any = None
        if not self.dry_run:
            if ledger is not None:  # the child opens the very ledger this process opened
                url = ledger.url.render_as_string(hide_password=False)
                settings = dataclasses.replace(settings, ledger_url=url)
            self.sender = self.sender_class(settings, logger, tally)
        self._client: AttentiveClient | None = None
        self.owners = IdentifierOwners(ledger)
        self.job_ids: set[str] = set()  # bulk jobs this run submitted
        self.consent: ConsentOrder | None = None  # set by a run with opt-outs (consent.py)
        self._last_progress = time.monotonic()

    # 2. plan ---------------------------------------------------------------------------

    def plan(self, items: list[Any], stream: str, reject: Reject) -> list[Person]:
        """The people of a batch that need sending; the rest settled here.

        Fields left out of a record (when it was read, or here) are written once its
        person is planned, so a rejected record has a reject line and no omissions.
        """
        ids = [identity_keys(item.payload["identifiers"]) for item in items]
        owners: dict[str, str] = {}
        if not self._send_shared and not self.owners.unknown:
            own = [person_key(item.payload["identifiers"]) for item in items]
            owners = self.owners.lookup(owner_keys(ids, own))
        grouping = group_people(items, ids=ids, owners=owners, send_shared=self._send_shared)
        for index, problems in grouping.rejected.items():
            item = items[index]
            reject(item.position, item.record, [*item.omissions, *problems], item.payload)
        omitted = {id(items[i]): problems for i, problems in grouping.omitted.items()}
        people = [
            Person(g, person_key(g.payload["identifiers"]), "", g.payload) for g in grouping.groups
        ]
        people = self.custom.plan(
            people,
            omitted,
            lambda person, problems: self._reject_all(person, problems, reject),
            reject,
        )
        for person in people:
            for item in person.group.items:
                problems = [*item.omissions, *omitted.get(id(item), ())]
                if problems:
                    reject(item.position, item.record, problems, outcome="omitted")
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
                if not self._stands(person, claim):
                    continue
                person.claims.append(claim)
                wanted.append(claim)
        known_optins = (
            ledger.known_optins(sorted({c[0] for c in wanted})) if ledger and wanted else set()
        )
        to_send = []
        for person in people:
            if person.claims or "subscriptions" in person.payload:
                person.claims = [
                    c for c in person.claims if c not in known_optins or self._rearmed(c)
                ]
                person.payload = with_subscriptions(person.payload, person.claims)
            if person.key in last:  # to compare; the sending process digests the rest
                person.digest = payload_hash(person.payload)
            if not person.claims and last.get(person.key) == person.digest:
                self.tally.add("unchanged", len(person.group.items))
                continue
            to_send.append(person)
        return to_send

    def _stands(self, person: Person, claim: Claim) -> bool:
        """False for an opt-in an opt-out read later in the input overtook (consent.py)."""
        if self.consent is None:
            return True
        read_at = max(item.read_at for item in person.group.items)
        if self.consent.stands(claim[0], claim[1], read_at, OPT_IN):
            return True
        self.tally.request("optins_overtaken")
        return False

    def _rearmed(self, claim: Claim) -> bool:
        return self.consent is not None and self.consent.rearmed_optin(claim[0], claim[1])

    # Helpers of plan (issue 12: people, not records) ----------------------------------

    @property
    def _send_shared(self) -> bool:
        return getattr(self.settings, "shared_identifiers", "omit") == "send"

    def attribute_types(self) -> AttributeTypes:
        """The run's custom attribute types, shared by every stream's records."""
        return self.custom.attribute_types()

    def _reject_all(
        self, person: Person, problems: list[Problem], reject: Reject, **api: Any
    ) -> None:
        for item in person.group.items:
            reject(item.position, item.record, problems, person.payload, **api)

    # 3. send ---------------------------------------------------------------------------
    # Planning is CPU work and runs where the batch was read; sending runs in the sending
    # process (sender.py), which leaves this process's GIL to reading the next batch.

    def submit(self, people: list[Person], stream: str) -> int | None:
        """Hand a batch to the sending process, in the order batches are read; its number."""
        if not people:
            return None
        assert self.sender is not None
        # In bulk mode a refusal found later (by reconciling, with the ledger) names its record.
        bulk = self.settings.mode == "bulk" and self.ledger is not None
        outgoing = [
            Outgoing(
                p.key,
                p.digest,
                p.payload,
                p.claims,
                dumps([[i.position, i.record] for i in p.group.items]).decode() if bulk else "",
            )
            for p in people
        ]
        batch = self.sender.submit(outgoing, stream)
        self.owners.submitted(batch, ((p.key, p.payload["identifiers"]) for p in people))
        return batch

    def settle(
        self, batch: int | None, people: list[Person], stream: str, reject: Reject
    ) -> list[Person]:
        """Wait for a submitted batch; returns those accepted. Raises when it cannot settle,
        after counting (and the sender recording) everyone Attentive answered before that.

        A person refused only because an attribute was over Attentive's cap is sent again
        at once without it (a field left out, not the person), unless a batch still out
        after this one carries them: that one has their newer data.
        """
        if batch is None:
            return []
        assert self.sender is not None
        accepted: list[Person] = []
        left_out: dict[int, list[str]] = {}  # id(person) -> names taken out for a resend
        while True:
            try:
                sent = self.sender.wait(batch, self.stop, self._progress)
            finally:
                self.owners.settled(batch)
            self.job_ids.update(sent.job_ids)
            again = []
            for refusal in sent.refused:
                person = people[refusal.index]
                names = self.custom.note_refusal(person.payload, refusal.message)
                if names and sent.error is None and not self.owners.later(batch, person.key):
                    left_out.setdefault(id(person), []).extend(names)
                    person.payload = without_custom(person.payload, names)
                    person.digest = payload_hash(person.payload)
                    again.append(person)
                    continue
                message = f"Attentive refused it (HTTP {refusal.status}): {refusal.message}"
                self._reject_all(
                    person,
                    [Problem("", message)],
                    reject,
                    status=refusal.status,
                    api_message=refusal.message,
                    attempts=refusal.attempts,
                )
            settled = [people[i] for i in sent.accepted]
            # Records, not people: a person merged from three records is three accepted.
            self.tally.add("accepted", sum(len(p.group.items) for p in settled))
            self.custom.settled([p.payload for p in people], [p.payload for p in settled])
            for person in settled:
                for item in person.group.items:
                    problems = self.custom.capped_problems(
                        item.payload, left_out.get(id(person), ())
                    )
                    if problems:
                        reject(item.position, item.record, problems, outcome="omitted")
            accepted += settled
            if sent.error is not None:
                raise ERRORS.get(sent.error, SendingFailed)(sent.message)
            if not again:
                return accepted
            people, batch = again, self.submit(again, stream)

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
