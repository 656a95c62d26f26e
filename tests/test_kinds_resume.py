"""Events and opt-outs across a crash, at their endpoint's pace, and over generated input.

A SIGKILL of the target and its sending process mid-load, then a rerun, repeats at most the
requests that were in flight (counted by the sandbox); the unsubscribe endpoint's 5/s holds
with under 2% of its requests answered 429; and over generated inputs every record ends in
exactly one outcome and, with confirmation texts on, no opt-out is sent twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kindrun import MAPPINGS, OLD, RECENT, lines_for, v1_accepted, v1_report, v1_requests
from targetrun import base_config, run_target, start_target, write_input

from target_attentive.sandbox.process import SandboxProcess

IN_FLIGHT = 8  # max_concurrency: the most requests out at a kill


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "email": f"p{i}@example.com", "name": "Visited", "at": RECENT} for i in range(n)
    ]


def _orders(n: int) -> list[dict[str, Any]]:
    line = {"sku": "mug", "variant": "mug-w", "price": 8}
    return [
        {"id": i, "email": f"p{i}@example.com", "created_at": RECENT, "lines": [line]}
        for i in range(n)
    ]


def _lines(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": f"p{i}@example.com",
            "sku": "mug",
            "variant": "w",
            "price": 8,
            "at": RECENT,
        }
        for i in range(n)
    ]


def _optouts(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "phone": f"+1202555{i:04d}", "channel": "TEXT", "opted_out": True}
        for i in range(n)
    ]


def _who(body: dict[str, Any]) -> str:
    return body["user"].get("email") or body["user"]["phone"]


KINDS = {  # stream: (records, endpoint, how many; unsubscribe is paced at 5/s)
    "app_events": (_events, "custom_event", 300),
    "orders": (_orders, "purchase", 300),
    "cart_lines": (_lines, "add_to_cart", 300),
    "views": (_lines, "product_view", 300),
    "consent": (_optouts, "unsubscribe", 40),
}


@pytest.mark.parametrize(
    ("stream", "notifications"),
    [*((stream, False) for stream in KINDS), ("consent", True)],
)
def test_a_power_cut_and_a_rerun_repeat_at_most_what_was_in_flight(
    tmp_path: Path, stream: str, notifications: bool
) -> None:
    make, endpoint, count = KINDS[stream]
    records = make(count)
    batch = max(count // 6, 1)
    lines = lines_for({stream: records}, state_every=batch)
    with SandboxProcess(latency_ms=40) as sb:
        config = base_config(
            sb,
            tmp_path,
            stream_mappings=MAPPINGS,
            batch_size_rows=batch,
            max_concurrency=IN_FLIGHT,
            unsubscribe_notifications=notifications,
        )
        with start_target(config, lines, tmp_path, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline(), "the load ended before it could be killed"
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for pid in children:  # the sending process, with requests in flight
                os.kill(int(pid), signal.SIGKILL)
            proc.send_signal(signal.SIGKILL)
        before = v1_requests(v1_report(sb), endpoint)
        assert 0 < before < len(records), "the kill came too early or too late"
        rerun = run_target(config, write_input(tmp_path / "again.singer", lines), tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        report = v1_report(sb)
        arrived = [_who(a["payload"]) for a in v1_accepted(sb) if a["endpoint"] == endpoint]
    repeated = len(arrived) - len(set(arrived))
    assert repeated <= IN_FLIGHT, f"{repeated} sent twice"
    summary = rerun.summary()
    if notifications:  # claimed before sending: one whose fate the kill hid is never resent
        assert repeated == 0 and report["repeated_optouts"] == 0
        assert report["confirmation_texts"] == len(arrived)
        assert summary["accepted"] + summary["unchanged"] <= len(records)
    else:
        assert set(arrived) == {_who({"user": r}) for r in records}, "every record arrived"
        assert summary["accepted"] + summary["unchanged"] == len(records)
    if endpoint == "custom_event":
        assert report["repeated_event_ids"] == repeated
    if endpoint == "purchase":
        assert report["repeated_order_ids"] == repeated


def test_the_unsubscribe_limit_holds_with_few_429s(tmp_path: Path) -> None:
    consent = [
        {"id": i, "email": f"p{i}@example.com", "channel": "EMAIL", "opted_out": True}
        for i in range(50)
    ]
    path = write_input(tmp_path / "in.singer", lines_for({"consent": consent}))
    with SandboxProcess() as sb:
        config = base_config(sb, tmp_path, stream_mappings=MAPPINGS, max_concurrency=16)
        result = run_target(config, path, tmp_path)
        report = v1_report(sb)
    assert result.returncode == 0, result.stderr[-2000:]
    unsubscribe = report["endpoints"]["unsubscribe"]
    assert unsubscribe["busiest_second"]["accepted"] <= 5
    assert unsubscribe["counts"].get("429", 0) <= 0.02 * unsubscribe["requests"]
    assert report["optouts"] == 50


def _generated(rng: random.Random, n: int) -> dict[str, list[dict[str, Any]]]:
    """Events and opt-outs, some broken, some repeated, some old, some not opting out."""
    phones = [f"+1202555{i:04d}" for i in range(12)]
    events, consent = [], []
    for i in range(n):
        event = {"id": rng.randrange(n), "email": f"p{rng.randrange(20)}@example.com"}
        event["name"] = rng.choice(["Visited", "Bought", "Bad|Type", None])
        event["at"] = rng.choice([RECENT, OLD, "not a time", None])
        if rng.random() < 0.3:
            event["email"] = rng.choice(["not an email", None])
        events.append(event)
        opt = {"id": i, "phone": rng.choice([*phones, "12", None])}
        opt["email"] = rng.choice([f"p{rng.randrange(20)}@example.com", None])
        opt["channel"] = rng.choice(["TEXT", "EMAIL", "ALL", "FAX", None])
        opt["opted_out"] = rng.choice([True, True, False, None])
        consent.append(opt)
    return {"app_events": events, "consent": consent}


def test_generated_inputs_end_each_record_once_and_send_no_optout_twice(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("TARGET_ATTENTIVE_KINDS_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    cases = int(os.environ.get("TARGET_ATTENTIVE_KINDS_CASES", "3"))
    with SandboxProcess() as sb:
        for case in range(cases):
            sb.reset()
            where = tmp_path / f"case{case}"
            where.mkdir()
            streams = _generated(rng, rng.randrange(5, 40))
            path = write_input(where / "in.singer", lines_for(streams, state_every=7))
            config = base_config(
                sb,
                where,
                stream_mappings=MAPPINGS,
                unsubscribe_notifications=True,
                batch_size_rows=rng.choice([3, 10, 100]),
            )
            read = sum(len(records) for records in streams.values())
            for run in range(2):
                result = run_target(config, path, where)
                note = f"seed {seed}, case {case}, run {run}"
                assert result.returncode == 0, f"{note}\n{result.stderr[-2000:]}"
                summary = result.summary()
                settled = sum(summary[o] for o in ("accepted", "unchanged", "rejected", "filtered"))
                assert summary["read"] == settled == read, note
                assert summary["unsettled"] == 0, note
                if run == 1:
                    assert summary["accepted"] == 0, f"{note}: a rerun sent something again"
            report = v1_report(sb)
            note = f"seed {seed}, case {case}"
            assert report["repeated_optouts"] == 0, note
            assert report["repeated_event_ids"] == 0, note
            assert report["counts"].get("400", 0) == 0, note
