"""retry.py without HTTP: every row of the classification, the delay and the budget."""

from __future__ import annotations

import http.client
import ssl
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
import urllib3.exceptions as u3
from urllib3.connection import HTTPConnection

from target_attentive.client import StopRequested
from target_attentive.retry import Outcome, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_retry_seconds=60)
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


# --- statuses


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ([200, 201, 202, 204, 299], Outcome.ACCEPTED),
        ([400, 402, 405, 409, 410, 413, 415, 422, 451, 499], Outcome.REFUSED),
        ([408, 425, 429, 503], Outcome.RETRY_NOT_APPLIED),
        ([500, 501, 502, 504, 505, 507, 520, 599], Outcome.RETRY_UNKNOWN),
        ([401, 403, 404], Outcome.FATAL),
        ([300, 301, 302, 303, 304, 307, 308], Outcome.FATAL),
    ],
)
def test_every_status_row(statuses: list[int], outcome: Outcome) -> None:
    assert [POLICY.classify(s) for s in statuses] == [outcome] * len(statuses)


def test_a_response_is_classified_by_its_status() -> None:
    response = requests.Response()
    response.status_code = 425
    assert POLICY.classify(response) is Outcome.RETRY_NOT_APPLIED
    response.status_code = 302
    assert POLICY.classify(response) is Outcome.FATAL


def test_outcome_helpers() -> None:
    retryable = {o for o in Outcome if o.retryable}
    applied = {o for o in Outcome if o.maybe_applied}
    final = {o for o in Outcome if o.final}
    assert retryable == {Outcome.NOT_SENT, Outcome.RETRY_NOT_APPLIED, Outcome.RETRY_UNKNOWN}
    assert applied == {Outcome.ACCEPTED, Outcome.RETRY_UNKNOWN}
    assert final == {Outcome.ACCEPTED, Outcome.REFUSED, Outcome.FATAL}
    assert not retryable & final


# --- exceptions, wrapped the way urllib3 and requests wrap them


def _conn() -> HTTPConnection:
    return HTTPConnection("127.0.0.1", 1)


def _pool_error(reason: Exception) -> u3.MaxRetryError:
    return u3.MaxRetryError(None, "/v2/user/attributes", reason)  # type: ignore[arg-type]


def _connect_errors() -> list[BaseException]:
    refused = u3.NewConnectionError(_conn(), "Failed to establish a new connection")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    dns = u3.NameResolutionError("api.example", _conn(), OSError("Name or service not known"))
    timeout = u3.ConnectTimeoutError(_conn(), "timed out")
    proxy = u3.ProxyError("Unable to connect to proxy", refused)
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    return [
        requests.ConnectionError(_pool_error(refused)),
        requests.ConnectionError(_pool_error(dns)),
        requests.ConnectTimeout(_pool_error(timeout)),
        requests.exceptions.ProxyError(_pool_error(proxy)),
        requests.exceptions.SSLError(_pool_error(u3.SSLError(cert))),
        refused,
        dns,
        StopRequested("stop requested"),
    ]


def _after_sending_errors() -> list[BaseException]:
    dropped = u3.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))
    reset = u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    read = u3.ReadTimeoutError(None, "/v2/user/attributes", "Read timed out.")  # type: ignore[arg-type]
    return [
        requests.ConnectionError(dropped),
        requests.ConnectionError(reset),
        requests.ReadTimeout(read),
        requests.exceptions.ChunkedEncodingError(u3.ProtocolError("Response ended prematurely")),
        dropped,
        read,
    ]


@pytest.mark.parametrize("exc", _connect_errors(), ids=lambda e: type(e).__name__)
def test_connect_errors_are_not_sent(exc: BaseException) -> None:
    assert POLICY.classify(exc) is Outcome.NOT_SENT


@pytest.mark.parametrize("exc", _after_sending_errors(), ids=lambda e: type(e).__name__)
def test_errors_after_sending_are_unknown(exc: BaseException) -> None:
    assert POLICY.classify(exc) is Outcome.RETRY_UNKNOWN


def test_the_text_of_a_message_decides_nothing() -> None:
    """A dropped connection whose message names a connect error is still after sending."""
    text = "NewConnectionError: Connection refused; ConnectTimeoutError"
    dropped = u3.ProtocolError(text, http.client.RemoteDisconnected(text))
    assert POLICY.classify(requests.ConnectionError(dropped)) is Outcome.RETRY_UNKNOWN
    assert POLICY.classify(requests.ConnectionError(text)) is Outcome.RETRY_UNKNOWN


def test_an_unknown_error_is_taken_as_maybe_applied() -> None:
    assert POLICY.classify(requests.RequestException("odd")) is Outcome.RETRY_UNKNOWN


def test_a_connect_error_inside_a_read_error_is_still_after_sending() -> None:
    inner = u3.NewConnectionError(_conn(), "refused")
    outer = u3.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("x"))
    outer.__context__ = inner
    assert POLICY.classify(requests.ConnectionError(outer)) is Outcome.RETRY_UNKNOWN


def test_a_cyclic_chain_ends() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert POLICY.classify(a) is Outcome.RETRY_UNKNOWN


# --- delay


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 5, 10, 40])
def test_full_jitter_stays_within_its_bounds(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2.0**attempt)
    assert POLICY.delay(attempt, rng=lambda: 0.0) == 0.0
    assert POLICY.delay(attempt, rng=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert POLICY.delay(attempt, rng=lambda: 0.5) == pytest.approx(ceiling / 2)


def test_the_jitter_draws_from_the_random_source() -> None:
    draws = iter([0.1, 0.9])
    assert POLICY.delay(3, rng=lambda: next(draws)) == pytest.approx(0.4)
    assert POLICY.delay(3, rng=lambda: next(draws)) == pytest.approx(3.6)


def test_backoff_settings_are_the_policys() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_factor=3, backoff_cap=5)
    assert [policy.delay(a, rng=lambda: 1.0) for a in range(4)] == [1, 3, 5, 5]


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), (" 3 ", 3.0), ("0", 0.0), ("2.5", 2.5)]
)
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert POLICY.delay(0, header, rng=lambda: 0.9) == seconds


def test_retry_after_as_an_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    assert header.endswith("GMT")
    assert POLICY.delay(0, header, rng=lambda: 0.9, now=NOW) == pytest.approx(42)


def test_retry_after_in_the_past_means_now() -> None:
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert POLICY.delay(4, header, now=NOW) == 0.0


@pytest.mark.parametrize("header", ["3600", format_datetime(NOW + timedelta(hours=2), usegmt=True)])
def test_retry_after_is_capped(header: str) -> None:
    assert POLICY.delay(0, header, now=NOW) == 120.0
    assert RetryPolicy(retry_after_cap=10).delay(0, header, now=NOW) == 10.0


@pytest.mark.parametrize("header", ["soon", "", "Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_falls_back_to_backoff(header: str) -> None:
    assert parse_retry_after(header, NOW) is None
    assert POLICY.delay(2, header, rng=lambda: 0.5, now=NOW) == pytest.approx(1.0)


# --- the budget


def test_the_budget_runs_from_the_first_failure() -> None:
    policy = RetryPolicy(max_retry_seconds=60)
    # the first attempt was long before: only the first failure counts
    assert policy.next_wait(0, first_failure=1000.0, now=1000.0, rng=lambda: 1.0) == 0.5
    assert policy.next_wait(5, first_failure=1000.0, now=1059.0, rng=lambda: 1.0) == 1.0


def test_the_last_wait_is_cut_to_fit() -> None:
    policy = RetryPolicy(max_retry_seconds=60)
    assert policy.next_wait(6, 1000.0, 1050.0, rng=lambda: 1.0) == pytest.approx(10.0)
    assert policy.next_wait(0, 1000.0, 1058.0, "30") == pytest.approx(2.0)


def test_a_spent_budget_gives_up() -> None:
    policy = RetryPolicy(max_retry_seconds=60)
    assert policy.next_wait(7, 1000.0, 1060.0) is None
    assert policy.next_wait(7, 1000.0, 1075.0) is None
    assert RetryPolicy(max_retry_seconds=0).next_wait(0, 5.0, 5.0) is None


def test_waits_add_up_to_the_budget() -> None:
    """Simulated outage: the request gives up at max_retry_seconds after the first failure."""
    policy = RetryPolicy(max_retry_seconds=60)
    clock, first, attempt = 500.0, 500.0, 0
    while (wait := policy.next_wait(attempt, first, clock, rng=lambda: 1.0)) is not None:
        clock += wait + 0.2  # the wait, then a failing attempt of 0.2 s
        attempt += 1
    assert 60.0 <= clock - first <= 60.5
    # 0.5 + 1 + 2 + 4 + 8 + 16 (+ 1.2 s of attempts) leave 27.3 s: the seventh wait is cut
    assert attempt == 7


def test_the_policy_is_immutable() -> None:
    with pytest.raises(AttributeError):
        POLICY.max_retry_seconds = 5  # type: ignore[misc]
