"""The ledger's events and opt-outs (issue 15), on SQLite and on a real PostgreSQL.

Events recorded once taken are known to the next run; opt-outs claimed once with
confirmation texts on; an opt-out sent re-arms the opt-in of its address and channel and
an opt-in sent re-arms the opt-out; a version 2 ledger is read, then upgraded in place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from target_attentive.ledger import Ledger, ReadOnlyLedger, resolve_url
from target_attentive.ledger.schema import SCHEMA_VERSION

TEXT_OUT = ("phone:+14155550100", "TEXT", "MARKETING")
EMAIL_OUT = ("email:ann@example.com", "EMAIL", "MARKETING")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as opened:
        yield opened


def test_events_taken_are_known_to_the_next_run(ledger: Ledger, ledger_url: str) -> None:
    keys = [f"custom_event:{i}" for i in range(5)]
    assert ledger.known_events(keys) == set()
    ledger.record_events([(k, "custom_event") for k in keys[:3]])
    ledger.record_events([(keys[0], "custom_event")])  # a repeat changes nothing
    assert ledger.known_events(keys) == set(keys[:3])
    with Ledger(ledger_url, read_only=True) as dry:
        assert dry.known_events(keys) == set(keys[:3])
        dry.record_events([(keys[4], "custom_event")])  # a dry run writes nothing
    assert ledger.known_events(keys) == set(keys[:3])


def test_an_optout_is_claimed_once_then_follows_its_answer(ledger: Ledger) -> None:
    assert ledger.claim_optouts([TEXT_OUT, EMAIL_OUT]) == {TEXT_OUT, EMAIL_OUT}
    assert ledger.claim_optouts([TEXT_OUT]) == set()  # pending blocks a second send
    ledger.release_optouts([EMAIL_OUT])  # refused: it may go again
    assert ledger.known_optouts([TEXT_OUT, EMAIL_OUT]) == {TEXT_OUT}
    ledger.record_optouts([TEXT_OUT])
    assert ledger.claim_optouts([TEXT_OUT, EMAIL_OUT]) == {EMAIL_OUT}
    ledger.doubt_optouts([EMAIL_OUT])
    assert ledger.claim_optouts([EMAIL_OUT]) == set()


def test_of_runs_racing_for_an_optout_one_gets_it(ledger: Ledger, ledger_url: str) -> None:
    others = [Ledger(ledger_url) for _ in range(4)]
    won: list[set] = []
    barrier = threading.Barrier(len(others))

    def claim(other: Ledger) -> None:
        barrier.wait()
        won.append(other.claim_optouts([TEXT_OUT]))

    threads = [threading.Thread(target=claim, args=(o,)) for o in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert sorted(len(w) for w in won) == [0, 0, 0, 1]


def test_an_optout_re_arms_the_optin_and_an_optin_the_optout(ledger: Ledger) -> None:
    text_in = ("phone:+14155550100", "TEXT", "9")
    email_in = ("email:ann@example.com", "EMAIL", "9")
    assert ledger.claim_optins([text_in, email_in]) == {text_in, email_in}
    ledger.confirm_optins([text_in, email_in])
    assert ledger.claim_optins([text_in]) == set()
    ledger.record_optouts([TEXT_OUT])  # TEXT only: the EMAIL opt-in stays blocked
    assert ledger.claim_optins([text_in, email_in]) == {text_in}
    ledger.confirm_optins([text_in])
    assert ledger.known_optouts([TEXT_OUT]) == set()  # the opt-in re-armed it
    assert ledger.claim_optouts([TEXT_OUT]) == {TEXT_OUT}


def test_an_optin_confirmed_by_a_bulk_job_re_arms_the_optout(ledger: Ledger) -> None:
    text_in = ("phone:+14155550100", "TEXT", "9")
    ledger.record_optouts([TEXT_OUT])
    ledger.record_job("job-1", "people", [("phone:+14155550100", "h")])
    ledger.settle_job("job-1", {}, confirm=[text_in], finished="COMPLETED")
    assert ledger.known_optouts([TEXT_OUT]) == set()


def test_forgetting_everything_forgets_events_and_optouts(ledger: Ledger) -> None:
    ledger.record_events([("purchase:o-1", "purchase")])
    ledger.record_optouts([TEXT_OUT])
    ledger.forget_everything()
    assert ledger.known_events(["purchase:o-1"]) == set()
    assert ledger.known_optouts([TEXT_OUT]) == set()


_V2 = """
CREATE TABLE ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (person_key TEXT PRIMARY KEY, payload_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL);
CREATE TABLE optins (person_key TEXT, channel TEXT, sign_up_source_id TEXT,
    status TEXT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (person_key, channel, sign_up_source_id));
CREATE TABLE custom_attributes (name TEXT PRIMARY KEY, type TEXT NOT NULL,
    created_at BIGINT NOT NULL, status TEXT NOT NULL DEFAULT 'confirmed');
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, stream TEXT NOT NULL, status TEXT NOT NULL,
    created_at BIGINT NOT NULL, finished_at BIGINT, attempt INTEGER NOT NULL DEFAULT 1,
    previous_job TEXT, note TEXT);
CREATE TABLE job_people (job_id TEXT, person_key TEXT, payload_hash TEXT NOT NULL,
    outcome TEXT, PRIMARY KEY (job_id, person_key));
CREATE TABLE job_payloads (job_id TEXT PRIMARY KEY, people BYTEA NOT NULL);
INSERT INTO ledger_meta VALUES ('schema_version', '2');
INSERT INTO people VALUES ('email:ann@example.com', 'h1', 1700000000);
INSERT INTO optins VALUES ('phone:+14155550100', 'TEXT', '9', 'confirmed', 1700000000)
"""


def test_a_version_2_ledger_is_read_then_upgraded(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url), poolclass=sa.pool.NullPool)
    script = _V2 if not ledger_url.startswith("sqlite") else _V2.replace("BYTEA", "BLOB")
    with engine.begin() as conn:
        for statement in script.split(";"):
            conn.exec_driver_sql(statement)
    with Ledger(ledger_url, read_only=True) as dry:  # a dry run reads it as it is
        assert isinstance(dry, ReadOnlyLedger)
        assert dry.known_events(["custom_event:1"]) == set()
        assert dry.known_optouts([TEXT_OUT]) == set()
        assert dry.claim_optouts([TEXT_OUT]) == {TEXT_OUT}
        assert dry.known_optouts([TEXT_OUT]) == {TEXT_OUT}  # remembered for the dry run
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT value FROM ledger_meta").scalar() == "2"
    with Ledger(ledger_url) as ledger:
        assert ledger.last_hashes(["email:ann@example.com"]) == {"email:ann@example.com": "h1"}
        ledger.record_events([("custom_event:1", "custom_event")])
        assert ledger.known_events(["custom_event:1"]) == {"custom_event:1"}
        ledger.record_optouts([TEXT_OUT])
        assert ledger.claim_optins([("phone:+14155550100", "TEXT", "9")])  # re-armed
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT value FROM ledger_meta").scalar()
    engine.dispose()
    assert version == str(SCHEMA_VERSION) == "3"
