"""What building one record gives the caller: a body and exactly one outcome (pure data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from target_attentive.kinds.ledger_keys import OptOutKey
from target_attentive.kinds.shapes import DEFAULT_CURRENCY
from target_attentive.problems import Problem

SEND = "send"
REJECTED = "rejected"
FILTERED = "filtered"


@dataclass(frozen=True)
class KindContext:
    """The run's settings and the stream's facts a builder needs; `now` is passed in, so
    building stays pure and an event's age is judged against one clock per batch."""

    stream: str
    key_properties: tuple[str, ...] = ()
    phone_region: str = "US"
    default_currency: str = DEFAULT_CURRENCY
    unsubscribe_notifications: bool = False
    now: dt.datetime | None = None
    max_event_age_hours: float | None = None


@dataclass
class Built:
    """One record made into a v1 body, and the one outcome it ends in.

    `problems` make it rejected, else `filtered` (a reason) makes it filtered, else it is
    sent. `omissions` are optional fields left out of a body that is sent; when a record
    is rejected they are folded into its problems, so each reason is reported once.
    `payload` is what would be sent, kept on a reject for the rejects file.
    """

    kind: str
    payload: dict[str, Any]
    omissions: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    filtered: str | None = None
    event_id: str | None = None
    event_key: str | None = None
    optout_keys: list[OptOutKey] = field(default_factory=list)
    old: bool = False

    @property
    def outcome(self) -> str:
        if self.problems:
            return REJECTED
        return FILTERED if self.filtered else SEND

    def reject(self, problems: list[Problem]) -> Built:
        """Set the record aside with these reasons (its omissions among them)."""
        self.problems = [*self.omissions, *self.problems, *problems]
        self.omissions = []
        return self

    def filter(self, reason: str) -> Built:
        self.filtered = reason
        self.omissions = []
        return self
