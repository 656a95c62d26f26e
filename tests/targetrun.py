"""Running the real target CLI in tests, and making Singer input for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET = [sys.executable, "-m", "target_attentive.target"]
PEOPLE_SCHEMA = {
    "type": "SCHEMA",
    "stream": "people",
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
            "first_name": {"type": ["string", "null"]},
            "tier": {"type": ["string", "number", "null"]},
            "sms_opt_in": {"type": ["boolean", "null"]},
        },
    },
    "key_properties": ["id"],
}


def person(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "email": f"person{i}@example.com", "first_name": f"Person {i}", **extra}


def singer_lines(
    records: Iterable[dict[str, Any]], *, state_every: int = 0, stream: str = "people"
) -> list[str]:
    """SCHEMA, the RECORDs, a STATE `{"last_id": id}` every `state_every` and at the end."""
    schema = dict(PEOPLE_SCHEMA, stream=stream)
    lines = [json.dumps(schema)]
    last = None
    for count, record in enumerate(records, 1):
        lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
        last = record.get("id")
        if state_every and count % state_every == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"last_id": last}}))
    lines.append(json.dumps({"type": "STATE", "value": {"last_id": last}}))
    return lines


def write_input(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def summary(self) -> dict[str, Any]:
        """The run report's METRIC line."""
        for line in reversed(self.stderr.splitlines()):
            if '"type": "summary"' in line:
                return json.loads(line.split("METRIC: ", 1)[1])["value"]
        raise AssertionError(f"no summary in stderr:\n{self.stderr[-3000:]}")


def run_target(
    config: dict[str, Any],
    input_path: Path,
    tmp_path: Path,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Result:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TARGET_ATTENTIVE_")},
        **(env or {}),
    }
    proc = subprocess.run(
        [*TARGET, "--config", str(config_path), "--input", str(input_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env=env,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start_target(
    config: dict[str, Any], lines: list[str], tmp_path: Path, **popen: Any
) -> subprocess.Popen:
    """The target running in the background on `lines`; stdout and stderr piped, as text.

    With `stdin=subprocess.PIPE` the target reads its standard input instead, written by
    the test as it goes (`lines` is then ignored).
    """
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    command = [*TARGET, "--config", str(config_path)]
    if popen.get("stdin") is None:
        command += ["--input", str(write_input(tmp_path / "in.singer", lines))]
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        **{**options, **popen},
    )


def base_config(sandbox: Any, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "api_key": sandbox.api_key,
        "api_url": sandbox.url,
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.db'}",
        "max_retry_seconds": 60,
        **overrides,
    }


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def accepted_emails(sandbox: Any) -> list[str]:
    return [
        a["payload"]["identifiers"].get("email")
        for a in sandbox.accepted()
        if a["payload"]["identifiers"].get("email")
    ]


@dataclass
class ModeRun:
    """A load through the CLI in one mode, with what the sandbox made of it."""

    result: Result
    config: dict[str, Any]
    people: list[dict]  # the people the sandbox holds (single mode applies them at once)
    in_jobs: int  # people its bulk jobs took


def run_in_mode(
    mode: str, records: list[dict[str, Any]], tmp_path: Path, **overrides: Any
) -> ModeRun:
    """The records as a stream through the CLI in `mode` ("single", "bulk" or "dry run"),
    against a fresh sandbox; `overrides` are settings (a `mapping` among them)."""
    from target_attentive.sandbox.process import SandboxProcess

    source = write_input(tmp_path / "in.singer", singer_lines(records))
    with SandboxProcess() as sb:
        config = base_config(sb, tmp_path, **overrides)
        if mode == "dry run":
            config.update(dry_run=True, dry_run_path=str(tmp_path / "dry.jsonl"))
        else:
            config["mode"] = mode
        result = run_target(config, source, tmp_path, timeout=60)  # a hang fails here
        jobs = sb.report()["jobs"]
        return ModeRun(result, config, sb.people(), sum(job["totalRecords"] for job in jobs))
