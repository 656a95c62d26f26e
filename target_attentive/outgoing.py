"""What crosses from the reading process to the sending process and back (plain values).

A planned person goes over as an `Outgoing`, and a batch's outcome comes back as a `Sent`
listing who was accepted and each `Refusal`; each has a JSON-ready wire form (sender.py
frames them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from target_attentive.keys import identity_keys

Claim = tuple[str, str, str]  # (address or person key, channel, signUpSourceId)


@dataclass
class Outgoing:
    """One planned person, as it crosses to the sending process."""

    key: str  # the person's ledger key
    digest: str  # the payload's hash, recorded when accepted; "" until the sender digests it
    payload: dict
    claims: list[Claim] = field(default_factory=list)  # opt-ins to claim before sending
    # Bulk mode: the [position, record] pairs it came from, for a refusal found later, as
    # JSON text. Encoded once where they were read: the sending process only stores them
    # with the job (batch_record.py), so decoding them there was work thrown away.
    sources_json: str = ""

    def identity_keys(self) -> list[str]:
        """Its identifier values as ledger keys, recorded with `key` once accepted."""
        return list(identity_keys(self.payload["identifiers"]).values())

    def to_wire(self) -> list[Any]:
        claims = [list(c) for c in self.claims]
        return [self.key, self.digest, self.payload, claims, self.sources_json]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Outgoing:
        key, digest, payload, claims, *rest = wire
        sources_json = rest[0] if rest else ""
        return cls(key, digest, payload, [(c[0], c[1], c[2]) for c in claims], sources_json)


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
        wire = {f.name: getattr(self, f.name) for f in fields(self)}
        wire["refused"] = [r.to_wire() for r in self.refused]
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Sent:
        """Every field a subclass adds comes and goes by name; a missing one is its default."""
        values = {f.name: wire[f.name] for f in fields(cls) if f.name in wire}
        values["refused"] = [Refusal.from_wire(r) for r in wire["refused"]]
        return cls(**values)


def without_subscriptions(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "subscriptions"}


def with_subscriptions(payload: dict, claims: list[Claim]) -> dict:
    """The payload carrying only the opt-ins in `claims`."""
    wanted = {(c[1], c[2]) for c in claims}
    subs = [
        s for s in payload.get("subscriptions", ()) if (s["channel"], s["signUpSourceId"]) in wanted
    ]
    trimmed = without_subscriptions(payload)
    if subs:
        trimmed["subscriptions"] = subs
    return trimmed
