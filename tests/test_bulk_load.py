"""Issue 11's bulk load: failing jobs, a refused request, a SIGKILL, and two more runs.

3,000 people with opt-ins in bulk mode against a sandbox that fails 30% of its jobs (after
applying some of their people, as Attentive might) and refuses a whole bulk request when
one of its people has a sign-up source the account lacks. The first run is killed outright
in the middle; the same input then runs twice more. In the end every deliverable person is
in the account, only the refused people are in the rejects file, and nobody got an opt-in
twice.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from targetrun import base_config, person, read_lines, run_target, singer_lines, start_target

from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess

PEOPLE = 3000
BAD = set(range(250, PEOPLE, 500))  # an EMAIL opt-in from a sign-up source nobody has
MAPPING = {
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {"firstName": "first_name"},
    "subscriptions": [
        {"channel": "TEXT", "signUpSourceId": "4242", "when": "sms_opt_in"},
        {"channel": "EMAIL", "signUpSourceId": "retired-source", "when": "tier"},
    ],
}


def test_a_killed_bulk_load_with_failing_jobs_ends_with_everyone_once(tmp_path: Path) -> None:
    load = [person(i, phone=f"+1212555{i:04d}", sms_opt_in=(i % 3 != 0)) for i in range(PEOPLE)]
    for i in BAD:
        load[i]["tier"] = "yes"
    lines = singer_lines(load, state_every=500)
    with SandboxProcess(
        job_fail_rate=0.3,
        job_fail_applies=0.5,
        job_delay_seconds=0.2,
        sign_up_source_ids=["4242"],
        latency_ms=20,
        seed=11,
    ) as sb:
        config = base_config(
            sb,
            tmp_path,
            mode="bulk",
            mapping=MAPPING,
            subscriptions_enabled=True,
            bulk_batch_size=100,
            batch_size_rows=500,
            max_requests_per_second=10,
            bulk_wait_seconds=90,
        )
        with start_target(config, lines, tmp_path, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline(), "the load ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
        killed_at = sum(job["totalRecords"] for job in sb.report()["jobs"])
        assert 0 < killed_at < PEOPLE, "the kill did not land in the middle of the load"
        for attempt in range(2):
            result = run_target(config, tmp_path / "in.singer", tmp_path, timeout=300)
            assert result.returncode == 0, f"run {attempt}: {result.stderr[-3000:]}"
        report = sb.report()
        arrived = {p["identifiers"].get("email") for p in sb.people()}

    assert report["jobs_by_status"].get("FAILED", 0) > 0, "no job failed: nothing was tried"
    assert report["endpoints"]["bulk"]["counts"].get("400", 0) > 0, "no request was refused"
    deliverable = {p["email"] for i, p in enumerate(load) if i not in BAD}
    assert deliverable <= arrived, f"{len(deliverable - arrived)} people never arrived"
    assert not arrived & {load[i]["email"] for i in BAD}
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert [line for line in rejects if line["outcome"] != "rejected"] == []
    assert {r["record"]["id"] for r in rejects} == BAD  # only the people Attentive refused
    assert all(r["status"] == 400 and "signUpSourceId" in r["api_message"] for r in rejects)
    assert not [r for r in rejects if "failed" in r["reason"].lower()]
    assert report["duplicate_optins"] == 0, "someone got an 'already subscribed' text"
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        counts = ledger.counts()
    assert counts["jobs_unreconciled"] == 0
    assert counts["optins"]["submitted"] == 0
    print(
        f"\nbulk load: {PEOPLE} people, killed with {killed_at} in jobs; "
        f"jobs {report['jobs_by_status']}; bulk requests {report['endpoints']['bulk']['counts']}; "
        f"opt-ins {counts['optins']}; rejects {len(rejects)}; "
        f"repeated opt-ins {report['duplicate_optins']}"
    )
