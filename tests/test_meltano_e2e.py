"""End-to-end loads through real `meltano run`, from real taps installed from PyPI.

The session installs Meltano itself (`meltano==4.4.*`) in a cached venv
(`.cache/meltano-venv`) when it is missing, and builds a Meltano project in a temporary
directory:

- the loader comes from the Hub listing (`hub/loaders/target-attentive/target-attentive.yml`):
  a Hub on loopback serves it the way hub.meltano.com serves a definition, and
  `meltano add --plugin-type loader target-attentive --variant target-attentive` writes the
  lock file `plugins/loaders/target-attentive--target-attentive.lock` from it, exactly as for
  a user. meltano.yml then names the variant and overrides `pip_url` with `-e <this
  checkout>`, so `meltano install` installs the working tree;
- three taps from PyPI: tap-jsonl (examples/customers.jsonl), tap-spreadsheets (the same
  customers as a CSV file) and meltanolabs-tap-postgres (the same customers in a table of a
  real PostgreSQL, read INCREMENTAL on `updated_at`).

Each pipeline loads into the target pointed at the sandbox (`target-attentive-sandbox` on
loopback) and checks, person by person, that the sandbox received exactly the good customers
and the rejects file holds exactly the 11 bad ones (examples/README.md), and that the run
report Meltano logged agrees with both.

Plugin venvs live in `.cache/meltano-sys/<key>` (Meltano's MELTANO_SYS_DIR_ROOT; the key
changes with pyproject.toml and the pins below), so a second session skips the installs;
Meltano's system database (state, runs) is per session, in the temporary project.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from example_customers import BAD, PEOPLE, SAMPLE_CONFIG, examples

from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
MELTANO_VENV = CACHE / "meltano-venv"
MELTANO_SPEC = "meltano==4.4.*"
MELTANO_VERSION = re.compile(r"\bversion 4\.4\.")
LISTING_PATH = ROOT / "hub" / "loaders" / "target-attentive" / "target-attentive.yml"
VARIANT = "target-attentive"
LOCK_FILE = Path("plugins") / "loaders" / f"target-attentive--{VARIANT}.lock"
TAP_PINS = {
    "tap-jsonl": "tap-jsonl==0.3.*",
    "tap-spreadsheets": "tap-spreadsheets==1.1.*",
    "tap-postgres": "meltanolabs-tap-postgres==0.10.*",
}
PG_SCHEMA = "shop"
PG_STREAM = f"{PG_SCHEMA}-customers"
STATE_ID = "dev:tap-postgres-to-target-attentive"
CRM_SCHEMA = "crm"
CRM_TABLES = ("people", "app_events", "consent")
INSTALL_ATTEMPTS = 3


# --- installing Meltano and running it -------------------------------------------------------


def _run_with_retries(command: list[str], *, what: str, timeout: float, **kwargs: Any) -> str:
    """Run an install command, retrying registry hiccups; the output of the last try."""
    output = ""
    for attempt in range(1, INSTALL_ATTEMPTS + 1):
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
        output = done.stdout + done.stderr
        if done.returncode == 0:
            return output
        if attempt < INSTALL_ATTEMPTS:
            time.sleep(5 * attempt)
    pytest.fail(f"{what} failed {INSTALL_ATTEMPTS} times:\n{output[-5000:]}")


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """One pytest session at a time builds the shared caches."""
    CACHE.mkdir(exist_ok=True)
    with (CACHE / "meltano.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _meltano_works(meltano: Path) -> bool:
    if not meltano.exists():
        return False
    done = subprocess.run(
        [str(meltano), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode == 0 and bool(MELTANO_VERSION.search(done.stdout))


@pytest.fixture(scope="session")
def meltano_bin() -> Path:
    """Meltano 4.4 in `.cache/meltano-venv`, installed from PyPI when missing."""
    meltano = MELTANO_VENV / "bin" / "meltano"
    with _cache_lock():
        if not _meltano_works(meltano):
            shutil.rmtree(MELTANO_VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(MELTANO_VENV)], check=True)
            pip = [str(MELTANO_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
            _run_with_retries(
                [*pip, "--retries", "5", MELTANO_SPEC], what="pip install meltano", timeout=900
            )
            assert _meltano_works(meltano), "meltano 4.4 does not run after installing it"
    return meltano


def _sys_dir() -> Path:
    """Where Meltano keeps the plugin venvs, keyed by what they are installed from."""
    key = hashlib.sha256(
        json.dumps(
            [MELTANO_SPEC, TAP_PINS, (ROOT / "pyproject.toml").read_text(), str(ROOT)]
        ).encode()
    ).hexdigest()[:12]
    base = CACHE / "meltano-sys"
    with _cache_lock():
        if base.exists():
            for old in base.iterdir():
                if old.name != key:
                    shutil.rmtree(old, ignore_errors=True)
        (base / key).mkdir(parents=True, exist_ok=True)
    return base / key


class LoopbackHub:
    """Serves the Hub listing as hub.meltano.com serves a loader: an index and a definition."""

    def __init__(self, listing: dict[str, Any]) -> None:
        self.requests: list[str] = []
        routes: dict[str, Any] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                hub.requests.append(path)
                body = routes.get(path)
                data = json.dumps(body).encode() if body is not None else b"{}"
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        api = "/meltano/api/v1/plugins/loaders"
        name = listing["name"]
        definition = f"{api}/{name}--{listing['variant']}"
        routes[f"{api}/index"] = {
            name: {
                "name": name,
                "default_variant": listing["variant"],
                "logo_url": listing.get("logo_url"),
                "variants": {
                    listing["variant"]: {"name": listing["variant"], "ref": self.url + definition}
                },
            }
        }
        routes[definition] = listing
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Project:
    """A Meltano project in a directory, run with the cached Meltano."""

    def __init__(self, root: Path, meltano: Path, sys_dir: Path, hub_url: str) -> None:
        self.root = root
        self.meltano = meltano
        self.base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MELTANO_", "TARGET_ATTENTIVE_", "TAP_"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        }
        self.base_env.update(
            MELTANO_SYS_DIR_ROOT=str(sys_dir),
            MELTANO_DATABASE_URI=f"sqlite:///{root / 'meltano-system.db'}",
            MELTANO_HUB_URL=hub_url,
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_CLI_DISABLE_VERSION_CHECK="true",
            NO_COLOR="1",
        )
        self.env: dict[str, str] = {}  # per-test settings (sandbox URL, key, files)

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.meltano), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**self.base_env, **self.env},
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"meltano {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
            )
        return done

    @property
    def meltano_yml(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "meltano.yml").read_text())

    def write_meltano_yml(self, data: dict[str, Any]) -> None:
        (self.root / "meltano.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def _csv_value(value: Any) -> str:
    """How a spreadsheet export writes a value: empty for null, true/false, lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def write_customers_csv(path: Path) -> Path:
    fields = list(PEOPLE[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for person in PEOPLE:
            writer.writerow({k: _csv_value(person[k]) for k in fields})
    return path


def _extractors(csv_path: Path) -> list[dict[str, Any]]:
    capabilities = ["catalog", "discover", "state", "about", "stream-maps"]
    return [
        {
            "name": "tap-jsonl",
            "namespace": "tap_jsonl",
            "pip_url": TAP_PINS["tap-jsonl"],
            "executable": "tap-jsonl",
            "capabilities": capabilities,
            "settings": [
                {"name": "path", "kind": "string"},
                {"name": "stream_name", "kind": "string"},
                {"name": "primary_keys", "kind": "array"},
            ],
            "config": {
                "path": str(ROOT / "examples" / "customers.jsonl"),
                "stream_name": "customers",
                "primary_keys": ["id"],
            },
        },
        {
            "name": "tap-spreadsheets",
            "namespace": "tap_spreadsheets",
            "pip_url": TAP_PINS["tap-spreadsheets"],
            "executable": "tap-spreadsheets",
            "capabilities": capabilities,
            "settings": [{"name": "files", "kind": "array"}],
            "config": {
                "files": [
                    {
                        "path": str(csv_path),
                        "format": "csv",
                        "table_name": "customers",
                        "primary_keys": ["id"],
                        # Keep the rows without a customer id: the target must see them
                        # to set them aside (the tap would drop them silently).
                        "drop_empty": False,
                    }
                ]
            },
        },
        {
            # Issue 15: one tap, three streams (people, events, opt-outs), three kinds.
            "name": "tap-postgres-crm",
            "inherit_from": "tap-postgres",
            "config": {"filter_schemas": [CRM_SCHEMA]},
            "select": [f"{CRM_SCHEMA}-{table}.*" for table in CRM_TABLES],
        },
        {
            "name": "tap-postgres",
            "namespace": "tap_postgres",
            "pip_url": TAP_PINS["tap-postgres"],
            "executable": "tap-postgres",
            "capabilities": capabilities,
            "settings": [
                {"name": "sqlalchemy_url", "kind": "string", "sensitive": True},
                {"name": "filter_schemas", "kind": "array"},
            ],
            "config": {"filter_schemas": [PG_SCHEMA]},
            "select": [f"{PG_STREAM}.*"],
            "metadata": {
                PG_STREAM: {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}
            },
        },
    ]


@pytest.fixture(scope="module")
def hub() -> Iterator[LoopbackHub]:
    server = LoopbackHub(yaml.safe_load(LISTING_PATH.read_text()))
    yield server
    server.close()


@pytest.fixture(scope="module")
def project(
    meltano_bin: Path, hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory
) -> Project:
    """The Meltano project: taps defined inline, the loader added from the Hub listing."""
    root = tmp_path_factory.mktemp("meltano-project")
    proj = Project(root, meltano_bin, _sys_dir(), hub.url)
    csv_path = write_customers_csv(root / "customers.csv")
    proj.write_meltano_yml(
        {
            "project_id": "target-attentive-e2e",
            "send_anonymous_usage_stats": False,
            "default_environment": "dev",
            "environments": [{"name": "dev"}],
            "plugins": {"extractors": _extractors(csv_path)},
        }
    )
    proj.run(
        "add", "--plugin-type", "loader", "target-attentive", "--variant", VARIANT, "--no-install"
    )
    data = proj.meltano_yml
    (loader,) = data["plugins"]["loaders"]
    assert loader == {"name": "target-attentive", "variant": VARIANT, "pip_url": "target-attentive"}
    # Until the package is on PyPI (and to test this working tree), install from the checkout.
    loader["pip_url"] = f"-e {ROOT}"
    loader["config"] = {
        "mapping": SAMPLE_CONFIG["mapping"],
        "default_phone_region": "US",
        "max_retry_seconds": 60,
    }
    proj.write_meltano_yml(data)
    started = time.monotonic()
    with _cache_lock():  # the plugin venvs are shared with other sessions
        for attempt in range(1, INSTALL_ATTEMPTS + 1):
            done = proj.run("install", timeout=900, check=attempt == INSTALL_ATTEMPTS)
            if done.returncode == 0:
                break
            time.sleep(5 * attempt)
    print(f"meltano install: {time.monotonic() - started:.1f} s")
    return proj


@pytest.fixture
def sandbox(project: Project, tmp_path: Path) -> Iterator[SandboxProcess]:
    """A fresh sandbox, and the target's settings for this test given as Meltano env vars."""
    with SandboxProcess(latency_ms=0) as sb:
        project.env = {
            "TARGET_ATTENTIVE_API_URL": sb.url,
            "TARGET_ATTENTIVE_API_KEY": sb.api_key,
            "TARGET_ATTENTIVE_REJECTS_PATH": str(tmp_path / "rejects.jsonl"),
            "TARGET_ATTENTIVE_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        }
        try:
            yield sb
        finally:
            project.env = {}


# --- what a load must have done ----------------------------------------------------------------


def _email(value: Any) -> str | None:
    """The email as the target sends it: trimmed and lower-cased, left out when empty."""
    text = "" if value is None else str(value).strip().lower()
    return text or None


# A bad value costs its field, not the customer: only those left with no valid identifier
# are rejected; the others are sent without the field (an "omitted" line says which).
REJECTED = examples.rejected_positions()
SENT = [p for p in range(1, len(PEOPLE) + 1) if p not in REJECTED]


def expected_people(positions: list[int]) -> dict[str, str | None]:
    """{clientUserId: email} of the customers at these positions (every sent one has an id);
    an email left out as invalid is not sent."""

    def email(position: int) -> str | None:
        bad = BAD.get(position)
        if bad is not None and bad.field == "identifiers.email":
            return None
        return _email(PEOPLE[position - 1]["email"])

    return {PEOPLE[p - 1]["id"]: email(p) for p in positions}


def received_people(sb: SandboxProcess, offset: int = 0) -> dict[str, str | None]:
    payloads = [a["payload"] for a in sb.accepted(offset)]
    people = {p["identifiers"]["clientUserId"]: p["identifiers"].get("email") for p in payloads}
    assert len(people) == len(payloads), "a person was sent twice"
    return people


def read_rejects(path: Path) -> list[dict[str, Any]]:
    """The rejected records' lines (the file also holds the fields left out)."""
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("outcome") != "omitted"]


def assert_rejects_are_the_bad_customers(
    path: Path, stream: str, bad: list[int] | None = None
) -> list[dict[str, Any]]:
    """One reject per customer left with no identifier, its reason naming the field that
    examples/README.md names."""
    rejects = read_rejects(path)
    bad = REJECTED if bad is None else bad
    assert sorted(r["position"] for r in rejects) == bad, "exactly the bad ones"
    for reject in rejects:
        person = PEOPLE[reject["position"] - 1]
        assert reject["stream"] == stream
        assert (reject["record"].get("id") or None) == person["id"]
        assert reject["record"]["first_name"] == person["first_name"]
        field = BAD[reject["position"]].field
        assert reject["reason"].startswith(f"{field}:"), (reject["position"], reject["reason"])
    return rejects


def run_report(output: str) -> dict[str, Any]:
    """The run report Meltano logged for the target: its text block and its METRIC summary."""
    assert "target-attentive run report" in output, f"no run report in:\n{output[-4000:]}"
    found = re.findall(r'METRIC: (\{"type": "summary".*?\}\})', output.replace('\\"', '"'))
    assert found, f"no summary METRIC in:\n{output[-4000:]}"
    return json.loads(found[-1])["value"]


def assert_report_matches(
    output: str, sb: SandboxProcess, rejects_path: Path, *, offset: int = 0, unchanged: int = 0
) -> dict[str, Any]:
    """The run report's counts are what the sandbox received and the rejects file holds."""
    summary = run_report(output)
    accepted = len(sb.accepted(offset))
    rejects = read_rejects(rejects_path)
    rejected = len(rejects) if offset == 0 else summary["rejected"]
    assert (summary["accepted"], summary["rejected"], summary["unchanged"]) == (
        accepted,
        rejected,
        unchanged,
    )
    assert summary["read"] == accepted + rejected + unchanged
    assert summary["unsettled"] == summary["filtered"] == 0
    assert summary["requests"].get("sent", 0) >= accepted
    assert summary["rejects_path"] == str(rejects_path)
    reasons: dict[str, int] = {}
    for reject in rejects:
        reasons[reject["reason"]] = reasons.get(reject["reason"], 0) + 1
    if offset == 0:
        # Logs mask what looks like an email, so compare the reasons by the field they name.
        def by_field(counts: dict[str, int]) -> list[tuple[str, int]]:
            return sorted((reason.split(":", 1)[0], n) for reason, n in counts.items())

        assert by_field(summary["top_reject_reasons"]) == by_field(reasons)
    text = output[output.rindex("target-attentive run report") :]
    assert re.search(rf"read {summary['read']}\b", text)
    assert re.search(rf"= {accepted} accepted by Attentive", text)
    assert re.search(rf"\+ {unchanged} unchanged", text)
    assert re.search(rf"\+ {rejected} rejected", text)
    for reason, count in reasons.items():
        if offset == 0:
            assert f"{count} x {reason.split(':', 1)[0]}: " in text
    if rejected:
        assert f"rejects in {rejects_path}" in text
    return summary


# --- the loader as Meltano sees it ---------------------------------------------------------


def test_meltano_add_locks_the_hub_listing(project: Project, hub: LoopbackHub) -> None:
    listing = yaml.safe_load(LISTING_PATH.read_text())
    lock = json.loads((project.root / LOCK_FILE).read_text())
    assert lock.pop("plugin_type") == "loaders"
    assert {k: v for k, v in lock.items() if k != "settings"} == {
        k: v for k, v in listing.items() if k != "settings"
    }
    by_name = {s["name"]: s for s in lock["settings"]}
    assert by_name == {s["name"]: s for s in listing["settings"]}
    assert by_name["api_key"]["sensitive"] is True
    loader = project.meltano_yml["plugins"]["loaders"][0]
    assert loader["variant"] == VARIANT and loader["pip_url"] == f"-e {ROOT}"
    assert any(path.endswith(f"target-attentive--{VARIANT}") for path in hub.requests)


def test_meltano_invoke_about_is_the_working_tree(project: Project) -> None:
    done = project.run("invoke", "target-attentive", "--about", "--format", "json")
    about = json.loads(done.stdout)
    assert about["name"] == "target-attentive"
    own = set(CONFIG_SCHEMA["properties"])
    assert own <= set(about["settings"]["properties"]), "the installed target is another one"
    text = project.run("invoke", "target-attentive", "--about").stdout
    assert "target-attentive" in text and "api_key" in text


def test_meltano_config_list_shows_every_setting_and_hides_the_key(
    project: Project, sandbox: SandboxProcess
) -> None:
    secret = "sk-e2e-" + uuid.uuid4().hex
    project.env["TARGET_ATTENTIVE_API_KEY"] = secret
    done = project.run("config", "list", "target-attentive", "--all")
    output = done.stdout + done.stderr
    listed = dict(re.findall(r"^(\S+) .*\[env: (\w+)\]", done.stdout, re.M))
    # Meltano also lists each key of the configured mapping, as `mapping.<dotted key>`.
    listed = {name: env for name, env in listed.items() if not name.startswith("mapping.")}
    listing = yaml.safe_load(LISTING_PATH.read_text())
    assert listed == {
        s["name"]: f"TARGET_ATTENTIVE_{s['name'].upper()}" for s in listing["settings"]
    }
    assert secret not in output, "the API key must be redacted"
    assert re.search(r"^api_key .*current value: \(redacted\)", done.stdout, re.M), done.stdout
    assert re.search(rf"^api_url .*current value: '{re.escape(sandbox.url)}'", done.stdout, re.M)
    assert re.search(r"^Setting groups .*\n.*Group 1: api_key\n.*Group 2: dry_run", output, re.M)


def test_meltano_config_test_passes_and_sends_nobody(
    project: Project, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Meltano pipes its test stream into the loader; its record must be set aside, unsent.

    Meltano 4.4.1 then crashes on its own: LoaderTestService calls `process.terminate()` on
    the loader it has already waited for, and asyncio raises ProcessLookupError (any loader
    that exits does this, even `cat`). Its verdict is logged before that: "Test data was
    written" only when the loader exited 0 and no output line said error or exception. So
    the test accepts exit 1 only with that verdict and that crash, and exit 0 once fixed.
    """
    done = project.run("config", "test", "target-attentive", check=False)
    output = done.stdout + done.stderr
    assert "Test data was written to your target system" in output, output[-5000:]
    if done.returncode != 0:
        assert re.search(r"^ProcessLookupError$", output, re.M), output[-5000:]
        assert "in terminate" in output, output[-5000:]
    assert sandbox.accepted() == [], "the test record must never reach Attentive"
    (reject,) = read_rejects(tmp_path / "rejects.jsonl")
    assert reject["stream"] == "meltano_test_stream"
    assert reject["reason"] == "Meltano's connection-test record, never sent to Attentive"


def test_the_repositorys_meltano_yml_is_a_project_meltano_reads(
    meltano_bin: Path, tmp_path: Path
) -> None:
    """meltano.yml of this repository (the example project) parses, and its loader config
    reaches the target as the nested object the mapping expects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TARGET_"))}
    env.update(
        MELTANO_SYS_DIR_ROOT=str(tmp_path / "sys"),
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="true",
    )
    had_sys_dir = (ROOT / ".meltano").exists()
    done = subprocess.run(
        [str(meltano_bin), "config", "print", "target-attentive", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads(done.stdout)
    assert config["dry_run"] is True
    assert config["rejects_path"] == SAMPLE_CONFIG["rejects_path"]
    assert config["mapping"]["attributes"]["location"] == {"city": "city", "country": "country"}
    assert config["checkpoint_interval_seconds"] == 300, "defaults come from the settings"
    assert (ROOT / ".meltano").exists() == had_sys_dir, "Meltano wrote into the checkout"


# --- the pipelines -----------------------------------------------------------------------------


def test_tap_jsonl_pipeline_loads_the_good_customers(
    project: Project, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    done = project.run("run", "tap-jsonl", "target-attentive")
    assert received_people(sandbox) == expected_people(SENT)
    rejects_path = tmp_path / "rejects.jsonl"
    assert_rejects_are_the_bad_customers(rejects_path, "customers")
    by_id = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in sandbox.accepted()}
    assert by_id["cus_1001"]["attributes"]["custom"] == {"Lifetime Value": 1249.9, "VIP": True}
    assert by_id["cus_1001"]["identifiers"]["phone"] == "+12015550123"
    summary = assert_report_matches(done.stdout + done.stderr, sandbox, rejects_path)
    assert (summary["accepted"], summary["rejected"]) == (len(SENT), len(REJECTED))
    # The plugin commands read the loader's settings: the same ledger the run wrote.
    counts = project.run("invoke", "target-attentive:ledger-counts")
    assert json.loads(counts.stdout.strip().splitlines()[-1])["people"] == len(SENT)
    jobs = project.run("invoke", "target-attentive:jobs")
    assert json.loads(jobs.stdout.strip().splitlines()[-1])["jobs_finished"] == 0


def test_tap_spreadsheets_csv_pipeline_loads_the_good_customers(
    project: Project, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """A CSV holds only text: custom values arrive as text Attentive reads as numbers."""
    done = project.run("run", "tap-spreadsheets", "target-attentive")
    assert received_people(sandbox) == expected_people(SENT)
    rejects_path = tmp_path / "rejects.jsonl"
    assert_rejects_are_the_bad_customers(rejects_path, "customers")
    by_id = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in sandbox.accepted()}
    # CSV text is typed like the other taps' values (the attribute's type is fixed by the
    # first value Attentive sees, so text would make a text attribute for good).
    assert by_id["cus_1001"]["attributes"]["custom"] == {"Lifetime Value": 1249.9, "VIP": True}
    summary = assert_report_matches(done.stdout + done.stderr, sandbox, rejects_path)
    assert (summary["accepted"], summary["rejected"]) == (len(SENT), len(REJECTED))


# --- PostgreSQL, incremental -----------------------------------------------------------------

CREATE_TABLE = f"""
CREATE TABLE {PG_SCHEMA}.customers (
    row_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text,                    -- the storefront's customer id; null for guest checkouts
    email text,
    phone text,
    first_name text,
    last_name text,
    city text,
    country text,
    birthday text,              -- as typed into the sign-up form
    lifetime_value numeric,
    vip boolean,
    loyalty_number text,
    sms_opt_in boolean,
    updated_at timestamptz NOT NULL
)
"""
COLUMNS = list(examples.FIELDS)  # the example table, as the other pipelines read it


# A numeric column cannot hold cus_1023's list of order totals: in the table it is NULL,
# so there cus_1023 is a good customer, loaded without a Lifetime Value.
LIST_VALUED = next(p for p in BAD if isinstance(PEOPLE[p - 1]["lifetime_value"], list))
PG_BAD = sorted(set(REJECTED) - {LIST_VALUED})
PG_GOOD = sorted({*SENT, LIST_VALUED})


def _pg_row(person: dict[str, Any]) -> dict[str, Any]:
    row = {k: person[k] for k in COLUMNS}
    if isinstance(row["phone"], int):
        row["phone"] = str(row["phone"])
    if isinstance(row["lifetime_value"], list):
        row["lifetime_value"] = None
    return row


def new_customers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"cus_20{i:02d}",
            "email": f"new.customer{i}@example.com",
            "phone": None,
            "first_name": f"New{i}",
            "last_name": "Customer",
            "city": "Chicago",
            "country": "US",
            "birthday": None,
            "lifetime_value": Decimal("10.5") * i,
            "vip": False,
            "loyalty_number": None,
            "sms_opt_in": False,
            "updated_at": f"2024-07-01T10:{i:02d}:00Z",
        }
        for i in range(1, count + 1)
    ]


@pytest.fixture
def customers_table(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {PG_SCHEMA}")
        conn.exec_driver_sql(CREATE_TABLE)
    insert_customers(engine, PEOPLE)
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        engine.dispose()


def insert_customers(engine: sa.Engine, people: list[dict[str, Any]]) -> None:
    columns = ", ".join(COLUMNS)
    values = ", ".join(f":{c}" for c in COLUMNS)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"INSERT INTO {PG_SCHEMA}.customers ({columns}) VALUES ({values})"),
            [_pg_row(p) for p in people],
        )


def meltano_state(project: Project) -> dict[str, Any]:
    done = project.run("state", "get", STATE_ID)
    return json.loads(done.stdout)


def test_tap_postgres_incremental_pipeline_resumes_from_meltano_state(
    project: Project,
    sandbox: SandboxProcess,
    customers_table: sa.Engine,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    # tap-postgres insists on a password in the URL; the test server trusts loopback.
    tap_url = sa.make_url(postgres_url).set(drivername="postgresql", password="unused")
    project.env["TAP_POSTGRES_SQLALCHEMY_URL"] = tap_url.render_as_string(hide_password=False)
    rejects_path = tmp_path / "rejects.jsonl"

    first = project.run("run", "tap-postgres", "target-attentive")
    assert received_people(sandbox) == expected_people(PG_GOOD)
    assert_rejects_are_the_bad_customers(rejects_path, PG_STREAM, PG_BAD)
    summary = assert_report_matches(first.stdout + first.stderr, sandbox, rejects_path)
    assert (summary["accepted"], summary["rejected"]) == (len(PG_GOOD), len(PG_BAD))
    by_id = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in sandbox.accepted()}
    # numeric arrives as Decimal, boolean as bool: sent as a JSON number and true/false
    assert by_id["cus_1001"]["attributes"]["custom"] == {"Lifetime Value": 1249.9, "VIP": True}
    assert by_id[PEOPLE[LIST_VALUED - 1]["id"]]["attributes"]["custom"] == {"VIP": False}
    state = meltano_state(project)
    bookmark = state["singer_state"]["bookmarks"][PG_STREAM]
    assert bookmark["replication_key"] == "updated_at"
    assert bookmark["replication_key_value"].startswith(PEOPLE[-1]["updated_at"][:19])

    added = new_customers(5)
    insert_customers(customers_table, added)
    seen = len(sandbox.accepted())
    second = project.run("run", "tap-postgres", "target-attentive")

    assert received_people(sandbox, offset=seen) == {p["id"]: p["email"] for p in added}
    assert len(sandbox.accepted()) == len(PG_GOOD) + len(added), "nobody was sent again"
    assert len(read_rejects(rejects_path)) == len(PG_BAD), "no new rejects"
    # The SDK's incremental query is inclusive (>= bookmark): the last row of the first run
    # comes again, and the target knows it unchanged and does not resend it.
    summary = assert_report_matches(
        second.stdout + second.stderr, sandbox, rejects_path, offset=seen, unchanged=1
    )
    assert (summary["read"], summary["accepted"], summary["rejected"]) == (6, len(added), 0)
    moved = meltano_state(project)["singer_state"]["bookmarks"][PG_STREAM]
    assert moved["replication_key_value"].startswith(added[-1]["updated_at"][:19])
    assert moved["replication_key_value"] > bookmark["replication_key_value"]


# --- one tap, three streams, three kinds (issue 15) --------------------------------------------

CRM_PEOPLE = [
    ("u1", "ana@example.com", "+12025550101", "Ana"),
    ("u2", "ben@example.com", "+12025550102", "Ben"),
    ("u3", "cai@example.com", None, "Cai"),
]
CRM_EVENTS = [  # event_id, user_email, event_name, plan
    ("ev-1", "ana@example.com", "Trial Started", "pro"),
    ("ev-2", "ben@example.com", "Trial Started", "team"),
    ("ev-3", "ana@example.com", "Seat Added", "pro"),
    ("ev-4", "nobody-at-all", "Seat Added", "pro"),  # no valid identifier: rejected
]
CRM_CONSENT = [  # email, phone, channel, opted_out
    ("ben@example.com", "+12025550102", "TEXT", True),
    ("cai@example.com", None, "EMAIL", True),
    ("ana@example.com", "+12025550101", "TEXT", False),  # said no to opting out: filtered
]
CRM_MAPPINGS = {
    f"{CRM_SCHEMA}-people": {
        "identifiers": {"clientUserId": "id", "email": "email", "phone": "phone"},
        "attributes": {"firstName": "first_name"},
    },
    f"{CRM_SCHEMA}-app_events": {
        "kind": "custom_event",
        "event_type_field": "event_name",
        "identifiers": {"email": "user_email"},
        "occurred_at": "created_at",
        "external_event_id": "event_id",
        "properties": {"plan": "plan"},
    },
    f"{CRM_SCHEMA}-consent": {
        "kind": "unsubscribe",
        "identifiers": {"email": "email", "phone": "phone"},
        "channel_field": "channel",
        "when": "opted_out",
    },
}


@pytest.fixture
def crm_tables(postgres_url: str) -> Iterator[None]:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {CRM_SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {CRM_SCHEMA}")
        conn.exec_driver_sql(
            f"CREATE TABLE {CRM_SCHEMA}.people (id text PRIMARY KEY, email text, phone text, "
            "first_name text)"
        )
        conn.exec_driver_sql(
            f"CREATE TABLE {CRM_SCHEMA}.app_events (event_id text PRIMARY KEY, user_email text, "
            "event_name text, plan text, created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.exec_driver_sql(
            f"CREATE TABLE {CRM_SCHEMA}.consent (row_id integer GENERATED ALWAYS AS IDENTITY "
            "PRIMARY KEY, email text, phone text, channel text, opted_out boolean)"
        )
        conn.execute(
            sa.text(f"INSERT INTO {CRM_SCHEMA}.people VALUES (:a, :b, :c, :d)"),
            [dict(zip("abcd", row, strict=True)) for row in CRM_PEOPLE],
        )
        conn.execute(
            sa.text(f"INSERT INTO {CRM_SCHEMA}.app_events VALUES (:a, :b, :c, :d, now())"),
            [dict(zip("abcd", row, strict=True)) for row in CRM_EVENTS],
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {CRM_SCHEMA}.consent (email, phone, channel, opted_out) "
                "VALUES (:a, :b, :c, :d)"
            ),
            [dict(zip("abcd", row, strict=True)) for row in CRM_CONSENT],
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {CRM_SCHEMA} CASCADE")
        engine.dispose()


def test_one_tap_with_three_streams_loads_people_events_and_opt_outs(
    project: Project,
    sandbox: SandboxProcess,
    crm_tables: None,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    tap_url = sa.make_url(postgres_url).set(drivername="postgresql", password="unused")
    project.env["TAP_POSTGRES_CRM_SQLALCHEMY_URL"] = tap_url.render_as_string(hide_password=False)
    project.env["TARGET_ATTENTIVE_STREAM_MAPPINGS"] = json.dumps(CRM_MAPPINGS)

    done = project.run("run", "tap-postgres-crm", "target-attentive")
    people = {a["payload"]["identifiers"]["clientUserId"] for a in sandbox.accepted()}
    assert people == {"u1", "u2", "u3"}
    v1 = sandbox.v1_accepted()
    events = [a["payload"] for a in v1 if a["endpoint"] == "custom_event"]
    assert sorted((e["externalEventId"], e["type"], e["user"]["email"]) for e in events) == [
        ("ev-1", "Trial Started", "ana@example.com"),
        ("ev-2", "Trial Started", "ben@example.com"),
        ("ev-3", "Seat Added", "ana@example.com"),
    ]
    assert all(
        e["properties"] == {"plan": "pro" if e["user"]["email"] != "ben@example.com" else "team"}
        for e in events
    )
    optouts = [a["payload"] for a in v1 if a["endpoint"] == "unsubscribe"]
    assert sorted(
        (o["user"].get("phone") or o["user"].get("email"), o["subscriptions"][0]["channel"])
        for o in optouts
    ) == [("+12025550102", "TEXT"), ("cai@example.com", "EMAIL")]
    assert all(o["notification"]["disabled"] is True for o in optouts), "nobody is texted"
    report = sandbox.report()["v1"]
    assert report["confirmation_texts"] == 0
    (reject,) = read_rejects(tmp_path / "rejects.jsonl")
    assert (reject["stream"], reject["record"]["event_id"]) == (f"{CRM_SCHEMA}-app_events", "ev-4")
    summary = run_report(done.stdout + done.stderr)
    assert (summary["accepted"], summary["rejected"], summary["filtered"]) == (3 + 3 + 2, 1, 1)

    # A second run reads the three tables again: everything is known, nothing is sent.
    again = project.run("run", "tap-postgres-crm", "target-attentive", "--full-refresh")
    assert len(sandbox.accepted()) == 3 and len(sandbox.v1_accepted()) == len(v1)
    summary = run_report(again.stdout + again.stderr)
    assert (summary["accepted"], summary["unchanged"]) == (0, 3 + 3 + 2)
