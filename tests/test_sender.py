"""The sending process: its faults, its exit, and the client settings it reads."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from targetrun import accepted_emails, base_config, person, singer_lines, start_target

from target_attentive.client import AttentiveClient
from target_attentive.collector import Collector
from target_attentive.report import Tally
from target_attentive.sandbox.process import SandboxProcess

PEOPLE = [person(i) for i in range(400)]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _sender_of(proc: subprocess.Popen, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = _children(proc.pid)
        if children:
            return children[0]
        time.sleep(0.05)
    raise AssertionError("the target started no sending process")


def test_a_sending_process_that_dies_fails_the_batch_and_writes_no_state_for_it(
    tmp_path: Path,
) -> None:
    with SandboxProcess(latency_ms=50, rate_limit=20) as sb:
        config = base_config(sb, tmp_path, max_requests_per_second=20, batch_size_rows=50)
        proc = start_target(config, singer_lines(PEOPLE, state_every=50), tmp_path)
        sender = _sender_of(proc)
        while sb.report()["accepted"] < 110:  # the third batch is on its way
            time.sleep(0.05)
        os.kill(sender, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert "the sending process ended" in err
        states = [json.loads(line)["last_id"] for line in out.splitlines()]
        arrived = set(accepted_emails(sb))
        # Every state written is covered by people who arrived; the batch in flight is not.
        assert states and max(states) < 399
        assert {person(i)["email"] for i in range(max(states) + 1)} <= arrived


def test_a_target_killed_outright_leaves_no_sender_sending(tmp_path: Path) -> None:
    with SandboxProcess(latency_ms=50, rate_limit=20) as sb:
        config = base_config(sb, tmp_path, max_requests_per_second=20, batch_size_rows=200)
        proc = start_target(config, singer_lines(PEOPLE, state_every=50), tmp_path)
        sender = _sender_of(proc)
        while sb.report()["accepted"] < 20:
            time.sleep(0.05)
        proc.kill()
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 15
        while _alive(sender) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(sender), "the sending process outlived the target"
        settled = sb.report()["accepted"]
        time.sleep(1.5)
        assert sb.report()["accepted"] == settled
        assert settled < 200


def test_sigterm_reaches_the_target_only_and_the_sender_stops_with_it(tmp_path: Path) -> None:
    """A process-group SIGTERM (what Meltano and shells send) reaches both processes:
    the sender ignores it, the target stops it, and both exit."""
    with SandboxProcess(latency_ms=50, rate_limit=20) as sb:
        config = base_config(sb, tmp_path, max_requests_per_second=20, batch_size_rows=200)
        lines = singer_lines(PEOPLE, state_every=50)
        proc = start_target(config, lines, tmp_path, start_new_session=True)
        sender = _sender_of(proc)
        while sb.report()["accepted"] < 20:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode != 0
        assert out == "", "state was written for a batch that was not delivered"
        assert "rerun" in err.strip().splitlines()[-1].lower()
        deadline = time.monotonic() + 15
        while _alive(sender) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(sender)


# -- the client's HTTP settings ---------------------------------------------------------


def _client(sb: SandboxProcess) -> AttentiveClient:
    return AttentiveClient(
        sb.url,
        sb.api_key,
        requests_per_second=50,
        concurrency=2,
        timeout_seconds=2,
        max_retry_seconds=0,
        tally=Tally(),
    )


BODY = b'{"identifiers": {"email": "proxy@example.com"}}'


def test_proxy_variables_still_apply_to_other_hosts(monkeypatch) -> None:
    """The environment is read once per host; it decides where requests to Attentive go.

    (A loopback api_url never takes a proxy: tests/test_client_http.py.) Nothing is
    sent here: the proxy settings the client would use are read, not used.
    """
    with SandboxProcess() as sb:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = _client(sb)
        remote = client._environment("https://api.attentivemobile.com/v2/me")
        assert remote["proxies"].get("https") == "http://127.0.0.1:9"
        assert client._environment(sb.url + "/v2/me")["proxies"] == {}
        monkeypatch.setenv("NO_PROXY", "attentivemobile.com")
        fresh = _client(sb)
        assert not fresh._environment("https://api.attentivemobile.com/v2/me")["proxies"]
        client.close()
        fresh.close()


def test_a_netrc_entry_never_replaces_the_api_key(tmp_path: Path, monkeypatch) -> None:
    """requests would send .netrc credentials instead of the bearer token."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with SandboxProcess() as sb:
        client = _client(sb)
        assert client.post("/v2/user/attributes", BODY).status == 202
        client.close()


# -- the garbage collector during a load ----------------------------------------------------


def test_the_collector_pauses_collects_on_schedule_and_restores() -> None:
    assert gc.isenabled()
    with Collector(every=3) as collector:
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        for _ in range(200):  # enough that other threads' allocations cannot hide it
            cycle: list = []
            cycle.append(cycle)
        del cycle
        before = gc.get_count()[0]
        assert before >= 200
        collector.tick()
        collector.tick()
        assert collector.collections == 0
        collector.tick()
        assert collector.collections == 1
        assert gc.get_count()[0] < before
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_batch_counts_as_its_records_for_the_collector() -> None:
    with Collector(every=10, collect=lambda: 1) as collector:  # each finds garbage
        collector.tick(4)
        collector.tick(4)
        assert collector.collections == 0
        collector.tick(4)  # 12 records: one collection, and the count starts again
        assert collector.collections == 1
        for _ in range(9):
            collector.tick()
        assert collector.collections == 1
        collector.tick()
        assert collector.collections == 2


def test_collections_that_find_nothing_wait_longer_up_to_the_most() -> None:
    found = iter([0, 0, 0, 0, 0, 3, 0])
    collector = Collector(every=10, most=50, collect=lambda: next(found))
    waits = []
    for _ in range(7):
        records = collector.wait
        collector.tick(records - 1)
        assert collector.collections == len(waits)  # not yet
        collector.tick()
        waits.append(records)
    # Doubled after each empty collection, capped at 50; back to 10 after one found garbage.
    assert waits == [10, 20, 40, 50, 50, 50, 10]
    assert collector.wait == 20


def test_a_load_that_makes_cycles_keeps_them_collected() -> None:
    """Cycles made all along keep the collector at its shortest wait: they never pile up."""
    with Collector(every=100, most=1600) as collector:
        for _ in range(5_000):
            cycle: list = []
            cycle.append(cycle)
            del cycle
            collector.tick()
        assert collector.wait == 100
        assert collector.collections == 50
        assert gc.get_count()[0] <= 1_000  # at most one wait's cycles (and others' objects)
