"""The one shape every reason for leaving out a field or setting a record aside takes.

Reasons name a field and say what to change, and never quote the value itself: they go
to logs and the run report, where people's data must not appear, and reasons without
values add up ("12 x identifiers.phone: not a valid number") in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Path = tuple["str | int", ...]


class Invalid(ValueError):
    """A value that cannot be brought into Attentive's form; the message says what to change."""


@dataclass(frozen=True)
class Problem:
    """Why a field (or a whole record) cannot be sent, and what to do about it.

    `path` locates the field in the payload (`("identifiers", "phone")`), so the field
    can be left out while the rest of the person is sent; empty when the problem is the
    record's as a whole. It is not part of equality: the words are what a person reads.
    """

    field: str
    message: str
    path: Path = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def describe(problems: list[Problem]) -> str:
    """One line for the rejects file and the report, all problems of a record together."""
    return "; ".join(str(p) for p in problems)
