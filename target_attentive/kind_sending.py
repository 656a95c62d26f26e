"""Send planned v1 bodies (events, opt-outs): one request a body, recorded as answered.

This runs in the sending process beside `sending.Sending`, and shares its HTTP client (so
each endpoint keeps one limiter, at its own published limit, learnt down from
`x-ratelimit-limit`), its workers and its stop. What an answer means is the one retry
policy's: 2xx taken, a 4xx about the body refused with Attentive's message, 429/5xx and
timeouts retried, 3xx/401/403/404 fatal.

Each body Attentive took is recorded in the ledger as soon as its answer arrives, so a
run killed mid-batch repeats at most the requests that were out. With confirmation texts
on, an opt-out is claimed before it is sent and follows its answer like an opt-in:
recorded when taken, released when certainly not applied, in doubt otherwise.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from typing import Any

from target_attentive.client import Answer
from target_attentive.jsonl import dumps
from target_attentive.kind_outgoing import KindOutgoing, KindSent
from target_attentive.kinds.shapes import UNSUBSCRIBE
from target_attentive.outgoing import Refusal
from target_attentive.sending import until_failure

ACCEPTED, REFUSED, UNCHANGED = "accepted", "refused", "unchanged"


@dataclass
class KindStarted:
    """A batch of v1 bodies whose requests are queued: what `KindSending.finish` waits for."""

    items: list[KindOutgoing]
    futures: dict[Future, int] = field(default_factory=dict)


@dataclass
class _Result:
    what: str
    answer: Answer | None = None
    error: BaseException | None = None


class KindSending:
    """Sends v1 bodies with the users path's client, workers, ledger and stop."""

    def __init__(self, sending: Any) -> None:
        self.client = sending.client
        self.ledger = sending.ledger
        self.tally = sending.tally
        self.stop: threading.Event = sending.stop
        self._pool = sending._pool

    def start(self, items: list[KindOutgoing]) -> KindStarted:
        """Queue every body of a batch (behind what the batches before it queued)."""
        started = KindStarted(items)
        for index, item in enumerate(items):
            started.futures[self._pool.submit(self._send, item)] = index
        return started

    def finish(self, started: KindStarted) -> KindSent:
        """Returns when every body is answered, or at the first failure (nothing new is
        sent then; what was answered before it is listed, and recorded)."""
        sent = KindSent()
        finished, error = until_failure(started.futures, self.stop)
        for future, result in finished:
            index = started.futures[future]
            if result.error is not None:
                continue
            if result.what == ACCEPTED:
                sent.accepted.append(index)
            elif result.what == UNCHANGED:
                sent.unchanged.append(index)
            else:
                answer = result.answer
                assert answer is not None
                sent.refused.append(Refusal(index, answer.status, answer.message, answer.attempts))
        sent.accepted.sort()
        sent.unchanged.sort()
        sent.refused.sort(key=lambda refusal: refusal.index)
        if error is not None:
            sent.error, sent.message = type(error).__name__, str(error)
        return sent

    def _send(self, item: KindOutgoing) -> _Result:
        """One body: claimed (opt-outs with texts on), posted, recorded; never raises."""
        try:
            if item.claim and not self._claim(item):
                self.tally.request("optouts_claimed_elsewhere")
                return _Result(UNCHANGED)
            try:
                answer = self.client.post(item.path, dumps(item.payload))
            except BaseException as exc:
                if item.claim:
                    self._unsettled(item, exc)
                raise
            if not answer.accepted:
                if item.claim and self.ledger is not None:
                    self.ledger.release_optouts(item.optouts)
                return _Result(REFUSED, answer)
            self._record(item)
            return _Result(ACCEPTED, answer)
        except Exception as exc:
            return _Result(REFUSED, error=exc)

    def _claim(self, item: KindOutgoing) -> bool:
        """Claim the opt-outs; the body keeps only those this run claimed."""
        if self.ledger is None:
            return True
        claimed = self.ledger.claim_optouts(item.optouts)
        if not claimed:
            return False
        if len(claimed) < len(item.optouts):
            item.optouts = [key for key in item.optouts if key in claimed]
            kept = {(channel, sub_type) for _, channel, sub_type in item.optouts}
            item.payload = {
                **item.payload,
                "subscriptions": [
                    s
                    for s in item.payload.get("subscriptions", ())
                    if (s["channel"], s["type"]) in kept
                ],
            }
        return True

    def _unsettled(self, item: KindOutgoing, exc: BaseException) -> None:
        if self.ledger is None:
            return
        if getattr(exc, "maybe_applied", True):
            self.ledger.doubt_optouts(item.optouts)
            self.tally.request("optouts_in_doubt", len(item.optouts))
        else:
            self.ledger.release_optouts(item.optouts)

    def _record(self, item: KindOutgoing) -> None:
        self.tally.request(f"{item.kind}_accepted")
        if item.kind == UNSUBSCRIBE:
            self.tally.request("optouts_sent", len(item.optouts))
            if _texts_confirmation(item.payload):
                self.tally.request("confirmation_texts")
            if self.ledger is not None:
                self.ledger.record_optouts(item.optouts)
        elif item.event_key is not None and self.ledger is not None:
            self.ledger.record_events([(item.event_key, item.kind)])


def _texts_confirmation(payload: dict) -> bool:
    """A TEXT opt-out without `notification.disabled` texts the person a confirmation."""
    disabled = (payload.get("notification") or {}).get("disabled") is True
    channels = {s.get("channel") for s in payload.get("subscriptions") or ()}
    return not disabled and "TEXT" in channels


class ConsentBarrier:
    """Opt-ins and opt-outs reach Attentive in the order their batches were handed over.

    Batches are sent side by side, so an opt-out batch could overtake the opt-in batch
    handed over just before it (or the reverse), and the person would end in the wrong
    state. A batch that carries one direction waits, before its requests start, for the
    batches still out that carry the other; batches of one direction still overlap.
    """

    def __init__(self) -> None:
        self._direction: str | None = None
        self._out: list[Future] = []

    def before(self, direction: str | None) -> None:
        """Called before a batch starts, in the order batches arrive."""
        if direction is None:
            return
        if direction != self._direction:
            wait_all(self._out)
            self._out = []
            self._direction = direction

    def started(self, direction: str | None, future: Future) -> None:
        if direction is not None:
            self._out = [f for f in self._out if not f.done()]
            self._out.append(future)
