"""Deliver one batch of events or opt-outs: skip what was sent, have the rest sent, settle.

The sink (kind_sink.py) has planned each record into a checked body with one outcome;
here, in the reading process, the bodies to send are checked against this run and the
ledger, handed to the sending process (kind_sending.py) and settled:

- an event whose key this run already planned, or the ledger holds, is `unchanged`;
- an opt-out overtaken by an opt-in read later in the input is `filtered`; one sent
  earlier in this run or recorded in the ledger as sent is `unchanged`, unless an opt-in
  re-armed it (consent.py). With confirmation texts on it is also claimed before sending
  (kind_sending.py), so it is sent at most once, like an opt-in. Without them an opt-out
  whose fate is unknown (a crash, a timeout) is sent again: a repeated unsubscribe
  without a text is harmless;
- the rest are sent, one request a body; refused bodies go to the rejects file with
  Attentive's message.

A dry run plans the same way and writes the bodies to the dry-run file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_attentive.consent import OPT_OUT, ConsentOrder
from target_attentive.delivery import ERRORS, SendingFailed
from target_attentive.kind_outgoing import KindOutgoing
from target_attentive.kinds import ENDPOINTS, Built
from target_attentive.kinds.shapes import UNSUBSCRIBE
from target_attentive.problems import Problem
from target_attentive.report import Tally
from target_attentive.settings import Settings

Reject = Callable[..., None]
OVERTAKEN = "an opt-in for the same address and channel comes later in the input"


@dataclass
class Planned:
    """A record whose body goes out: where it was read, and what crosses to the sender."""

    position: int
    record: dict
    outgoing: KindOutgoing


class KindDelivery:
    """Plans, submits and settles batches of v1 bodies; one per run, shared by kind sinks."""

    def __init__(
        self,
        settings: Settings,
        tally: Tally,
        ledger: Any | None,
        delivery: Any,
        consent: ConsentOrder | None,
    ) -> None:
        self.tally = tally
        self.ledger = ledger
        self.delivery = delivery  # the users path's: its sending process, stop and progress
        self.consent = consent
        self.notifications = settings.unsubscribe_notifications
        self._events: set[str] = set()  # event keys planned in this run
        self._lock = threading.Lock()

    def plan(self, built: list[tuple[int, int, dict, Built]]) -> list[Planned]:
        """The bodies of a batch to send: (position, read_at, record, built) each, all
        `send` outcomes; the others are settled here."""
        events = [b.event_key for _, _, _, b in built if b.event_key is not None]
        known = self.ledger.known_events(events) if self.ledger is not None and events else set()
        wanted = [key for _, _, _, b in built for key in b.optout_keys]
        known_out = (
            self.ledger.known_optouts(wanted) if self.ledger is not None and wanted else set()
        )
        planned = []
        for position, read_at, record, item in built:
            endpoint = ENDPOINTS[item.kind]
            outgoing = KindOutgoing(item.kind, endpoint.path, item.payload, item.event_key)
            if item.kind == UNSUBSCRIBE:
                keys = self._optouts_to_send(item, read_at, known_out)
                if keys is None:
                    continue
                outgoing.payload = _with_optouts(item.payload, keys)
                outgoing.optouts = keys
                outgoing.claim = self.notifications
            elif item.event_key is not None:
                with self._lock:
                    repeat = item.event_key in known or item.event_key in self._events
                    self._events.add(item.event_key)
                if repeat:
                    self.tally.add("unchanged")
                    continue
            planned.append(Planned(position, record, outgoing))
        return planned

    def _optouts_to_send(
        self, item: Built, read_at: int, known: set[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]] | None:
        """The opt-outs of a body still to send; None when the record is settled here."""
        keys = [(k[0], k[1], k[2]) for k in item.optout_keys]
        consent = self.consent
        if consent is None:  # a run without an unsubscribe stream never gets here
            return keys
        keys = [k for k in keys if consent.stands(k[0], k[1], read_at, OPT_OUT)]
        if not keys:
            self.tally.filtered(OVERTAKEN)
            return None
        keys = consent.new_optouts(keys, known)
        if not keys:
            self.tally.add("unchanged")
            return None
        return keys

    def write(self, planned: list[Planned], stream: str, lines: Any) -> None:
        """A dry run's batch: each body with its kind and endpoint, to the dry-run file."""
        for item in planned:
            outgoing = item.outgoing
            lines.write(
                {
                    "stream": stream,
                    "position": item.position,
                    "kind": outgoing.kind,
                    "endpoint": outgoing.path,
                    "payload": outgoing.payload,
                }
            )
        self.tally.add("written", len(planned))

    def submit(self, planned: list[Planned], stream: str) -> int | None:
        """Hand a batch to the sending process, in read order with the people batches."""
        if not planned:
            return None
        assert self.delivery.sender is not None
        return self.delivery.sender.submit_kinds([p.outgoing for p in planned], stream)

    def settle(self, batch: int | None, planned: list[Planned], reject: Reject) -> None:
        """Wait for a submitted batch; raises when it cannot settle, after counting (and
        the sender recording) every body Attentive answered before that."""
        if batch is None:
            return
        delivery = self.delivery
        sent = delivery.sender.wait_kinds(batch, delivery.stop, delivery._progress)
        for refusal in sent.refused:
            item = planned[refusal.index]
            message = f"Attentive refused it (HTTP {refusal.status}): {refusal.message}"
            reject(
                item.position,
                item.record,
                [Problem("", message)],
                item.outgoing.payload,
                status=refusal.status,
                api_message=refusal.message,
                attempts=refusal.attempts,
            )
        self.tally.add("accepted", len(sent.accepted))
        self.tally.add("unchanged", len(sent.unchanged))
        if sent.error is not None:
            raise ERRORS.get(sent.error, SendingFailed)(sent.message)


def _with_optouts(payload: dict, keys: list[tuple[str, str, str]]) -> dict:
    """The unsubscribe body ending only these subscriptions."""
    wanted = {(channel, sub_type) for _, channel, sub_type in keys}
    subscriptions = payload.get("subscriptions") or []
    kept = [s for s in subscriptions if (s["channel"], s["type"]) in wanted]
    if len(kept) == len(subscriptions):
        return payload
    return {**payload, "subscriptions": kept}
