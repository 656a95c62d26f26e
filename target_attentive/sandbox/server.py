"""A local stand-in for the Attentive API, for tests, benchmarks and rehearsing a sync.

Attentive has no test environment, so this server enforces the published contract on loopback:
auth, per-endpoint rate limits, the upsert body rules, custom attribute limits, asynchronous bulk
jobs, the v1 event and unsubscribe endpoints, and injected faults (5xx, dropped connections,
slow answers after applying). It records what a real account would have received, including
repeated opt-ins, repeated event ids, repeated opt-outs and confirmation texts.

Modules: ``config`` (options), ``cli`` (command line), ``handler`` (HTTP), ``app`` (dispatch
and control paths), ``gate`` (auth, routes, limits, faults for every API path), ``v2`` and
``v1`` (bodies), ``state`` (what v2 applied) with ``people`` and ``jobs``, ``rules``,
``v1_rules`` and ``checks`` (what a 400 is), ``traffic`` (request counts), ``reply`` and
``encoding`` (answers, times, JSON lines).

Run ``target-attentive-sandbox --help``; in-process use: ``SandboxServer(SandboxConfig()).start()``;
in its own process (tests, benchmarks): ``target_attentive.sandbox.process.SandboxProcess``.

Choices a client author should know:

- Order of checks on /v1 and /v2 paths: auth (401/403), route (404/405), rate limit (429),
  injected fault (POST only), then the body (400). Every answer has ``x-ratelimit-limit`` and
  ``x-ratelimit-remaining``; refused answers report the window without spending from it.
- Rate limits are fixed one-second wall-clock windows per endpoint and key: single upsert and
  ``/v2/me`` use ``rate_limit``, bulk posts ``bulk_rate_limit``, job reads ``job_rate_limit``,
  each ``/v1/events/...`` path ``event_rate_limit``, unsubscribe ``unsubscribe_rate_limit``.
- Bulk jobs (``v2``): a job picked by ``job_fail_rate`` ends FAILED with ``url`` null, having
  applied the first ``job_fail_applies`` share of its people (none by default).
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
- v1 counters are in the report under ``v1`` (see ``v1.py``); a v2 opt-in re-arms the
  person's MARKETING opt-out on that channel.
- Memory grows with what is accepted (about 3 KB per new person plus ~0.5 KB per payload).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time

from .app import SandboxApp
from .cli import config_from_args
from .config import SandboxConfig
from .handler import SandboxHTTPServer, loopback_address, write_atomically
from .state import SandboxState

__all__ = ["SandboxApp", "SandboxConfig", "SandboxServer", "main"]

log = logging.getLogger("target_attentive.sandbox")


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
