"""The opt-in claims of the people the sending process sends, from claim to settlement.

Opt-ins must never be sent twice, and Attentive has no idempotency key. So each is claimed
in the ledger right before the request that carries it, and then follows what the request
ended in (`retry.Outcome`): released when nothing was applied, in doubt when something may
have been, confirmed on a single 202, left for the bulk job to settle on a bulk 202.
"""

from __future__ import annotations

from typing import Any

from target_attentive.answers import Answer
from target_attentive.outgoing import Outgoing, with_subscriptions, without_subscriptions
from target_attentive.report import Tally


class OptinClaims:
    """Claims, confirms, doubts and releases opt-ins in the ledger (when there is one),
    and keeps the people's payloads carrying only the opt-ins still theirs to send."""

    def __init__(self, ledger: Any | None, tally: Tally, *, bulk: bool) -> None:
        self.ledger = ledger
        self.tally = tally
        self.bulk = bulk

    def claim(self, people: list[Outgoing]) -> None:
        """Claim opt-ins right before sending; drop those another run claimed first."""
        wanted = [c for p in people for c in p.claims]
        if not wanted or self.ledger is None:
            return
        claimed = self.ledger.claim_optins(wanted)
        for person in people:
            if any(c not in claimed for c in person.claims):
                person.claims = [c for c in person.claims if c in claimed]
                person.payload = with_subscriptions(person.payload, person.claims)

    def unsettled(self, people: list[Outgoing], exc: BaseException) -> None:
        """The request ended without an answer: its opt-ins are released only when the
        client knows nothing was applied (not sent, or retries of answers that say "not
        processed" ran out), else they are in doubt (never resent)."""
        if getattr(exc, "maybe_applied", True):
            self.doubt(people)
        else:
            self.release(people)

    def settle(self, people: list[Outgoing], answer: Answer) -> None:
        """Opt-ins after a final answer: in doubt when an attempt may have applied them,
        confirmed on a single 202, left pending on a bulk 202 (they become `submitted`
        with the job), released on a refusal."""
        if answer.optins_in_doubt:
            self.doubt(people)
        elif answer.accepted:
            claims = [c for p in people for c in p.claims]
            if claims and not self.bulk:
                self.tally.request("optins_sent", len(claims))
                if self.ledger is not None:
                    self.ledger.confirm_optins(claims)
        else:
            self.release(people)

    def doubt(self, people: list[Outgoing]) -> None:
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

    def release(self, people: list[Outgoing]) -> None:
        """Their opt-ins were certainly not applied: a later run may send them."""
        claims = [c for p in people for c in p.claims]
        if not claims:
            return
        self.tally.request("optins_released", len(claims))
        if self.ledger is not None:
            self.ledger.release_optins(claims)
        for person in people:
            person.claims = []
