"""Events and opt-outs through the real CLI to the sandbox (issue 15), kind by kind.

Valid records arrive with the right body at the right endpoint; a rule's violation is
omitted or rejected with a field-level reason before anything is sent; a rerun sends
nothing again; no confirmation text is counted unless asked for, and then at most one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kindrun import (
    MAPPINGS,
    OLD,
    RECENT,
    interleaved,
    lines_for,
    v1_accepted,
    v1_report,
    v1_requests,
)
from targetrun import base_config, read_lines, run_target, write_input

from target_attentive.sandbox.process import SandboxProcess


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with SandboxProcess() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(sandbox: Any) -> None:
    sandbox.reset()


def _config(sandbox: Any, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return base_config(sandbox, tmp_path, stream_mappings=MAPPINGS, **overrides)


def _by_endpoint(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for row in v1_accepted(sandbox):
        found.setdefault(row["endpoint"], []).append(row["payload"])
    return found


VALID = {
    "app_events": [
        {"id": 1, "email": "Ann@Example.com", "name": "Plan Upgraded", "at": RECENT, "plan": "pro"},
        {"id": 2, "email": "bob@example.com", "name": "Trial Started", "at": RECENT, "seats": 3},
    ],
    "orders": [
        {
            "id": 1001,
            "email": "ann@example.com",
            "created_at": RECENT,
            "currency": "eur",
            "lines": [
                {"sku": "shirt", "variant": "shirt-m", "price": "19.90"},
                {"sku": "cap", "variant": "cap-1", "price": 5},
            ],
        }
    ],
    "cart_lines": [
        {
            "id": 7,
            "email": "bob@example.com",
            "sku": "mug",
            "variant": "mug-w",
            "price": 8,
            "at": RECENT,
        }
    ],
    "views": [
        {
            "id": 9,
            "email": "bob@example.com",
            "sku": "mug",
            "variant": "mug-w",
            "price": 8,
            "at": RECENT,
        }
    ],
    "consent": [
        {
            "id": 1,
            "phone": "+12025550123",
            "email": "cy@example.com",
            "channel": "ALL",
            "opted_out": True,
        },
        {"id": 2, "email": "dee@example.com", "channel": "email", "opted_out": True},
        {"id": 3, "email": "eve@example.com", "channel": "EMAIL", "opted_out": False},
    ],
}


def test_each_kind_arrives_with_its_body_and_a_rerun_sends_nothing(
    sandbox: Any, tmp_path: Path
) -> None:
    path = write_input(tmp_path / "in.singer", lines_for(VALID))
    config = _config(sandbox, tmp_path)
    first = run_target(config, path, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = first.summary()
    assert (summary["accepted"], summary["filtered"], summary["rejected"]) == (7, 1, 0)
    assert first.states[-1] == {"n": 8, "end": True}
    sent = _by_endpoint(sandbox)
    events = sorted(sent["custom_event"], key=lambda p: p["type"])
    assert [(e["type"], e["user"], e.get("properties")) for e in events] == [
        ("Plan Upgraded", {"email": "ann@example.com"}, {"plan": "pro"}),
        ("Trial Started", {"email": "bob@example.com"}, {"seats": 3}),
    ]
    assert all(e["occurredAt"] and e["externalEventId"] for e in events)
    (order,) = sent["purchase"]
    assert order["orderId"] == "1001"
    assert order["items"] == [
        {
            "productId": "shirt",
            "productVariantId": "shirt-m",
            "price": [{"value": 19.9, "currency": "EUR"}],
        },
        {
            "productId": "cap",
            "productVariantId": "cap-1",
            "price": [{"value": 5, "currency": "EUR"}],
        },
    ]
    (cart,) = sent["add_to_cart"]
    assert cart["items"][0]["price"] == [{"value": 8, "currency": "USD"}]  # default_currency
    (view,) = sent["product_view"]
    assert view["user"] == {"email": "bob@example.com"} and "orderId" not in view
    unsubscribes = {p["user"].get("email"): p for p in sent["unsubscribe"]}
    assert unsubscribes["cy@example.com"]["subscriptions"] == [
        {"type": "MARKETING", "channel": "TEXT"},
        {"type": "MARKETING", "channel": "EMAIL"},
    ]
    assert unsubscribes["dee@example.com"]["subscriptions"] == [
        {"type": "MARKETING", "channel": "EMAIL"}
    ]
    assert all(p["notification"] == {"disabled": True} for p in unsubscribes.values())
    report = v1_report(sandbox)
    assert report["confirmation_texts"] == 0
    before = sum(v1_requests(report, e) for e in report["endpoints"])

    again = run_target(config, path, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = again.summary()
    assert (summary["accepted"], summary["unchanged"], summary["filtered"]) == (0, 7, 1)
    report = v1_report(sandbox)
    assert sum(v1_requests(report, e) for e in report["endpoints"]) == before
    assert report["repeated_event_ids"] == report["repeated_optouts"] == 0


def test_violations_are_omitted_or_rejected_with_their_field_before_sending(
    sandbox: Any, tmp_path: Path
) -> None:
    streams = {
        "app_events": [
            {"id": 1, "email": "ann@example.com", "name": "Bad, Type", "at": RECENT},
            {"id": 2, "email": "ann@example.com", "name": "Ok", "at": "yesterday"},
            {"id": 3, "email": "not an email", "name": "Ok", "at": RECENT, "plan": "pro"},
        ],
        "orders": [
            {
                "id": 5,
                "email": "ann@example.com",
                "created_at": RECENT,
                "lines": [{"sku": "shirt", "variant": "shirt-m"}],
            },
            {
                "id": 8,
                "email": "ann@example.com",
                "phone": "call me",
                "created_at": RECENT,
                "lines": [{"sku": "shirt", "variant": "shirt-m", "price": 3}],
            },
        ],
        "consent": [{"id": 6, "email": "ann@example.com", "channel": "TEXT", "opted_out": True}],
    }
    path = write_input(tmp_path / "in.singer", lines_for(streams))
    result = run_target(_config(sandbox, tmp_path), path, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = read_lines(tmp_path / "rejects.jsonl")
    rejected = {
        (x["stream"], x["position"]): x["reason"] for x in lines if x["outcome"] == "rejected"
    }
    omitted = {(x["stream"], x["position"]): x["field"] for x in lines if x["outcome"] == "omitted"}
    assert rejected[("app_events", 1)].startswith("type:")
    assert rejected[("app_events", 2)].startswith("occurredAt:")
    assert rejected[("app_events", 3)].startswith("user.email: is not an email address")
    assert rejected[("orders", 1)].startswith("items[0].price:")
    assert rejected[("consent", 1)].startswith("user.phone:")
    assert omitted == {("orders", 2): "user.phone"}
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (1, 5)
    report = v1_report(sandbox)
    assert report["counts"].get("400", 0) == 0  # every violation caught before sending
    (order,) = [row["payload"] for row in v1_accepted(sandbox)]
    assert order["user"] == {"email": "ann@example.com"}


def test_old_events_are_counted_and_max_event_age_hours_sets_them_aside(
    sandbox: Any, tmp_path: Path
) -> None:
    records = [
        {"id": 1, "email": "ann@example.com", "name": "Seen", "at": RECENT},
        {"id": 2, "email": "ann@example.com", "name": "Seen", "at": OLD},
    ]
    path = write_input(tmp_path / "in.singer", lines_for({"app_events": records}))
    kept = run_target(_config(sandbox, tmp_path), path, tmp_path)
    assert kept.returncode == 0, kept.stderr[-3000:]
    assert kept.summary()["requests"]["old_events"] == 1
    assert "1 events occurred more than 12 hours before this run" in kept.stderr
    assert v1_report(sandbox)["old_events_total"] == 1
    sandbox.reset()
    other = tmp_path / "aged"
    other.mkdir()
    aged = run_target(_config(sandbox, other, max_event_age_hours=24), path, other)
    summary = aged.summary()
    assert (summary["accepted"], summary["filtered"]) == (1, 1)
    assert "occurred more than 24 hours ago (max_event_age_hours)" in summary["filtered_reasons"]
    assert v1_report(sandbox)["old_events_total"] == 0


@pytest.mark.parametrize("notifications", [False, True])
def test_confirmation_texts_only_when_asked_and_then_once(
    sandbox: Any, tmp_path: Path, notifications: bool
) -> None:
    consent = [
        {"id": i, "phone": f"+1202555{i:04d}", "channel": "TEXT", "opted_out": True}
        for i in range(1, 6)
    ]
    consent.append(dict(consent[0], id=99))  # the same opt-out twice in one run
    path = write_input(tmp_path / "in.singer", lines_for({"consent": consent}))
    config = _config(sandbox, tmp_path, unsubscribe_notifications=notifications)
    for _ in range(2):
        result = run_target(config, path, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    report = v1_report(sandbox)
    assert report["confirmation_texts"] == (5 if notifications else 0)
    assert report["repeated_optouts"] == 0
    assert report["optouts"] == 5


PEOPLE_MAPPING = {
    "identifiers": {"email": "email", "phone": "phone"},
    "subscriptions": [{"channel": "TEXT", "signUpSourceId": "123", "when": "sms"}],
}


def _opted_out(sandbox: Any, phone: str) -> bool:
    raw = sandbox._control("GET", "/_sandbox/v1/optouts")
    return any(row["address"] == phone and row["channel"] == "TEXT" for row in json.loads(raw))


@pytest.mark.parametrize("last", ["opt-in", "opt-out"])
def test_the_last_choice_in_the_input_holds_whichever_stream_drains_first(
    sandbox: Any, tmp_path: Path, last: str
) -> None:
    """An opt-in rides a people stream, an opt-out an unsubscribe stream."""
    phone = "+12025550188"
    optout = ("consent", {"id": 1, "phone": phone, "channel": "TEXT", "opted_out": True})
    optin = ("people", {"email": "zed@example.com", "phone": phone, "sms": True})
    pairs = [optout, optin] if last == "opt-in" else [optin, optout]
    path = write_input(tmp_path / "in.singer", interleaved(pairs))
    mappings = dict(MAPPINGS, people=PEOPLE_MAPPING)
    config = base_config(sandbox, tmp_path, stream_mappings=mappings, subscriptions_enabled=True)
    result = run_target(config, path, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _opted_out(sandbox, phone) == (last == "opt-out")
    # A later run's opt-out is sent, and then holds.
    again = write_input(
        tmp_path / "again.singer", interleaved([("consent", dict(optout[1], id=2))])
    )
    result = run_target(config, again, tmp_path)
    if last == "opt-in":
        assert result.summary()["accepted"] == 1
    assert _opted_out(sandbox, phone)
    assert v1_report(sandbox)["confirmation_texts"] == 0


def test_an_opt_out_then_an_opt_in_in_one_run_sends_a_recorded_opt_in_again(
    sandbox: Any, tmp_path: Path
) -> None:
    phone = "+12025550177"
    optin = ("people", {"email": "yan@example.com", "phone": phone, "sms": True})
    optout = ("consent", {"id": 1, "phone": phone, "channel": "TEXT", "opted_out": True})
    mappings = dict(MAPPINGS, people=PEOPLE_MAPPING)
    config = base_config(sandbox, tmp_path, stream_mappings=mappings, subscriptions_enabled=True)
    first = run_target(config, write_input(tmp_path / "in.singer", interleaved([optin])), tmp_path)
    assert first.summary()["requests"].get("optins_sent") == 1
    both = write_input(tmp_path / "both.singer", interleaved([optout, optin]))
    result = run_target(config, both, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.summary()["requests"].get("optins_sent") == 1  # re-armed by the opt-out
    assert not _opted_out(sandbox, phone)
