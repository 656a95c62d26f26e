"""A dry run on a ledger not made yet: the same answers as the SQLAlchemy ledger, without it.

`ledger/empty.py`'s `AbsentLedger` stands in for `ReadOnlyLedger` over a SQLite file that
does not exist, so that a first dry run does not import SQLAlchemy. These tests hold the
two to the same answers, call by call and through the CLI.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_attentive.ledger import ReadOnlyLedger
from target_attentive.ledger.empty import AbsentLedger
from target_attentive.ledger.url import resolve_url, unmade_sqlite_file
from tests.example_customers import SAMPLE_CONFIG
from tests.targetrun import read_lines, run_target

ROOT = Path(__file__).resolve().parents[1]
SINGER = ROOT / "examples" / "customers.singer"
SEED = int(os.environ.get("TARGET_ATTENTIVE_ABSENT_SEED", random.randrange(2**32)))

_PATH_CHARS = st.sampled_from("abcXYZ019._-~+ /éü")


@settings(max_examples=300)
@given(st.text(_PATH_CHARS, min_size=1, max_size=30), st.booleans())
def test_the_path_is_the_one_sqlalchemy_reads(tail: str, absolute: bool) -> None:
    database = f"/nonexistent-dir-for-tests/{tail}" if absolute else f"no-such-dir/{tail}"
    url = f"sqlite:///{database}"
    path = unmade_sqlite_file(url)
    if path is not None:
        assert path == resolve_url(url).database, url


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:ledger.db?mode=ro&uri=true",
        "sqlite:///ledger.db?timeout=5",
        "sqlite:///my%20ledger.db",
        "sqlite+pysqlite:///ledger.db",
        "postgresql+psycopg://user@host/db",
        "sqlite:/// ledger.db",
    ],
)
def test_forms_only_sqlalchemy_reads_go_its_way(url: str) -> None:
    assert unmade_sqlite_file(url) is None


def test_an_existing_file_goes_the_usual_way(tmp_path: Path) -> None:
    made = tmp_path / "ledger.db"
    assert unmade_sqlite_file(f"sqlite:///{made}") == str(made)
    made.write_bytes(b"")
    assert unmade_sqlite_file(f"sqlite:///{made}") is None


def test_the_default_url_names_the_default_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert unmade_sqlite_file(None) == str(tmp_path / "target_attentive_ledger.db")


def test_every_public_name_of_the_read_only_ledger_is_on_the_absent_one() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(ReadOnlyLedger) - public(AbsentLedger) == {"location"} - public(AbsentLedger)


def _calls(rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    """A random sequence of the calls a dry run (and the ledger command) makes."""
    keys = [f"k{i}" for i in range(4)]
    channels, sources, kinds = ["TEXT", "EMAIL"], ["1", "2"], ["string", "number", "date"]
    names = [f"attr{i}" for i in range(5)]

    def claims() -> list[tuple[str, str, str]]:
        n = rng.randrange(4)
        return [(rng.choice(keys), rng.choice(channels), rng.choice(sources)) for _ in range(n)]

    def types() -> dict[str, str]:
        return {rng.choice(names): rng.choice(kinds) for _ in range(rng.randrange(4))}

    makers = [
        lambda: ("known_optins", (rng.sample(keys, rng.randrange(5)),)),
        lambda: ("claim_optins", (claims(),)),
        lambda: ("known_optouts", (claims(),)),
        lambda: ("claim_optouts", (claims(),)),
        lambda: ("custom_types", ()),
        lambda: ("claim_types", (types(), rng.randrange(6), rng.sample(names, rng.randrange(3)))),
        lambda: ("claim_custom_types", (types(), rng.randrange(6))),
        lambda: ("last_hashes", (rng.sample(keys, rng.randrange(5)),)),
        lambda: ("identifier_owners", (rng.sample(keys, rng.randrange(5)),)),
        lambda: ("known_events", (rng.sample(keys, rng.randrange(5)),)),
        lambda: ("counts", ()),
        lambda: ("list_optins", (rng.choice([None, "pending"]),)),
        lambda: ("claimed_types", ()),
        lambda: ("unreconciled_jobs", ()),
        lambda: ("job_entries", ("job-1",)),
        lambda: ("jobs_for_person", (rng.choice(keys),)),
        lambda: ("forget_person", (rng.choice(keys),)),
        lambda: ("forget_people", (keys[:2],)),
        lambda: ("forget_everything", ()),
        lambda: ("confirm_optins", (claims(),)),
        lambda: ("record_accepted", ([(rng.choice(keys), "digest")],)),
    ]
    return [rng.choice(makers)() for _ in range(40)]


@pytest.mark.parametrize("case", range(20))
def test_the_same_calls_get_the_same_answers(case: int, tmp_path: Path) -> None:
    seed = SEED + case
    path = tmp_path / "never-made.db"
    reference = ReadOnlyLedger(f"sqlite:///{path}")
    absent = AbsentLedger(str(path))
    assert reference.absent and absent.absent
    for step, (name, args) in enumerate(_calls(random.Random(seed))):
        want, got = getattr(reference, name)(*args), getattr(absent, name)(*args)
        assert got == want, f"seed {seed} (TARGET_ATTENTIVE_ABSENT_SEED), step {step}: {name}"
    assert absent.location == reference.location
    assert not path.exists()


@pytest.mark.parametrize("subscriptions", [False, True])
def test_a_dry_run_gives_the_same_files_without_importing_sqlalchemy(
    tmp_path: Path, subscriptions: bool
) -> None:
    outputs = []
    for url in ("sqlite:///ledger.db", "sqlite+pysqlite:///ledger.db"):  # the second: SQLAlchemy
        where = tmp_path / url.split(":")[0].replace("+", "-")
        where.mkdir()
        config = {**SAMPLE_CONFIG, "ledger_url": url, "subscriptions_enabled": subscriptions}
        result = run_target(config, SINGER, where, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr[-3000:]
        imported = [line for line in result.stderr.splitlines() if "| sqlalchemy" in line]
        assert bool(imported) == ("+" in url), url
        assert not (where / "ledger.db").exists()
        outputs.append(
            (
                read_lines(where / SAMPLE_CONFIG["dry_run_path"]),
                [
                    {k: v for k, v in line.items() if k != "time"}
                    for line in read_lines(where / SAMPLE_CONFIG["rejects_path"])
                ],
                result.stdout,
                {k: v for k, v in result.summary().items() if "second" not in k},
            )
        )
    assert outputs[0] == outputs[1]
    assert outputs[0][0], "the example has people to send"
