"""Payloads shaped with stream maps reach Attentive's form, although the SDK types them text."""

from __future__ import annotations

import json
from pathlib import Path

from targetrun import read_lines, run_target, write_input

SCHEMA = {
    "type": "SCHEMA",
    "stream": "customers",
    "schema": {
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": ["string", "null"]},
            "first_name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        }
    },
    "key_properties": ["id"],
}


def _record(**values: object) -> str:
    return json.dumps({"type": "RECORD", "stream": "customers", "record": values})


def _config(tmp_path: Path, stream_map: dict) -> dict:
    return {
        "dry_run": True,
        "dry_run_path": str(tmp_path / "dry.jsonl"),
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "ledger_enabled": False,
        "stream_maps": {"customers": stream_map},
    }


def test_stream_map_built_objects_become_the_payload(tmp_path: Path) -> None:
    stream_map = {
        "identifiers": "{'email': email, 'clientUserId': str(id)}",
        "attributes": "{'firstName': first_name, 'custom': {'Signup Year': int(created_at[:4])}}",
        "__key_properties__": [],
    }
    lines = [
        json.dumps(SCHEMA),
        _record(
            id=7, email=" Ann@Example.com", first_name="Ann", created_at="2024-03-01T10:00:00Z"
        ),
        _record(id=8, email=None, first_name="Bob", created_at="2023-01-01T00:00:00Z"),
    ]
    result = run_target(
        _config(tmp_path, stream_map), write_input(tmp_path / "in", lines), tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = (line["payload"] for line in read_lines(tmp_path / "dry.jsonl"))
    assert first == {
        "identifiers": {"email": "ann@example.com", "clientUserId": "7"},
        "attributes": {"firstName": "Ann", "custom": {"Signup Year": 2024}},
    }
    # A null the map put in an identifier is dropped, never sent empty.
    assert second["identifiers"] == {"clientUserId": "8"}
    assert read_lines(tmp_path / "rejects.jsonl") == []


def test_a_stream_map_filter_is_counted_as_filtered(tmp_path: Path) -> None:
    stream_map = {"__filter__": "email is not None"}
    lines = [
        json.dumps(SCHEMA),
        _record(id=1, email="a@example.com", first_name="A", created_at="2024-01-01T00:00:00Z"),
        _record(id=2, email=None, first_name="B", created_at="2024-01-01T00:00:00Z"),
    ]
    result = run_target(
        _config(tmp_path, stream_map), write_input(tmp_path / "in", lines), tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary()
    assert (summary["read"], summary["written"], summary["filtered"]) == (2, 1, 1)
    assert summary["filtered_reasons"] == {"dropped by a stream map": 1}
