"""HTTP to Attentive: one session, a rate limiter, retries, and one answer per request.

Every request ends in one of three ways: an `Answer` that is accepted (2xx) or rejected
(a 4xx about this body, with the API's message), or an exception that stops the run:
`FatalAPIError` (401, 403, 404: nothing will work until a setting is fixed) and
`RetriesExhausted` (429s, 5xx, timeouts and dropped connections for longer than
`max_retry_seconds`). The SDK's names for the two are kept as base classes.

Opt-ins must never be sent twice, and Attentive has no idempotency key. A request whose
fate is unknown (a timeout or a dropped connection after the body went out, a 500, 502 or
504) may have been applied, so its retries go without the subscriptions (`fallback`),
and the answer says the opt-ins are in doubt. 429 and 503 mean not applied: those are
retried as they were.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import backoff
import orjson
import requests
from requests.adapters import HTTPAdapter
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from target_attentive.limiter import RateLimiter
from target_attentive.report import Tally

USER_AGENT = "target-attentive/0.1 (+singer)"
NOT_APPLIED = frozenset({429, 503})
FATAL_HINTS = {
    401: "the API key was refused: check api_key (a private app key, sent as a bearer token)",
    403: "the API key lacks a scope: give the private app attributes:write "
    "(and subscriptions:write for opt-ins)",
    404: "the endpoint was not found: check api_url",
}


class RetriesExhausted(RetriableAPIError):
    """Attentive kept failing for longer than max_retry_seconds."""


class StopRequested(RuntimeError):
    """The run was asked to stop (SIGTERM/SIGINT) while requests were pending."""


@dataclass
class Answer:
    status: int
    body: Any
    text: str
    attempts: int
    optins_in_doubt: bool = False

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The API's own words: `message` of a JSON body, else the raw text."""
        if isinstance(self.body, dict) and self.body.get("message"):
            return str(self.body["message"])
        return self.text[:500]


class AttentiveClient:
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
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.max_retry_seconds = max_retry_seconds
        self.tally = tally
        self.logger = logger or logging.getLogger("target_attentive.client")
        self.stop = stop or threading.Event()
        self.limiters: dict[str, RateLimiter] = {}
        self.default_rate = requests_per_second
        self.session = requests.Session()
        # requests reads proxy variables, .netrc and CA bundle variables again on every
        # request (a third of its CPU per call), and a .netrc entry for the host would
        # replace the API key. They are read once per host instead (`_environment`).
        self.session.trust_env = False
        self._environments: dict[str, dict[str, Any]] = {}
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(concurrency, 1), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    def limiter(self, path: str) -> RateLimiter:
        """Attentive limits per endpoint; so does the client."""
        if path not in self.limiters:
            self.limiters[path] = RateLimiter(self.default_rate)
        return self.limiters[path]

    def post(self, path: str, body: bytes, fallback: bytes | None = None) -> Answer:
        return self._request("POST", path, body, fallback)

    def get(self, path_or_url: str) -> Answer:
        return self._request("GET", path_or_url, None, None)

    def _request(
        self, method: str, path: str, body: bytes | None, fallback: bytes | None
    ) -> Answer:
        url = path if path.startswith("http") else self.api_url + path
        limiter = self.limiter(path if not path.startswith("http") else "results")
        deadline = time.monotonic() + self.max_retry_seconds
        delays = backoff.expo(base=2, factor=0.5, max_value=30)
        next(delays)  # the generator's first value is a priming None
        attempts = 0
        in_doubt = False
        while True:
            if self.stop.is_set():
                raise StopRequested("stop requested")
            limiter.acquire()
            attempts += 1
            self.tally.request("sent")
            retry_after: float | None = None
            try:
                response = self.session.request(
                    method, url, data=body, timeout=self.timeout, **self._environment(url)
                )
            except requests.RequestException as exc:
                sent = not _failed_before_sending(exc)
                kind = "timeout" if isinstance(exc, requests.Timeout) else "connection"
                self.tally.request(kind)
                problem = f"{kind} error ({type(exc).__name__})"
                ambiguous = sent
            else:
                limiter.observe(response.headers)
                status = response.status_code
                if status in FATAL_HINTS:
                    raise FatalAPIError(
                        f"Attentive answered {status} to {method} {path}: {FATAL_HINTS[status]}"
                    )
                if status != 429 and status < 500:
                    limiter.succeeded()
                    return Answer(status, _json(response), response.text, attempts, in_doubt)
                self.tally.request(str(status) if status == 429 else "5xx")
                if status == 429:
                    limiter.throttled()
                retry_after = _retry_after(response.headers)
                problem = f"HTTP {status}"
                ambiguous = status not in NOT_APPLIED
            if ambiguous and fallback is not None and body is not fallback:
                body = fallback
                in_doubt = True
            delay = backoff.full_jitter(next(delays))
            if retry_after is not None:
                delay = max(delay, retry_after)
                limiter.pause(retry_after)
            if time.monotonic() + delay > deadline:
                raise RetriesExhausted(
                    f"{method} {path} failed {attempts} times over {self.max_retry_seconds} s "
                    f"(last: {problem}); Attentive may be down or throttling. No state was "
                    "written past the last delivered batch: rerun to resume."
                )
            self.tally.request("retried")
            self.logger.debug("Retrying %s %s in %.2f s after %s", method, path, delay, problem)
            if self.stop.wait(delay):
                raise StopRequested("stop requested")

    def _environment(self, url: str) -> dict[str, Any]:
        """HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE as they apply to this URL's host."""
        host = urlsplit(url)[:2]
        if host not in self._environments:
            with requests.Session() as reader:  # trust_env: reads the environment
                found = reader.merge_environment_settings(url, {}, None, None, None)
            self._environments[host] = {"proxies": found["proxies"], "verify": found["verify"]}
        return self._environments[host]

    def close(self) -> None:
        self.session.close()


def _failed_before_sending(exc: requests.RequestException) -> bool:
    """Connection refused or a connect timeout: the body never left, nothing was applied."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "Connection refused" in text
    )


def _json(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 120.0))
    except ValueError:
        return None
