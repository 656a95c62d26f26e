"""The Meltano SDK's standard target tests, on a dry run with every output in tmp_path.

The SDK's generic test streams carry no email, phone or client id (but for pk_updates), so
with the default mapping their records must be set aside as rejects with a reason, never
crash the run.
`test_standard_streams_settle_every_record` checks that outcome, which the standard tests
themselves do not look at.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io
import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing import target_test_streams as sdk_streams
from singer_sdk.testing.runners import TargetTestRunner

from target_attentive.target import TargetAttentive


def dry_run_config(directory: Path) -> dict[str, Any]:
    return {
        "dry_run": True,
        "dry_run_path": str(directory / "dry_run.jsonl"),
        "rejects_path": str(directory / "rejects.jsonl"),
        "ledger_url": f"sqlite:///{directory / 'ledger.db'}",
    }


# parse_env_config=False: TARGET_ATTENTIVE_* variables or a .env must not change the tests.
_StandardTests = get_target_test_class(
    TargetAttentive, config={"dry_run": True}, parse_env_config=False
)


class TestTargetAttentiveStandard(_StandardTests):  # type: ignore[misc,valid-type]
    """The SDK's 16 standard target tests; each gets its own files under tmp_path."""

    @pytest.fixture
    def runner(self, tmp_path: Path) -> TargetTestRunner:
        return TargetTestRunner(
            target_class=TargetAttentive,
            config=dry_run_config(tmp_path),
            parse_env_config=False,
        )


# Streams of the standard suite that a target must load (the others must raise).
SETTLING_STREAMS = [
    "array_data",
    "camelcase",
    "camelcase_complex_schema",
    "duplicate_records",
    "encoded_string_data",
    "no_primary_keys",
    "optional_attributes",
    "pk_updates",
    "record_missing_fields",
    "record_missing_required_property",
    "schema_no_properties",
    "schema_updates",
    "special_chars_in_attributes",
]


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", SETTLING_STREAMS)
def test_standard_streams_settle_every_record(name: str, tmp_path: Path) -> None:
    source = importlib.resources.files(sdk_streams) / f"{name}.singer"
    messages = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    records = [m for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]

    target = TargetAttentive(config=dry_run_config(tmp_path), parse_env_config=False)
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        source.open(encoding="utf-8") as lines,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        target.listen(lines)

    # Only pk_updates carries emails; every other record has nothing to identify a person.
    identified = [r for r in records if r["record"].get("email")]
    summary = target.run.summary()
    assert summary["read"] == len(records)
    assert summary["unsettled"] == 0
    rejects = _lines(tmp_path / "rejects.jsonl")
    payloads = _lines(tmp_path / "dry_run.jsonl")
    assert summary["rejected"] == len(rejects) == len(records) - len(identified)
    assert summary["written"] == len(payloads) == len(identified)
    assert [p["payload"]["identifiers"]["email"] for p in payloads] == [
        r["record"]["email"] for r in identified
    ]
    for reject in rejects:
        assert reject["reason"].startswith(("identifiers: no identifier", "record")), reject
    # Only state goes to stdout: the last STATE received (the SDK skips an empty one).
    printed = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert printed == [s for s in states[-1:] if s]
