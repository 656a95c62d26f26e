"""One request's attempts: what they add up to, and what the run says when they end it.

The client (client.py) makes the attempts; this keeps their account (what the exceptions
report, for settling opt-in claims) and words the messages that end a run, which name the
setting to check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from target_attentive.retry import Outcome

FATAL_HINTS = {
    401: "the API key was refused: check api_key (a private app key, sent as a bearer token)",
    403: "the API key lacks a scope: give the private app attributes:write "
    "(and subscriptions:write for opt-ins)",
    404: "the endpoint was not found: check api_url",
}


@dataclass
class Progress:
    """One request's attempts so far: what the exceptions report."""

    attempts: int = 0
    first_failure: float | None = None
    maybe_applied: bool = False
    sent: bool = False
    in_doubt: bool = False

    def note(self, outcome: Outcome, with_primary: bool) -> None:
        """Account for one attempt's outcome (`with_primary`: it carried the opt-ins)."""
        self.sent = self.sent or outcome is not Outcome.NOT_SENT
        self.maybe_applied = self.maybe_applied or (outcome.maybe_applied and with_primary)

    def fate(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "maybe_applied": self.maybe_applied, "sent": self.sent}


def exhausted_message(
    method: str, path: str, progress: Progress, problem: str, max_retry_seconds: float
) -> str:
    """Why retries ended the run, and what to do."""
    elapsed = time.monotonic() - (progress.first_failure or time.monotonic())
    times = "time" if progress.attempts == 1 else "times"
    return (
        f"{method} {path} failed {progress.attempts} {times} in {elapsed:.1f} s since its "
        f"first failure (last: {problem}; max_retry_seconds is {max_retry_seconds:g}); "
        "Attentive may be down or throttling. No state was written past the last "
        "delivered batch: rerun to resume."
    )


def fatal_message(api_url: str, method: str, path: str, response: requests.Response) -> str:
    """Why an answer no retry can change ended the run, and which setting to check."""
    status = response.status_code
    if status in FATAL_HINTS:
        return f"Attentive answered {status} to {method} {path}: {FATAL_HINTS[status]}"
    location = response.headers.get("Location")
    target = urlsplit(urljoin(api_url + path, location)).hostname if location else None
    where = f" to {target}" if target else ""
    return (
        f"api_url: {api_url} answered {status} (a redirect{where}) to {method} {path}; "
        "the target never follows redirects from the API, so nothing was taken as "
        "accepted. Check api_url: it must be Attentive's API address itself "
        "(https://api.attentivemobile.com), not one that forwards, and no captive portal "
        "or gateway may stand in the way."
    )
