"""The sandbox's v1 endpoints over loopback HTTP, as the target meets them.

One in-process ``SandboxServer`` serves the module (reset and given its run-time defaults back
before each test); the command-line flags and the record file run the sandbox as a process.
Rules are the ones ``test_sandbox_v1.py`` lists; here they travel through the real server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from test_sandbox_v1 import (
    ACCEPTED_EVENTS,
    CART,
    CUSTOM,
    PHONE,
    PURCHASE,
    REFUSED,
    UNSUB,
    VIEW,
    cart,
    event,
    unsub,
)

from target_attentive.sandbox.config import RUNTIME_FIELDS, SandboxConfig
from target_attentive.sandbox.process import SandboxProcess
from target_attentive.sandbox.server import SandboxServer

KEY = {"Authorization": "Bearer sandbox-key"}
NO_SCOPES = {"Authorization": "Bearer sandbox-key-without-scopes"}
RUNTIME_DEFAULTS = {name: getattr(SandboxConfig(), name) for name in RUNTIME_FIELDS}
MARKETING_TEXT = {"subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]}
ROUTES = {
    CUSTOM: ("custom_event", event(), 200, "events:write"),
    VIEW: ("product_view", cart(), 200, "ecommerce:write"),
    CART: ("add_to_cart", cart(), 200, "ecommerce:write"),
    PURCHASE: ("purchase", cart(orderId="o-1"), 200, "ecommerce:write"),
    UNSUB: ("unsubscribe", unsub(), 202, "subscriptions:write"),
}


class Sandbox:
    """The started server and a session, with the control calls these tests make."""

    def __init__(self, server: SandboxServer, http: requests.Session) -> None:
        self.server = server
        self.url = server.url
        self.http = http

    def post(self, path: str, body: Any, headers: dict[str, str] = KEY, **kw: Any):
        return self.http.post(self.url + path, json=body, headers=headers, **kw)

    def configure(self, **changes: Any) -> requests.Response:
        return self.http.post(self.url + "/_sandbox/config", json=changes)

    def report(self) -> dict[str, Any]:
        return self.http.get(self.url + "/_sandbox/report").json()

    def v1(self) -> dict[str, Any]:
        return self.report()["v1"]

    def accepted(self) -> list[dict[str, Any]]:
        lines = self.http.get(self.url + "/_sandbox/v1/accepted").text.splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(port=0, seed=11)) as started:
        yield started


@pytest.fixture
def sb(server: SandboxServer) -> Iterator[Sandbox]:
    with requests.Session() as http:
        sandbox = Sandbox(server, http)
        assert http.post(server.url + "/_sandbox/reset", json={}).status_code == 200
        assert sandbox.configure(**RUNTIME_DEFAULTS).status_code == 200
        yield sandbox


def start_of_a_second() -> None:
    """Wait for a fresh one-second window, so a short burst fits in one."""
    fraction = time.time() % 1
    if fraction > 0.3:
        time.sleep(1.0 - fraction + 0.01)


def iso_ago(hours: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()


# --------------------------------------------------------------------- routes and refusals


@pytest.mark.parametrize("path", list(ROUTES))
def test_each_route_answers_and_records_what_it_took(sb: Sandbox, path: str) -> None:
    endpoint, body, status, _ = ROUTES[path]
    r = sb.post(path, body)
    assert r.status_code == status, r.text
    limit = "5" if path == UNSUB else "150"
    assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == (
        limit,
        str(int(limit) - 1),
    )
    if status == 200:
        assert r.content == b""
    else:
        assert r.json()["user"] == body["user"]
    assert [(a["endpoint"], a["payload"]) for a in sb.accepted()] == [(endpoint, body)]
    traffic = sb.v1()["endpoints"][endpoint]
    assert (traffic["requests"], traffic["counts"]) == (1, {str(status): 1})


@pytest.mark.parametrize("path", list(ROUTES))
def test_auth_then_route_refusals_apply_nothing(sb: Sandbox, path: str) -> None:
    endpoint, body, _, scope = ROUTES[path]
    refused = [
        (sb.post(path, body, headers={}), 401),
        (sb.post(path, body, headers={"Authorization": "Bearer nope"}), 401),
        (sb.post(path, body, headers=NO_SCOPES), 403),
        (sb.http.get(sb.url + path, headers=KEY), 405),
        (sb.post(path + "/more", body), 404),
        (sb.http.get(sb.url + path), 401),  # auth comes before the method
    ]
    for r, status in refused:
        assert r.status_code == status, r.text
        error = r.json()
        assert set(error) == {"timestamp", "status", "error", "message", "path"}
        assert error["status"] == status
        assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= r.headers.keys()
    assert scope in refused[2][0].json()["message"]
    assert sb.accepted() == []
    report = sb.v1()
    assert report["endpoints"][endpoint]["counts"] == {"401": 3, "403": 1, "405": 1}
    assert report["endpoints"]["other"]["counts"] == {"404": 1}
    limit = 5 if path == UNSUB else 150  # nothing refused spent from the window
    assert sb.post(path, body).headers["x-ratelimit-remaining"] == str(limit - 1)


@pytest.mark.parametrize(("path", "body", "where"), REFUSED)
def test_each_rule_is_a_400_naming_the_field(sb: Sandbox, path: str, body: Any, where: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body)
    headers = {**KEY, "Content-Type": "application/json"}
    r = sb.http.post(sb.url + path, data=data, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{where}: "), r.json()["message"]
    assert r.json()["path"] == path
    assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= r.headers.keys()
    assert sb.accepted() == []
    assert sb.v1()["counts"] == {"400": 1}


def test_valid_bodies_are_all_accepted(sb: Sandbox) -> None:
    for path, body in ACCEPTED_EVENTS:
        assert sb.post(path, body).status_code == 200, (path, body)
    assert [a["payload"] for a in sb.accepted()] == [body for _, body in ACCEPTED_EVENTS]


def test_an_unsubscribe_takes_no_external_identifiers(sb: Sandbox) -> None:
    """Attentive's unsubscribe user (UserDto1) has phone and email only; events take more."""
    external = {"externalIdentifiers": {"clientUserId": "u-1"}}
    r = sb.post(UNSUB, {"user": {"phone": PHONE, **external}})
    assert r.status_code == 400
    assert r.json()["message"].startswith("user.externalIdentifiers: ")
    assert sb.post(UNSUB, {"user": {"clientUserId": "u-1"}}).status_code == 400
    assert sb.post(CUSTOM, event(user=external)).status_code == 200


# --------------------------------------------------------------------- limits


def test_unsubscribe_holds_5_per_second_and_events_150_per_path(sb: Sandbox) -> None:
    start_of_a_second()
    replies = [sb.post(UNSUB, unsub()) for _ in range(7)]
    assert [r.status_code for r in replies] == [202] * 5 + [429] * 2
    assert [r.headers["x-ratelimit-remaining"] for r in replies] == [
        "4",
        "3",
        "2",
        "1",
        "0",
        "0",
        "0",
    ]
    assert all(r.headers["x-ratelimit-limit"] == "5" for r in replies)
    assert "Retry-After" not in replies[-1].headers
    assert "5 per second" in replies[-1].json()["message"]
    assert sb.post(CUSTOM, event()).headers["x-ratelimit-limit"] == "150"
    report = sb.v1()
    assert report["endpoints"]["unsubscribe"]["counts"] == {"202": 5, "429": 2}
    assert report["endpoints"]["unsubscribe"]["busiest_second"]["accepted"] == 5
    assert report["unsubscribes"] == 5


def test_each_events_path_has_its_own_window(sb: Sandbox) -> None:
    assert sb.configure(event_rate_limit=3).status_code == 200
    start_of_a_second()
    statuses = [sb.post(CUSTOM, event()).status_code for _ in range(4)]
    others = [sb.post(path, cart()).status_code for path in (VIEW, CART, PURCHASE)]
    assert (statuses, others) == ([200, 200, 200, 429], [200, 200, 200])
    counts = {name: e["counts"] for name, e in sb.v1()["endpoints"].items() if e["requests"]}
    assert counts == {
        "custom_event": {"200": 3, "429": 1},
        "product_view": {"200": 1},
        "add_to_cart": {"200": 1},
        "purchase": {"200": 1},
    }


def test_limits_and_retry_after_change_while_running(sb: Sandbox) -> None:
    assert sb.configure(unsubscribe_rate_limit=2, retry_after=True).status_code == 200
    start_of_a_second()
    replies = [sb.post(UNSUB, unsub()) for _ in range(3)]
    assert [r.status_code for r in replies] == [202, 202, 429]
    assert replies[2].headers["Retry-After"] == "1"
    assert replies[2].headers["x-ratelimit-limit"] == "2"
    assert sb.configure(unsubscribe_rate_limit=50).status_code == 200
    r = sb.post(UNSUB, unsub())
    assert r.status_code == 202 and r.headers["x-ratelimit-limit"] == "50"
    for bad in ({"unsubscribe_rate_limit": 0}, {"event_rate_limit": 1.5}):
        r = sb.configure(**bad)
        assert r.status_code == 400 and next(iter(bad)) in r.json()["message"]
    config = sb.http.get(sb.url + "/_sandbox/config").json()
    assert (config["unsubscribe_rate_limit"], config["event_rate_limit"]) == (50, 150)


# --------------------------------------------------------------------- faults


def test_a_5xx_fault_applies_nothing_and_a_retry_goes_through(sb: Sandbox) -> None:
    sb.configure(fault_5xx_rate=1.0, fault_status=503)
    for path, (_, body, _, _) in ROUTES.items():
        r = sb.post(path, body)
        assert r.status_code == 503 and "x-ratelimit-remaining" in r.headers
    assert sb.accepted() == []
    sb.configure(fault_5xx_rate=0)
    assert sb.post(UNSUB, unsub()).status_code == 202
    report = sb.v1()
    assert report["counts"] == {"202": 1, "503": 5}
    assert report["optouts"] == 3 and report["repeated_optouts"] == 0


def test_a_dropped_request_applies_nothing(sb: Sandbox) -> None:
    sb.configure(fault_drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        sb.post(PURCHASE, cart(orderId="o-9"))
    with pytest.raises(requests.ConnectionError):
        sb.post(UNSUB, unsub())
    assert sb.accepted() == []
    report = sb.v1()
    assert report["counts"] == {"dropped": 2}
    assert report["ecommerce"]["purchase"] == 0 and report["unsubscribes"] == 0


def test_a_slow_answer_was_applied_before_the_client_gave_up(sb: Sandbox) -> None:
    sb.configure(fault_slow_rate=1.0, slow_seconds=1.5)
    with pytest.raises(requests.Timeout):
        sb.post(CUSTOM, event(externalEventId="e-1"), timeout=0.4)
    sb.configure(fault_slow_rate=0)
    assert sb.post(CUSTOM, event(externalEventId="e-1")).status_code == 200  # the retry
    report = sb.v1()
    assert report["events_by_type"] == {"Order Shipped": 2}
    assert report["repeated_event_ids"] == 1


def test_latency_delays_v1_answers(sb: Sandbox) -> None:
    sb.configure(latency_ms=200)
    start = time.monotonic()
    assert sb.post(CUSTOM, event()).status_code == 200
    assert time.monotonic() - start >= 0.2


# --------------------------------------------------------------------- counters


def test_event_counters(sb: Sandbox) -> None:
    for path, body in (
        (CUSTOM, event(externalEventId="e-1")),
        (CUSTOM, event(externalEventId="e-1")),
        (CUSTOM, event(type="Signed Up", externalEventId="e-2", occurredAt=iso_ago(13))),
        (CUSTOM, event(type="Signed Up", occurredAt=iso_ago(11))),
        (PURCHASE, cart(orderId="o-1")),
        (PURCHASE, cart(orderId="o-1", occurredAt=iso_ago(24))),
        (PURCHASE, cart()),
        (VIEW, cart()),
    ):
        assert sb.post(path, body).status_code == 200
    report = sb.v1()
    assert report["events_by_type"] == {"Order Shipped": 2, "Signed Up": 2}
    assert report["repeated_event_ids"] == 1 and report["events_without_id"] == 1
    assert report["ecommerce"] == {"product_view": 1, "add_to_cart": 0, "purchase": 3}
    assert report["repeated_order_ids"] == 1 and report["purchases_without_order_id"] == 1
    assert report["old_events"] == {
        "custom_event": 1,
        "product_view": 0,
        "add_to_cart": 0,
        "purchase": 1,
    }
    assert report["old_events_total"] == 2


def test_opt_out_counters_and_confirmation_texts(sb: Sandbox) -> None:
    silent = {"notification": {"disabled": True}}
    answers = []
    for body in (
        unsub(**MARKETING_TEXT, **silent),
        unsub(**MARKETING_TEXT, **silent),
        unsub(**MARKETING_TEXT),  # texts a confirmation to someone already opted out
        {"user": {"email": "ann@example.com"}},  # email only: every type, no text
        {"user": {"email": "ANN@example.com"}, **silent},
    ):
        r = sb.post(UNSUB, body)  # five: within the limit whatever the windows
        assert r.status_code == 202
        answers.append(
            [s["subscriptionUnsubscribeStatus"] for s in r.json()["subscriptionResponses"]]
        )
    assert [a[0] for a in answers] == [
        "NEWLY_UNSUBSCRIBED",
        "PREVIOUSLY_UNSUBSCRIBED",
        "PREVIOUSLY_UNSUBSCRIBED",
        "NEWLY_UNSUBSCRIBED",
        "PREVIOUSLY_UNSUBSCRIBED",
    ]
    report = sb.v1()
    assert (report["unsubscribes"], report["unsubscribes_from_everything"]) == (5, 2)
    assert (report["optouts"], report["repeated_optouts"]) == (4, 5)
    assert (report["confirmation_texts"], report["confirmation_texts_to_unsubscribed"]) == (1, 1)
    assert report["people_opted_out"] == 2
    optouts = sb.http.get(sb.url + "/_sandbox/v1/optouts").json()
    assert {(o["channel"], o["type"], o["count"]) for o in optouts if o["channel"] == "TEXT"} == {
        ("TEXT", "MARKETING", 3)
    }


def test_a_v2_opt_in_re_arms_the_marketing_opt_out(sb: Sandbox) -> None:
    def opt_out() -> str:  # four in all: within the limit
        r = sb.post(UNSUB, unsub(**MARKETING_TEXT, notification={"disabled": True}))
        return r.json()["subscriptionResponses"][0]["subscriptionUnsubscribeStatus"]

    def upsert(identifiers: dict[str, Any], channel: str) -> None:
        sub = {"signUpSourceId": "src-1", "channel": channel}
        body = {"identifiers": identifiers, "subscriptions": [sub]}
        assert sb.post("/v2/user/attributes", body).status_code == 202

    assert opt_out() == "NEWLY_UNSUBSCRIBED"
    assert opt_out() == "PREVIOUSLY_UNSUBSCRIBED"
    upsert({"phone": PHONE, "email": "ann@example.com"}, "EMAIL")  # another channel
    assert opt_out() == "PREVIOUSLY_UNSUBSCRIBED"
    upsert({"email": "ann@example.com"}, "TEXT")  # found by email; the person's phone counts
    assert opt_out() == "NEWLY_UNSUBSCRIBED"
    report = sb.report()
    assert report["v1"]["repeated_optouts"] == 2
    assert report["duplicate_optins"] == 0 and report["accepted"] == 2


def test_a_bulk_opt_in_re_arms_it_when_its_job_completes(sb: Sandbox) -> None:
    sb.configure(job_delay_seconds=0.2)
    body = unsub(**MARKETING_TEXT, notification={"disabled": True})
    assert sb.post(UNSUB, body).status_code == 202
    sub = {"signUpSourceId": "src-1", "channel": "TEXT"}
    bulk = {"users": [{"identifiers": {"phone": PHONE}, "subscriptions": [sub]}]}
    assert sb.post("/v2/bulk/user/attributes", bulk).status_code == 202
    time.sleep(0.3)
    assert sb.report()["jobs_by_status"] == {"COMPLETED": 1}
    r = sb.post(UNSUB, body)
    assert r.json()["subscriptionResponses"][0]["subscriptionUnsubscribeStatus"].startswith("NEW")
    assert sb.v1()["repeated_optouts"] == 0


def test_reset_forgets_v1_counters_opt_outs_and_windows(sb: Sandbox) -> None:
    start_of_a_second()
    for _ in range(5):
        sb.post(UNSUB, unsub())
    assert sb.post(UNSUB, unsub()).status_code == 429
    sb.http.post(sb.url + "/_sandbox/reset", json={})
    r = sb.post(UNSUB, unsub())
    assert r.status_code == 202 and r.headers["x-ratelimit-remaining"] == "4"
    assert r.json()["subscriptionResponses"][0]["subscriptionUnsubscribeStatus"].startswith("NEW")
    assert sb.v1()["counts"] == {"202": 1}


# --------------------------------------------------------------------- command line and record


def test_cli_flags_set_the_v1_limits_and_the_record_keeps_v1_bodies() -> None:
    sandbox = SandboxProcess(event_rate_limit=2, unsubscribe_rate_limit=1)
    with sandbox, requests.Session() as http:
        start_of_a_second()
        custom = [http.post(sandbox.url + CUSTOM, json=event(), headers=KEY) for _ in range(3)]
        optouts = [http.post(sandbox.url + UNSUB, json=unsub(), headers=KEY) for _ in range(2)]
        assert [r.status_code for r in custom] == [200, 200, 429]
        assert [r.status_code for r in optouts] == [202, 429]
        assert custom[0].headers["x-ratelimit-limit"] == "2"
        assert optouts[0].headers["x-ratelimit-limit"] == "1"
        assert [a["endpoint"] for a in sandbox.v1_accepted()] == ["custom_event"] * 2 + [
            "unsubscribe"
        ]
        assert sandbox.optouts()[0]["channel"] == "TEXT"
    record = sandbox.record()
    assert [a["payload"] for a in record["v1_accepted"]] == [event(), event(), unsub()]
    report = record["report"]
    assert report["v1"]["endpoints"]["custom_event"]["counts"] == {"200": 2, "429": 1}
    assert (report["config"]["event_rate_limit"], report["config"]["unsubscribe_rate_limit"]) == (
        2,
        1,
    )
    assert report["accepted"] == 0  # v2 counters stay v2's
    sandbox.close()
