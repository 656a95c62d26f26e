"""The ledger's writes about consent: opt-ins claimed and settled, events, opt-outs.

An opt-in or opt-out is claimed durably before it is sent, so that a crash after sending
leaves it claimed and it is never sent twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from target_attentive.ledger.base import now
from target_attentive.ledger.kinds import addresses
from target_attentive.ledger.rows import Claim, OptOut, claim_rows, optout_rows
from target_attentive.ledger.schema import (
    CONFIRMED,
    IN_DOUBT,
    OPTOUT_IN_DOUBT,
    OPTOUT_PENDING,
    OPTOUT_SENT,
    PENDING,
    SUBMITTED,
)
from target_attentive.ledger.writes import LedgerWrites


class ConsentWrites(LedgerWrites):
    """The opt-in, event and opt-out writes of `Ledger`, kept apart from its other writes."""

    # -- opt-ins ----------------------------------------------------------------------------

    def claim_optins(self, claims: list[Claim]) -> set[Claim]:
        """Claim opt-ins before sending them; returns exactly those this call claimed.

        A claim already in the ledger, whatever its status, or claimed at the same time
        by another run, is not returned: it must not be sent.
        """
        wanted = claim_rows(claims)
        if not wanted:
            return set()
        return self._write(lambda conn: self.optins.claim(conn, wanted, now()), durable=True)

    def _set_optins(self, claims: list[Claim], status: str, only_from: Any = None) -> None:
        wanted = claim_rows(claims)
        if wanted:
            self._write(
                lambda conn: self.optins.set_status(
                    conn, wanted, status, now(), only_from=only_from
                )
            )

    def confirm_optins(self, claims: list[Claim]) -> None:
        """Attentive accepted them: delivered (recorded even if unclaimed). An opt-out of
        the same address and channel may then be sent once more."""
        wanted = claim_rows(claims)
        if not wanted:
            return

        def work(conn: Connection) -> None:
            self.optins.set_status(conn, wanted, CONFIRMED, now())
            self.kinds.rearm_optouts(conn, addresses(wanted))

        self._write(work)

    def submit_optins(self, claims: list[Claim]) -> None:
        """In a bulk job Attentive took: never resent, settled by the job's results."""
        self._set_optins(claims, SUBMITTED, only_from=(PENDING,))

    def doubt_optins(self, claims: list[Claim]) -> None:
        """Sent, outcome unknown: never resent automatically. A confirmed one stays so."""
        self._set_optins(claims, IN_DOUBT, only_from=(PENDING, SUBMITTED, IN_DOUBT))

    def release_optins(self, claims: list[Claim]) -> None:
        """Attentive refused them, or they never left: a later run may send them."""
        wanted = claim_rows(claims)
        if wanted:
            self._write(lambda conn: self.optins.release(conn, wanted))

    # -- events and opt-outs (issue 15) ------------------------------------------------------

    def record_events(self, rows: list[tuple[str, str]]) -> None:
        """(event key, kind) of events Attentive took: a rerun skips them."""
        wanted = sorted(set(rows))
        if wanted:
            self._write(lambda conn: self.kinds.record_events(conn, wanted, now()))

    def claim_optouts(self, keys: list[OptOut]) -> set[OptOut]:
        """Claim opt-outs before sending them (confirmation texts on); exactly those this
        call claimed. Durable: a crash after sending leaves them pending, never resent."""
        wanted = optout_rows(keys)
        if not wanted:
            return set()
        return self._write(lambda conn: self.kinds.claim_optouts(conn, wanted, now()), True)

    def record_optouts(self, keys: list[OptOut]) -> None:
        """Attentive took these opt-outs: recorded as sent, and the opt-ins of their
        addresses and channels released, so a later opt-in may be sent once more."""
        wanted = optout_rows(keys)
        if not wanted:
            return

        def work(conn: Connection) -> None:
            self.kinds.set_optouts(conn, wanted, OPTOUT_SENT, now())
            self.kinds.rearm_optins(conn, addresses(wanted))

        self._write(work)

    def doubt_optouts(self, keys: list[OptOut]) -> None:
        """Sent without a clear answer: never resent while their claim stands."""
        wanted = optout_rows(keys)
        if wanted:
            self._write(
                lambda conn: self.kinds.set_optouts(
                    conn, wanted, OPTOUT_IN_DOUBT, now(), only_from=(OPTOUT_PENDING,)
                )
            )

    def release_optouts(self, keys: list[OptOut]) -> None:
        """Claimed and certainly not applied (refused, never sent): a later run may send them."""
        wanted = optout_rows(keys)
        if wanted:
            self._write(lambda conn: self.kinds.release_optouts(conn, wanted))
