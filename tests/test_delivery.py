"""Delivery against the sandbox over real HTTP on loopback: faults, refusals, state."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from targetrun import (
    TARGET,
    accepted_emails,
    base_config,
    person,
    read_lines,
    run_target,
    singer_lines,
    start_target,
    write_input,
)

from target_attentive.sandbox.process import SandboxProcess

SECRET = "sk-live-7f3c1e9a-do-not-log-me"


@pytest.fixture
def sandbox():
    with SandboxProcess(latency_ms=5) as sb:
        yield sb


def test_a_clean_load_lands_every_person_and_writes_state(sandbox, tmp_path: Path) -> None:
    people = [person(i) for i in range(300)]
    source = write_input(tmp_path / "in.singer", singer_lines(people, state_every=100))
    result = run_target(base_config(sandbox, tmp_path, batch_size_rows=100), source, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(accepted_emails(sandbox)) == sorted(p["email"] for p in people)
    assert result.states[-1] == {"last_id": 299}
    summary = result.summary()
    assert summary["read"] == summary["accepted"] == 300
    assert summary["unsettled"] == 0


def test_a_429_storm_is_absorbed_with_nothing_lost(tmp_path: Path) -> None:
    """Two loads share one key (two runs at once): each learns the account's limit from the
    headers, but together they exceed it; the 429s are retried and nobody is lost."""
    with SandboxProcess(rate_limit=25, retry_after=True) as sb:
        runs = []
        for name, ids in (("a", range(0, 150)), ("b", range(150, 300))):
            workdir = tmp_path / name
            workdir.mkdir()
            config = base_config(sb, workdir, max_requests_per_second=150)
            lines = singer_lines([person(i) for i in ids])
            runs.append(start_target(config, lines, workdir))
        results = [proc.communicate(timeout=120) for proc in runs]
        assert [proc.returncode for proc in runs] == [0, 0], results[0][1][-2000:]
        report = sb.report()
        assert report["counts"].get("429", 0) > 10, "the storm did not happen"
        assert sorted(accepted_emails(sb)) == sorted(person(i)["email"] for i in range(300))
        stderr = results[0][1]
        # A long load says how it is going, without naming anybody.
        progress = [line for line in stderr.splitlines() if "Progress:" in line]
        assert progress and all("@" not in line for line in progress)


@pytest.mark.parametrize(
    "faults",
    [
        {"fault_5xx_rate": 0.3},
        {"fault_drop_rate": 0.25},
        {"fault_slow_rate": 0.1, "slow_seconds": 3},
    ],
    ids=["5xx", "dropped", "timeouts"],
)
def test_faults_are_retried_until_everyone_lands(faults: dict, tmp_path: Path) -> None:
    with SandboxProcess(seed=7, **faults) as sb:
        people = [person(i) for i in range(120)]
        source = write_input(tmp_path / "in.singer", singer_lines(people))
        config = base_config(sb, tmp_path, request_timeout_seconds=1)
        result = run_target(config, source, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert set(accepted_emails(sb)) == {p["email"] for p in people}
        assert result.summary()["requests"]["retried"] > 0
        assert read_lines(tmp_path / "rejects.jsonl") == []


def test_api_refusals_go_to_the_rejects_file_with_the_api_message(sandbox, tmp_path: Path) -> None:
    # The account already has "Tier" as a number, which the target cannot know.
    seed = {"identifiers": {"email": "seed@example.com"}, "attributes": {"custom": {"Tier": 3}}}
    answer = requests.post(
        sandbox.url + "/v2/user/attributes", json=seed, headers=sandbox.auth_headers, timeout=5
    )
    assert answer.status_code == 202
    people = [person(1, tier="gold"), person(2), person(3, tier="silver")]
    source = write_input(tmp_path / "in.singer", singer_lines(people))
    mapping = {"identifiers": {"email": "email"}, "custom_attributes": {"Tier": "tier"}}
    result = run_target(base_config(sandbox, tmp_path, mapping=mapping), source, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert [(r["stream"], r["position"], r["status"]) for r in rejects] == [
        ("people", 1, 400),
        ("people", 3, 400),
    ]
    assert all("Tier" in r["api_message"] and "Attentive refused" in r["reason"] for r in rejects)
    assert rejects[0]["record"]["email"] == "person1@example.com"
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (1, 2)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"api_key": "wrong-key"}, "api_key"),
        ({"api_key": "sandbox-key-without-scopes"}, "scope"),
        ({"api_url_suffix": "/not-here"}, "api_url"),
    ],
    ids=["401", "403", "404"],
)
def test_fatal_answers_stop_the_run_with_no_state(
    sandbox, tmp_path: Path, change: dict, words: str
) -> None:
    people = [person(i) for i in range(30)]
    source = write_input(tmp_path / "in.singer", singer_lines(people, state_every=10))
    config = base_config(sandbox, tmp_path, batch_size_rows=10)
    if "api_url_suffix" in change:
        config["api_url"] = sandbox.url + change.pop("api_url_suffix")
    config.update(change)
    result = run_target(config, source, tmp_path)
    assert result.returncode != 0
    assert result.stdout == "", "a state line was written although nothing was delivered"
    assert words in result.stderr
    assert sandbox.report()["accepted"] == 0


def test_a_load_killed_mid_way_resumes_from_its_last_state(tmp_path: Path) -> None:
    people = [person(i, phone=f"+1212555{i:04d}") for i in range(1500)]
    with SandboxProcess(latency_ms=20) as sb:
        config = base_config(sb, tmp_path, batch_size_rows=50)
        lines = singer_lines(people, state_every=50)
        proc = start_target(config, lines, tmp_path, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        states = []
        while len(states) < 4:  # let it deliver some batches, then kill it outright
            line = proc.stdout.readline()
            assert line, "the target ended before it could be killed"
            states.append(json.loads(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        states += [json.loads(line) for line in proc.stdout.read().splitlines() if line]
        proc.stdout.close()
        last_id = states[-1]["last_id"]
        arrived = set(accepted_emails(sb))
        # State never runs ahead of delivery: everything up to the last state arrived.
        assert {p["email"] for p in people if p["id"] <= last_id} <= arrived
        assert len(arrived) < len(people), "the kill came too late to test anything"

        # Resume the way a tap does: from the bookmark in the last state.
        rest = [p for p in people if p["id"] > last_id]
        source2 = write_input(tmp_path / "rest.singer", singer_lines(rest, state_every=50))
        result = run_target(config, source2, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        rejected = {r["record"]["email"] for r in read_lines(tmp_path / "rejects.jsonl")}
        assert {p["email"] for p in people} == set(accepted_emails(sb)) | rejected


def test_state_is_checkpointed_during_a_long_load(sandbox, tmp_path: Path) -> None:
    """A slow tap: records trickle in, and state still comes every interval."""
    config = base_config(sandbox, tmp_path, checkpoint_interval_seconds=1)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*TARGET, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    lines = singer_lines([person(i) for i in range(40)], state_every=1)
    for line in lines:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    states = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 0
    assert len(states) >= 3, "no checkpoint was written before the end of input"
    assert states == sorted(states, key=lambda s: s["last_id"])


def test_sigterm_mid_delivery_stops_without_state_for_the_batch(tmp_path: Path) -> None:
    with SandboxProcess(latency_ms=50, rate_limit=20) as sb:
        config = base_config(sb, tmp_path, max_requests_per_second=20, batch_size_rows=200)
        people = [person(i) for i in range(400)]
        proc = start_target(config, singer_lines(people, state_every=200), tmp_path)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode != 0
        assert out == "", "state was written for a batch that was not delivered"
        assert "rerun" in err.strip().splitlines()[-1].lower()
        assert 0 < sb.report()["accepted"] < 200


def test_the_api_key_never_appears_in_anything_the_target_writes(tmp_path: Path) -> None:
    with SandboxProcess(api_key=SECRET, fault_5xx_rate=0.2, seed=3) as sb:
        people = [person(i) for i in range(40)] + [{"id": 99, "email": "not-an-email"}]
        source = write_input(tmp_path / "in.singer", singer_lines(people))
        config = base_config(sb, tmp_path)
        env_runs = []
        env_runs.append(run_target(config, source, tmp_path, env={"LOGLEVEL": "DEBUG"}))
        config_dry = dict(
            config, dry_run=True, dry_run_path=str(tmp_path / "dry.jsonl"), ledger_enabled=False
        )
        env_runs.append(run_target(config_dry, source, tmp_path))
        fresh_ledger = f"sqlite:///{tmp_path / 'other-ledger.db'}"
        bad_url = dict(config, api_url=sb.url + "/missing", ledger_url=fresh_ledger)
        env_runs.append(run_target(bad_url, source, tmp_path))
    assert env_runs[0].returncode == 0 and env_runs[2].returncode != 0
    written = [r.stdout + r.stderr for r in env_runs]
    written += [p.read_text() for p in tmp_path.glob("*.jsonl")]
    assert len(written) >= 5
    for text in written:
        assert SECRET not in text
