"""What an HTTP attempt's answer means, how long to wait, and when to give up (pure).

Modelled on urllib3's `Retry`: one immutable object holds the policy, and the HTTP loop
(`client.py`) only asks it questions. Nothing here does I/O, reads the clock or draws a
random number of its own: the time and the random source are arguments, so every rule
is unit-tested without HTTP.

Whether a failed request left the machine is decided by the exception's type, the way
urllib3 decides between its connect and read retries, never by the text of its message.
"""

from __future__ import annotations

import enum
import http.client
import random
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3.exceptions as u3


class Outcome(enum.Enum):
    """What one attempt tells about the request: the single vocabulary of delivery.

    2xx ACCEPTED; 3xx, 401, 403, 404 FATAL; 408, 425, 429, 503 RETRY_NOT_APPLIED; other
    4xx REFUSED; other 5xx RETRY_UNKNOWN; connect errors NOT_SENT; read timeouts and
    connections dropped after sending RETRY_UNKNOWN.
    """

    ACCEPTED = "accepted"  # 2xx
    REFUSED = "refused"  # a 4xx about this body: Attentive said no, nothing applied
    NOT_SENT = "not sent"  # connect error or a stop before sending: certainly not applied
    RETRY_NOT_APPLIED = "retry, not applied"  # 408, 425, 429, 503: not processed
    RETRY_UNKNOWN = "retry, unknown"  # read timeout, dropped after sending, other 5xx
    FATAL = "fatal"  # 401, 403, 404, 3xx: a setting must change first

    @property
    def retryable(self) -> bool:
        """Worth another attempt of the same request."""
        return self in _RETRYABLE

    @property
    def maybe_applied(self) -> bool:
        """Attentive may have applied the body (so opt-ins in it may have gone out)."""
        return self in (Outcome.ACCEPTED, Outcome.RETRY_UNKNOWN)

    @property
    def final(self) -> bool:
        """The request is settled by this answer: no further attempt changes it."""
        return self in (Outcome.ACCEPTED, Outcome.REFUSED, Outcome.FATAL)


class Stopped(RuntimeError):
    """An attempt that was never made because the run is stopping: nothing of it left."""


_RETRYABLE = frozenset({Outcome.NOT_SENT, Outcome.RETRY_NOT_APPLIED, Outcome.RETRY_UNKNOWN})
NOT_PROCESSED = frozenset({408, 425, 429, 503})
FATAL_STATUSES = frozenset({401, 403, 404})

# Raised before a byte of the request left: TCP connect, DNS, connect timeout, certificate
# check. NewConnectionError and NameResolutionError are subclasses of ConnectTimeoutError.
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    u3.ConnectTimeoutError,
    requests.ConnectTimeout,
    ssl.SSLCertVerificationError,
    u3.NameResolutionError,
)
# Raised once the request may have been sent: the answer was lost, not the request.
_AFTER_SENDING: tuple[type[BaseException], ...] = (
    u3.ReadTimeoutError,
    requests.ReadTimeout,
    u3.ProtocolError,
    http.client.RemoteDisconnected,
    http.client.HTTPException,
    ConnectionResetError,
    BrokenPipeError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """The retry rules of one client: classification, backoff, Retry-After and budget."""

    max_retry_seconds: float = 600.0
    backoff_base: float = 0.5
    backoff_factor: float = 2.0
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0

    def classify(self, answer: int | requests.Response | BaseException) -> Outcome:
        """The outcome of an attempt: a status code, a response, or the exception raised."""
        if isinstance(answer, BaseException):
            return classify_exception(answer)
        status = answer if isinstance(answer, int) else answer.status_code
        return classify_status(status)

    def delay(
        self,
        attempt: int,
        retry_after: str | float | None = None,
        rng: Callable[[], float] = random.random,
        now: datetime | None = None,
    ) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry).

        A `Retry-After` (delta-seconds or HTTP-date) is the server's own instruction and
        replaces the backoff, as in urllib3; it is capped. Otherwise: exponential backoff
        with full jitter, uniform between 0 and min(cap, base * factor ** attempt).
        """
        asked = parse_retry_after(retry_after, now)
        if asked is not None:
            return min(asked, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * self.backoff_factor**attempt)
        return rng() * ceiling

    def next_wait(
        self,
        attempt: int,
        first_failure: float,
        now: float,
        retry_after: str | float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> float | None:
        """The wait before the next attempt, cut to fit the budget; None once it is spent.

        The budget runs from the request's first failure, not its first attempt: a
        request that waited on the rate limiter has not yet met an outage.
        """
        remaining = first_failure + self.max_retry_seconds - now
        if remaining <= 0:
            return None
        return min(self.delay(attempt, retry_after, rng), remaining)


def classify_status(status: int) -> Outcome:
    """The outcome of an HTTP status (see `Outcome` for the table)."""
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if 300 <= status < 400 or status in FATAL_STATUSES:
        return Outcome.FATAL
    if status in NOT_PROCESSED:
        return Outcome.RETRY_NOT_APPLIED
    if 400 <= status < 500:
        return Outcome.REFUSED
    return Outcome.RETRY_UNKNOWN  # 5xx, and anything a server should not answer


def classify_exception(exc: BaseException) -> Outcome:
    """NOT_SENT only when a connect-phase type is in the chain and no after-sending one is.

    A wrong NOT_SENT could send an opt-in twice, a wrong RETRY_UNKNOWN only leaves it in
    doubt: anything not recognised is RETRY_UNKNOWN.
    """
    chain = list(_chain(exc))
    if any(isinstance(e, Stopped) for e in chain):
        return Outcome.NOT_SENT
    if any(isinstance(e, _AFTER_SENDING) for e in chain):
        return Outcome.RETRY_UNKNOWN
    if any(isinstance(e, _CONNECT_ERRORS) for e in chain):
        return Outcome.NOT_SENT
    return Outcome.RETRY_UNKNOWN


def _chain(exc: BaseException, limit: int = 32) -> Iterator[BaseException]:
    """The exception and every one it wraps, as urllib3 and requests nest them."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < limit:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, *current.args]
        linked += [getattr(current, name, None) for name in ("reason", "original_error")]
        todo += [e for e in linked if isinstance(e, BaseException)]


def parse_retry_after(value: str | float | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a `Retry-After` value, either form; None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return max(0.0, float(value))
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_after_of(headers: Mapping[str, Any]) -> str | None:
    """The raw `Retry-After` header, if any."""
    value = headers.get("Retry-After")
    return str(value) if value is not None else None
