"""The limiter learns the account's limit; the read deadline follows the service's pace."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from target_attentive.client import AttentiveClient
from target_attentive.latency import FLOOR_SECONDS, MIN_SAMPLES, LatencyWindow
from target_attentive.limiter import RateLimiter, pace_for
from target_attentive.report import Tally
from target_attentive.sandbox.process import SandboxProcess

BODY = b'{"identifiers": {"email": "pace@example.com"}}'


@pytest.mark.parametrize(
    ("limit", "pace"), [(150, 148.5), (100, 99.0), (20, 19.5), (5, 4.5), (1, 0.5)]
)
def test_the_pace_stays_under_the_limit(limit: int, pace: float) -> None:
    assert pace_for(limit) == pytest.approx(pace)


def test_the_limit_is_learnt_from_the_headers_in_both_directions() -> None:
    limiter = RateLimiter(150)
    limiter.observe({"x-ratelimit-limit": "20", "x-ratelimit-remaining": "12"})
    assert (limiter.limit, limiter.rate) == (20, pytest.approx(19.5))
    limiter.observe({"x-ratelimit-limit": "60"})
    assert (limiter.limit, limiter.rate) == (60, pytest.approx(59.4))
    limiter.observe({"x-ratelimit-limit": "1000"})  # never above the configured rate
    assert limiter.limit == 150
    for nonsense in ("", "0", "-3", "many", None):
        limiter.observe({"x-ratelimit-limit": nonsense})
        assert limiter.limit == 150


def test_a_429_slows_down_and_success_climbs_back_to_the_learnt_pace() -> None:
    limiter = RateLimiter(150)
    limiter.learn(20)
    limiter.throttled()
    assert limiter.rate < 19.5
    for _ in range(50):
        limiter.succeeded()
    assert limiter.rate == pytest.approx(19.5)


def test_the_read_deadline_follows_the_answers_seen() -> None:
    window = LatencyWindow(ceiling=30)
    for _ in range(MIN_SAMPLES - 1):
        window.add(0.04)
    assert window.deadline() == 30  # too few answers yet: the configured timeout
    for _ in range(64):
        window.add(0.04)
    assert window.deadline() == FLOOR_SECONDS
    for _ in range(512):
        window.add(1.5)
    assert window.deadline() == pytest.approx(6.0)
    for _ in range(512):
        window.add(20.0)
    assert window.deadline() == 30


def _hammer(client: AttentiveClient, count: int) -> list[int]:
    with ThreadPoolExecutor(8) as pool:
        return [
            a.status
            for a in pool.map(lambda _: client.post("/v2/user/attributes", BODY), range(count))
        ]


def test_the_client_follows_a_limit_the_sandbox_changes_mid_run() -> None:
    with SandboxProcess(rate_limit=20) as sb:
        tally = Tally()
        client = AttentiveClient(
            sb.url,
            sb.api_key,
            requests_per_second=150,
            concurrency=8,
            timeout_seconds=10,
            max_retry_seconds=60,
            tally=tally,
            stop=threading.Event(),
        )
        try:
            limiter = client.limiter("/v2/user/attributes")
            assert set(_hammer(client, 60)) == {202}
            assert limiter.limit == 20
            learning = tally.requests["429"]  # the first answers teach the limit
            assert set(_hammer(client, 40)) == {202}
            steady = tally.requests["429"] - learning
            sb.configure(rate_limit=40)
            assert set(_hammer(client, 80)) == {202}
            assert limiter.limit == 40
            sb.configure(rate_limit=10)
            assert set(_hammer(client, 20)) == {202}
            assert limiter.limit == 10
            before = tally.requests["429"]
            assert set(_hammer(client, 30)) == {202}
            after_change = tally.requests["429"] - before
        finally:
            client.close()
        # Once learnt, the limit is kept: a 429 now and then at most (the clocks differ).
        assert learning <= 10, tally.requests
        assert steady <= 2 and after_change <= 2, tally.requests
