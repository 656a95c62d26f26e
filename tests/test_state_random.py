"""State never runs ahead: generated inputs, sandbox faults and stops, then a rerun.

Each case is drawn from a seed: several streams, SCHEMA changes mid-stream, RECORDs (some
that the target must reject), STATE messages, a small `batch_size_rows`, sandbox faults
(5xx, dropped connections, slow answers), and a stop at a random moment (a signal, or
retries running out). After the run, every record before the last state line written must
be accepted by the sandbox (its own record of what arrived) or in the rejects file. Then a
rerun from that state, as a tap would resume, with no faults: in the end every good record
is accepted and every bad one rejected. Some records opt in to email, some people appear
again (opting in again): no opt-in reaches the sandbox twice, nobody who never opted in is
subscribed, and an opt-in that did not arrive is held in the ledger as unsure (a run that
died after sending it cannot know), never silently dropped.

In-process cases run the target in this process (the sending code in a thread,
tests/inline_sender.py) with a real SIGTERM sent to this process; CLI cases run the real
command with SIGTERM or SIGKILL. `TARGET_ATTENTIVE_STATE_CASES` raises the counts (the
in-process count; a tenth of it through the CLI). A failing case prints its seed; rerun
one case with `TARGET_ATTENTIVE_STATE_SEED=<seed>`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from inline_sender import InlineSender
from targetrun import TARGET, read_lines

from target_attentive.delivery import Delivery
from target_attentive.ledger import Ledger
from target_attentive.run import Stopped
from target_attentive.sandbox.process import SandboxProcess
from target_attentive.target import TargetAttentive

CASES = int(os.environ.get("TARGET_ATTENTIVE_STATE_CASES", "200"))
CLI_CASES = max(20, CASES // 10)
ONLY_SEED = os.environ.get("TARGET_ATTENTIVE_STATE_SEED")
STREAMS = ("people", "customers", "leads")
NO_FAULTS = {"fault_5xx_rate": 0.0, "fault_drop_rate": 0.0, "fault_slow_rate": 0.0}
RATE = 2000  # the sandbox's limit and the target's pace: cases are about state, not speed
MAPPING = {
    "identifiers": {"email": "email"},
    "attributes": {"firstName": "first_name"},
    "subscriptions": [{"channel": "EMAIL", "signUpSourceId": "7", "when": "opt_in"}],
}


def schema_message(stream: str, version: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "opt_in": {"type": ["boolean", "null"]},
    }
    for extra in range(version):  # each schema change adds a property
        properties[f"extra_{extra}"] = {"type": ["string", "null"]}
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": ["id"],
    }


@dataclass
class Case:
    """One generated input with its faults and its stop."""

    seed: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    good: dict[int, str] = field(default_factory=dict)  # record id -> email
    opted_in: set[str] = field(default_factory=set)  # emails of good records that opt in
    bad: set[int] = field(default_factory=set)  # ids the target must reject
    faults: dict[str, Any] = field(default_factory=dict)
    stop_after: float | None = None  # seconds into the run; None: no signal
    batch_size_rows: int = 3
    max_retry_seconds: int = 30

    @classmethod
    def draw(cls, seed: int) -> Case:
        rng = random.Random(seed)
        case = cls(seed)
        streams = list(STREAMS[: rng.randint(1, 3)])
        versions = dict.fromkeys(streams, 0)
        case.messages = [schema_message(s, 0) for s in streams]
        record_id = 0
        for _ in range(rng.randint(5, 40)):
            roll = rng.random()
            stream = rng.choice(streams)
            if roll < 0.06:
                versions[stream] += 1
                case.messages.append(schema_message(stream, versions[stream]))
            elif roll < 0.22:
                case.messages.append({"type": "STATE", "value": {"seq": record_id}})
            else:
                record_id += 1
                record: dict[str, Any] = {"id": record_id, "first_name": f"N{record_id}"}
                if rng.random() < 0.12:
                    record["email"] = "not-an-address"
                    case.bad.add(record_id)
                else:
                    again = case.good and rng.random() < 0.2  # someone seen before
                    email = rng.choice(list(case.good.values())) if again else None
                    record["email"] = email or f"s{seed}r{record_id}@example.com"
                    case.good[record_id] = record["email"]
                if rng.random() < 0.4:
                    record["opt_in"] = True
                    if record_id in case.good:
                        case.opted_in.add(record["email"])
                case.messages.append({"type": "RECORD", "stream": stream, "record": record})
        case.messages.append({"type": "STATE", "value": {"seq": record_id, "end": True}})
        case.batch_size_rows = rng.randint(1, 6)
        if rng.random() < 0.6:
            case.faults = {
                "fault_5xx_rate": rng.choice((0.0, 0.05, 0.15)),
                "fault_drop_rate": rng.choice((0.0, 0.05)),
                "fault_slow_rate": rng.choice((0.0, 0.03)),
                "slow_seconds": 1.2,  # past the 1 s request timeout: a hang
            }
        if rng.random() < 0.15:  # an outage longer than the retry budget
            case.faults["fault_5xx_rate"] = 1.0
            case.max_retry_seconds = 1
        if rng.random() < 0.5:
            case.stop_after = rng.uniform(0.0, 0.6)
        return case

    def lines(self, messages: list[dict[str, Any]] | None = None) -> str:
        return "".join(json.dumps(m) + "\n" for m in (messages or self.messages))

    def resume_from(self, state: dict | None) -> list[dict[str, Any]]:
        """The input a tap sends when it resumes from `state`: its schemas, then what
        follows the records that state covers."""
        if state is None:
            return self.messages
        at = next(i for i, m in enumerate(self.messages) if m.get("value") == state)
        schemas: dict[str, dict] = {}
        for message in self.messages[:at]:
            if message["type"] == "SCHEMA":
                schemas[message["stream"]] = message
        return [*schemas.values(), *self.messages[at + 1 :]]

    def ids_before(self, state: dict | None) -> list[int]:
        if state is None:
            return []
        at = next(i for i, m in enumerate(self.messages) if m.get("value") == state)
        return [m["record"]["id"] for m in self.messages[:at] if m["type"] == "RECORD"]

    def config(self, sandbox: SandboxProcess, workdir: Path) -> dict[str, Any]:
        return {
            "api_key": sandbox.api_key,
            "api_url": sandbox.url,
            "rejects_path": str(workdir / "rejects.jsonl"),
            "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
            "batch_size_rows": self.batch_size_rows,
            "max_retry_seconds": self.max_retry_seconds,
            "request_timeout_seconds": 1,
            "max_requests_per_second": RATE,
            "subscriptions_enabled": True,
            "mapping": MAPPING,
        }


def check_covered(case: Case, states: list[dict], sandbox: SandboxProcess, workdir: Path) -> None:
    """Every record before each state written is accepted or in the rejects file."""
    arrived = {a["payload"]["identifiers"].get("email") for a in sandbox.accepted()}
    rejected = {r["record"]["id"] for r in read_lines(workdir / "rejects.jsonl")}
    for state in states:
        for record_id in case.ids_before(state):
            if record_id in case.bad:
                assert record_id in rejected, (
                    f"state {state} before bad record {record_id} was set aside"
                )
            else:
                assert case.good[record_id] in arrived, (
                    f"state {state} written before record {record_id} was accepted"
                )


def check_complete(case: Case, sandbox: SandboxProcess, workdir: Path) -> None:
    arrived = {a["payload"]["identifiers"].get("email") for a in sandbox.accepted()}
    missing = sorted(i for i, email in case.good.items() if email not in arrived)
    assert not missing, f"records never accepted after the rerun: {missing}"
    rejected = {r["record"]["id"] for r in read_lines(workdir / "rejects.jsonl")}
    assert case.bad <= rejected
    check_optins(case, sandbox, workdir)


def check_optins(case: Case, sandbox: SandboxProcess, workdir: Path) -> None:
    """No opt-in twice, none that was not asked for, and none lost without a trace."""
    assert sandbox.report()["duplicate_optins"] == 0, "an opt-in arrived twice"
    subscribed = {p["identifiers"].get("email") for p in sandbox.people() if p.get("subscriptions")}
    assert subscribed <= case.opted_in, f"subscribed without opting in: {subscribed}"
    with Ledger(f"sqlite:///{workdir / 'ledger.db'}", read_only=True) as ledger:
        unsure = {
            c["key"].removeprefix("email:")
            for c in ledger.list_optins()
            if c["status"] in ("pending", "in_doubt")
        }
    missing = case.opted_in - subscribed - unsure
    assert not missing, f"opt-ins neither delivered nor held as unsure: {sorted(missing)}"


def seeds(count: int, base: int) -> list[int]:
    if ONLY_SEED is not None:
        return [int(ONLY_SEED)]
    return [base + i for i in range(count)]


# -- in-process ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_sandbox():
    with SandboxProcess(rate_limit=RATE, seed=11) as sb:
        yield sb


@contextlib.contextmanager
def signal_handlers_restored():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def run_in_process(config: dict, text: str, stop_after: float | None) -> list[dict]:
    """Run the target here; a timer sends SIGTERM to this process. Returns the states."""
    stdout = io.StringIO()
    running = threading.Lock()
    alive = [True]

    def stop() -> None:
        with running:
            if alive[0]:
                os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(stop_after, stop) if stop_after is not None else None
    with signal_handlers_restored(), contextlib.redirect_stdout(stdout):
        try:
            target = TargetAttentive(config=config, parse_env_config=False)
            if timer is not None:
                timer.start()
            target.listen(io.StringIO(text))
        except (SystemExit, Stopped):
            pass  # a stop or a failure: what was written is what counts
        finally:
            with running:
                alive[0] = False
            if timer is not None:
                timer.cancel()
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("seed", seeds(CASES, 1000))
def test_state_never_ahead_in_process(
    seed: int, shared_sandbox: SandboxProcess, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(Delivery, "sender_class", InlineSender)
    case = Case.draw(seed)
    sandbox = shared_sandbox
    try:
        sandbox.reset()  # what arrived for earlier cases is not this case's business
        sandbox.configure(**{**NO_FAULTS, **case.faults})
        config = case.config(sandbox, tmp_path)
        states = run_in_process(config, case.lines(), case.stop_after)
        check_covered(case, states, sandbox, tmp_path)
        sandbox.configure(**NO_FAULTS)
        if not (states and states[-1].get("end")):
            resumed = case.resume_from(states[-1] if states else None)
            config["max_retry_seconds"] = 30
            again = run_in_process(config, case.lines(resumed), None)
            assert again and again[-1].get("end"), f"the rerun did not finish: {again}"
            check_covered(case, again, sandbox, tmp_path)
        check_complete(case, sandbox, tmp_path)
    except AssertionError as exc:
        raise AssertionError(
            f"seed {seed} (TARGET_ATTENTIVE_STATE_SEED={seed}): {exc}\ncase: {case}"
        ) from exc


# -- through the real CLI, with real SIGTERM and SIGKILL -----------------------------------


def run_cli(config: dict, text: str, workdir: Path, stop_after: float | None, kill: int) -> list:
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*TARGET, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=workdir,
    )
    assert proc.stdin is not None
    proc.stdin.write(text)
    proc.stdin.flush()
    if stop_after is not None:
        time.sleep(stop_after)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(kill)
    out, _ = proc.communicate(timeout=60)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("seed", seeds(CLI_CASES, 5000))
def test_state_never_ahead_through_the_cli(
    seed: int, shared_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    case = Case.draw(seed)
    rng = random.Random(seed)
    kill = rng.choice((signal.SIGTERM, signal.SIGKILL))
    stop_after = rng.uniform(0.5, 2.5)  # the command takes about a second to start
    sandbox = shared_sandbox
    try:
        sandbox.reset()  # what arrived for earlier cases is not this case's business
        sandbox.configure(**{**NO_FAULTS, **case.faults})
        config = case.config(sandbox, tmp_path)
        states = run_cli(config, case.lines(), tmp_path, stop_after, kill)
        check_covered(case, states, sandbox, tmp_path)
        sandbox.configure(**NO_FAULTS)
        if not (states and states[-1].get("end")):
            resumed = case.resume_from(states[-1] if states else None)
            config["max_retry_seconds"] = 30
            again = run_cli(config, case.lines(resumed), tmp_path, None, kill)
            assert again and again[-1].get("end"), f"the rerun did not finish: {again}"
            check_covered(case, again, sandbox, tmp_path)
        check_complete(case, sandbox, tmp_path)
    except AssertionError as exc:
        raise AssertionError(
            f"seed {seed} ({signal.Signals(kill).name}; TARGET_ATTENTIVE_STATE_SEED={seed}): "
            f"{exc}\ncase: {case}"
        ) from exc
