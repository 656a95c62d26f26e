"""Run the sandbox in its own process, for tests and benchmarks.

A separate process keeps the sandbox's threads from competing with the client for one GIL,
and lets tests exercise the real exit path (SIGTERM writes the record file).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

# The directory that holds the target_attentive package, so the child imports the same code
# even when the package is not installed.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_LIST_OPTIONS = {"enum_attributes": "--enum-attribute", "sign_up_source_ids": "--sign-up-source-id"}


def _cli_args(options: Mapping[str, Any]) -> list[str]:
    """Turn ``latency_ms=40`` into ``--latency-ms 40``; True → flag; lists repeat the option."""
    args: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        if name == "enum_attributes":
            for attr, values in dict(value).items():
                args += [_LIST_OPTIONS[name], f"{attr}={','.join(values)}"]
            continue
        if name in _LIST_OPTIONS:
            for item in value:
                args += [_LIST_OPTIONS[name], str(item)]
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        else:
            args += [flag, str(value)]
    return args


class SandboxError(RuntimeError):
    """The sandbox process failed to start or to answer a control request."""


class SandboxProcess:
    """``with SandboxProcess(latency_ms=40) as sb: requests.post(sb.url + ..., headers=...)``.

    Keyword options are the server's CLI options with underscores (see ``SandboxConfig``);
    extra positional strings are passed to the command line as they are. The port is always
    chosen by the child (``--port 0``) and read from a port file; the record file defaults to
    one in a private temporary directory, readable with :meth:`record` after :meth:`stop`.
    """

    def __init__(
        self,
        *extra_args: str,
        startup_timeout: float = 10.0,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        if "port" in options or "port_file" in options:
            raise ValueError("SandboxProcess picks the port itself (--port 0 --port-file)")
        self.api_key: str = options.get("api_key") or "sandbox-key"
        self.forbidden_key: str = options.get("forbidden_key") or "sandbox-key-without-scopes"
        self.startup_timeout = startup_timeout
        self.tmpdir = tempfile.mkdtemp(prefix="attentive-sandbox-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.port_file = os.path.join(self.tmpdir, "port")
        self.log_file = os.path.join(self.tmpdir, "stderr.log")
        self.record_file: str = options.pop("record_file", None) or os.path.join(
            self.tmpdir, "record.json"
        )
        self.args = [
            sys.executable,
            "-m",
            "target_attentive.sandbox.server",
            "--port",
            "0",
            "--port-file",
            self.port_file,
            "--record-file",
            self.record_file,
            *_cli_args(options),
            *extra_args,
        ]
        child_env = dict(os.environ if env is None else env)
        path = child_env.get("PYTHONPATH")
        child_env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
        self.env = child_env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int = 0
        self.url: str = ""
        self.returncode: int | None = None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> SandboxProcess:
        """Start the child and wait (bounded) until it has written its port file."""
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if os.path.exists(self.port_file):
                text = Path(self.port_file).read_text().strip()
                if text:
                    self.port = int(text)
                    break
            if self.proc.poll() is not None:
                raise SandboxError(f"sandbox exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError(
                    f"sandbox did not start in {self.startup_timeout}s:\n{self.log()}"
                )
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def log(self) -> str:
        """What the child wrote to stderr so far."""
        try:
            return Path(self.log_file).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ----------------------------------------------------------------- control endpoints

    def _control(self, method: str, path: str, body: Any = None) -> bytes:
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise SandboxError(f"{method} {path}: {exc.code} {exc.read().decode()}") from exc

    def report(self) -> dict[str, Any]:
        return orjson.loads(self._control("GET", "/_sandbox/report"))

    def accepted(self, offset: int = 0) -> list[dict[str, Any]]:
        raw = self._control("GET", f"/_sandbox/accepted?offset={offset}")
        return [orjson.loads(line) for line in raw.splitlines() if line]

    def v1_accepted(self, offset: int = 0) -> list[dict[str, Any]]:
        """Accepted v1 bodies: ``{t, endpoint, payload}``, endpoint as in ``report()["v1"]``."""
        raw = self._control("GET", f"/_sandbox/v1/accepted?offset={offset}")
        return [orjson.loads(line) for line in raw.splitlines() if line]

    def optouts(self) -> list[dict[str, Any]]:
        """Every (address, channel, type) opted out, with how many requests asked for it."""
        return orjson.loads(self._control("GET", "/_sandbox/v1/optouts"))

    def people(self) -> list[dict[str, Any]]:
        return orjson.loads(self._control("GET", "/_sandbox/people"))

    def config(self) -> dict[str, Any]:
        return orjson.loads(self._control("GET", "/_sandbox/config"))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time options (latency_ms, fault rates, rate limits, ...); returns config."""
        return orjson.loads(self._control("POST", "/_sandbox/config", changes))

    def reset(self) -> None:
        self._control("POST", "/_sandbox/reset", {})

    # ----------------------------------------------------------------- shutdown

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then kill; returns the exit code (idempotent)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self.returncode = proc.returncode
        return self.returncode

    def record(self) -> dict[str, Any]:
        """The record file (report and accepted payloads) the child wrote on exit."""
        if self.proc is not None and self.proc.poll() is None:
            raise SandboxError("the sandbox is still running: stop() it first")
        try:
            return orjson.loads(Path(self.record_file).read_bytes())
        except FileNotFoundError:
            raise SandboxError(f"no record file was written:\n{self.log()}") from None

    def close(self) -> None:
        """Stop the child and delete the temporary directory (record file included)."""
        self.stop()
        self._cleanup()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
