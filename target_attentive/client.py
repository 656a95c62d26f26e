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
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from target_attentive import masking
from target_attentive.answers import (
    Answer,
    FatalAPIError,
    ResultsUnavailable,
    RetriesExhausted,
    StopRequested,
)
from target_attentive.latency import LatencyWindow
from target_attentive.limiter import RateLimiter
from target_attentive.report import Tally
from target_attentive.retry import Outcome, RetryPolicy, retry_after_of
from target_attentive.settings import _check_api_url, connected_url, is_loopback

USER_AGENT = "target-attentive/0.1 (+singer)"
MAX_RESULT_REDIRECTS = 5
JOB_PREFIX = "/v2/bulk/job/"
FATAL_HINTS = {
    401: "the API key was refused: check api_key (a private app key, sent as a bearer token)",
    403: "the API key lacks a scope: give the private app attributes:write "
    "(and subscriptions:write for opt-ins)",
    404: "the endpoint was not found: check api_url",
}


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to: every bulk job's status is one endpoint."""
    if path.startswith(JOB_PREFIX):
        return JOB_PREFIX + "{id}"
    return path


@dataclass
class _Progress:
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
        self.session = _session(pool_size=max(concurrency, 1))
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )
        self._downloads = _session(pool_size=1)  # no Authorization: another host
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}

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
        progress = _Progress()
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
                        self._fatal_message(method, path, response), **progress.fate()
                    )
                status = response.status_code
                if outcome.final:
                    limiter.succeeded()
                    return Answer(
                        status,
                        _json(response),
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
                    self._exhausted(method, path, progress, problem), **progress.fate()
                )
            if retry_after is not None:
                limiter.pause(wait)  # the whole endpoint waits, as long as this request
            self.tally.request("retried")
            self.logger.debug("Retrying %s %s in %.2f s after %s", method, path, wait, problem)
            if self.stop.wait(wait):
                raise StopRequested("stop requested", **progress.fate())

    def _wait(self, progress: _Progress, retry_after: str | None) -> float | None:
        now = time.monotonic()
        if progress.first_failure is None:
            progress.first_failure = now
        failures = progress.attempts - 1 if progress.attempts else 0
        return self.policy.next_wait(failures, progress.first_failure, now, retry_after)

    def _exhausted(self, method: str, path: str, progress: _Progress, problem: str) -> str:
        elapsed = time.monotonic() - (progress.first_failure or time.monotonic())
        times = "time" if progress.attempts == 1 else "times"
        return (
            f"{method} {path} failed {progress.attempts} {times} in {elapsed:.1f} s since its "
            f"first failure (last: {problem}; max_retry_seconds is {self.max_retry_seconds:g}); "
            "Attentive may be down or throttling. No state was written past the last "
            "delivered batch: rerun to resume."
        )

    def _fatal_message(self, method: str, path: str, response: requests.Response) -> str:
        status = response.status_code
        if status in FATAL_HINTS:
            return f"Attentive answered {status} to {method} {path}: {FATAL_HINTS[status]}"
        location = response.headers.get("Location")
        target = urlsplit(urljoin(self.api_url + path, location)).hostname if location else None
        where = f" to {target}" if target else ""
        return (
            f"api_url: {self.api_url} answered {status} (a redirect{where}) to {method} {path}; "
            "the target never follows redirects from the API, so nothing was taken as "
            "accepted. Check api_url: it must be Attentive's API address itself "
            "(https://api.attentivemobile.com), not one that forwards, and no captive portal "
            "or gateway may stand in the way."
        )

    def download(self, url: str) -> bytes:
        """A bulk job's results file: on a storage host, without the API key.

        Redirects are followed by hand, each address checked like api_url (https unless
        loopback, no user name) and hidden from the logs before it is requested.
        """
        for _ in range(MAX_RESULT_REDIRECTS + 1):
            parts = urlsplit(url)
            masking.hide(url, parts.path + ("?" + parts.query if parts.query else ""))
            if _check_api_url(url.split("#")[0].split("?")[0]):
                raise ResultsUnavailable(
                    "the results file's address is not one the target fetches (https, or "
                    "http on loopback, without a user name)"
                )
            failure = None
            try:
                response = self._downloads.get(
                    url, timeout=self.timeout, allow_redirects=False, **self._environment(url)
                )
            except requests.RequestException as exc:
                failure = type(exc).__name__
            if failure is not None:  # raised outside the except: no chained text with the URL
                raise ResultsUnavailable(f"the results file could not be fetched ({failure})")
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                response.close()
                continue
            if not 200 <= response.status_code < 300:
                raise ResultsUnavailable(f"the results file answered HTTP {response.status_code}")
            return response.content
        raise ResultsUnavailable(
            f"the results file redirected more than {MAX_RESULT_REDIRECTS} times"
        )

    def _environment(self, url: str) -> dict[str, Any]:
        """HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE as they apply to this URL's host.

        A loopback host never goes through a proxy: the request and the key would travel
        in clear to wherever HTTP_PROXY points.
        """
        parts = urlsplit(url)
        host = (parts.scheme, parts.netloc)
        if host not in self._environments:
            with requests.Session() as reader:  # trust_env: reads the environment
                found = reader.merge_environment_settings(url, {}, None, None, None)
            proxies = found["proxies"]
            if is_loopback(connected_url(url).host or ""):
                proxies = {}
            self._environments[host] = {"proxies": proxies, "verify": found["verify"]}
        return self._environments[host]

    def close(self) -> None:
        self.session.close()
        self._downloads.close()


def _session(pool_size: int) -> requests.Session:
    """A session that reads no environment per request and never retries on its own.

    requests reads proxy variables, .netrc and CA bundle variables again on every request
    (a third of its CPU per call), and a .netrc entry for the host would replace the API
    key. They are read once per host instead (`_environment`).
    """
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _json(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
