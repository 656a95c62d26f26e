"""The ledger in real loads against the sandbox, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from targetrun import (
    TARGET,
    accepted_emails,
    base_config,
    person,
    read_lines,
    run_target,
    singer_lines,
    start_target,
    write_input,
)

from target_attentive.sandbox.process import SandboxProcess

OPT_IN_MAPPING = {
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {"firstName": "first_name"},
    "subscriptions": [{"channel": "TEXT", "signUpSourceId": "4242", "when": "sms_opt_in"}],
}


def people_with_phones(count: int) -> list[dict]:
    return [person(i, phone=f"+1212555{i:04d}", sms_opt_in=(i % 3 != 0)) for i in range(count)]


@pytest.fixture
def sandbox():
    with SandboxProcess() as sb:
        yield sb


def test_a_full_table_twice_sends_everyone_once_then_only_the_changed(
    sandbox, ledger_url: str, tmp_path: Path
) -> None:
    people = [person(i) for i in range(200)]
    config = base_config(sandbox, tmp_path, ledger_url=ledger_url)
    first = run_target(config, write_input(tmp_path / "1", singer_lines(people)), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert len(sandbox.accepted()) == 200

    second = run_target(config, write_input(tmp_path / "2", singer_lines(people)), tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(sandbox.accepted()) == 200, "the second run sent someone again"
    assert second.summary()["unchanged"] == 200

    changed = {i: dict(p, first_name=f"Renamed {i}") for i, p in enumerate(people) if i % 20 == 5}
    assert len(changed) == 10
    third_input = [changed.get(i, p) for i, p in enumerate(people)]
    third = run_target(config, write_input(tmp_path / "3", singer_lines(third_input)), tmp_path)
    assert third.returncode == 0, third.stderr[-2000:]
    sent_again = sandbox.accepted(offset=200)
    assert sorted(a["payload"]["identifiers"]["email"] for a in sent_again) == sorted(
        p["email"] for p in changed.values()
    )
    assert all(a["payload"]["attributes"]["firstName"].startswith("Renamed") for a in sent_again)
    summary = third.summary()
    assert (summary["accepted"], summary["unchanged"]) == (10, 190)


def test_opt_ins_go_out_exactly_once_across_reruns_and_a_killed_load(
    ledger_url: str, tmp_path: Path
) -> None:
    people = people_with_phones(600)
    wanted = {p["phone"] for p in people if p["sms_opt_in"]}
    with SandboxProcess(latency_ms=20) as sb:
        config = base_config(
            sb,
            tmp_path,
            ledger_url=ledger_url,
            subscriptions_enabled=True,
            mapping=OPT_IN_MAPPING,
            batch_size_rows=50,
        )
        source = tmp_path / "in.singer"
        lines = singer_lines(people, state_every=50)
        # A load killed outright in the middle...
        with start_target(config, lines, tmp_path, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            for _ in range(3):
                assert proc.stdout.readline(), "the load ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
        assert 0 < sb.report()["accepted"] < 600
        # ... then the same full input three more times, as a non-incremental tap does.
        for attempt in range(3):
            result = run_target(config, source, tmp_path)
            assert result.returncode == 0, f"run {attempt}: {result.stderr[-2000:]}"
        report = sb.report()
        assert report["duplicate_optins"] == 0, "someone got an 'already subscribed' text"
        optins = {(o["channel"], o["signUpSourceId"], o["count"]) for o in report["optins"]}
        assert optins == {("TEXT", "4242", 1)}
        subscribed = {
            p["identifiers"]["phone"]
            for p in sb.people()
            if any(s["channel"] == "TEXT" for s in p["subscriptions"])
        }
        # Every opt-in arrived once; the requests in flight at the kill may have been the
        # last of their kind (at most once), and the ledger lists them as pending.
        in_doubt = wanted - subscribed
        assert len(in_doubt) <= config.get("max_concurrency", 16)
        assert subscribed <= wanted
        assert set(accepted_emails(sb)) == {p["email"] for p in people}


def test_two_runs_at_once_never_send_an_opt_in_twice(postgres_url: str, tmp_path: Path) -> None:
    people = people_with_phones(300)
    schema = f"race_{abs(hash(tmp_path)) % 10**8}"
    ledger = f"{postgres_url}?options=-csearch_path%3D{schema}"
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    with SandboxProcess(latency_ms=10) as sb:
        results = {}

        def load(name: str) -> None:
            workdir = tmp_path / name
            workdir.mkdir()
            config = base_config(
                sb, workdir, ledger_url=ledger, subscriptions_enabled=True, mapping=OPT_IN_MAPPING
            )
            source = write_input(workdir / "in.singer", singer_lines(people))
            results[name] = run_target(config, source, workdir)

        threads = [threading.Thread(target=load, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name, result in results.items():
            assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        report = sb.report()
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
    assert report["duplicate_optins"] == 0
    assert sum(o["count"] for o in report["optins"]) == sum(p["sms_opt_in"] for p in people)
    sent = sum(r.summary()["requests"].get("optins_sent", 0) for r in results.values())
    assert sent == sum(p["sms_opt_in"] for p in people)


def test_a_type_change_never_reaches_attentive_and_a_101st_attribute_is_left_out(
    sandbox, ledger_url: str, tmp_path: Path
) -> None:
    custom = {f"Attr {n:03d}": f"a{n}" for n in range(99)}
    mapping = {
        "identifiers": {"email": "email"},
        "custom_attributes": {"Tier": "tier", **{name: name for name in custom}},
    }
    config = base_config(sandbox, tmp_path, ledger_url=ledger_url, mapping=mapping)
    first = [dict(person(1), tier=3, **{name: 1 for name in custom})]
    result = run_target(config, write_input(tmp_path / "1", singer_lines(first)), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sandbox.report()["custom_attribute_count"] == 100

    # Tier is a number in the account now; "gold" is text. And a mapping that looks
    # small but would create attribute number 101 in an account that has 100.
    mapping2 = {**mapping, "custom_attributes": {"Tier": "tier", "Extra": "x"}}
    config2 = dict(config, mapping=mapping2)
    second = [
        person(2, tier="gold"),
        dict(person(3), x="one too many"),
        person(4, tier=7),
    ]
    before = len(sandbox.accepted())
    result = run_target(config2, write_input(tmp_path / "2", singer_lines(second)), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = read_lines(tmp_path / "rejects.jsonl")
    tier = [line for line in lines if line["position"] == 1]
    assert any("attributes.custom.Tier" in (line.get("field") or line["reason"]) for line in tier)
    assert all(line.get("status") is None for line in lines), "something reached Attentive"
    # The 101st attribute costs that attribute, not the person: an omission line.
    (extra,) = [line for line in lines if line["position"] == 2]
    assert extra["outcome"] == "omitted"
    assert extra["field"] == "attributes.custom.Extra" and "101" in extra["reason"]
    arrived = {
        a["payload"]["identifiers"]["email"]: a["payload"] for a in sandbox.accepted(offset=before)
    }
    assert {"person3@example.com", "person4@example.com"} <= set(arrived)
    assert "Extra" not in arrived["person3@example.com"].get("attributes", {}).get("custom", {})
    assert "gold" not in json.dumps(arrived.get("person2@example.com", {}))
    assert sandbox.report()["custom_attribute_count"] == 100


def test_the_ledger_command_shows_and_forgets(sandbox, tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    people = [person(i) for i in range(5)]
    config = base_config(sandbox, tmp_path, ledger_url=ledger)
    run_target(config, write_input(tmp_path / "in", singer_lines(people)), tmp_path)
    command = [TARGET[0], "-m", "target_attentive.ledger_cli", "--ledger-url", ledger]
    counts = json.loads(subprocess.check_output([*command, "counts"], text=True))
    assert counts["people"] == 5
    subprocess.check_call([*command, "forget", "--email", "Person2@example.com"])
    again = run_target(config, write_input(tmp_path / "in", singer_lines(people)), tmp_path)
    assert (again.summary()["accepted"], again.summary()["unchanged"]) == (1, 4)
    assert accepted_emails(sandbox)[-1] == "person2@example.com"
