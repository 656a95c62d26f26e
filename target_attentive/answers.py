"""How a request to Attentive ended: an `Answer`, or an exception saying what it left behind.

Plain values shared by the client (which makes them), the sending process (which settles
opt-in claims from them) and the reading process (which reports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from singer_sdk import exceptions as sdk_exceptions

from target_attentive.retry import Outcome, RetryPolicy, Stopped


class _Fate:
    """What a request that ended without an answer leaves behind.

    The defaults are the cautious reading, for an error rebuilt from its message alone
    (as the sending process passes them on): it may have been sent and applied.
    """

    def __init__(
        self, message: str, *, attempts: int = 0, maybe_applied: bool = True, sent: bool = True
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.maybe_applied = maybe_applied
        self.sent = sent


class RetriesExhausted(_Fate, sdk_exceptions.RetriableAPIError):
    """Attentive kept failing for longer than max_retry_seconds after the first failure."""


class StopRequested(_Fate, Stopped):
    """The run was asked to stop (SIGTERM/SIGINT) while the request was pending."""


class FatalAPIError(_Fate, sdk_exceptions.FatalAPIError):
    """The SDK's FatalAPIError, same name, with what happened to the request."""


class ResultsUnavailable(RuntimeError):
    """A bulk job's results file could not be fetched (its address is never quoted)."""


@dataclass
class Answer:
    """Attentive's final answer to one request: accepted or refused."""

    status: int
    body: Any
    text: str
    attempts: int
    optins_in_doubt: bool = False
    outcome: Outcome | None = None

    def __post_init__(self) -> None:
        if self.outcome is None:
            self.outcome = RetryPolicy().classify(self.status)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The API's own words: `message` of a JSON body, else the raw text."""
        if isinstance(self.body, dict) and self.body.get("message"):
            return str(self.body["message"])
        return self.text[:500]
