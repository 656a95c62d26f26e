"""Numbers no 64-bit type holds, straight from the tap's JSON, never stop a run."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from targetrun import (
    PEOPLE_SCHEMA,
    read_lines,
    run_in_mode,
    run_target,
    write_input,
)

from target_attentive.jsonl import dumps
from target_attentive.ledger import Ledger


def test_a_5000_digit_integer_and_a_huge_exponent_cost_their_field(tmp_path: Path) -> None:
    schema = json.loads(json.dumps(PEOPLE_SCHEMA))
    schema["schema"]["properties"]["ltv"] = {"type": ["number", "null"]}
    lines = [json.dumps(schema)]
    for i, value in enumerate(["9" * 5000, "1E+999999999", "12.5"], 1):
        record = f'{{"id": {i}, "email": "huge{i}@example.com", "ltv": {value}}}'
        lines.append(f'{{"type": "RECORD", "stream": "people", "record": {record}}}')
    lines.append(json.dumps({"type": "STATE", "value": {"last_id": 3}}))
    source = write_input(tmp_path / "in.singer", lines)
    config = {
        "dry_run": True,
        "dry_run_path": str(tmp_path / "dry.jsonl"),
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "ledger_enabled": False,
        "mapping": {"identifiers": {"email": "email"}, "custom_attributes": {"LTV": "ltv"}},
    }
    result = run_target(config, source, tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"last_id": 3}]
    payloads = {p["position"]: p["payload"] for p in read_lines(tmp_path / "dry.jsonl")}
    assert sorted(payloads) == [1, 2, 3]
    assert payloads[3]["attributes"]["custom"] == {"LTV": 12.5}
    for position in (1, 2):
        assert "LTV" not in payloads[position].get("attributes", {}).get("custom", {})
    omitted = [
        line for line in read_lines(tmp_path / "rejects.jsonl") if line["outcome"] == "omitted"
    ]
    assert sorted(line["position"] for line in omitted) == [1, 2]


# A whole number beyond 64 bits anywhere in a record: its field, a list, a key property.
HUGE = 123456789012345678901234567890


def _huge_records() -> list[dict]:
    return [
        {"id": 1, "email": "one@example.com", "extra": HUGE},  # a field nobody maps
        {"id": 2, "email": "two@example.com", "extra": [1, {"deep": -HUGE}]},
        {"id": HUGE, "email": "three@example.com"},  # its clientUserId
        {"id": 4, "email": "not an email", "extra": HUGE},  # a field left out: a line
    ]


@pytest.mark.parametrize("mode", ["single", "bulk", "dry run"])
def test_a_number_beyond_64_bits_in_a_record_never_stops_a_load(tmp_path: Path, mode: str) -> None:
    """Bulk mode once crashed here: each person's records cross to the sending process,
    and orjson writes no integer beyond 64 bits. Such a number is written as its text, as
    the rejects file already did."""
    mapping = {"identifiers": {"email": "email", "clientUserId": "id"}}
    run = run_in_mode(mode, _huge_records(), tmp_path, mapping=mapping)
    result, config, in_jobs = run.result, run.config, run.in_jobs
    assert result.returncode == 0, result.stderr[-3000:]
    arrived = {p["identifiers"].get("clientUserId") for p in run.people}
    assert result.states == [{"last_id": 4}]
    summary = result.summary()
    assert summary["read"] == 4
    if mode == "dry run":
        assert summary["written"] == 4
    elif mode == "single":
        assert summary["accepted"] == 4
        assert arrived == {"1", "2", str(HUGE), "4"}
    else:  # bulk: Attentive took them into a job (applied later)
        assert (summary["accepted"], in_jobs) == (4, 4)
    (omitted,) = read_lines(tmp_path / "rejects.jsonl")
    assert (omitted["position"], omitted["record"]["extra"]) == (4, str(HUGE))
    if mode == "bulk":  # the job keeps each person's records, the number as its text
        with Ledger(config["ledger_url"], read_only=True) as ledger:
            (job,) = ledger.unreconciled_jobs()
            kept = {e.key: e.sources for e in ledger.job_entries(job["job_id"])}
        assert kept["clientUserId:1"] == [
            [1, {"id": 1, "email": "one@example.com", "extra": str(HUGE)}]
        ]
        assert kept["clientUserId:2"][0][1]["extra"] == [1, {"deep": str(-HUGE)}]
        assert kept[f"clientUserId:{HUGE}"][0][1]["id"] == str(HUGE)


def test_json_lines_write_numbers_beyond_64_bits_as_text() -> None:
    assert dumps({"a": HUGE, "b": [-HUGE, 2**63 - 1, -(2**63)]}) == (
        b'{"a":"%d","b":["%d",9223372036854775807,-9223372036854775808]}' % (HUGE, -HUGE)
    )
    assert dumps({1: HUGE}) == b'{"1":"%d"}' % HUGE  # with keys that are not text too
    assert dumps([10**4000]) == b'["(a number too long to write)"]'
    plain = {"a": 1, "b": [1.5, None, True, "x"], "c": {"d": Decimal("2.25")}}
    assert dumps(plain) == orjson.dumps(plain, default=float)  # the usual path unchanged
