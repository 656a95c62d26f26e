"""The ledger's newer records (issue 11), on SQLite and on a real PostgreSQL.

Bulk jobs kept with their payloads until reconciled, opt-ins `submitted` from a job's 202
to its results line, custom attribute claims confirmed or released, and a ledger made by
the previous schema version upgraded in place.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from target_attentive.ledger import JobRecord, Ledger, ReadOnlyLedger, resolve_url
from target_attentive.ledger.schema import SCHEMA_VERSION


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as opened:
        yield opened


def _entry(i: int, optin: bool = True) -> list:
    payload: dict = {"identifiers": {"email": f"p{i}@example.com", "phone": f"+1415555{i:04d}"}}
    if optin:
        payload["subscriptions"] = [{"channel": "TEXT", "signUpSourceId": "9"}]
    return [f"email:p{i}@example.com", f"h{i}", payload, [[i + 1, {"id": i}]]]


def _claim(i: int) -> tuple[str, str, str]:
    return (f"phone:+1415555{i:04d}", "TEXT", "9")


def test_a_bulk_batch_is_recorded_in_one_go(ledger: Ledger) -> None:
    entries = [_entry(i) for i in range(300)]
    claims = [_claim(i) for i in range(300)]
    assert ledger.claim_optins(claims) == set(claims)
    record = JobRecord("job-1", "users", [(e[0], e[1]) for e in entries], entries)
    ledger.record_bulk([record], [(e[0], e[1]) for e in entries], claims)
    counts = ledger.counts()
    assert counts["optins"]["submitted"] == 300 and counts["optins"]["pending"] == 0
    assert counts["people"] == 300 and counts["jobs_unreconciled"] == 1
    (job,) = ledger.unreconciled_jobs()
    assert (job["job_id"], job["attempt"], job["people"], job["note"]) == ("job-1", 1, 300, None)
    kept = {e.key: e for e in ledger.job_entries("job-1")}
    assert kept["email:p7@example.com"].sources == [[8, {"id": 7}]]
    assert kept["email:p7@example.com"].payload == entries[7][2]
    # submitted only from pending: a confirmed or doubted opt-in keeps its status
    ledger.confirm_optins([_claim(1000)])
    ledger.submit_optins([_claim(1000), _claim(1001)])
    listed = {o["key"]: o["status"] for o in ledger.list_optins()}
    assert listed["phone:+14155551000"] == "confirmed"
    assert listed["phone:+14155551001"] == "submitted"


def test_settling_a_completed_job(ledger: Ledger) -> None:
    entries = [_entry(i) for i in range(4)]
    claims = [_claim(i) for i in range(4)]
    ledger.claim_optins(claims)
    people = [(e[0], e[1]) for e in entries]
    ledger.record_bulk([JobRecord("job-1", "users", people, entries)], people, claims)
    ledger.record_accepted([("email:p3@example.com", "newer")])  # sent again since
    # Person 0 accepted, 2 and 3 refused, 1 without a line yet.
    ledger.settle_job(
        "job-1",
        {"email:p0@example.com": "accepted", "email:p2@example.com": "refused"}
        | {"email:p3@example.com": "refused"},
        confirm=[_claim(0)],
        release=[_claim(2), _claim(3)],
        forget=[("email:p2@example.com", "h2"), ("email:p3@example.com", "h3")],
        note=("COMPLETED", "1 people have no line"),
    )
    assert [e.key for e in ledger.job_entries("job-1")] == ["email:p1@example.com"]
    (job,) = ledger.unreconciled_jobs()
    assert (job["status"], job["note"], job["people"]) == ("COMPLETED", "1 people have no line", 1)
    statuses = {o["key"]: o["status"] for o in ledger.list_optins()}
    assert statuses == {"phone:+14155550000": "confirmed", "phone:+14155550001": "submitted"}
    keys = [e[0] for e in entries]
    # The refused are forgotten, unless a newer payload was accepted since.
    assert ledger.last_hashes(keys) == {
        "email:p0@example.com": "h0",
        "email:p1@example.com": "h1",
        "email:p3@example.com": "newer",
    }
    ledger.settle_job("job-1", {"email:p1@example.com": "accepted"}, finished="COMPLETED")
    assert ledger.unreconciled_jobs() == []
    assert ledger.job_entries("job-1") == []
    assert ledger.counts()["jobs"] == {"COMPLETED": 1}


def test_a_failed_job_goes_on_in_a_new_one(ledger: Ledger) -> None:
    entries = [_entry(i) for i in range(3)]
    claims = [_claim(i) for i in range(3)]
    ledger.claim_optins(claims)
    people = [(e[0], e[1]) for e in entries]
    ledger.record_bulk([JobRecord("job-1", "users", people, entries)], people, claims)
    ledger.settle_job("job-1", {}, doubt=claims, note=("FAILED", "sending again"))
    assert ledger.counts()["optins"]["in_doubt"] == 3
    again = JobRecord("job-2", "users", people, [[*e[:2], {}, e[3]] for e in entries], 2, "job-1")
    ledger.settle_job(
        "job-1",
        dict.fromkeys((k for k, _ in people), "resent"),
        new_jobs=[again],
        finished="FAILED",
    )
    (job,) = ledger.unreconciled_jobs()
    assert (job["job_id"], job["attempt"], job["people"]) == ("job-2", 2, 3)
    assert ledger.jobs_for_person("email:p1@example.com") == ["job-1", "job-2"]
    assert ledger.counts()["jobs"] == {"FAILED": 1, "submitted": 1}


def test_type_claims_count_names_the_ledger_does_not_know(ledger: Ledger) -> None:
    configured = [f"Configured {n}" for n in range(60)]
    asked = {f"New {n:02d}": "string" for n in range(50)}
    in_force, refused, claimed = ledger.claim_types(asked, 100, configured)
    assert len(in_force) == len(claimed) == 40 and len(refused) == 10
    assert ledger.claimed_types() == set(claimed)
    ledger.confirm_custom_types({"New 00": "string"})
    ledger.release_custom_types(["New 00", "New 01"])  # a confirmed name stays
    assert "New 00" in ledger.custom_types() and "New 01" not in ledger.custom_types()
    assert ledger.counts()["custom_attributes_claimed"] == 38
    # 39 names in the ledger and 60 configured: room for one more
    asked = {"New 01": "number", "One more": "string"}
    assert ledger.claim_types(asked, 100, configured)[:2] == ({"New 01": "number"}, ["One more"])


def test_read_only_claims_types_in_memory(ledger_url: str) -> None:
    with Ledger(ledger_url, read_only=True) as dry:
        assert isinstance(dry, ReadOnlyLedger)
        assert dry.claim_types({"A": "string", "B": "number"}, 2, ["Configured"]) == (
            {"A": "string"},
            ["B"],
            {"A": "string"},
        )
        dry.record_bulk([], [], [])
        dry.settle_job("job", {}, finished="COMPLETED")
        dry.note_job("job", "FAILED", "x")
        assert dry.custom_types() == {"A": "string"}


_V1 = """
CREATE TABLE ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (person_key TEXT PRIMARY KEY, payload_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL);
CREATE TABLE optins (person_key TEXT, channel TEXT, sign_up_source_id TEXT,
    status TEXT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (person_key, channel, sign_up_source_id));
CREATE TABLE custom_attributes (name TEXT PRIMARY KEY, type TEXT NOT NULL,
    created_at BIGINT NOT NULL);
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, stream TEXT NOT NULL, status TEXT NOT NULL,
    created_at BIGINT NOT NULL, finished_at BIGINT);
CREATE TABLE job_people (job_id TEXT, person_key TEXT, payload_hash TEXT NOT NULL,
    PRIMARY KEY (job_id, person_key));
INSERT INTO ledger_meta VALUES ('schema_version', '1');
INSERT INTO custom_attributes VALUES ('VIP', 'boolean', 1700000000);
INSERT INTO jobs VALUES ('old-job', 'users', 'submitted', 1700000000, NULL);
INSERT INTO job_people VALUES ('old-job', 'email:ann@example.com', 'h1');
INSERT INTO optins VALUES ('email:ann@example.com', 'EMAIL', '1', 'pending', 1700000000)
"""


def test_a_version_1_ledger_is_read_then_upgraded(ledger_url: str) -> None:
    engine = sa.create_engine(resolve_url(ledger_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for statement in _V1.split(";"):
            conn.exec_driver_sql(statement)
    with Ledger(ledger_url, read_only=True) as dry:  # a dry run does not upgrade it
        assert dry.custom_types() == {"VIP": "boolean"}
        assert dry.counts()["custom_attributes_claimed"] == 0
        assert [j["job_id"] for j in dry.unreconciled_jobs()] == ["old-job"]
        assert dry.identifier_owners(["email:ann@example.com"]) == {}  # no such table yet
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT value FROM ledger_meta").scalar() == "1"
    with Ledger(ledger_url) as ledger:
        assert ledger.claimed_types() == set()  # what was there is confirmed
        (job,) = ledger.unreconciled_jobs()
        assert (job["attempt"], job["people"]) == (1, 1)
        (entry,) = ledger.job_entries("old-job")
        assert (entry.key, entry.payload) == ("email:ann@example.com", None)
        ledger.settle_job("old-job", {"email:ann@example.com": "accepted"}, finished="COMPLETED")
        assert ledger.unreconciled_jobs() == []
        ledger.record_accepted([("email:ann@example.com", "h")], [("phone:+1", "email:ann@x")])
        assert ledger.identifier_owners(["phone:+1", "phone:+2"]) == {"phone:+1": "email:ann@x"}
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT value FROM ledger_meta").scalar()
    engine.dispose()
    assert version == str(SCHEMA_VERSION)
