"""Shared fixtures: a real PostgreSQL server, and a fresh ledger database per test.

`postgres_url` uses `TARGET_ATTENTIVE_TEST_POSTGRES_URL` when set; otherwise it starts a
throwaway server with Debian's binaries (package `postgresql`: initdb, pg_ctl, postgres
from /usr/lib/postgresql/<version>/bin) in a temporary directory, listening on a free
port of 127.0.0.1, and stops it when the session ends. Without the binaries the
PostgreSQL tests are skipped, except with `CI` set: CI must test PostgreSQL for real.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_ENV = "TARGET_ATTENTIVE_TEST_POSTGRES_URL"
DATABASE = "target_attentive_tests"


def _postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL bin directory, else the one on PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if all(os.access(Path(bindir) / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(bindir)
    found = [shutil.which(tool) for tool in ("initdb", "pg_ctl", "postgres")]
    if all(found):
        return Path(found[0]).resolve().parent  # type: ignore[arg-type]
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` system user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root without a `postgres` system user: initdb refuses root")
    return ["runuser", "-u", "postgres", "--"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}; CI must test the ledger on PostgreSQL (apt-get install postgresql)")
    pytest.skip(f"{reason}; install Debian's `postgresql` or set {POSTGRES_ENV}")


def _postgresql_psycopg(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """`postgresql+psycopg://` URL of a database the tests may fill and empty."""
    given = os.environ.get(POSTGRES_ENV)
    if given:
        yield _postgresql_psycopg(given).render_as_string(hide_password=False)
        return
    bindir = _postgres_bin()
    if bindir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not found")
    assert bindir is not None
    runas = _as_postgres_user()
    # Not under pytest's basetemp: the postgres user cannot enter root's 0700 directories.
    home = Path(tempfile.mkdtemp(prefix="target-attentive-pg-"))
    data, sockets, log = home / "data", home / "sockets", home / "server.log"
    sockets.mkdir()
    if runas:
        for path in (home, sockets):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()

    def run(*command: str) -> None:
        done = subprocess.run(
            [*runas, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n"
                f"{done.stderr}\n{server_log}"
            )

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {DATABASE}")
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = sa.make_url(request.getfixturevalue("postgres_url"))
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
