"""HTTP to Attentive: one session, a rate limiter per endpoint, and one answer per request.

What an answer means, how long to wait and when to give up are the retry policy's
(`retry.py`); this module makes the attempts. Every request ends in one of these ways:
an `Answer`, accepted (2xx) or refused (a 4xx about this body, with the API's message), or
an exception that stops the run: `FatalAPIError` (a redirect, 401, 403, 404: nothing will
work until a setting is fixed), `RetriesExhausted` (retryable failures for longer than
`max_retry_seconds` since the first one) or `StopRequested`. The two exceptions that end
a request midway say what the caller needs to settle opt-in claims truthfully:
`attempts`, `maybe_applied` and `sent`.

Opt-ins must never be sent twice, and Attentive has no idempotency key. After an attempt
whose fate is unknown (a read timeout, a connection dropped after sending, most 5xx), the
retries go without the subscriptions (`fallback`) and the answer says the opt-ins are in
doubt. Answers that say the request was not processed (408, 425, 429, 503) and connect
errors are retried as they were.

Redirects are never followed for the API: a POST answered 302 would become a GET that
answers 200, taken for acceptance. A bulk job's results file is another matter: it lives
on a storage host behind a pre-signed link, is fetched without the API key, may be
redirected, and its address never reaches a log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from target_attentive.answers import (
    Answer,
    FatalAPIError,
    ResultsUnavailable,
    RetriesExhausted,
    StopRequested,
)
from target_attentive.attempts import Progress, exhausted_message, fatal_message
from target_attentive.http_session import Environments, json_of, new_session
from target_attentive.latency import LatencyWindow
from target_attentive.limiter import RateLimiter
from target_attentive.report import Tally
from target_attentive.results_download import download
from target_attentive.retry import Outcome, RetryPolicy, retry_after_of
from target_attentive.settings import _check_api_url

# Names other modules import from here, some of them defined elsewhere.
__all__ = [
    "Answer",
    "AttentiveClient",
    "FatalAPIError",
    "ResultsUnavailable",
    "RetriesExhausted",
    "StopRequested",
]

JOB_PREFIX = "/v2/bulk/job/"


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to: every bulk job's status is one endpoint."""
    if path.startswith(JOB_PREFIX):
        return JOB_PREFIX + "{id}"
    return path


class AttentiveClient:
    """Requests to Attentive's API, paced per endpoint and retried by one policy."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        requests_per_second: float,
        concurrency: int,
        timeout_seconds: float,
        max_retry_seconds: float,
        tally: Tally,
        logger: logging.Logger | None = None,
        stop: threading.Event | None = None,
        rates: dict[str, float] | None = None,
    ) -> None:
        problems = _check_api_url(api_url)
        if problems:
            raise FatalAPIError("; ".join(problems), maybe_applied=False, sent=False)
        self.api_url = api_url.rstrip("/")
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.max_retry_seconds = max_retry_seconds
        self.policy = RetryPolicy(max_retry_seconds=max_retry_seconds)
        self.tally = tally
        self.logger = logger or logging.getLogger("target_attentive.client")
        self.stop = stop or threading.Event()
        self.limiters: dict[str, RateLimiter] = {}
        self._latency: dict[str, LatencyWindow] = {}
        self.default_rate = requests_per_second
        # Endpoints with a published limit of their own (the v1 kinds): their ceiling.
        self.rates = dict(rates or {})
        self.session = new_session(pool_size=max(concurrency, 1))
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )
        self._downloads = new_session(pool_size=1)  # no Authorization: another host
        self._environments = Environments()

    def latency(self, path: str) -> LatencyWindow:
        """Answer times per endpoint, for a read deadline that fits each."""
        endpoint = endpoint_of(path)
        window = self._latency.get(endpoint)
        if window is None:
            window = self._latency.setdefault(endpoint, LatencyWindow(self.timeout[1]))
        return window

    def limiter(self, path: str) -> RateLimiter:
        """Attentive limits per endpoint; so does the client."""
        endpoint = endpoint_of(path)
        if endpoint not in self.limiters:
            self.limiters[endpoint] = RateLimiter(self.rates.get(endpoint, self.default_rate))
        return self.limiters[endpoint]

    def post(self, path: str, body: bytes, fallback: bytes | None = None) -> Answer:
        return self._request("POST", path, body, fallback)

    def get(self, path_or_url: str) -> Answer:
        """GET a path of the API, or an absolute URL under api_url (never another host)."""
        path = path_or_url
        if "://" in path_or_url:
            if not path_or_url.startswith(self.api_url + "/"):
                raise ValueError("get() is for the API only; use download() for other hosts")
            path = path_or_url[len(self.api_url) :]
        return self._request("GET", path, None, None)

    def _request(
        self, method: str, path: str, body: bytes | None, fallback: bytes | None
    ) -> Answer:
        url = self.api_url + path
        limiter = self.limiter(path)
        progress = Progress()
        primary = body
        while True:
            if self.stop.is_set():
                raise StopRequested("stop requested", **progress.fate())
            limiter.acquire(self.stop)
            if self.stop.is_set():  # the wait for a slot can be long: a stop ends it
                raise StopRequested("stop requested", **progress.fate())
            progress.attempts += 1
            self.tally.request("sent")
            retry_after: str | None = None
            latency = self.latency(path)
            # A request carrying opt-ins waits the full timeout: giving up early would only
            # put more opt-ins in doubt. Others are retried once past the service's pace.
            carries_optins = fallback is not None and body is primary
            read_timeout = self.timeout[1] if carries_optins else latency.deadline()
            started, sent_at = time.monotonic(), time.time()
            try:
                response = self.session.request(
                    method,
                    url,
                    data=body,
                    timeout=(self.timeout[0], read_timeout),
                    allow_redirects=False,
                    **self._environment(url),
                )
            except requests.RequestException as exc:
                outcome = self.policy.classify(exc)
                progress.note(outcome, body is primary)
                self.tally.request("timeout" if isinstance(exc, requests.Timeout) else "connection")
                problem = f"{type(exc).__name__}, {outcome.value}"
            else:
                latency.add(time.monotonic() - started)
                limiter.observe(response.headers, sent_at)
                outcome = self.policy.classify(response)
                progress.note(outcome, body is primary)
                if outcome is Outcome.FATAL:
                    raise FatalAPIError(
                        fatal_message(self.api_url, method, path, response), **progress.fate()
                    )
                status = response.status_code
                if outcome.final:
                    limiter.succeeded()
                    return Answer(
                        status,
                        json_of(response),
                        response.text,
                        progress.attempts,
                        progress.in_doubt,
                        outcome,
                    )
                self.tally.request("5xx" if status >= 500 else str(status))
                if status == 429:
                    limiter.throttled()
                retry_after = retry_after_of(response.headers)
                problem = f"HTTP {status}, {outcome.value}"
            if outcome.maybe_applied and fallback is not None and body is not fallback:
                body = fallback
                progress.in_doubt = True
            wait = self._wait(progress, retry_after)
            if wait is None:
                raise RetriesExhausted(
                    exhausted_message(method, path, progress, problem, self.max_retry_seconds),
                    **progress.fate(),
                )
            if retry_after is not None:
                limiter.pause(wait)  # the whole endpoint waits, as long as this request
            self.tally.request("retried")
            self.logger.debug("Retrying %s %s in %.2f s after %s", method, path, wait, problem)
            if self.stop.wait(wait):
                raise StopRequested("stop requested", **progress.fate())

    def _wait(self, progress: Progress, retry_after: str | None) -> float | None:
        now = time.monotonic()
        if progress.first_failure is None:
            progress.first_failure = now
        failures = progress.attempts - 1 if progress.attempts else 0
        return self.policy.next_wait(failures, progress.first_failure, now, retry_after)

    def download(self, url: str) -> bytes:
        """A bulk job's results file: on a storage host, without the API key
        (`results_download.download`)."""
        return download(self._downloads, url, self.timeout, self._environment)

    def _environment(self, url: str) -> dict[str, Any]:
        """Proxy and CA settings for this URL's host (never a proxy for loopback)."""
        return self._environments.for_url(url)

    def close(self) -> None:
        self.session.close()
        self._downloads.close()
