"""Routing streams by kind (issue 15): start-up errors, `kind: users`, the order of opt-ins
and opt-outs, and what crosses to the sending process."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from kindrun import MAPPINGS, RECENT, lines_for
from targetrun import person, read_lines, run_target, singer_lines, write_input

from target_attentive.consent import OPT_IN, OPT_OUT, ConsentOrder
from target_attentive.kind_outgoing import KindOutgoing, KindSent
from target_attentive.outgoing import Refusal
from target_attentive.settings import check_settings

BASE = {"api_key": "test-key"}


def _errors(**config: object) -> list[str]:
    return check_settings({**BASE, **config})


def test_the_kinds_mappings_and_settings_are_fine() -> None:
    assert _errors(stream_mappings=MAPPINGS, default_currency="EUR", max_event_age_hours=48) == []


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        (
            {"kind": "custom_event", "event_type": "x", "properties": {"a{b": "a"}},
            ".properties.a{b",
        ),
        ({"kind": "custom_event", "event_type": "Bad|Type"}, ".event_type"),
        ({"kind": "pageview"}, ".kind"),
        ({"kind": "unsubscribe", "identifiers": {"email": "e"}}, ".channel"),
        (
            {"kind": "add_to_cart", "item": {"productId": "p", "price": "p"}},
            ".item.productVariantId",
        ),
        ({"kind": "product_view", "order_id": "o", "item": {}}, ".order_id"),
    ],
)
def test_a_kind_mapping_that_cannot_work_is_a_start_up_error_naming_it(
    mapping: dict, named: str
) -> None:
    errors = _errors(stream_mappings={"events": mapping})
    assert any(e.startswith(f"stream_mappings.events{named}") for e in errors), errors


@pytest.mark.parametrize(
    ("setting", "value"),
    [("default_currency", "usd"), ("default_currency", "EURO"), ("max_event_age_hours", 0)],
)
def test_kind_settings_out_of_range(setting: str, value: object) -> None:
    (error,) = _errors(**{setting: value})
    assert error.startswith(f"{setting}: ")


def test_confirmation_texts_need_the_ledger() -> None:
    (error,) = _errors(unsubscribe_notifications=True, ledger_enabled=False)
    assert error.startswith("unsubscribe_notifications: ")


def test_a_start_up_error_stops_the_cli_before_anything_is_read(tmp_path: Path) -> None:
    mappings = {"app_events": {**MAPPINGS["app_events"], "properties": {"plan|tier": "plan"}}}
    path = write_input(tmp_path / "in.singer", lines_for({"app_events": []}))
    result = run_target({"dry_run": True, "stream_mappings": mappings}, path, tmp_path)
    assert result.returncode != 0 and result.stdout == ""
    assert "stream_mappings.app_events.properties.plan|tier" in result.stderr


def test_kind_users_is_the_users_path_byte_for_byte(tmp_path: Path) -> None:
    lines = singer_lines([person(i, phone=f"+1212555{i:04d}") for i in range(20)])
    path = write_input(tmp_path / "in.singer", lines)
    written = []
    for mapping in (None, {"kind": "users"}):
        where = tmp_path / ("kind" if mapping else "plain")
        where.mkdir()
        config = {"dry_run": True, "ledger_enabled": False, "mapping": mapping}
        result = run_target(config, path, where)
        assert result.returncode == 0, result.stderr[-2000:]
        written.append((where / "attentive_dry_run.jsonl").read_bytes())
    assert written[0] == written[1] and written[0]


def test_a_dry_run_writes_each_body_with_its_endpoint(tmp_path: Path) -> None:
    records = [{"id": 1, "email": "a@example.com", "name": "Visited", "at": RECENT}] * 2
    path = write_input(tmp_path / "in.singer", lines_for({"app_events": records}))
    config = {"dry_run": True, "stream_mappings": MAPPINGS}
    result = run_target(config, path, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = read_lines(tmp_path / "attentive_dry_run.jsonl")
    assert (line["kind"], line["endpoint"]) == ("custom_event", "/v1/events/custom")
    summary = result.summary()
    assert (summary["written"], summary["unchanged"]) == (1, 1)  # the same event twice


def test_the_last_choice_read_stands_whichever_is_planned_first() -> None:
    order = ConsentOrder()
    assert order.stands("phone:+1", "TEXT", 20, OPT_OUT)
    assert not order.stands("phone:+1", "TEXT", 10, OPT_IN)  # read before the opt-out
    assert order.stands("phone:+1", "EMAIL", 10, OPT_IN)  # another channel
    assert order.stands("phone:+1", "TEXT", 30, OPT_IN)
    assert not order.stands("phone:+1", "TEXT", 25, OPT_OUT)
    assert order.stands("phone:+1", "TEXT", 5, OPT_IN)  # same choice as the latest


def test_an_optout_goes_once_until_an_optin_re_arms_it() -> None:
    order = ConsentOrder()
    key = ("phone:+1", "TEXT", "MARKETING")
    assert order.new_optouts([key], set()) == [key]
    assert order.new_optouts([key], set()) == []
    assert (
        order.new_optouts([("phone:+2", "TEXT", "MARKETING")], {("phone:+2", "TEXT", "MARKETING")})
        == []
    )
    order.stands("phone:+1", "TEXT", 7, OPT_IN)
    assert order.new_optouts([key], {key}) == [key]  # re-armed, though the ledger holds it


def test_kind_bodies_and_their_outcome_cross_as_json() -> None:
    item = KindOutgoing(
        "unsubscribe",
        "/v1/subscriptions/unsubscribe",
        {"user": {"phone": "+1"}, "subscriptions": [{"type": "MARKETING", "channel": "TEXT"}]},
        None,
        [("phone:+1", "TEXT", "MARKETING")],
        True,
    )
    assert KindOutgoing.from_wire(orjson.loads(orjson.dumps(item.to_wire()))) == item
    sent = KindSent([0, 2], [Refusal(1, 400, "no", 1)], [], None, "", [3])
    assert KindSent.from_wire(json.loads(json.dumps(sent.to_wire()))) == sent
