"""The sync ledger, on SQLite and on a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from target_attentive.ledger import (
    DEFAULT_FILE,
    SCHEMA_VERSION,
    Ledger,
    LedgerError,
    ledger_meta,
    resolve_url,
)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as opened:
        yield opened


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run the workers in threads released at the same instant; their results in order."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = workers[index]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


# -- people ------------------------------------------------------------------------------


def test_hashes_are_remembered_per_key(ledger: Ledger) -> None:
    keys = [f"email:p{i}@example.com" for i in range(2000)]  # more than one IN chunk
    ledger.record_accepted([(k, f"h{i}") for i, k in enumerate(keys)])
    found = ledger.last_hashes([*keys, "email:nobody@example.com", keys[0]])
    assert len(found) == 2000
    assert found[keys[1999]] == "h1999"
    # a key given twice: the last hash wins; a new hash replaces the old one
    ledger.record_accepted([(keys[0], "old"), (keys[0], "new"), (keys[1], "changed")])
    assert ledger.last_hashes(keys[:3]) == {keys[0]: "new", keys[1]: "changed", keys[2]: "h2"}
    assert ledger.last_hashes([]) == {}
    ledger.record_accepted([])


def test_forget_people_sends_them_again(ledger: Ledger) -> None:
    ledger.record_accepted([("k1", "a"), ("k2", "b"), ("k3", "c")])
    assert ledger.forget_people(["k1", "k3", "k9", "k1"]) == 2
    assert ledger.last_hashes(["k1", "k2", "k3"]) == {"k2": "b"}
    assert ledger.forget_people([]) == 0


def test_sqlite_batch_writes_are_a_few_statements(tmp_path: Path) -> None:
    """A batch's rows go in multi-row statements (SQLAlchemy's "insertmanyvalues"), never
    row by row, except people's digests and identifier owners.

    The driver's executemany releases and retakes the GIL for every row, which would stall
    the thread that reads records if the reading process wrote them. Those two tables are
    written only by the sending process (sending.py), where one prepared statement run per
    row is 5x faster than multi-row VALUES with RETURNING.
    """
    from sqlalchemy.engine.interfaces import ExecuteStyle

    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        statements: list[tuple[str, bool]] = []
        sa.event.listen(
            ledger._engine,
            "before_cursor_execute",
            lambda conn, cursor, sql, params, context, many: statements.append(
                (sql, context.execute_style is ExecuteStyle.EXECUTEMANY)
            ),
        )
        rows = [(f"email:p{i}@example.com", f"h{i}") for i in range(10_000)]
        claims = [(f"phone:+1415555{i:04d}", "TEXT", "9") for i in range(5_000)]
        ledger.record_accepted(rows)
        ledger.record_accepted(rows[:3])  # an update of rows already there
        ledger.record_jobs([("job-1", "users", rows)])
        ledger.confirm_optins(claims)
        ledger.doubt_optins(claims)  # confirmed ones stay confirmed (a WHERE in the tail)
        writes = [sql for sql, _ in statements if sql.startswith("INSERT")]
        many = {sql.split()[2] for sql, many in statements if many}
        assert many == {"people"}, "only the sending process's pair tables row by row"
        assert len(writes) <= 12, len(writes)
        assert ledger.last_hashes([rows[0][0], rows[-1][0]]) == dict([rows[0], rows[-1]])
        assert ledger.job_people("job-1")[:1] == [sorted(rows)[0]]
        assert ledger.counts()["optins"]["confirmed"] == 5_000


# -- opt-ins -----------------------------------------------------------------------------


def test_an_optin_is_claimed_once(ledger: Ledger) -> None:
    a_text = ("phone:+14155550100", "TEXT", "111")
    a_mail = ("email:ann@example.com", "EMAIL", "222")
    b_text = ("phone:+14155550101", "TEXT", "111")
    assert ledger.claim_optins([a_text, a_mail, a_text]) == {a_text, a_mail}
    assert ledger.claim_optins([a_text, b_text]) == {b_text}  # a pending claim blocks
    ledger.confirm_optins([a_text])
    ledger.doubt_optins([b_text])
    assert ledger.claim_optins([a_text, a_mail, b_text]) == set()  # so do all statuses
    assert ledger.known_optins(["phone:+14155550100", "phone:+14155550101", "x"]) == {
        a_text,
        b_text,
    }
    listed = {(o["key"], o["channel"], o["signUpSourceId"]): o for o in ledger.list_optins()}
    assert {k: o["status"] for k, o in listed.items()} == {
        a_text: "confirmed",
        a_mail: "pending",
        b_text: "in_doubt",
    }
    assert dt.datetime.fromisoformat(listed[a_text]["updated_at"]).tzinfo is not None
    assert [o["key"] for o in ledger.list_optins("in_doubt")] == [b_text[0]]


def test_a_refused_optin_can_be_claimed_again(ledger: Ledger) -> None:
    claims = [(f"phone:+1415555{i:04d}", "TEXT", "9") for i in range(700)]  # > 1 chunk
    assert ledger.claim_optins(claims) == set(claims)
    ledger.release_optins(claims[:650])
    assert ledger.known_optins([c[0] for c in claims]) == set(claims[650:])
    assert ledger.claim_optins(claims) == set(claims[:650])


def test_confirm_and_doubt_record_even_unclaimed_optins(ledger: Ledger) -> None:
    first, second = ("k", "TEXT", "1"), ("k", "EMAIL", "2")
    ledger.confirm_optins([first])
    ledger.doubt_optins([second, first])  # a confirmed opt-in stays confirmed
    assert ledger.counts()["optins"] == {
        "pending": 0,
        "submitted": 0,
        "confirmed": 1,
        "in_doubt": 1,
    }
    ledger.confirm_optins([second])
    assert ledger.counts()["optins"] == {
        "pending": 0,
        "submitted": 0,
        "confirmed": 2,
        "in_doubt": 0,
    }


def test_claims_race_each_optin_goes_to_one_caller(ledger_url: str) -> None:
    """Two ledgers (two runs), 8 threads each, all claiming the same 500 opt-ins."""
    claims = [(f"phone:+1212555{i:04d}", "TEXT", "42") for i in range(500)]
    ledgers = [Ledger(ledger_url), Ledger(ledger_url)]
    try:

        def worker(ledger: Ledger, seed: int) -> Callable[[], set]:
            mine = claims[:]
            random.Random(seed).shuffle(mine)
            return lambda: ledger.claim_optins(mine)

        results = _race([worker(ledgers[n % 2], n) for n in range(16)])
    finally:
        for opened in ledgers:
            opened.close()
    won = Counter(claim for result in results for claim in result)
    assert set(won) == set(claims)
    assert set(won.values()) == {1}  # every claim returned exactly once in total
    with Ledger(ledger_url) as check:
        assert check.counts()["optins"]["pending"] == 500


# -- custom attributes -------------------------------------------------------------------


def test_custom_types_first_type_wins_and_the_cap_holds(ledger: Ledger) -> None:
    assert ledger.custom_types() == {}
    assert ledger.claim_custom_types({"VIP": "boolean", "Age": "number"}, limit=3) == (
        {"VIP": "boolean", "Age": "number"},
        [],
    )
    in_force, refused = ledger.claim_custom_types(
        {"Age": "string", "Color": "string", "Size": "string", "Shoe": "number"}, limit=3
    )
    assert in_force == {"Age": "number", "Color": "string"}
    assert refused == ["Size", "Shoe"]
    assert ledger.custom_types() == {"VIP": "boolean", "Age": "number", "Color": "string"}
    # names are case-sensitive, as in Attentive
    assert ledger.claim_custom_types({"vip": "string"}, limit=3) == ({}, ["vip"])
    assert ledger.claim_custom_types({}) == ({}, [])


def test_custom_types_race_never_passes_the_cap(ledger_url: str) -> None:
    """Two ledgers add 60 new names each at once, limit 100: exactly 100 are accepted."""
    ledgers = [Ledger(ledger_url), Ledger(ledger_url)]
    try:
        names = [{f"run{r} attr {i}": "string" for i in range(60)} for r in range(2)]
        results = _race(
            [lambda r=r: ledgers[r].claim_custom_types(names[r], limit=100) for r in range(2)]
        )
        accepted = sum(len(in_force) for in_force, _ in results)
        refused = sum(len(refused) for _, refused in results)
        assert (accepted, refused) == (100, 20)
        assert len(ledgers[0].custom_types()) == 100

        # Finer grain: 2 ledgers x 4 threads, each adding 15 names one call at a time.
        ledgers[0].forget_everything()

        def adder(ledger: Ledger, prefix: str) -> Callable[[], int]:
            def run() -> int:
                won = 0
                for i in range(15):
                    in_force, _ = ledger.claim_custom_types({f"{prefix}-{i}": "number"})
                    won += len(in_force)
                return won

            return run

        won = _race([adder(ledgers[n % 2], f"t{n}") for n in range(8)])
        assert sum(won) == 100
        assert len(ledgers[1].custom_types()) == 100
    finally:
        for opened in ledgers:
            opened.close()


# -- bulk jobs ---------------------------------------------------------------------------


def test_job_lifecycle(ledger: Ledger) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    people = [(f"email:p{i}@example.com", f"h{i}") for i in range(1000)]
    ledger.record_accepted(people)
    ledger.record_job("job-1", "users", people)
    ledger.record_job("job-2", "users", [people[0], ("email:p0@example.com", "h0-newer")])
    ledger.record_job("job-3", "buyers", [])
    unfinished = ledger.unfinished_jobs()
    assert [j["job_id"] for j in unfinished] == ["job-1", "job-2", "job-3"]
    assert unfinished[0]["stream"] == "users"
    assert unfinished[0]["status"] == "submitted"
    assert unfinished[0]["created_at"] >= before
    assert sorted(ledger.job_people("job-1")) == sorted(people)
    assert ledger.job_people("job-2") == [("email:p0@example.com", "h0-newer")]
    assert ledger.jobs_for_person("email:p0@example.com") == ["job-1", "job-2"]
    assert ledger.jobs_for_person("email:p1@example.com") == ["job-1"]

    refused = [k for k, _ in people[:950]]  # more than one IN chunk
    ledger.finish_job("job-1", "COMPLETED", refused)
    assert [j["job_id"] for j in ledger.unfinished_jobs()] == ["job-2", "job-3"]
    assert set(ledger.last_hashes([k for k, _ in people])) == {k for k, _ in people[950:]}
    assert ledger.counts()["jobs"] == {"COMPLETED": 1, "submitted": 2}
    # the job and what it carried stay traceable
    assert len(ledger.job_people("job-1")) == 1000
    with pytest.raises(KeyError):
        ledger.finish_job("no-such-job", "FAILED", [])


# -- operating it ------------------------------------------------------------------------


def _fill(ledger: Ledger) -> None:
    ledger.record_accepted(
        [("email:ann@example.com", "h1"), ("email:bob@example.com", "h2")],
        [("email:ann@example.com", "email:ann@example.com"), ("phone:+1", "email:ann@example.com")],
    )
    ledger.claim_optins([("email:ann@example.com", "EMAIL", "1")])
    ledger.confirm_optins([("email:ann@example.com", "EMAIL", "1")])
    ledger.claim_optins([("email:ann@example.com", "TEXT", "2")])
    ledger.doubt_optins([("email:ann@example.com", "TEXT", "2")])
    ledger.claim_optins([("email:bob@example.com", "TEXT", "2")])
    ledger.claim_custom_types({"VIP": "boolean"})
    ledger.record_job("job-1", "users", [("email:ann@example.com", "h1")])


def test_counts_and_forgetting(ledger: Ledger) -> None:
    _fill(ledger)
    ledger.record_events([("custom_event:ev-1", "custom_event")])
    ledger.record_optouts([("email:dan@example.com", "EMAIL", "MARKETING")])
    assert ledger.counts() == {
        "events": 1,
        "optouts": {"sent": 1},
        "people": 2,
        "identifiers": 2,
        "optins": {"pending": 1, "submitted": 0, "confirmed": 1, "in_doubt": 1},
        "custom_attributes": 1,
        "custom_attributes_claimed": 1,
        "jobs": {"submitted": 1},
        "jobs_unreconciled": 1,
    }
    assert ledger.forget_person("email:ann@example.com") == {
        "key": "email:ann@example.com",
        "hash_removed": True,
        "optins_removed": [
            {"channel": "EMAIL", "signUpSourceId": "1", "status": "confirmed"},
            {"channel": "TEXT", "signUpSourceId": "2", "status": "in_doubt"},
        ],
        "optouts_removed": [],
    }
    assert ledger.forget_person("email:ann@example.com")["hash_removed"] is False
    assert ledger.forget_person("email:dan@example.com")["optouts_removed"] == [
        {"channel": "EMAIL", "type": "MARKETING", "status": "sent"}
    ]
    assert ledger.known_optouts([("email:dan@example.com", "EMAIL", "MARKETING")]) == set()
    assert ledger.identifier_owners(["email:ann@example.com", "phone:+1"]) == {}
    assert ledger.last_hashes(["email:ann@example.com", "email:bob@example.com"]) == {
        "email:bob@example.com": "h2"
    }
    assert ledger.claim_optins([("email:ann@example.com", "EMAIL", "1")])  # may go again
    ledger.forget_everything()
    assert ledger.counts() == {
        "events": 0,
        "optouts": {},
        "people": 0,
        "identifiers": 0,
        "optins": {"pending": 0, "submitted": 0, "confirmed": 0, "in_doubt": 0},
        "custom_attributes": 0,
        "custom_attributes_claimed": 0,
        "jobs": {},
        "jobs_unreconciled": 0,
    }
    assert ledger.job_people("job-1") == []


def test_one_ledger_shared_by_threads(ledger: Ledger) -> None:
    def worker(n: int) -> Callable[[], dict]:
        rows = [(f"t{n}:{i}", f"h{i}") for i in range(300)]

        def run() -> dict:
            for start in range(0, 300, 50):
                ledger.record_accepted(rows[start : start + 50])
                ledger.claim_optins([(k, "TEXT", "1") for k, _ in rows[start : start + 50]])
            return ledger.last_hashes([k for k, _ in rows])

        return run

    results = _race([worker(n) for n in range(8)])
    assert all(len(found) == 300 for found in results)
    assert ledger.counts()["people"] == 2400
    assert ledger.counts()["optins"]["pending"] == 2400


# -- read-only (dry runs) ----------------------------------------------------------------


def _dump(url: str) -> dict:
    with Ledger(url) as opened:
        return {
            "counts": opened.counts(),
            "optins": opened.list_optins(),
            "types": opened.custom_types(),
            "jobs": opened.unfinished_jobs(),
        }


def test_read_only_never_writes(ledger_url: str) -> None:
    with Ledger(ledger_url) as writer:
        _fill(writer)
    before = _dump(ledger_url)
    with Ledger(ledger_url, read_only=True) as dry:
        assert dry.last_hashes(["email:ann@example.com"]) == {"email:ann@example.com": "h1"}
        known = ("email:ann@example.com", "EMAIL", "1")
        new = ("email:cat@example.com", "EMAIL", "1")
        assert dry.claim_optins([known, new]) == {new}  # what a write would have claimed
        assert dry.claim_optins([new]) == set()  # ... and it is remembered, in memory
        assert new in dry.known_optins(["email:cat@example.com"])
        in_force, refused = dry.claim_custom_types({"VIP": "string", "Tier": "string"}, limit=2)
        assert (in_force, refused) == ({"VIP": "boolean", "Tier": "string"}, [])
        assert dry.claim_custom_types({"More": "string"}, limit=2) == ({}, ["More"])
        assert dry.custom_types() == {"VIP": "boolean", "Tier": "string"}
        dry.record_accepted([("email:ann@example.com", "changed"), ("email:dan@x.com", "h")])
        assert dry.forget_people(["email:bob@example.com"]) == 0
        dry.confirm_optins([new])
        dry.doubt_optins([known])
        dry.release_optins([known])
        dry.record_job("job-2", "users", [("email:dan@x.com", "h")])
        dry.finish_job("job-1", "COMPLETED", ["email:ann@example.com"])
        assert dry.forget_person("email:ann@example.com")["hash_removed"] is False
        dry.forget_everything()
        assert dry.counts() == before["counts"]
    assert _dump(ledger_url) == before


def test_read_only_on_a_ledger_that_does_not_exist(ledger_url: str) -> None:
    with Ledger(ledger_url, read_only=True) as dry:
        assert dry.last_hashes(["k"]) == {}
        assert dry.known_optins(["k"]) == set()
        assert dry.claim_optins([("k", "TEXT", "1")]) == {("k", "TEXT", "1")}
        assert dry.claim_optins([("k", "TEXT", "1")]) == set()
        assert dry.claim_custom_types({"A": "string", "B": "number"}, limit=1) == (
            {"A": "string"},
            ["B"],
        )
        assert dry.custom_types() == {"A": "string"}
        assert dry.unfinished_jobs() == []
        assert dry.job_people("j") == []
        assert dry.jobs_for_person("k") == []
        assert dry.counts()["people"] == 0
        dry.record_accepted([("k", "h")])
        assert dry.last_hashes(["k"]) == {}
    url = resolve_url(ledger_url)
    if url.get_backend_name() == "sqlite":
        assert not os.path.exists(url.database)  # no file was created
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # no table was created
        engine.dispose()


# -- opening it --------------------------------------------------------------------------


def test_default_ledger_is_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with Ledger(None, read_only=True) as dry:
        assert dry.counts()["people"] == 0
    assert not (tmp_path / DEFAULT_FILE).exists()
    with (
        caplog.at_level(logging.INFO, logger="target_attentive.ledger"),
        Ledger(None) as ledger,
    ):
        ledger.record_accepted([("k", "h")])
    path = tmp_path / DEFAULT_FILE
    assert path.exists()
    assert str(path) in caplog.text
    monkeypatch.chdir("/")  # the path was made absolute when opened
    with Ledger(f"sqlite:///{path}") as again:
        assert again.last_hashes(["k"]) == {"k": "h"}
        assert again.location == str(path)


def test_schema_version_is_recorded_and_a_newer_one_refused(ledger_url: str) -> None:
    with Ledger(ledger_url):
        pass
    engine = sa.create_engine(resolve_url(ledger_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        assert conn.execute(sa.select(ledger_meta.c.value)).scalar() == str(SCHEMA_VERSION)
        conn.execute(sa.update(ledger_meta).values(value=str(SCHEMA_VERSION + 1)))
    engine.dispose()
    with pytest.raises(LedgerError, match="upgrade target-attentive"):
        Ledger(ledger_url)
    with pytest.raises(LedgerError, match="upgrade target-attentive"):
        Ledger(ledger_url, read_only=True)


def test_urls() -> None:
    assert resolve_url("postgresql://u:p@db/ledger").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u@db/ledger").drivername == "postgresql+psycopg"
    assert resolve_url(None).database == os.path.abspath(DEFAULT_FILE)
    with pytest.raises(LedgerError, match="not supported"):
        resolve_url("mysql://u@db/ledger")


def test_in_memory_sqlite_works_from_threads() -> None:
    with Ledger("sqlite://") as ledger:
        _race([lambda n=n: ledger.record_accepted([(f"k{n}", "h")]) for n in range(4)])
        assert len(ledger.last_hashes([f"k{n}" for n in range(4)])) == 4


# -- the command -------------------------------------------------------------------------


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "target_attentive.ledger_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_cli_counts_and_forget(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        _fill(ledger)
    code, out, err = _cli("--ledger-url", ledger_url, "counts")
    assert code == 0, err
    assert json.loads(out)["people"] == 2
    assert json.loads(out)["optins"] == {
        "pending": 1,
        "submitted": 0,
        "confirmed": 1,
        "in_doubt": 1,
    }
    assert "secret" not in err

    code, out, err = _cli("--ledger-url", ledger_url, "forget", "--key", "email:ann@example.com")
    assert code == 0, err
    assert json.loads(out)["hash_removed"] is True
    assert len(json.loads(out)["optins_removed"]) == 2
    with Ledger(ledger_url) as ledger:
        assert ledger.last_hashes(["email:ann@example.com"]) == {}
        assert ledger.known_optins(["email:ann@example.com"]) == set()


def test_cli_forget_by_identifier_and_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        _fill(ledger)
        ledger.record_accepted([("phone:+14155550100", "h")])
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"ledger_url": url}))
    code, out, err = _cli("--config", str(config), "forget", "--email", " Bob@Example.com ")
    assert code == 0, err
    assert json.loads(out)["key"] == "email:bob@example.com"
    code, out, err = _cli(
        "forget", "--phone", "(415) 555-0100", env={"TARGET_ATTENTIVE_LEDGER_URL": url}
    )
    assert code == 0, err
    assert json.loads(out)["key"] == "phone:+14155550100"
    assert json.loads(out)["hash_removed"] is True
    code, out, err = _cli("--ledger-url", url, "optins", "--status", "in_doubt")
    assert code == 0, err
    assert [json.loads(line)["channel"] for line in out.splitlines()] == ["TEXT"]

    code, out, err = _cli("--ledger-url", url, "forget-all")
    assert code == 2
    assert "--yes" in err
    code, out, err = _cli("--ledger-url", url, "forget-all", "--yes")
    assert code == 0, err
    assert json.loads(out)["forgotten"]["people"] == 1
    with Ledger(url) as ledger:
        assert ledger.counts()["people"] == 0

    # reading a ledger that does not exist creates nothing
    code, out, err = _cli("--ledger-url", f"sqlite:///{tmp_path / 'none.db'}", "counts")
    assert code == 0, err
    assert json.loads(out)["people"] == 0
    assert not (tmp_path / "none.db").exists()
    code, out, err = _cli("--ledger-url", "mysql://x@y/z", "counts")
    assert (code, out) == (2, "")
    assert "not supported" in err


# -- what it costs -----------------------------------------------------------------------


def _person(i: int) -> str:
    return f"email:customer{i:07d}@example.com"  # a typical key: 33 characters


def _hash(i: int, round_: int = 0) -> str:
    return f"{i * 2654435761 + round_:032x}"[-32:]  # 32 hex digits, as keys.payload_hash


def test_size_and_speed(ledger_url: str, capsys: pytest.CaptureFixture) -> None:
    """Bytes per person on disk, and the cost of one 10,000-person batch."""
    batch = 10_000
    backend = resolve_url(ledger_url).get_backend_name()
    total = 200_000 if backend == "sqlite" else 100_000
    with Ledger(ledger_url) as ledger:
        empty = _size(ledger_url)
        for start in range(0, total, batch):
            ledger.record_accepted([(_person(i), _hash(i)) for i in range(start, start + batch)])
        with_people = _size(ledger_url)
        # a batch as a run sees it: half known people (a quarter of them changed), half new
        keys = [_person(i) for i in range(total - batch // 2, total + batch // 2)]
        timings = []
        for round_ in range(3):
            started = time.perf_counter()
            last = ledger.last_hashes(keys)
            changed = [
                (k, _hash(i, round_ + 1)) for i, k in enumerate(keys) if k not in last or i % 4 == 0
            ]
            ledger.record_accepted(changed)
            timings.append(time.perf_counter() - started)
        assert len(last) >= batch // 2
        people_count = total + batch // 2
        before_optins = _size(ledger_url)
        optins = [(_person(i), "TEXT", "12345") for i in range(total)]
        started = time.perf_counter()
        for start in range(0, total, batch):
            assert len(ledger.claim_optins(optins[start : start + batch])) == batch
        claim_ms = (time.perf_counter() - started) / (total / batch) * 1000
        with_optins = _size(ledger_url)
        started = time.perf_counter()
        for i in range(total, total + 200):  # single mode: one person a request
            claim = (_person(i), "TEXT", "12345")
            ledger.claim_optins([claim])
            ledger.confirm_optins([claim])
        single_ms = (time.perf_counter() - started) / 200 * 1000
    people_mb = (with_people - empty) / total
    optin_mb = (with_optins - before_optins) / total
    with capsys.disabled():
        print(
            f"\nledger on {backend}: {people_mb:.0f} MB per million people (key+hash), "
            f"+{optin_mb:.0f} MB per million opt-ins; per 10,000-person batch: "
            f"last_hashes + record_accepted {min(timings) * 1000:.0f} ms, "
            f"claim_optins {claim_ms:.0f} ms; single claim + confirm {single_ms:.1f} ms "
            f"({people_count} people)"
        )
    assert people_mb < 250
    assert min(timings) < 2.0


def _size(url: str) -> int:
    """Bytes the ledger takes: the SQLite file (WAL folded in), or PostgreSQL's tables."""
    parsed = resolve_url(url)
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if parsed.get_backend_name() == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = os.path.getsize(parsed.database)
        else:
            size = conn.exec_driver_sql(
                "SELECT pg_total_relation_size('people') + pg_total_relation_size('optins')"
            ).scalar_one()
    engine.dispose()
    return size
