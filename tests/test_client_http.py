"""client.py through real HTTP on loopback: a small scripted server answers each request.

The server can answer any status with any headers, redirect, hang past the read timeout
and drop the connection after reading the request. Timings are measured loosely.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from target_attentive import masking
from target_attentive.client import (
    AttentiveClient,
    FatalAPIError,
    ResultsUnavailable,
    RetriesExhausted,
    StopRequested,
)
from target_attentive.report import Tally
from target_attentive.retry import Outcome, RetryPolicy

KEY = "test-key-5a4b3c"
PATH = "/v2/user/attributes"
BODY = b'{"identifiers": {"email": "ann@example.com"}, "subscriptions": [{"channel": "TEXT"}]}'
FALLBACK = b'{"identifiers": {"email": "ann@example.com"}}'
Action = Callable[["Handler"], None]


@dataclass
class Seen:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """What the server does, request by request; `default` once the queue is empty."""

    actions: deque[Action] = field(default_factory=deque)
    default: Action | None = None
    seen: list[Seen] = field(default_factory=list)


def reply(status: int, headers: dict[str, str] | None = None, body: bytes = b"{}") -> Action:
    def act(handler: Handler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return act


def hang(seconds: float) -> Action:
    def act(handler: Handler) -> None:
        time.sleep(seconds)
        handler.close_connection = True

    return act


def drop(handler: Handler) -> None:
    """Read the request, answer nothing, close the connection."""
    handler.close_connection = True


ACCEPTED = reply(202, body=b'{"success": true}')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        script = self.server.script
        script.seen.append(
            Seen(time.monotonic(), self.command, self.path, dict(self.headers.items()), body)
        )
        action = script.actions.popleft() if script.actions else script.default or ACCEPTED
        try:
            action(self)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = Script()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def then(self, *actions: Action, default: Action | None = None) -> ScriptedServer:
        self.script.actions.extend(actions)
        self.script.default = default
        return self


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    yield from _serve()


@pytest.fixture
def other_server() -> Iterator[ScriptedServer]:
    yield from _serve()


def _serve() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def client_for(url: str, *, budget: float = 5, timeout: float = 2, **kw: object) -> AttentiveClient:
    return AttentiveClient(
        url,
        KEY,
        requests_per_second=50,
        concurrency=2,
        timeout_seconds=timeout,
        max_retry_seconds=budget,
        tally=Tally(),
        **kw,  # type: ignore[arg-type]
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_fatal_names_api_url_and_is_never_followed(
    server: ScriptedServer, status: int
) -> None:
    server.then(reply(status, {"Location": "/landing"}), default=ACCEPTED)
    client = client_for(server.url)
    with pytest.raises(FatalAPIError) as caught:
        client.post(PATH, BODY, FALLBACK)
    client.close()
    message = str(caught.value)
    assert message.startswith("api_url: ")
    assert server.url in message and str(status) in message
    assert [(s.method, s.path) for s in server.script.seen] == [("POST", PATH)]
    assert caught.value.attempts == 1
    assert caught.value.maybe_applied is False and caught.value.sent is True
    assert client.tally.requests["retried"] == 0


def test_a_redirect_of_a_job_status_is_fatal_too(server: ScriptedServer) -> None:
    server.then(reply(302, {"Location": "http://127.0.0.2/portal"}), default=ACCEPTED)
    client = client_for(server.url)
    with pytest.raises(FatalAPIError, match=r"api_url: .*redirect to 127\.0\.0\.2"):
        client.get("/v2/bulk/job/j-1")
    client.close()
    assert len(server.script.seen) == 1


# --- answers that say the request was not processed


@pytest.mark.parametrize("statuses", [[408], [425], [408, 425, 429, 503]])
def test_408_and_425_are_retried_as_not_applied(
    server: ScriptedServer, statuses: list[int]
) -> None:
    server.then(*[reply(s) for s in statuses], default=ACCEPTED)
    client = client_for(server.url)
    answer = client.post(PATH, BODY, FALLBACK)
    client.close()
    assert answer.accepted and answer.outcome is Outcome.ACCEPTED
    assert answer.attempts == len(statuses) + 1
    assert not answer.optins_in_doubt  # not processed: the opt-ins were not applied
    assert [s.body for s in server.script.seen] == [BODY] * (len(statuses) + 1)


def test_a_plain_refusal_is_answered_not_retried(server: ScriptedServer) -> None:
    server.then(reply(400, body=b'{"message": "bad phone"}'))
    client = client_for(server.url)
    answer = client.post(PATH, BODY)
    client.close()
    assert (answer.status, answer.outcome, answer.message) == (400, Outcome.REFUSED, "bad phone")
    assert len(server.script.seen) == 1


@pytest.mark.parametrize("form", ["http-date", "seconds"])
def test_retry_after_is_honoured_in_both_forms(server: ScriptedServer, form: str) -> None:
    # An HTTP-date counts whole seconds: +3 s from now is between 2 and 3 s away.
    value = formatdate(time.time() + 3, usegmt=True) if form == "http-date" else "2"
    server.then(reply(503, {"Retry-After": value}), default=ACCEPTED)
    client = client_for(server.url, budget=20)
    answer = client.post(PATH, BODY, FALLBACK)
    client.close()
    first, second = server.script.seen
    assert answer.accepted and not answer.optins_in_doubt
    assert 1.5 <= second.at - first.at <= 8  # backoff alone would wait at most 0.5 s


# --- was it sent?


def test_a_closed_port_is_not_sent(server: ScriptedServer) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(requests.ConnectionError) as raw:
        requests.post(url + PATH, data=BODY, timeout=2)
    assert RetryPolicy().classify(raw.value) is Outcome.NOT_SENT
    client = client_for(url, budget=0.5)
    with pytest.raises(RetriesExhausted) as caught:
        client.post(PATH, BODY, FALLBACK)
    client.close()
    assert caught.value.sent is False and caught.value.maybe_applied is False
    assert caught.value.attempts >= 2
    assert "ConnectionError, not sent" in str(caught.value)


def test_a_drop_after_sending_is_unknown_and_retried_without_optins(
    server: ScriptedServer,
) -> None:
    server.then(drop)
    with pytest.raises(requests.ConnectionError) as raw:
        requests.post(server.url + PATH, data=BODY, timeout=2)
    assert RetryPolicy().classify(raw.value) is Outcome.RETRY_UNKNOWN
    server.then(drop, default=ACCEPTED)
    client = client_for(server.url)
    answer = client.post(PATH, BODY, FALLBACK)
    client.close()
    assert answer.accepted and answer.optins_in_doubt
    assert [s.body for s in server.script.seen[1:]] == [BODY, FALLBACK]


def test_a_hang_past_the_read_timeout_is_unknown(server: ScriptedServer) -> None:
    server.then(hang(3), default=ACCEPTED)
    client = client_for(server.url, timeout=0.5)
    answer = client.post(PATH, BODY, FALLBACK)
    client.close()
    assert answer.accepted and answer.optins_in_doubt and answer.attempts == 2
    assert client.tally.requests["timeout"] == 1


def test_drops_until_the_budget_is_spent_may_have_applied(server: ScriptedServer) -> None:
    server.then(default=drop)
    client = client_for(server.url, budget=1)
    with pytest.raises(RetriesExhausted) as caught:
        client.post(PATH, BODY, FALLBACK)
    client.close()
    assert caught.value.sent is True and caught.value.maybe_applied is True
    assert caught.value.attempts == len(server.script.seen) >= 2
    assert server.script.seen[0].body == BODY
    assert {s.body for s in server.script.seen[1:]} == {FALLBACK}


# --- the budget


def parse_exhausted(message: str) -> tuple[int, float]:
    found = re.search(r"failed (\d+) times? in ([\d.]+) s since its first failure", message)
    assert found, message
    return int(found.group(1)), float(found.group(2))


def test_the_budget_gives_up_on_time_with_a_true_message(server: ScriptedServer) -> None:
    server.then(default=reply(503))
    client = client_for(server.url, budget=2)
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as caught:
        client.post(PATH, BODY)
    elapsed = time.monotonic() - started
    client.close()
    attempts, seconds = parse_exhausted(str(caught.value))
    assert 1.8 <= elapsed <= 4.0
    assert attempts == len(server.script.seen) == caught.value.attempts
    assert abs(seconds - elapsed) <= 0.5
    assert "HTTP 503" in str(caught.value)


def test_the_budget_starts_at_the_first_failure_not_the_first_attempt(
    server: ScriptedServer,
) -> None:
    """The first attempt hangs 1 s before failing; the 2 s budget starts only then."""
    server.then(hang(3), default=reply(503))
    client = client_for(server.url, budget=2, timeout=1)
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as caught:
        client.post(PATH, BODY)
    elapsed = time.monotonic() - started
    client.close()
    _, seconds = parse_exhausted(str(caught.value))
    assert 2.7 <= elapsed <= 5.0
    assert abs(seconds - (elapsed - 1.0)) <= 0.5


@pytest.mark.parametrize(("first", "applied"), [(reply(503), False), (drop, True)])
def test_a_stop_says_what_the_request_did(
    server: ScriptedServer, first: Action, applied: bool
) -> None:
    server.then(first, default=reply(503, {"Retry-After": "30"}))
    stop = threading.Event()
    client = client_for(server.url, budget=60, stop=stop)
    threading.Timer(0.8, stop.set).start()
    with pytest.raises(StopRequested) as caught:
        client.post(PATH, BODY, FALLBACK)
    client.close()
    assert caught.value.sent is True
    assert caught.value.maybe_applied is applied
    assert caught.value.attempts == len(server.script.seen) >= 1


# --- proxies


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_api_url_never_goes_through_a_proxy(
    server: ScriptedServer, other_server: ScriptedServer, monkeypatch, host: str
) -> None:
    proxy = other_server
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = server.url.replace("127.0.0.1", host)
    requests.get(url + "/probe", timeout=5)  # requests itself does take the proxy here
    assert [s.path for s in proxy.script.seen] == [url + "/probe"]
    client = client_for(url)
    assert client.post(PATH, BODY).accepted
    client.close()
    assert len(proxy.script.seen) == 1
    assert [s.headers.get("Authorization") for s in server.script.seen] == [f"Bearer {KEY}"]


# --- a bulk job's results file


def test_results_follow_redirects_without_the_key_and_stay_out_of_logs(
    server: ScriptedServer, other_server: ScriptedServer, caplog
) -> None:
    storage = other_server
    signed = "/bucket/job-1.jsonl?X-Amz-Signature=5ec12e7&X-Amz-Expires=600"
    server.then(reply(302, {"Location": storage.url + signed}))
    storage.then(reply(200, body=b'{"response": {"status": 202}}\n'))
    masking.install((KEY,))
    caplog.set_level(logging.DEBUG)
    client = client_for(server.url)
    content = client.download(server.url + "/results/j-1?sig=abc123")
    client.close()
    assert content == b'{"response": {"status": 202}}\n'
    assert [s.path for s in storage.script.seen] == [signed]
    seen = server.script.seen + storage.script.seen
    assert all("Authorization" not in s.headers for s in seen)
    assert "urllib3" in caplog.text  # the debug lines were written, masked
    assert "5ec12e7" not in caplog.text and "abc123" not in caplog.text


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (reply(404, body=b"no such key"), "HTTP 404"),
        (reply(302, {"Location": "http://storage.invalid/x?sig=abc123"}), "not one the target"),
        (drop, "could not be fetched"),
    ],
)
def test_a_results_failure_never_quotes_the_address(
    server: ScriptedServer, action: Action, error: str
) -> None:
    server.then(action)
    client = client_for(server.url)
    with pytest.raises(ResultsUnavailable, match=error) as caught:
        client.download(server.url + "/results/j-1?sig=abc123")
    client.close()
    assert "abc123" not in str(caught.value) and caught.value.__context__ is None


def test_get_never_sends_the_key_to_another_host(server: ScriptedServer) -> None:
    client = client_for(server.url)
    with pytest.raises(ValueError, match="download"):
        client.get("http://127.0.0.2:9/v2/bulk/job/j-1")
    assert client.get(server.url + "/v2/bulk/job/j-1").accepted
    client.close()
    assert [s.path for s in server.script.seen] == ["/v2/bulk/job/j-1"]


def test_the_client_refuses_an_unsafe_api_url() -> None:
    with pytest.raises(FatalAPIError, match=r"^api_url: "):
        client_for("http://attacker.example\\@127.0.0.1:8787")
