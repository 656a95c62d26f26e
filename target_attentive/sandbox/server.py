"""A local stand-in for the Attentive API, for tests, benchmarks and rehearsing a sync.

Attentive has no test environment, so this server enforces the published contract on loopback:
auth, per-endpoint rate limits, the upsert body rules, custom attribute limits, asynchronous bulk
jobs, and injected faults (5xx, dropped connections, slow answers after applying). It records
what a real account would have received, including repeated opt-ins.

Run ``target-attentive-sandbox --help``; in-process use: ``SandboxServer(SandboxConfig()).start()``;
in its own process (tests, benchmarks): ``target_attentive.sandbox.process.SandboxProcess``.

Choices a client author should know:

- Order of checks on /v2 paths: auth (401/403), route (404/405), rate limit (429), injected
  fault (POST only), then the body (400). Every /v2 answer has ``x-ratelimit-limit`` and
  ``x-ratelimit-remaining``; refused answers report the window without spending from it.
- Rate limits are fixed one-second wall-clock windows per endpoint and key: single upsert and
  ``/v2/me`` use ``rate_limit``, bulk posts ``bulk_rate_limit``, job reads ``job_rate_limit``.
- Bulk items are validated and applied when the job completes, in submission order. The results
  file (``GET url``, no auth) has one line per user:
  ``{"request": <item as sent>, "response": {"status": 202 | 400, "message": str}}``.
  A job picked by ``job_fail_rate`` ends FAILED with ``url`` null, having applied the first
  ``job_fail_applies`` share of its people (none by default). A bulk request with a person
  that breaks a stateless rule (``rules.validate_user``) is answered 400 as a whole, naming
  the first such person (``users[3].identifiers.phone: ...``); the stateful checks (custom
  attribute types and cap) happen in the job (all of them with ``bulk_checks_in_job``).
  ``results_status_form``, ``results_expired``, ``jobs_forgotten`` and ``bulk_omit_job_id``
  imitate what Attentive does not document (other results line forms, an expired link, a
  job it no longer knows, a 202 without id).
- Custom attribute types: the first value fixes the type (bool → boolean; number or numeric
  string → number; ISO-8601 date or date-time with ``T`` → date; other strings → string). Later
  values must infer to the same type, except that a string attribute takes any JSON string.
  Enum attributes take only their listed string values. A refused upsert creates nothing.
- People: found by any identifier they have (emails case-insensitively); a payload naming two
  known people merges them into the lower id (``merged_people`` in the report). Scalar
  identifiers are single-valued: a new value replaces the old one.
- ``duplicate_optins`` counts every subscription arrival for a (person, channel, sign-up source)
  that had already arrived, the moment it arrives (single upserts when answered, bulk items
  when their job completes).
- Memory grows with what is accepted (about 3 KB per new person plus ~0.5 KB per payload).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs

import orjson

from . import rules
from .state import (
    BULK,
    COMPLETED,
    JOB,
    ME,
    OTHER,
    RESULT_FORMS,
    SINGLE,
    SandboxState,
    dumps_line,
    iso,
)

log = logging.getLogger("target_attentive.sandbox")

MAX_BODY_BYTES = 16 * 1024 * 1024
JOB_PATH = "/v2/bulk/job/"
RESULTS_PREFIX = "/_sandbox/jobs/"
RESULTS_SUFFIX = "/results.jsonl"
FAULT_STATUSES = (500, 502, 503, 504)
ROUTES: dict[str, tuple[str, str]] = {
    "/v2/user/attributes": (SINGLE, "POST"),
    "/v2/bulk/user/attributes": (BULK, "POST"),
    "/v2/me": (ME, "GET"),
}
ME_BODY = orjson.dumps(
    {
        "applicationName": "target-attentive sandbox",
        "attentiveDomainName": "sandbox.attn.tv",
        "companyName": "Sandbox Company",
        "contactEmail": "sandbox@example.com",
        "companyId": "sandbox-company-0001",
    }
)
JSON = "application/json"
JSONL = "application/x-ndjson"


@dataclass
class SandboxConfig:
    """Every option of the sandbox; the fields in ``RUNTIME_FIELDS`` can change while running."""

    host: str = "127.0.0.1"
    port: int = 8787
    port_file: str | None = None
    api_key: str = "sandbox-key"
    forbidden_key: str = "sandbox-key-without-scopes"
    rate_limit: int = 150
    bulk_rate_limit: int = 100
    job_rate_limit: int = 100
    retry_after: bool = False
    latency_ms: float = 0.0
    fault_5xx_rate: float = 0.0
    fault_drop_rate: float = 0.0
    fault_slow_rate: float = 0.0
    fault_status: int = 0  # the status of injected 5xx faults; 0: 500, 502 or 503 at random
    slow_seconds: float = 30.0
    job_delay_seconds: float = 2.0
    job_fail_rate: float = 0.0
    job_fail_applies: float = 0.0  # share of a FAILED job's people applied before it failed
    results_status_form: str = "number"  # how results lines write a status: see RESULT_FORMS
    results_expired: bool = False  # results links answer 403, as an expired pre-signed URL
    jobs_forgotten: bool = False  # job status reads answer 404, as for a job Attentive lost
    bulk_omit_job_id: bool = False  # bulk 202s without batchJobId (the job still runs)
    bulk_checks_in_job: bool = False  # check people only inside the job (benchmarks: no CPU
    # spent on Attentive's side while the target is timed)
    seed: int | None = None
    record_file: str | None = None
    verbose: bool = False
    enum_attributes: dict[str, list[str]] = field(default_factory=dict)
    sign_up_source_ids: list[str] = field(default_factory=list)
    max_custom_attributes: int = rules.MAX_CUSTOM_ATTRIBUTES

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RATE_FIELDS = (
    "fault_5xx_rate",
    "fault_drop_rate",
    "fault_slow_rate",
    "job_fail_rate",
    "job_fail_applies",
)
LIMIT_FIELDS = ("rate_limit", "bulk_rate_limit", "job_rate_limit")
SECONDS_FIELDS = ("latency_ms", "slow_seconds", "job_delay_seconds")
FLAG_FIELDS = (
    "retry_after",
    "verbose",
    "results_expired",
    "jobs_forgotten",
    "bulk_omit_job_id",
    "bulk_checks_in_job",
)
CHOICE_FIELDS = ("results_status_form", "fault_status")
RUNTIME_FIELDS = (*RATE_FIELDS, *LIMIT_FIELDS, *SECONDS_FIELDS, *FLAG_FIELDS, *CHOICE_FIELDS)


def check_config_value(name: str, value: Any) -> str | None:
    """Why a value cannot go into a config field, or None when it can."""
    if name in RATE_FIELDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        return None if ok else f"{name} must be a number from 0 to 1"
    if name in LIMIT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else f"{name} must be an integer of at least 1"
    if name in SECONDS_FIELDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return None if ok else f"{name} must be a number of at least 0"
    if name in FLAG_FIELDS:
        return None if isinstance(value, bool) else f"{name} must be true or false"
    if name == "fault_status":
        ok = value in (0, *FAULT_STATUSES)
        return None if ok else f"{name} must be 0 or one of {', '.join(map(str, FAULT_STATUSES))}"
    if name == "results_status_form":
        forms = ", ".join(RESULT_FORMS)
        return None if value in RESULT_FORMS else f"{name} must be one of {forms}"
    return f"{name} cannot be changed at run time (allowed: {', '.join(RUNTIME_FIELDS)})"


@dataclass
class Reply:
    """What to answer (or that the connection must be dropped), and how long to wait first."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drop: bool = False


def error_body(status: int, message: str, path: str) -> bytes:
    """The error shape seen from Attentive: timestamp, status, error, message, path."""
    return orjson.dumps(
        {
            "timestamp": iso(time.time()),
            "status": status,
            "error": HTTPStatus(status).phrase,
            "message": message,
            "path": path,
        }
    )


class SandboxApp:
    """The request logic, independent of sockets: ``handle`` turns a request into a Reply."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(
            seed=config.seed,
            enum_attributes=config.enum_attributes,
            max_custom_attributes=config.max_custom_attributes,
        )
        self.sources = frozenset(config.sign_up_source_ids)
        self.base_url = f"http://{config.host}:{config.port}"

    # ----------------------------------------------------------------- dispatch

    def handle(self, method: str, target: str, auth: str | None, body: bytes, t: float) -> Reply:
        path, _, query = target.partition("?")
        if path.startswith("/v2/"):
            return self._api(method, path, auth, body, t)
        if path.startswith("/_sandbox/"):
            try:
                return self._control(method, path, query, body)
            except ValueError as exc:
                return Reply(400, error_body(400, str(exc), path))
        return Reply(404, error_body(404, "No such path", path))

    def _limit(self, endpoint: str) -> int:
        cfg = self.config
        if endpoint == BULK:
            return cfg.bulk_rate_limit
        if endpoint == JOB:
            return cfg.job_rate_limit
        return cfg.rate_limit

    def _api(self, method: str, path: str, auth: str | None, body: bytes, t: float) -> Reply:
        cfg = self.config
        state = self.state
        route = ROUTES.get(path)
        job_id = ""
        if route is None and path.startswith(JOB_PATH) and path.count("/") == 4:
            job_id = path[len(JOB_PATH) :]
            route = (JOB, "GET") if job_id else None
        endpoint, allowed = route or (OTHER, method)
        delay = cfg.latency_ms / 1000.0 if method == "POST" else 0.0
        key = auth[7:].strip() if auth and auth[:7].lower() == "bearer " else None
        limit = self._limit(endpoint)

        status, message = 0, ""
        if key is None or (key != cfg.api_key and key != cfg.forbidden_key):
            status, message = 401, "Missing or invalid API key (Authorization: Bearer <key>)"
        elif key == cfg.forbidden_key:
            status, message = 403, "API key lacks the attributes:write / subscriptions:write scopes"
        elif endpoint == OTHER:
            status, message = 404, "No such endpoint"
        elif method != allowed:
            status, message = 405, f"{method} is not supported on this path (use {allowed})"
        fault = ""
        with state.lock:
            if status:
                remaining = state.peek_rate_locked(endpoint, key or "", limit, t)
                state.record_locked(endpoint, str(status), t)
            else:
                taken = state.take_rate_locked(endpoint, key or "", limit, t)
                if taken is None:
                    status, remaining = 429, 0
                    message = f"Too many requests: at most {limit} per second on this endpoint"
                    state.record_locked(endpoint, "429", t)
                else:
                    remaining = taken
                    if method == "POST":
                        fault = self._draw_fault_locked()
                        if fault == "5xx":
                            status = cfg.fault_status or state.rng.choice((500, 502, 503))
                            message = "Injected server error (nothing was applied)"
                            state.record_locked(endpoint, str(status), t)
                        elif fault == "drop":
                            state.record_locked(endpoint, "dropped", t)
        headers = [("x-ratelimit-limit", str(limit)), ("x-ratelimit-remaining", str(remaining))]
        if status == 429 and cfg.retry_after:
            headers.append(("Retry-After", "1"))
        if fault == "drop":
            return Reply(0, drop=True, delay=delay)
        if status:
            return Reply(status, error_body(status, message, path), headers=headers, delay=delay)
        if fault == "slow":
            delay += cfg.slow_seconds
        if endpoint == SINGLE:
            reply = self._single(body, path, t)
        elif endpoint == BULK:
            reply = self._bulk(body, path, t)
        elif endpoint == JOB:
            reply = self._job(job_id, path, t)
        else:
            reply = Reply(200, ME_BODY)
        if endpoint != SINGLE:  # the single endpoint records under the lock that applies it
            state.record(endpoint, str(reply.status), t)
        reply.headers = headers
        reply.delay = delay
        return reply

    def _draw_fault_locked(self) -> str:
        cfg = self.config
        rng = self.state.rng
        if cfg.fault_5xx_rate and rng.random() < cfg.fault_5xx_rate:
            return "5xx"
        if cfg.fault_drop_rate and rng.random() < cfg.fault_drop_rate:
            return "drop"
        if cfg.fault_slow_rate and rng.random() < cfg.fault_slow_rate:
            return "slow"
        return ""

    # ----------------------------------------------------------------- endpoints

    def _bad_request(self, message: str, path: str, endpoint: str, t: float) -> Reply:
        if endpoint == SINGLE:
            self.state.record(endpoint, "400", t)
        return Reply(400, error_body(400, message, path))

    def _single(self, body: bytes, path: str, t: float) -> Reply:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return self._bad_request(f"body: not valid JSON ({exc})", path, SINGLE, t)
        error = rules.validate_user(payload, self.sources)
        if error:
            return self._bad_request(error, path, SINGLE, t)
        line = dumps_line(payload)
        state = self.state
        with state.lock:
            status, message, _ = state.apply_locked(payload, line, SINGLE, t)
            state.record_locked(SINGLE, str(status), t)
        if status != 202:
            return Reply(status, error_body(status, message, path))
        return Reply(202, b'{"success":true,"message":"User attributes accepted for processing"}')

    def _bulk(self, body: bytes, path: str, t: float) -> Reply:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return self._bad_request(f"body: not valid JSON ({exc})", path, BULK, t)
        error = rules.validate_bulk_envelope(payload)
        if error:
            return self._bad_request(error, path, BULK, t)
        cfg = self.config
        for index, user in enumerate(() if cfg.bulk_checks_in_job else payload["users"]):
            error = rules.validate_user(user, self.sources)
            if error:  # the whole request is refused, naming the first bad person
                return self._bad_request(f"users[{index}].{error}", path, BULK, t)
        fail = False
        if cfg.job_fail_rate:
            with self.state.lock:
                fail = self.state.rng.random() < cfg.job_fail_rate
        job = self.state.create_job(
            payload["users"], t, cfg.job_delay_seconds, fail, cfg.job_fail_applies
        )
        if cfg.bulk_omit_job_id:
            return Reply(202, b'{"message":"Bulk job submitted"}')
        return Reply(
            202,
            orjson.dumps({"message": "Bulk job submitted", "batchJobId": job.id}),
        )

    def _job(self, job_id: str, path: str, t: float) -> Reply:
        state = self.state
        with state.lock:
            job = state.jobs.get(job_id)
        if job is None or self.config.jobs_forgotten:
            return Reply(404, error_body(404, f"No bulk job {job_id}", path))
        now = time.time()
        if job.state != "done" and now >= job.due_at:
            state.run_job(job, self.sources)
        status = job.status_at(now)
        url = None
        if status == COMPLETED:
            url = f"{self.base_url}{RESULTS_PREFIX}{job.id}{RESULTS_SUFFIX}"
        return Reply(
            200,
            orjson.dumps(
                {"bulkJobId": job.id, "status": status, "totalRecords": job.total, "url": url}
            ),
        )

    # ----------------------------------------------------------------- control

    def _control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        state = self.state
        if path.startswith(RESULTS_PREFIX) and path.endswith(RESULTS_SUFFIX) and method == "GET":
            if self.config.results_expired:  # what a pre-signed link says once expired
                return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
            state.run_due_jobs(self.sources)
            job_id = path[len(RESULTS_PREFIX) : -len(RESULTS_SUFFIX)]
            data = state.job_results(job_id, self.config.results_status_form)
            if data is None:
                return Reply(404, error_body(404, "No results for this job (yet)", path))
            return Reply(200, data, JSONL)
        action = (method, path)
        if action == ("GET", "/_sandbox/report"):
            return Reply(200, orjson.dumps(self.report()))
        if action == ("GET", "/_sandbox/accepted"):
            state.run_due_jobs(self.sources)
            offset = int((parse_qs(query).get("offset") or ["0"])[0])
            return Reply(200, state.accepted_lines(offset), JSONL)
        if action == ("GET", "/_sandbox/people"):
            state.run_due_jobs(self.sources)
            return Reply(200, orjson.dumps(state.people_json()))
        if action == ("GET", "/_sandbox/config"):
            return Reply(200, orjson.dumps(self.config.as_json()))
        if action == ("POST", "/_sandbox/config"):
            return self._configure(body, path)
        if action == ("POST", "/_sandbox/reset"):
            state.reset()
            return Reply(200, b'{"reset":true}')
        return Reply(404, error_body(404, "No such sandbox control path", path))

    def _configure(self, body: bytes, path: str) -> Reply:
        try:
            changes = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            return Reply(400, error_body(400, f"body: not valid JSON ({exc})", path))
        if not isinstance(changes, dict):
            return Reply(400, error_body(400, "body: must be a JSON object", path))
        for name, value in changes.items():
            error = check_config_value(name, value)
            if error:
                return Reply(400, error_body(400, error, path))
        for name, value in changes.items():
            setattr(self.config, name, value)
        if "verbose" in changes:
            log.setLevel(logging.DEBUG if self.config.verbose else logging.INFO)
        log.info("config changed: %s", changes)
        return Reply(200, orjson.dumps(self.config.as_json()))

    def report(self) -> dict[str, Any]:
        """The report, with due bulk jobs completed first so that their outcomes count."""
        self.state.run_due_jobs(self.sources)
        report = self.state.report()
        report["config"] = self.config.as_json()
        report["url"] = self.base_url
        return report

    def record_bytes(self) -> bytes:
        """The report plus every accepted payload, as one JSON document."""
        report = orjson.dumps(self.report())
        lines = self.state.accepted_lines().splitlines()
        return b'{"report":' + report + b',"accepted":[' + b",".join(lines) + b"]}\n"


class SandboxHandler(BaseHTTPRequestHandler):
    """Thin HTTP layer: read the body, ask the app, sleep if told to, write one buffer."""

    protocol_version = "HTTP/1.1"
    server_version = "target-attentive-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        t = time.time()
        body = self._read_body()
        if body is None:
            return
        app = self.server.app
        reply = app.handle(method, self.path, self.headers.get("Authorization"), body, t)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            if app.config.verbose:
                log.debug("%s %s -> dropped", method, self.path)
            return
        self._write(reply)
        if app.config.verbose:
            log.debug("%s %s -> %d (%.1f ms)", method, self.path, reply.status, _ms(t))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._fail(411, "Send a Content-Length (chunked bodies are not supported)")
            return None
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            self._fail(400, "Bad Content-Length")
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self._fail(413, f"Body larger than {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length)

    def _fail(self, status: int, message: str) -> None:
        self.close_connection = True
        path = self.path.partition("?")[0]
        self._write(Reply(status, error_body(status, message, path)))

    def _write(self, reply: Reply) -> None:
        body = reply.body
        head = [
            f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ]
        for name, value in reply.headers:
            head.append(f"{name}: {value}\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        try:
            self.wfile.write("".join(head).encode("latin-1") + body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.config.verbose:
            log.debug("%s " + format, self.address_string(), *args)


def _ms(t: float) -> float:
    return (time.time() - t) * 1000.0


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threading server whose handler threads die with the process."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: SandboxApp, family: int) -> None:
        self.address_family = family
        self.app = app
        super().__init__(address, SandboxHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall startup.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def loopback_address(host: str) -> tuple[int, str]:
    """The socket family and address to bind; refuses any host that is not loopback."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"cannot resolve host {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses or not all(a.is_loopback for a in addresses):
            raise ValueError(f"refusing to listen on non-loopback host {host!r}") from None
        ip = next((a for a in addresses if a.version == 4), addresses[0])
    if not ip.is_loopback:
        raise ValueError(f"refusing to listen on non-loopback host {host!r}")
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)


def write_atomically(path: str, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see a partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SandboxServer:
    """The sandbox in this process: bind on construction, ``start()`` serves in threads."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        family, address = loopback_address(self.config.host)
        self.app = SandboxApp(self.config)
        self.httpd = SandboxHTTPServer((address, self.config.port), self.app, family)
        host = f"[{address}]" if family == socket.AF_INET6 else self.config.host
        self.url = f"http://{host}:{self.port}"
        self.app.base_url = self.url
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def state(self) -> SandboxState:
        return self.app.state

    def start(self) -> SandboxServer:
        """Serve and complete bulk jobs in daemon threads; then write the port file."""
        for target, name in ((self.httpd.serve_forever, "http"), (self._job_loop, "jobs")):
            thread = threading.Thread(target=target, name=f"sandbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.config.port_file:
            write_atomically(self.config.port_file, f"{self.port}\n".encode())
        return self

    def _job_loop(self) -> None:
        state = self.state
        while not self._stopping.is_set():
            state.job_wakeup.clear()
            try:
                state.run_due_jobs(self.app.sources, wait=False)
            except Exception:  # a bug here must not stop job completion for good
                log.exception("bulk job processing failed")
            due = state.next_due()
            wait = 0.5 if due is None else min(0.5, max(0.0, due - time.time()))
            state.job_wakeup.wait(wait)

    def stop(self) -> None:
        """Stop serving (idempotent) and write the record file if one was asked for."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self.state.job_wakeup.set()
        if self._threads:
            self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.config.record_file:
            self.write_record(self.config.record_file)

    def write_record(self, path: str) -> None:
        write_atomically(path, self.app.record_bytes())
        log.info("record written to %s", path)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------- command line


def _enum_option(text: str) -> tuple[str, list[str]]:
    name, sep, values = text.partition("=")
    items = [v for v in values.split(",") if v]
    if not sep or not name or not items:
        raise argparse.ArgumentTypeError("expected NAME=value1,value2,...")
    return name, items


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog="target-attentive-sandbox",
        description="Local stand-in for the Attentive API (loopback only).",
    )
    add = p.add_argument
    add("--host", default=d.host, help="loopback host to bind (default %(default)s)")
    add("--port", type=int, default=d.port, help="port; 0 picks a free one (default %(default)s)")
    add("--port-file", help="write the chosen port to this file once listening")
    add("--api-key", default=d.api_key, help="the valid key (default %(default)s)")
    add("--forbidden-key", default=d.forbidden_key, help="a key that gets 403")
    add("--rate-limit", type=_positive_int, default=d.rate_limit, help="single upserts/s")
    add("--bulk-rate-limit", type=_positive_int, default=d.bulk_rate_limit, help="bulk posts/s")
    add("--job-rate-limit", type=_positive_int, default=d.job_rate_limit, help="job reads/s")
    add("--retry-after", action="store_true", help="send Retry-After: 1 with every 429")
    add("--latency-ms", type=_seconds, default=d.latency_ms, help="sleep before each POST answer")
    add("--fault-5xx-rate", type=_rate, default=0.0, help="share of POSTs answered 500/502/503")
    add("--fault-drop-rate", type=_rate, default=0.0, help="share of POSTs dropped unanswered")
    add("--fault-slow-rate", type=_rate, default=0.0, help="share of POSTs applied, then slow")
    add(
        "--fault-status",
        type=int,
        choices=(0, *FAULT_STATUSES),
        default=0,
        help="status of injected 5xx faults (default: 500, 502 or 503 at random)",
    )
    add("--slow-seconds", type=_seconds, default=d.slow_seconds, help="delay of slow answers")
    add("--job-delay-seconds", type=_seconds, default=d.job_delay_seconds, help="bulk job time")
    add("--job-fail-rate", type=_rate, default=0.0, help="share of bulk jobs that end FAILED")
    add("--job-fail-applies", type=_rate, default=0.0, help="share a FAILED job applies first")
    add(
        "--results-status-form",
        choices=RESULT_FORMS,
        default=d.results_status_form,
        help="how results lines write a status (default %(default)s)",
    )
    add("--results-expired", action="store_true", help="results links answer 403")
    add("--jobs-forgotten", action="store_true", help="job status reads answer 404")
    add("--bulk-omit-job-id", action="store_true", help="bulk 202s without batchJobId")
    add(
        "--bulk-checks-in-job",
        action="store_true",
        help="check a bulk request's people only inside its job, never with a 400",
    )
    add("--seed", type=int, help="random seed for fault injection")
    add("--record-file", help="write the report and accepted payloads here on exit")
    add(
        "--enum-attribute",
        type=_enum_option,
        action="append",
        default=[],
        metavar="NAME=a,b,c",
        help="predefine an enum custom attribute (repeatable)",
    )
    add(
        "--sign-up-source-id",
        action="append",
        default=[],
        metavar="ID",
        help="only these sign-up source ids exist (repeatable; default: any)",
    )
    add("--max-custom-attributes", type=_positive_int, default=d.max_custom_attributes)
    add("--verbose", action="store_true", help="log every request to stderr")
    return p


def config_from_args(argv: list[str] | None = None) -> SandboxConfig:
    args = build_parser().parse_args(argv)
    values = vars(args)
    values["enum_attributes"] = dict(values.pop("enum_attribute"))
    values["sign_up_source_ids"] = values.pop("sign_up_source_id")
    return SandboxConfig(**values)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, then write the record file (if asked) and exit 0."""
    config = config_from_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if config.verbose else logging.INFO,
        format="%(asctime)s sandbox %(levelname)s %(message)s",
    )
    try:
        server = SandboxServer(config)
    except (ValueError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"sandbox listening on {server.url}", file=sys.stderr, flush=True)
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
