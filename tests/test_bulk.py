"""Bulk mode against the sandbox: everyone arrives, jobs are tracked and reconciled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests
from targetrun import (
    accepted_emails,
    base_config,
    person,
    read_lines,
    run_target,
    singer_lines,
    write_input,
)

from target_attentive.keys import person_key
from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess

MAPPING = {
    "identifiers": {"email": "email"},
    "attributes": {"firstName": "first_name"},
    "custom_attributes": {"Score": "tier"},
}


def seed_score_as_number(sandbox: SandboxProcess) -> None:
    """The account already has Score as a number: text for it fails inside the job."""
    seed = {"identifiers": {"email": "seed@example.com"}, "attributes": {"custom": {"Score": 1}}}
    answer = requests.post(
        sandbox.url + "/v2/user/attributes", json=seed, headers=sandbox.auth_headers, timeout=5
    )
    assert answer.status_code == 202


def test_ten_thousand_people_arrive_in_bulk_and_refusals_are_reconciled(tmp_path: Path) -> None:
    people = [person(i) for i in range(10_000)]
    bad = {i for i in range(0, 10_000, 997)}
    for i in bad:
        people[i]["tier"] = "high"
    with SandboxProcess(job_delay_seconds=1) as sb:
        seed_score_as_number(sb)
        config = base_config(sb, tmp_path, mode="bulk", mapping=MAPPING, bulk_wait_seconds=60)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(people)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        arrived = accepted_emails(sb)
        report = sb.report()
    expected = {p["email"] for i, p in enumerate(people) if i not in bad}
    assert len(arrived) == len(set(arrived)) == len(expected) + 1  # + the seed
    assert set(arrived) - {"seed@example.com"} == expected
    assert report["endpoints"]["bulk"]["counts"] == {"202": 40}  # 10,000 / 256, rounded up

    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert sorted(r["payload"]["identifiers"]["email"] for r in rejects) == sorted(
        people[i]["email"] for i in bad
    )
    assert all("Score" in r["api_message"] and "bulk job" in r["reason"] for r in rejects)
    # Each refused person's line names the record they came from.
    assert sorted((r["position"], r["record"]["email"]) for r in rejects) == sorted(
        (i + 1, people[i]["email"]) for i in bad
    )
    assert {r["outcome"] for r in rejects} == {"rejected"}
    # Accepted into bulk jobs at the 202; the refusals found later are counted in people.
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (10_000, 0)
    assert summary["requests"]["bulk_people_refused"] == len(bad)
    assert summary["requests"]["bulk_people_accepted"] == 10_000 - len(bad)
    assert "accepted into bulk jobs, results pending" in result.stderr

    ledger = Ledger(config["ledger_url"])
    counts = ledger.counts()
    assert counts["jobs"] == {"COMPLETED": 40}
    assert ledger.unfinished_jobs() == []
    bad_keys = [person_key({"email": people[i]["email"]}) for i in bad]
    good_key = person_key({"email": people[1]["email"]})
    # Refused people are forgotten, so a later run sends them again; the rest are known.
    assert ledger.last_hashes([*bad_keys, good_key]).keys() == {good_key}
    assert len(ledger.jobs_for_person(good_key)) == 1
    ledger.close()


def test_bulk_requests_survive_429s_and_5xx(tmp_path: Path) -> None:
    people = [person(i) for i in range(500)]
    # The latency keeps the limiter from learning the limit of 2 before a burst is out.
    with SandboxProcess(
        bulk_rate_limit=2, fault_5xx_rate=0.3, seed=11, job_delay_seconds=0.2, latency_ms=60
    ) as sb:
        # Waiting for the jobs makes the sandbox's record complete before it is read.
        config = base_config(sb, tmp_path, mode="bulk", bulk_batch_size=50, bulk_wait_seconds=30)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(people)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        report = sb.report()
        arrived = accepted_emails(sb)
    counts = report["endpoints"]["bulk"]["counts"]
    assert counts.get("429", 0) > 0 and sum(v for k, v in counts.items() if k[0] == "5") > 0
    assert sorted(arrived) == sorted(p["email"] for p in people)
    assert result.summary()["requests"]["retried"] > 0


def test_the_jobs_command_reconciles_later(tmp_path: Path) -> None:
    people = [person(i) for i in range(300)]
    people[7]["tier"] = "high"
    with SandboxProcess(job_delay_seconds=1) as sb:
        seed_score_as_number(sb)
        config = base_config(sb, tmp_path, mode="bulk", mapping=MAPPING)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(people)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert read_lines(tmp_path / "rejects.jsonl") == []
        config_path = tmp_path / "config.json"
        command = [sys.executable, "-m", "target_attentive.jobs_cli", "--config", str(config_path)]
        done = subprocess.run(
            [*command, "--wait", "30"], capture_output=True, text=True, cwd=tmp_path
        )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["jobs_finished"], summary["jobs_pending"]) == (2, 0)
    assert (summary["people_refused"], summary["people_accepted"]) == (1, 299)
    assert summary["unreconciled"] == []
    assert summary["rejects_path"] == str(tmp_path / "rejects.jsonl")
    (reject,) = read_lines(tmp_path / "rejects.jsonl")
    assert reject["payload"]["identifiers"]["email"] == "person7@example.com"
    assert (reject["position"], reject["record"]["id"]) == (8, 7)
    assert sb.api_key not in done.stdout + done.stderr
