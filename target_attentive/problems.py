"""The one shape every reason for setting a record aside takes.

Reasons name a field and say what to change, and never quote the value itself: they go
to logs and the run report, where people's data must not appear, and reasons without
values add up ("12 x identifiers.phone: not a valid number") in the report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Why one record cannot be sent: the payload field at fault and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def describe(problems: list[Problem]) -> str:
    """One line for the rejects file and the report, all problems of a record together."""
    return "; ".join(str(p) for p in problems)
