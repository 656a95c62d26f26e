"""Opt-in claims follow what each request's answer says, through the real CLI (issue 11, 1).

A claim is released when nothing was applied (a refusal, a request that never left, a
401/403/404, retries of "not processed" answers running out), in doubt when something
may have been (a 500, a timeout), confirmed on a 202; nothing is left `pending` by a run
that ended on its own, and the start-up warning calls each status what it is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from targetrun import base_config, person, run_target, singer_lines, start_target, write_input

from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess

MAPPING = {
    "identifiers": {"email": "email", "phone": "phone"},
    "subscriptions": [{"channel": "TEXT", "signUpSourceId": "4242", "when": "sms_opt_in"}],
}


def opted_in(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        person(i, phone=f"+1212555{i:04d}", sms_opt_in=True) for i in range(start, start + count)
    ]


def optin_counts(config: dict[str, Any]) -> dict[str, int]:
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        return ledger.counts()["optins"]


def optins_command(config: dict[str, Any], status: str) -> tuple[list[dict], str]:
    command = [sys.executable, "-m", "target_attentive.ledger_cli"]
    done = subprocess.run(
        [*command, "--ledger-url", config["ledger_url"], "optins", "--status", status],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "opt-ins" in line and "WARNING" in line]


@pytest.mark.parametrize(
    ("setting", "status"),
    [
        ({"api_key": "not-the-key"}, "401"),
        ("forbidden", "403"),
        ({"api_url": "/wrong/base"}, "404"),
    ],
    ids=["401", "403", "404"],
)
def test_a_fatal_answer_releases_every_claim(tmp_path: Path, setting: Any, status: str) -> None:
    people = opted_in(5)
    source = write_input(tmp_path / "in.singer", singer_lines(people))
    with SandboxProcess() as sb:
        good = base_config(sb, tmp_path, subscriptions_enabled=True, mapping=MAPPING)
        if setting == "forbidden":
            bad = dict(good, api_key=sb.forbidden_key)
        elif "api_url" in setting:
            bad = dict(good, api_url=sb.url + setting["api_url"])
        else:
            bad = dict(good, **setting)
        failed = run_target(bad, source, tmp_path)
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert f"Attentive answered {status}" in failed.stderr
        assert optin_counts(good) == {"pending": 0, "submitted": 0, "confirmed": 0, "in_doubt": 0}

        rerun = run_target(good, source, tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert warnings_of(rerun.stderr) == []  # nothing was sent by the failed run
        assert rerun.summary()["requests"]["optins_sent"] == 5
        report = sb.report()
    assert len(report["optins"]) == 5 and report["duplicate_optins"] == 0


@pytest.mark.parametrize(
    ("fault_status", "expected"),
    [(503, "released"), (500, "in_doubt")],
    ids=["503-not-applied", "500-unknown"],
)
def test_retries_running_out_release_or_doubt_by_what_the_answers_said(
    tmp_path: Path, fault_status: int, expected: str
) -> None:
    people = opted_in(4)
    source = write_input(tmp_path / "in.singer", singer_lines(people))
    with SandboxProcess(fault_5xx_rate=1.0, fault_status=fault_status) as sb:
        config = base_config(
            sb, tmp_path, subscriptions_enabled=True, mapping=MAPPING, max_retry_seconds=1
        )
        failed = run_target(config, source, tmp_path)
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "failed" in failed.stderr and "max_retry_seconds" in failed.stderr
        counts = optin_counts(config)
        assert counts["pending"] == 0
        sb.configure(fault_5xx_rate=0.0)
        rerun = run_target(config, source, tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        report = sb.report()
    sent = rerun.summary()["requests"].get("optins_sent", 0)
    if expected == "released":  # 503: not processed, so the opt-ins go with the rerun
        assert counts["in_doubt"] == 0
        assert sent == 4 and len(report["optins"]) == 4
        assert warnings_of(rerun.stderr) == []
    else:  # 500: the first attempt may have applied them; never sent again
        assert counts["in_doubt"] == 4
        assert sent == 0 and report["optins"] == []
        (warning,) = warnings_of(rerun.stderr)
        assert "4 opt-ins were sent without a clear answer" in warning
        assert "--status in_doubt" in warning
        listed, stderr = optins_command(config, "in_doubt")
        assert len(listed) == 4 and "4 in_doubt" in stderr and "0 pending" in stderr
    assert report["duplicate_optins"] == 0


def test_a_stop_before_the_request_left_releases_the_claim(tmp_path: Path) -> None:
    """SIGTERM while people wait for a rate-limit slot: their claims are released."""
    people = opted_in(40)
    with SandboxProcess() as sb:
        config = base_config(
            sb,
            tmp_path,
            subscriptions_enabled=True,
            mapping=MAPPING,
            max_requests_per_second=2,
            max_concurrency=8,
        )
        lines = singer_lines(people)
        with start_target(config, lines, tmp_path) as proc:
            while sb.report()["accepted"] < 2:
                assert proc.poll() is None, "the load ended before it could be stopped"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
        counts = optin_counts(config)
        arrived = len(sb.report()["optins"])
        assert counts["pending"] == 0 and counts["in_doubt"] == 0
        assert counts["confirmed"] == arrived < 40
        fast = dict(config, max_requests_per_second=150)
        rerun = run_target(fast, write_input(tmp_path / "again", lines), tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert warnings_of(rerun.stderr) == []
        report = sb.report()
    assert rerun.summary()["requests"]["optins_sent"] == 40 - arrived
    assert len(report["optins"]) == 40 and report["duplicate_optins"] == 0


def test_the_warning_calls_a_pending_claim_what_it_is(tmp_path: Path) -> None:
    """A power cut in the middle (the target and its sending process killed outright)
    leaves claims pending; the next run says so, not that they were "sent"."""
    people = opted_in(300)
    with SandboxProcess(latency_ms=300) as sb:
        config = base_config(
            sb, tmp_path, subscriptions_enabled=True, mapping=MAPPING, batch_size_rows=50
        )
        lines = singer_lines(people, state_every=50)
        with start_target(config, lines, tmp_path, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline(), "the load ended before it could be killed"
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for pid in children:  # the sending process, with requests in flight
                os.kill(int(pid), signal.SIGKILL)
            proc.send_signal(signal.SIGKILL)
        pending = optin_counts(config)["pending"]
        assert pending > 0, "no request was in flight at the kill"
        rerun = run_target(config, write_input(tmp_path / "again", lines), tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert sb.report()["duplicate_optins"] == 0
    (warning,) = warnings_of(rerun.stderr)
    assert f"{pending} opt-ins were claimed right before a request" in warning
    assert "sent by an interrupted run" not in warning
    assert "--status pending" in warning
