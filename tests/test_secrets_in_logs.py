"""The API key and people's data never reach a log, at any level, whoever logs.

The target runs at DEBUG (its own loggers, singer-sdk's, requests', urllib3's,
SQLAlchemy's) over input with malformed lines, records the target rejects and a sandbox
that fails requests; then stdout, stderr and every file the target wrote, except the
user's own data stores (rejects file, dry-run file, ledger), are searched for the key and
for every email, phone number (as written and in E.164) and name in the input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from targetrun import PEOPLE_SCHEMA, base_config, run_target, write_input

from target_attentive.sandbox.process import SandboxProcess

SECRET = "sk-live-3b9f0c2d-never-in-a-log"
PEOPLE = [
    # (email, phone as the tap writes it, phone in E.164, first name)
    ("zebulon.quixley@example.com", "+1 (914) 844-0001", "+19148440001", "Zebulon"),
    ("ottoline.vrask@example.org", "020 7183 8750", "+442071838750", "Ottoline"),
    ("marisol.tendo@example.net", "+33 1 42 68 53 00", "+33142685300", "Marisol"),
    ("not-an-address-of-ignatius", "12", None, "Ignatius"),  # rejected: nothing valid
    ("perpetua.ashgrove@example.com", "+61 2 9374 4000", "+61293744000", "Perpetua"),
]


def _input_lines() -> list[str]:
    schema = json.loads(json.dumps(PEOPLE_SCHEMA))
    schema["schema"]["properties"]["last_name"] = {"type": ["string", "null"]}
    lines = [json.dumps(schema)]
    for i, (email, phone, _, name) in enumerate(PEOPLE, 1):
        record = {"id": i, "email": email, "phone": phone, "first_name": name}
        record["last_name"] = f"{name}son"
        lines.append(json.dumps({"type": "RECORD", "stream": "people", "record": record}))
    # A record that breaks the stream's schema, quoting someone in the wrong field.
    wrong = {"id": "six", "email": "cressida.wolde@example.com", "first_name": "Cressida"}
    lines.append(json.dumps({"type": "RECORD", "stream": "people", "record": wrong}))
    lines.append(json.dumps({"type": "STATE", "value": {"last_id": 6}}))
    lines.append('{"type": "RECORD", "stream": "people", "record": {"email": "leontyne.bask@exa')
    return lines


SECRETS = [SECRET, "cressida.wolde@example.com", "Cressida", "leontyne.bask", "Leontyne"]
for _email, _phone, _e164, _name in PEOPLE:
    SECRETS += [_email, _phone, _name, f"{_name}son"]
    if _e164:
        SECRETS.append(_e164)
        SECRETS.append(_e164[1:])
SECRETS = [s for s in SECRETS if len(s) > 2]


@pytest.mark.parametrize("faults", [{"fault_5xx_rate": 0.3, "fault_drop_rate": 0.2}, {}])
def test_nothing_personal_and_no_key_in_any_output_at_debug(faults: dict, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.singer", _input_lines())
    work = tmp_path / "work"
    work.mkdir()
    with SandboxProcess(api_key=SECRET, seed=5, **faults) as sandbox:
        config = base_config(
            sandbox,
            work,
            request_timeout_seconds=2,
            batch_size_rows=2,
            mapping={
                "identifiers": {"email": "email", "phone": "phone"},
                "attributes": {"firstName": "first_name", "lastName": "last_name"},
            },
        )
        config["rejects_path"] = str(work / "rejects.jsonl")
        result = run_target(config, source, work, env={"LOGLEVEL": "DEBUG"})
    assert result.returncode != 0  # the malformed last line fails the run
    assert "DEBUG" in result.stderr and "urllib3" in result.stderr, result.stderr[:3000]
    assert "input line 9" in result.stderr
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    own_data = {"rejects.jsonl", "config.json"}
    for path in work.rglob("*"):
        if path.is_file() and path.name not in own_data and not path.name.startswith("ledger"):
            outputs[str(path.relative_to(work))] = path.read_text(errors="replace")
    leaks = [
        (where, secret) for where, text in outputs.items() for secret in SECRETS if secret in text
    ]
    assert not leaks, leaks
