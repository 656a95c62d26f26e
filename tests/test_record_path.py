"""record_path.StraightPath: a record of a stream without stream maps takes the SDK's steps.

Seeded generated inputs go through the target twice, once with records of unmapped
streams taken straight to their sink and once through the SDK's own record path: the
dry-run file, the rejects file, the state lines and the report must be the same.
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from target_attentive.target import TargetAttentive

SEED = int(os.environ.get("TARGET_ATTENTIVE_PATH_SEED", "20261129"))
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "integer", "null"]},
        "city": {"type": ["string", "null"]},
        "spend": {"type": ["number", "null"]},
    },
}
MAPPING = {
    "identifiers": {"email": "email", "phone": "phone", "clientUserId": "id"},
    "attributes": {"location.city": "city"},
    "custom_attributes": {"Spend": "spend"},
}


def _record(rng: random.Random, n: int) -> dict[str, Any]:
    record: dict[str, Any] = {"id": f"c{n}"}
    if rng.random() < 0.8:
        record["email"] = rng.choice([f"p{n}@example.com", f" P{n}@Example.com ", "broken@", None])
    if rng.random() < 0.6:
        record["phone"] = rng.choice([f"+1201555{n % 10000:04d}", 2015550100 + n, "CALL-ME", ""])
    if rng.random() < 0.5:
        record["city"] = rng.choice(["Paris", "  ", 7])  # 7: off the stream's schema
    if rng.random() < 0.5:
        record["spend"] = rng.choice([12.5, 3, "lots"])
    if rng.random() < 0.2:
        record["_sdc_extracted_at"] = "2026-01-01T00:00:00Z"
    return record


def _input(rng: random.Random) -> str:
    lines = []
    for stream in ("customers", "leads"):
        lines.append({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": []})
    for n in range(rng.randint(20, 120)):
        stream = rng.choice(("customers", "leads"))
        lines.append({"type": "RECORD", "stream": stream, "record": _record(rng, n)})
        if rng.random() < 0.1:
            lines.append({"type": "STATE", "value": {"bookmarks": {stream: {"n": n}}}})
        if rng.random() < 0.03:  # a schema change mid-stream: a new sink for the stream
            lines.append(
                {"type": "SCHEMA", "stream": stream, "schema": {**SCHEMA}, "key_properties": ["id"]}
            )
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def _load(where: Path, text: str, straight: bool, capsys: Any) -> dict[str, Any]:
    where.mkdir()
    config = {
        "dry_run": True,
        "ledger_enabled": False,
        "batch_size_rows": 17,
        "stream_mappings": {"customers": MAPPING, "leads": MAPPING},
        "dry_run_path": str(where / "dry.jsonl"),
        "rejects_path": str(where / "rejects.jsonl"),
    }
    target = TargetAttentive(config=config)
    if not straight:
        target._straight_path = lambda message_dict: None  # type: ignore[method-assign]
    target.listen(io.StringIO(text))
    summary = target.run.summary()
    rejects = [json.loads(line) for line in (where / "rejects.jsonl").read_text().splitlines()]
    for line in rejects:
        line.pop("time", None)
    return {
        "dry": (where / "dry.jsonl").read_text(),
        "rejects": rejects,
        "state": capsys.readouterr().out,
        "summary": {
            k: v
            for k, v in summary.items()
            if k not in ("seconds", "records_per_second", "rejects_path")
        },
    }


@pytest.mark.parametrize("case", range(12))
def test_straight_and_sdk_paths_give_the_same_run(tmp_path: Path, case: int, capsys) -> None:
    seed = SEED + case
    text = _input(random.Random(seed))
    straight = _load(tmp_path / "straight", text, True, capsys)
    sdk = _load(tmp_path / "sdk", text, False, capsys)
    assert straight == sdk, f"seed {seed} (TARGET_ATTENTIVE_PATH_SEED={SEED}, case {case})"
    assert straight["summary"]["read"] > 0, f"seed {seed}"
