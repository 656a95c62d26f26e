"""What crosses to the sending process for the v1 kinds, and what comes back (plain values).

The sibling of `outgoing.Outgoing` for events and opt-outs: one body for one endpoint,
with the ledger keys recorded once Attentive took it. A batch of them comes back as a
`KindSent`: a `Sent` that also lists the bodies not sent because the ledger already held
them (an opt-out another run claimed first, with confirmation texts on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from target_attentive.outgoing import Sent

OptOut = tuple[str, str, str]  # (address, channel, subscription type)


@dataclass
class KindOutgoing:
    """One planned v1 body, as it crosses to the sending process."""

    kind: str  # a `kinds.KINDS` name other than users
    path: str  # the endpoint, from `kinds.ENDPOINTS`
    payload: dict
    event_key: str | None = None  # events: recorded once Attentive took the body
    optouts: list[OptOut] = field(default_factory=list)  # opt-outs: recorded likewise
    claim: bool = False  # opt-outs with confirmation texts on: claimed before sending

    def to_wire(self) -> list[Any]:
        optouts = [list(key) for key in self.optouts]
        return [self.kind, self.path, self.payload, self.event_key, optouts, self.claim]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> KindOutgoing:
        kind, path, payload, event_key, optouts, claim = wire
        return cls(kind, path, payload, event_key, [(k[0], k[1], k[2]) for k in optouts], claim)


@dataclass
class KindSent(Sent):
    """A `Sent`, and the bodies skipped because another run had claimed them first."""

    unchanged: list[int] = field(default_factory=list)
