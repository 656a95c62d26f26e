"""Values nested hundreds of levels deep never crash a run with a traceback.

Python's JSON reader takes about 990 levels; writing a record back (a reject line, the
records kept with a bulk job) recursed once per level and crashed from about 480. Found by
trying it through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from targetrun import (
    read_lines,
    run_in_mode,
    run_target,
    singer_lines,
    write_input,
)

from target_attentive.jsonl import MAX_DEPTH, TOO_DEEP, dumps, json_safe

MAPPING = {"identifiers": {"email": "email", "clientUserId": "id"}}


def nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def depth(value: object) -> int:
    levels = 0
    while isinstance(value, list) and value:
        value, levels = value[0], levels + 1
    return levels + 1 if isinstance(value, list) else levels


@pytest.mark.parametrize("mode", ["dry run", "bulk"])
def test_a_record_nested_900_levels_is_written_cut_where_it_is_too_deep(
    tmp_path: Path, mode: str
) -> None:
    records = [
        {"id": 1, "email": "one@example.com", "deep": nested(900)},
        {"id": 2, "email": "not an email", "deep": nested(900)},  # a field left out: a line
    ]
    result = run_in_mode(mode, records, tmp_path, mapping=MAPPING).result
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"last_id": 2}]
    (omitted,) = read_lines(tmp_path / "rejects.jsonl")
    kept = omitted["record"]["deep"]
    # The record is the first level: its field keeps the next 199, then the note.
    assert depth(kept) == MAX_DEPTH - 1
    inner = kept
    for _ in range(MAX_DEPTH - 2):
        inner = inner[0]
    assert inner == [TOO_DEEP]


def test_a_line_nested_deeper_than_python_reads_is_named_not_a_traceback(
    tmp_path: Path,
) -> None:
    line = '{"type": "RECORD", "stream": "people", "record": {"id": 1, "deep": '
    lines = singer_lines([{"id": 0, "email": "zero@example.com"}])
    lines.insert(2, line + "[" * 3000 + "]" * 3000 + "}}")
    source = write_input(tmp_path / "in.singer", lines)
    config = {"dry_run": True, "dry_run_path": str(tmp_path / "dry.jsonl"), "mapping": MAPPING}
    config["rejects_path"] = str(tmp_path / "rejects.jsonl")
    config["ledger_enabled"] = False
    result = run_target(config, source, tmp_path, timeout=60)
    assert result.returncode != 0
    assert "input line 3 nests its values deeper than Python reads" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_safe_cuts_what_is_deeper_than_its_limit() -> None:
    assert json_safe(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    cut = json_safe({"a": nested(MAX_DEPTH + 5)})
    assert json.loads(dumps(cut)) == cut
    assert depth(cut["a"]) == MAX_DEPTH - 1
