"""Bulk jobs through the real CLI: nothing written off, nothing guessed (issue 11, 2-6).

Each test runs the target (and `target-attentive-jobs`) against the sandbox, which fails
jobs, answers bulk requests 400, writes results lines in other forms, expires results
links, forgets jobs and drops job ids on request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from targetrun import base_config, person, read_lines, run_target, singer_lines, write_input

from target_attentive.jobs import MAX_SUBMISSIONS
from target_attentive.keys import person_key
from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess

MAPPING = {
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {"firstName": "first_name"},
    "custom_attributes": {"Score": "tier"},
    "subscriptions": [{"channel": "TEXT", "signUpSourceId": "4242", "when": "sms_opt_in"}],
}
FAST_JOBS = {"job_delay_seconds": 0.1}


def people(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        person(i, phone=f"+1212555{i:04d}", sms_opt_in=(i % 2 == 0))
        for i in range(start, start + count)
    ]


def bulk_config(sb: SandboxProcess, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    settings = {"mode": "bulk", "mapping": MAPPING, "subscriptions_enabled": True}
    return base_config(sb, tmp_path, **{**settings, "bulk_batch_size": 50, **overrides})


def jobs_command(config: dict[str, Any], tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    path = tmp_path / "jobs-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "target_attentive.jobs_cli", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def arrived(sb: SandboxProcess) -> set[str]:
    return {p["identifiers"].get("email") for p in sb.people()}


def ledger_counts(config: dict[str, Any]) -> dict[str, Any]:
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        return ledger.counts()


def seed_score_as_number(sb: SandboxProcess) -> None:
    seed = {"identifiers": {"email": "seed@example.com"}, "attributes": {"custom": {"Score": 1}}}
    answer = requests.post(
        sb.url + "/v2/user/attributes", json=seed, headers=sb.auth_headers, timeout=5
    )
    assert answer.status_code == 202


# -- 2. failed jobs are sent again, not written off ---------------------------------------


def test_failed_jobs_are_sent_again_without_their_optins(tmp_path: Path) -> None:
    load = people(400)
    with SandboxProcess(job_fail_rate=0.5, job_fail_applies=0.5, seed=3, **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path, bulk_wait_seconds=60)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(load)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        report = sb.report()
        everyone = arrived(sb)
    assert report["jobs_by_status"].get("FAILED", 0) > 0, "no job failed: nothing was tried"
    assert {p["email"] for p in load} <= everyone
    assert read_lines(tmp_path / "rejects.jsonl") == []  # nobody written off
    assert report["duplicate_optins"] == 0
    counts = ledger_counts(config)
    assert counts["jobs_unreconciled"] == 0
    optins = counts["optins"]
    assert (optins["pending"], optins["submitted"]) == (0, 0)
    assert optins["in_doubt"] > 0  # those of the failed jobs: listed, never resent
    assert optins["confirmed"] + optins["in_doubt"] == sum(p["sms_opt_in"] for p in load)
    summary = result.summary()
    assert summary["requests"]["bulk_people_resubmitted"] > 0
    assert summary["accepted"] == 400 and summary["rejected"] == 0


def test_the_next_run_reconciles_the_jobs_an_earlier_run_left(tmp_path: Path) -> None:
    load = people(120)
    source = write_input(tmp_path / "in", singer_lines(load))
    with SandboxProcess(job_fail_rate=1.0, **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path)  # no waiting: the jobs are left to later
        first = run_target(config, source, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        assert first.states, "the state moved on: the jobs must not be forgotten"
        assert ledger_counts(config)["jobs_unreconciled"] == 3
        sb.configure(job_fail_rate=0.0)
        second = run_target(dict(config, bulk_wait_seconds=60), source, tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
        everyone = arrived(sb)
        duplicates = sb.report()["duplicate_optins"]
    assert second.summary()["unchanged"] == 120  # the ledger knew them: not planned again
    assert second.summary()["requests"]["bulk_people_resubmitted"] == 120
    assert {p["email"] for p in load} <= everyone
    assert ledger_counts(config)["jobs_unreconciled"] == 0
    assert read_lines(tmp_path / "rejects.jsonl") == []
    assert duplicates == 0


def test_a_job_that_keeps_failing_is_listed_never_written_off(tmp_path: Path) -> None:
    load = people(10)
    with SandboxProcess(job_fail_rate=1.0, job_delay_seconds=0) as sb:
        config = bulk_config(sb, tmp_path)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(load)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        code, summary, stderr = jobs_command(config, tmp_path, "--wait", "60")
        assert sb.report()["jobs_by_status"] == {"FAILED": MAX_SUBMISSIONS}
    assert code == 1, stderr
    assert summary["jobs_given_up"] == 1 and summary["jobs_resubmitted"] == MAX_SUBMISSIONS - 1
    (job,) = summary["unreconciled"]
    assert job["status"] == "FAILED" and job["submitted"] == MAX_SUBMISSIONS
    assert job["people"] == 10 and f"FAILED {MAX_SUBMISSIONS} times" in job["why"]
    assert read_lines(tmp_path / "rejects.jsonl") == []
    code, listing, _ = jobs_command(config, tmp_path, "--list")
    assert code == 0 and listing["unreconciled"] == summary["unreconciled"]


# -- 3. results lines in another form settle nobody ---------------------------------------


def test_results_lines_in_an_unknown_form_forget_and_release_nobody(tmp_path: Path) -> None:
    load = people(60)
    with SandboxProcess(results_status_form="text", **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path, bulk_wait_seconds=30)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(load)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        code, summary, _ = jobs_command(config, tmp_path)
        assert "60 results lines could not be read" in result.stderr
        sb.configure(results_status_form="number")  # the form a test knows
        code_after, after, _ = jobs_command(config, tmp_path)
    assert read_lines(tmp_path / "rejects.jsonl") == []
    assert code == 1 and summary["lines_unreadable"] == 60
    assert len(summary["unreconciled"]) == 2
    assert "could not be read" in summary["unreconciled"][0]["why"]
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        keys = [person_key({"email": p["email"]}) for p in load]
        assert len(ledger.last_hashes(keys)) == 60  # nobody forgotten
    assert code_after == 0 and after["people_accepted"] == 60 and after["unreconciled"] == []
    assert ledger_counts(config)["optins"]["confirmed"] == 30


# -- 4. a refused bulk request costs only the refused people -------------------------------


def test_one_bad_person_does_not_cost_the_other_people_of_the_request(tmp_path: Path) -> None:
    load = people(100)
    mapping = {
        "identifiers": MAPPING["identifiers"],
        "subscriptions": [
            *MAPPING["subscriptions"],
            {"channel": "EMAIL", "signUpSourceId": "no-such-source", "when": "tier"},
        ],
    }
    load[37]["tier"] = "yes"  # an EMAIL opt-in from a sign-up source the account lacks
    with SandboxProcess(sign_up_source_ids=["4242"], **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path, mapping=mapping, bulk_wait_seconds=30)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(load)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        everyone = arrived(sb)
        counts = sb.report()["endpoints"]["bulk"]["counts"]
    assert everyone == {p["email"] for i, p in enumerate(load) if i != 37}
    (reject,) = read_lines(tmp_path / "rejects.jsonl")
    assert (reject["position"], reject["status"]) == (38, 400)
    assert "signUpSourceId" in reject["api_message"]
    assert counts["400"] <= 2 * 6  # halves down to one person: a few requests more
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (99, 1)
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        claims = ledger.known_optins([f"phone:{load[37]['phone']}", f"email:{load[37]['email']}"])
    assert claims == set()  # released: nothing of the refused request was applied


# -- 5. jobs that cannot be followed -------------------------------------------------------


def test_a_202_without_a_job_id_fails_the_batch(tmp_path: Path) -> None:
    load = people(30)
    source = write_input(tmp_path / "in", singer_lines(load))
    with SandboxProcess(bulk_omit_job_id=True, **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path)
        failed = run_target(config, source, tmp_path)
        assert failed.returncode == 1, failed.stderr[-3000:]
        assert "without a batchJobId" in failed.stderr
        assert failed.states == []  # no state past the batch
        optins = ledger_counts(config)["optins"]
        assert optins == {"pending": 0, "submitted": 0, "confirmed": 0, "in_doubt": 15}
        sb.configure(bulk_omit_job_id=False)
        rerun = run_target(dict(config, bulk_wait_seconds=30), source, tmp_path)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        report = sb.report()
    assert rerun.states[-1] == {"last_id": 29}
    assert report["duplicate_optins"] == 0  # the first run's job had them; never again


def test_an_expired_results_link_or_an_unknown_job_is_left_for_later(tmp_path: Path) -> None:
    load = people(60)
    with SandboxProcess(results_expired=True, **FAST_JOBS) as sb:
        config = bulk_config(sb, tmp_path, bulk_wait_seconds=30)
        result = run_target(config, write_input(tmp_path / "in", singer_lines(load)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.states[-1] == {"last_id": 59}
        assert "left for the next reconcile" in result.stderr
        sb.configure(results_expired=False, jobs_forgotten=True)
        code, forgotten, stderr = jobs_command(config, tmp_path)
        sb.configure(jobs_forgotten=False)
        code_after, after, _ = jobs_command(config, tmp_path)
    for output in (result.stdout + result.stderr, json.dumps(forgotten) + stderr):
        assert "/_sandbox/jobs/" not in output and "results.jsonl" not in output
    assert code == 1 and forgotten["jobs_unavailable"] == 2
    assert all("does not know this job" in job["why"] for job in forgotten["unreconciled"])
    assert code_after == 0 and after["people_accepted"] == 60
    assert read_lines(tmp_path / "rejects.jsonl") == []


# -- 6. counting, in people -----------------------------------------------------------------


def test_a_refusal_found_later_counts_people_and_keeps_its_record(tmp_path: Path) -> None:
    load = people(10)
    merged = [dict(load[3], id=100 + n, first_name=f"Again {n}") for n in range(2)]
    for record in [load[3], *merged]:
        record["tier"] = "high"  # Score is a number in the account: refused in the job
    with SandboxProcess(**FAST_JOBS) as sb:
        seed_score_as_number(sb)
        config = bulk_config(sb, tmp_path, bulk_wait_seconds=30)
        source = write_input(tmp_path / "in", singer_lines([*load, *merged]))
        result = run_target(config, source, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    summary = result.summary()
    assert summary["read"] == 12
    assert (summary["accepted"], summary["rejected"]) == (12, 0)  # records, at the 202
    assert summary["requests"]["bulk_people_refused"] == 1  # people, found later
    assert summary["requests"]["bulk_people_accepted"] == 9
    (reject,) = read_lines(tmp_path / "rejects.jsonl")
    assert reject["record"]["id"] == 101 and reject["position"] == 12  # its last record
    assert "Score" in reject["api_message"]
    assert "1 refused (in the rejects file)" in result.stderr
