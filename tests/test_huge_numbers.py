"""Numbers no 64-bit type holds, straight from the tap's JSON, never stop a run."""

from __future__ import annotations

import json
from pathlib import Path

from targetrun import PEOPLE_SCHEMA, read_lines, run_target, write_input


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
