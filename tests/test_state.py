"""State never runs ahead of delivery, on every path: each case through the real CLI.

Every test checks the same rule against the sandbox's own record of what arrived: a
STATE line `{"last_id": n}` on stdout means every record with id <= n was accepted,
unchanged, filtered or written to the rejects file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from targetrun import (
    PEOPLE_SCHEMA,
    Result,
    base_config,
    person,
    read_lines,
    run_target,
    singer_lines,
    start_target,
    write_input,
)

from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess


def record_line(record: dict[str, Any], stream: str = "people") -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def state_line(last_id: int) -> str:
    return json.dumps({"type": "STATE", "value": {"last_id": last_id}})


def accepted_ids(sandbox: SandboxProcess) -> set[int]:
    """The ids of the people the sandbox applied (emails are person<id>@example.com)."""
    ids = set()
    for entry in sandbox.accepted():
        email = entry["payload"]["identifiers"].get("email", "")
        if email.startswith("person"):
            ids.add(int(email[len("person") : email.index("@")]))
    return ids


def assert_states_covered(states: list[dict], settled: set[int]) -> None:
    for state in states:
        missing = sorted(i for i in range(1, state["last_id"] + 1) if i not in settled)
        assert not missing, f"state {state} written before ids {missing[:10]} settled"


def ledger_people(tmp_path: Path) -> int:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", read_only=True)
    try:
        return ledger.counts()["people"]
    finally:
        ledger.close()


def finish(proc: subprocess.Popen, timeout: float = 60) -> Result:
    """Wait for the target (closing its input, if piped); kill it when it does not stop."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"the target did not stop in {timeout} s:\n{stderr[-3000:]}") from None
    return Result(proc.returncode, stdout, stderr)


@pytest.fixture
def sandbox():
    with SandboxProcess(latency_ms=5) as sb:
        yield sb


def test_a_schema_change_mid_stream_never_lets_state_pass_the_old_sinks_records(
    sandbox, tmp_path: Path
) -> None:
    changed = json.loads(json.dumps(PEOPLE_SCHEMA))
    changed["schema"]["properties"]["nickname"] = {"type": ["string", "null"]}
    lines = [
        json.dumps(PEOPLE_SCHEMA),
        record_line(person(1)),
        record_line(person(2)),
        json.dumps(changed),
        record_line(person(3)),
        record_line(person(4)),
        state_line(4),
        record_line(person(5)),
        record_line(person(6)),
    ]
    config = base_config(sandbox, tmp_path, batch_size_rows=3)
    proc = start_target(config, [], tmp_path, stdin=subprocess.PIPE)
    proc.stdin.write("\n".join(lines[:-1]) + "\n")
    proc.stdin.flush()
    time.sleep(3)  # the full sink's batch (R3-R5) is delivered meanwhile
    proc.stdin.write(lines[-1] + "\n{this line is not JSON\n")
    result = finish(proc)
    assert result.returncode != 0
    assert_states_covered(result.states, accepted_ids(sandbox))
    # The same schema change, ending well: everything lands and the state says so.
    source = write_input(tmp_path / "in.singer", [*lines, state_line(6)])
    again = run_target(config, source, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.states[-1] == {"last_id": 6}
    assert {1, 2, 3, 4, 5, 6} <= accepted_ids(sandbox)


def test_sigterm_while_the_last_batch_is_in_flight_writes_no_state_for_it(
    tmp_path: Path,
) -> None:
    with SandboxProcess(fault_5xx_rate=1.0) as sb:
        lines = [
            json.dumps(PEOPLE_SCHEMA),
            record_line(person(1)),
            record_line(person(2)),
            state_line(2),
            record_line(person(3)),
            state_line(3),
        ]
        proc = start_target(base_config(sb, tmp_path, max_retry_seconds=120), lines, tmp_path)
        time.sleep(5)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        result = finish(proc)
        assert time.monotonic() - signalled < 35  # requests out finish within their timeout
        assert result.returncode != 0
        assert result.states == []
        assert accepted_ids(sb) == set()
        assert "rerun" in result.stderr.splitlines()[-1].lower()


def test_sigterm_stops_sending_and_keeps_what_was_earned(tmp_path: Path) -> None:
    with SandboxProcess(latency_ms=40) as sb:
        people = [person(i) for i in range(1, 5001)]
        config = base_config(sb, tmp_path, batch_size_rows=500)
        proc = start_target(config, singer_lines(people, state_every=100), tmp_path)
        time.sleep(6)
        proc.send_signal(signal.SIGTERM)
        time.sleep(2.5)
        sent_by_then = sb.report()["counts"].get("202", 0)
        result = finish(proc)
        time.sleep(0.5)
        counts = sb.report()["counts"]
        assert result.returncode == 128 + signal.SIGTERM, result.stderr[-3000:]
        assert counts.get("202", 0) == sent_by_then, "requests kept going after the stop"
        applied = accepted_ids(sb)
        assert 0 < len(applied) < 5000
        assert result.states, "the state earned before the signal was not written"
        assert_states_covered(result.states, applied)
        # Everyone Attentive accepted is in the ledger and in the report.
        assert ledger_people(tmp_path) == len(applied)
        assert result.summary()["accepted"] == len(applied)
        last = result.stderr.strip().splitlines()[-1]
        assert "not sent" in last and "rerun" in last.lower()
        # A rerun from the state resumes, skipping those already accepted.
        resumed = [p for p in people if p["id"] > result.states[-1]["last_id"]]
        rerun = run_target(
            config, write_input(tmp_path / "rest.singer", singer_lines(resumed)), tmp_path
        )
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert accepted_ids(sb) == {p["id"] for p in people}
        repeated = len(sb.accepted()) - 5000
        assert repeated == 0, f"{repeated} people sent twice"


def test_a_failed_run_records_every_acceptance(tmp_path: Path) -> None:
    with SandboxProcess(latency_ms=5) as sb:
        people = [person(i) for i in range(1, 3001)]
        config = base_config(sb, tmp_path, batch_size_rows=3000, max_retry_seconds=2)
        proc = start_target(config, singer_lines(people), tmp_path)
        deadline = time.monotonic() + 30
        while len(sb.accepted()) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        sb.configure(fault_5xx_rate=1.0)  # an outage longer than max_retry_seconds
        result = finish(proc)
        assert result.returncode == 1
        applied = accepted_ids(sb)
        assert len(applied) >= 300
        assert result.states == []
        assert ledger_people(tmp_path) == len(applied)
        assert result.summary()["accepted"] == len(applied)
        assert "failed" in result.stderr or "Retries" in result.stderr


def test_progress_lines_count_people_as_they_are_accepted(sandbox, tmp_path: Path) -> None:
    people = [person(i) for i in range(1, 1201)]
    source = write_input(tmp_path / "in.singer", singer_lines(people))
    config = base_config(sandbox, tmp_path, batch_size_rows=2000, max_requests_per_second=100)
    result = run_target(config, source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    progress = [line for line in result.stderr.splitlines() if "Progress:" in line]
    assert progress
    accepted = [int(line.split(" people accepted")[0].rsplit(" ", 1)[1]) for line in progress]
    assert max(accepted) > 0, progress


def test_batch_messages_go_through_the_record_path(sandbox, tmp_path: Path) -> None:
    from singer_sdk.contrib.batch_encoder_jsonl import JSONLinesBatcher
    from singer_sdk.helpers._batch import BatchConfig

    config_dict = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path / 'batches'}", "prefix": "people-"},
        "batch_size": 40,
    }
    (tmp_path / "batches").mkdir()
    batcher = JSONLinesBatcher("tap-test", "people", BatchConfig.from_dict(config_dict))
    records = [person(i) for i in range(1, 101)]
    records[10]["email"] = "not an address"
    records[10]["phone"] = None
    manifests = list(batcher.get_batches(iter(records)))
    lines = [json.dumps(PEOPLE_SCHEMA)]
    for manifest in manifests:
        lines.append(
            json.dumps(
                {
                    "type": "BATCH",
                    "stream": "people",
                    "encoding": {"format": "jsonl", "compression": "gzip"},
                    "manifest": manifest,
                }
            )
        )
    lines.append(state_line(100))
    source = write_input(tmp_path / "in.singer", lines)
    result = run_target(base_config(sandbox, tmp_path), source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = result.summary()
    assert (summary["read"], summary["accepted"], summary["rejected"]) == (100, 99, 1)
    assert accepted_ids(sandbox) == set(range(1, 101)) - {11}
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert [r["record"]["id"] for r in rejects] == [11]
    assert result.states == [{"last_id": 100}]


def test_blank_lines_are_skipped(sandbox, tmp_path: Path) -> None:
    lines = singer_lines([person(1), person(2)])
    lines = [lines[0], "", lines[1], "   ", "\t", lines[2], "", lines[3]]
    source = write_input(tmp_path / "in.singer", lines)
    result = run_target(base_config(sandbox, tmp_path), source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"last_id": 2}]
    assert accepted_ids(sandbox) == {1, 2}


def test_a_malformed_line_is_named_by_number_never_by_content(sandbox, tmp_path: Path) -> None:
    lines = singer_lines([person(1)])
    lines.insert(2, '{"type": "RECORD", "stream": "people", "record": {"email": "secret.pe')
    source = write_input(tmp_path / "in.singer", lines)
    result = run_target(base_config(sandbox, tmp_path), source, tmp_path)
    assert result.returncode != 0
    assert "secret.pe" not in result.stderr
    assert "line 3" in result.stderr
